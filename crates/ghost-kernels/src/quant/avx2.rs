//! AVX2 INT8 microkernels.
//!
//! GEMM tile (4 rows x 16 channels): per row and group of 4 input channels, one 32-bit
//! broadcast of the 4 u8 inputs, `vpmaddubsw` against 32 bytes of packed s8 weights (8 columns
//! x 4 channels) giving s16 pair sums, `vpmaddwd` with ones folding pairs into s32, `vpaddd`
//! into the accumulator: 64 multiply-adds per row and group in 2 + 2 + 2 instructions. The pair
//! sums cannot saturate because the GEMM weights lie in `[-64, 64]` (`GEMM_WEIGHT_QMAX`):
//! `|x0 w0 + x1 w1| <= 2 * 255 * 64 = 32640 < 32767`, so the result is exact, as the scalar
//! kernel's.
//!
//! Depthwise (one output pixel, 16 channels per step): the u8 inputs of two taps interleaved,
//! zero-extended to s16, and one `vpmaddwd` with the interleaved s16 weights (exact: the s32
//! pair sum is at most `2 * 255 * 127`). Quantize / dequantize: 8 floats per step, the scalar
//! definition's operations in the same order (IEEE division, round half to even, clamp), so
//! every back end gives the same code.

use std::arch::x86_64::*;
use std::ops::Range;

use super::convert::ConvertPlan;
use super::depthwise_kernel::{depthwise_rows, DwPlan, DwWeights};
use super::depthwise_row::{copy_pixel, DwTiled};
use super::gemm::{gemm_rows, GemmPlan, TileI8, MR};
use super::pack::NR;
use super::x86_tile::{gemm_tile_with, Acc};
use crate::lanes::Avx2;

/// One group of 4 input channels for the 4 rows: accumulates into `c`.
#[inline(always)]
unsafe fn group(c: &mut Acc, x: [i32; MR], w: *const i8, ones: __m256i) {
    // SAFETY: `w` points at 64 bytes of the panel (checked by the caller's loop bounds).
    let (w0, w1) = unsafe {
        (
            _mm256_loadu_si256(w.cast()),
            _mm256_loadu_si256(w.add(32).cast()),
        )
    };
    for r in 0..MR {
        let xb = _mm256_set1_epi32(x[r]);
        let p0 = _mm256_madd_epi16(_mm256_maddubs_epi16(xb, w0), ones);
        let p1 = _mm256_madd_epi16(_mm256_maddubs_epi16(xb, w1), ones);
        c[r][0] = _mm256_add_epi32(c[r][0], p0);
        c[r][1] = _mm256_add_epi32(c[r][1], p1);
    }
}

/// [`super::gemm::GemmI8Fn`] on AVX2 (`vpmaddubsw` + `vpmaddwd`).
///
/// # Safety
/// As [`super::gemm::GemmI8Fn`]; the CPU must support AVX2.
#[target_feature(enable = "avx2,fma")]
pub(crate) unsafe fn gemm_tile(tile: &TileI8<'_>, acc: &mut [[i32; NR]; MR]) {
    let ones = _mm256_set1_epi16(1);
    // SAFETY: the caller's contract is the driver's; `group` reads the 64 bytes at `w`.
    unsafe { gemm_tile_with(tile, acc, |c, x, w| group(c, x, w, ones)) }
}

/// [`super::depthwise_kernel::DwPixelFn`] on AVX2: per pair of taps, the two taps' u8
/// inputs interleaved byte by byte (`vpunpcklbw`), zero-extended to s16 and multiplied with
/// the interleaved s16 weights by one `vpmaddwd` (8 channels, two taps each, into s32).
///
/// # Safety
/// As [`super::depthwise_kernel::DwPixelFn`]; the CPU must support AVX2.
#[target_feature(enable = "avx2,fma")]
pub(crate) unsafe fn depthwise_pixel(a: &[*const u8], w: &DwWeights<'_>, acc: &mut [i32]) {
    let c = w.channels;
    let codes = w.codes.as_ptr();
    let pairs = a.len() / 2;
    let mut c0 = 0;
    // SAFETY (whole function): every tap row holds `c` bytes and the codes `pairs * cpad * 2`
    // entries; the loads below stay below `c` (inputs) and `cpad` (codes, acc).
    unsafe {
        while c0 + 16 <= c {
            let (mut lo, mut hi) = (_mm256_setzero_si256(), _mm256_setzero_si256());
            for p in 0..pairs {
                let x0 = _mm_loadu_si128(a[2 * p].add(c0).cast());
                let x1 = _mm_loadu_si128(a[2 * p + 1].add(c0).cast());
                let wp = codes.add((p * w.cpad + c0) * 2);
                let xl = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(x0, x1));
                let xh = _mm256_cvtepu8_epi16(_mm_unpackhi_epi8(x0, x1));
                lo = _mm256_add_epi32(lo, _mm256_madd_epi16(xl, _mm256_loadu_si256(wp.cast())));
                hi = _mm256_add_epi32(
                    hi,
                    _mm256_madd_epi16(xh, _mm256_loadu_si256(wp.add(16).cast())),
                );
            }
            _mm256_storeu_si256(acc.as_mut_ptr().add(c0).cast(), lo);
            _mm256_storeu_si256(acc.as_mut_ptr().add(c0 + 8).cast(), hi);
            c0 += 16;
        }
        if c0 + 8 <= c {
            let mut s = _mm256_setzero_si256();
            for p in 0..pairs {
                let x0 = _mm_loadl_epi64(a[2 * p].add(c0).cast());
                let x1 = _mm_loadl_epi64(a[2 * p + 1].add(c0).cast());
                let x = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(x0, x1));
                let wv = _mm256_loadu_si256(codes.add((p * w.cpad + c0) * 2).cast());
                s = _mm256_add_epi32(s, _mm256_madd_epi16(x, wv));
            }
            _mm256_storeu_si256(acc.as_mut_ptr().add(c0).cast(), s);
            c0 += 8;
        }
        for (ch, out) in acc.iter_mut().enumerate().take(c).skip(c0) {
            let mut s = 0i32;
            for (t, &row) in a.iter().enumerate() {
                s += i32::from(*row.add(ch))
                    * i32::from(*codes.add(((t / 2) * w.cpad + ch) * 2 + t % 2));
            }
            *out = s;
        }
    }
}

/// [`super::depthwise_row::DwRowFn`] on AVX2: 16 flat elements per step, per pair of taps the
/// two taps' bytes interleaved (`vpunpcklbw` / `vpunpckhbw`), zero-extended to s16 and
/// multiplied with the tiled interleaved s16 codes by two `vpmaddwd` (exact, as
/// [`depthwise_pixel`]).
///
/// # Safety
/// As [`super::depthwise_row::DwRowFn`]; the CPU must support AVX2.
#[target_feature(enable = "avx2,fma")]
pub(crate) unsafe fn depthwise_row(a: &[*const u8], w: &DwTiled<'_>, len: usize, acc: &mut [i32]) {
    // SAFETY: forwarded contract; AVX2 is enabled here.
    unsafe {
        depthwise_row_with(a, w, len, acc, |s, x, c| {
            _mm256_add_epi32(s, _mm256_madd_epi16(x, c))
        })
    }
}

/// [`super::depthwise_row::DwRowFn`]'s loop, shared by the AVX2 and AVX-512 VNNI row kernels,
/// which differ only in `madd(sum, x, codes)`: how 16 s16 pairs of inputs and codes are
/// multiplied and added into the 8 s32 lanes of `sum` (`vpmaddwd` + `vpaddd`, or one
/// `vpdpwssd`). `#[inline(always)]` with the step as a closure, so each kernel compiles to the
/// loop with its step written in.
///
/// # Safety
/// As [`super::depthwise_row::DwRowFn`]; the caller runs with AVX2 enabled and `madd`'s
/// instructions supported.
#[inline(always)]
pub(crate) unsafe fn depthwise_row_with<F>(
    a: &[*const u8],
    w: &DwTiled<'_>,
    len: usize,
    acc: &mut [i32],
    madd: F,
) where
    F: Fn(__m256i, __m256i, __m256i) -> __m256i,
{
    let pairs = a.len() / 2;
    let period = w.period;
    debug_assert!(len.is_multiple_of(16) && acc.len() >= len && period.is_multiple_of(16));
    debug_assert!(w.codes.len() >= pairs * period * 2);
    let codes = w.codes.as_ptr();
    let out = acc.as_mut_ptr();
    let (mut e, mut k) = (0, 0);
    // SAFETY (whole loop): every tap holds `len` bytes and `acc` `len` entries (contract);
    // `k + 16 <= period`, so the code loads stay inside pair `p`'s `period * 2` entries.
    unsafe {
        while e < len {
            let (mut lo, mut hi) = (_mm256_setzero_si256(), _mm256_setzero_si256());
            for p in 0..pairs {
                let x0 = _mm_loadu_si128(a[2 * p].add(e).cast());
                let x1 = _mm_loadu_si128(a[2 * p + 1].add(e).cast());
                let wp = codes.add((p * period + k) * 2);
                let xl = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(x0, x1));
                let xh = _mm256_cvtepu8_epi16(_mm_unpackhi_epi8(x0, x1));
                lo = madd(lo, xl, _mm256_loadu_si256(wp.cast()));
                hi = madd(hi, xh, _mm256_loadu_si256(wp.add(16).cast()));
            }
            _mm256_storeu_si256(out.add(e).cast(), lo);
            _mm256_storeu_si256(out.add(e + 8).cast(), hi);
            e += 16;
            k += 16;
            if k == period {
                k = 0;
            }
        }
    }
}

/// 8 codes of `v` (the scalar definition's operations in the same order), in the low 8 bytes.
#[inline(always)]
unsafe fn quantize8(v: __m256, scale: __m256, zp: __m256, zero: __m256, top: __m256) -> __m128i {
    // SAFETY: register-only AVX2 operations; the caller runs with AVX2 enabled.
    unsafe {
        let v = _mm256_div_ps(v, scale);
        let v = _mm256_add_ps(
            _mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC),
            zp,
        );
        // `max(v, 0)` returns 0 for NaN, as the scalar definition.
        let v = _mm256_min_ps(_mm256_max_ps(v, zero), top);
        let i = _mm256_cvtps_epi32(v);
        let w = _mm_packus_epi32(_mm256_castsi256_si128(i), _mm256_extracti128_si256(i, 1));
        _mm_packus_epi16(w, w)
    }
}

/// Quantizes pixels `rows` on AVX2.
///
/// # Safety
/// As [`super::scalar::quantize_rows`]; the CPU must support AVX2.
#[target_feature(enable = "avx2,fma")]
pub(crate) unsafe fn quantize_rows(plan: &ConvertPlan, rows: Range<usize>) {
    let scale = _mm256_set1_ps(plan.scale);
    let zp = _mm256_set1_ps(f32::from(plan.zp));
    let (zero, top) = (_mm256_setzero_ps(), _mm256_set1_ps(255.0));
    // The tail below 8 channels (all of a narrow layer's pixel) as one masked vector:
    // masked-off lanes load 0.0 and are not stored.
    let tail = plan.c % 8;
    let tail_mask = _mm256_cmpgt_epi32(
        _mm256_set1_epi32(tail as i32),
        _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
    );
    for p in rows {
        // SAFETY: pixel `p` of both checked views holds `c` elements; the vector steps stay
        // below `c`, the masked tail loads and stores only lanes below `c`.
        unsafe {
            let src = plan.f32_ptr.add(p * plan.f32_stride);
            let dst = plan.u8_ptr.add(p * plan.u8_stride);
            let mut j = 0;
            while j + 8 <= plan.c {
                _mm_storel_epi64(
                    dst.add(j).cast(),
                    quantize8(_mm256_loadu_ps(src.add(j)), scale, zp, zero, top),
                );
                j += 8;
            }
            if tail != 0 {
                let b = quantize8(
                    _mm256_maskload_ps(src.add(j), tail_mask),
                    scale,
                    zp,
                    zero,
                    top,
                );
                let bytes = (_mm_cvtsi128_si64(b) as u64).to_le_bytes();
                copy_pixel(bytes.as_ptr(), dst.add(j), tail);
            }
        }
    }
}

/// Dequantizes pixels `rows` on AVX2.
///
/// # Safety
/// As [`super::scalar::dequantize_rows`]; the CPU must support AVX2.
#[target_feature(enable = "avx2,fma")]
pub(crate) unsafe fn dequantize_rows(plan: &ConvertPlan, rows: Range<usize>) {
    let scale = _mm256_set1_ps(plan.scale);
    let zp = _mm256_set1_epi32(i32::from(plan.zp));
    for p in rows {
        // SAFETY: as in `quantize_rows`.
        unsafe {
            let src = plan.u8_ptr.add(p * plan.u8_stride);
            let dst = plan.f32_ptr.cast_mut().add(p * plan.f32_stride);
            let mut j = 0;
            while j + 8 <= plan.c {
                let q = _mm256_cvtepu8_epi32(_mm_loadl_epi64(src.add(j).cast()));
                let v = _mm256_cvtepi32_ps(_mm256_sub_epi32(q, zp));
                _mm256_storeu_ps(dst.add(j), _mm256_mul_ps(v, scale));
                j += 8;
            }
            for k in j..plan.c {
                *dst.add(k) = (i32::from(*src.add(k)) - i32::from(plan.zp)) as f32 * plan.scale;
            }
        }
    }
}

/// The GEMM driver and epilogue on AVX2 lanes.
///
/// # Safety
/// As [`gemm_rows`]; the CPU must support AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub(crate) unsafe fn gemm_rows_avx2(plan: &GemmPlan<'_>, rows: Range<usize>) {
    // SAFETY: forwarded contract; this function's target features make the AVX2 lanes valid.
    unsafe { gemm_rows::<Avx2>(plan, rows) }
}

/// The depthwise driver and epilogue on AVX2 lanes.
///
/// # Safety
/// As [`depthwise_rows`]; the CPU must support AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub(crate) unsafe fn depthwise_rows_avx2(plan: &DwPlan<'_>, rows: Range<usize>) {
    // SAFETY: forwarded contract.
    unsafe { depthwise_rows::<Avx2>(plan, rows) }
}
