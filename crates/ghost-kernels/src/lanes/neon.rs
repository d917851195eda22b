//! NEON back end of [`Lanes`]: one 8-lane vector is two `float32x4_t` halves (aarch64 has 32
//! 128-bit registers, so the kernels' 8-lane tiles keep fitting in registers).
//!
//! Every operation mirrors the AVX2 back end's: fused multiply-adds, the same exp
//! (`simd::neon::exp_n`), and horizontal reductions paired in the same order (low half + high
//! half, then pairs, then the last two), so a kernel written once over [`Lanes`] gives the
//! AVX2 results on aarch64 up to nothing but instruction selection.

use std::arch::aarch64::*;

use super::{Lanes, LANES};
use crate::act::Activation;

/// NEON 8-lane vector: `.0` lanes 0-3, `.1` lanes 4-7. Valid on every aarch64 CPU.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Neon(pub float32x4_t, pub float32x4_t);

impl Lanes for Neon {
    type Mask = usize;

    #[inline(always)]
    unsafe fn mask(n: usize) -> usize {
        n.min(LANES)
    }
    #[inline(always)]
    unsafe fn splat(v: f32) -> Self {
        Neon(vdupq_n_f32(v), vdupq_n_f32(v))
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        Neon(vld1q_f32(p), vld1q_f32(p.add(4)))
    }
    #[inline(always)]
    unsafe fn load_masked(p: *const f32, n: usize) -> Self {
        // No masked loads on NEON: whole halves where they are fully inside, the rest through a
        // zeroed stack buffer, touching only `p .. p + n`.
        if n >= 4 {
            let mut hi = [0.0f32; 4];
            std::ptr::copy_nonoverlapping(p.add(4), hi.as_mut_ptr(), n - 4);
            Neon(vld1q_f32(p), vld1q_f32(hi.as_ptr()))
        } else {
            let mut lo = [0.0f32; 4];
            std::ptr::copy_nonoverlapping(p, lo.as_mut_ptr(), n);
            Neon(vld1q_f32(lo.as_ptr()), vdupq_n_f32(0.0))
        }
    }
    #[inline(always)]
    unsafe fn store(p: *mut f32, v: Self) {
        vst1q_f32(p, v.0);
        vst1q_f32(p.add(4), v.1);
    }
    #[inline(always)]
    unsafe fn store_masked(p: *mut f32, n: usize, v: Self) {
        let (mut q, mut p, mut n) = (v.0, p, n);
        if n >= 4 {
            vst1q_f32(p, v.0);
            (q, p, n) = (v.1, p.add(4), n - 4);
        }
        if n == 4 {
            vst1q_f32(p, q);
            return;
        }
        if n >= 2 {
            vst1_f32(p, vget_low_f32(q));
            (q, p, n) = (vextq_f32::<2>(q, q), p.add(2), n - 2);
        }
        if n == 1 {
            vst1q_lane_f32::<0>(p, q);
        }
    }
    #[inline(always)]
    unsafe fn mul_add(a: Self, b: Self, c: Self) -> Self {
        Neon(vfmaq_f32(c.0, a.0, b.0), vfmaq_f32(c.1, a.1, b.1))
    }
    #[inline(always)]
    unsafe fn add(a: Self, b: Self) -> Self {
        Neon(vaddq_f32(a.0, b.0), vaddq_f32(a.1, b.1))
    }
    #[inline(always)]
    unsafe fn sub(a: Self, b: Self) -> Self {
        Neon(vsubq_f32(a.0, b.0), vsubq_f32(a.1, b.1))
    }
    #[inline(always)]
    unsafe fn mul(a: Self, b: Self) -> Self {
        Neon(vmulq_f32(a.0, b.0), vmulq_f32(a.1, b.1))
    }
    #[inline(always)]
    unsafe fn div(a: Self, b: Self) -> Self {
        Neon(vdivq_f32(a.0, b.0), vdivq_f32(a.1, b.1))
    }
    #[inline(always)]
    unsafe fn max_nan(a: Self, b: Self) -> Self {
        // FMAX returns NaN when either operand is NaN: PyTorch's max_pool2d semantics directly.
        Neon(vmaxq_f32(a.0, b.0), vmaxq_f32(a.1, b.1))
    }
    #[inline(always)]
    unsafe fn max_fast(a: Self, b: Self) -> Self {
        Neon(vmaxq_f32(a.0, b.0), vmaxq_f32(a.1, b.1))
    }
    #[inline(always)]
    unsafe fn reduce_max(v: Self) -> f32 {
        let m = vmaxq_f32(v.0, v.1);
        let m = vmax_f32(vget_low_f32(m), vget_high_f32(m));
        vpmaxs_f32(m)
    }
    #[inline(always)]
    unsafe fn reduce_add(v: Self) -> f32 {
        // AVX2's order: (lo + hi), then lanes (0 + 2) and (1 + 3), then those two.
        let s = vaddq_f32(v.0, v.1);
        let s = vadd_f32(vget_low_f32(s), vget_high_f32(s));
        vpadds_f32(s)
    }
    #[inline(always)]
    unsafe fn exp(v: Self) -> Self {
        let [a, b] = crate::simd::neon::exp_n([v.0, v.1]);
        Neon(a, b)
    }
    #[inline(always)]
    unsafe fn prefetch(p: *const f32) {
        // SAFETY: a prefetch hint never faults, whatever the address, and has no other effect.
        unsafe {
            std::arch::asm!("prfm pldl1keep, [{}]", in(reg) p, options(nostack, readonly, preserves_flags));
        }
    }
    #[inline(always)]
    unsafe fn rotate(v: Self, k: usize) -> Self {
        let mut a = [0.0f32; LANES];
        Self::store(a.as_mut_ptr(), v);
        let r: [f32; LANES] = std::array::from_fn(|j| a[(j + k) % LANES]);
        Self::load(r.as_ptr())
    }
    #[inline(always)]
    unsafe fn activate(act: Activation, v: Self) -> Self {
        let [a, b] = crate::simd::neon::activate_n(act, [v.0, v.1]);
        Neon(a, b)
    }
    #[inline(always)]
    unsafe fn activate4(act: Activation, v: [Self; 4]) -> [Self; 4] {
        let [a, b, c, d] = v;
        let [a0, a1, b0, b1, c0, c1, d0, d1] =
            crate::simd::neon::activate_n(act, [a.0, a.1, b.0, b.1, c.0, c.1, d.0, d.1]);
        [Neon(a0, a1), Neon(b0, b1), Neon(c0, c1), Neon(d0, d1)]
    }
}
