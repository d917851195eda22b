//! The quantized model's tensors: the FP32 model's tensors with every INT8 conv's weight and
//! BatchNorm replaced by its s8 weights, per-channel scales, folded bias and input quantization.

use std::collections::BTreeMap;

use ghost_kernels::quant::quantize_weights_per_channel;
use ghost_layers::quant::{weight_qmax, ObservedRange};
use ghost_layers::{ActQuant, ConvBnAct, WeightSource};

use super::recording::RecordedTensor;
use super::QuantizeError;

/// A tensor of the quantized file.
#[derive(Clone, Debug, PartialEq)]
pub enum OutTensor {
    /// F32 values.
    F32 {
        /// Shape.
        shape: Vec<usize>,
        /// Row-major values.
        values: Vec<f32>,
    },
    /// Int8 values (quantized conv weights).
    I8 {
        /// Shape.
        shape: Vec<usize>,
        /// Row-major values.
        values: Vec<i8>,
    },
}

/// What was decided for one conv (a row of the quantization report).
#[derive(Clone, Debug, PartialEq)]
pub struct LayerDecision {
    /// The conv's `state_dict` prefix.
    pub conv: String,
    /// Whether it runs as INT8 (else it stays FP32).
    pub int8: bool,
    /// Whether it is a depthwise conv.
    pub depthwise: bool,
    /// The conv's geometry (what the speed rules `winograd` and `narrow` read).
    pub spec: ghost_layers::ConvSpec,
    /// The observed input range over the calibration images.
    pub min: f32,
    /// See `min`.
    pub max: f32,
    /// The input quantization (INT8 convs).
    pub input: Option<ActQuant>,
}

/// BatchNorm tensors folded into the conv (and so absent from the quantized file).
const BN_TENSORS: [&str; 5] = [
    "weight",
    "bias",
    "running_mean",
    "running_var",
    "num_batches_tracked",
];

/// The quantized tensor set: `recorded` (every tensor the FP32 model loaded) with each conv of
/// `ranges` for which `keep_fp32` is false replaced by its INT8 form. `source` is the FP32
/// model's weight source (re-read to fold the BatchNorms exactly as the FP32 loader does).
pub fn quantized_tensors(
    source: &dyn WeightSource,
    recorded: BTreeMap<String, RecordedTensor>,
    ranges: &BTreeMap<String, ObservedRange>,
    keep_fp32: &dyn Fn(&ghost_layers::QuantSite) -> bool,
) -> Result<(BTreeMap<String, OutTensor>, Vec<LayerDecision>), QuantizeError> {
    let mut out: BTreeMap<String, OutTensor> = recorded
        .into_iter()
        .map(|(name, t)| {
            (
                name,
                OutTensor::F32 {
                    shape: t.shape,
                    values: t.values,
                },
            )
        })
        .collect();
    let mut decisions = Vec::with_capacity(ranges.len());
    for (conv, range) in ranges {
        let input = if keep_fp32(&range.site) {
            None
        } else {
            ActQuant::from_range(range.min, range.max)
        };
        let int8 = input.is_some();
        decisions.push(LayerDecision {
            conv: conv.clone(),
            int8,
            depthwise: range.site.spec.groups > 1,
            spec: range.site.spec,
            min: range.min,
            max: range.max,
            input,
        });
        let Some(input) = input else { continue };
        let site = &range.site;
        let folded = ConvBnAct::load_folded(source, &site.names, &site.spec, site.eps)
            .map_err(crate::error::YoloError::from)?;
        let cout = site.spec.cout;
        let (q, scales) =
            quantize_weights_per_channel(&folded.weight, cout, weight_qmax(&site.spec))
                .map_err(crate::error::YoloError::from)?;
        if let Some(bn) = &site.names.bn {
            for t in BN_TENSORS {
                out.remove(&format!("{bn}.{t}"));
            }
        }
        let f32_tensor = |shape: Vec<usize>, values: Vec<f32>| OutTensor::F32 { shape, values };
        out.insert(
            format!("{conv}.weight"),
            OutTensor::I8 {
                shape: site.spec.weight_shape().to_vec(),
                values: q,
            },
        );
        out.insert(
            format!("{conv}.weight_scale"),
            f32_tensor(vec![cout], scales),
        );
        out.insert(format!("{conv}.bias"), f32_tensor(vec![cout], folded.bias));
        out.insert(
            format!("{conv}.input_scale"),
            f32_tensor(vec![1], vec![input.scale]),
        );
        out.insert(
            format!("{conv}.input_zero_point"),
            f32_tensor(vec![1], vec![f32::from(input.zero_point)]),
        );
    }
    Ok((out, decisions))
}
