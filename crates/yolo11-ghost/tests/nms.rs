//! NMS and scale_boxes: hand-computed cases for each rule, then parity with Ultralytics'
//! `non_max_suppression` + `scale_boxes` (torchvision NMS) on the synthetic predictions of
//! `fixtures/nms/nms.safetensors` (`tools/make_nms_fixtures.py`).
//!
//! Tolerance for the fixture comparison: none. The Rust code performs the same f32 operations in
//! the same order (xywh2xyxy, class offsets, IoU, `(x - pad) / gain`, clamp), so kept indices,
//! order and every coordinate must be bit-identical.

use std::collections::HashMap;
use std::path::PathBuf;

use safetensors::SafeTensors;
use serde_json::Value;
use yolo11_ghost::nms::{
    box_iou, nms_indices, non_max_suppression, xywh_to_xyxy, NmsError, NmsOptions,
};
use yolo11_ghost::postprocess::{clip_boxes, scale_boxes, to_detections};

/// Build a `[4 + nc, anchors]` prediction from per-anchor `(cx, cy, w, h, scores)`.
fn prediction(rows: &[([f32; 4], Vec<f32>)]) -> (Vec<f32>, usize, usize) {
    let nc = rows[0].1.len();
    let (channels, anchors) = (4 + nc, rows.len());
    let mut p = vec![0.0; channels * anchors];
    for (a, (b, s)) in rows.iter().enumerate() {
        for c in 0..4 {
            p[c * anchors + a] = b[c];
        }
        for (c, &v) in s.iter().enumerate() {
            p[(4 + c) * anchors + a] = v;
        }
    }
    (p, channels, anchors)
}

fn run(rows: &[([f32; 4], Vec<f32>)], options: &NmsOptions) -> Vec<(usize, usize, f32)> {
    let (p, c, a) = prediction(rows);
    non_max_suppression(&p, c, a, options)
        .unwrap()
        .iter()
        .map(|d| (d.anchor, d.class_id, d.score))
        .collect()
}

#[test]
fn xywh_to_xyxy_halves_the_size() {
    assert_eq!(
        xywh_to_xyxy([10.0, 20.0, 4.0, 6.0]),
        [8.0, 17.0, 12.0, 23.0]
    );
}

#[test]
fn iou_of_hand_computed_boxes() {
    let a = [0.0, 0.0, 10.0, 10.0];
    assert_eq!(box_iou(&a, &a), 1.0);
    assert_eq!(box_iou(&a, &[5.0, 0.0, 15.0, 10.0]), 50.0 / 150.0);
    assert_eq!(box_iou(&a, &[10.0, 0.0, 20.0, 10.0]), 0.0); // touching edges
    assert_eq!(box_iou(&a, &[20.0, 20.0, 30.0, 30.0]), 0.0);
    assert_eq!(box_iou(&a, &[2.0, 2.0, 4.0, 4.0]), 4.0 / 100.0); // contained
}

#[test]
fn confidence_threshold_is_strict_and_compared_in_f32() {
    let b = [50.0, 50.0, 10.0, 10.0];
    let far = [500.0, 500.0, 10.0, 10.0];
    let just_above = f32::from_bits(0.25f32.to_bits() + 1);
    let kept = run(
        &[(b, vec![0.25]), (far, vec![just_above])],
        &NmsOptions::default(),
    );
    assert_eq!(kept, vec![(1, 0, just_above)]);
    // conf = 0.3 (f64) is compared as 0.3f32: a score of exactly 0.3f32 is not above it, even
    // though 0.3f32 = 0.30000001192... > 0.3 in f64.
    let options = NmsOptions {
        conf: 0.3,
        ..NmsOptions::default()
    };
    assert!(run(&[(b, vec![0.3f32])], &options).is_empty());
}

#[test]
fn one_label_per_box_first_class_wins_ties() {
    let kept = run(
        &[([50.0, 50.0, 10.0, 10.0], vec![0.1, 0.8, 0.8, 0.3])],
        &NmsOptions::default(),
    );
    assert_eq!(kept, vec![(0, 1, 0.8)]);
}

#[test]
fn a_nan_score_removes_the_anchor() {
    let kept = run(
        &[
            ([50.0, 50.0, 10.0, 10.0], vec![0.9, f32::NAN]),
            ([500.0, 50.0, 10.0, 10.0], vec![0.6, 0.1]),
        ],
        &NmsOptions::default(),
    );
    assert_eq!(kept, vec![(1, 0, 0.6)]);
}

#[test]
fn overlapping_boxes_suppress_within_a_class_only() {
    // A [0,0,10,10] and B [1,0,11,10]: IoU = 90 / 110 = 0.818 > 0.7.
    let a = ([5.0, 5.0, 10.0, 10.0], vec![0.9, 0.0]);
    let b_same = ([6.0, 5.0, 10.0, 10.0], vec![0.8, 0.0]);
    let b_other = ([6.0, 5.0, 10.0, 10.0], vec![0.0, 0.8]);
    assert_eq!(
        run(&[a.clone(), b_same], &NmsOptions::default()),
        vec![(0, 0, 0.9)]
    );
    assert_eq!(
        run(&[a.clone(), b_other.clone()], &NmsOptions::default()),
        vec![(0, 0, 0.9), (1, 1, 0.8)]
    );
    let agnostic = NmsOptions {
        agnostic: true,
        ..NmsOptions::default()
    };
    assert_eq!(run(&[a, b_other], &agnostic), vec![(0, 0, 0.9)]);
}

#[test]
fn iou_equal_to_the_threshold_is_kept_above_is_dropped() {
    // IoU exactly 0.5 (100 / 200): kept at iou = 0.5 (torchvision drops only IoU > iou).
    let boxes = [[0.0, 0.0, 10.0, 15.0], [0.0, 5.0, 10.0, 20.0]];
    assert_eq!(box_iou(&boxes[0], &boxes[1]), 0.5);
    assert_eq!(nms_indices(&boxes, &[0.9, 0.8], 0.5), vec![0, 1]);
    assert_eq!(nms_indices(&boxes, &[0.9, 0.8], 0.49), vec![0]);
    // IoU = 30 / 100 = 0.3f32 = 0.30000001192...: above the f64 threshold 0.3, so dropped
    // (torchvision compares the f32 IoU with a C++ double).
    let boxes = [[0.0, 0.0, 10.0, 10.0], [0.0, 0.0, 3.0, 10.0]];
    assert_eq!(box_iou(&boxes[0], &boxes[1]), 0.3f32);
    assert_eq!(nms_indices(&boxes, &[0.9, 0.8], 0.3), vec![0]);
}

#[test]
fn ties_keep_anchor_order_and_output_is_score_sorted() {
    let far = |x: f32| [x, 50.0, 10.0, 10.0];
    let kept = run(
        &[
            (far(100.0), vec![0.5]),
            (far(200.0), vec![0.7]),
            (far(300.0), vec![0.5]),
            (far(400.0), vec![0.9]),
            (far(500.0), vec![0.5]),
        ],
        &NmsOptions::default(),
    );
    let anchors: Vec<usize> = kept.iter().map(|k| k.0).collect();
    assert_eq!(anchors, vec![3, 1, 0, 2, 4]);
}

#[test]
fn suppressed_boxes_do_not_suppress_others() {
    // Chain A > B > C: A suppresses B (IoU 0.82); B would suppress C but is gone; A and C overlap
    // by 80 / 120 = 0.667 <= 0.7, so C survives.
    let a = [0.0, 0.0, 10.0, 10.0];
    let b = [1.0, 0.0, 11.0, 10.0];
    let c = [2.0, 0.0, 12.0, 10.0];
    assert_eq!(nms_indices(&[a, b, c], &[0.9, 0.8, 0.7], 0.7), vec![0, 2]);
}

#[test]
fn classes_filter_max_det_and_max_nms() {
    let far = |x: f32| [x, 50.0, 10.0, 10.0];
    let rows = vec![
        (far(100.0), vec![0.9, 0.0, 0.0]),
        (far(200.0), vec![0.0, 0.8, 0.0]),
        (far(300.0), vec![0.0, 0.0, 0.7]),
        (far(400.0), vec![0.0, 0.6, 0.0]),
    ];
    let only = NmsOptions {
        classes: Some(vec![1, 2]),
        ..NmsOptions::default()
    };
    assert_eq!(
        run(&rows, &only).iter().map(|k| k.0).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    let top2 = NmsOptions {
        max_det: 2,
        ..NmsOptions::default()
    };
    assert_eq!(
        run(&rows, &top2).iter().map(|k| k.0).collect::<Vec<_>>(),
        vec![0, 1]
    );
    // max_nms keeps the highest-scored candidates before NMS.
    let nms3 = NmsOptions {
        max_nms: 3,
        ..NmsOptions::default()
    };
    assert_eq!(
        run(&rows, &nms3).iter().map(|k| k.0).collect::<Vec<_>>(),
        vec![0, 1, 2]
    );
}

#[test]
fn malformed_predictions_are_typed_errors() {
    assert_eq!(
        non_max_suppression(&[0.0; 8], 4, 2, &NmsOptions::default()),
        Err(NmsError::TooFewChannels { channels: 4 })
    );
    assert!(matches!(
        non_max_suppression(&[0.0; 9], 5, 2, &NmsOptions::default()),
        Err(NmsError::Length {
            expected: 10,
            found: 9,
            ..
        })
    ));
    assert!(non_max_suppression(&[], 6, 0, &NmsOptions::default())
        .unwrap()
        .is_empty());
}

#[test]
fn scale_boxes_square_and_rect_inputs() {
    // 480x640 image letterboxed into 640x640: gain 1, 80 rows of padding on top.
    let mut b = [[10.0, 90.0, 20.0, 100.0]];
    scale_boxes((640, 640), &mut b, (480, 640));
    assert_eq!(b, [[10.0, 10.0, 20.0, 20.0]]);
    // Same image in rect mode (input 480x640): no padding, identity.
    let mut b = [[10.0, 90.0, 20.0, 100.0]];
    scale_boxes((480, 640), &mut b, (480, 640));
    assert_eq!(b, [[10.0, 90.0, 20.0, 100.0]]);
    // 1280x960 into 640x640: gain 0.5, 80 columns of padding left.
    let mut b = [[80.0, 0.0, 560.0, 640.0]];
    scale_boxes((640, 640), &mut b, (1280, 960));
    assert_eq!(b, [[0.0, 0.0, 960.0, 1280.0]]);
}

#[test]
fn scale_boxes_uses_per_axis_gains_and_clips() {
    // 3x1000 into 640x640: gain 0.64, resized 2x640 -> gain_y = 2/3, gain_x = 0.64, pad_y = 319.
    let mut b = [[64.0, 319.0, 640.0, 321.0]];
    scale_boxes((640, 640), &mut b, (3, 1000));
    assert_eq!(b[0][0], 64.0 / 0.64f32);
    assert_eq!(b[0][1], 0.0);
    assert_eq!(b[0][2], 1000.0);
    assert_eq!(b[0][3], 2.0 / (2.0f64 / 3.0) as f32);
    let mut out = [[-5.0, -1.0, 700.0, 900.0]];
    clip_boxes(&mut out, (480, 640));
    assert_eq!(out, [[0.0, 0.0, 640.0, 480.0]]);
}

#[test]
fn detections_carry_names_and_original_pixels() {
    let (p, c, a) = prediction(&[([320.0, 400.0, 40.0, 20.0], vec![0.1, 0.95])]);
    let raw = non_max_suppression(&p, c, a, &NmsOptions::default()).unwrap();
    let names = vec!["cat".to_string(), "dog".to_string()];
    let d = to_detections(&raw, (640, 640), (480, 640), &names);
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].class_name, "dog");
    assert_eq!(
        (d[0].x1, d[0].y1, d[0].x2, d[0].y2),
        (300.0, 310.0, 340.0, 330.0)
    );
}

// ---------------------------------------------------------------------------------------------
// Parity with Ultralytics on the fixture.

fn fixture_bytes() -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/nms/nms.safetensors");
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn f32s(st: &SafeTensors, name: &str) -> (Vec<f32>, Vec<usize>) {
    let t = st.tensor(name).expect(name);
    assert_eq!(t.dtype(), safetensors::Dtype::F32, "{name}");
    let v = t
        .data()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    (v, t.shape().to_vec())
}

fn hw(v: &Value) -> (usize, usize) {
    (
        v[0].as_u64().unwrap() as usize,
        v[1].as_u64().unwrap() as usize,
    )
}

#[test]
fn nms_and_scale_boxes_match_ultralytics_bit_for_bit() {
    let bytes = fixture_bytes();
    let (_, metadata) = SafeTensors::read_metadata(&bytes).unwrap();
    let meta: &HashMap<String, String> = metadata.metadata().as_ref().unwrap();
    let cases: Value = serde_json::from_str(&meta["cases"]).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let nms_cases = cases["nms"].as_array().unwrap();
    assert!(nms_cases.len() >= 8);
    let mut total_kept = 0;
    for case in nms_cases {
        let name = case["name"].as_str().unwrap();
        let (pred, shape) = f32s(&st, case["pred"].as_str().unwrap());
        let options = NmsOptions {
            conf: case["conf"].as_f64().unwrap(),
            iou: case["iou"].as_f64().unwrap(),
            max_det: case["max_det"].as_u64().unwrap() as usize,
            agnostic: case["agnostic"].as_bool().unwrap(),
            classes: case["classes"]
                .as_array()
                .map(|c| c.iter().map(|v| v.as_u64().unwrap() as usize).collect()),
            max_nms: case["max_nms"].as_u64().unwrap() as usize,
            ..NmsOptions::default()
        };
        let kept = non_max_suppression(&pred, shape[1], shape[2], &options).unwrap();
        let (expected, eshape) = f32s(&st, name);
        let n = if eshape[0] == 0 {
            0
        } else {
            expected.len() / 6
        };
        assert_eq!(kept.len(), n, "{name}: number kept");
        for (i, (d, row)) in kept.iter().zip(expected.chunks_exact(6)).enumerate() {
            assert_eq!(
                d.bbox,
                [row[0], row[1], row[2], row[3]],
                "{name} row {i} box"
            );
            assert_eq!(d.score, row[4], "{name} row {i} score");
            assert_eq!(d.class_id as f32, row[5], "{name} row {i} class");
        }
        total_kept += n;

        let input_hw = hw(&case["input_hw"]);
        for s in case["scaled"].as_array().unwrap() {
            let sname = s["name"].as_str().unwrap();
            let mut boxes: Vec<[f32; 4]> = kept.iter().map(|d| d.bbox).collect();
            scale_boxes(input_hw, &mut boxes, hw(&s["orig_hw"]));
            let (expected, _) = f32s(&st, sname);
            let flat: Vec<f32> = boxes.iter().flatten().copied().collect();
            assert_eq!(flat, expected, "{sname}");
        }
    }
    assert!(
        total_kept > 500,
        "fixture exercises only {total_kept} detections"
    );
}
