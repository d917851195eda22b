//! NEON direct kernel for pointwise convolutions with at most 16 output channels (aarch64), the
//! counterpart of the AVX2 `small` module: it takes the same [`SmallPlan`] and is the NEON back
//! end's `pointwise_small` entry.
//!
//! A tile of `P` pixels keeps `P x NQ` accumulators (`NQ` = 4-lane registers per pixel, 1 to 4
//! for 1 to 16 channels; `P x NQ` = 16 to 24 of the 32 registers); each reduction step loads the
//! weight row once and replicates one input value per pixel (`ld1r`), and the epilogue stores
//! exactly `cout` floats. Per output element the arithmetic is the 4x16 microkernel's and the
//! AVX2 kernel's: the bias, one fused multiply-add per input channel in order, the same epilogue.

use std::arch::aarch64::*;
use std::ops::Range;

use super::pack::NR;
use super::small_plan::SmallPlan;
use crate::act::AddOrder;
use crate::simd::neon::{activate_n, load_lanes, store_lanes};

/// Computes output pixels `rows`.
///
/// # Safety
/// The plan must come from views checked by the safe entry point (every pixel in `rows` exists
/// in input, output and residual; the input has `panels.k()` channels, output and residual
/// `panels.n() <= 16`); no other thread may write these pixels.
pub(crate) unsafe fn rows(p: &SmallPlan<'_>, rows: Range<usize>) {
    // SAFETY: forwarded contract.
    unsafe {
        match p.panels.n().div_ceil(4) {
            0 | 1 => run::<1, 16>(p, rows),
            2 => run::<2, 12>(p, rows),
            3 => run::<3, 8>(p, rows),
            _ => run::<4, 6>(p, rows),
        }
    }
}

#[inline(always)]
unsafe fn run<const NQ: usize, const P: usize>(p: &SmallPlan<'_>, rows: Range<usize>) {
    let mut q = rows.start;
    while q + P <= rows.end {
        // SAFETY: forwarded contract.
        unsafe { tile::<NQ, P>(p, q) };
        q += P;
    }
    while q < rows.end {
        // SAFETY: forwarded contract.
        unsafe { tile::<NQ, 1>(p, q) };
        q += 1;
    }
}

/// Output pixels `q0 .. q0 + P`.
#[inline(always)]
unsafe fn tile<const NQ: usize, const P: usize>(p: &SmallPlan<'_>, q0: usize) {
    // SAFETY (whole function): the plan's contract; the panel has `1 + k` rows of 16 floats, and
    // the epilogue reads and writes exactly `n` floats per pixel.
    unsafe {
        let panel = p.panels.panel(0);
        let k = p.panels.k();
        let n = p.panels.n();
        let bias = panel[0].0.as_ptr();
        let mut acc: [[float32x4_t; NQ]; P] =
            [std::array::from_fn(|v| vld1q_f32(bias.add(4 * v))); P];
        let x0 = p.input.add(q0 * p.in_stride);
        let w = panel[1..].as_ptr() as *const f32;
        for kk in 0..k {
            let wr = w.add(kk * NR);
            let mut b = [vdupq_n_f32(0.0); NQ];
            for (v, b) in b.iter_mut().enumerate() {
                *b = vld1q_f32(wr.add(4 * v));
            }
            for (t, a) in acc.iter_mut().enumerate() {
                let x = vld1q_dup_f32(x0.add(t * p.in_stride + kk));
                for v in 0..NQ {
                    a[v] = vfmaq_f32(a[v], b[v], x);
                }
            }
        }
        for (t, mut a) in acc.into_iter().enumerate() {
            let q = q0 + t;
            let out = p.output.add(q * p.out_stride);
            let res = p.residual.wrapping_add(q * p.res_stride);
            let lanes = |v: usize| n.saturating_sub(4 * v).min(4);
            let mut r = [vdupq_n_f32(0.0); NQ];
            if p.finish.order.is_some() {
                for (v, r) in r.iter_mut().enumerate() {
                    *r = load_lanes(res.add(4 * v), lanes(v));
                }
            }
            if p.finish.order == Some(AddOrder::BeforeActivation) {
                for (a, r) in a.iter_mut().zip(r) {
                    *a = vaddq_f32(*a, r);
                }
            }
            a = activate_n(p.finish.act, a);
            if p.finish.order == Some(AddOrder::AfterActivation) {
                for (a, r) in a.iter_mut().zip(r) {
                    *a = vaddq_f32(*a, r);
                }
            }
            for (v, a) in a.into_iter().enumerate() {
                store_lanes(out.wrapping_add(4 * v), a, lanes(v));
            }
        }
    }
}
