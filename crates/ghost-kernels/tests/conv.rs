//! Dense convolution: every ISA path (indirect and im2col drivers) against the f64 naive
//! reference on random shapes, strides, asymmetric paddings and strided layouts; thread-count
//! determinism; scratch reuse across shapes; aliasing; errors.

mod common;

use common::{
    any_conv_dims, any_run_options, assert_sentinels, channel_counts, residual_error_terms,
    same_bits, strided, test_isas, ConvDims, Operands, RunOptions,
};
use ghost_kernels::testing::values;

use ghost_kernels::conv::{self, conv2d_with_isa, naive, ConvScratch, PackedConv};
use ghost_kernels::tolerance::dot_act_bound;
use ghost_kernels::{
    Activation, AddOrder, Epilogue, Isa, KernelError, NhwcLayout, Padding, TensorView,
    TensorViewMut, Threads, Window,
};
use proptest::prelude::*;

#[derive(Clone, Debug)]
struct Case {
    dims: ConvDims,
    window: Window,
    /// Dense input (pixel stride = cin) or strided with NaN gaps: small-cin convs take a
    /// different driver path for each.
    dense_input: bool,
    run: RunOptions,
}

fn case() -> impl Strategy<Value = Case> {
    (
        any_conv_dims(9, channel_counts(3, 40)),
        (
            prop::sample::select(vec![1usize, 2, 3, 5]),
            prop::sample::select(vec![1usize, 2, 3, 5]),
            1usize..=2,
            1usize..=2,
        ),
        (0usize..5, 0usize..5, 0usize..5, 0usize..5),
        (any_run_options(), any::<bool>()),
    )
        .prop_map(
            |(dims, (kh, kw, sh, sw), (pt, pl, pb, pr), (run, dense_input))| {
                // Paddings are reduced modulo the kernel (the window requires pad < kernel), and the
                // input grown to fit the window.
                let padding = Padding {
                    top: pt % kh,
                    left: pl % kw,
                    bottom: pb % kh,
                    right: pr % kw,
                };
                let window = Window {
                    kernel_h: kh,
                    kernel_w: kw,
                    stride_h: sh,
                    stride_w: sw,
                    padding,
                };
                Case {
                    dims: ConvDims {
                        h: dims.h.max(kh),
                        w: dims.w.max(kw),
                        ..dims
                    },
                    window,
                    dense_input,
                    run,
                }
            },
        )
}

fn check_case(isa: Isa, c: &Case, scratch: &mut ConvScratch) {
    let ConvDims { n, h, w, cin, cout } = c.dims;
    let (kh, kw) = (c.window.kernel_h, c.window.kernel_w);
    let (oh, ow) = c.window.output_size(h, w).unwrap();
    let in_layout = if c.dense_input {
        NhwcLayout::dense(n, h, w, cin)
    } else {
        strided(n, h, w, cin, 2, 3)
    };
    let out_layout = strided(n, oh, ow, cout, 1, 2);
    let res_layout = strided(n, oh, ow, cout, 0, 1);
    let ops = Operands::new(
        c.run.seed,
        in_layout,
        cout * cin * kh * kw,
        c.run.bias,
        res_layout,
    );
    let (input, res_view, wts, bias) = (ops.input(), ops.residual(), &ops.weights, &ops.bias);
    let packed = PackedConv::new(wts, ops.bias(), cin, cout, kh, kw).unwrap();
    let (out_buf, ref_buf) =
        ops.conv_and_reference(isa, &packed, &c.window, &c.run, &out_layout, scratch);
    assert_sentinels(&out_buf, &out_layout, (isa, c));
    let out = TensorView::new(&out_buf, out_layout).unwrap();
    let pad = c.window.padding;
    for b in 0..n {
        for oy in 0..oh {
            for ox in 0..ow {
                for o in 0..cout {
                    // Tolerance: the Higham bound of an f32 dot product over the window's
                    // kh*kw*cin terms plus the bias (and a residual added before the
                    // activation), scaled by the activation slope, plus the activation's relative
                    // error on |reference| + 2|r| (which bounds |act(acc)| when r is added after
                    // the activation). Padding terms are exact zeros and add no error.
                    let mut abs_sum = bias.as_ref().map_or(0.0, |b| (b[o] as f64).abs());
                    for ky in 0..kh {
                        for kx in 0..kw {
                            let iy = (oy * c.window.stride_h + ky).checked_sub(pad.top);
                            let ix = (ox * c.window.stride_w + kx).checked_sub(pad.left);
                            let (Some(iy), Some(ix)) = (iy, ix) else {
                                continue;
                            };
                            if iy >= h || ix >= w {
                                continue;
                            }
                            for i in 0..cin {
                                let wv = wts[((o * cin + i) * kh + ky) * kw + kx] as f64;
                                abs_sum += (wv * input.get(b, iy, ix, i) as f64).abs();
                            }
                        }
                    }
                    let r = res_view.get(b, oy, ox, o) as f64;
                    let terms = kh * kw * cin + 2;
                    let (r_term, r_mag) = residual_error_terms(c.run.residual, r);
                    abs_sum += r_term;
                    let expected = ref_buf[((b * oh + oy) * ow + ox) * cout + o] as f64;
                    let got = out.get(b, oy, ox, o) as f64;
                    let bound = dot_act_bound(terms, abs_sum, expected.abs() + 2.0 * r_mag);
                    assert!(
                        (got - expected).abs() <= bound,
                        "{isa:?} ({b},{oy},{ox},{o}): got {got}, expected {expected}, bound {bound} ({c:?})"
                    );
                }
            }
        }
    }
}

proptest_per_isa! {
    cases: 64,
    strategy: case(),
    check: |isa, c: &Case| check_case(isa, c, &mut ConvScratch::new()),
    tests: {
        avx2_matches_reference => Isa::Avx2Fma,
        neon_matches_reference => Isa::Neon,
        portable_matches_reference => Isa::Portable,
        scalar_matches_reference => Isa::Scalar,
    }
}

fn pinned(n: usize, hw: (usize, usize), cin: usize, cout: usize, window: Window) -> Case {
    Case {
        dims: ConvDims {
            n,
            h: hw.0,
            w: hw.1,
            cin,
            cout,
        },
        window,
        dense_input: true,
        run: RunOptions {
            act: Activation::Silu,
            residual: None,
            bias: true,
            threads: 2,
            seed: 5,
        },
    }
}

/// Pinned cases: the RGB stem (im2col path), small output channel counts, both drivers at
/// stride 1 and 2 on odd sizes, asymmetric padding, every activation and residual order; one
/// scratch reused throughout (growing and shrinking shapes) to prove reuse is safe.
#[test]
fn pinned_shapes_with_one_scratch() {
    let asym = Window {
        kernel_h: 3,
        kernel_w: 3,
        stride_h: 2,
        stride_w: 2,
        padding: Padding {
            top: 0,
            left: 1,
            bottom: 2,
            right: 0,
        },
    };
    let cases = [
        pinned(1, (17, 15), 3, 16, Window::same(3, 2)),
        pinned(2, (9, 11), 3, 64, Window::same(3, 2)),
        pinned(1, (13, 13), 24, 40, Window::same(3, 1)),
        pinned(1, (7, 9), 33, 17, asym),
        pinned(2, (5, 5), 17, 70, Window::same(5, 1)),
        pinned(1, (1, 1), 1, 1, Window::same(3, 1)),
        pinned(1, (11, 4), 64, 64, Window::same(3, 2)),
        // Input channels longer than one reduction block: each tap is split.
        pinned(1, (5, 6), 300, 20, Window::same(3, 1)),
        // Small cin with a long im2col row (split) and grouped taps.
        pinned(1, (9, 8), 15, 18, Window::same(5, 2)),
        // Fewer than 16 output channels (a partial panel): GhostNet's 3 -> 4 stem, yolo11n's
        // 16 -> 8 bottleneck, odd counts, a long window.
        pinned(1, (17, 15), 3, 4, Window::same(3, 2)),
        pinned(2, (10, 9), 16, 8, Window::same(3, 1)),
        pinned(1, (7, 9), 33, 13, asym),
        pinned(1, (5, 6), 300, 7, Window::same(3, 1)),
        pinned(1, (6, 5), 8, 16, Window::same(5, 2)),
        // Kernels taller than the driver keeps input rows for per output row (8): the row
        // offsets are computed per pixel, on all three ways of building rows.
        pinned(1, (12, 11), 3, 5, Window::same(9, 1)),
        pinned(2, (10, 13), 16, 9, Window::same(9, 2)),
        Case {
            dense_input: false,
            ..pinned(1, (11, 10), 5, 6, Window::square(11, 1, 3))
        },
    ];
    for isa in test_isas() {
        let mut scratch = ConvScratch::new();
        for c in &cases {
            for act in Activation::ALL {
                for residual in [
                    None,
                    Some(AddOrder::BeforeActivation),
                    Some(AddOrder::AfterActivation),
                ] {
                    check_case(
                        isa,
                        &Case {
                            run: RunOptions {
                                act,
                                residual,
                                ..c.run
                            },
                            ..c.clone()
                        },
                        &mut scratch,
                    );
                }
            }
        }
    }
}

/// Bitwise identical for 1 and 2 threads on shapes that are split, both drivers, every ISA.
#[test]
fn one_and_two_threads_agree_bitwise() {
    // Sizes chosen so that both calls are split in two (about 2 MFLOP per chunk at least).
    for (cin, cout, window, h, w) in [
        (3, 16, Window::same(3, 2), 161, 157),
        (35, 45, Window::same(3, 1), 41, 37),
    ] {
        let n = 1;
        let x = values(31, n * h * w * cin);
        let input = TensorView::dense(&x, n, h, w, cin).unwrap();
        let wts = values(32, cout * cin * 9);
        let packed = PackedConv::new(&wts, Some(&values(33, cout)), cin, cout, 3, 3).unwrap();
        let (oh, ow) = window.output_size(h, w).unwrap();
        let epilogue = Epilogue::act(Activation::Silu);
        for isa in test_isas() {
            let run = |threads: usize| {
                let mut out = vec![0.0f32; n * oh * ow * cout];
                let mut view = TensorViewMut::dense(&mut out, n, oh, ow, cout).unwrap();
                let t = Threads::new(threads).unwrap();
                let mut scratch = ConvScratch::new();
                conv2d_with_isa(
                    isa,
                    &input,
                    &packed,
                    &window,
                    &epilogue,
                    &mut view,
                    &mut scratch,
                    &t,
                )
                .unwrap();
                out
            };
            let (one, two) = (run(1), run(2));
            assert!(
                same_bits(&one, &two),
                "{isa:?} cin {cin}: 1 and 2 threads differ"
            );
        }
    }
}

/// Input and output are disjoint channel ranges of one buffer (a concat written in place).
#[test]
fn input_and_output_share_a_buffer() {
    let (h, w, cin, cout) = (6, 5, 20, 8);
    let layout = NhwcLayout::dense(1, h, w, cin + cout);
    let x = values(41, h * w * cin);
    let wts = values(42, cout * cin * 9);
    let packed = PackedConv::new(&wts, None, cin, cout, 3, 3).unwrap();
    let window = Window::same(3, 1);
    let mut buf = vec![f32::NAN; layout.pixels() * layout.pixel_stride];
    let full = TensorViewMut::new(&mut buf, layout).unwrap();
    let (mut first, mut second) = full.split_channels(cin).unwrap();
    first.copy_from_dense(&x).unwrap();
    let e = Epilogue::default();
    conv::conv2d(
        &first.as_view(),
        &packed,
        &window,
        &e,
        &mut second,
        &mut ConvScratch::new(),
        &Threads::single(),
    )
    .unwrap();
    let dense_x = TensorView::dense(&x, 1, h, w, cin).unwrap();
    let mut expected = vec![0.0; h * w * cout];
    let mut ev = TensorViewMut::dense(&mut expected, 1, h, w, cout).unwrap();
    naive::conv2d(&dense_x, &wts, None, cin, cout, &window, &e, &mut ev).unwrap();
    for (g, e) in second.as_view().to_dense().iter().zip(&expected) {
        assert!((g - e).abs() <= 1e-4, "{g} vs {e}");
    }
    assert_eq!(first.as_view().to_dense(), x, "the input half was modified");
}

#[test]
fn errors_name_the_operand() {
    let x = vec![0.0; 5 * 5 * 3];
    let input = TensorView::dense(&x, 1, 5, 5, 3).unwrap();
    let packed = PackedConv::new(&[0.0; 4 * 3 * 9], None, 3, 4, 3, 3).unwrap();
    let (t, e, mut s) = (Threads::single(), Epilogue::default(), ConvScratch::new());
    let window = Window::same(3, 2); // 5x5 -> 3x3
    let operand = |err: KernelError| match err {
        KernelError::ShapeMismatch { operand, .. }
        | KernelError::BufferTooSmall { operand, .. } => operand,
        KernelError::InvalidParameter { name, .. } => name,
        other => panic!("unexpected error {other:?}"),
    };
    let mut out = vec![0.0; 3 * 3 * 4];
    let mut o = TensorViewMut::dense(&mut out, 1, 3, 3, 4).unwrap();
    conv::conv2d(&input, &packed, &window, &e, &mut o, &mut s, &t).unwrap();

    let wrong_cin = PackedConv::new(&[0.0; 4 * 2 * 9], None, 2, 4, 3, 3).unwrap();
    assert_eq!(
        operand(conv::conv2d(&input, &wrong_cin, &window, &e, &mut o, &mut s, &t).unwrap_err()),
        "input"
    );
    assert_eq!(
        operand(
            conv::conv2d(&input, &packed, &Window::same(5, 2), &e, &mut o, &mut s, &t).unwrap_err()
        ),
        "window"
    );
    assert_eq!(
        operand(
            conv::conv2d(&input, &packed, &Window::same(3, 1), &e, &mut o, &mut s, &t).unwrap_err()
        ),
        "output"
    );
    assert_eq!(
        operand(
            conv::conv2d(
                &input,
                &packed,
                &Window::square(3, 0, 1),
                &e,
                &mut o,
                &mut s,
                &t
            )
            .unwrap_err()
        ),
        "stride"
    );
    let r = vec![0.0; 5 * 5 * 4];
    let re = Epilogue::with_residual(
        Activation::Relu,
        TensorView::dense(&r, 1, 5, 5, 4).unwrap(),
        AddOrder::BeforeActivation,
    );
    assert_eq!(
        operand(conv::conv2d(&input, &packed, &window, &re, &mut o, &mut s, &t).unwrap_err()),
        "residual"
    );
    assert_eq!(
        operand(PackedConv::new(&[0.0; 107], None, 3, 4, 3, 3).unwrap_err()),
        "weights"
    );
    assert_eq!(
        operand(PackedConv::new(&[0.0; 108], Some(&[0.0; 5]), 3, 4, 3, 3).unwrap_err()),
        "bias"
    );
    assert_eq!(
        operand(PackedConv::new(&[], None, 3, 4, 0, 3).unwrap_err()),
        "conv shape"
    );
    let mut o2 = TensorViewMut::dense(&mut out, 1, 3, 3, 4).unwrap();
    assert_eq!(
        operand(naive::conv2d(&input, &[0.0; 107], None, 3, 4, &window, &e, &mut o2).unwrap_err()),
        "weights"
    );
}

/// Packed weights and the scratch can live in layers used from several threads.
#[test]
fn packed_weights_and_scratch_are_send_sync() {
    fn check<T: Send + Sync + std::fmt::Debug>() {}
    check::<PackedConv>();
    check::<ConvScratch>();
    let p = PackedConv::new(&[0.0; 2 * 3 * 5 * 3], None, 3, 2, 5, 3).unwrap();
    assert_eq!((p.cin(), p.cout(), p.kernel()), (3, 2, (5, 3)));
}
