//! NEON vector math over `float32x4_t` (aarch64; NEON and its fused multiply-add are part of the
//! base architecture, so nothing here needs run-time detection).
//!
//! The algorithms are those of `simd::avx2`, operation for operation: the same clamp, the
//! same magic-constant rounding, the same two-step Cody-Waite reduction and degree-6 polynomial,
//! a true division for SiLU and sigmoid. Every AVX2 FMA is a NEON FMLA (both round once), so a
//! lane gets the bits the AVX2 code gives it. The functions are `unsafe` only because the
//! `std::arch` intrinsics are; they have no CPU requirement on aarch64.

use std::arch::aarch64::*;

use crate::act::Activation;

/// `1.5 * 2^23 + 127` (see `simd::avx2::exp_n`).
const EXP_MAGIC: f32 = 12_583_039.0;

/// `exp(x)` on 4 lanes (see [`exp_n`]).
///
/// # Safety
/// None beyond the intrinsics' (aarch64 only).
#[cfg(test)]
#[inline(always)]
pub unsafe fn exp(x: float32x4_t) -> float32x4_t {
    // SAFETY: forwarded contract.
    unsafe { exp_n([x])[0] }
}

/// `exp` of `N` vectors, each step issued for all `N` before the next so that the out-of-order
/// core overlaps the `N` dependency chains. Relative error <= 2 ulp on `[-87.3, 88]`; inputs are
/// clamped to that range, exactly as the AVX2 version.
///
/// # Safety
/// None beyond the intrinsics' (aarch64 only).
#[inline(always)]
pub unsafe fn exp_n<const N: usize>(x: [float32x4_t; N]) -> [float32x4_t; N] {
    // SAFETY: forwarded contract.
    unsafe { exp_n_upto(x, 88.0) }
}

/// [`exp_n`] with the argument clamped to `[-87.34, hi]`. SiLU and sigmoid take `hi = 89`, as
/// the AVX2 code does (`simd::avx2::exp_parts`): `n = 128` then makes `2^n` +inf, so
/// `1 + exp(-x)` is +inf for `x < -88.38`, SiLU -0 and sigmoid 0 (with 88, SiLU(-1e30) was
/// -6e-9 and SiLU(-f32::MAX) -2.06).
///
/// # Safety
/// None beyond the intrinsics' (aarch64 only).
#[inline(always)]
unsafe fn exp_n_upto<const N: usize>(x: [float32x4_t; N], hi: f32) -> [float32x4_t; N] {
    // SAFETY (whole function): NEON intrinsics on registers only.
    unsafe {
        let (lo, hi) = (vdupq_n_f32(-87.336_54), vdupq_n_f32(hi));
        let mut x = x;
        for v in &mut x {
            // AVX2: min(hi, max(lo, x)); FMIN/FMAX propagate a NaN `x` like vminps/vmaxps with
            // `x` as the second operand do.
            *v = vminq_f32(hi, vmaxq_f32(lo, *v));
        }
        // n = round(x log2 e) in the low mantissa bits of t, 2^n's biased exponent above them.
        let magic = vdupq_n_f32(EXP_MAGIC);
        let log2e = vdupq_n_f32(std::f32::consts::LOG2_E);
        let mut t = x;
        for t in &mut t {
            *t = vfmaq_f32(magic, *t, log2e);
        }
        let mut n = t;
        for n in &mut n {
            *n = vsubq_f32(*n, magic);
        }
        // r = x - n ln2, ln2 = 0.693359375 - 2.12194440e-4 (fnmadd(n, c, r) = r - n c).
        let mut r = x;
        for (r, n) in r.iter_mut().zip(&n) {
            *r = vfmsq_f32(*r, *n, vdupq_n_f32(0.693_359_4));
        }
        for (r, n) in r.iter_mut().zip(&n) {
            *r = vfmsq_f32(*r, *n, vdupq_n_f32(-2.121_944_4e-4));
        }
        let mut p = [vdupq_n_f32(1.987_569_1e-4); N];
        for c in [1.398_2e-3, 8.333_452e-3, 4.166_579_6e-2, 0.166_666_65, 0.5] {
            for (p, r) in p.iter_mut().zip(&r) {
                *p = vfmaq_f32(vdupq_n_f32(c), *p, *r);
            }
        }
        let mut out = p;
        for ((o, r), t) in out.iter_mut().zip(&r).zip(&t) {
            let r2 = vmulq_f32(*r, *r);
            let e_r = vaddq_f32(vfmaq_f32(*r, *o, r2), vdupq_n_f32(1.0));
            let pow2n = vreinterpretq_f32_s32(vshlq_n_s32::<23>(vreinterpretq_s32_f32(*t)));
            *o = vmulq_f32(e_r, pow2n);
        }
        out
    }
}

/// `0 - x` on every vector (as the AVX2 versions compute the SiLU and sigmoid argument).
#[inline(always)]
unsafe fn negate<const N: usize>(mut x: [float32x4_t; N]) -> [float32x4_t; N] {
    for v in &mut x {
        // SAFETY: register-only intrinsics.
        *v = unsafe { vsubq_f32(vdupq_n_f32(0.0), *v) };
    }
    x
}

/// `1 / (1 + exp(-x))` on `N` interleaved vectors.
///
/// # Safety
/// None beyond the intrinsics' (aarch64 only).
#[inline(always)]
pub unsafe fn sigmoid_n<const N: usize>(x: [float32x4_t; N]) -> [float32x4_t; N] {
    // SAFETY: register-only intrinsics.
    unsafe {
        let one = vdupq_n_f32(1.0);
        let mut out = exp_n_upto(negate(x), 89.0);
        for o in &mut out {
            *o = vdivq_f32(one, vaddq_f32(one, *o));
        }
        out
    }
}

/// `x / (1 + exp(-x))` (SiLU, one division) on `N` interleaved vectors.
///
/// # Safety
/// None beyond the intrinsics' (aarch64 only).
#[inline(always)]
pub unsafe fn silu_n<const N: usize>(x: [float32x4_t; N]) -> [float32x4_t; N] {
    // SAFETY: register-only intrinsics.
    unsafe {
        let one = vdupq_n_f32(1.0);
        let e = exp_n_upto(negate(x), 89.0);
        let mut out = x;
        for (o, e) in out.iter_mut().zip(e) {
            *o = vdivq_f32(*o, vaddq_f32(one, e));
        }
        out
    }
}

/// x86's `maxps(a, b)`: `a` if `a > b`, else `b` (so `b` when either is NaN, and `b` for equal
/// zeros). FMAX would return the NaN; the cheap activations use this form so that NaN and signed
/// zero inputs get the AVX2 back end's answers.
#[inline(always)]
unsafe fn max_x86(a: float32x4_t, b: float32x4_t) -> float32x4_t {
    // SAFETY: register-only intrinsics.
    unsafe { vbslq_f32(vcgtq_f32(a, b), a, b) }
}

/// x86's `minps(a, b)`: `a` if `a < b`, else `b`.
#[inline(always)]
unsafe fn min_x86(a: float32x4_t, b: float32x4_t) -> float32x4_t {
    // SAFETY: register-only intrinsics.
    unsafe { vbslq_f32(vcltq_f32(a, b), a, b) }
}

/// `relu6(x + 3) / 6`, in the same operation order as [`Activation::apply`].
///
/// # Safety
/// None beyond the intrinsics' (aarch64 only).
#[inline(always)]
pub unsafe fn hard_sigmoid(x: float32x4_t) -> float32x4_t {
    // SAFETY: register-only intrinsics.
    unsafe {
        let t = vaddq_f32(x, vdupq_n_f32(3.0));
        let t = min_x86(max_x86(t, vdupq_n_f32(0.0)), vdupq_n_f32(6.0));
        vmulq_f32(t, vdupq_n_f32(1.0 / 6.0))
    }
}

/// `max(x, 0)` as x86 computes it (0 for NaN and for -0.0).
///
/// # Safety
/// None beyond the intrinsics' (aarch64 only).
#[inline(always)]
pub unsafe fn relu(x: float32x4_t) -> float32x4_t {
    // SAFETY: register-only intrinsics.
    unsafe { max_x86(x, vdupq_n_f32(0.0)) }
}

/// Applies `act` to `N` vectors, SiLU and sigmoid interleaved (see [`exp_n`]).
///
/// # Safety
/// None beyond the intrinsics' (aarch64 only).
#[inline(always)]
pub unsafe fn activate_n<const N: usize>(act: Activation, x: [float32x4_t; N]) -> [float32x4_t; N] {
    // SAFETY (all arms): forwarded contract.
    unsafe {
        match act {
            Activation::Identity => x,
            Activation::Silu => silu_n(x),
            Activation::Sigmoid => sigmoid_n(x),
            Activation::Relu => x.map(|v| relu(v)),
            Activation::HardSigmoid => x.map(|v| hard_sigmoid(v)),
        }
    }
}

/// Applies `act` to 4 lanes.
///
/// # Safety
/// None beyond the intrinsics' (aarch64 only).
#[cfg(test)]
#[inline(always)]
pub unsafe fn activate(act: Activation, x: float32x4_t) -> float32x4_t {
    // SAFETY: forwarded contract.
    unsafe { activate_n(act, [x])[0] }
}

/// Applies `act` to every element of `data` with the vector code (the tail through a padded
/// temporary, so every element sees the same math). Used by the tests.
#[cfg(test)]
pub fn activate_slice(act: Activation, data: &mut [f32]) {
    let mut chunks = data.chunks_exact_mut(4);
    for chunk in &mut chunks {
        // SAFETY: the chunk holds exactly 4 floats.
        unsafe { vst1q_f32(chunk.as_mut_ptr(), activate(act, vld1q_f32(chunk.as_ptr()))) };
    }
    let tail = chunks.into_remainder();
    if !tail.is_empty() {
        let mut buf = [0.0f32; 4];
        buf[..tail.len()].copy_from_slice(tail);
        // SAFETY: buf holds 4 floats.
        unsafe { vst1q_f32(buf.as_mut_ptr(), activate(act, vld1q_f32(buf.as_ptr()))) };
        tail.copy_from_slice(&buf[..tail.len()]);
    }
}

/// Loads `n <= 4` floats, zero in the other lanes (nothing read for `n = 0`). NEON has no
/// masked loads: a partial vector goes through a zeroed stack buffer.
///
/// # Safety
/// `p` valid for `n` reads.
#[inline(always)]
pub(crate) unsafe fn load_lanes(p: *const f32, n: usize) -> float32x4_t {
    // SAFETY: reads only `p .. p + n` (the caller's contract).
    unsafe {
        if n == 4 {
            return vld1q_f32(p);
        }
        let mut buf = [0.0f32; 4];
        std::ptr::copy_nonoverlapping(p, buf.as_mut_ptr(), n);
        vld1q_f32(buf.as_ptr())
    }
}

/// Stores the first `n <= 4` lanes of `v` (nothing written for `n = 0`): a whole register, or a
/// lane pair and / or one lane (NEON has no masked stores).
///
/// # Safety
/// `p` valid for `n` writes.
#[inline(always)]
pub(crate) unsafe fn store_lanes(p: *mut f32, v: float32x4_t, n: usize) {
    // SAFETY: writes only `p .. p + n` (the caller's contract).
    unsafe {
        match n {
            4 => vst1q_f32(p, v),
            3 => {
                vst1_f32(p, vget_low_f32(v));
                vst1q_lane_f32::<2>(p.add(2), v);
            }
            2 => vst1_f32(p, vget_low_f32(v)),
            1 => vst1q_lane_f32::<0>(p, v),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vector_activations_match_f64() {
        let mut xs: Vec<f32> = (-2000..=2000).map(|i| i as f32 * 0.01).collect();
        xs.extend([
            -100.0, -88.0, -87.0, -50.0, 50.0, 87.0, 88.0, 100.0, 0.0, -0.0, 1e-8, -1e-8,
        ]);
        for act in Activation::ALL {
            let mut ys = xs.clone();
            activate_slice(act, &mut ys);
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

    #[test]
    fn exp_is_accurate() {
        for i in -870..=880 {
            let x = i as f32 * 0.1;
            let mut out = [0.0f32; 4];
            // SAFETY: 4-float buffer.
            unsafe { vst1q_f32(out.as_mut_ptr(), exp(vdupq_n_f32(x))) };
            let r = (x as f64).exp();
            assert!(
                ((out[0] as f64 - r) / r).abs() <= 3.0 * f32::EPSILON as f64,
                "exp({x}) = {} vs {r}",
                out[0]
            );
        }
    }

    #[test]
    fn relu_of_nan_is_zero_like_x86() {
        let mut v = [f32::NAN, -1.0, 2.0, -0.0];
        activate_slice(Activation::Relu, &mut v);
        assert_eq!(
            v.map(f32::to_bits),
            [0.0f32, 0.0, 2.0, 0.0].map(f32::to_bits)
        );
    }
}
