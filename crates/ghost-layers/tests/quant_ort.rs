//! INT8 convs against ONNX Runtime: `fixtures/int8/qconv_ort.safetensors` (made by
//! `tools/make_int8_fixtures.py`) holds quantized convs in the INT8 file layout of
//! `ghost_layers::quant`, f32 inputs, and the output ONNX Runtime computes for the QDQ graph
//! `QuantizeLinear -> DequantizeLinear -> Conv(dequantized s8 weights, per channel) + bias -> SiLU`.
//! Loading each conv as a `ConvBnAct` and running it on the input (which quantizes it with the
//! stored scale and zero point, then runs the INT8 kernel) must give ORT's output.

use ghost_kernels::{active_isa, Isa};
use ghost_layers::quant::runs_as_int8;
use ghost_layers::{
    Activation, Context, ConvBnAct, ConvBnNames, ConvSpec, NhwcLayout, Prefixed, SafetensorsFile,
    Tensor, WeightSource, EPS_ULTRALYTICS,
};

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../fixtures/int8/qconv_ort.safetensors"
);

#[test]
fn int8_convs_match_onnx_runtime_qdq() {
    let file = SafetensorsFile::open(FIXTURE).unwrap();
    let cases: serde_json::Value =
        serde_json::from_str(file.metadata_value("cases").unwrap()).unwrap();
    let cases = cases.as_array().unwrap();
    assert_eq!(cases.len(), 5);
    let mut ctx = Context::single_threaded();
    for (i, case) in cases.iter().enumerate() {
        let get = |k: &str| case[k].as_u64().unwrap() as usize;
        let (cin, cout, k, stride, groups, h, w) = (
            get("cin"),
            get("cout"),
            get("k"),
            get("stride"),
            get("groups"),
            get("h"),
            get("w"),
        );
        let name = case["name"].as_str().unwrap();
        let prefix = format!("case{i}");
        let source = Prefixed::new(&file, &prefix);
        let spec = ConvSpec::new(cin, cout, k)
            .stride(stride)
            .groups(groups)
            .act(Activation::Silu);
        let names = ConvBnNames::conv_only("conv");
        let layer = if runs_as_int8(&spec, active_isa()) {
            ConvBnAct::load(&source, &names, spec, EPS_ULTRALYTICS).unwrap()
        } else {
            // This back end loads the shape as FP32 (AVX2 without VNNI: a Winograd shape); the
            // INT8 kernel is still checked against ORT, built as a VNNI CPU would load it.
            let (folded, quant) =
                ConvBnAct::load_folded_quant(&source, &names, &spec, EPS_ULTRALYTICS).unwrap();
            ConvBnAct::from_folded_quant_on(Isa::Avx512Vnni, "conv", spec, &folded, quant).unwrap()
        };
        assert!(layer.input_quant().is_some(), "{name}: loaded as INT8");
        assert!(
            layer.kernel_kind().name().ends_with("-i8"),
            "{name}: runs on an INT8 kernel, not {}",
            layer.kernel_kind()
        );
        let x = source.load("x", &[1, h, w, cin]).unwrap();
        let (oh, ow) = (
            (h + 2 * (k / 2) - k) / stride + 1,
            (w + 2 * (k / 2) - k) / stride + 1,
        );
        let expected = source.load("y", &[1, oh, ow, cout]).unwrap();
        let input = Tensor::from_parts(x, NhwcLayout::dense(1, h, w, cin)).unwrap();
        let got = layer
            .forward(&mut ctx, &input.view())
            .unwrap()
            .to_dense_vec();
        // ORT sums the f32 products of dequantized values in f32; the INT8 kernel sums the
        // integer products exactly and scales once. Both are the same real number up to f32
        // rounding over at most k*k*cin = 144 terms (~1e-5 relative to the output's magnitude,
        // which is O(1) here); one input code off moves an output by s_x * s_w * |q_w| >= 1e-4
        // for most outputs, and a wrong zero point, scale or padding value by far more.
        let scale = expected.iter().fold(1.0f32, |m, v| m.max(v.abs()));
        let worst = got
            .iter()
            .zip(&expected)
            .map(|(g, e)| (g - e).abs())
            .fold(0.0f32, f32::max);
        assert!(
            worst <= 2e-5 * scale,
            "{name}: max |ours - ORT| = {worst} (output magnitude {scale})"
        );
    }
}
