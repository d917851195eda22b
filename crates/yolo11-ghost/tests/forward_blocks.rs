//! The Ultralytics blocks the built-in models do not use, against Ultralytics 8.4.190 itself:
//! `tests/data/blocks_{a,b}.yaml` run by `tests/data/make_blocks_fixture.py` with seeded weights
//! (the team generator, regenerated here by `SeededWeights`).
//!
//! Model a: GhostConv (stride 2), C3Ghost, DWConv, C2f with shortcut, Ultralytics
//! GhostBottleneck (stride 2), C3, C3k2 with attn=True, the 4-argument SPPF (unactivated cv1,
//! shortcut), two chained Bottleneck copies (`model.10.{0,1}`), Detect nc=5 (DWConv class branch).
//! Model b: YOLOv8 style (no C3k2, so Detect's legacy class branch), depth 0.33, nc=3.
//! Both at batch 2, 64x96 (non-square), 2 threads.
//!
//! Tolerances as in forward_parity.rs (same reasoning): boxes within 1e-3 of the largest box,
//! scores within 1e-3 absolute; per-layer parameter counts exactly as `parse_model` printed them.

use std::path::PathBuf;

use ghost_layers::{SeededWeights, Threads};
use ndarray::{s, Array3, Array4};
use safetensors::SafeTensors;
use yolo11_ghost::info::ModelInfo;
use yolo11_ghost::{ModelSpec, YoloModel};

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn f32s(st: &SafeTensors, name: &str) -> (Vec<usize>, Vec<f32>) {
    let t = st.tensor(name).unwrap_or_else(|e| panic!("{name}: {e}"));
    let v = t
        .data()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    (t.shape().to_vec(), v)
}

fn i64s(st: &SafeTensors, name: &str) -> Vec<u64> {
    let t = st.tensor(name).unwrap_or_else(|e| panic!("{name}: {e}"));
    t.data()
        .chunks_exact(8)
        .map(|b| i64::from_le_bytes(b.try_into().unwrap()) as u64)
        .collect()
}

fn check(key: &str, yaml: &str, scale: &str, seed: u64, nc: usize) {
    let bytes = std::fs::read(data("blocks.io.safetensors")).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let text = std::fs::read_to_string(data(yaml)).unwrap();
    let spec = ModelSpec::from_yaml_str(&text, key, Some(scale), None).unwrap();
    assert_eq!(spec.nc, nc);

    let info = ModelInfo::new(&spec, 640, 640).unwrap();
    let ours: Vec<u64> = info.layers.iter().map(|l| l.params).collect();
    assert_eq!(
        ours,
        i64s(&st, &format!("{key}/params")),
        "{key}: per-layer params"
    );

    let model = YoloModel::load(&spec, &SeededWeights::new(seed)).unwrap();
    let (sx, x) = f32s(&st, &format!("{key}/images"));
    let images = Array4::from_shape_vec((sx[0], sx[1], sx[2], sx[3]), x).unwrap();
    let (sy, y) = f32s(&st, &format!("{key}/output0"));
    let reference = Array3::from_shape_vec((sy[0], sy[1], sy[2]), y).unwrap();
    let out = model
        .forward_threads(images.view(), &Threads::new(2).unwrap())
        .unwrap();
    assert_eq!(out.shape(), reference.shape());

    let diff = |a: ndarray::ArrayView3<f32>, b: ndarray::ArrayView3<f32>| {
        a.iter()
            .zip(b.iter())
            .map(|(p, q)| (p - q).abs())
            .fold(0.0f32, f32::max)
    };
    let box_max = reference
        .slice(s![.., 0..4, ..])
        .iter()
        .fold(0.0f32, |m, v| m.max(v.abs()));
    let box_err = diff(
        out.slice(s![.., 0..4, ..]),
        reference.slice(s![.., 0..4, ..]),
    );
    let score_err = diff(out.slice(s![.., 4.., ..]), reference.slice(s![.., 4.., ..]));
    println!("{key}: box max|err| {box_err:.3e} of {box_max:.1}, score max|err| {score_err:.3e}");
    assert!(box_err <= 1e-3 * box_max, "{key}: box error {box_err}");
    assert!(score_err <= 1e-3, "{key}: score error {score_err}");
}

#[test]
fn ghost_csp_attention_and_repeated_blocks_match_ultralytics() {
    check("a", "blocks_a.yaml", "n", 0x5EEDA, 5);
}

#[test]
fn yolov8_style_model_with_legacy_detect_matches_ultralytics() {
    check("b", "blocks_b.yaml", "s", 0x5EEDB, 3);
}
