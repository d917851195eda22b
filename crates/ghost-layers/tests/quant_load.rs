//! Loading INT8 convs (`ghost_layers::quant`'s tensor names): the layer computes the conv of
//! the u8-quantized input with the dequantized s8 weights, and every inconsistent quantization
//! tensor is a typed error naming the tensor and the file.

use ghost_kernels::quant::{quantize_weights_per_channel, GEMM_WEIGHT_QMAX};
use ghost_layers::{
    ActQuant, Activation, Context, ConvBnAct, ConvBnNames, ConvSpec, LayerError, SafetensorsFile,
    Tensor, WeightsError, EPS_ULTRALYTICS,
};
use safetensors::tensor::{Dtype, TensorView};

/// A tensor to serialise: name, dtype, shape, little-endian bytes.
type Raw = (String, Dtype, Vec<usize>, Vec<u8>);

fn f32s(name: &str, shape: &[usize], v: &[f32]) -> Raw {
    (
        name.into(),
        Dtype::F32,
        shape.to_vec(),
        v.iter().flat_map(|x| x.to_le_bytes()).collect(),
    )
}

fn i8s(name: &str, shape: &[usize], v: &[i8]) -> Raw {
    (
        name.into(),
        Dtype::I8,
        shape.to_vec(),
        v.iter().map(|&x| x as u8).collect(),
    )
}

fn file(tensors: &[Raw]) -> SafetensorsFile {
    let views: Vec<(String, TensorView<'_>)> = tensors
        .iter()
        .map(|(n, d, s, b)| (n.clone(), TensorView::new(*d, s.clone(), b).unwrap()))
        .collect();
    // As `Detector` opens files: NaN / Inf load (to be reported as warnings), so the
    // quantization checks must refuse them themselves.
    SafetensorsFile::from_bytes(
        "q.safetensors",
        safetensors::serialize(views, None).unwrap(),
    )
    .unwrap()
    .allow_non_finite(true)
}

/// Deterministic values in [-1, 1).
fn values(n: usize, seed: u32) -> Vec<f32> {
    let mut s = seed.wrapping_mul(2654435761).wrapping_add(1);
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            (s >> 8) as f32 / (1u32 << 23) as f32 - 1.0
        })
        .collect()
}

const CIN: usize = 5;
const COUT: usize = 4;

/// A 3x3 stride-1 conv (`m.conv`) stored as INT8, with its parts.
struct QuantConv {
    q: Vec<i8>,
    scales: Vec<f32>,
    bias: Vec<f32>,
    input: ActQuant,
}

fn quant_conv() -> QuantConv {
    let w = values(COUT * CIN * 9, 7);
    let (q, scales) = quantize_weights_per_channel(&w, COUT, GEMM_WEIGHT_QMAX).unwrap();
    QuantConv {
        q,
        scales,
        bias: values(COUT, 9),
        input: ActQuant::from_range(-1.0, 2.0).unwrap(),
    }
}

fn tensors(c: &QuantConv) -> Vec<Raw> {
    vec![
        i8s("m.conv.weight", &[COUT, CIN, 3, 3], &c.q),
        f32s("m.conv.weight_scale", &[COUT], &c.scales),
        f32s("m.conv.bias", &[COUT], &c.bias),
        f32s("m.conv.input_scale", &[1], &[c.input.scale]),
        f32s(
            "m.conv.input_zero_point",
            &[1],
            &[f32::from(c.input.zero_point)],
        ),
    ]
}

fn spec() -> ConvSpec {
    ConvSpec::new(CIN, COUT, 3).act(Activation::Silu)
}

fn load(tensors: &[Raw]) -> Result<ConvBnAct, LayerError> {
    ConvBnAct::load(
        &file(tensors),
        &ConvBnNames::ultralytics("m"),
        spec(),
        EPS_ULTRALYTICS,
    )
}

#[test]
fn an_int8_conv_computes_the_quantized_conv() {
    let c = quant_conv();
    let layer = load(&tensors(&c)).unwrap();
    assert_eq!(layer.input_quant(), Some(c.input));
    let (h, w) = (6, 7);
    // Inputs beyond the calibrated range [-1, 2] too: they must clamp to the range's ends.
    let x: Vec<f32> = values(h * w * CIN, 3)
        .iter()
        .map(|v| v * 1.6 + 0.5)
        .collect();
    let input =
        Tensor::from_parts(x.clone(), ghost_layers::NhwcLayout::dense(1, h, w, CIN)).unwrap();
    let mut ctx = Context::single_threaded();
    let out = layer
        .forward(&mut ctx, &input.view())
        .unwrap()
        .to_dense_vec();

    // Reference in f64 on the integers: sum q_w * (q_x - zp), times s_w * s_x, plus bias, SiLU.
    let qx: Vec<i32> = x
        .iter()
        .map(|&v| {
            let q =
                (f64::from(v) / f64::from(c.input.scale)).round() + f64::from(c.input.zero_point);
            q.clamp(0.0, 255.0) as i32 - i32::from(c.input.zero_point)
        })
        .collect();
    let mut worst = 0.0f64;
    for y in 0..h {
        for xx in 0..w {
            for o in 0..COUT {
                let mut acc: i64 = 0;
                for i in 0..CIN {
                    for ky in 0..3 {
                        for kx in 0..3 {
                            let (sy, sx) =
                                (y as isize + ky as isize - 1, xx as isize + kx as isize - 1);
                            if sy < 0 || sx < 0 || sy >= h as isize || sx >= w as isize {
                                continue;
                            }
                            let xi = qx[(sy as usize * w + sx as usize) * CIN + i];
                            let wi = c.q[((o * CIN + i) * 3 + ky) * 3 + kx];
                            acc += i64::from(xi) * i64::from(wi);
                        }
                    }
                }
                let z = acc as f64 * f64::from(c.scales[o]) * f64::from(c.input.scale)
                    + f64::from(c.bias[o]);
                let expected = z / (1.0 + (-z).exp());
                let got = f64::from(out[(y * w + xx) * COUT + o]);
                worst = worst.max((got - expected).abs() / expected.abs().max(1.0));
            }
        }
    }
    // The layer sums 45 f32 products of exactly representable dequantized values: the only
    // error is f32 rounding of the sum and of SiLU, far below 1e-5 relative; a wrong zero
    // point, scale or clamp moves outputs by at least one quantization step (~1e-2).
    assert!(worst < 1e-5, "worst relative error {worst}");
}

fn expect_quant_error(tensors: &[Raw], tensor: &str, needle: &str) {
    let err = load(tensors).unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(
            err,
            LayerError::Weights(WeightsError::Quantization { ref name, .. }) if name == tensor
        ),
        "{text}"
    );
    assert!(
        text.contains("q.safetensors") && text.contains(tensor) && text.contains(needle),
        "{text}"
    );
}

fn replaced(c: &QuantConv, name: &str, raw: Raw) -> Vec<Raw> {
    tensors(c)
        .into_iter()
        .map(|t| if t.0 == name { raw.clone() } else { t })
        .collect()
}

#[test]
fn bad_quantization_tensors_are_typed_errors() {
    let c = quant_conv();
    for bad in [0.0, -0.5, f32::NAN, f32::INFINITY, 1e-40] {
        let mut s = c.scales.clone();
        s[2] = bad;
        expect_quant_error(
            &replaced(
                &c,
                "m.conv.weight_scale",
                f32s("m.conv.weight_scale", &[COUT], &s),
            ),
            "m.conv.weight_scale",
            "output channel 2",
        );
        expect_quant_error(
            &replaced(
                &c,
                "m.conv.input_scale",
                f32s("m.conv.input_scale", &[1], &[bad]),
            ),
            "m.conv.input_scale",
            "activation scale",
        );
    }
    for bad in [256.0, -1.0, 1.5, f32::NAN] {
        expect_quant_error(
            &replaced(
                &c,
                "m.conv.input_zero_point",
                f32s("m.conv.input_zero_point", &[1], &[bad]),
            ),
            "m.conv.input_zero_point",
            "zero point",
        );
    }
    // A code the 7-bit GEMM kernels cannot take (they avoid vpmaddubsw saturation).
    let mut q = c.q.clone();
    q[5] = 100;
    expect_quant_error(
        &replaced(
            &c,
            "m.conv.weight",
            i8s("m.conv.weight", &[COUT, CIN, 3, 3], &q),
        ),
        "m.conv.weight",
        "outside -64..=64",
    );
    let mut b = c.bias.clone();
    b[1] = f32::NAN;
    expect_quant_error(
        &replaced(&c, "m.conv.bias", f32s("m.conv.bias", &[COUT], &b)),
        "m.conv.bias",
        "output channel 1",
    );
}

#[test]
fn missing_or_misshapen_quantization_tensors_name_the_tensor() {
    let c = quant_conv();
    let without: Vec<Raw> = tensors(&c)
        .into_iter()
        .filter(|t| t.0 != "m.conv.input_zero_point")
        .collect();
    let err = load(&without).unwrap_err().to_string();
    assert!(
        err.contains("m.conv.input_zero_point") && err.contains("missing"),
        "{err}"
    );
    let err = load(&replaced(
        &c,
        "m.conv.weight_scale",
        f32s("m.conv.weight_scale", &[COUT + 1], &[1.0; COUT + 1]),
    ))
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("m.conv.weight_scale") && err.contains("shape"),
        "{err}"
    );
    // An int8 tensor asked for as f32 (the scale stored as I8) is a dtype error, not garbage.
    let err = load(&replaced(
        &c,
        "m.conv.weight_scale",
        i8s("m.conv.weight_scale", &[COUT], &[1; COUT]),
    ))
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("m.conv.weight_scale") && err.contains("I8"),
        "{err}"
    );
}
