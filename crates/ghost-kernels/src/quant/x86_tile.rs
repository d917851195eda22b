//! The INT8 GEMM tile loop of the x86 back ends, shared by the AVX2 tile ([`super::avx2`]) and
//! the AVX-512 VNNI tile ([`super::vnni`]), which differ only in the inner step: how one group
//! of 4 input channels of the `MR` rows is multiplied with the panel's 64 weight bytes and
//! added to the accumulators (`vpmaddubsw` + `vpmaddwd` + `vpaddd`, or one `vpdpbusd`).
//!
//! The driver is `#[inline(always)]` and takes the step as a closure, so each tile compiles to
//! the loop it had with its step written in: the closure is monomorphised and inlined into the
//! caller's `#[target_feature(enable = "avx2,fma")]` body, whose features the intrinsics below
//! need to inline.

use std::arch::x86_64::*;

use super::gemm::{TileI8, MR};
use super::pack::{KG, NR};

/// The accumulators of a tile: per row, 16 s32 columns in two ymm registers.
pub(crate) type Acc = [[__m256i; 2]; MR];

/// The 4 bytes at `p`, `rem < 4` of them when `rem` is set (zeros above).
///
/// # Safety
/// `p` must point at 4 readable bytes (`rem` of them when `rem` is set).
#[inline(always)]
pub(crate) unsafe fn load_group(p: *const u8, rem: usize) -> i32 {
    if rem == 0 {
        // SAFETY: the caller guarantees 4 readable bytes.
        unsafe { p.cast::<i32>().read_unaligned() }
    } else {
        let mut b = [0u8; 4];
        // SAFETY: the caller guarantees `rem` readable bytes.
        unsafe { std::ptr::copy_nonoverlapping(p, b.as_mut_ptr(), rem) };
        i32::from_le_bytes(b)
    }
}

/// [`super::gemm::GemmI8Fn`]'s loop: for every tap and group of 4 input channels (the last one
/// zero-padded when `cin % 4 != 0`), `step(c, x, w)` with the `MR` rows' 4 bytes each and the
/// panel's 64 bytes for that group; then the accumulators are stored into `acc`.
///
/// # Safety
/// As [`super::gemm::GemmI8Fn`]; the caller must run with AVX2 enabled (it is a
/// `#[target_feature(enable = "avx2,fma")]` function), and `step` may read the 64 bytes at `w`
/// and nothing else of the panel.
#[inline(always)]
pub(crate) unsafe fn gemm_tile_with<F>(tile: &TileI8<'_>, acc: &mut [[i32; NR]; MR], mut step: F)
where
    F: FnMut(&mut Acc, [i32; MR], *const i8),
{
    let mut c: Acc = [[_mm256_setzero_si256(); 2]; MR];
    let full = tile.cin / KG;
    let rem = tile.cin % KG;
    let panel = tile.panel.as_ptr();
    debug_assert!(tile.panel.len() >= tile.taps * tile.groups * NR * KG);
    for t in 0..tile.taps {
        let rows: [*const u8; MR] = std::array::from_fn(|r| tile.a[t * MR + r]);
        // SAFETY: `taps * groups * 64` panel bytes; each row holds `cin` bytes, read as `full`
        // whole groups and `rem` tail bytes.
        unsafe {
            let wt = panel.add(t * tile.groups * NR * KG);
            for g in 0..full {
                let x = rows.map(|p| load_group(p.add(g * KG), 0));
                step(&mut c, x, wt.add(g * NR * KG));
            }
            if rem != 0 {
                let x = rows.map(|p| load_group(p.add(full * KG), rem));
                step(&mut c, x, wt.add(full * NR * KG));
            }
        }
    }
    for (row, cr) in acc.iter_mut().zip(&c) {
        // SAFETY: each accumulator row holds 16 i32.
        unsafe {
            _mm256_storeu_si256(row.as_mut_ptr().cast(), cr[0]);
            _mm256_storeu_si256(row.as_mut_ptr().add(8).cast(), cr[1]);
        }
    }
}
