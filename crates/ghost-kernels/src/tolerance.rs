//! Named tolerances for comparing a fast kernel against its f64 naive reference, and why each
//! bound is right.
//!
//! A length-`k` f32 dot product accumulated in any order (with or without FMA) differs from the
//! exact value by at most `gamma_k * sum |a_i * b_i|`, with `gamma_k ~= k * u`, `u = 2^-24` the
//! unit roundoff (Higham, *Accuracy and Stability of Numerical Algorithms*, 3.1). We use
//! `(k + 2) * f32::EPSILON` (= `2 (k + 2) u`, a factor 2 of slack for the bias add and the final
//! rounding) times the absolute sum of the terms. The activations add a relative error of a few
//! ulps (vector exp and division) and have slope at most 1.1 (SiLU), so the bound is scaled by
//! `ACT_SLOPE` and a relative `ACT_REL` of the output is added.

/// Maximum slope of any supported activation (SiLU peaks at ~1.0998).
pub const ACT_SLOPE: f64 = 1.1;

/// Relative error of a vector activation evaluation: the exp polynomial is good to ~2 ulp and a
/// division adds 0.5 ulp; 8 ulp of f32 leaves margin.
pub const ACT_REL: f64 = 8.0 * f32::EPSILON as f64;

/// Absolute floor for values that cancel to ~0 (below any meaningful activation).
pub const ABS_FLOOR: f64 = 1e-6;

/// Worst-case error bound for an activation of a `k`-term f32 dot product whose terms' absolute
/// values sum to `abs_sum`, with reference output `reference`.
pub fn dot_act_bound(k: usize, abs_sum: f64, reference: f64) -> f64 {
    ACT_SLOPE * (k as f64 + 2.0) * f32::EPSILON as f64 * abs_sum
        + ACT_REL * reference.abs()
        + ABS_FLOOR
}

/// Rounding steps on the longest path of a Winograd F(4x4, 3x3) output besides the `cin`-term
/// GEMM: the weight transform's final rounding (1), the input transform (at most 3 roundings per
/// 1-D pass, 2 passes), the output transform (3 per pass, 2 passes) and the bias add (1) = 14;
/// 16 leaves margin.
pub const WINOGRAD_EXTRA_STEPS: usize = 16;

/// Worst-case error bound for an activation of a Winograd F(4x4, 3x3) output with `cin` input
/// channels. `transformed_abs_sum` is the same computation evaluated on absolute values:
/// `sum_c |A^T| ((|G| |g_c| |G^T|) . (|B^T| |d_c| |B|)) |A|` at this output, plus |bias| (and
/// |residual| when added before the activation); see `conv::winograd::transform` for the
/// matrices.
///
/// Every step is a sum of products rounded in f32, so the standard forward error bound of an
/// expression of depth `D` applies: `gamma_D` times the expression on absolute values (Higham,
/// 3.5), with `D = cin + WINOGRAD_EXTRA_STEPS` and the same factor-2 slack as
/// [`dot_act_bound`]. The absolute-value sum is ~75x the direct convolution's `sum |w x|`
/// (the transform matrices' entries reach 5, 1/4 and 8), which is why Winograd's error is
/// larger than the GEMM's; measured errors sit 100-1000x below this bound.
pub fn winograd_bound(cin: usize, transformed_abs_sum: f64, reference: f64) -> f64 {
    ACT_SLOPE * (cin + WINOGRAD_EXTRA_STEPS) as f64 * f32::EPSILON as f64 * transformed_abs_sum
        + ACT_REL * reference.abs()
        + ABS_FLOOR
}

/// Rounding steps on the longest path of a stride-2 polyphase Winograd F(4x4, 2x2) output
/// (`conv::winograd::stride2`) besides the `cin`-term GEMM: the weight transform's final
/// rounding (1); the input transform, 1-D F(4,2) passes of at most 2 roundings each (`v4 =
/// 2 (d1 - d3) + (d4 - d2)`: a subtraction, then a fused multiply-add), 2 passes on the
/// (even, even) phase (4); the output transform: the row pass on the (even, even) phase (3,
/// `y0 = (m0 + (m1 + m2)) + m3`) plus the (even, odd) add (1), the column pass (3) plus the add
/// of the (odd, *) phases' sum (1); the bias add (1) = 14; 16 leaves margin.
pub const WINOGRAD_S2_EXTRA_STEPS: usize = 16;

/// Worst-case error bound for an activation of a stride-2 Winograd F(4x4, 2x2) output with
/// `cin` input channels, in the style of [`winograd_bound`]: `transformed_abs_sum` is the
/// computation on absolute values, `sum_c sum_phase |A_p^T| ((|G_p| |g_pc| |G_p^T|) .
/// (|B_p^T| |d_pc| |B_p|)) |A_p|` (identity matrices in a phase's 1-tap directions) plus |bias|
/// (and |residual| when added before the activation); the depth is `cin +
/// WINOGRAD_S2_EXTRA_STEPS`. F(4,2)'s matrices are smaller than F(4,3)'s (entries up to 3, 1/2
/// and 8; growth factor 20 per 1-D pass), so this bound is tighter relative to the direct
/// convolution's `sum |w x|` than [`winograd_bound`]'s.
pub fn winograd_s2_bound(cin: usize, transformed_abs_sum: f64, reference: f64) -> f64 {
    ACT_SLOPE * (cin + WINOGRAD_S2_EXTRA_STEPS) as f64 * f32::EPSILON as f64 * transformed_abs_sum
        + ACT_REL * reference.abs()
        + ABS_FLOOR
}

/// Worst-case error bound of an INT8 convolution's f32 output against the f64 reference
/// ([`crate::quant::naive::finish`]). The zero-point-corrected i32 accumulator is exact (the
/// conformance tests check it bit for bit); what follows rounds at most five times in f32:
/// the i32 -> f32 conversion, the product `s_in * s_w[c]`, the multiply and the bias add (one
/// rounding fused, two unfused) and a residual add, each a relative `u = 2^-24` of a partial
/// sum no larger than `abs_sum = |acc * s_in * s_w| + |bias| + |residual|`. `4 eps = 8 u`
/// covers the five with margin; the activation's slope and evaluation error enter as in
/// [`dot_act_bound`].
pub fn int8_epilogue_bound(abs_sum: f64, reference: f64) -> f64 {
    ACT_SLOPE * 4.0 * f32::EPSILON as f64 * abs_sum + ACT_REL * reference.abs() + ABS_FLOOR
}

/// Largest difference, in u8 codes, between a requantized INT8 output and the requantized
/// reference when the f32 values before requantization differ by at most `bound`: the values
/// divided by `scale` differ by at most `bound / scale`, and rounding each to an integer can add
/// one more step (two values either side of a rounding boundary).
pub fn requantized_code_bound(bound: f64, scale: f32) -> u32 {
    (bound / f64::from(scale)).floor() as u32 + 1
}
