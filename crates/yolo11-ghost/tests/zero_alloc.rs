//! A steady-state forward pass allocates nothing (issue 6's static memory plan): with one
//! [`Context`] and one output array kept across calls, the third forward pass on an input of
//! the same size makes zero heap allocations, reallocations included, on every thread (the
//! counting allocator below is the process-wide global allocator, so rayon workers count too).
//!
//! Covered: yolo11n-ghost (GhostNet with SE, Ghost bottlenecks) and yolo11n (C3k2, Winograd
//! 3x3 convs, SPPF, C2PSA attention), both with the Detect head, on 1 and 2 threads, at a
//! non-square size. The first two passes may allocate (the pool, scratch and slot table grow to
//! the model's needs); the test also checks that they do, so it cannot pass by measuring
//! nothing. This file holds a single test so that no other test thread allocates meanwhile.

use std::alloc::System;

use ghost_layers::{Context, SeededWeights, Threads};
use ndarray::{Array3, Array4};
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};
use yolo11_ghost::detector::{Detector, DetectorOptions, WeightsChoice};
use yolo11_ghost::{ModelSpec, YoloModel};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

#[test]
fn steady_state_forward_allocates_nothing() {
    let images = Array4::from_shape_fn((1, 3, 96, 160), |(_, c, y, x)| {
        ((c * 31 + y * 7 + x * 3) % 97) as f32 / 96.0
    });
    for name in ["yolo11n-ghost", "yolo11n"] {
        let model = YoloModel::load(
            &ModelSpec::from_name(name).unwrap(),
            &SeededWeights::new(0x5EED),
        )
        .unwrap();
        for threads in [1, 2] {
            let mut ctx = Context::new(Threads::new(threads).unwrap());
            let out = third_pass_allocates_nothing(&format!("{name}, {threads} threads"), |out| {
                model.forward_into(images.view(), &mut ctx, out).unwrap();
            });
            assert_eq!(out.shape(), &[1, 4 + 80, 12 * 20 + 6 * 10 + 3 * 5]);
        }
    }

    // The same through the Detector API (`ghost-yolo bench`'s loop): `Detector::forward_into`
    // with a kept context and output allocates nothing either, so the 2.8 MB `output0` of a
    // 640x640 pass is not re-allocated (and its pages re-mapped) every pass.
    let detector = Detector::load(
        "yolo11n-ghost",
        &WeightsChoice::Seeded(0x5EED),
        DetectorOptions {
            threads: Some(2),
            ..Default::default()
        },
    )
    .unwrap();
    let mut ctx = detector.new_context();
    third_pass_allocates_nothing("Detector::forward_into", |out| {
        detector.forward_into(images.view(), &mut ctx, out).unwrap();
    });
}

/// Runs `forward` three times into one output array kept across the calls: the first pass
/// must allocate (so the counter is live and the test cannot pass by measuring nothing), the
/// third must make no allocation or reallocation on any thread, and must give the second's
/// result bit for bit (the reused buffers do not change it). Returns the third pass's output;
/// `what` names the model in failure messages.
fn third_pass_allocates_nothing(
    what: &str,
    mut forward: impl FnMut(&mut Array3<f32>),
) -> Array3<f32> {
    let mut out = Array3::zeros((0, 0, 0));
    let first = Region::new(GLOBAL);
    forward(&mut out);
    assert!(
        first.change().allocations > 0,
        "{what}: the first pass must allocate (is the counter live?)"
    );
    forward(&mut out);
    let reference = out.clone();
    let steady = Region::new(GLOBAL);
    forward(&mut out);
    let stats = steady.change();
    assert_eq!(
        (stats.allocations, stats.reallocations),
        (0, 0),
        "{what}: a steady-state forward pass allocated ({stats:?})"
    );
    assert!(
        out.iter()
            .zip(&reference)
            .all(|(a, b)| a.to_bits() == b.to_bits()),
        "{what}: the reused buffers changed the result"
    );
    out
}
