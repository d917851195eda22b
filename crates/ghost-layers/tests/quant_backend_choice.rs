//! Which kernel a conv stored as INT8 runs on, decided at load time from the back end
//! (`ghost_layers::quant::runs_as_int8`, `ConvBnAct::from_folded_quant_on`): on AVX2 without
//! VNNI the dense 3x3 stride-1 convs that FP32 runs with Winograd run FP32 on their dequantized
//! weights (measured in docs/int8.md: slower as INT8 there, faster with VNNI); everything else
//! runs as stored.

use ghost_kernels::quant::quantize_weights_per_channel;
use ghost_kernels::Isa;
use ghost_layers::quant::{runs_as_int8, weight_qmax, QuantWeights};
use ghost_layers::{
    ActQuant, Activation, Context, ConvBnAct, ConvBnNames, ConvQuant, ConvSpec, FoldedConv,
    KernelKind, Layer, QuantSite, Tensor, Threads,
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

/// A Winograd-shaped conv (3x3, stride 1, 24 >= WINOGRAD_MIN_CIN inputs), odd output count.
fn winograd_spec() -> ConvSpec {
    ConvSpec::new(24, 13, 3).padding(1).act(Activation::Silu)
}

/// Seeded INT8 weights of `spec` as the loader returns them: the dequantized weights (`code *
/// scale`) with the folded bias, and the stored codes with the input quantization `input`.
fn stored(spec: ConvSpec, seed: u32, input: ActQuant) -> (FoldedConv, ConvQuant) {
    let n: usize = spec.weight_shape().iter().product();
    let w = values(n, seed, -1.0, 1.0);
    let (codes, scales) = quantize_weights_per_channel(&w, spec.cout, weight_qmax(&spec)).unwrap();
    let per = n / spec.cout;
    let weight = codes
        .chunks_exact(per)
        .zip(&scales)
        .flat_map(|(row, &s)| row.iter().map(move |&c| f32::from(c) * s))
        .collect();
    let folded = FoldedConv {
        weight,
        bias: values(spec.cout, seed + 1, -0.5, 0.5),
    };
    let quant = ConvQuant {
        site: QuantSite {
            names: ConvBnNames::conv_only("c"),
            spec,
            eps: 1e-3,
        },
        int8: Some((input, QuantWeights { codes, scales })),
    };
    (folded, quant)
}

fn run(conv: &ConvBnAct, x: &Tensor) -> Tensor {
    let mut ctx = Context::new(Threads::new(1).unwrap());
    let mut out = Tensor::zeros(conv.output_shape(x.shape()).unwrap());
    conv.forward_into(&mut ctx, &x.view(), &mut out.view_mut(), None)
        .unwrap();
    out
}

#[test]
fn only_winograd_shapes_on_avx2_run_fp32() {
    let shapes = [
        (winograd_spec(), false),
        (ConvSpec::new(64, 64, 3).padding(1), false),
        // Below WINOGRAD_MIN_CIN FP32 runs the GEMM: INT8 stays.
        (ConvSpec::new(8, 64, 3).padding(1), true),
        (ConvSpec::new(64, 64, 3).stride(2).padding(1), true),
        (ConvSpec::new(64, 64, 1), true),
        (ConvSpec::depthwise(64, 3).padding(1), true),
    ];
    for (spec, on_avx2) in shapes {
        assert_eq!(runs_as_int8(&spec, Isa::Avx2Fma), on_avx2, "{spec:?}");
        for isa in [Isa::Avx512Vnni, Isa::Neon, Isa::Portable, Isa::Scalar] {
            assert!(runs_as_int8(&spec, isa), "{isa:?} {spec:?}");
        }
    }
}

#[test]
fn an_int8_winograd_shape_on_avx2_is_the_fp32_conv_of_its_dequantized_weights() {
    let spec = winograd_spec();
    let q = ActQuant::from_range(-1.5, 2.5).unwrap();
    let (folded, quant) = stored(spec, 7, q);
    let name = "model.19.cv2.0.0.conv";
    let on_avx2 =
        ConvBnAct::from_folded_quant_on(Isa::Avx2Fma, name, spec, &folded, quant.clone()).unwrap();
    assert_eq!(on_avx2.kernel_kind(), KernelKind::Winograd);
    assert_eq!(on_avx2.input_quant(), None, "it reads f32: no u8 codes");
    let on_vnni =
        ConvBnAct::from_folded_quant_on(Isa::Avx512Vnni, name, spec, &folded, quant).unwrap();
    assert_eq!(on_vnni.kernel_kind(), KernelKind::DenseI8);
    assert_eq!(on_vnni.input_quant(), Some(q));

    // Inside the calibrated range (no clamping), non-square, batch 2.
    let x = Tensor::from_nhwc_vec([2, 9, 14, 24], values(2 * 9 * 14 * 24, 3, -1.5, 2.5)).unwrap();
    let reference = ConvBnAct::from_folded("fp32", spec, &folded).unwrap();
    let (fp32, y) = (run(&reference, &x), run(&on_avx2, &x));
    assert_eq!(
        y.to_nchw().as_slice().unwrap(),
        fp32.to_nchw().as_slice().unwrap(),
        "the same FP32 kernel on the same weights: bit for bit"
    );

    // And the same conv as the INT8 one (run on this machine's back end, whichever it is):
    // the only difference is the INT8 input's rounding, at most half a step per input, so per
    // output |dy| <= 1.1 (SiLU's largest slope, 1.0998) * scale / 2 * sum |w| over its window,
    // plus f32 rounding (1e-4 of outputs below ~10).
    let int8 = run(&on_vnni, &x);
    let per = folded.weight.len() / spec.cout;
    let bound: Vec<f32> = folded
        .weight
        .chunks_exact(per)
        .map(|row| 1.1 * q.scale / 2.0 * row.iter().map(|w| w.abs()).sum::<f32>() + 1e-4)
        .collect();
    let (a, b) = (y.to_nchw(), int8.to_nchw());
    let mut largest = 0.0f32;
    for ((idx, &u), &v) in a.indexed_iter().zip(b.iter()) {
        let d = (u - v).abs();
        assert!(d <= bound[idx.1], "{idx:?}: fp32 {u} vs int8 {v}");
        largest = largest.max(d);
    }
    assert!(
        largest > 0.0,
        "INT8 rounds its input: the two paths must differ somewhere"
    );
}
