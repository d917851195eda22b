//! AVX2 + FMA vector math over `__m256`.
//!
//! Every function is `#[inline(always)]` and `unsafe`: it must only be called from code compiled
//! with `#[target_feature(enable = "avx2,fma")]` (where it inlines and inherits the features)
//! after the caller has checked that the CPU has AVX2 and FMA (`crate::isa`).

use core::arch::x86_64::*;

use crate::act::Activation;

/// `exp(x)`, Cephes-style: `x = n ln2 + r`, `|r| <= ln2 / 2`, degree-6 polynomial for `e^r`,
/// `2^n` built in the exponent bits. Relative error <= 2 ulp on `[-87.3, 88]`; inputs are clamped to
/// that range (so `exp` of very negative inputs returns ~1.2e-38 instead of a denormal and very
/// large inputs return ~1.65e38 instead of overflowing: both are irrelevant to every use here,
/// which is `1 / (1 + exp(-x))`).
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[inline(always)]
pub unsafe fn exp(x: __m256) -> __m256 {
    // SAFETY: forwarded contract.
    unsafe { exp_n([x])[0] }
}

/// `1.5 * 2^23 + 127`, see [`exp_n`].
pub(crate) const EXP_MAGIC: f32 = 12_583_039.0;

/// `q(r) = (e^r - 1) / r` on `|r| <= ln2 / 2`, degree 5, highest power first: mpmath's
/// Chebyshev fit rounded to f32 (`tools/fit_exp_poly.py`, which also checks `exp` and SiLU in
/// emulated f32: 0.65 and 1.17 eps at most over 50 000 points of [-87, 88]).
pub(crate) const EXP_POLY: [f32; 6] = [
    1.393_365e-3,
    8.369_155e-3,
    4.166_646_7e-2,
    0.166_665_05,
    0.5,
    1.0,
];

/// [`exp`] of `N` vectors, each step issued for all `N` before the next. One vector's exp is a
/// chain of ~20 dependent operations; interleaving independent chains lets the out-of-order core
/// overlap them (the epilogues call this with `N = 4`, which made SiLU faster: see
/// docs/kernels.md#measurements-behind-code-decisions). Every lane gets exactly the operations
/// of the one-vector version.
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[inline(always)]
pub unsafe fn exp_n<const N: usize>(x: [__m256; N]) -> [__m256; N] {
    // SAFETY (whole function): AVX2+FMA intrinsics on registers only.
    unsafe {
        let (e_r, pow2n) = exp_parts::<N, false>(x);
        let mut out = e_r;
        for (o, p) in out.iter_mut().zip(pow2n) {
            *o = _mm256_mul_ps(*o, p);
        }
        out
    }
}

/// `exp(s x) = e_r * 2^n` for `s = -1` when `NEG`, else `s = 1`, as the two factors: `e_r` in
/// `[0.7, 1.42]` and `2^n` (a power of two, normal for the clamped argument; +inf for `n = 128`,
/// which only `NEG` reaches). `exp` multiplies
/// them; SiLU and sigmoid fuse the product into `1 + exp(-x)` with one FMA, which rounds exactly
/// as the multiply and the add did (the product by a power of two is exact, except in the
/// denormal range where `1 + e` is 1 either way).
///
/// With `NEG`, the negation of `x` is folded into the constants instead of computed: every step
/// below is the `s = 1` step of `-x` with both sides negated, and round-to-nearest is symmetric,
/// so each lane gets the bits of `exp(0 - x)` exactly (the clamp bounds are negated, `n = round(x
/// (-log2 e))`, the reduced argument is carried as `-r`, and the polynomial's odd coefficients
/// change sign, which Horner's rule on `-r` then undoes).
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[inline(always)]
unsafe fn exp_parts<const N: usize, const NEG: bool>(x: [__m256; N]) -> ([__m256; N], [__m256; N]) {
    // SAFETY (whole function): AVX2+FMA intrinsics on registers only.
    unsafe {
        // The argument's range, [-87.33654, 88] (see `exp`), in terms of `x`; for `exp(-x)`
        // it reaches 89 (`x >= -89`), where `n = 128` makes `2^n` the exponent field 255, +inf:
        // `1 + exp(-x)` is then +inf for `x < -88.38` (the true value is within 2.2x of
        // f32::MAX there), so SiLU is -0 (never `x / 1.65e38`, which is -2.06 for -f32::MAX)
        // and sigmoid 0; -inf gives SiLU NaN as PyTorch's `-inf * sigmoid(-inf)`. `n` stays at
        // most 128 (89 log2 e = 128.4), where `n ln2_hi` is still exact.
        let (lo, hi) = if NEG {
            (-89.0, 87.336_54)
        } else {
            (-87.336_54, 88.0)
        };
        let (lo, hi) = (_mm256_set1_ps(lo), _mm256_set1_ps(hi));
        let mut x = x;
        for v in &mut x {
            *v = _mm256_min_ps(hi, _mm256_max_ps(lo, *v));
        }
        // n = round(x log2 e) by the "magic number" trick: adding 1.5 * 2^23 leaves the integer
        // nearest to x log2 e in the low mantissa bits (one FMA instead of a multiply, a round
        // and a convert). The constant also carries the exponent bias, so those bits shifted up
        // by 23 are 2^n: n + 127 is in [1, 254] for the clamped x, and the 1.5's mantissa bit
        // (bit 22) is shifted out.
        let magic = _mm256_set1_ps(EXP_MAGIC);
        let log2e = std::f32::consts::LOG2_E;
        let log2e = _mm256_set1_ps(if NEG { -log2e } else { log2e });
        let mut t = x;
        for t in &mut t {
            *t = _mm256_fmadd_ps(*t, log2e, magic);
        }
        let mut n = t;
        for n in &mut n {
            *n = _mm256_sub_ps(*n, magic);
        }
        // Two-step Cody-Waite reduction: ln2 = 0.693359375 - 2.12194440e-4 (the first part is
        // exact in 9 bits, so n * hi is exact for |n| <= 127). `r = x - n ln2`; with `NEG`,
        // `-r = x + n ln2` (of the negated argument's `r`).
        let mut r = x;
        for (r, n) in r.iter_mut().zip(&n) {
            let c = _mm256_set1_ps(0.693_359_4);
            *r = if NEG {
                _mm256_fmadd_ps(*n, c, *r)
            } else {
                _mm256_fnmadd_ps(*n, c, *r)
            };
        }
        for (r, n) in r.iter_mut().zip(&n) {
            let c = _mm256_set1_ps(-2.121_944_4e-4);
            *r = if NEG {
                _mm256_fmadd_ps(*n, c, *r)
            } else {
                _mm256_fnmadd_ps(*n, c, *r)
            };
        }
        // e^r = 1 + r q(r), q of degree 5 in Horner form: six FMAs (the Taylor-style
        // `1 + r + r^2 p(r)` with p of degree 5 took five FMAs, a multiply, an FMA and an add
        // for the same accuracy). Coefficients: `tools/fit_exp_poly.py`. With `NEG` the chain
        // runs on `-r`, and the coefficient of step `j` (0 = highest power) gets the sign
        // `(-1)^j`: step `j`'s partial result is then `(-1)^j` times the `s = 1` one, bit for
        // bit, and the last one (`j = 5`, odd) times `-r` is `q(r) r` again.
        let coef = |j: usize| {
            if NEG && j % 2 == 1 {
                -EXP_POLY[j]
            } else {
                EXP_POLY[j]
            }
        };
        let mut p = [_mm256_set1_ps(coef(0)); N];
        for j in 1..EXP_POLY.len() {
            for (p, r) in p.iter_mut().zip(&r) {
                *p = _mm256_fmadd_ps(*p, *r, _mm256_set1_ps(coef(j)));
            }
        }
        let mut e_r = p;
        for (e, r) in e_r.iter_mut().zip(&r) {
            *e = _mm256_fmadd_ps(*e, *r, _mm256_set1_ps(1.0));
        }
        let mut pow2n = t;
        for p in &mut pow2n {
            *p = _mm256_castsi256_ps(_mm256_slli_epi32::<23>(_mm256_castps_si256(*p)));
        }
        (e_r, pow2n)
    }
}

/// `1 + exp(-x)` of `N` vectors: [`exp_parts`] of `-x`, the product and the add fused.
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[inline(always)]
unsafe fn one_plus_exp_neg_n<const N: usize>(x: [__m256; N]) -> [__m256; N] {
    // SAFETY (whole function): AVX2+FMA intrinsics on registers only.
    unsafe {
        let (e_r, pow2n) = exp_parts::<N, true>(x);
        let mut out = e_r;
        for (o, p) in out.iter_mut().zip(pow2n) {
            *o = _mm256_fmadd_ps(*o, p, _mm256_set1_ps(1.0));
        }
        out
    }
}

/// `1 / (1 + exp(-x))`.
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[inline(always)]
pub unsafe fn sigmoid(x: __m256) -> __m256 {
    // SAFETY: forwarded contract.
    unsafe { sigmoid_n([x])[0] }
}

/// [`sigmoid`] of `N` interleaved vectors (see [`exp_n`]).
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[inline(always)]
pub unsafe fn sigmoid_n<const N: usize>(x: [__m256; N]) -> [__m256; N] {
    // SAFETY: forwarded contract.
    unsafe {
        let one = _mm256_set1_ps(1.0);
        let mut out = one_plus_exp_neg_n(x);
        for o in &mut out {
            *o = _mm256_div_ps(one, *o);
        }
        out
    }
}

/// `x / (1 + exp(-x))` (SiLU, one division).
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[inline(always)]
pub unsafe fn silu(x: __m256) -> __m256 {
    // SAFETY: forwarded contract.
    unsafe { silu_n([x])[0] }
}

/// [`silu`] of `N` interleaved vectors (see [`exp_n`]).
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[inline(always)]
pub unsafe fn silu_n<const N: usize>(x: [__m256; N]) -> [__m256; N] {
    // SAFETY: forwarded contract.
    unsafe {
        let d = one_plus_exp_neg_n(x);
        let mut out = x;
        for (o, d) in out.iter_mut().zip(d) {
            *o = _mm256_div_ps(*o, d);
        }
        out
    }
}

/// `relu6(x + 3) / 6`, in the same operation order as [`Activation::apply`].
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[inline(always)]
pub unsafe fn hard_sigmoid(x: __m256) -> __m256 {
    let t = _mm256_add_ps(x, _mm256_set1_ps(3.0));
    let t = _mm256_min_ps(_mm256_max_ps(t, _mm256_setzero_ps()), _mm256_set1_ps(6.0));
    _mm256_mul_ps(t, _mm256_set1_ps(1.0 / 6.0))
}

/// `max(x, 0)`.
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[inline(always)]
pub unsafe fn relu(x: __m256) -> __m256 {
    _mm256_max_ps(x, _mm256_setzero_ps())
}

/// Applies `act` to `N` vectors, interleaved where that pays (SiLU, sigmoid: see [`exp_n`]).
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[inline(always)]
pub unsafe fn activate_n<const N: usize>(act: Activation, x: [__m256; N]) -> [__m256; N] {
    // SAFETY (all arms): forwarded contract.
    unsafe {
        match act {
            Activation::Identity => x,
            Activation::Silu => silu_n(x),
            Activation::Sigmoid => sigmoid_n(x),
            Activation::Relu | Activation::HardSigmoid => {
                let mut x = x;
                for v in &mut x {
                    *v = activate(act, *v);
                }
                x
            }
        }
    }
}

/// Applies `act` to 8 lanes.
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[inline(always)]
pub unsafe fn activate(act: Activation, x: __m256) -> __m256 {
    match act {
        Activation::Identity => x,
        Activation::Relu => relu(x),
        Activation::Silu => silu(x),
        Activation::HardSigmoid => hard_sigmoid(x),
        Activation::Sigmoid => sigmoid(x),
    }
}

/// Applies `act` to every element of `data` with the vector code (tails through a padded
/// temporary, so every element sees the same math). Used by tests and by simple in-place kernels.
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
#[cfg(test)]
pub unsafe fn activate_slice(act: Activation, data: &mut [f32]) {
    let mut chunks = data.chunks_exact_mut(8);
    for chunk in &mut chunks {
        // SAFETY: chunk has exactly 8 floats; unaligned load/store.
        unsafe {
            let v = _mm256_loadu_ps(chunk.as_ptr());
            _mm256_storeu_ps(chunk.as_mut_ptr(), activate(act, v));
        }
    }
    let tail = chunks.into_remainder();
    if !tail.is_empty() {
        let mut buf = [0.0f32; 8];
        buf[..tail.len()].copy_from_slice(tail);
        // SAFETY: buf has 8 floats.
        unsafe {
            let v = _mm256_loadu_ps(buf.as_ptr());
            _mm256_storeu_ps(buf.as_mut_ptr(), activate(act, v));
        }
        tail.copy_from_slice(&buf[..tail.len()]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid() -> Vec<f32> {
        let mut xs: Vec<f32> = (-2000..=2000).map(|i| i as f32 * 0.01).collect();
        xs.extend([
            -100.0, -88.0, -87.0, -50.0, 50.0, 87.0, 88.0, 100.0, 0.0, -0.0, 1e-8, -1e-8,
        ]);
        xs
    }

    #[test]
    fn vector_activations_match_f64() {
        if !crate::isa::avx2_fma_detected() {
            return;
        }
        for act in Activation::ALL {
            let xs = grid();
            let mut ys = xs.clone();
            // SAFETY: AVX2+FMA detected above.
            unsafe { activate_slice(act, &mut ys) };
            for (&x, &y) in xs.iter().zip(&ys) {
                let r = act.apply_f64(x as f64);
                let err = (y as f64 - r).abs();
                let bound = crate::tolerance::ACT_REL * r.abs() + 1e-30;
                assert!(
                    err <= bound,
                    "{act:?}({x}) = {y}, expected {r} (err {err:e} > {bound:e})"
                );
            }
        }
    }

    /// SiLU and sigmoid as computed before the negation was folded into `exp_parts` and the
    /// `1 +` into its last FMA: `0 - x`, [`exp_n`] (clamped to `-x <= 88`), an add, the divide.
    unsafe fn unfused(act: Activation, x: __m256) -> __m256 {
        // SAFETY: forwarded contract (AVX2+FMA code).
        unsafe {
            let one = _mm256_set1_ps(1.0);
            let d = _mm256_add_ps(one, exp_n([_mm256_sub_ps(_mm256_setzero_ps(), x)])[0]);
            match act {
                Activation::Silu => _mm256_div_ps(x, d),
                _ => _mm256_div_ps(one, d),
            }
        }
    }

    /// Checks, for the f32 values whose bit patterns are `start, start + step, ...` (at most
    /// `count` of them, none past `u32::MAX`), that the folded SiLU and sigmoid give the unfused
    /// ones' bits (any NaN for a NaN).
    #[target_feature(enable = "avx2,fma")]
    unsafe fn check_folded_is_exact(start: u32, step: u32, count: u64) {
        let end = (start as u64).saturating_add((step as u64).saturating_mul(count));
        let end = end.min(u32::MAX as u64 + 1);
        let mut bits = start as u64;
        let mut lanes = [0.0f32; 8];
        let mut i = 0;
        let check = |xs: &[f32; 8]| {
            for act in [Activation::Silu, Activation::Sigmoid] {
                let (mut got, mut want) = ([0.0f32; 8], [0.0f32; 8]);
                // SAFETY: AVX2+FMA code (this function's features); 8-float buffers.
                unsafe {
                    let v = _mm256_loadu_ps(xs.as_ptr());
                    _mm256_storeu_ps(got.as_mut_ptr(), activate(act, v));
                    _mm256_storeu_ps(want.as_mut_ptr(), unfused(act, v));
                }
                for ((x, g), w) in xs.iter().zip(got).zip(want) {
                    // Below -88 the clamp differs on purpose (see `exp_parts`): there the
                    // conformance suite's special values check SiLU -0 and sigmoid 0.
                    if *x < -88.0 {
                        continue;
                    }
                    assert!(
                        g.to_bits() == w.to_bits() || (g.is_nan() && w.is_nan()),
                        "{act:?}({x:e}): folded {g:e}, unfused {w:e}"
                    );
                }
            }
        };
        while bits < end {
            lanes[i] = f32::from_bits(bits as u32);
            i += 1;
            if i == 8 {
                check(&lanes);
                i = 0;
            }
            bits += step as u64;
        }
        check(&lanes);
    }

    /// The folded negation and the fused `1 + e` are exact rewrites (for `x >= -88`, where the
    /// clamp is the same): every 4099th f32 bit pattern (about a million values: both signs, zeros, denormals, the clamp ranges, the
    /// infinities and NaNs), plus the edges, gives the unfused form's bits.
    #[test]
    fn folded_silu_and_sigmoid_are_exact() {
        if !crate::isa::avx2_fma_detected() {
            return;
        }
        // SAFETY: AVX2+FMA detected above.
        unsafe {
            check_folded_is_exact(0, 4099, u64::MAX);
            check_folded_is_exact(1, 4099 * 7, u64::MAX);
            for edge in [
                0.0f32, -0.0, 16.6, -16.6, 87.336_54, -87.336_54, 88.0, -88.0, 100.0,
            ] {
                check_folded_is_exact(edge.to_bits().saturating_sub(512), 1, 1024);
            }
        }
    }

    /// [`folded_silu_and_sigmoid_are_exact`] over all 2^32 f32 values (a minute in a release
    /// build: `cargo test --release -p ghost-kernels --lib folded -- --ignored`).
    #[test]
    #[ignore]
    fn folded_silu_and_sigmoid_are_exact_everywhere() {
        if !crate::isa::avx2_fma_detected() {
            return;
        }
        // SAFETY: AVX2+FMA detected above.
        unsafe { check_folded_is_exact(0, 1, u64::MAX) };
    }

    #[test]
    fn exp_is_accurate() {
        if !crate::isa::avx2_fma_detected() {
            return;
        }
        let xs: Vec<f32> = (-870..=880).map(|i| i as f32 * 0.1).collect();
        for chunk in xs.chunks(8) {
            let mut buf = [0.0f32; 8];
            buf[..chunk.len()].copy_from_slice(chunk);
            let mut out = [0.0f32; 8];
            // SAFETY: AVX2+FMA detected above; buffers hold 8 floats.
            unsafe {
                _mm256_storeu_ps(out.as_mut_ptr(), exp(_mm256_loadu_ps(buf.as_ptr())));
            }
            for (&x, &y) in chunk.iter().zip(&out) {
                let r = (x as f64).exp();
                assert!(
                    ((y as f64 - r) / r).abs() <= 3.0 * f32::EPSILON as f64,
                    "exp({x}) = {y} vs {r}"
                );
            }
        }
    }
}
