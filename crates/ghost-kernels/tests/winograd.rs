//! Winograd F(4x4, 3x3): every ISA path against the f64 naive convolution on random sizes
//! (partial edge tiles, 1x1 images), channel counts (tails of the 8-lane blocks and 16-wide
//! panels), asymmetric paddings, strided views, activations and residuals, within the
//! forward-error bound of `tolerance::winograd_bound`; thread-count determinism; several tile
//! blocks per thread; long reductions; the algorithm choice and its errors.

// Matrix arithmetic reads best with explicit indices.
#![allow(clippy::needless_range_loop)]

mod common;

use common::winograd_check::{self, case, pinned, Case, WinogradVariant};
use common::winograd_sums::transformed_abs_sums;
use common::{same_bits, test_isas};
use ghost_kernels::testing::values;

use ghost_kernels::conv::{
    conv2d_with_isa, ConvAlgorithm, ConvScratch, PackedConv, WINOGRAD_MIN_CIN,
    WINOGRAD_NARROW_MAX_GROWTH, WINOGRAD_NARROW_MIN_CIN,
};
use ghost_kernels::tolerance::winograd_bound;
use ghost_kernels::{
    Activation, Epilogue, Isa, KernelError, TensorView, TensorViewMut, Threads, Window,
};
use proptest::prelude::*;

/// The variant under test.
const STRIDE_1: WinogradVariant = WinogradVariant {
    algorithm: ConvAlgorithm::Winograd,
    stride: 1,
    abs_sums: transformed_abs_sums,
    bound: winograd_bound,
};

/// Runs the Winograd path of `isa` on `c` and returns its output buffer (strided, NaN
/// outside the view), after checking it against the naive convolution.
fn check_case(isa: Isa, c: &Case, scratch: &mut ConvScratch) -> Vec<f32> {
    winograd_check::check_case(&STRIDE_1, isa, c, scratch)
}

proptest_per_isa! {
    cases: 48,
    strategy: case(13),
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
    // Below WINOGRAD_MIN_CIN: from WINOGRAD_NARROW_MIN_CIN inputs, up to
    // WINOGRAD_NARROW_MAX_GROWTH times as many outputs.
    let (n, g) = (WINOGRAD_NARROW_MIN_CIN, WINOGRAD_NARROW_MAX_GROWTH);
    assert_eq!(
        ConvAlgorithm::choose(n, g * n, &same),
        ConvAlgorithm::Winograd
    );
    assert_eq!(ConvAlgorithm::choose(n, 1, &same), ConvAlgorithm::Winograd);
    assert_eq!(
        ConvAlgorithm::choose(n, g * n + 1, &same),
        ConvAlgorithm::Gemm
    );
    assert_eq!(ConvAlgorithm::choose(n - 1, n, &same), ConvAlgorithm::Gemm);
    assert_eq!(
        ConvAlgorithm::choose(m - 1, g * (m - 1), &same),
        ConvAlgorithm::Winograd
    );
    // Stride 2: never the stride-1 Winograd; from 64 -> 64 the stride-2 one (winograd_s2.rs).
    assert_eq!(
        ConvAlgorithm::choose(32, 32, &Window::same(3, 2)),
        ConvAlgorithm::Gemm
    );
    assert_eq!(
        ConvAlgorithm::choose(64, 64, &Window::same(3, 2)),
        ConvAlgorithm::WinogradStride2
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
    let packed =
        PackedConv::for_window(&w[..32 * 32 * 9], None, 32, 32, &Window::same(3, 2)).unwrap();
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
