//! Depthwise convolution: every implementation against the f64 naive reference on random shapes
//! (odd channel counts, odd sizes, strides, asymmetric padding, non-square kernels, strided views
//! with NaN sentinels), a hand-computed case, thread-count determinism, aliasing (Ghost module)
//! and error cases.

mod common;

use common::{
    any_activation, any_residual_order, assert_invalid_parameter, assert_shape_mismatch, epilogue,
    run_into_sentinel_view, same_bits, sentinel_buffer, splitmix_values, strided, test_isas,
};
use ghost_kernels::depthwise::{self, depthwise, depthwise_with_isa, PackedDepthwise};
use ghost_kernels::tolerance::dot_act_bound;
use ghost_kernels::{
    Activation, AddOrder, Epilogue, Isa, NhwcLayout, Padding, TensorView, TensorViewMut, Threads,
    Window,
};
use proptest::prelude::*;

/// Sum of absolute values of the terms of each output element (bias, products, residual when
/// added before the activation): the scale of its f32 rounding error.
fn abs_sums(
    input: &TensorView,
    weights: &[f32],
    bias: &[f32],
    window: &Window,
    residual: Option<(&TensorView, AddOrder)>,
    out_shape: [usize; 4],
) -> Vec<f64> {
    let [n, oh, ow, c] = out_shape;
    let [_, ih, iw, _] = input.shape();
    let (kh, kw) = (window.kernel_h, window.kernel_w);
    let mut sums = Vec::with_capacity(n * oh * ow * c);
    for b in 0..n {
        for oy in 0..oh {
            for ox in 0..ow {
                for ch in 0..c {
                    let mut s = f64::from(bias[ch].abs());
                    for ky in 0..kh {
                        for kx in 0..kw {
                            let iy =
                                (oy * window.stride_h + ky) as isize - window.padding.top as isize;
                            let ix =
                                (ox * window.stride_w + kx) as isize - window.padding.left as isize;
                            if iy >= 0 && ix >= 0 && (iy as usize) < ih && (ix as usize) < iw {
                                let x = input.get(b, iy as usize, ix as usize, ch);
                                s += f64::from((weights[(ch * kh + ky) * kw + kx] * x).abs());
                            }
                        }
                    }
                    if let Some((r, AddOrder::BeforeActivation)) = residual {
                        s += f64::from(r.get(b, oy, ox, ch).abs());
                    }
                    sums.push(s);
                }
            }
        }
    }
    sums
}

#[derive(Debug, Clone)]
struct Case {
    n: usize,
    h: usize,
    w: usize,
    c: usize,
    kh: usize,
    kw: usize,
    sh: usize,
    sw: usize,
    pad: Padding,
    act: Activation,
    residual: Option<AddOrder>,
    in_gap: usize,
    in_offset: usize,
    out_gap: usize,
    out_offset: usize,
    bias: bool,
    seed: u64,
}

fn case_strategy() -> impl Strategy<Value = Case> {
    let kernel = (
        prop::sample::select(vec![1usize, 3, 5, 7]),
        prop::sample::select(vec![1usize, 3, 5, 7]),
    );
    (
        (1usize..=2, 1usize..=13, 1usize..=26, 1usize..=70),
        kernel,
        (1usize..=2, 1usize..=2),
        (0usize..7, 0usize..7, 0usize..7, 0usize..7),
        (any_activation(), any_residual_order()),
        (0usize..3, 0usize..3, 0usize..3, 0usize..3),
        (any::<bool>(), any::<u64>()),
    )
        .prop_map(
            |(
                (n, h, w, c),
                (kh, kw),
                (sh, sw),
                (pt, pl, pb, pr),
                (act, residual),
                gaps,
                (bias, seed),
            )| {
                // Padding must stay below the kernel size; the window must fit the padded input.
                let pad = Padding {
                    top: pt % kh,
                    left: pl % kw,
                    bottom: pb % kh,
                    right: pr % kw,
                };
                let h = h.max(kh.saturating_sub(pad.top + pad.bottom));
                let w = w.max(kw.saturating_sub(pad.left + pad.right));
                Case {
                    n,
                    h,
                    w,
                    c,
                    kh,
                    kw,
                    sh,
                    sw,
                    pad,
                    act,
                    residual,
                    in_gap: gaps.0,
                    in_offset: gaps.1,
                    out_gap: gaps.2,
                    out_offset: gaps.3,
                    bias,
                    seed,
                }
            },
        )
}

/// Runs `case` on `isa` with `threads` and checks it against the naive reference, the sentinels
/// and (when `exact` is given) bitwise against a previous output.
fn check_case(case: &Case, isa: Isa, threads: &Threads) -> Vec<f32> {
    let window = Window {
        kernel_h: case.kh,
        kernel_w: case.kw,
        stride_h: case.sh,
        stride_w: case.sw,
        padding: case.pad,
    };
    let (oh, ow) = window.output_size(case.h, case.w).unwrap();
    let in_layout = strided(case.n, case.h, case.w, case.c, case.in_offset, case.in_gap);
    let out_layout = strided(case.n, oh, ow, case.c, case.out_offset, case.out_gap);
    let in_values = splitmix_values(case.seed, in_layout.elements());
    let in_buf = sentinel_buffer(&in_layout, &in_values);
    let input = TensorView::new(&in_buf, in_layout).unwrap();
    let weights = splitmix_values(case.seed ^ 1, case.c * case.kh * case.kw);
    let bias = if case.bias {
        splitmix_values(case.seed ^ 2, case.c)
    } else {
        vec![0.0; case.c]
    };
    let res_layout = strided(case.n, oh, ow, case.c, 2, 1);
    let res_buf = sentinel_buffer(
        &res_layout,
        &splitmix_values(case.seed ^ 3, res_layout.elements()),
    );
    let res_view = TensorView::new(&res_buf, res_layout).unwrap();
    let epilogue = epilogue(case.act, case.residual, res_view);

    let mut ref_buf = vec![0.0; out_layout.elements()];
    let mut reference = TensorViewMut::dense(&mut ref_buf, case.n, oh, ow, case.c).unwrap();
    depthwise::naive::depthwise(
        &input,
        &weights,
        case.bias.then_some(&bias[..]),
        &window,
        &epilogue,
        &mut reference,
    )
    .unwrap();

    let packed = PackedDepthwise::new(
        &weights,
        case.bias.then_some(&bias[..]),
        case.c,
        case.kh,
        case.kw,
    )
    .unwrap();
    let got = run_into_sentinel_view(&out_layout, 3, (isa, case), |output| {
        depthwise_with_isa(isa, &input, &packed, &window, &epilogue, output, threads).unwrap();
    });

    let sums = abs_sums(
        &input,
        &weights,
        &bias,
        &window,
        case.residual.map(|o| (&res_view, o)),
        [case.n, oh, ow, case.c],
    );
    let terms = case.kh * case.kw + 2;
    for (i, ((&g, &r), &s)) in got.iter().zip(&ref_buf).zip(&sums).enumerate() {
        let bound = dot_act_bound(terms, s, f64::from(r));
        let err = (f64::from(g) - f64::from(r)).abs();
        assert!(err <= bound, "{isa:?} element {i}: got {g}, reference {r}, error {err:e} > bound {bound:e} in {case:?}");
    }
    got
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(common::proptest_cases(256)))]

    #[test]
    fn every_isa_matches_the_naive_reference(case in case_strategy()) {
        for isa in test_isas() {
            check_case(&case, isa, &Threads::single());
        }
    }

    #[test]
    fn one_and_two_threads_are_bitwise_equal(case in case_strategy()) {
        let two = Threads::new(2).unwrap();
        for isa in test_isas() {
            let a = check_case(&case, isa, &Threads::single());
            let b = check_case(&case, isa, &two);
            prop_assert!(same_bits(&a, &b), "{isa:?} differs across thread counts");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// Small channel counts (GhostNet width 0.25: 1..16 channels, the `c < 8` pixel-packed path
    /// and the overlapping-block path just above it) on wider rows, stride 1 and 2, strided
    /// input/output views, every activation and residual order; 1 and 2 threads bitwise equal.
    #[test]
    fn small_channels_match_the_reference(
        case in case_strategy(),
        c in 1usize..=16,
        w in 8usize..=40,
        s in 1usize..=2,
    ) {
        let case = Case { c, w: case.w.max(w), sh: s, sw: s, ..case };
        let two = Threads::new(2).unwrap();
        for isa in test_isas() {
            let a = check_case(&case, isa, &Threads::single());
            let b = check_case(&case, isa, &two);
            prop_assert!(same_bits(&a, &b), "{isa:?} differs across thread counts");
        }
    }
}

/// Pinned shapes: the model's cases, every fast path and its borders, channel tails, and cases
/// that once failed.
#[test]
fn pinned_cases() {
    let base = Case {
        n: 1,
        h: 9,
        w: 21,
        c: 12,
        kh: 3,
        kw: 3,
        sh: 1,
        sw: 1,
        pad: Padding::uniform(1),
        act: Activation::Relu,
        residual: None,
        in_gap: 1,
        in_offset: 0,
        out_gap: 2,
        out_offset: 3,
        bias: true,
        seed: 7,
    };
    let cases = [
        base.clone(),
        Case {
            c: 20,
            kh: 5,
            kw: 5,
            sh: 2,
            sw: 2,
            pad: Padding::uniform(2),
            act: Activation::Identity,
            ..base.clone()
        },
        Case {
            c: 92,
            kh: 5,
            kw: 5,
            pad: Padding::uniform(2),
            act: Activation::Silu,
            h: 20,
            w: 20,
            ..base.clone()
        },
        Case {
            c: 8,
            sh: 2,
            sw: 2,
            act: Activation::HardSigmoid,
            residual: Some(AddOrder::AfterActivation),
            ..base.clone()
        },
        Case {
            c: 3,
            w: 40,
            residual: Some(AddOrder::BeforeActivation),
            act: Activation::Sigmoid,
            ..base.clone()
        },
        // 5-7 channels: one pixel per 8-lane vector in the small-channel path (a GhostNet
        // bottleneck with 12 output channels has a 6-channel cheap operation); its row copy
        // stores all 8 lanes of a masked vector.
        Case {
            c: 6,
            kh: 5,
            kw: 5,
            pad: Padding::uniform(2),
            ..base.clone()
        },
        Case {
            c: 1,
            h: 1,
            w: 1,
            kh: 7,
            kw: 7,
            pad: Padding::uniform(3),
            ..base.clone()
        },
        Case {
            c: 17,
            kh: 1,
            kw: 5,
            pad: Padding {
                top: 0,
                left: 4,
                bottom: 0,
                right: 0,
            },
            n: 2,
            ..base.clone()
        },
        Case {
            c: 64,
            h: 2,
            w: 2,
            kh: 3,
            kw: 3,
            pad: Padding {
                top: 2,
                left: 2,
                bottom: 2,
                right: 2,
            },
            ..base.clone()
        },
        // Wide rows: several full tiles plus a remainder, stride 2 on an odd width.
        Case {
            c: 36,
            h: 7,
            w: 45,
            sw: 2,
            ..base.clone()
        },
        Case {
            c: 13,
            h: 5,
            w: 50,
            kh: 5,
            kw: 5,
            pad: Padding {
                top: 1,
                left: 3,
                bottom: 4,
                right: 0,
            },
            ..base
        },
    ];
    for case in &cases {
        for isa in test_isas() {
            check_case(case, isa, &Threads::single());
        }
    }
}

/// All-ones 3x3 kernel on an all-ones image with padding 1: each output counts its window's valid
/// input pixels (4 in corners, 6 on edges, 9 inside). Independent of the naive reference.
#[test]
fn hand_computed_padding_counts() {
    let (h, w, c) = (3, 4, 10);
    let input_data = vec![1.0f32; h * w * c];
    let input = TensorView::dense(&input_data, 1, h, w, c).unwrap();
    let packed = PackedDepthwise::new(&vec![1.0; c * 9], Some(&vec![0.5; c]), c, 3, 3).unwrap();
    let expected_row = |y: usize| -> Vec<f32> {
        (0..w)
            .map(|x| {
                let rows = if y == 0 || y == h - 1 { 2.0 } else { 3.0 };
                let cols = if x == 0 || x == w - 1 { 2.0 } else { 3.0 };
                rows * cols + 0.5
            })
            .collect()
    };
    for isa in test_isas() {
        let mut out = vec![0.0f32; h * w * c];
        let mut output = TensorViewMut::dense(&mut out, 1, h, w, c).unwrap();
        depthwise_with_isa(
            isa,
            &input,
            &packed,
            &Window::same(3, 1),
            &Epilogue::default(),
            &mut output,
            &Threads::single(),
        )
        .unwrap();
        for y in 0..h {
            for (x, want) in expected_row(y).into_iter().enumerate() {
                for ch in 0..c {
                    assert_eq!(
                        out[(y * w + x) * c + ch],
                        want,
                        "{isa:?} at ({y}, {x}, {ch})"
                    );
                }
            }
        }
    }
}

/// The Ghost module layout: the cheap operation reads channels [0, m) and writes [m, 2m) of one
/// buffer (plus a gap channel that must stay NaN).
#[test]
fn ghost_module_in_place_halves() {
    for m in [1usize, 6, 8, 12, 20, 36] {
        let (h, w) = (11, 14);
        let full = NhwcLayout {
            n: 1,
            h,
            w,
            c: 2 * m,
            pixel_stride: 2 * m + 1,
            channel_offset: 0,
        };
        let primary = splitmix_values(m as u64, h * w * m);
        let mut buf = vec![f32::NAN; full.required_len() + 1];
        let weights = splitmix_values(99, m * 9);
        let bias = splitmix_values(98, m);
        let packed = PackedDepthwise::new(&weights, Some(&bias), m, 3, 3).unwrap();
        let window = Window::same(3, 1);

        let primary_view = TensorView::dense(&primary, 1, h, w, m).unwrap();
        let mut ref_buf = vec![0.0; h * w * m];
        let mut reference = TensorViewMut::dense(&mut ref_buf, 1, h, w, m).unwrap();
        depthwise::naive::depthwise(
            &primary_view,
            &weights,
            Some(&bias),
            &window,
            &Epilogue::act(Activation::Relu),
            &mut reference,
        )
        .unwrap();

        for isa in test_isas() {
            let view = TensorViewMut::new(&mut buf, full).unwrap();
            let (mut first, mut second) = view.split_channels(m).unwrap();
            first.copy_from_dense(&primary).unwrap();
            second.fill(f32::NAN);
            depthwise_with_isa(
                isa,
                &first.as_view(),
                &packed,
                &window,
                &Epilogue::act(Activation::Relu),
                &mut second,
                &Threads::new(2).unwrap(),
            )
            .unwrap();
            assert_eq!(
                first.as_view().to_dense(),
                primary,
                "{isa:?}: the input half changed"
            );
            for (g, r) in second.as_view().to_dense().iter().zip(&ref_buf) {
                assert!(
                    (g - r).abs() <= 1e-5 * (1.0 + r.abs()),
                    "{isa:?} m={m}: {g} vs {r}"
                );
            }
            for p in 0..h * w {
                assert!(
                    buf[p * (2 * m + 1) + 2 * m].is_nan(),
                    "{isa:?}: gap channel written"
                );
            }
        }
    }
}

/// Large enough to be split over two threads: bitwise equal to one thread on every ISA.
#[test]
fn two_threads_split_large_maps_identically() {
    for c in [5usize, 44] {
        let (h, w) = (41, 37);
        let data = splitmix_values(5, h * w * c);
        let input = TensorView::dense(&data, 1, h, w, c).unwrap();
        for (k, s) in [(3, 1), (5, 2), (5, 1), (3, 2), (7, 1)] {
            let packed = PackedDepthwise::new(
                &splitmix_values(6, c * k * k),
                Some(&splitmix_values(7, c)),
                c,
                k,
                k,
            )
            .unwrap();
            let window = Window::same(k, s);
            let (oh, ow) = window.output_size(h, w).unwrap();
            for isa in test_isas() {
                let run = |threads: &Threads| {
                    let mut out = vec![0.0f32; oh * ow * c];
                    let mut o = TensorViewMut::dense(&mut out, 1, oh, ow, c).unwrap();
                    depthwise_with_isa(
                        isa,
                        &input,
                        &packed,
                        &window,
                        &Epilogue::act(Activation::Silu),
                        &mut o,
                        threads,
                    )
                    .unwrap();
                    out
                };
                let a = run(&Threads::single());
                let b = run(&Threads::new(2).unwrap());
                assert!(same_bits(&a, &b), "{isa:?} c={c} k={k} s={s}");
            }
        }
    }
}

#[test]
fn shape_errors_name_the_operand() {
    let data = vec![0.0f32; 5 * 5 * 4];
    let input = TensorView::dense(&data, 1, 5, 5, 4).unwrap();
    let packed = PackedDepthwise::new(&[0.0; 36], None, 4, 3, 3).unwrap();
    let mut out = vec![0.0f32; 5 * 5 * 4];
    let t = Threads::single();
    let e = Epilogue::default();

    let mut wrong = TensorViewMut::dense(&mut out, 1, 5, 4, 4).unwrap();
    let err = depthwise(&input, &packed, &Window::same(3, 1), &e, &mut wrong, &t).unwrap_err();
    assert_shape_mismatch(&err, "output");

    let mut good = TensorViewMut::dense(&mut out, 1, 5, 5, 4).unwrap();
    let err = depthwise(&input, &packed, &Window::same(5, 1), &e, &mut good, &t).unwrap_err();
    assert_shape_mismatch(&err, "window");

    let three = PackedDepthwise::new(&[0.0; 27], None, 3, 3, 3).unwrap();
    let err = depthwise(&input, &three, &Window::same(3, 1), &e, &mut good, &t).unwrap_err();
    assert_shape_mismatch(&err, "input");

    let err = depthwise(&input, &packed, &Window::square(3, 1, 3), &e, &mut good, &t).unwrap_err();
    assert_invalid_parameter(&err, "padding");

    let res_data = vec![0.0f32; 4 * 4 * 4];
    let res = TensorView::dense(&res_data, 1, 4, 4, 4).unwrap();
    let with_res = Epilogue::with_residual(Activation::Relu, res, AddOrder::AfterActivation);
    let err = depthwise(
        &input,
        &packed,
        &Window::same(3, 1),
        &with_res,
        &mut good,
        &t,
    )
    .unwrap_err();
    assert_shape_mismatch(&err, "residual");

    let err =
        depthwise::naive::depthwise(&input, &[0.0; 35], None, &Window::same(3, 1), &e, &mut good)
            .unwrap_err();
    assert_shape_mismatch(&err, "depthwise weights");
}

/// The fast path really ran: on an AVX2 machine the active ISA is AVX2 (unless overridden), and
/// the portable and AVX2 results differ from each other by no more than rounding.
#[test]
fn active_isa_is_the_best_supported() {
    if std::env::var("GHOST_KERNELS_ISA").is_err() {
        let expected = if Isa::Avx2Fma.is_supported() {
            Isa::Avx2Fma
        } else if Isa::Neon.is_supported() {
            Isa::Neon
        } else {
            Isa::Portable
        };
        assert_eq!(ghost_kernels::active_isa(), expected);
    }
    if std::env::var("GHOST_KERNELS_REQUIRE_AVX2").is_ok() {
        assert!(
            Isa::Avx2Fma.is_supported(),
            "GHOST_KERNELS_REQUIRE_AVX2 set but AVX2+FMA is missing"
        );
    }
}
