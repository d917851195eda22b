//! Max pooling, global average pooling and nearest 2x upsampling: every implementation against
//! the naive references on random strided views with NaN sentinels, a hand-computed SPPF case,
//! NaN propagation, thread-count determinism and error cases.
//!
//! Tolerances: max pooling and upsampling only move values, so they must be bitwise equal to the
//! reference. The average's f32 sum (row sums, then the sum of rows) is within
//! `(w + h + 2) * EPSILON` of the absolute sum (Higham's `gamma_n` for each of the two sums with a
//! factor 2 of slack, plus the division's rounding).

mod common;

use common::{
    assert_invalid_parameter, assert_shape_mismatch, one_and_two_threads, run_into_sentinel_view,
    same_bits_or_both_nan, sentinel_buffer, splitmix_values, strided, test_isas,
};
use ghost_kernels::pool::{self, global_avg_pool_with_isa, max_pool_with_isa};
use ghost_kernels::resize::{self, upsample_nearest_2x_with_isa};
use ghost_kernels::{Isa, Padding, TensorView, TensorViewMut, Threads, Window};
use proptest::prelude::*;

/// Runs max pooling on `isa` and returns the dense output after checking the sentinels.
fn run_max_pool(
    isa: Isa,
    input: &TensorView,
    window: &Window,
    out_gap: usize,
    threads: &Threads,
) -> Vec<f32> {
    let [n, h, w, c] = input.shape();
    let (oh, ow) = window.output_size(h, w).unwrap();
    let l = strided(n, oh, ow, c, 1, out_gap);
    run_into_sentinel_view(&l, 3, isa, |out| {
        max_pool_with_isa(isa, input, window, out, threads).unwrap();
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(common::proptest_cases(200)))]

    #[test]
    fn max_pool_matches_reference(
        (n, h, w, c) in (1usize..=2, 1usize..=12, 1usize..=12, 1usize..=40),
        (kh, kw, sh, sw) in (1usize..=5, 1usize..=5, 1usize..=3, 1usize..=3),
        pads in (0usize..5, 0usize..5, 0usize..5, 0usize..5),
        (gap, seed) in (0usize..3, any::<u64>()),
    ) {
        let padding = Padding { top: pads.0 % kh, left: pads.1 % kw, bottom: pads.2 % kh, right: pads.3 % kw };
        let window = Window { kernel_h: kh, kernel_w: kw, stride_h: sh, stride_w: sw, padding };
        let h = h.max(kh);
        let w = w.max(kw);
        let l = strided(n, h, w, c, 2, gap);
        let buf = sentinel_buffer(&l, &splitmix_values(seed, l.elements()));
        let input = TensorView::new(&buf, l).unwrap();
        let reference = run_max_pool(Isa::Scalar, &input, &window, 0, &Threads::single());
        for isa in test_isas() {
            let got = run_max_pool(isa, &input, &window, gap, &Threads::single());
            prop_assert!(same_bits_or_both_nan(&got, &reference), "{:?}", isa);
            let two = run_max_pool(isa, &input, &window, gap, &Threads::new(2).unwrap());
            prop_assert!(same_bits_or_both_nan(&two, &got), "{:?} 2 threads", isa);
        }
    }

    #[test]
    fn global_avg_pool_matches_reference(
        (n, h, w, c) in (1usize..=2, 1usize..=20, 1usize..=20, 1usize..=70),
        (gap, seed) in (0usize..3, any::<u64>()),
    ) {
        let l = strided(n, h, w, c, 1, gap);
        let values = splitmix_values(seed, l.elements());
        let buf = sentinel_buffer(&l, &values);
        let input = TensorView::new(&buf, l).unwrap();
        let mut ref_out = vec![0.0f32; n * c];
        pool::naive::global_avg_pool(&input, &mut TensorViewMut::dense(&mut ref_out, n, 1, 1, c).unwrap()).unwrap();
        for isa in test_isas() {
            let ol = strided(n, 1, 1, c, 2, gap);
            let got = run_into_sentinel_view(&ol, 2, isa, |out| {
                global_avg_pool_with_isa(isa, &input, out, &Threads::single()).unwrap();
            });
            for b in 0..n {
                for ch in 0..c {
                    let abs_mean: f64 = (0..h * w).map(|p| f64::from(values[(b * h * w + p) * c + ch].abs())).sum::<f64>() / (h * w) as f64;
                    let r = f64::from(ref_out[b * c + ch]);
                    let bound = (w + h + 2) as f64 * f64::from(f32::EPSILON) * abs_mean + f64::from(f32::EPSILON) * r.abs();
                    let g = f64::from(got[b * c + ch]);
                    prop_assert!((g - r).abs() <= bound, "{:?} ({}, {}): {} vs {}", isa, b, ch, g, r);
                }
            }
            let two = run_into_sentinel_view(&ol, 2, isa, |out| {
                global_avg_pool_with_isa(isa, &input, out, &Threads::new(2).unwrap()).unwrap();
            });
            prop_assert!(same_bits_or_both_nan(&two, &got), "{:?} 2 threads", isa);
        }
    }

    #[test]
    fn upsample_matches_reference(
        (n, h, w, c) in (1usize..=2, 1usize..=9, 1usize..=9, 1usize..=40),
        (gap, seed) in (0usize..3, any::<u64>()),
    ) {
        let l = strided(n, h, w, c, 1, gap);
        let buf = sentinel_buffer(&l, &splitmix_values(seed, l.elements()));
        let input = TensorView::new(&buf, l).unwrap();
        let mut ref_out = vec![0.0f32; n * 4 * h * w * c];
        resize::naive::upsample_nearest_2x(&input, &mut TensorViewMut::dense(&mut ref_out, n, 2 * h, 2 * w, c).unwrap()).unwrap();
        for isa in test_isas() {
            for threads in one_and_two_threads() {
                let ol = strided(n, 2 * h, 2 * w, c, gap, 2);
                let got = run_into_sentinel_view(&ol, 2, isa, |out| {
                    upsample_nearest_2x_with_isa(isa, &input, out, &threads).unwrap();
                });
                prop_assert!(same_bits_or_both_nan(&got, &ref_out), "{:?}", isa);
            }
        }
    }
}

/// SPPF's pool (5x5, stride 1, padding 2) on a 1-channel ramp `v = 10 y + x`: the maximum of a
/// window is at its bottom-right valid corner. Independent of the naive reference.
#[test]
fn sppf_pool_hand_computed() {
    let (h, w) = (6, 7);
    let data: Vec<f32> = (0..h * w).map(|i| (10 * (i / w) + i % w) as f32).collect();
    let input = TensorView::dense(&data, 1, h, w, 1).unwrap();
    for isa in test_isas() {
        let out = run_max_pool(isa, &input, &Window::same(5, 1), 0, &Threads::single());
        for y in 0..h {
            for x in 0..w {
                let want = (10 * (y + 2).min(h - 1) + (x + 2).min(w - 1)) as f32;
                assert_eq!(out[y * w + x], want, "{isa:?} at ({y}, {x})");
            }
        }
    }
}

/// A NaN inside a window makes that window's maximum NaN (PyTorch semantics), wherever it sits.
#[test]
fn max_pool_propagates_nan() {
    let (h, w, c) = (5, 5, 11);
    for nan_at in [0usize, 7, 12, 24] {
        let mut data = splitmix_values(3, h * w * c);
        for ch in 0..c {
            data[nan_at * c + ch] = f32::NAN;
        }
        let input = TensorView::dense(&data, 1, h, w, c).unwrap();
        let reference = run_max_pool(
            Isa::Scalar,
            &input,
            &Window::same(3, 1),
            0,
            &Threads::single(),
        );
        let (ny, nx) = ((nan_at / w) as isize, (nan_at % w) as isize);
        for y in 0..h as isize {
            for x in 0..w as isize {
                let covered = (y - ny).abs() <= 1 && (x - nx).abs() <= 1;
                assert_eq!(
                    reference[(y as usize * w + x as usize) * c].is_nan(),
                    covered
                );
            }
        }
        for isa in test_isas() {
            let got = run_max_pool(isa, &input, &Window::same(3, 1), 0, &Threads::single());
            assert!(
                same_bits_or_both_nan(&got, &reference),
                "{isa:?}, NaN at {nan_at}"
            );
        }
    }
}

/// Large maps split over two threads give the same bits.
#[test]
fn large_maps_two_threads() {
    let (h, w, c) = (40, 40, 64);
    let data = splitmix_values(11, h * w * c);
    let input = TensorView::dense(&data, 1, h, w, c).unwrap();
    for isa in test_isas() {
        let a = run_max_pool(isa, &input, &Window::same(5, 1), 0, &Threads::single());
        let b = run_max_pool(
            isa,
            &input,
            &Window::same(5, 1),
            0,
            &Threads::new(2).unwrap(),
        );
        assert!(same_bits_or_both_nan(&a, &b), "{isa:?}");
    }
}

#[test]
fn errors_name_the_operand() {
    let data = vec![0.0f32; 4 * 4 * 3];
    let input = TensorView::dense(&data, 1, 4, 4, 3).unwrap();
    let t = Threads::single();
    let mut out = vec![0.0f32; 64];

    let mut wrong = TensorViewMut::dense(&mut out, 1, 3, 4, 3).unwrap();
    let err = pool::max_pool(&input, &Window::same(3, 1), &mut wrong, &t).unwrap_err();
    assert_shape_mismatch(&err, "output");
    let err = pool::max_pool(&input, &Window::square(3, 1, 3), &mut wrong, &t).unwrap_err();
    assert_invalid_parameter(&err, "padding");

    let mut pooled = TensorViewMut::dense(&mut out, 1, 1, 1, 2).unwrap();
    let err = pool::global_avg_pool(&input, &mut pooled, &t).unwrap_err();
    assert_shape_mismatch(&err, "output");

    let mut up = TensorViewMut::dense(&mut out, 1, 8, 7, 1).unwrap();
    let err = resize::upsample_nearest_2x(
        &TensorView::dense(&data[..48], 1, 4, 4, 3).unwrap(),
        &mut up,
        &t,
    )
    .unwrap_err();
    assert_shape_mismatch(&err, "output");
}
