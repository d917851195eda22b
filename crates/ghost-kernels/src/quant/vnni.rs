//! AVX-512 VNNI INT8 GEMM tile (x86-64 CPUs with AVX-512 F + VL + VNNI: Intel Cascade Lake and
//! later server parts, Ice Lake and later, AMD Zen 4 and later).
//!
//! Same contract, packing and result as the AVX2 tile ([`super::avx2::gemm_tile`]): per row
//! and group of 4 input channels, one 32-bit broadcast of the 4 u8 inputs, then one `vpdpbusd`
//! per 8 columns, which multiplies each u8 input with its s8 weight, adds the four products of
//! a column and adds that to the s32 lane, in one instruction where AVX2 needs three
//! (`vpmaddubsw`, `vpmaddwd` with ones, `vpaddd`). The packed panel already groups K by 4
//! (16 columns x 4 bytes per 64-byte row), exactly `vpdpbusd`'s layout. `vpdpbusd` adds the
//! four products in 32 bits without saturation, so the sums are the exact i32 dot products,
//! bit-identical to the AVX2 and scalar tiles (the 7-bit weights of `GEMM_WEIGHT_QMAX` are not
//! needed here, but keep the packed file format one for every back end).
//!
//! 256-bit registers (AVX512VL), ymm0-15: the ymm form runs at full rate on every VNNI CPU, avoids the
//! frequency drop some Intel parts take on 512-bit work, and keeps the AVX2 tile's shape so the
//! shared driver ([`super::gemm::gemm_rows`]), tile loop ([`super::x86_tile::gemm_tile_with`])
//! and epilogue are reused unchanged.

use std::arch::asm;
use std::arch::x86_64::*;

use super::gemm::{TileI8, MR};
use super::pack::NR;
use super::x86_tile::{gemm_tile_with, Acc};

/// `acc + sum over the 4 bytes of each 32-bit lane of x (u8) * w (s8)`: `vpdpbusd` on ymm
/// registers (EVEX, AVX512VL + AVX512VNNI).
///
/// Inline assembly rather than `_mm256_dpbusd_epi32`: that intrinsic, and the `avx512*` names
/// in `#[target_feature]`, are stable only since Rust 1.89 (the MSRV was 1.85 when this was
/// written; it is 1.89 now, set by the `wide` dependency).
/// The `{evex}` prefix pins the AVX-512 encoding (a CPU with AVX512-VNNI need not have the VEX
/// AVX-VNNI form).
///
/// # Safety
/// The CPU must support AVX512VL and AVX512-VNNI.
#[inline]
#[target_feature(enable = "avx2,fma")]
unsafe fn dpbusd(acc: __m256i, x: __m256i, w: __m256i) -> __m256i {
    let mut acc = acc;
    // SAFETY: register-only instruction, no memory or flags touched; the caller guarantees
    // the CPU features.
    unsafe {
        asm!(
            "{{evex}} vpdpbusd {acc}, {x}, {w}",
            acc = inout(ymm_reg) acc,
            x = in(ymm_reg) x,
            w = in(ymm_reg) w,
            options(pure, nomem, nostack, preserves_flags),
        );
    }
    acc
}

/// One group of 4 input channels for the `MR` rows: accumulates into `c`.
#[inline]
#[target_feature(enable = "avx2,fma")]
unsafe fn group(c: &mut Acc, x: [i32; MR], w: *const i8) {
    // SAFETY: `w` points at 64 bytes of the panel (checked by the caller's loop bounds).
    let (w0, w1) = unsafe {
        (
            _mm256_loadu_si256(w.cast()),
            _mm256_loadu_si256(w.add(32).cast()),
        )
    };
    for r in 0..MR {
        let xb = _mm256_set1_epi32(x[r]);
        // SAFETY: the caller's CPU contract (AVX512VL + AVX512-VNNI).
        unsafe {
            c[r][0] = dpbusd(c[r][0], xb, w0);
            c[r][1] = dpbusd(c[r][1], xb, w1);
        }
    }
}

/// [`super::gemm::GemmI8Fn`] on AVX-512 VNNI (`vpdpbusd` on ymm registers).
///
/// # Safety
/// As [`super::gemm::GemmI8Fn`]; the CPU must support AVX2, AVX-512 F, VL and VNNI
/// ([`crate::isa::avx512_vnni_detected`]). Compiled for AVX2 + FMA: the VNNI instruction is in
/// [`dpbusd`]'s assembly.
#[target_feature(enable = "avx2,fma")]
pub(crate) unsafe fn gemm_tile(tile: &TileI8<'_>, acc: &mut [[i32; NR]; MR]) {
    // SAFETY: the caller's contract is the driver's (and the VNNI CPU features `group` needs);
    // `group` reads the 64 bytes at `w`.
    unsafe { gemm_tile_with(tile, acc, |c, x, w| group(c, x, w)) }
}

/// [`super::depthwise_row::DwRowFn`] on AVX-512 VNNI: the AVX2 row kernel
/// ([`super::avx2::depthwise_row`]) with each `vpmaddwd` + `vpaddd` pair fused into one
/// `vpdpwssd` (s16 pairs multiplied and added into the s32 lane, no saturation: exact), ymm
/// registers. 16 flat elements per step, two accumulators, so the `vpdpwssd` chains of the
/// tap pairs run side by side.
///
/// # Safety
/// As [`super::depthwise_row::DwRowFn`]; the CPU must support AVX2, AVX-512 F, VL and VNNI.
#[target_feature(enable = "avx2,fma,avx512f,avx512vl,avx512vnni")]
pub(crate) unsafe fn depthwise_row(
    a: &[*const u8],
    w: &super::depthwise_row::DwTiled<'_>,
    len: usize,
    acc: &mut [i32],
) {
    // SAFETY: forwarded contract; AVX2, AVX-512 VL and VNNI are enabled here.
    unsafe {
        super::avx2::depthwise_row_with(a, w, len, acc, |s, x, c| _mm256_dpwssd_epi32(s, x, c))
    }
}
