//! Quantization conventions: u8 asymmetric per-tensor activations ([`QuantParams`]) and s8
//! symmetric per-output-channel weights ([`quantize_weights_per_channel`]).
//!
//! Activations: `real = (q - zero_point) * scale`, `q` in `[0, 255]`, ONNX `QuantizeLinear`
//! conventions (round half to even, saturate). Weights: `real = q * scale[c]`, zero point 0,
//! `q` in `[-qmax, qmax]`. The GEMM weights (pointwise and dense) use [`GEMM_WEIGHT_QMAX`] = 64
//! (7 bits): the AVX2 kernels multiply u8 x s8 pairs with `vpmaddubsw`, whose s16 pair sum
//! `255 * 64 * 2 = 32640` then never saturates (see docs/kernels.md, "INT8"). The depthwise
//! weights widen to s16 in the kernel and keep the full [`DEPTHWISE_WEIGHT_QMAX`] = 127.

use crate::error::{KernelError, Result};

/// Largest weight magnitude of the pointwise and dense INT8 convolutions: weights lie in
/// `[-64, 64]`, so a `vpmaddubsw` pair sum is at most `2 * 255 * 64 = 32640 <= i16::MAX`.
pub const GEMM_WEIGHT_QMAX: i8 = 64;

/// Largest weight magnitude of the depthwise INT8 convolution (full 8 bits, symmetric).
pub const DEPTHWISE_WEIGHT_QMAX: i8 = 127;

/// Longest reduction (input channels x taps) an INT8 convolution accepts: the i32 accumulator
/// and its zero-point correction stay exact while `2 * k * 255 * 127 < 2^31`.
pub const MAX_REDUCTION: usize = 32_768;

/// Per-tensor u8 activation quantization: `real = (q - zero_point) * scale`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct QuantParams {
    /// Real value of one quantization step (finite, > 0).
    pub scale: f32,
    /// The u8 value that represents real 0 exactly.
    pub zero_point: u8,
}

impl QuantParams {
    /// Checked constructor: `scale` must be finite and positive.
    pub fn new(scale: f32, zero_point: u8) -> Result<Self> {
        let p = QuantParams { scale, zero_point };
        p.validate("quant params")?;
        Ok(p)
    }

    /// Parameters covering a calibrated range `[min, max]` as ONNX Runtime's static
    /// quantization computes them: the range is first widened to contain 0 (so that 0 and the
    /// zero padding are exact), `scale = (max - min) / 255`, `zero_point = round(-min / scale)`
    /// (half to even) clamped to `[0, 255]`. A degenerate range (`min = max = 0`) gets scale 1.
    /// Fails on non-finite bounds or `min > max`.
    pub fn from_range(min: f32, max: f32) -> Result<Self> {
        if !min.is_finite() || !max.is_finite() || min > max {
            return Err(KernelError::param(
                "range",
                format!("calibrated range [{min}, {max}] must be finite with min <= max"),
            ));
        }
        let (min, max) = (min.min(0.0), max.max(0.0));
        if max == min {
            return QuantParams::new(1.0, 0);
        }
        let scale = (f64::from(max) - f64::from(min)) / 255.0;
        let zp = (-f64::from(min) / scale)
            .round_ties_even()
            .clamp(0.0, 255.0);
        QuantParams::new(scale as f32, zp as u8)
    }

    /// Fails with `InvalidParameter` naming `operand` unless the scale is finite and positive.
    pub fn validate(&self, operand: &'static str) -> Result<()> {
        check_scale(operand, self.scale)
    }

    /// The u8 code of `x` (reference scalar: round half to even, saturate; NaN -> 0).
    pub fn quantize(&self, x: f32) -> u8 {
        quantize_value(x, self.scale, self.zero_point)
    }

    /// The real value of code `q`.
    pub fn dequantize(&self, q: u8) -> f32 {
        (i32::from(q) - i32::from(self.zero_point)) as f32 * self.scale
    }
}

/// `clamp(round_half_even(x / scale) + zp, 0, 255)`, NaN -> 0, computed in f32 in the order the
/// vector kernels use (so every back end gives the same code).
#[inline(always)]
pub(crate) fn quantize_value(x: f32, scale: f32, zp: u8) -> u8 {
    let v = (x / scale).round_ties_even() + f32::from(zp);
    // `max`/`min` written as the vector instructions behave: NaN compares false -> 0.
    let v = if v > 0.0 { v } else { 0.0 };
    let v = if v < 255.0 { v } else { 255.0 };
    v as u8
}

/// Fails unless `scale` is finite and positive.
pub(crate) fn check_scale(operand: &'static str, scale: f32) -> Result<()> {
    if scale.is_finite() && scale > 0.0 {
        Ok(())
    } else {
        Err(KernelError::param(
            operand,
            format!("scale {scale} must be finite and positive"),
        ))
    }
}

/// Symmetric per-output-channel quantization of `weights` (`cout` rows of equal length, PyTorch
/// `[cout, ...]` order) to `[-qmax, qmax]`: `scale[c] = max|w_c| / qmax` (1 for an all-zero
/// row), `q = clamp(round_half_even(w / scale[c]), -qmax, qmax)`. Returns the codes (same
/// order) and the `cout` scales. `qmax` is [`GEMM_WEIGHT_QMAX`] for pointwise and dense
/// convolutions, [`DEPTHWISE_WEIGHT_QMAX`] for depthwise ones. Fails on non-finite weights,
/// a length that is not a multiple of `cout`, or `qmax <= 0`.
pub fn quantize_weights_per_channel(
    weights: &[f32],
    cout: usize,
    qmax: i8,
) -> Result<(Vec<i8>, Vec<f32>)> {
    if qmax <= 0 {
        return Err(KernelError::param(
            "qmax",
            format!("{qmax} must be positive"),
        ));
    }
    if cout == 0 || !weights.len().is_multiple_of(cout) || weights.is_empty() {
        return Err(KernelError::shape(
            "weights",
            format!("a positive multiple of cout = {cout} values"),
            format!("{} values", weights.len()),
        ));
    }
    if let Some(i) = weights.iter().position(|w| !w.is_finite()) {
        return Err(KernelError::param(
            "weights",
            format!("weight {i} is {} (not finite)", weights[i]),
        ));
    }
    let per = weights.len() / cout;
    let q = f32::from(qmax);
    let mut codes = Vec::with_capacity(weights.len());
    let mut scales = Vec::with_capacity(cout);
    for row in weights.chunks_exact(per) {
        let max = row.iter().fold(0.0f32, |m, w| m.max(w.abs()));
        let scale = if max > 0.0 { max / q } else { 1.0 };
        // A subnormal max can make the scale 0: keep it usable (its codes are then 0 or +-qmax).
        let scale = if scale > 0.0 {
            scale
        } else {
            f32::MIN_POSITIVE
        };
        scales.push(scale);
        codes.extend(
            row.iter()
                .map(|w| (w / scale).round_ties_even().clamp(-q, q) as i8),
        );
    }
    Ok((codes, scales))
}

/// Checks pre-quantized weights: `cout` finite positive scales, every code in `[-qmax, qmax]`.
pub(crate) fn check_quantized(
    codes: &[i8],
    scales: &[f32],
    per_out: usize,
    cout: usize,
    qmax: i8,
) -> Result<()> {
    let expected = per_out
        .checked_mul(cout)
        .ok_or_else(|| KernelError::param("weights", "size overflows"))?;
    if codes.len() != expected {
        return Err(KernelError::shape("weights", expected, codes.len()));
    }
    if scales.len() != cout {
        return Err(KernelError::shape("weight scales", cout, scales.len()));
    }
    for &s in scales {
        check_scale("weight scales", s)?;
    }
    if let Some(i) = codes.iter().position(|&q| q < -qmax || q > qmax) {
        return Err(KernelError::param(
            "weights",
            format!(
                "code {} at {i} is outside [-{qmax}, {qmax}] (quantize with the kernel's qmax)",
                codes[i]
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_always_contains_zero() {
        let p = QuantParams::from_range(0.5, 2.0).unwrap();
        assert_eq!(p.zero_point, 0);
        assert_eq!(p.scale, (2.0f64 / 255.0) as f32);
        let p = QuantParams::from_range(-2.0, -1.0).unwrap();
        assert_eq!(p.zero_point, 255);
        let p = QuantParams::from_range(-1.0, 3.0).unwrap();
        assert_eq!(p.zero_point, 64); // 1 / (4 / 255) = 63.75 -> 64
        assert_eq!(p.quantize(0.0), 64);
        assert_eq!(p.dequantize(64), 0.0);
        assert!(QuantParams::from_range(1.0, 0.0).is_err());
        assert!(QuantParams::from_range(f32::NAN, 0.0).is_err());
        assert!(QuantParams::new(0.0, 3).is_err());
        assert!(QuantParams::new(f32::INFINITY, 3).is_err());
        assert!(QuantParams::new(-1.0, 3).is_err());
    }

    #[test]
    fn quantize_rounds_half_to_even_and_saturates() {
        let p = QuantParams::new(1.0, 10).unwrap();
        assert_eq!(p.quantize(0.5), 10);
        assert_eq!(p.quantize(1.5), 12);
        assert_eq!(p.quantize(2.5), 12);
        assert_eq!(p.quantize(-10.5), 0);
        assert_eq!(p.quantize(-11.0), 0);
        assert_eq!(p.quantize(1e30), 255);
        assert_eq!(p.quantize(f32::NEG_INFINITY), 0);
        assert_eq!(p.quantize(f32::NAN), 0);
    }

    #[test]
    fn weights_per_channel_symmetric() {
        let w = [1.0, -0.5, 0.25, 0.0, 0.0, 0.0, -3.0, 1.5, 0.0];
        let (q, s) = quantize_weights_per_channel(&w, 3, 64).unwrap();
        assert_eq!(s, vec![1.0 / 64.0, 1.0, 3.0 / 64.0]);
        assert_eq!(q, vec![64, -32, 16, 0, 0, 0, -64, 32, 0]);
        assert!(quantize_weights_per_channel(&w, 2, 64).is_err());
        assert!(quantize_weights_per_channel(&[f32::NAN], 1, 64).is_err());
        assert!(check_quantized(&q, &s, 3, 3, 64).is_ok());
        assert!(check_quantized(&[65, 0, 0], &[1.0], 3, 1, 64).is_err());
        assert!(check_quantized(&q, &[1.0, 0.0, 1.0], 3, 3, 64).is_err());
    }
}
