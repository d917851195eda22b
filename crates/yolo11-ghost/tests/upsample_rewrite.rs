//! The upsample-then-1x1 rewrite (`src/upsample_rewrite.rs`) against the plain path, on scales
//! and input sizes the Ultralytics fixtures (`forward_parity.rs`, which run the rewrite) do not
//! cover: every YOLO11 scale family member below, stock and GhostNet, seeded weights, non-square
//! inputs, 1 and 2 threads.
//!
//! Tapping a pattern's upsample layer makes the forward pass take the plain path (upsample into
//! the Concat buffer, the whole `cv1` at full resolution), so the two outputs come from one model.
//! They differ only in the order of float additions inside `cv1` (the coarse columns are summed
//! separately and added before the activation). Tolerance: the parity tests' bounds, 1e-3 of the
//! largest box coordinate for rows 0-3 and 1e-3 absolute for the scores; a rewrite reading the
//! wrong channels, resolution or weights moves boxes by pixels and scores by far more.

use ghost_layers::{Context, SeededWeights, Threads};
use ndarray::{s, Array4};
use yolo11_ghost::spec::ModuleSpec;
use yolo11_ghost::{ModelSpec, YoloModel};

fn upsample_layers(spec: &ModelSpec) -> Vec<usize> {
    spec.layers
        .iter()
        .filter(|l| matches!(l.module, ModuleSpec::Upsample { .. }))
        .map(|l| l.index)
        .collect()
}

#[test]
fn rewritten_neck_matches_the_plain_path() {
    let cases = [
        ("yolo11n", 96, 160),
        ("yolo11s-ghost", 128, 96),
        ("yolo11l", 64, 192),
        ("yolo11x-ghost", 160, 64),
    ];
    for (name, h, w) in cases {
        let spec = ModelSpec::from_name(name).unwrap();
        let ups = upsample_layers(&spec);
        assert_eq!(ups.len(), 2, "{name}: two top-down upsamples");
        let model = YoloModel::load(&spec, &SeededWeights::new(0xA11C_E5ED)).unwrap();
        let images = Array4::from_shape_fn((1, 3, h, w), |(_, c, y, x)| {
            ((c * 37 + y * 11 + x * 5) % 101) as f32 / 100.0
        });
        for threads in [1, 2] {
            let mut ctx = Context::new(Threads::new(threads).unwrap());
            let rewritten = model.forward(images.view(), &mut ctx).unwrap();
            let (plain, _) = model
                .forward_with_taps(images.view(), &mut ctx, &ups)
                .unwrap();
            assert_eq!(rewritten.shape(), plain.shape(), "{name}");
            let boxes = |a: &ndarray::Array3<f32>| a.slice(s![.., ..4, ..]).to_owned();
            let box_scale = boxes(&plain).iter().fold(0f32, |m, v| m.max(v.abs()));
            let box_err = (&boxes(&rewritten) - &boxes(&plain))
                .iter()
                .fold(0f32, |m, v| m.max(v.abs()));
            let score_err = (&rewritten.slice(s![.., 4.., ..]) - &plain.slice(s![.., 4.., ..]))
                .iter()
                .fold(0f32, |m, v| m.max(v.abs()));
            println!("{name} {h}x{w} {threads}T: box err {box_err:.2e} of {box_scale:.1}, score err {score_err:.2e}");
            assert!(
                box_err <= 1e-3 * box_scale,
                "{name}: boxes differ by {box_err}"
            );
            assert!(score_err <= 1e-3, "{name}: scores differ by {score_err}");
            // The plain path must really be a different computation, or this test compares a
            // path with itself.
            assert!(
                rewritten.iter().zip(&plain).any(|(a, b)| a != b),
                "{name}: tapping the upsample did not switch to the plain path"
            );
        }
    }
}
