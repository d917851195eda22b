//! AVX2 + FMA 6x16 broadcast microkernel (XNNPACK's Zen 3 shape).
//!
//! Per reduction step: two aligned loads of the 16-wide weight row, six broadcasts of one
//! activation per row, twelve FMAs into twelve accumulators (12 of the 16 ymm registers; the
//! other three hold the weights and the broadcast). The epilogue runs in vector registers (SiLU
//! and sigmoid on four vectors side by side, see `finish_n`);
//! partial tiles (fewer than 16 valid columns) use exact-width plain loads and stores around exactly the same
//! arithmetic as full ones.

use std::arch::x86_64::*;

use super::small::{load_n, store_n};
use super::tile::{Finish, Microkernel, Strip, Tile};
use crate::act::AddOrder;
use crate::simd::avx2::activate_n;

/// Rows per tile.
pub(crate) const MR: usize = 6;

/// The 6x16 microkernel.
pub(crate) const KERNEL: Microkernel = Microkernel {
    mr: MR,
    run: strip_6x16,
};

/// Computes every 6x16 tile of a strip.
///
/// # Safety
/// See [`super::tile::KernelFn`]; the CPU must support AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
unsafe fn strip_6x16(s: &Strip<'_>) {
    let tiles = s.tiles(MR);
    if s.nr <= 8 {
        // A narrow panel (at most 8 valid channels): two row tiles at once on 8 columns keep
        // 12 accumulators busy instead of computing 8 dropped columns. Each output element
        // still sees the same sequence of FMAs, so the result is identical to the 6x16 kernel.
        let mut i = 0;
        while i < tiles {
            let second = (i + 1).min(tiles - 1);
            // SAFETY: forwarded strip contract; this function has AVX2 and FMA enabled. When
            // there is no second tile the first is computed twice and stored once.
            unsafe { tile_12x8(&s.tile(i, MR), &s.tile(second, MR), second != i) };
            i += 2;
        }
        return;
    }
    // The first panel of a row block reads the block's activations from L3 or memory (later
    // panels find them in L2): there each tile prefetches the next tile's rows, one cache line
    // per row every 16 reduction steps, which keeps the six short row streams ahead of the
    // FMAs (faster at one thread, within noise at two: see
    // docs/kernels.md#measurements-behind-code-decisions).
    for i in 0..tiles {
        let next = s.tile((i + 1).min(tiles - 1), MR);
        // SAFETY: forwarded strip contract; this function has AVX2 and FMA enabled.
        unsafe {
            if s.col == 0 {
                tile_6x16::<true>(&s.tile(i, MR), next.a)
            } else {
                tile_6x16::<false>(&s.tile(i, MR), next.a)
            }
        };
    }
}

/// Computes two 6-row tiles on the first 8 columns of a panel (`nr <= 8`); stores the second
/// only if `store_second`.
///
/// # Safety
/// See [`super::tile::KernelFn`] for both tiles; AVX2+FMA code only.
#[inline(always)]
unsafe fn tile_12x8(t: &Tile<'_>, u: &Tile<'_>, store_second: bool) {
    debug_assert!(t.nr <= 8 && t.a.len() == u.a.len());
    // SAFETY (whole function): as `tile_6x16`; only the first 8 floats of each 64-byte-aligned
    // weight row are read.
    unsafe {
        let mut init = [_mm256_setzero_ps(); 2 * MR];
        for (half, tile) in [t, u].into_iter().enumerate() {
            for r in 0..MR {
                init[half * MR + r] = match tile.bias {
                    Some(b) => _mm256_load_ps(b.0.as_ptr()),
                    None => load8(tile.out[r].add(tile.col), tile.nr),
                };
            }
        }
        let [mut c0, mut c1, mut c2, mut c3, mut c4, mut c5, mut c6, mut c7, mut c8, mut c9, mut c10, mut c11] =
            init;
        let mut w = t.weights.as_ptr() as *const f32;
        for (rows, rows2) in t.a.chunks_exact(MR).zip(u.a.chunks_exact(MR)) {
            let off = t.a_offset;
            let (a0, a1, a2) = (rows[0].add(off), rows[1].add(off), rows[2].add(off));
            let (a3, a4, a5) = (rows[3].add(off), rows[4].add(off), rows[5].add(off));
            let (a6, a7, a8) = (rows2[0].add(off), rows2[1].add(off), rows2[2].add(off));
            let (a9, a10, a11) = (rows2[3].add(off), rows2[4].add(off), rows2[5].add(off));
            for kk in 0..t.k {
                let w0 = _mm256_load_ps(w);
                w = w.add(16);
                c0 = _mm256_fmadd_ps(_mm256_broadcast_ss(&*a0.add(kk)), w0, c0);
                c1 = _mm256_fmadd_ps(_mm256_broadcast_ss(&*a1.add(kk)), w0, c1);
                c2 = _mm256_fmadd_ps(_mm256_broadcast_ss(&*a2.add(kk)), w0, c2);
                c3 = _mm256_fmadd_ps(_mm256_broadcast_ss(&*a3.add(kk)), w0, c3);
                c4 = _mm256_fmadd_ps(_mm256_broadcast_ss(&*a4.add(kk)), w0, c4);
                c5 = _mm256_fmadd_ps(_mm256_broadcast_ss(&*a5.add(kk)), w0, c5);
                c6 = _mm256_fmadd_ps(_mm256_broadcast_ss(&*a6.add(kk)), w0, c6);
                c7 = _mm256_fmadd_ps(_mm256_broadcast_ss(&*a7.add(kk)), w0, c7);
                c8 = _mm256_fmadd_ps(_mm256_broadcast_ss(&*a8.add(kk)), w0, c8);
                c9 = _mm256_fmadd_ps(_mm256_broadcast_ss(&*a9.add(kk)), w0, c9);
                c10 = _mm256_fmadd_ps(_mm256_broadcast_ss(&*a10.add(kk)), w0, c10);
                c11 = _mm256_fmadd_ps(_mm256_broadcast_ss(&*a11.add(kk)), w0, c11);
            }
        }
        let c = [c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11];
        // Vector `i` is row `i % MR` of tile `i / MR` (`t`, then `u`); the rows kept are the
        // valid rows of `t` and, with `store_second`, of `u`.
        let kept = [t.mr, if store_second { u.mr } else { 0 }];
        let Some(f) = t.finish else {
            for (half, tile) in [t, u].into_iter().enumerate() {
                for r in 0..kept[half] {
                    store8(tile.out[r].add(tile.col), c[half * MR + r], tile.nr);
                }
            }
            return;
        };
        if !f.act.is_transcendental() {
            for (half, tile) in [t, u].into_iter().enumerate() {
                for r in 0..kept[half] {
                    let res = [tile.res[r].wrapping_add(tile.col)];
                    let [v] = finish_n(f, [c[half * MR + r]], res, [tile.nr]);
                    store8(tile.out[r].add(tile.col), v, tile.nr);
                }
            }
            return;
        }
        // SiLU and sigmoid: four rows at a time through the epilogue (see `finish_n`); rows not
        // kept are computed on zero residuals and dropped.
        for g in (0..2 * MR).step_by(4) {
            let mut res = [std::ptr::null::<f32>(); 4];
            let mut len = [0usize; 4];
            for j in 0..4 {
                let (half, r) = ((g + j) / MR, (g + j) % MR);
                if r < kept[half] {
                    let tile = if half == 0 { t } else { u };
                    res[j] = tile.res[r].wrapping_add(tile.col);
                    len[j] = tile.nr;
                }
            }
            let v = finish_n(f, [c[g], c[g + 1], c[g + 2], c[g + 3]], res, len);
            for (j, v) in v.into_iter().enumerate() {
                let (half, r) = ((g + j) / MR, (g + j) % MR);
                if r < kept[half] {
                    let tile = if half == 0 { t } else { u };
                    store8(tile.out[r].add(tile.col), v, tile.nr);
                }
            }
        }
    }
}

/// The epilogue `[+ residual] -> activation -> [+ residual]` on `N` vectors at once. Vector `i`
/// has `len[i] <= 8` valid floats, whose residual starts at `res[i]` (read only when a residual
/// is fused, and only `len[i]` floats). The `N` vectors go through the activation together: one
/// SiLU is a long dependency chain, and four independent ones side by side keep the core busy
/// (`simd::avx2::exp_n`).
///
/// # Safety
/// AVX2+FMA code only; `res[i]` valid for `len[i]` reads when `f.order` is set.
#[inline(always)]
unsafe fn finish_n<const N: usize>(
    f: Finish,
    v: [__m256; N],
    res: [*const f32; N],
    len: [usize; N],
) -> [__m256; N] {
    // SAFETY: forwarded contract; `load_n` reads only `len[i]` floats.
    unsafe {
        let mut v = v;
        let mut r = [_mm256_setzero_ps(); N];
        if f.order.is_some() {
            for i in 0..N {
                r[i] = load_n(res[i], len[i]);
            }
        }
        if f.order == Some(AddOrder::BeforeActivation) {
            for i in 0..N {
                v[i] = _mm256_add_ps(v[i], r[i]);
            }
        }
        v = activate_n(f.act, v);
        if f.order == Some(AddOrder::AfterActivation) {
            for i in 0..N {
                v[i] = _mm256_add_ps(v[i], r[i]);
            }
        }
        v
    }
}

/// Computes one 6x16 tile over one reduction block; with `PREFETCH`, also prefetches the rows of
/// `next_a` (the next tile's row pointers, same layout as `t.a`) into L1. Prefetches never fault,
/// so their addresses need not be valid.
///
/// # Safety
/// See [`super::tile::KernelFn`]; AVX2+FMA code only.
#[inline(always)]
unsafe fn tile_6x16<const PREFETCH: bool>(t: &Tile<'_>, next_a: &[*const f32]) {
    debug_assert!(t.a.len().is_multiple_of(MR) && t.out.len() == MR);
    debug_assert_eq!(t.weights.len(), t.a.len() / MR * t.k);
    // SAFETY (whole function): the caller guarantees the tile contract of `KernelFn`. Panel rows
    // are 64-byte aligned, so the aligned weight loads are valid, and `w` advances by one row per
    // reduction step for exactly `taps * k` steps.
    unsafe {
        // Accumulators are named locals, not an array: an array indexed by the row loop below
        // makes LLVM keep it in memory and store every accumulator on every reduction step.
        let mut init = [_mm256_setzero_ps(); 2 * MR];
        match t.bias {
            Some(b) => {
                let b0 = _mm256_load_ps(b.0.as_ptr());
                let b1 = _mm256_load_ps(b.0.as_ptr().add(8));
                for r in 0..MR {
                    init[2 * r] = b0;
                    init[2 * r + 1] = b1;
                }
            }
            None => {
                for r in 0..MR {
                    [init[2 * r], init[2 * r + 1]] = load16(t.out[r].add(t.col), t.nr);
                }
            }
        }
        let [mut c00, mut c01, mut c10, mut c11, mut c20, mut c21, mut c30, mut c31, mut c40, mut c41, mut c50, mut c51] =
            init;
        let mut w = t.weights.as_ptr() as *const f32;
        for (rows, next) in t.a.chunks_exact(MR).zip(next_a.chunks_exact(MR)) {
            let a0 = rows[0].add(t.a_offset);
            let a1 = rows[1].add(t.a_offset);
            let a2 = rows[2].add(t.a_offset);
            let a3 = rows[3].add(t.a_offset);
            let a4 = rows[4].add(t.a_offset);
            let a5 = rows[5].add(t.a_offset);
            let mut k0 = 0;
            while k0 < t.k {
                let k1 = if PREFETCH {
                    for r in next {
                        _mm_prefetch::<_MM_HINT_T0>(r.wrapping_add(t.a_offset + k0) as *const i8);
                    }
                    (k0 + 16).min(t.k)
                } else {
                    t.k
                };
                for kk in k0..k1 {
                    let w0 = _mm256_load_ps(w);
                    let w1 = _mm256_load_ps(w.add(8));
                    w = w.add(16);
                    let x = _mm256_broadcast_ss(&*a0.add(kk));
                    c00 = _mm256_fmadd_ps(x, w0, c00);
                    c01 = _mm256_fmadd_ps(x, w1, c01);
                    let x = _mm256_broadcast_ss(&*a1.add(kk));
                    c10 = _mm256_fmadd_ps(x, w0, c10);
                    c11 = _mm256_fmadd_ps(x, w1, c11);
                    let x = _mm256_broadcast_ss(&*a2.add(kk));
                    c20 = _mm256_fmadd_ps(x, w0, c20);
                    c21 = _mm256_fmadd_ps(x, w1, c21);
                    let x = _mm256_broadcast_ss(&*a3.add(kk));
                    c30 = _mm256_fmadd_ps(x, w0, c30);
                    c31 = _mm256_fmadd_ps(x, w1, c31);
                    let x = _mm256_broadcast_ss(&*a4.add(kk));
                    c40 = _mm256_fmadd_ps(x, w0, c40);
                    c41 = _mm256_fmadd_ps(x, w1, c41);
                    let x = _mm256_broadcast_ss(&*a5.add(kk));
                    c50 = _mm256_fmadd_ps(x, w0, c50);
                    c51 = _mm256_fmadd_ps(x, w1, c51);
                }
                k0 = k1;
            }
        }
        let c = [
            [c00, c01],
            [c10, c11],
            [c20, c21],
            [c30, c31],
            [c40, c41],
            [c50, c51],
        ];
        finish_rows(t, c);
    }
}

/// Stores the first `t.mr` rows of a 16-wide tile's raw sums `c` (row `r` in `c[r]`, two
/// vectors of 8 columns) into `t.out`, through the epilogue on the last reduction block. Shared
/// with the AVX-512 tile, which hands over its sums in the same layout.
///
/// # Safety
/// See [`super::tile::KernelFn`]; AVX2+FMA code only; `t.mr <= R`.
#[inline(always)]
pub(super) unsafe fn finish_rows<const R: usize>(t: &Tile<'_>, c: [[__m256; 2]; R]) {
    debug_assert!(t.mr <= R && t.out.len() >= t.mr && t.res.len() >= t.mr);
    // SAFETY (whole function): the tile contract of `KernelFn`; `store16` and `finish_n` touch
    // only the `nr` valid columns of the `mr` valid rows.
    unsafe {
        let Some(f) = t.finish else {
            for (r, &v) in c.iter().enumerate().take(t.mr) {
                store16(t.out[r].add(t.col), v, t.nr);
            }
            return;
        };
        let (lo, hi) = (t.nr.min(8), t.nr.saturating_sub(8));
        if !f.act.is_transcendental() {
            for (r, &v) in c.iter().enumerate().take(t.mr) {
                let res = t.res[r];
                let res = [res.wrapping_add(t.col), res.wrapping_add(t.col + 8)];
                store16(t.out[r].add(t.col), finish_n(f, v, res, [lo, hi]), t.nr);
            }
            return;
        }
        // SiLU and sigmoid: two rows (four vectors) at a time through the epilogue (see
        // `finish_n`).
        for r in (0..t.mr).step_by(2) {
            let second = r + 1 < t.mr;
            let (r1, lo1, hi1) = if second { (r + 1, lo, hi) } else { (r, 0, 0) };
            let v = finish_n(
                f,
                [c[r][0], c[r][1], c[r1][0], c[r1][1]],
                [
                    t.res[r].wrapping_add(t.col),
                    t.res[r].wrapping_add(t.col + 8),
                    t.res[r1].wrapping_add(t.col),
                    t.res[r1].wrapping_add(t.col + 8),
                ],
                [lo, hi, lo1, hi1],
            );
            store16(t.out[r].add(t.col), [v[0], v[1]], t.nr);
            if second {
                store16(t.out[r + 1].add(t.col), [v[2], v[3]], t.nr);
            }
        }
    }
}

/// Loads `nr` floats, zero in the other lanes of 16 (plain loads, no `vmaskmovps`).
///
/// # Safety
/// AVX2 code only; `p` valid for `nr` reads.
#[inline(always)]
unsafe fn load16(p: *const f32, nr: usize) -> [__m256; 2] {
    // SAFETY: `load_n` reads only the `nr` valid floats.
    unsafe {
        if nr == 16 {
            [_mm256_loadu_ps(p), _mm256_loadu_ps(p.add(8))]
        } else if nr > 8 {
            [_mm256_loadu_ps(p), load_n(p.add(8), nr - 8)]
        } else {
            [load_n(p, nr), _mm256_setzero_ps()]
        }
    }
}

/// Stores the first `nr` of 16 floats with plain 256/128/64/32-bit stores: AMD cores run
/// `vmaskmovps` stores microcoded (over 10 cycles each), which dominated narrow layers such as
/// the 3->4 stem (`nr = 4`).
///
/// # Safety
/// AVX2 code only; `p` valid for `nr` writes.
#[inline(always)]
unsafe fn store16(p: *mut f32, v: [__m256; 2], nr: usize) {
    // SAFETY: `store_n` writes only the `nr` valid floats.
    unsafe {
        if nr == 16 {
            _mm256_storeu_ps(p, v[0]);
            _mm256_storeu_ps(p.add(8), v[1]);
        } else if nr > 8 {
            _mm256_storeu_ps(p, v[0]);
            store_n(p.add(8), v[1], nr - 8);
        } else {
            store_n(p, v[0], nr);
        }
    }
}

/// Loads `nr <= 8` floats, zero in the other lanes.
///
/// # Safety
/// AVX2 code only; `p` valid for `nr` reads.
#[inline(always)]
unsafe fn load8(p: *const f32, nr: usize) -> __m256 {
    // SAFETY: as `load16`.
    unsafe { load_n(p, nr) }
}

/// Stores the first `nr <= 8` of 8 floats.
///
/// # Safety
/// AVX2 code only; `p` valid for `nr` writes.
#[inline(always)]
unsafe fn store8(p: *mut f32, v: __m256, nr: usize) {
    // SAFETY: as `store16`.
    unsafe { store_n(p, v, nr) }
}
