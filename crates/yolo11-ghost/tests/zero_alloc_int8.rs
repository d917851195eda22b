//! The u8 codes that INT8 convs share inside blocks and across nodes (docs/int8.md, "Shared
//! quantization and u8 between INT8 convs" and "Session 14, u8 homes") take their buffers from
//! the context, which keeps them between passes: a steady-state INT8 forward pass allocates
//! exactly as much with sharing on as with it off. (Not zero: each INT8 kernel call builds its
//! epilogue constants, `ghost_kernels::quant`'s `FinishData::new`, two small vectors; that is
//! the kernels' business and is counted here only as the common baseline.) The default model
//! quantized with the default rule (SPPF writes u8 for C2PSA, one copy of two level maps for
//! their INT8 readers on VNNI), 1 and 2 threads, non-square; the counting allocator is the
//! process-wide global allocator, so this file holds a single test (as tests/zero_alloc.rs,
//! which covers the FP32 models).

use std::alloc::System;
use std::path::PathBuf;

use ndarray::{Array3, Array4};
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};
use yolo11_ghost::detector::{Detector, DetectorOptions, WeightsChoice};
use yolo11_ghost::quantize::{quantize, QuantizeOptions};
use yolo11_ghost::val::Dataset;

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

#[test]
fn u8_codes_add_no_steady_state_allocation() {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dir = std::env::temp_dir().join(format!("ghost-yolo-int8-alloc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("default-int8.safetensors");
    let data = Dataset::open(&repo.join("fixtures/synthetic/data.yaml"), "val").unwrap();
    let opts = QuantizeOptions {
        images: 2,
        threads: Some(2),
        ..QuantizeOptions::default()
    };
    quantize(None, &WeightsChoice::Default, &data, &file, &opts).unwrap();
    let images = Array4::from_shape_fn((1, 3, 96, 160), |(_, c, y, x)| {
        ((c * 31 + y * 7 + x * 3) % 97) as f32 / 96.0
    });
    for threads in [1, 2] {
        let det = Detector::from_weights(
            &file,
            DetectorOptions {
                threads: Some(threads),
                ..DetectorOptions::default()
            },
        )
        .unwrap();
        let mut steady = [0; 2];
        let mut results = Vec::new();
        for (k, shared) in [true, false].into_iter().enumerate() {
            let mut ctx = det.new_context();
            ctx.set_int8_shared_quantization(shared);
            let mut out = Array3::zeros((0, 0, 0));
            let first = Region::new(GLOBAL);
            det.forward_into(images.view(), &mut ctx, &mut out).unwrap();
            assert!(first.change().allocations > 0, "the counter is live");
            det.forward_into(images.view(), &mut ctx, &mut out).unwrap();
            let reference = out.clone();
            let region = Region::new(GLOBAL);
            det.forward_into(images.view(), &mut ctx, &mut out).unwrap();
            let stats = region.change();
            assert_eq!(stats.reallocations, 0, "{threads} threads, shared {shared}");
            steady[k] = stats.allocations;
            assert!(
                out.iter()
                    .zip(&reference)
                    .all(|(a, b)| a.to_bits() == b.to_bits()),
                "{threads} threads: the reused buffers changed the result"
            );
            results.push(out);
        }
        eprintln!("{threads} threads: {steady:?} steady-state allocations (sharing on, off)");
        assert_eq!(
            steady[0], steady[1],
            "{threads} threads: steady-state allocations with sharing on vs off"
        );
        assert!(
            results[0]
                .iter()
                .zip(&results[1])
                .all(|(a, b)| a.to_bits() == b.to_bits()),
            "{threads} threads: sharing changed the result"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
