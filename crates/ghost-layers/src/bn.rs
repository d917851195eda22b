//! BatchNorm folded into the preceding convolution at load time.
//!
//! In inference a BatchNorm is the per-channel affine map `y = (x - mean) * s + beta` with
//! `s = gamma / sqrt(var + eps)`. Applied to a convolution's output it folds into the weights:
//! `w' = w * s` (every weight of output channel `o` scaled by `s[o]`) and
//! `b' = (b - mean) * s + beta`. The fold is computed in f64 and rounded once to f32, so the
//! folded layer differs from PyTorch's un-folded f32 evaluation by at most a couple of ulps per
//! weight rather than accumulating the rounding of three f32 operations.
//!
//! `eps` is configuration, not data: 1e-5 for timm / torchvision models, 1e-3 inside every
//! Ultralytics model (its `initialize_weights` sets it on every BatchNorm2d). A safetensors file
//! does not record it.

use crate::error::{LayerError, Result};
use crate::weights::{join_name, WeightSource};

/// BatchNorm eps of timm / torchvision / huawei GhostNet.
pub const EPS_TIMM: f64 = 1e-5;
/// BatchNorm eps of every Ultralytics model.
pub const EPS_ULTRALYTICS: f64 = 1e-3;

/// The four tensors of an inference BatchNorm plus its eps.
#[derive(Clone, Debug, PartialEq)]
pub struct BatchNorm {
    /// `weight` (gamma).
    pub gamma: Vec<f32>,
    /// `bias` (beta).
    pub beta: Vec<f32>,
    /// `running_mean`.
    pub mean: Vec<f32>,
    /// `running_var`.
    pub var: Vec<f32>,
    /// Added to the variance before the square root.
    pub eps: f64,
}

impl BatchNorm {
    /// Loads `{prefix}.weight`, `.bias`, `.running_mean`, `.running_var`, each `[channels]`.
    pub fn load(
        weights: &dyn WeightSource,
        prefix: &str,
        channels: usize,
        eps: f64,
    ) -> Result<Self> {
        if !(eps.is_finite() && eps >= 0.0) {
            return Err(LayerError::config(
                prefix,
                format!("BatchNorm eps {eps} must be finite and >= 0"),
            ));
        }
        let get = |suffix: &str| weights.load(&join_name(prefix, suffix), &[channels]);
        Ok(BatchNorm {
            gamma: get("weight")?,
            beta: get("bias")?,
            mean: get("running_mean")?,
            var: get("running_var")?,
            eps,
        })
    }

    /// Number of channels.
    pub fn channels(&self) -> usize {
        self.gamma.len()
    }

    /// Per-channel `(scale, shift)` in f64: `y = x * scale + shift`.
    pub fn scale_shift(&self) -> (Vec<f64>, Vec<f64>) {
        let scale: Vec<f64> = self
            .gamma
            .iter()
            .zip(&self.var)
            .map(|(&g, &v)| f64::from(g) / (f64::from(v) + self.eps).sqrt())
            .collect();
        let shift = scale
            .iter()
            .zip(self.mean.iter().zip(&self.beta))
            .map(|(&s, (&m, &b))| f64::from(b) - f64::from(m) * s)
            .collect();
        (scale, shift)
    }

    /// Applies the BatchNorm to one value of channel `c` in f64 (the un-folded reference).
    pub fn apply_f64(&self, c: usize, x: f64) -> f64 {
        (x - f64::from(self.mean[c])) / (f64::from(self.var[c]) + self.eps).sqrt()
            * f64::from(self.gamma[c])
            + f64::from(self.beta[c])
    }
}

/// A convolution's weights (PyTorch `[cout][cin/groups][kh][kw]` order) and bias after folding.
#[derive(Clone, Debug, PartialEq)]
pub struct FoldedConv {
    /// Weights, same layout as the un-folded conv.
    pub weight: Vec<f32>,
    /// One bias per output channel (always present after a fold).
    pub bias: Vec<f32>,
}

/// A BatchNorm's fold as the packers apply it: the f64 scale of every weight of output channel
/// `o` (`s[o]`) and the folded bias `b' = (b - mean) * s + beta` (rounded once to f32).
#[derive(Clone, Debug, PartialEq)]
pub struct OutputFold {
    /// Per-output-channel weight scale.
    pub scale: Vec<f64>,
    /// Folded bias, one per output channel.
    pub bias: Vec<f32>,
}

impl BatchNorm {
    /// The fold of this BatchNorm into a conv with an optional `bias` of one value per channel.
    pub fn output_fold(&self, bias: Option<&[f32]>) -> Result<OutputFold> {
        let cout = self.channels();
        if bias.is_some_and(|b| b.len() != cout) {
            return Err(LayerError::config(
                "BatchNorm fold",
                format!(
                    "{:?} biases do not match the BatchNorm's {cout} channels",
                    bias.map(<[f32]>::len)
                ),
            ));
        }
        let (scale, _) = self.scale_shift();
        let bias = (0..cout)
            .map(|o| {
                let b = bias.map_or(0.0, |b| f64::from(b[o]));
                ((b - f64::from(self.mean[o])) * scale[o] + f64::from(self.beta[o])) as f32
            })
            .collect();
        Ok(OutputFold { scale, bias })
    }
}

/// Folds `bn` into a conv with `weight` (`cout` equal blocks, one per output channel) and an
/// optional `bias`: `w' = w * s`, `b' = (b - mean) * s + beta`, in f64, rounded once. The
/// weights are folded in place. (Loading a layer applies the same fold while packing, see
/// [`BatchNorm::output_fold`]; this is for callers that transform the folded weights first.)
pub fn fold(mut weight: Vec<f32>, bias: Option<&[f32]>, bn: &BatchNorm) -> Result<FoldedConv> {
    let cout = bn.channels();
    if cout == 0 || !weight.len().is_multiple_of(cout) {
        return Err(LayerError::config(
            "BatchNorm fold",
            format!(
                "{} weights do not split into the BatchNorm's {cout} channels",
                weight.len(),
            ),
        ));
    }
    let OutputFold { scale, bias } = bn.output_fold(bias)?;
    let per_channel = weight.len() / cout;
    if per_channel > 0 {
        for (w, &s) in weight.chunks_exact_mut(per_channel).zip(&scale) {
            for v in w {
                *v = (f64::from(*v) * s) as f32;
            }
        }
    }
    Ok(FoldedConv { weight, bias })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bn(eps: f64) -> BatchNorm {
        BatchNorm {
            gamma: vec![0.5, 1.5, -2.0],
            beta: vec![0.1, -0.2, 0.3],
            mean: vec![0.05, -0.4, 1.0],
            var: vec![0.25, 2.0, 1e-4],
            eps,
        }
    }

    /// conv(x) then BN, evaluated directly in f64, equals the folded conv on the same input, to
    /// the rounding of the folded f32 weights (relative 2^-24 per weight, summed over 4 terms).
    #[test]
    fn folded_conv_matches_conv_then_batchnorm() {
        for eps in [EPS_TIMM, EPS_ULTRALYTICS] {
            let bn = bn(eps);
            // cout = 3, 4 weights per output channel, bias present.
            let w: Vec<f32> = (0..12).map(|i| (i as f32 - 5.5) * 0.13).collect();
            let b = [0.3f32, -0.1, 0.02];
            let x = [0.7f64, -1.3, 2.1, 0.4];
            let folded = fold(w.clone(), Some(&b), &bn).unwrap();
            for o in 0..3 {
                let conv: f64 =
                    f64::from(b[o]) + (0..4).map(|k| f64::from(w[o * 4 + k]) * x[k]).sum::<f64>();
                let direct = bn.apply_f64(o, conv);
                let via_fold: f64 = f64::from(folded.bias[o])
                    + (0..4)
                        .map(|k| f64::from(folded.weight[o * 4 + k]) * x[k])
                        .sum::<f64>();
                let terms: f64 = (0..4)
                    .map(|k| (f64::from(folded.weight[o * 4 + k]) * x[k]).abs())
                    .sum::<f64>()
                    + f64::from(folded.bias[o]).abs();
                let bound = 2.0 * f64::from(f32::EPSILON) * terms;
                assert!(
                    (direct - via_fold).abs() <= bound,
                    "eps {eps} channel {o}: direct {direct} folded {via_fold} bound {bound}"
                );
            }
        }
    }

    #[test]
    fn eps_changes_the_fold() {
        let a = fold(vec![1.0; 3], None, &bn(EPS_TIMM)).unwrap();
        let b = fold(vec![1.0; 3], None, &bn(EPS_ULTRALYTICS)).unwrap();
        // Channel 2 has var 1e-4, where eps 1e-3 vs 1e-5 changes the scale by ~3.3x.
        assert!((a.weight[2] / b.weight[2] - (1.1e-3f32 / 1.1e-4).sqrt()).abs() < 1e-3);
    }

    #[test]
    fn mismatched_channels_are_an_error() {
        assert!(fold(vec![1.0; 7], None, &bn(EPS_TIMM)).is_err());
        assert!(fold(vec![1.0; 6], Some(&[0.0; 2]), &bn(EPS_TIMM)).is_err());
    }
}
