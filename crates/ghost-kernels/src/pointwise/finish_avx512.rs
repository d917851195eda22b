//! The epilogue of the AVX-512 8x16 tile on its zmm sums: `[+ residual] -> activation ->
//! [+ residual] -> store`, one zmm per row (16 columns), SiLU and sigmoid on four rows side by
//! side (`simd::avx512`). Every lane gets the bits the AVX2 epilogue (`avx2::finish_rows`) gives
//! it: the same operations in the same order, and the AVX-512 SiLU and sigmoid equal the AVX2
//! ones bit for bit. Partial panels (fewer than 16 valid columns) load and store through a lane
//! mask, which touches no other column.

use std::arch::x86_64::*;

use super::tile::{Finish, Tile};
use crate::act::AddOrder;
use crate::simd::avx512::activate_n;

/// Stores the first `t.mr` rows of the tile's raw sums `c` (row `r` in `c[r]`) into `t.out`,
/// through the epilogue on the last reduction block.
///
/// # Safety
/// See [`super::tile::KernelFn`]; code compiled with AVX2, FMA and AVX-512 F and VL;
/// `t.mr <= R`.
#[inline(always)]
pub(super) unsafe fn finish_rows<const R: usize>(t: &Tile<'_>, c: [__m512; R]) {
    debug_assert!(t.mr <= R && t.out.len() >= t.mr && t.res.len() >= t.mr && t.nr <= 16);
    // SAFETY (whole function): the tile contract of `KernelFn`: `out[r] + col` is valid for
    // `nr` writes and `res[r] + col` for `nr` reads when a residual is fused, for `r < mr`;
    // the masked loads and stores touch only those `nr` columns.
    unsafe {
        let mask: __mmask16 = if t.nr >= 16 { !0 } else { (1u16 << t.nr) - 1 };
        let Some(f) = t.finish else {
            for (r, &v) in c.iter().enumerate().take(t.mr) {
                store_row(t, r, mask, v);
            }
            return;
        };
        if !f.act.is_transcendental() {
            for (r, &v) in c.iter().enumerate().take(t.mr) {
                let [v] = finish_n(f, [v], [t.res[r].wrapping_add(t.col)], [mask]);
                store_row(t, r, mask, v);
            }
            return;
        }
        // SiLU and sigmoid: four rows at a time (one chain each, interleaved); rows past `mr`
        // get an empty mask (no residual read) and are not stored.
        for r0 in (0..t.mr).step_by(4) {
            let rows = [r0, r0 + 1, r0 + 2, r0 + 3].map(|r| r.min(R - 1));
            let v = rows.map(|r| c[r]);
            let res = rows.map(|r| t.res[r].wrapping_add(t.col));
            let masks = [r0, r0 + 1, r0 + 2, r0 + 3].map(|r| if r < t.mr { mask } else { 0 });
            let v = finish_n(f, v, res, masks);
            for (j, v) in v.into_iter().enumerate() {
                if r0 + j < t.mr {
                    store_row(t, r0 + j, mask, v);
                }
            }
        }
    }
}

/// Stores row `r` of the tile: its `nr` valid columns (a plain store when all 16 are).
///
/// # Safety
/// As [`finish_rows`]; `mask` has the low `t.nr` bits set.
#[inline(always)]
unsafe fn store_row(t: &Tile<'_>, r: usize, mask: __mmask16, v: __m512) {
    // SAFETY: `out[r] + col` is valid for `nr` writes; the masked store writes only those.
    unsafe {
        let p = t.out[r].add(t.col);
        if t.nr == 16 {
            _mm512_storeu_ps(p, v);
        } else {
            _mm512_mask_storeu_ps(p, mask, v);
        }
    }
}

/// `[+ residual] -> activation -> [+ residual]` on `N` rows; row `i`'s residual is read through
/// `mask[i]` from `res[i]` (only when `f.order` is set).
///
/// # Safety
/// Code compiled with AVX-512 F and VL; `res[i]` valid for the masked lanes' reads when
/// `f.order` is set.
#[inline(always)]
unsafe fn finish_n<const N: usize>(
    f: Finish,
    v: [__m512; N],
    res: [*const f32; N],
    mask: [__mmask16; N],
) -> [__m512; N] {
    // SAFETY: forwarded contract; a masked-off lane is never read.
    unsafe {
        let mut v = v;
        let mut r = [_mm512_setzero_ps(); N];
        if f.order.is_some() {
            for i in 0..N {
                r[i] = _mm512_maskz_loadu_ps(mask[i], res[i]);
            }
        }
        if f.order == Some(AddOrder::BeforeActivation) {
            for i in 0..N {
                v[i] = _mm512_add_ps(v[i], r[i]);
            }
        }
        v = activate_n(f.act, v);
        if f.order == Some(AddOrder::AfterActivation) {
            for i in 0..N {
                v[i] = _mm512_add_ps(v[i], r[i]);
            }
        }
        v
    }
}
