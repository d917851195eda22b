//! `detect_decode` (Detect's per-level DFL + dist2bbox + sigmoid into `output0` rows).

use ghost_kernels::detect_decode::{self, detect_decode_with_isa, DecodeTarget};
use ghost_kernels::testing::values;
use ghost_kernels::tolerance::ACT_REL;
use ghost_kernels::{KernelError, Threads};

use crate::backends;
use crate::check::{same_bits, Strided};

/// Columns of other levels before and after this level's, in every output row.
const BEFORE: usize = 5;
const AFTER: usize = 3;

#[test]
fn detect_decode_levels() {
    for b in backends() {
        for (i, ([h, w], bins, nc, stride)) in [
            ([1, 1], 1, 1, 8.0),
            ([3, 5], 3, 7, 16.0),
            ([2, 3], 16, 80, 8.0),
            ([4, 7], 16, 81, 32.0),
            ([3, 3], 17, 33, 8.0),
            ([13, 11], 16, 3, 16.0),
            ([40, 40], 16, 80, 16.0),
            // More than 32 bins: the kernel's gather buffer is on the heap.
            ([2, 5], 33, 5, 8.0),
        ]
        .into_iter()
        .enumerate()
        {
            let c = 4 * bins + nc;
            let spread = 1.0 + 4.0 * i as f32;
            let v: Vec<f32> = values(i as u64, h * w * c)
                .iter()
                .map(|x| x * spread)
                .collect();
            let x = Strided::new([1, h, w, c], 1, 2, &v);
            let what = format!("{} decode {h}x{w} bins {bins} nc {nc}", b.label());
            let anchors = BEFORE + h * w + AFTER;
            let rows = 4 + nc;
            let run = |threads: &Threads| {
                let mut data = vec![f32::NAN; rows * anchors];
                let mut target = DecodeTarget {
                    data: &mut data,
                    anchors,
                    offset: BEFORE,
                };
                detect_decode_with_isa(b.isa(), &x.view(), bins, nc, stride, &mut target, threads)
                    .unwrap();
                data
            };
            let got = run(&Threads::single());
            assert!(
                same_bits(&got, &run(&Threads::new(2).unwrap())),
                "{what}: 1 and 2 threads differ"
            );
            let mut want = vec![f32::NAN; rows * anchors];
            let mut target = DecodeTarget {
                data: &mut want,
                anchors,
                offset: BEFORE,
            };
            detect_decode::naive::detect_decode(&x.view(), bins, nc, stride, &mut target).unwrap();

            // DFL distance: the bound of reduce.rs's dfl case (exp arguments within 2 * spread,
            // two sums of `bins` terms, weighted by at most `bins - 1`), plus the oracle's own
            // rounding of the distance to f32 (<= eps * bins). dist2bbox then rounds x1 = ax - d
            // and x2 = ax + d (|ax| <= extent, |d| < bins) and their sum or difference: at most
            // 2 * eps * (extent + bins) besides twice the distance error; the stride product
            // and the oracle's rounding to f32 each add eps relative to the value.
            let eps = f64::from(f32::EPSILON);
            let dfl = (bins as f64 - 1.0)
                * ((2.0 * f64::from(spread) + 4.0) + 2.0 * (bins as f64 + 1.0))
                * eps;
            let extent = h.max(w) as f64 + 1.0;
            let box_bound = |want: f64| {
                f64::from(stride)
                    * (2.0 * (dfl + eps * bins as f64) + 2.0 * eps * (extent + bins as f64))
                    + 2.0 * eps * want.abs()
                    + 1e-30
            };
            for (k, (&g, &r)) in got.iter().zip(&want).enumerate() {
                let (row, col) = (k / anchors, k % anchors);
                if !(BEFORE..BEFORE + h * w).contains(&col) {
                    assert!(
                        g.is_nan(),
                        "{what}: wrote {g} outside the level's columns ({row}, {col})"
                    );
                    continue;
                }
                let r64 = f64::from(r);
                // The sigmoid: the vector activation's relative error (tolerance::ACT_REL).
                let bound = if row < 4 {
                    box_bound(r64)
                } else {
                    ACT_REL * r64.abs() + 1e-30
                };
                let err = (f64::from(g) - r64).abs();
                assert!(
                    err <= bound,
                    "{what}: row {row} column {col}: got {g}, oracle {r}, error {err:e} > bound {bound:e}"
                );
            }
        }
    }
}

#[test]
fn detect_decode_rejects_bad_shapes() {
    let v = values(1, 2 * 3 * (64 + 5));
    let x = Strided::new([1, 2, 3, 64 + 5], 0, 0, &v);
    let t = Threads::single();
    let isa = backends()[0].isa();
    let mut data = vec![0.0f32; 9 * 10];
    let mut call = |bins: usize, nc: usize, anchors: usize, offset: usize, len: usize| {
        let mut target = DecodeTarget {
            data: &mut data[..len],
            anchors,
            offset,
        };
        detect_decode_with_isa(isa, &x.view(), bins, nc, 8.0, &mut target, &t)
    };
    assert!(call(16, 5, 10, 4, 90).is_ok());
    let shape = |e: KernelError, what: &str| {
        assert!(
            matches!(e, KernelError::ShapeMismatch { .. }),
            "{what}: {e}"
        );
        assert!(e.to_string().contains(what), "{what}: {e}");
    };
    shape(call(16, 4, 10, 4, 80).unwrap_err(), "input");
    shape(call(15, 5, 10, 4, 90).unwrap_err(), "input");
    shape(call(16, 5, 10, 5, 90).unwrap_err(), "output0 columns");
    shape(call(16, 5, 10, 0, 89).unwrap_err(), "output0");
    assert!(matches!(
        call(0, 69, 10, 0, 90).unwrap_err(),
        KernelError::InvalidParameter { .. }
    ));
}
