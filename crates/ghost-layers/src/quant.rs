//! Post-training INT8 quantization at the layer level: where a conv's weights live (its
//! [`QuantSite`]), the per-tensor u8 activation quantization of its input ([`ActQuant`]), and
//! the range observer that calibration runs with ([`RangeObserver`], kept in the
//! [`crate::Context`]).
//!
//! The scheme (chosen to match what the INT8 kernels take and what ONNX Runtime's
//! `quantize_static` writes with `activation_type=QUInt8, weight_type=QInt8, per_channel=True`):
//! - activations: u8, asymmetric, one scale and zero point per tensor, from the observed
//!   `[min, max]` widened to include 0 (so that zero padding is exact);
//! - weights: s8, symmetric (zero point 0), one scale per output channel, after BatchNorm folding;
//!   the file stores the integers, their scales and the folded f32 bias.
//!
//! Tensor names of a quantized conv `{conv}` (the PyTorch conv prefix, e.g. `model.2.cv1.conv`):
//! `{conv}.weight` (I8, the PyTorch weight shape), `{conv}.weight_scale` (F32 `[cout]`),
//! `{conv}.bias` (F32 `[cout]`, the folded bias), `{conv}.input_scale` and
//! `{conv}.input_zero_point` (F32 `[1]`; the zero point an integer in 0..=255). The BatchNorm
//! tensors are gone (folded).

use std::collections::BTreeMap;

use ghost_kernels::conv::ConvAlgorithm;
use ghost_kernels::quant::QuantParams;
use ghost_kernels::Isa;
use ghost_kernels::TensorView;

use crate::conv::{ConvBnNames, ConvSpec};
use crate::weights::{join_name, WeightSource, WeightsError};

/// Scheme name and version written to a quantized file's `quantization` metadata.
pub const QUANT_SCHEME: &str = "ghost-yolo-int8/1 (weights s8 symmetric per output channel, activations u8 asymmetric per tensor)";

impl From<QuantParams> for ActQuant {
    fn from(p: QuantParams) -> Self {
        ActQuant {
            scale: p.scale,
            zero_point: p.zero_point,
        }
    }
}

/// Largest value of the u8 activation range.
const U8_MAX: f32 = 255.0;

/// u8 asymmetric quantization of one activation tensor: `q = clamp(round(x / scale) + zp, 0,
/// 255)`, `x ~ (q - zp) * scale`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ActQuant {
    /// Step between consecutive codes (finite, positive).
    pub scale: f32,
    /// The code of 0.0.
    pub zero_point: u8,
}

impl ActQuant {
    /// The MinMax quantization of values observed in `[min, max]`: the kernel crate's rule
    /// ([`QuantParams::from_range`], ONNX Runtime's `compute_scale_zp`: the range widened to
    /// include 0, `scale = (max - min) / 255`, `zp = round_half_even(-min / scale)`; an all-zero
    /// range gets scale 1). `None` for a non-finite or inverted range.
    pub fn from_range(min: f32, max: f32) -> Option<ActQuant> {
        QuantParams::from_range(min, max).ok().map(ActQuant::from)
    }

    /// The kernel crate's parameters.
    pub fn params(&self) -> QuantParams {
        QuantParams {
            scale: self.scale,
            zero_point: self.zero_point,
        }
    }

    /// `x` quantized to its u8 code (the kernels' rounding: half to even, saturating).
    pub fn quantize(&self, x: f32) -> u8 {
        self.params().quantize(x)
    }

    /// `x` quantized and dequantized: what the INT8 kernels see of it, as f32.
    pub fn fake_quant(&self, x: f32) -> f32 {
        self.params().dequantize(self.quantize(x))
    }

    /// Reads `{conv}.input_scale` and `{conv}.input_zero_point` and checks them (finite,
    /// positive, normal scale; an integral zero point in 0..=255).
    pub fn load(weights: &dyn WeightSource, conv: &str) -> Result<ActQuant, WeightsError> {
        let scale_name = join_name(conv, "input_scale");
        let zp_name = join_name(conv, "input_zero_point");
        let scale = weights.load(&scale_name, &[1])?[0];
        let zp = weights.load(&zp_name, &[1])?[0];
        if !(scale.is_normal() && scale > 0.0) {
            return Err(quant_error(
                weights,
                &scale_name,
                format!("activation scale {scale} is not a finite positive normal number"),
            ));
        }
        if !(zp.fract() == 0.0 && (0.0..=U8_MAX).contains(&zp)) {
            return Err(quant_error(
                weights,
                &zp_name,
                format!("activation zero point {zp} is not an integer in 0..=255"),
            ));
        }
        Ok(ActQuant {
            scale,
            zero_point: zp as u8,
        })
    }
}

/// Whether a conv stored as INT8 runs on the INT8 kernels of back end `isa` (the one chosen at
/// start-up), rather than as FP32 on its dequantized weights (`code * scale`, the weights the
/// INT8 kernel multiplies by, and the stored folded bias; its input is then not quantized).
///
/// The file says which convs are INT8 once, possibly made on another machine; which kernel is
/// faster for a conv depends on the CPU that runs it. Measured (docs/int8.md, "Box branch and
/// Winograd convs in INT8"): the dense 3x3 stride-1 convs that FP32 runs with Winograd
/// F(4x4, 3x3) ([`ConvAlgorithm::choose`]) are faster as INT8 with AVX-512 VNNI (`vpdpbusd`)
/// but slower on the AVX2 tile (`vpmaddubsw`), where the direct INT8 kernel does not make up
/// for Winograd's 4x fewer multiplications: on [`Isa::Avx2Fma`] they run FP32. Every other
/// conv, and every conv on the other back ends (NEON not measured), runs as stored.
pub fn runs_as_int8(spec: &ConvSpec, isa: Isa) -> bool {
    let winograd = spec.groups == 1
        && ConvAlgorithm::choose(spec.cin, spec.cout, &spec.window) == ConvAlgorithm::Winograd;
    !(winograd && isa == Isa::Avx2Fma)
}

/// The largest weight code of a conv with `spec`'s geometry: the kernels' 7-bit
/// [`ghost_kernels::quant::GEMM_WEIGHT_QMAX`] for pointwise and dense convs (no `vpmaddubsw`
/// saturation), [`ghost_kernels::quant::DEPTHWISE_WEIGHT_QMAX`] for depthwise ones.
pub fn weight_qmax(spec: &ConvSpec) -> i8 {
    if spec.groups > 1 {
        ghost_kernels::quant::DEPTHWISE_WEIGHT_QMAX
    } else {
        ghost_kernels::quant::GEMM_WEIGHT_QMAX
    }
}

/// An INT8 conv's stored weights: s8 codes in PyTorch order and one scale per output channel.
#[derive(Clone, Debug, PartialEq)]
pub struct QuantWeights {
    /// Codes, `[cout][cin/groups][kh][kw]`.
    pub codes: Vec<i8>,
    /// Per-output-channel scales.
    pub scales: Vec<f32>,
}

/// A typed error about quantization tensor `name`.
pub(crate) fn quant_error(weights: &dyn WeightSource, name: &str, reason: String) -> WeightsError {
    WeightsError::Quantization {
        origin: weights.origin(),
        name: name.to_string(),
        reason,
    }
}

/// Where a conv's weights are stored, to re-read and quantize them after calibration: its
/// full `state_dict` names (prefix included), the stored geometry (`weight_shape` is the stored
/// tensor's shape, which may be wider than what runs: a Ghost module's cheap op keeps a
/// prefix of its channels) and the BatchNorm eps.
#[derive(Clone, Debug, PartialEq)]
pub struct QuantSite {
    /// Full conv and BatchNorm prefixes.
    pub names: ConvBnNames,
    /// The stored conv's geometry.
    pub spec: ConvSpec,
    /// BatchNorm epsilon used to fold it.
    pub eps: f64,
}

impl QuantSite {
    /// The key ranges are recorded under: the full conv prefix.
    pub fn key(&self) -> &str {
        &self.names.conv
    }
}

impl QuantSite {
    /// The site of a conv loaded from `weights` under `names` (made full through
    /// [`WeightSource::full_name`]).
    pub fn new(weights: &dyn WeightSource, names: &ConvBnNames, spec: ConvSpec, eps: f64) -> Self {
        QuantSite {
            names: ConvBnNames {
                conv: weights.full_name(&names.conv),
                bn: names.bn.as_ref().map(|b| weights.full_name(b)),
            },
            spec,
            eps,
        }
    }
}

/// What INT8 knows of a conv: where it is stored and, when it runs as INT8, its input
/// quantization and stored weight codes (`None`: FP32).
#[derive(Clone, Debug, PartialEq)]
pub struct ConvQuant {
    /// Where the weights are stored.
    pub site: QuantSite,
    /// The input quantization and weights of an INT8 conv.
    pub int8: Option<(ActQuant, QuantWeights)>,
}

/// The observed input range of one conv site.
#[derive(Clone, Debug, PartialEq)]
pub struct ObservedRange {
    /// The conv.
    pub site: QuantSite,
    /// Smallest input value seen.
    pub min: f32,
    /// Largest input value seen.
    pub max: f32,
    /// Forward calls observed (a conv split in two by a rewrite counts each half).
    pub calls: usize,
}

/// Input ranges of every conv that ran while observing (calibration), by conv prefix. Two
/// layers with the same site (the halves of a split conv) share one range: the union.
#[derive(Clone, Debug, Default)]
pub struct RangeObserver {
    ranges: BTreeMap<String, ObservedRange>,
}

impl RangeObserver {
    /// Widens `site`'s range with the values of `view` (NaN values are ignored).
    pub fn observe(&mut self, site: &QuantSite, view: &TensorView<'_>) {
        let [n, h, w, _] = view.shape();
        let (mut lo, mut hi) = (f32::INFINITY, f32::NEG_INFINITY);
        for p in 0..n * h * w {
            for &v in view.pixel(p) {
                lo = lo.min(v);
                hi = hi.max(v);
            }
        }
        let entry = self
            .ranges
            .entry(site.key().to_string())
            .or_insert_with(|| ObservedRange {
                site: site.clone(),
                min: f32::INFINITY,
                max: f32::NEG_INFINITY,
                calls: 0,
            });
        entry.min = entry.min.min(lo);
        entry.max = entry.max.max(hi);
        entry.calls += 1;
    }

    /// The ranges, by conv prefix.
    pub fn ranges(&self) -> &BTreeMap<String, ObservedRange> {
        &self.ranges
    }

    /// Takes the ranges.
    pub fn into_ranges(self) -> BTreeMap<String, ObservedRange> {
        self.ranges
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn activation_range_includes_zero_and_zero_is_exact() {
        let q = ActQuant::from_range(0.5, 2.55).unwrap();
        assert_eq!(q.zero_point, 0);
        assert!((q.scale - 0.01).abs() < 1e-7);
        assert_eq!(q.fake_quant(0.0), 0.0);
        let q = ActQuant::from_range(-1.0, 3.0).unwrap();
        assert_eq!(q.zero_point, 64, "round(1 / (4 / 255)) = round(63.75)");
        assert_eq!(q.fake_quant(0.0), 0.0);
        assert_eq!(q.quantize(-5.0), 0, "clamped below");
        assert_eq!(q.quantize(5.0), 255, "clamped above");
        assert_eq!(ActQuant::from_range(0.0, 0.0).unwrap().scale, 1.0);
        assert!(ActQuant::from_range(f32::INFINITY, 1.0).is_none());
    }

    #[test]
    fn fake_quant_error_is_at_most_half_a_step_inside_the_range() {
        let q = ActQuant::from_range(-0.3, 6.1).unwrap();
        for i in 0..1000 {
            let x = -0.3 + 6.4 * i as f32 / 999.0;
            assert!((q.fake_quant(x) - x).abs() <= 0.5 * q.scale * 1.0001, "{x}");
        }
    }

    #[test]
    fn depthwise_convs_get_8_bit_weights_and_gemm_convs_7_bit() {
        assert_eq!(weight_qmax(&ConvSpec::depthwise(8, 3)), 127);
        assert_eq!(weight_qmax(&ConvSpec::new(8, 16, 3)), 64);
        assert_eq!(weight_qmax(&ConvSpec::new(8, 16, 1)), 64);
    }
}
