//! AVX2 + FMA direct kernel for pointwise convolutions with at most 16 output channels
//! (GhostNet width 0.25: 4->2, 4->6, 12->3 ... at 320x320 and 160x160).
//!
//! The GEMM driver costs too much there: per block it builds pointer tables for every pixel,
//! and with `nr < 16` every tile row ends in masked stores (`vmaskmovps` stores are
//! microcoded on Zen, over 10 cycles each), which dominate when a pixel has only a few
//! multiply-adds. This kernel walks pixels straight from the views' base pointers and pixel
//! strides: a tile of `P` pixels keeps `P x NV` accumulators (`NV` = 1 vector for `cout <= 8`,
//! 2 for `cout <= 16`), each reduction step loads the weight row once and broadcasts one input
//! value per pixel, and the epilogue stores exactly `cout` floats with plain 256/128/64/32-bit
//! stores.
//!
//! Per output element the arithmetic is the one of the 6x16 / 12x8 microkernels: start from the
//! bias, one FMA per input channel in channel order, then the same vector epilogue. Pixels never
//! interact, so the result is independent of tiling and thread split.

use std::arch::x86_64::*;
use std::ops::Range;

use super::pack::NR;
use super::small_plan::SmallPlan;
use crate::act::AddOrder;
use crate::simd::avx2::activate;

/// Computes output pixels `rows`.
///
/// # Safety
/// The plan must come from views checked by the safe entry point (every pixel in `rows` exists
/// in input, output and residual; the input has `panels.k()` channels, output and residual
/// `panels.n() <= 16`); no other thread may write these pixels; the CPU must support AVX2+FMA.
#[target_feature(enable = "avx2,fma")]
pub(crate) unsafe fn rows(p: &SmallPlan<'_>, rows: Range<usize>) {
    // SAFETY: forwarded contract; the target features are enabled on this function.
    unsafe {
        if p.panels.n() <= 8 {
            run::<1, 12>(p, rows)
        } else {
            run::<2, 6>(p, rows)
        }
    }
}

/// [`rows`] compiled with AVX-512 F and VL enabled (the AVX-512 back end's entry): the same
/// operations, so the same bits, with 32 vector registers for the SiLU epilogue.
///
/// # Safety
/// As [`rows`]; the CPU must also support AVX-512 F and VL.
#[target_feature(enable = "avx2,fma,avx512f,avx512vl")]
pub(crate) unsafe fn rows_avx512(p: &SmallPlan<'_>, rows: Range<usize>) {
    // SAFETY: forwarded contract; the target features are enabled on this function.
    unsafe {
        if p.panels.n() <= 8 {
            run::<1, 12>(p, rows)
        } else {
            run::<2, 6>(p, rows)
        }
    }
}

#[inline(always)]
unsafe fn run<const NV: usize, const P: usize>(p: &SmallPlan<'_>, rows: Range<usize>) {
    let mut q = rows.start;
    while q + P <= rows.end {
        tile::<NV, P>(p, q);
        q += P;
    }
    while q < rows.end {
        tile::<NV, 1>(p, q);
        q += 1;
    }
}

/// Output pixels `q0 .. q0 + P`.
#[inline(always)]
unsafe fn tile<const NV: usize, const P: usize>(p: &SmallPlan<'_>, q0: usize) {
    let panel = p.panels.panel(0);
    let k = p.panels.k();
    let n = p.panels.n();
    let bias = panel[0].0.as_ptr();
    let mut acc = [[_mm256_setzero_ps(); NV]; P];
    for a in acc.iter_mut() {
        for (v, x) in a.iter_mut().enumerate() {
            *x = _mm256_load_ps(bias.add(8 * v));
        }
    }
    let x0 = p.input.add(q0 * p.in_stride);
    let w = panel[1..].as_ptr() as *const f32;
    for kk in 0..k {
        let wr = w.add(kk * NR);
        let w0 = _mm256_load_ps(wr);
        let w1 = if NV == 2 {
            _mm256_load_ps(wr.add(8))
        } else {
            w0
        };
        for (t, a) in acc.iter_mut().enumerate() {
            let x = _mm256_broadcast_ss(&*x0.add(t * p.in_stride + kk));
            a[0] = _mm256_fmadd_ps(x, w0, a[0]);
            if NV == 2 {
                a[1] = _mm256_fmadd_ps(x, w1, a[1]);
            }
        }
    }
    for (t, a) in acc.into_iter().enumerate() {
        let q = q0 + t;
        let out = p.output.add(q * p.out_stride);
        let res = p.residual.wrapping_add(q * p.res_stride);
        for (v, mut x) in a.into_iter().enumerate() {
            let lanes = (n - 8 * v).min(8);
            if let Some(order) = p.finish.order {
                let r = load_n(res.add(8 * v), lanes);
                if order == AddOrder::BeforeActivation {
                    x = _mm256_add_ps(x, r);
                }
                x = activate(p.finish.act, x);
                if order == AddOrder::AfterActivation {
                    x = _mm256_add_ps(x, r);
                }
            } else {
                x = activate(p.finish.act, x);
            }
            store_n(out.add(8 * v), x, lanes);
        }
    }
}

/// Loads `n <= 8` floats with plain loads (no `vmaskmovps`), zero in the other lanes.
///
/// # Safety
/// AVX2 code only; `p` valid for `n` reads.
#[inline(always)]
pub(crate) unsafe fn load_n(p: *const f32, n: usize) -> __m256 {
    // SAFETY: every load below reads only floats `p .. p + n`.
    unsafe {
        if n >= 8 {
            return _mm256_loadu_ps(p);
        }
        if n >= 4 {
            let lo = _mm_loadu_ps(p);
            let hi = load4(p.add(4), n - 4);
            _mm256_insertf128_ps::<1>(_mm256_castps128_ps256(lo), hi)
        } else {
            _mm256_zextps128_ps256(load4(p, n))
        }
    }
}

/// Loads `n < 4` floats into the low lanes of a zeroed 128-bit vector.
#[inline(always)]
unsafe fn load4(p: *const f32, n: usize) -> __m128 {
    // SAFETY: reads only floats `p .. p + n`.
    unsafe {
        match n {
            0 => _mm_setzero_ps(),
            1 => _mm_load_ss(p),
            2 => _mm_castpd_ps(_mm_load_sd(p.cast())),
            _ => _mm_movelh_ps(_mm_castpd_ps(_mm_load_sd(p.cast())), _mm_load_ss(p.add(2))),
        }
    }
}

/// Stores the first `n <= 8` lanes of `v` with plain 256/128/64/32-bit stores.
///
/// # Safety
/// AVX2 code only; `p` valid for `n` writes.
#[inline(always)]
pub(crate) unsafe fn store_n(p: *mut f32, v: __m256, n: usize) {
    // SAFETY: every store below writes only floats `p .. p + n`.
    unsafe {
        if n >= 8 {
            return _mm256_storeu_ps(p, v);
        }
        let mut low = _mm256_castps256_ps128(v);
        let mut p = p;
        let mut n = n;
        if n >= 4 {
            _mm_storeu_ps(p, low);
            low = _mm256_extractf128_ps::<1>(v);
            p = p.add(4);
            n -= 4;
        }
        if n >= 2 {
            _mm_store_sd(p.cast(), _mm_castps_pd(low));
            low = _mm_movehl_ps(low, low);
            p = p.add(2);
            n -= 2;
        }
        if n == 1 {
            _mm_store_ss(p, low);
        }
    }
}
