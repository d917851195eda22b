//! The INT8 epilogue of the AVX-512 VNNI tile ([`super::vnni_gemm`]) run on its zmm sums:
//! 16 channels per vector, the shared epilogue's ([`super::epilogue::finish4`]) operations in
//! its order, so every output gets the AVX2 back end's bits:
//!
//! `y = fma(f32(acc - zp_sum[c]), scale[c], bias[c])`, `[+ r]`, activation (SiLU and sigmoid
//! four vectors side by side, `simd::avx512::activate_n`, bitwise equal to the AVX2 ones),
//! `[+ r]`, then an f32 store, or the u8 requantization of `StoreU8` for `Avx2` (IEEE division,
//! round half to even, `+ zp`, `max 0` (NaN -> 0), `min 255`) with a truncating byte store of the
//! exact 0..255 integers. Partial panels (fewer than 16 valid channels) read and write through a
//! lane mask.

use std::arch::x86_64::*;

use super::epilogue::{Finish, Store};
use super::vnni_rows::MR8;
use crate::act::AddOrder;
use crate::simd::avx512::activate_n;

/// Vectors per activation call.
const CHAINS: usize = 4;

/// Finishes the `valid` first rows of a tile: row `r` is output pixel `p0 + r`, panel `j` of
/// the tile holds channels `c0 + 16 j ..` (`c0 + 16 j < cout` for every `j < P`).
///
/// # Safety
/// Code compiled with AVX-512 F, VL and BW; pixels `p0 .. p0 + valid` are output (and
/// residual) pixels of the plan `f` was built for; the channel arrays of `f` are padded to
/// whole panels.
#[inline(always)]
pub(crate) unsafe fn finish_tile<const P: usize>(
    f: &Finish<'_>,
    c: [[__m512i; P]; MR8],
    p0: usize,
    valid: usize,
    c0: usize,
) {
    // SAFETY (whole function): the channel arrays hold `c0 + 16 P` entries (padded panels);
    // output and residual pixels hold `cout` channels from channel 0, and the masked loads and
    // stores touch only the `n_j` valid lanes of panel `j`.
    unsafe {
        let masks: [__mmask16; P] = std::array::from_fn(|j| {
            let n = (f.cout - (c0 + 16 * j)).min(16);
            if n == 16 {
                !0
            } else {
                (1u16 << n) - 1
            }
        });
        let zp: [__m512i; P] =
            std::array::from_fn(|j| _mm512_loadu_si512(f.zp_sum.as_ptr().add(c0 + 16 * j).cast()));
        let scale: [__m512; P] =
            std::array::from_fn(|j| _mm512_loadu_ps(f.scale.as_ptr().add(c0 + 16 * j)));
        let bias: [__m512; P] =
            std::array::from_fn(|j| _mm512_loadu_ps(f.bias.as_ptr().add(c0 + 16 * j)));
        let mut y = [[_mm512_setzero_ps(); P]; MR8];
        for r in 0..MR8 {
            for j in 0..P {
                let corrected = _mm512_cvtepi32_ps(_mm512_sub_epi32(c[r][j], zp[j]));
                y[r][j] = _mm512_fmadd_ps(corrected, scale[j], bias[j]);
            }
        }
        // Rows past `valid` repeat a valid row's sums: finished (no residual read) and dropped.
        let row_mask = |r: usize, j: usize| if r < valid { masks[j] } else { 0 };
        let residual = |r: usize, j: usize| {
            _mm512_maskz_loadu_ps(
                row_mask(r, j),
                f.residual
                    .wrapping_add((p0 + r) * f.res_stride + c0 + 16 * j),
            )
        };
        if f.order == Some(AddOrder::BeforeActivation) {
            for (r, yr) in y.iter_mut().enumerate() {
                for (j, v) in yr.iter_mut().enumerate() {
                    *v = _mm512_add_ps(*v, residual(r, j));
                }
            }
        }
        // `CHAINS` vectors per activation call (the SiLU `exp` chains side by side).
        let rows_per_call = CHAINS / P;
        for r0 in (0..MR8).step_by(rows_per_call) {
            if r0 >= valid {
                break;
            }
            let mut v = [_mm512_setzero_ps(); CHAINS];
            for i in 0..CHAINS {
                v[i] = y[r0 + i / P][i % P];
            }
            let v = activate_n(f.act, v);
            for i in 0..CHAINS {
                y[r0 + i / P][i % P] = v[i];
            }
        }
        if f.order == Some(AddOrder::AfterActivation) {
            for (r, yr) in y.iter_mut().enumerate() {
                for (j, v) in yr.iter_mut().enumerate() {
                    *v = _mm512_add_ps(*v, residual(r, j));
                }
            }
        }
        for (r, yr) in y.iter().enumerate().take(valid) {
            let p = p0 + r;
            for (j, &v) in yr.iter().enumerate() {
                let col = c0 + 16 * j;
                match f.store {
                    Store::F32 { ptr, stride } => {
                        let dst = ptr.add(p * stride + col);
                        if masks[j] == !0 {
                            _mm512_storeu_ps(dst, v);
                        } else {
                            _mm512_mask_storeu_ps(dst, masks[j], v);
                        }
                    }
                    Store::U8 {
                        ptr,
                        stride,
                        scale,
                        zp,
                    } => {
                        let q = quantize(v, scale, zp);
                        _mm512_mask_cvtepi32_storeu_epi8(
                            ptr.add(p * stride + col).cast(),
                            masks[j],
                            q,
                        );
                    }
                }
            }
        }
    }
}

/// `clamp(round_half_even(y / scale) + zp, 0, 255)` as i32 lanes: the operations of
/// `StoreU8::store_u8` for `Avx2` (and of `params::quantize_value`) in their order.
///
/// # Safety
/// Code compiled with AVX-512 F.
#[inline(always)]
unsafe fn quantize(y: __m512, scale: f32, zp: u8) -> __m512i {
    let v = _mm512_div_ps(y, _mm512_set1_ps(scale));
    let v = _mm512_add_ps(
        _mm512_roundscale_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(v),
        _mm512_set1_ps(f32::from(zp)),
    );
    // `max(v, 0)` returns the second operand, 0, for NaN, as `quantize_value`.
    let v = _mm512_min_ps(_mm512_max_ps(v, _mm512_setzero_ps()), _mm512_set1_ps(255.0));
    _mm512_cvtps_epi32(v)
}
