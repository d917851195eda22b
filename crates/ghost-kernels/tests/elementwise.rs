//! Element-wise kernels (add, mul, channel scale, in-place activation), DFL decoding and row
//! softmax: every implementation against the naive references, on strided views with NaN
//! sentinels, with thread-count determinism and error cases.
//!
//! Tolerances:
//! - add / mul / channel scale are single IEEE operations: bitwise equal to the reference.
//! - activations: `ACT_REL * |reference|` (the vector exp / division error, see `tolerance`).
//! - softmax `p_i = e_i / S`, `e_i = exp(x_i - max)`: the subtraction and exp give `e_i` a relative
//!   error below `(|x_i - max| + 4) u`, the sum `S` one below `(n + max_j |x_j - max| + 4) u`, the
//!   reciprocal and product `2u`. With `EPSILON = 2u` as slack the bound is
//!   `p_i (2 range + n + 12) EPSILON` (+1e-30 for results that underflow).
//! - DFL `R = sum i e_i / sum e_i`: perturbing each `e_i` by a relative `eps` moves `R` by at most
//!   `(bins - 1) eps`; the two sums add `2 bins u` relative to `R <= bins - 1`, the division `u`.
//!   Bound `(bins - 1) ((range + 4) + 2 (bins + 1)) EPSILON`.

mod common;

use common::{
    any_activation, assert_invalid_parameter, assert_shape_mismatch, one_and_two_threads,
    run_in_place_on_copy, run_into_sentinel_view, same_bits, sentinel_buffer, splitmix_values,
    strided, test_isas,
};
use ghost_kernels::dfl::{self, dfl_with_isa};
use ghost_kernels::elementwise::{
    self, activate_inplace_with_isa, add_inplace_with_isa, binary_with_isa,
    channel_scale_inplace_with_isa, channel_scale_with_isa, BinaryOp,
};
use ghost_kernels::softmax::{self, softmax_rows_with_isa};
use ghost_kernels::tolerance::ACT_REL;
use ghost_kernels::{Activation, KernelError, TensorView, TensorViewMut, Threads};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(common::proptest_cases(200)))]

    #[test]
    fn binary_ops_are_exact(
        (n, h, w, c) in (1usize..=2, 1usize..=9, 1usize..=9, 1usize..=70),
        (gaps, seed, mul) in ((0usize..3, 0usize..3, 0usize..3), any::<u64>(), any::<bool>()),
    ) {
        let op = if mul { BinaryOp::Mul } else { BinaryOp::Add };
        let (la, lb) = (strided(n, h, w, c, 1, gaps.0), strided(n, h, w, c, 0, gaps.1));
        let (va, vb) = (splitmix_values(seed, la.elements()), splitmix_values(!seed, lb.elements()));
        let (ba, bb) = (sentinel_buffer(&la, &va), sentinel_buffer(&lb, &vb));
        let (a, b) = (TensorView::new(&ba, la).unwrap(), TensorView::new(&bb, lb).unwrap());
        let want: Vec<f32> = va.iter().zip(&vb).map(|(x, y)| if mul { x * y } else { x + y }).collect();
        for isa in test_isas() {
            for t in one_and_two_threads() {
                let lo = strided(n, h, w, c, 2, gaps.2);
                let got = run_into_sentinel_view(&lo, 2, isa, |out| {
                    binary_with_isa(isa, op, &a, &b, out, &t).unwrap();
                });
                prop_assert!(same_bits(&got, &want), "{:?} {:?}", isa, op);
                if !mul {
                    // In place: a's buffer takes the sum.
                    let got = run_in_place_on_copy(&ba, &la, isa, |x| {
                        add_inplace_with_isa(isa, x, &b, &t).unwrap();
                    });
                    prop_assert!(same_bits(&got, &want), "{:?} add in place", isa);
                }
            }
        }
    }

    #[test]
    fn channel_scale_is_exact(
        (n, h, w, c) in (1usize..=2, 1usize..=9, 1usize..=9, 1usize..=70),
        (gap, seed) in (0usize..3, any::<u64>()),
    ) {
        let l = strided(n, h, w, c, 1, gap);
        let values = splitmix_values(seed, l.elements());
        let buf = sentinel_buffer(&l, &values);
        let input = TensorView::new(&buf, l).unwrap();
        let sl = strided(n, 1, 1, c, 1, 1);
        let scales = splitmix_values(seed ^ 5, n * c);
        let sbuf = sentinel_buffer(&sl, &scales);
        let scale = TensorView::new(&sbuf, sl).unwrap();
        let want: Vec<f32> = values.iter().enumerate().map(|(i, v)| v * scales[(i / (h * w * c)) * c + i % c]).collect();
        for isa in test_isas() {
            for t in one_and_two_threads() {
                let lo = strided(n, h, w, c, 3, gap);
                let got = run_into_sentinel_view(&lo, 2, isa, |out| {
                    channel_scale_with_isa(isa, &input, &scale, out, &t).unwrap();
                });
                prop_assert!(same_bits(&got, &want), "{:?}", isa);

                let got = run_in_place_on_copy(&buf, &l, isa, |x| {
                    channel_scale_inplace_with_isa(isa, x, &scale, &t).unwrap();
                });
                prop_assert!(same_bits(&got, &want), "{:?} in place", isa);
            }
        }
    }

    #[test]
    fn activate_inplace_matches_f64(
        (n, h, w, c) in (1usize..=2, 1usize..=7, 1usize..=7, 1usize..=40),
        (gap, seed, act) in (0usize..3, any::<u64>(), any_activation()),
    ) {
        let l = strided(n, h, w, c, 1, gap);
        // Spread the inputs over [-12, 12] to exercise both tails of the activations.
        let values: Vec<f32> = splitmix_values(seed, l.elements()).iter().map(|v| v * 12.0).collect();
        let buf = sentinel_buffer(&l, &values);
        for isa in test_isas() {
            for t in one_and_two_threads() {
                let got = run_in_place_on_copy(&buf, &l, isa, |x| {
                    activate_inplace_with_isa(isa, x, act, &t).unwrap();
                });
                for (g, v) in got.iter().zip(&values) {
                    let r = act.apply_f64(f64::from(*v));
                    prop_assert!((f64::from(*g) - r).abs() <= ACT_REL * r.abs() + 1e-30, "{:?} {:?}({}) = {} vs {}", isa, act, v, g, r);
                }
            }
        }
    }

    #[test]
    fn dfl_matches_f64(
        (n, h, w) in (1usize..=2, 1usize..=6, 1usize..=6),
        (bins, gap, seed, spread) in (prop::sample::select(vec![1usize, 3, 8, 16, 17]), 0usize..3, any::<u64>(), 1.0f32..20.0),
    ) {
        let l = strided(n, h, w, 4 * bins, 2, gap);
        let values: Vec<f32> = splitmix_values(seed, l.elements()).iter().map(|v| v * spread).collect();
        let buf = sentinel_buffer(&l, &values);
        let input = TensorView::new(&buf, l).unwrap();
        let mut ref_out = vec![0.0f32; n * h * w * 4];
        dfl::naive::dfl(&input, bins, &mut TensorViewMut::dense(&mut ref_out, n, h, w, 4).unwrap()).unwrap();
        let bound = (bins as f64 - 1.0) * ((2.0 * f64::from(spread) + 4.0) + 2.0 * (bins as f64 + 1.0)) * f64::from(f32::EPSILON) + 1e-30;
        for isa in test_isas() {
            let mut first: Option<Vec<f32>> = None;
            for t in one_and_two_threads() {
                let lo = strided(n, h, w, 4, 1, gap);
                let got = run_into_sentinel_view(&lo, 2, isa, |out| {
                    dfl_with_isa(isa, &input, bins, out, &t).unwrap();
                });
                for (g, r) in got.iter().zip(&ref_out) {
                    prop_assert!((f64::from(*g) - f64::from(*r)).abs() <= bound, "{:?} bins {}: {} vs {}", isa, bins, g, r);
                }
                match &first {
                    None => first = Some(got),
                    Some(f) => prop_assert!(same_bits(f, &got), "{:?} thread counts differ", isa),
                }
            }
        }
    }

    #[test]
    fn softmax_matches_f64(
        (rows, row_len) in (1usize..=12, 1usize..=70),
        (seed, spread) in (any::<u64>(), 1.0f32..30.0),
    ) {
        let data: Vec<f32> = splitmix_values(seed, rows * row_len).iter().map(|v| v * spread).collect();
        let mut reference = data.clone();
        softmax::naive::softmax_rows(&mut reference, row_len).unwrap();
        let range = 2.0 * f64::from(spread);
        for isa in test_isas() {
            let mut first: Option<Vec<f32>> = None;
            for t in one_and_two_threads() {
                let mut got = data.clone();
                softmax_rows_with_isa(isa, &mut got, row_len, &t).unwrap();
                for (g, r) in got.iter().zip(&reference) {
                    let r = f64::from(*r);
                    let bound = r * (2.0 * range + row_len as f64 + 12.0) * f64::from(f32::EPSILON) + 1e-30;
                    prop_assert!((f64::from(*g) - r).abs() <= bound, "{:?}: {} vs {}", isa, g, r);
                }
                match &first {
                    None => first = Some(got),
                    Some(f) => prop_assert!(same_bits(f, &got), "{:?} thread counts differ", isa),
                }
            }
        }
    }
}

/// DFL on hand-made logits: one dominant bin gives (almost exactly) its index; equal logits give
/// the mean index `(bins - 1) / 2`. Independent of the naive reference.
#[test]
fn dfl_hand_computed() {
    let bins = 16;
    let mut logits = vec![0.0f32; 4 * bins];
    logits[3] = 100.0; // side 0 -> 3
    logits[bins + 15] = 100.0; // side 1 -> 15
                               // side 2: all equal -> 7.5
    for i in 0..bins {
        logits[3 * bins + i] = if i == 4 || i == 6 { 50.0 } else { -50.0 }; // side 3 -> 5
    }
    let input = TensorView::dense(&logits, 1, 1, 1, 4 * bins).unwrap();
    for isa in test_isas() {
        let mut out = vec![0.0f32; 4];
        dfl_with_isa(
            isa,
            &input,
            bins,
            &mut TensorViewMut::dense(&mut out, 1, 1, 1, 4).unwrap(),
            &Threads::single(),
        )
        .unwrap();
        let want = [3.0, 15.0, 7.5, 5.0];
        for (g, w) in out.iter().zip(want) {
            assert!((g - w).abs() <= 1e-5, "{isa:?}: {out:?} vs {want:?}");
        }
    }
}

/// Softmax rows sum to 1 and keep the order of their logits; a row of equal values is uniform.
#[test]
fn softmax_hand_computed() {
    for isa in test_isas() {
        let mut data = vec![1.0f32; 10];
        data.extend([0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]);
        softmax_rows_with_isa(isa, &mut data, 10, &Threads::single()).unwrap();
        assert!(
            data[..10].iter().all(|&p| (p - 0.1).abs() <= 1e-7),
            "{isa:?}: {data:?}"
        );
        let sum: f32 = data[10..].iter().sum();
        assert!((sum - 1.0).abs() <= 1e-6);
        assert!(data[10..].windows(2).all(|w| w[0] < w[1]));
        let e9 = 1.0 / (1.0 - (-1.0f64).exp()) * (1.0 - (-10.0f64).exp());
        assert!((f64::from(data[19]) - 1.0 / e9).abs() <= 1e-6);
    }
}

/// In-place activation touches each element once (a masked tail, not an overlapping block):
/// SiLU applied twice would differ.
#[test]
fn activation_tail_applied_once() {
    for c in [9usize, 12, 20, 36] {
        let values: Vec<f32> = (0..3 * c).map(|i| i as f32 * 0.37 - 4.0).collect();
        for isa in test_isas() {
            let mut data = values.clone();
            let mut x = TensorViewMut::dense(&mut data, 1, 1, 3, c).unwrap();
            activate_inplace_with_isa(isa, &mut x, Activation::Silu, &Threads::single()).unwrap();
            for (g, v) in data.iter().zip(&values) {
                let r = Activation::Silu.apply_f64(f64::from(*v));
                assert!(
                    (f64::from(*g) - r).abs() <= ACT_REL * r.abs() + 1e-30,
                    "{isa:?} c={c}: {g} vs {r}"
                );
            }
        }
    }
}

#[test]
fn errors_name_the_operand() {
    let t = Threads::single();
    let a_data = vec![0.0f32; 2 * 2 * 3];
    let a = TensorView::dense(&a_data, 1, 2, 2, 3).unwrap();
    let b = TensorView::dense(&a_data[..8], 1, 2, 2, 2).unwrap();
    let mut out = vec![0.0f32; 12];
    let mut o = TensorViewMut::dense(&mut out, 1, 2, 2, 3).unwrap();
    let err = elementwise::add(&a, &b, &mut o, &t).unwrap_err();
    assert_shape_mismatch(&err, "b");
    let err = elementwise::channel_scale(&a, &b, &mut o, &t).unwrap_err();
    assert_shape_mismatch(&err, "scale");
    let mut small = vec![0.0f32; 12];
    let mut o2 = TensorViewMut::dense(&mut small, 1, 2, 3, 2).unwrap();
    let err = elementwise::mul(&a, &a, &mut o2, &t).unwrap_err();
    assert_shape_mismatch(&err, "output");

    let logits = vec![0.0f32; 2 * 2 * 64];
    let input = TensorView::dense(&logits, 1, 2, 2, 64).unwrap();
    let mut d = vec![0.0f32; 16];
    let err = dfl::dfl(
        &input,
        15,
        &mut TensorViewMut::dense(&mut d, 1, 2, 2, 4).unwrap(),
        &t,
    )
    .unwrap_err();
    assert_shape_mismatch(&err, "input");
    let err = dfl::dfl(
        &input,
        16,
        &mut TensorViewMut::dense(&mut d, 1, 4, 1, 4).unwrap(),
        &t,
    )
    .unwrap_err();
    assert_shape_mismatch(&err, "output");
    let err = dfl::dfl(
        &input,
        0,
        &mut TensorViewMut::dense(&mut d, 1, 2, 2, 4).unwrap(),
        &t,
    )
    .unwrap_err();
    assert_invalid_parameter(&err, "bins");

    let mut rows = vec![0.0f32; 10];
    assert!(matches!(
        softmax::softmax_rows(&mut rows, 3, &t),
        Err(KernelError::ShapeMismatch { .. })
    ));
    assert!(matches!(
        softmax::softmax_rows(&mut rows, 0, &t),
        Err(KernelError::InvalidParameter { .. })
    ));
}
