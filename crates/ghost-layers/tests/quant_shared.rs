//! INT8 convs sharing one quantization of their input (`ConvBnAct::quantize_input` /
//! `forward_shared_into`) and passing u8 codes between them (`forward_to_u8` /
//! `forward_u8_into`), against the path where every conv quantizes its own f32 input and
//! writes f32.
//!
//! Exactness: the kernels' requantizing store and the quantization pass compute the same
//! `clamp(round_half_even(y / scale) + zp, 0, 255)` in f32 (`quantize_value`, and the same
//! vector sequence on AVX2: divide, round to nearest even, add, clamp) on the same f32 value
//! `y` of the epilogue, so a u8 output must equal the quantized f32 output code for code, and a
//! chain through u8 the f32-then-quantize chain bit for bit. The contract of the path is looser
//! (the codes may differ by the rounding of one requantization, one code, if a kernel ever
//! computes `y * (1 / scale)`); these tests hold the kernels to the exact result they give
//! today and state the one-code bound where they check it.

use ghost_kernels::quant::quantize_weights_per_channel;
use ghost_layers::quant::{weight_qmax, QuantWeights};
use ghost_layers::{
    ActQuant, Activation, AddOrder, Context, ConvBnAct, ConvBnNames, ConvInput, ConvQuant,
    ConvSpec, FoldedConv, LayerError, QuantSite, Residual, Tensor, Threads,
};

/// Deterministic values in [lo, hi).
fn values(n: usize, seed: u32, lo: f32, hi: f32) -> Vec<f32> {
    let mut s = seed.wrapping_mul(2654435761).wrapping_add(1);
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            lo + (hi - lo) * ((s >> 8) as f32 / (1u32 << 24) as f32)
        })
        .collect()
}

fn tensor(shape: [usize; 4], seed: u32) -> Tensor {
    let n = shape.iter().product();
    Tensor::from_nhwc_vec(shape, values(n, seed, -1.5, 2.5)).unwrap()
}

/// An INT8 conv of `spec` with seeded weights and input quantization `input`.
fn int8_conv(name: &str, spec: ConvSpec, seed: u32, input: ActQuant) -> ConvBnAct {
    let n: usize = spec.weight_shape().iter().product();
    let w = values(n, seed, -1.0, 1.0);
    let (codes, scales) = quantize_weights_per_channel(&w, spec.cout, weight_qmax(&spec)).unwrap();
    let bias = values(spec.cout, seed + 1, -0.5, 0.5);
    let site = QuantSite {
        names: ConvBnNames::conv_only(name),
        spec,
        eps: 1e-3,
    };
    ConvBnAct::from_folded_quant(
        name,
        spec,
        &FoldedConv { weight: w, bias },
        ConvQuant {
            site,
            int8: Some((input, QuantWeights { codes, scales })),
        },
    )
    .unwrap()
}

/// An FP32 conv of `spec` with seeded weights.
fn fp32_conv(spec: ConvSpec, seed: u32) -> ConvBnAct {
    let n: usize = spec.weight_shape().iter().product();
    let folded = FoldedConv {
        weight: values(n, seed, -1.0, 1.0),
        bias: values(spec.cout, seed + 1, -0.5, 0.5),
    };
    ConvBnAct::from_folded("fp32", spec, &folded).unwrap()
}

/// The three INT8 kernel families, odd channel counts.
fn specs() -> [ConvSpec; 3] {
    [
        ConvSpec::new(7, 5, 1).act(Activation::Silu),
        ConvSpec::new(9, 11, 3)
            .stride(2)
            .padding(1)
            .act(Activation::Silu),
        ConvSpec::depthwise(13, 3).act(Activation::Silu),
    ]
}

fn run(conv: &ConvBnAct, ctx: &mut Context, x: &Tensor) -> Tensor {
    let mut out = Tensor::zeros(conv.output_shape_of(x.shape()));
    conv.forward_into(ctx, &x.view(), &mut out.view_mut(), None)
        .unwrap();
    out
}

/// Output shape helper (the `Layer` trait's, unwrapped).
trait OutShape {
    fn output_shape_of(&self, input: [usize; 4]) -> [usize; 4];
}

impl OutShape for ConvBnAct {
    fn output_shape_of(&self, input: [usize; 4]) -> [usize; 4] {
        ghost_layers::Layer::output_shape(self, input).unwrap()
    }
}

#[test]
fn a_shared_quantization_gives_each_reader_its_own_result_bit_for_bit() {
    let q = ActQuant::from_range(-1.0, 2.0).unwrap();
    for threads in [1, 2] {
        let mut ctx = Context::new(Threads::new(threads).unwrap());
        for spec in specs() {
            // Non-square, batch 2; inputs beyond the range (clamped codes).
            let x = tensor([2, 7, 10, spec.cin], 3);
            let (a, b) = (int8_conv("a", spec, 11, q), int8_conv("b", spec, 23, q));
            assert!(a.shares_input_quant(&b));
            let shared = a.quantize_input(&mut ctx, &x.view()).unwrap().unwrap();
            assert_eq!(shared.shape(), x.shape());
            for conv in [&a, &b] {
                let own = run(conv, &mut ctx, &x);
                let mut out = Tensor::zeros(own.shape());
                conv.forward_shared_into(
                    &mut ctx,
                    &x.view(),
                    Some(&shared),
                    &mut out.view_mut(),
                    None,
                )
                .unwrap();
                assert_eq!(out.to_dense_vec(), own.to_dense_vec(), "{spec:?}");
            }
            shared.recycle(&mut ctx);
        }
    }
}

#[test]
fn the_shared_copy_is_what_the_conv_reads() {
    // A shared copy of another tensor (same parameters, same shape) is read as given: the
    // result is the conv of that tensor, so sharing really skips the quantization pass.
    let q = ActQuant::from_range(-1.0, 2.0).unwrap();
    let mut ctx = Context::new(Threads::single());
    for spec in specs() {
        let conv = int8_conv("a", spec, 5, q);
        let (x, other) = (
            tensor([1, 6, 9, spec.cin], 1),
            tensor([1, 6, 9, spec.cin], 2),
        );
        let copy = conv
            .quantize_input(&mut ctx, &other.view())
            .unwrap()
            .unwrap();
        let mut out = Tensor::zeros(conv.output_shape_of(x.shape()));
        conv.forward_shared_into(&mut ctx, &x.view(), Some(&copy), &mut out.view_mut(), None)
            .unwrap();
        assert_eq!(
            out.to_dense_vec(),
            run(&conv, &mut ctx, &other).to_dense_vec()
        );
        assert_ne!(out.to_dense_vec(), run(&conv, &mut ctx, &x).to_dense_vec());
    }
}

#[test]
fn a_shared_copy_with_other_parameters_or_shape_is_ignored() {
    let q = ActQuant::from_range(-1.0, 2.0).unwrap();
    let other_q = ActQuant::from_range(-2.0, 2.0).unwrap();
    let mut ctx = Context::new(Threads::single());
    for spec in specs() {
        let conv = int8_conv("a", spec, 5, q);
        let other = int8_conv("b", spec, 6, other_q);
        assert!(!conv.shares_input_quant(&other));
        let x = tensor([1, 6, 9, spec.cin], 1);
        let wrong_params = other.quantize_input(&mut ctx, &x.view()).unwrap().unwrap();
        let small = tensor([1, 4, 9, spec.cin], 1);
        let wrong_shape = conv
            .quantize_input(&mut ctx, &small.view())
            .unwrap()
            .unwrap();
        let own = run(&conv, &mut ctx, &x).to_dense_vec();
        for copy in [&wrong_params, &wrong_shape] {
            let mut out = Tensor::zeros(conv.output_shape_of(x.shape()));
            conv.forward_shared_into(&mut ctx, &x.view(), Some(copy), &mut out.view_mut(), None)
                .unwrap();
            assert_eq!(out.to_dense_vec(), own);
        }
        // An FP32 conv quantizes nothing and ignores any copy.
        let fp32 = fp32_conv(spec, 5);
        assert!(fp32.quantize_input(&mut ctx, &x.view()).unwrap().is_none());
        assert!(!fp32.shares_input_quant(&fp32));
    }
}

/// `x` quantized with `q`, code by code (the scalar definition).
fn codes(x: &Tensor, q: ActQuant) -> Vec<u8> {
    x.to_dense_vec().iter().map(|&v| q.quantize(v)).collect()
}

#[test]
fn a_u8_output_is_the_quantized_f32_output() {
    // The next conv's range cuts both tails of this output, so clamping is exercised.
    let out_q = ActQuant::from_range(-0.2, 1.5).unwrap();
    let q = ActQuant::from_range(-1.0, 2.0).unwrap();
    for threads in [1, 2] {
        let mut ctx = Context::new(Threads::new(threads).unwrap());
        for spec in specs() {
            let conv = int8_conv("p", spec, 9, q);
            let x = tensor([2, 5, 8, spec.cin], 4);
            let f32_out = run(&conv, &mut ctx, &x);
            let expected = codes(&f32_out, out_q);
            assert!(
                expected.contains(&0) && expected.contains(&255),
                "clamping exercised"
            );
            let u8_out = conv
                .forward_to_u8(&mut ctx, ConvInput::F32(&x.view(), None), out_q, None)
                .unwrap();
            assert_eq!(u8_out.shape(), f32_out.shape());
            assert_eq!(u8_out.params(), out_q);
            let got = u8_out.view().unwrap().to_dense();
            let differ = got.iter().zip(&expected).filter(|(a, b)| a != b).count();
            assert_eq!(
                differ,
                0,
                "{spec:?}: {differ} of {} codes differ",
                got.len()
            );
            u8_out.recycle(&mut ctx);

            // With a residual in the epilogue (after the activation), as PSA's ffn would.
            let r = tensor(f32_out.shape(), 8);
            let residual = || Residual {
                view: r.view(),
                order: AddOrder::AfterActivation,
            };
            let mut with_r = Tensor::zeros(f32_out.shape());
            conv.forward_into(
                &mut ctx,
                &x.view(),
                &mut with_r.view_mut(),
                Some(residual()),
            )
            .unwrap();
            let u8_r = conv
                .forward_to_u8(
                    &mut ctx,
                    ConvInput::F32(&x.view(), None),
                    out_q,
                    Some(residual()),
                )
                .unwrap();
            assert_eq!(u8_r.view().unwrap().to_dense(), codes(&with_r, out_q));
            u8_r.recycle(&mut ctx);
        }
    }
}

#[test]
fn a_chain_through_u8_equals_the_f32_then_quantize_chain() {
    // producer -> consumer, odd channels, non-square input: the consumer reading the
    // producer's u8 output gives what it gives reading the f32 output (which it quantizes
    // with the same parameters), bit for bit; and within one input code of every value
    // (|dy| <= s_in * sum |w|, the bound if a requantization ever rounds differently) by
    // construction.
    let q_in = ActQuant::from_range(-1.0, 2.0).unwrap();
    let q_mid = ActQuant::from_range(-0.3, 1.8).unwrap();
    let mut ctx = Context::new(Threads::new(2).unwrap());
    let pairs = [
        (
            ConvSpec::new(7, 9, 1).act(Activation::Silu),
            ConvSpec::new(9, 5, 1),
        ),
        (
            ConvSpec::depthwise(11, 3).act(Activation::Silu),
            ConvSpec::new(11, 6, 1),
        ),
        (
            ConvSpec::new(5, 13, 1).act(Activation::Silu),
            ConvSpec::depthwise(13, 3).stride(2).padding(1),
        ),
        (
            ConvSpec::new(6, 7, 3).padding(1).act(Activation::Silu),
            ConvSpec::new(7, 9, 3).stride(2).padding(1),
        ),
    ];
    for (ps, cs) in pairs {
        let p = int8_conv("p", ps, 31, q_in);
        let c = int8_conv("c", cs, 37, q_mid);
        let x = tensor([1, 9, 6, ps.cin], 12);
        let mid = run(&p, &mut ctx, &x);
        let reference = run(&c, &mut ctx, &mid).to_dense_vec();
        let via_u8 = p
            .forward_to_u8(&mut ctx, ConvInput::F32(&x.view(), None), q_mid, None)
            .unwrap();
        // Through `forward_to_u8` with a u8 input too: a chain of three.
        let mut out = Tensor::zeros(c.output_shape_of(mid.shape()));
        c.forward_u8_into(&mut ctx, &via_u8, &mut out.view_mut(), None)
            .unwrap();
        assert_eq!(out.to_dense_vec(), reference, "{ps:?} -> {cs:?}");
        let again = c
            .forward_to_u8(&mut ctx, ConvInput::U8(&via_u8), q_in, None)
            .unwrap();
        assert_eq!(again.view().unwrap().to_dense(), codes(&out, q_in));
        again.recycle(&mut ctx);
        via_u8.recycle(&mut ctx);
    }
}

#[test]
fn u8_codes_on_the_wrong_scale_and_fp32_convs_are_refused() {
    let q = ActQuant::from_range(-1.0, 2.0).unwrap();
    let other_q = ActQuant::from_range(-1.0, 3.0).unwrap();
    let mut ctx = Context::new(Threads::single());
    let spec = ConvSpec::new(7, 5, 1);
    let conv = int8_conv("model.3.conv", spec, 1, q);
    let x = tensor([1, 4, 6, 7], 2);
    let codes_other = int8_conv("b", spec, 2, other_q)
        .quantize_input(&mut ctx, &x.view())
        .unwrap()
        .unwrap();
    let mut out = Tensor::zeros([1, 4, 6, 5]);
    let err = conv
        .forward_u8_into(&mut ctx, &codes_other, &mut out.view_mut(), None)
        .unwrap_err();
    assert!(
        matches!(&err, LayerError::Config { context, reason } if context == "model.3.conv" && reason.contains("u8 input quantized with")),
        "{err}"
    );
    assert!(conv
        .forward_to_u8(&mut ctx, ConvInput::U8(&codes_other), q, None)
        .is_err());
    let fp32 = fp32_conv(spec, 3);
    let err = fp32
        .forward_to_u8(&mut ctx, ConvInput::F32(&x.view(), None), q, None)
        .unwrap_err();
    assert!(matches!(err, LayerError::Config { .. }), "{err}");
    let err = fp32
        .forward_u8_into(&mut ctx, &codes_other, &mut out.view_mut(), None)
        .unwrap_err();
    assert!(matches!(err, LayerError::Config { .. }), "{err}");
    // A wrong output shape is a shape error naming the operand, as for f32 outputs.
    let mut small = Tensor::zeros([1, 4, 5, 5]);
    let own = conv.quantize_input(&mut ctx, &x.view()).unwrap().unwrap();
    let err = conv
        .forward_u8_into(&mut ctx, &own, &mut small.view_mut(), None)
        .unwrap_err();
    assert!(
        matches!(
            err,
            LayerError::Shape {
                operand: "output",
                ..
            }
        ),
        "{err}"
    );
}
