//! `val`'s matching and AP code against Ultralytics' own functions on seeded cases
//! (`fixtures/metrics/metrics_cases.json`, made by `tools/make_metrics_fixtures.py`).
//!
//! Tolerances: the correct-prediction matrix must be identical (it is boolean, and the IoUs are
//! computed in the same f32 arithmetic); AP, P and R are f64 sums over the same values in the same
//! order, so they must agree to 1e-9 (a few ulps of accumulated rounding, far below the 1e-3
//! printed precision).
//!
//! Ties: with equal confidences NumPy's (unstable) `argsort` decides the order, so Ultralytics'
//! own number is implementation-defined. Ours breaks ties by input position; the fixture's
//! `stable` entry is Ultralytics' code run with that same order (each confidence nudged by
//! `-position * 1e-9`). AP depends only on the order: 1e-9. P and R read curves interpolated at
//! the confidences, which the nudges move by at most `n * 1e-9` (n < 200 predictions): 1e-6.

use std::path::PathBuf;

use serde_json::Value;
use yolo11_ghost::val::metrics::{
    ap_per_class, iou_thresholds, match_predictions, ScoredPrediction, IOU_THRESHOLDS,
};

const TOL: f64 = 1e-9;

fn fixture() -> Value {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/metrics/metrics_cases.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn boxes(v: &Value) -> Vec<[f32; 4]> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|b| {
            let b = b.as_array().unwrap();
            std::array::from_fn(|i| b[i].as_f64().unwrap() as f32)
        })
        .collect()
}

fn usizes(v: &Value) -> Vec<usize> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as usize)
        .collect()
}

fn f64s(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

#[test]
fn thresholds_equal_torch_linspace() {
    let doc = fixture();
    let expected = f64s(&doc["iou_thresholds"]);
    let ours = iou_thresholds();
    for (a, b) in ours.iter().zip(&expected) {
        assert_eq!(*a, *b as f32);
    }
}

#[test]
fn matching_and_ap_equal_ultralytics() {
    let doc = fixture();
    let cases = doc["cases"].as_array().unwrap();
    assert!(cases.len() >= 4);
    let thresholds = iou_thresholds();
    let mut checked_matches = 0;
    for (ci, case) in cases.iter().enumerate() {
        let mut scored = Vec::new();
        let mut targets_all = Vec::new();
        for image in case["images"].as_array().unwrap() {
            let tcls = usizes(&image["target_cls"]);
            let targets: Vec<([f32; 4], usize)> = boxes(&image["target_boxes"])
                .into_iter()
                .zip(tcls.iter().copied())
                .collect();
            let pcls = usizes(&image["pred_cls"]);
            let conf = f64s(&image["pred_conf"]);
            let preds: Vec<([f32; 4], usize)> = boxes(&image["pred_boxes"])
                .into_iter()
                .zip(pcls.iter().copied())
                .collect();
            let tp = match_predictions(&preds, &targets, &thresholds);
            let expected: Vec<[bool; IOU_THRESHOLDS]> = image["tp"]
                .as_array()
                .unwrap()
                .iter()
                .map(|row| {
                    let row = row.as_array().unwrap();
                    std::array::from_fn(|i| row[i].as_u64().unwrap() == 1)
                })
                .collect();
            assert_eq!(tp, expected, "case {ci}: correct-prediction matrix");
            checked_matches += tp.iter().filter(|r| r[0]).count();
            scored.extend(tp.iter().zip(&pcls).zip(&conf).map(|((tp, &class), &c)| {
                ScoredPrediction {
                    tp: *tp,
                    conf: c as f32,
                    class,
                }
            }));
            targets_all.extend(tcls);
        }
        let m = ap_per_class(&scored, &targets_all);
        assert_eq!(m.classes, usizes(&case["unique_classes"]), "case {ci}");
        let ties = !case["tie_step"].is_null();
        let expected = if ties { &case["stable"] } else { case };
        let pr_tol = if ties { 1e-6 } else { TOL };
        let close = |a: f64, b: f64, tol: f64, what: &str| {
            assert!(
                (a - b).abs() <= tol,
                "case {ci} {what}: ours {a} vs Ultralytics {b}"
            );
        };
        let (ps, rs) = (f64s(&expected["p"]), f64s(&expected["r"]));
        assert_eq!(ps.len(), m.classes.len());
        for (i, (p, r)) in ps.iter().zip(rs).enumerate() {
            close(m.precision[i], *p, pr_tol, "precision");
            close(m.recall[i], r, pr_tol, "recall");
        }
        for (i, row) in expected["ap"].as_array().unwrap().iter().enumerate() {
            for (t, v) in f64s(row).iter().enumerate() {
                close(m.ap[i][t], *v, TOL, "ap");
            }
        }
        if !ties {
            close(m.mean_precision(), case["mp"].as_f64().unwrap(), TOL, "mp");
            close(m.mean_recall(), case["mr"].as_f64().unwrap(), TOL, "mr");
        }
        close(m.map50(), expected["map50"].as_f64().unwrap(), TOL, "map50");
        close(m.map50_95(), expected["map"].as_f64().unwrap(), TOL, "map");
    }
    assert!(checked_matches > 20, "the fixture exercises real matches");
}
