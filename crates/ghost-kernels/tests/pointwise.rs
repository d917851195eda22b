//! Pointwise convolution: every ISA path against the f64 naive reference on random shapes and
//! strided layouts, thread-count determinism, aliasing through `split_channels`, and errors.

mod common;

use common::{
    any_conv_dims, any_run_options, assert_sentinels, channel_counts, fill, residual_error_terms,
    same_bits, strided, test_isas, ConvDims, Operands, RunOptions,
};
use ghost_kernels::testing::values;

use ghost_kernels::pointwise::{self, naive, pointwise_with_isa, PackedPointwise};
use ghost_kernels::tolerance::dot_act_bound;
use ghost_kernels::{
    active_isa, Activation, AddOrder, Epilogue, Isa, KernelError, NhwcLayout, TensorView,
    TensorViewMut, Threads,
};
use proptest::prelude::*;

#[derive(Clone, Debug)]
struct Case {
    dims: ConvDims,
    in_offset: usize,
    in_extra: usize,
    out_offset: usize,
    out_extra: usize,
    run: RunOptions,
}

fn case() -> impl Strategy<Value = Case> {
    (
        any_conv_dims(9, channel_counts(3, 70)),
        (0usize..3, 0usize..4, 0usize..3, 0usize..4),
        any_run_options(),
    )
        .prop_map(
            |(dims, (in_offset, in_extra, out_offset, out_extra), run)| Case {
                dims,
                in_offset,
                in_extra,
                out_offset,
                out_extra,
                run,
            },
        )
}

/// Runs `case` on `isa` and checks every output element against the f64 reference, and that
/// nothing outside the output's channel range was written (the NaN sentinels survive).
fn check_case(isa: Isa, c: &Case) {
    let ops = operands(c, c.run.bias);
    let (input, res_view, wts, bias) = (ops.input(), ops.residual(), &ops.weights, &ops.bias);
    let epilogue = ops.epilogue(&c.run);
    let out_layout = output_layout(c);
    let mut out_buf = vec![f32::NAN; out_layout.pixels() * out_layout.pixel_stride];
    let packed = PackedPointwise::new(wts, ops.bias(), c.dims.cin, c.dims.cout).unwrap();
    let threads = Threads::new(c.run.threads).unwrap();
    {
        let mut out = TensorViewMut::new(&mut out_buf, out_layout).unwrap();
        pointwise_with_isa(isa, &input, &packed, &epilogue, &mut out, &threads).unwrap();
    }
    let mut ref_buf = vec![0.0f32; out_layout.elements()];
    {
        let mut out =
            TensorViewMut::dense(&mut ref_buf, c.dims.n, c.dims.h, c.dims.w, c.dims.cout).unwrap();
        naive::pointwise(&input, wts, ops.bias(), &epilogue, &mut out).unwrap();
    }

    assert_sentinels(&out_buf, &out_layout, (isa, c));
    let out = TensorView::new(&out_buf, out_layout).unwrap();
    for p in 0..out_layout.pixels() {
        let xs = input.pixel(p);
        for o in 0..c.dims.cout {
            // Tolerance: `dot_act_bound` is the Higham bound for a (cin + 1)-term f32 dot
            // product (the bias is one more term, a residual added before the activation
            // another) times the activation's slope, plus the activation's relative error. The
            // magnitude passed for the relative part is |reference| + 2|r|, which bounds
            // |act(acc)| when a residual r is added after the activation (so cancellation in
            // the final add cannot hide the activation's own error).
            let r = res_view.pixel(p)[o] as f64;
            let mut abs_sum: f64 = (0..c.dims.cin)
                .map(|i| (wts[o * c.dims.cin + i] as f64 * xs[i] as f64).abs())
                .sum();
            abs_sum += bias.as_ref().map_or(0.0, |b| (b[o] as f64).abs());
            let (r_term, r_mag) = residual_error_terms(c.run.residual, r);
            abs_sum += r_term;
            let before = c.run.residual == Some(AddOrder::BeforeActivation);
            let terms = c.dims.cin + 1 + usize::from(before);
            let expected = ref_buf[p * c.dims.cout + o] as f64;
            let got = out.pixel(p)[o] as f64;
            let bound = dot_act_bound(terms, abs_sum, expected.abs() + 2.0 * r_mag);
            assert!(
                (got - expected).abs() <= bound,
                "{isa:?} pixel {p} channel {o}: got {got}, expected {expected}, bound {bound} ({c:?})"
            );
        }
    }
}

proptest_per_isa! {
    cases: 96,
    strategy: case(),
    check: check_case,
    tests: {
        avx2_matches_reference => Isa::Avx2Fma,
        neon_matches_reference => Isa::Neon,
        portable_matches_reference => Isa::Portable,
        scalar_matches_reference => Isa::Scalar,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(common::proptest_cases(96)))]

    /// The direct small-`cout` path (`cout <= 16`, GhostNet width 0.25): odd channel counts,
    /// strided input and output views, every activation and residual order, larger maps so
    /// both the pixel tiles and the tail pixels run.
    #[test]
    fn avx2_small_cout_matches_reference(
        c in case(),
        cin in 1usize..=24,
        cout in 1usize..=16,
        h in 1usize..=13,
        w in 1usize..=13,
    ) {
        if ghost_kernels::testing::tests_isa(Isa::Avx2Fma) {
            check_case(Isa::Avx2Fma, &Case { dims: ConvDims { cin, cout, h, w, ..c.dims }, ..c });
        }
    }

    /// The small-`cout` path gives bitwise identical results for 1 and 2 threads.
    #[test]
    fn small_cout_threads_are_bitwise_equal(
        c in case(),
        cin in 1usize..=24,
        cout in 1usize..=16,
    ) {
        let c = Case { dims: ConvDims { cin, cout, h: 29, w: 31, ..c.dims }, ..c };
        let outputs: Vec<Vec<u32>> = [1, 2].iter().map(|&t| run_bits(&Case { run: RunOptions { threads: t, ..c.run }, ..c.clone() })).collect();
        prop_assert_eq!(&outputs[0], &outputs[1]);
    }

    /// The small-`cout` shapes on NEON (the direct small-channel kernel, and the 4x16 / 8x8
    /// tiles with narrow panels).
    #[test]
    fn neon_small_cout_matches_reference(
        c in case(),
        cin in 1usize..=24,
        cout in 1usize..=16,
        h in 1usize..=13,
        w in 1usize..=13,
    ) {
        if ghost_kernels::testing::tests_isa(Isa::Neon) {
            check_case(Isa::Neon, &Case { dims: ConvDims { cin, cout, h, w, ..c.dims }, ..c });
        }
    }
}

/// Pinned cases: tails in both dimensions, 1 channel, the tile edges of each microkernel.
#[test]
fn pinned_shapes() {
    let base = RunOptions {
        act: Activation::Identity,
        residual: None,
        bias: true,
        threads: 1,
        seed: 7,
    };
    let shapes = [
        (1, 1, 1, 1, 1),
        (1, 1, 7, 3, 17),
        (2, 3, 5, 17, 16),
        (1, 2, 3, 64, 33),
        (1, 5, 5, 70, 70),
        // Reductions longer than one cache block (KC = 512), with tails in every dimension.
        (1, 3, 5, 300, 33),
        (1, 2, 7, 600, 20),
        (1, 1, 7, 1100, 24),
    ];
    for isa in test_isas() {
        for &(n, h, w, cin, cout) in &shapes {
            for act in Activation::ALL {
                for residual in [
                    None,
                    Some(AddOrder::BeforeActivation),
                    Some(AddOrder::AfterActivation),
                ] {
                    let c = Case {
                        dims: ConvDims { n, h, w, cin, cout },
                        in_offset: 1,
                        in_extra: 2,
                        out_offset: 2,
                        out_extra: 1,
                        run: RunOptions {
                            act,
                            residual,
                            ..base
                        },
                    };
                    check_case(isa, &c);
                }
            }
        }
    }
}

/// NEON is supported exactly on aarch64, and the dispatcher picks it there (unless the
/// environment forces another path).
#[test]
fn neon_is_active_on_aarch64() {
    assert_eq!(Isa::Neon.is_supported(), cfg!(target_arch = "aarch64"));
    if std::env::var_os("GHOST_KERNELS_ISA").is_none() {
        assert_eq!(active_isa() == Isa::Neon, cfg!(target_arch = "aarch64"));
    }
}

/// The dispatcher picks the AVX2 kernels on a CPU that has them (unless the environment forces
/// another path), so the fast path the benchmarks measure is the one these tests cover.
#[test]
fn avx2_is_active_when_available() {
    let detected = cfg!(target_arch = "x86_64") && Isa::Avx2Fma.is_supported();
    if std::env::var_os("GHOST_KERNELS_ISA").is_none() {
        assert_eq!(active_isa() == Isa::Avx2Fma, detected);
    }
    #[cfg(target_arch = "x86_64")]
    assert_eq!(
        detected,
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
    );
}

/// Results are bitwise identical for 1 and 2 threads on a shape large enough to be split, for
/// every ISA and with every kind of tail (cout 45: a 13-wide last panel; 40: an 8-wide one, which
/// the AVX2 path computes with its narrow kernel).
#[test]
fn one_and_two_threads_agree_bitwise() {
    for cout in [45, 40] {
        let (n, h, w, cin) = (2, 37, 29, 67);
        let in_layout = strided(n, h, w, cin, 1, 3);
        let x = fill(&in_layout, &values(11, in_layout.elements()));
        let input = TensorView::new(&x, in_layout).unwrap();
        let wts = values(12, cin * cout);
        let bias = values(13, cout);
        let packed = PackedPointwise::new(&wts, Some(&bias), cin, cout).unwrap();
        let res = values(14, n * h * w * cout);
        let res_view = TensorView::dense(&res, n, h, w, cout).unwrap();
        let epilogue =
            Epilogue::with_residual(Activation::Silu, res_view, AddOrder::AfterActivation);
        for isa in test_isas() {
            let run = |threads: usize| {
                let mut out = vec![0.0f32; n * h * w * cout];
                let mut view = TensorViewMut::dense(&mut out, n, h, w, cout).unwrap();
                let t = Threads::new(threads).unwrap();
                pointwise_with_isa(isa, &input, &packed, &epilogue, &mut view, &t).unwrap();
                out
            };
            let (one, two) = (run(1), run(2));
            assert!(
                same_bits(&one, &two),
                "{isa:?} cout {cout}: 1 and 2 threads differ"
            );
        }
    }
}

/// A channel's result does not depend on which microkernel computed it: channels 16..24 of a
/// 24-channel layer (an 8-wide last panel) equal, bit for bit, the same channels of a 32-channel
/// layer with the same weights (a full panel). Both run over 1..=13 rows so every row-tile
/// remainder is covered, and through a residual and SiLU.
#[test]
fn narrow_panels_match_full_panels_bitwise() {
    let cin = 37;
    let wts = values(51, 32 * cin);
    let bias = values(52, 32);
    let wide = PackedPointwise::new(&wts, Some(&bias), cin, 32).unwrap();
    let narrow = PackedPointwise::new(&wts[..24 * cin], Some(&bias[..24]), cin, 24).unwrap();
    for pixels in 1..=13 {
        let x = values(53, pixels * cin);
        let input = TensorView::dense(&x, 1, 1, pixels, cin).unwrap();
        let res = values(54, pixels * 32);
        for isa in test_isas() {
            let run = |packed: &PackedPointwise, cout: usize| {
                let res_layout = strided(1, 1, pixels, cout, 0, 32 - cout);
                let res_view = TensorView::new(&res, res_layout).unwrap();
                let e =
                    Epilogue::with_residual(Activation::Silu, res_view, AddOrder::BeforeActivation);
                let mut out = vec![0.0f32; pixels * cout];
                let mut view = TensorViewMut::dense(&mut out, 1, 1, pixels, cout).unwrap();
                pointwise_with_isa(isa, &input, packed, &e, &mut view, &Threads::single()).unwrap();
                out
            };
            let (a, b) = (run(&wide, 32), run(&narrow, 24));
            for p in 0..pixels {
                for o in 0..24 {
                    assert_eq!(
                        a[p * 32 + o].to_bits(),
                        b[p * 24 + o].to_bits(),
                        "{isa:?} pixels {pixels} pixel {p} channel {o}"
                    );
                }
            }
        }
    }
}

/// A Ghost-module style call: input and output are disjoint channel ranges of one buffer.
#[test]
fn input_and_output_share_a_buffer() {
    let (h, w, cin, cout) = (5, 7, 12, 12);
    let layout = NhwcLayout::dense(1, h, w, cin + cout);
    let x = values(21, h * w * cin);
    let mut buf = vec![f32::NAN; layout.pixels() * layout.pixel_stride];
    let wts = values(22, cin * cout);
    let packed = PackedPointwise::new(&wts, None, cin, cout).unwrap();
    let full = TensorViewMut::new(&mut buf, layout).unwrap();
    let (mut first, mut second) = full.split_channels(cin).unwrap();
    first.copy_from_dense(&x).unwrap();
    pointwise::pointwise(
        &first.as_view(),
        &packed,
        &Epilogue::act(Activation::Relu),
        &mut second,
        &Threads::single(),
    )
    .unwrap();
    let got = second.as_view().to_dense();
    let dense_x = TensorView::dense(&x, 1, h, w, cin).unwrap();
    let mut expected = vec![0.0; h * w * cout];
    naive::pointwise(
        &dense_x,
        &wts,
        None,
        &Epilogue::act(Activation::Relu),
        &mut TensorViewMut::dense(&mut expected, 1, h, w, cout).unwrap(),
    )
    .unwrap();
    for (g, e) in got.iter().zip(&expected) {
        assert!((g - e).abs() <= 1e-5, "{g} vs {e}");
    }
    assert_eq!(first.as_view().to_dense(), x, "the input half was modified");
}

#[test]
fn errors_name_the_operand() {
    let x = vec![0.0; 2 * 2 * 3];
    let input = TensorView::dense(&x, 1, 2, 2, 3).unwrap();
    let packed = PackedPointwise::new(&[0.0; 3 * 4], None, 3, 4).unwrap();
    let t = Threads::single();
    let e = Epilogue::default();

    let operand = |err: KernelError| match err {
        KernelError::ShapeMismatch { operand, .. }
        | KernelError::BufferTooSmall { operand, .. } => operand,
        KernelError::InvalidParameter { name, .. } => name,
        other => panic!("unexpected error {other:?}"),
    };

    // Wrong input channel count.
    let wrong = PackedPointwise::new(&[0.0; 5 * 4], None, 5, 4).unwrap();
    let mut out = vec![0.0; 16];
    let mut o = TensorViewMut::dense(&mut out, 1, 2, 2, 4).unwrap();
    assert_eq!(
        operand(pointwise::pointwise(&input, &wrong, &e, &mut o, &t).unwrap_err()),
        "input"
    );
    // Wrong output shape (channels, then spatial).
    let mut out = vec![0.0; 20];
    let mut o = TensorViewMut::dense(&mut out, 1, 2, 2, 5).unwrap();
    assert_eq!(
        operand(pointwise::pointwise(&input, &packed, &e, &mut o, &t).unwrap_err()),
        "output"
    );
    let mut o = TensorViewMut::dense(&mut out, 1, 1, 5, 4).unwrap();
    assert_eq!(
        operand(pointwise::pointwise(&input, &packed, &e, &mut o, &t).unwrap_err()),
        "output"
    );
    // Residual of the wrong shape.
    let r = vec![0.0; 12];
    let rv = TensorView::dense(&r, 1, 2, 2, 3).unwrap();
    let re = Epilogue::with_residual(Activation::Identity, rv, AddOrder::AfterActivation);
    let mut out = vec![0.0; 16];
    let mut o = TensorViewMut::dense(&mut out, 1, 2, 2, 4).unwrap();
    assert_eq!(
        operand(pointwise::pointwise(&input, &packed, &re, &mut o, &t).unwrap_err()),
        "residual"
    );
    // Weights and bias of the wrong length, zero channels.
    assert_eq!(
        operand(PackedPointwise::new(&[0.0; 11], None, 3, 4).unwrap_err()),
        "weights"
    );
    assert_eq!(
        operand(PackedPointwise::new(&[0.0; 12], Some(&[0.0; 3]), 3, 4).unwrap_err()),
        "bias"
    );
    assert_eq!(
        operand(PackedPointwise::new(&[], None, 0, 4).unwrap_err()),
        "channels"
    );
    // A short output buffer is refused when the view is made.
    let mut short = vec![0.0; 15];
    assert_eq!(
        operand(TensorViewMut::dense(&mut short, 1, 2, 2, 4).unwrap_err()),
        "output view"
    );
    // The naive reference checks the same things.
    let mut out = vec![0.0; 16];
    let mut o = TensorViewMut::dense(&mut out, 1, 2, 2, 4).unwrap();
    assert_eq!(
        operand(naive::pointwise(&input, &[0.0; 11], None, &e, &mut o).unwrap_err()),
        "weights"
    );
}

#[test]
fn empty_batch_is_a_no_op() {
    let packed = PackedPointwise::new(&[1.0; 6], None, 2, 3).unwrap();
    let input = TensorView::dense(&[], 0, 4, 4, 2).unwrap();
    let mut out = TensorViewMut::dense(&mut [], 0, 4, 4, 3).unwrap();
    pointwise::pointwise(
        &input,
        &packed,
        &Epilogue::default(),
        &mut out,
        &Threads::single(),
    )
    .unwrap();
}

/// Packed weights are shared between threads and cloned into layers.
#[test]
fn packed_weights_are_send_sync_clone() {
    fn check<T: Send + Sync + Clone + std::fmt::Debug>() {}
    check::<PackedPointwise>();
    let p = PackedPointwise::new(&[1.0, 2.0, 3.0], Some(&[0.5]), 3, 1).unwrap();
    assert_eq!((p.cin(), p.cout()), (3, 1));
    assert_eq!(p.clone(), p);
}

/// The operands of `c` (`ghost_kernels::testing::values` from its seed): input in its strided
/// layout, weights, bias when `bias`, and a residual (1 float before, 2 after its channels).
fn operands(c: &Case, bias: bool) -> Operands {
    let ConvDims { n, h, w, cin, cout } = c.dims;
    Operands::new(
        c.run.seed,
        strided(n, h, w, cin, c.in_offset, c.in_extra),
        cin * cout,
        bias,
        strided(n, h, w, cout, 1, 2),
    )
}

/// The output's strided layout.
fn output_layout(c: &Case) -> NhwcLayout {
    let ConvDims { n, h, w, cout, .. } = c.dims;
    strided(n, h, w, cout, c.out_offset, c.out_extra)
}

/// Output bits of `c` on the active ISA (strided output, NaN sentinels included), always with a
/// bias.
fn run_bits(c: &Case) -> Vec<u32> {
    let ops = operands(c, true);
    let out_layout = output_layout(c);
    let packed = PackedPointwise::new(&ops.weights, ops.bias(), c.dims.cin, c.dims.cout).unwrap();
    let mut out_buf = vec![f32::NAN; out_layout.pixels() * out_layout.pixel_stride];
    let mut out = TensorViewMut::new(&mut out_buf, out_layout).unwrap();
    let threads = Threads::new(c.run.threads).unwrap();
    let epilogue = ops.epilogue(&c.run);
    pointwise_with_isa(
        active_isa(),
        &ops.input(),
        &packed,
        &epilogue,
        &mut out,
        &threads,
    )
    .unwrap();
    out_buf.iter().map(|v| v.to_bits()).collect()
}
