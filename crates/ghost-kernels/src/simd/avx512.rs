//! AVX-512 vector math over `__m512` (16 lanes): the SiLU and sigmoid of [`super::avx2`], bit
//! for bit, in fewer instructions.
//!
//! Every function is `#[inline(always)]` and `unsafe`: it must only be called from code compiled
//! with `#[target_feature(enable = "avx2,fma,avx512f,avx512vl")]` after the caller has
//! checked that the CPU has them (`crate::isa::avx512_vnni_detected`).
//!
//! The operations are the AVX2 code's (`avx2::exp_parts::<N, true>`, then the fused `1 + e_r
//! 2^n` and the divide), so the results are its bits (`tests` checks all 2^32 inputs); the gain
//! is in how they run: each instruction does 16 lanes, and the 32 zmm registers hold four
//! interleaved chains and every constant, where the AVX2 code, with 16 ymm registers, reloads
//! constants and spills. Tried: `vscalefps` for the `2^n` step (then `1 +` is an add: the same
//! count, and it gives `e_r 2^128` finite where the shift's +inf is wanted, see `exp_parts`);
//! `vrangeps` as a one-instruction clamp (`sign(x) min(|x|, 89)`), which returns 89 for a NaN
//! `x`: sigmoid(NaN) came out as 1.

use core::arch::x86_64::*;

use super::avx2::{EXP_MAGIC, EXP_POLY};
use crate::act::Activation;

/// `1 + exp(-x)` of `N` vectors, the steps of `avx2::exp_parts::<N, true>` (negation folded into
/// the constants, `x` clamped to [-89, 87.34]) and the fused `1 + e_r 2^n`.
///
/// # Safety
/// The CPU must support AVX-512 F.
#[inline(always)]
unsafe fn one_plus_exp_neg_n<const N: usize>(x: [__m512; N]) -> [__m512; N] {
    // SAFETY (whole function): AVX-512 F intrinsics on registers only.
    unsafe {
        // The AVX2 clamp (`vmaxps` / `vminps` return a NaN `x`, their second operand).
        let (lo, hi) = (_mm512_set1_ps(-89.0), _mm512_set1_ps(87.336_54));
        let mut x = x;
        for v in &mut x {
            *v = _mm512_min_ps(hi, _mm512_max_ps(lo, *v));
        }
        let magic = _mm512_set1_ps(EXP_MAGIC);
        let neg_log2e = _mm512_set1_ps(-std::f32::consts::LOG2_E);
        let mut t = x;
        for t in &mut t {
            *t = _mm512_fmadd_ps(*t, neg_log2e, magic);
        }
        let mut n = t;
        for n in &mut n {
            *n = _mm512_sub_ps(*n, magic);
        }
        let mut r = x;
        for (r, n) in r.iter_mut().zip(&n) {
            *r = _mm512_fmadd_ps(*n, _mm512_set1_ps(0.693_359_4), *r);
        }
        for (r, n) in r.iter_mut().zip(&n) {
            *r = _mm512_fmadd_ps(*n, _mm512_set1_ps(-2.121_944_4e-4), *r);
        }
        let coef = |j: usize| {
            if j % 2 == 1 {
                -EXP_POLY[j]
            } else {
                EXP_POLY[j]
            }
        };
        let mut p = [_mm512_set1_ps(coef(0)); N];
        for j in 1..EXP_POLY.len() {
            for (p, r) in p.iter_mut().zip(&r) {
                *p = _mm512_fmadd_ps(*p, *r, _mm512_set1_ps(coef(j)));
            }
        }
        let one = _mm512_set1_ps(1.0);
        for ((p, r), t) in p.iter_mut().zip(&r).zip(&t) {
            let e_r = _mm512_fmadd_ps(*p, *r, one);
            let pow2n = _mm512_castsi512_ps(_mm512_slli_epi32::<23>(_mm512_castps_si512(*t)));
            *p = _mm512_fmadd_ps(e_r, pow2n, one);
        }
        p
    }
}

/// `x / (1 + exp(-x))` of `N` interleaved vectors (one division each).
///
/// # Safety
/// The CPU must support AVX-512 F.
#[inline(always)]
pub unsafe fn silu_n<const N: usize>(x: [__m512; N]) -> [__m512; N] {
    // SAFETY: forwarded contract.
    unsafe {
        let d = one_plus_exp_neg_n(x);
        let mut out = x;
        for (o, d) in out.iter_mut().zip(d) {
            *o = _mm512_div_ps(*o, d);
        }
        out
    }
}

/// `1 / (1 + exp(-x))` of `N` interleaved vectors.
///
/// # Safety
/// The CPU must support AVX-512 F.
#[inline(always)]
pub unsafe fn sigmoid_n<const N: usize>(x: [__m512; N]) -> [__m512; N] {
    // SAFETY: forwarded contract.
    unsafe {
        let one = _mm512_set1_ps(1.0);
        let mut out = one_plus_exp_neg_n(x);
        for o in &mut out {
            *o = _mm512_div_ps(one, *o);
        }
        out
    }
}

/// Applies `act` to `N` vectors, in the AVX2 operation order (`avx2::activate`), so every lane
/// gets the AVX2 back end's bits.
///
/// # Safety
/// The CPU must support AVX-512 F.
#[inline(always)]
pub unsafe fn activate_n<const N: usize>(act: Activation, x: [__m512; N]) -> [__m512; N] {
    // SAFETY (all arms): forwarded contract; register-only intrinsics.
    unsafe {
        let mut x = x;
        match act {
            Activation::Identity => {}
            Activation::Silu => x = silu_n(x),
            Activation::Sigmoid => x = sigmoid_n(x),
            Activation::Relu => {
                for v in &mut x {
                    *v = _mm512_max_ps(*v, _mm512_setzero_ps());
                }
            }
            Activation::HardSigmoid => {
                for v in &mut x {
                    let t = _mm512_add_ps(*v, _mm512_set1_ps(3.0));
                    let t =
                        _mm512_min_ps(_mm512_max_ps(t, _mm512_setzero_ps()), _mm512_set1_ps(6.0));
                    *v = _mm512_mul_ps(t, _mm512_set1_ps(1.0 / 6.0));
                }
            }
        }
        x
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Checks, for the f32 values whose bit patterns are `start, start + step, ...` (at most
    /// `count`), that every activation gives the AVX2 code's bits (any NaN for a NaN).
    #[target_feature(enable = "avx2,fma,avx512f,avx512vl")]
    unsafe fn check_matches_avx2(start: u32, step: u32, count: u64) {
        let end = (start as u64).saturating_add((step as u64).saturating_mul(count));
        let end = end.min(u32::MAX as u64 + 1);
        let mut xs = [0.0f32; 16];
        let mut i = 0;
        let mut bits = start as u64;
        let check = |xs: &[f32; 16]| {
            for act in Activation::ALL {
                let (mut got, mut want) = ([0.0f32; 16], [0.0f32; 16]);
                // SAFETY: this function's features; 16-float buffers.
                unsafe {
                    let [v] = activate_n(act, [_mm512_loadu_ps(xs.as_ptr())]);
                    _mm512_storeu_ps(got.as_mut_ptr(), v);
                    for h in 0..2 {
                        let v = _mm256_loadu_ps(xs.as_ptr().add(8 * h));
                        let v = crate::simd::avx2::activate(act, v);
                        _mm256_storeu_ps(want.as_mut_ptr().add(8 * h), v);
                    }
                }
                for ((x, g), w) in xs.iter().zip(got).zip(want) {
                    assert!(
                        g.to_bits() == w.to_bits() || (g.is_nan() && w.is_nan()),
                        "{act:?}({x:e}): avx512 {g:e}, avx2 {w:e}"
                    );
                }
            }
        };
        while bits < end {
            xs[i] = f32::from_bits(bits as u32);
            i += 1;
            if i == 16 {
                check(&xs);
                i = 0;
            }
            bits += step as u64;
        }
        check(&xs);
    }

    /// Every 4099th f32 bit pattern (about a million values: both signs, zeros, denormals, the
    /// clamp ranges, the infinities and NaNs) and every value near the clamp bounds and the
    /// point where `1 + exp(-x)` becomes 1: the AVX-512 activations give the AVX2 bits.
    #[test]
    fn activations_match_avx2_bitwise() {
        if !crate::isa::avx512_vnni_detected() {
            return;
        }
        // SAFETY: the features were detected above.
        unsafe {
            check_matches_avx2(0, 4099, u64::MAX);
            check_matches_avx2(3, 4099 * 5, u64::MAX);
            for edge in [
                0.0f32, -0.0, 16.6, -16.6, 87.336_54, -87.336_54, 88.0, -88.0, 89.0, -89.0,
            ] {
                check_matches_avx2(edge.to_bits().saturating_sub(1024), 1, 2048);
            }
        }
    }

    /// [`activations_match_avx2_bitwise`] over all 2^32 f32 values (a minute or two in a
    /// release build: `cargo test -p ghost-kernels --lib match_avx2 -- --ignored`).
    #[test]
    #[ignore]
    fn activations_match_avx2_bitwise_everywhere() {
        if !crate::isa::avx512_vnni_detected() {
            return;
        }
        // SAFETY: the features were detected above.
        unsafe { check_matches_avx2(0, 1, u64::MAX) };
    }
}
