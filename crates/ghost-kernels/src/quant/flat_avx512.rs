//! The flat-row INT8 epilogue ([`super::depthwise_row`]'s `finish_flat`) on AVX-512 F: 16
//! elements per vector, four vectors per step, for the VNNI back end's depthwise row path and
//! narrow-output GEMM (GhostNet's 2-24-channel layers, where this epilogue was half of an
//! INT8 call).
//!
//! Bit-identical to the AVX2 lanes' version: the same operations in the same order (the
//! corrected sum converted with round-to-nearest, one FMA with scale and bias, the residual
//! added where the order says, the activation from [`crate::simd::avx512::activate_n`], which
//! gives the AVX2 code's bits for every input, and the requantizing store of
//! `StoreU8 for Avx2`: IEEE division, round half to even, `+ zp`, `max(v, 0)`, `min(v, 255)`).
//! Tails use masked loads and stores (AVX-512 F only: the u8 tail goes through a 16-byte
//! buffer, no AVX-512 BW needed).

use std::arch::x86_64::*;

use super::depthwise_row::{copy_pixel, Flat, FlatConsts};
use super::epilogue::Finish;
use crate::act::AddOrder;

/// Vectors finished side by side (SiLU's and sigmoid's `exp` chains interleaved).
const STEP: usize = 4;

/// `y[e] = act((acc[e] - zp_sum) * scale + bias [+ r[e]]) [+ r[e]]` for `e < len`, stored into
/// `out`: the contract of `finish_flat`.
///
/// # Safety
/// `acc` holds `len` entries; `out` and `res` (when `f.order` is set) hold `len` elements;
/// `t.period` is a multiple of 16; the CPU supports AVX2, FMA, AVX-512 F and VL.
#[target_feature(enable = "avx2,fma,avx512f,avx512vl")]
pub(crate) unsafe fn finish_flat_avx512(
    f: &Finish<'_>,
    t: &FlatConsts,
    acc: &[i32],
    len: usize,
    res: Option<*const f32>,
    out: Flat,
) {
    debug_assert!(t.period.is_multiple_of(16) && acc.len() >= len);
    let period = t.period;
    let (mut e, mut k) = (0, 0);
    // SAFETY (whole loop): table loads at `kk < period` read 16 entries inside the period
    // (`kk` a multiple of 16); accumulator, residual and output accesses are masked to
    // `len - at` lanes.
    unsafe {
        while e < len {
            let count = (len - e).div_ceil(16).min(STEP);
            let mut y = [_mm512_setzero_ps(); STEP];
            let mut masks = [0u16; STEP];
            let mut kk = k;
            for i in 0..count {
                let at = e + 16 * i;
                let m = lane_mask(len - at);
                masks[i] = m;
                let a = _mm512_maskz_loadu_epi32(m, acc.as_ptr().add(at));
                let z = _mm512_loadu_si512(t.zp_sum.as_ptr().add(kk).cast());
                let corrected = _mm512_cvtepi32_ps(_mm512_sub_epi32(a, z));
                y[i] = _mm512_fmadd_ps(
                    corrected,
                    _mm512_loadu_ps(t.scale.as_ptr().add(kk)),
                    _mm512_loadu_ps(t.bias.as_ptr().add(kk)),
                );
                kk += 16;
                if kk == period {
                    kk = 0;
                }
            }
            let add_residual = |y: &mut [__m512; STEP]| {
                if let Some(r) = res {
                    for (i, yi) in y.iter_mut().enumerate().take(count) {
                        let r = _mm512_maskz_loadu_ps(masks[i], r.add(e + 16 * i));
                        *yi = _mm512_add_ps(*yi, r);
                    }
                }
            };
            if f.order == Some(AddOrder::BeforeActivation) {
                add_residual(&mut y);
            }
            y = crate::simd::avx512::activate_n(f.act, y);
            if f.order == Some(AddOrder::AfterActivation) {
                add_residual(&mut y);
            }
            for (i, &yi) in y.iter().enumerate().take(count) {
                let at = e + 16 * i;
                match out {
                    Flat::F32(dst) => _mm512_mask_storeu_ps(dst.add(at), masks[i], yi),
                    Flat::U8(dst, scale, zp) => {
                        let v = _mm512_div_ps(yi, _mm512_set1_ps(scale));
                        let v = _mm512_add_ps(
                            _mm512_roundscale_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(
                                v,
                            ),
                            _mm512_set1_ps(f32::from(zp)),
                        );
                        // `max(v, 0)` returns 0 for NaN, as `quantize_value`.
                        let v = _mm512_min_ps(
                            _mm512_max_ps(v, _mm512_setzero_ps()),
                            _mm512_set1_ps(255.0),
                        );
                        let bytes = _mm512_cvtepi32_epi8(_mm512_cvtps_epi32(v));
                        let n = (len - at).min(16);
                        if n == 16 {
                            _mm_storeu_si128(dst.add(at).cast(), bytes);
                        } else {
                            let mut tmp = [0u8; 16];
                            _mm_storeu_si128(tmp.as_mut_ptr().cast(), bytes);
                            copy_pixel(tmp.as_ptr(), dst.add(at), n);
                        }
                    }
                }
            }
            e += 16 * STEP;
            k = kk;
        }
    }
}

/// The first `min(n, 16)` lanes.
#[inline(always)]
fn lane_mask(n: usize) -> u16 {
    if n >= 16 {
        u16::MAX
    } else {
        (1u16 << n) - 1
    }
}
