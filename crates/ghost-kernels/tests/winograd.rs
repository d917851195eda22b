//! Winograd F(4x4, 3x3): every ISA path against the f64 naive convolution on random sizes
//! (partial edge tiles, 1x1 images), channel counts (tails of the 8-lane blocks and 16-wide
//! panels), asymmetric paddings, strided views, activations and residuals, within the
//! forward-error bound of `tolerance::winograd_bound`; thread-count determinism; several tile
//! blocks per thread; long reductions; the algorithm choice and its errors.

// Matrix arithmetic reads best with explicit indices.
#![allow(clippy::needless_range_loop)]

mod common;

use common::winograd_sums::transformed_abs_sums;
use common::{
    any_run_options, assert_sentinels, epilogue, fill, residual_error_terms, same_bits, strided,
    test_isas, RunOptions,
};
use ghost_kernels::testing::values;

use ghost_kernels::conv::{
    conv2d_with_isa, naive, ConvAlgorithm, ConvScratch, PackedConv, WINOGRAD_MIN_CIN,
};
use ghost_kernels::tolerance::winograd_bound;
use ghost_kernels::{
    Activation, AddOrder, Epilogue, Isa, KernelError, Padding, TensorView, TensorViewMut, Threads,
    Window,
};
use proptest::prelude::*;

fn window(padding: Padding) -> Window {
    Window {
        kernel_h: 3,
        kernel_w: 3,
        stride_h: 1,
        stride_w: 1,
        padding,
    }
}

#[derive(Clone, Debug)]
struct Case {
    n: usize,
    h: usize,
    w: usize,
    cin: usize,
    cout: usize,
    padding: Padding,
    run: RunOptions,
}

fn channels() -> impl Strategy<Value = usize> {
    prop_oneof![Just(1usize), Just(8), Just(16), Just(17), 1usize..=40]
}

fn case() -> impl Strategy<Value = Case> {
    (
        (1usize..=2, 1usize..=13, 1usize..=13, channels(), channels()),
        (0usize..3, 0usize..3, 0usize..3, 0usize..3),
        any_run_options(),
    )
        .prop_map(|((n, h, w, cin, cout), (top, left, bottom, right), run)| {
            Case {
                n,
                // The padded input must hold one 3x3 window.
                h: h.max(3 - (top + bottom).min(2)),
                w: w.max(3 - (left + right).min(2)),
                cin,
                cout,
                padding: Padding {
                    top,
                    left,
                    bottom,
                    right,
                },
                run,
            }
        })
}

/// Runs the Winograd path of `isa` on `c` and returns its output buffer (strided, NaN outside
/// the view), after checking it against the naive convolution.
fn check_case(isa: Isa, c: &Case, scratch: &mut ConvScratch) -> Vec<f32> {
    let win = window(c.padding);
    let (oh, ow) = win.output_size(c.h, c.w).unwrap();
    let in_layout = strided(c.n, c.h, c.w, c.cin, 2, 3);
    let out_layout = strided(c.n, oh, ow, c.cout, 1, 2);
    let x = values(c.run.seed, in_layout.elements());
    let wts = values(c.run.seed ^ 1, c.cout * c.cin * 9);
    let bias = c.run.bias.then(|| values(c.run.seed ^ 2, c.cout));
    let res_layout = strided(c.n, oh, ow, c.cout, 0, 1);
    let res = fill(&res_layout, &values(c.run.seed ^ 3, out_layout.elements()));
    let in_buf = fill(&in_layout, &x);
    let input = TensorView::new(&in_buf, in_layout).unwrap();
    let res_view = TensorView::new(&res, res_layout).unwrap();
    let epilogue = epilogue(c.run.act, c.run.residual, res_view);
    let packed = PackedConv::with_algorithm(
        &wts,
        bias.as_deref(),
        c.cin,
        c.cout,
        &win,
        ConvAlgorithm::Winograd,
    )
    .unwrap();
    assert_eq!(packed.algorithm(), ConvAlgorithm::Winograd);
    let threads = Threads::new(c.run.threads).unwrap();
    let mut out_buf = vec![f32::NAN; out_layout.pixels() * out_layout.pixel_stride];
    {
        let mut out = TensorViewMut::new(&mut out_buf, out_layout).unwrap();
        conv2d_with_isa(
            isa, &input, &packed, &win, &epilogue, &mut out, scratch, &threads,
        )
        .unwrap();
    }
    let mut ref_buf = vec![0.0f32; out_layout.elements()];
    {
        let mut out = TensorViewMut::dense(&mut ref_buf, c.n, oh, ow, c.cout).unwrap();
        naive::conv2d(
            &input,
            &wts,
            bias.as_deref(),
            c.cin,
            c.cout,
            &win,
            &epilogue,
            &mut out,
        )
        .unwrap();
    }
    assert_sentinels(&out_buf, &out_layout, (isa, c));
    let sums = transformed_abs_sums(&input, &wts, c.cin, c.cout, c.padding, oh, ow);
    let out = TensorView::new(&out_buf, out_layout).unwrap();
    for b in 0..c.n {
        for oy in 0..oh {
            for ox in 0..ow {
                for o in 0..c.cout {
                    // Tolerance: `winograd_bound` (forward error of every rounding step, on the
                    // absolute-value evaluation of the transforms) plus |bias|, and a residual
                    // added before the activation as one more term; the activation's relative
                    // error on |reference| + 2|r| as in the GEMM tests.
                    let idx = ((b * oh + oy) * ow + ox) * c.cout + o;
                    let mut abs_sum =
                        sums[idx] + bias.as_ref().map_or(0.0, |b| f64::from(b[o]).abs());
                    let r = f64::from(res_view.get(b, oy, ox, o));
                    let (r_term, r_mag) = residual_error_terms(c.run.residual, r);
                    abs_sum += r_term;
                    let expected = f64::from(ref_buf[idx]);
                    let got = f64::from(out.get(b, oy, ox, o));
                    let bound = winograd_bound(c.cin, abs_sum, expected.abs() + 2.0 * r_mag);
                    assert!(
                        (got - expected).abs() <= bound,
                        "{isa:?} ({b},{oy},{ox},{o}): got {got}, expected {expected}, bound {bound} ({c:?})"
                    );
                }
            }
        }
    }
    out_buf
}

proptest_per_isa! {
    cases: 48,
    strategy: case(),
    check: |isa, c: &Case| {
        check_case(isa, c, &mut ConvScratch::new());
    },
    tests: {
        avx2_matches_reference => Isa::Avx2Fma,
        neon_matches_reference => Isa::Neon,
        portable_matches_reference => Isa::Portable,
        scalar_gemm_matches_reference => Isa::Scalar,
    }
}

fn pinned(h: usize, w: usize, cin: usize, cout: usize, threads: usize) -> Case {
    Case {
        n: 1,
        h,
        w,
        cin,
        cout,
        padding: Padding::uniform(1),
        run: RunOptions {
            act: Activation::Silu,
            residual: Some(AddOrder::AfterActivation),
            bias: true,
            threads,
            seed: 11,
        },
    }
}

/// Shapes the random cases do not reach: several tile blocks per thread (256 channels give
/// 56-tile blocks; 32x32 has 64 tiles), a reduction longer than one 512-float block, many
/// output panels, odd non-square sizes; one scratch reused across all of them.
#[test]
fn pinned_shapes_with_one_scratch() {
    let cases = [
        pinned(32, 32, 256, 256, 1),
        pinned(32, 32, 256, 256, 2),
        pinned(6, 7, 600, 20, 2),
        pinned(9, 5, 24, 130, 1),
        pinned(1, 1, 16, 16, 1),
        pinned(21, 19, 33, 47, 2),
    ];
    for isa in test_isas() {
        let mut scratch = ConvScratch::new();
        for c in &cases {
            check_case(isa, c, &mut scratch);
        }
    }
}

/// The output does not depend on the thread count (tiles never interact), bit for bit.
#[test]
fn one_and_two_threads_agree_bitwise() {
    for isa in test_isas() {
        for (h, w, cin, cout) in [(17, 23, 40, 24), (40, 40, 64, 64), (5, 9, 16, 33)] {
            let one = check_case(isa, &pinned(h, w, cin, cout, 1), &mut ConvScratch::new());
            let two = check_case(isa, &pinned(h, w, cin, cout, 2), &mut ConvScratch::new());
            assert!(
                same_bits(&one, &two),
                "{isa:?} {h}x{w} {cin}->{cout}: 1 and 2 threads differ"
            );
        }
    }
}

#[test]
fn algorithm_choice_follows_the_window_and_channels() {
    let same = Window::same(3, 1);
    let m = WINOGRAD_MIN_CIN;
    assert_eq!(ConvAlgorithm::choose(m, m, &same), ConvAlgorithm::Winograd);
    assert_eq!(ConvAlgorithm::choose(m - 1, 64, &same), ConvAlgorithm::Gemm);
    assert_eq!(ConvAlgorithm::choose(m, 1, &same), ConvAlgorithm::Winograd);
    assert_eq!(
        ConvAlgorithm::choose(64, 64, &Window::same(3, 2)),
        ConvAlgorithm::Gemm
    );
    assert_eq!(
        ConvAlgorithm::choose(64, 64, &Window::same(5, 1)),
        ConvAlgorithm::Gemm
    );
    assert_eq!(
        ConvAlgorithm::choose(64, 64, &Window::same(1, 1)),
        ConvAlgorithm::Gemm
    );
    let w = values(1, 64 * 64 * 9);
    let packed = PackedConv::for_window(&w, None, 64, 64, &same).unwrap();
    assert_eq!(packed.algorithm(), ConvAlgorithm::Winograd);
    let packed = PackedConv::for_window(&w, None, 64, 64, &Window::same(3, 2)).unwrap();
    assert_eq!(packed.algorithm(), ConvAlgorithm::Gemm);
}

#[test]
fn winograd_refuses_other_windows() {
    let w = values(2, 16 * 16 * 9);
    let err = PackedConv::with_algorithm(
        &w,
        None,
        16,
        16,
        &Window::same(3, 2),
        ConvAlgorithm::Winograd,
    )
    .unwrap_err();
    assert!(matches!(err, KernelError::InvalidParameter { .. }), "{err}");
    let w5 = values(2, 16 * 16 * 25);
    assert!(PackedConv::with_algorithm(
        &w5,
        None,
        16,
        16,
        &Window::same(5, 1),
        ConvAlgorithm::Winograd
    )
    .is_err());

    // Weights packed for stride 1 and called with stride 2: a typed error, nothing written.
    let packed = PackedConv::with_algorithm(
        &w,
        None,
        16,
        16,
        &Window::same(3, 1),
        ConvAlgorithm::Winograd,
    )
    .unwrap();
    let x = values(3, 8 * 8 * 16);
    let input = TensorView::dense(&x, 1, 8, 8, 16).unwrap();
    let mut out = vec![f32::NAN; 4 * 4 * 16];
    let mut view = TensorViewMut::dense(&mut out, 1, 4, 4, 16).unwrap();
    let err = conv2d_with_isa(
        Isa::Portable,
        &input,
        &packed,
        &Window::same(3, 2),
        &Epilogue::act(Activation::Identity),
        &mut view,
        &mut ConvScratch::new(),
        &Threads::single(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("Winograd"), "{err}");
    assert!(out.iter().all(|v| v.is_nan()));
}
