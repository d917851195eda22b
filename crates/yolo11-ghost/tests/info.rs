//! `model.info()` numbers against Ultralytics' own, from `fixtures/model_counts.json`
//! (written by `tools/model_counts.py` from Ultralytics 8.4 `model_info` / thop).
//!
//! Parameters (trained and fused) and leaf-layer counts must be exact: they are integer sums of
//! tensor sizes and module counts, with nothing to approximate. GFLOPs must be within 0.5% (the
//! brief's bound); the counting rules are the same as thop's, so in practice they agree to
//! rounding, and the test also reports the worst relative error it saw.

use std::path::PathBuf;

use serde_json::Value;
use yolo11_ghost::info::ModelInfo;
use yolo11_ghost::spec::builtin_yaml;
use yolo11_ghost::ModelSpec;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

fn counts() -> Value {
    let path = fixtures().join("model_counts.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("model_counts.json parses")
}

/// The model named by a `model_counts.json` entry: built-in name, scale and class count.
fn spec_for(entry: &Value) -> ModelSpec {
    let yaml = entry["yaml"].as_str().unwrap();
    let family = if yaml.ends_with("yolo11-ghost.yaml") {
        "yolo11-ghost"
    } else {
        "yolo11"
    };
    let scale = entry["scale"].as_str().unwrap();
    let nc = entry["nc"].as_u64().unwrap() as usize;
    let name = entry["name"].as_str().unwrap();
    ModelSpec::from_yaml_str(builtin_yaml(family).unwrap(), name, Some(scale), Some(nc)).unwrap()
}

fn rel_err(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs()
}

#[test]
fn every_model_in_model_counts_matches_ultralytics() {
    let counts = counts();
    let imgsz = counts["imgsz"].as_u64().unwrap() as usize;
    let models = counts["models"].as_array().unwrap();
    let extra = counts
        .get("extra")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut checked = 0;
    let mut worst = 0.0f64;
    for entry in models.iter().chain(extra.iter()) {
        let name = entry["name"].as_str().unwrap();
        let spec = spec_for(entry);
        let info = ModelInfo::new(&spec, imgsz, imgsz).unwrap();
        let (t, f) = (&entry["trained"], &entry["fused"]);
        assert_eq!(
            info.params,
            t["params"].as_u64().unwrap(),
            "{name}: params as trained"
        );
        assert_eq!(
            info.fused_params,
            f["params"].as_u64().unwrap(),
            "{name}: fused params"
        );
        assert_eq!(
            info.leaf_layers as u64,
            t["layers"].as_u64().unwrap(),
            "{name}: layers as trained"
        );
        assert_eq!(
            info.fused_leaf_layers as u64,
            f["layers"].as_u64().unwrap(),
            "{name}: fused layers"
        );
        for (ours, theirs, what) in [
            (info.gflops, t["gflops"].as_f64().unwrap(), "GFLOPs"),
            (
                info.fused_gflops,
                f["gflops"].as_f64().unwrap(),
                "fused GFLOPs",
            ),
        ] {
            let e = rel_err(ours, theirs);
            worst = worst.max(e);
            assert!(
                e <= 5e-3,
                "{name}: {what} {ours} vs Ultralytics {theirs} ({:.3}%)",
                e * 100.0
            );
        }
        if let Some(top) = entry.get("top_level_layers").and_then(Value::as_u64) {
            assert_eq!(info.layers.len() as u64, top, "{name}: layer rows");
        }
        checked += 1;
    }
    assert!(
        checked >= 10,
        "model_counts.json lists every model and scale ({checked} checked)"
    );
    println!("{checked} models checked; worst GFLOPs relative error {worst:.2e}");
}

#[test]
fn yolo11m_single_class_is_the_published_20_0m() {
    // models.md: with nc=1 and every BN folded, yolo11m has 20,030,803 params (the published
    // "20.0M"). Its 67.6 GFLOPs came from an older thop; Ultralytics 8.4 reports 67.76, which the
    // `extra` entry of model_counts.json checks above.
    let spec = ModelSpec::from_yaml_str(
        builtin_yaml("yolo11").unwrap(),
        "yolo11m",
        Some("m"),
        Some(1),
    )
    .unwrap();
    let info = ModelInfo::new(&spec, 640, 640).unwrap();
    assert_eq!(info.fused_params, 20_030_803);
    assert_eq!(spec.nc, 1);
}

#[test]
fn summary_lines_read_like_ultralytics() {
    let spec = ModelSpec::from_name("yolo11n").unwrap();
    let info = ModelInfo::new(&spec, 640, 640).unwrap();
    assert_eq!(
        info.summary(false),
        "YOLO11n summary: 181 layers, 2,624,080 parameters, 6.7 GFLOPs"
    );
    assert_eq!(
        info.summary(true),
        "YOLO11n summary (fused): 100 layers, 2,616,248 parameters, 6.5 GFLOPs"
    );
    let table = info.table();
    assert_eq!(
        table.lines().count(),
        1 + 24 + 2,
        "header, 24 layers, two summaries"
    );
    assert!(table.contains("ultralytics.nn.modules.block.C3k2            [32, 64, 1, False, 0.25]"));
    assert!(table.contains("[80, 16, None, [64, 128, 256]]"));
}

#[test]
fn json_form_has_the_documented_keys() {
    let spec = ModelSpec::from_name("yolo11n-ghost").unwrap();
    let info = ModelInfo::new(&spec, 640, 640).unwrap();
    let json = info.to_json();
    for key in ["params", "gflops", "fused_params", "fused_gflops", "layers"] {
        assert!(json.get(key).is_some(), "missing {key}");
    }
    assert_eq!(json["layers"].as_array().unwrap().len(), 20);
    assert_eq!(json["params"].as_u64().unwrap(), info.params);
    // Layer rows add up to the totals.
    let rows: u64 = info.layers.iter().map(|l| l.params).sum();
    assert_eq!(rows, info.params);
}

#[test]
fn gflops_scale_with_image_area_and_attention() {
    // Non-square sizes: everything but C2PSA's attention scales with pixels; attention with
    // pixels squared, so 640x320 is slightly less than half of 640x640.
    let spec = ModelSpec::from_name("yolo11n").unwrap();
    let full = ModelInfo::new(&spec, 640, 640).unwrap();
    let half = ModelInfo::new(&spec, 320, 640).unwrap();
    assert_eq!(full.params, half.params);
    assert!(half.gflops < full.gflops / 2.0 && half.gflops > 0.49 * full.gflops);
    assert!(
        ModelInfo::new(&spec, 640, 100).is_err(),
        "not a multiple of 32"
    );
}
