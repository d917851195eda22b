//! NEON 4x16 microkernel with FMLA by lane (aarch64); 8x8 on panels with at most 8 valid
//! channels.
//!
//! Tile shape. The panel format fixes 16 columns (four q registers per row). Keeping A in
//! registers four reduction steps at a time (one `ld1` of 4 consecutive input channels per row,
//! whose lanes the FMLAs read directly, `vfmaq_laneq_f32`) needs one register per row, and a
//! reduction step needs the four weight registers: `MR x 4` accumulators + `MR` + 4. MR = 4 is
//! 16 + 4 + 4 = 24 of the 32 registers; MR = 6 would need 24 + 6 + 4 = 34 and spill (engines with
//! 8x12 / 12x8 tiles pack A into contiguous slivers first; our A rows are read in place, and an
//! extra packing pass costs more than it saves at this project's K of 16..512). Per 4 reduction
//! steps the 4x16 tile issues 64 FMLAs against 4 + 16 = 20 loads: on two FMA pipes and two load
//! pipes (Cortex-A76, Neoverse-N1) the FMAs are the bottleneck (32 cycles vs 10), and 16
//! independent accumulators cover the 4-cycle FMLA latency 8 times over. `docs/kernels.md` has
//! llvm-mca's view of the compiled loop.
//!
//! A panel with at most 8 valid channels runs two 4-row tiles on its first 8 columns (8 rows x
//! 2 registers: again 16 accumulators, 8 + 2 other registers), as the AVX2 kernel does.
//!
//! Results: every output element gets the AVX2 kernel's sequence of operations (bias, one fused
//! multiply-add per reduction step in order, the same epilogue), whatever the tile, the lane the
//! input value is read from, or the number of rows computed beside it.

use std::arch::aarch64::*;

use super::tile::{Finish, Microkernel, Strip, Tile};
use crate::act::AddOrder;
use crate::simd::neon::{activate_n, load_lanes, store_lanes};

/// Rows per tile.
pub(crate) const MR: usize = 4;

/// The 4x16 microkernel.
pub(crate) const KERNEL: Microkernel = Microkernel {
    mr: MR,
    run: strip_4x16,
};

/// Accumulators of one tile: `R` rows of `Q` 4-lane column groups (always 16 vectors).
type Acc<const R: usize, const Q: usize> = [[float32x4_t; Q]; R];

/// Computes every tile of a strip.
///
/// # Safety
/// See [`super::tile::KernelFn`] (NEON is always present on aarch64).
unsafe fn strip_4x16(s: &Strip<'_>) {
    let tiles = s.tiles(MR);
    if s.nr <= 8 {
        let mut i = 0;
        while i < tiles {
            let second = (i + 1).min(tiles - 1);
            // SAFETY: forwarded strip contract. When there is no second tile the first is
            // computed twice and stored once.
            unsafe { tile_8x8(&s.tile(i, MR), &s.tile(second, MR), second != i) };
            i += 2;
        }
        return;
    }
    for i in 0..tiles {
        // SAFETY: forwarded strip contract.
        unsafe { tile_4x16(&s.tile(i, MR)) };
    }
}

/// One 4x16 tile over one reduction block.
///
/// # Safety
/// See [`super::tile::KernelFn`].
#[inline(always)]
unsafe fn tile_4x16(t: &Tile<'_>) {
    debug_assert!(t.a.len() % MR == 0 && t.out.len() == MR);
    debug_assert_eq!(t.weights.len(), t.a.len() / MR * t.k);
    // SAFETY (whole function): the tile contract of `KernelFn`; weight rows are 16 floats each,
    // `taps * k` of them.
    unsafe {
        let out: [*mut f32; MR] = std::array::from_fn(|r| t.out[r].add(t.col));
        let mut c: Acc<MR, 4> = match t.bias {
            Some(b) => [load_cols::<4>(b.0.as_ptr(), 16); MR],
            None => out.map(|p| load_cols::<4>(p, t.nr)),
        };
        let mut w = t.weights.as_ptr() as *const f32;
        for rows in t.a.chunks_exact(MR) {
            let a: [*const f32; MR] = std::array::from_fn(|r| rows[r].add(t.a_offset));
            w = reduce(&mut c, a, t.k, w);
        }
        let res = std::array::from_fn(|r| t.res[r].wrapping_add(t.col));
        let keep = std::array::from_fn(|r| r < t.mr);
        finish(t.finish, c, out, res, keep, t.nr);
    }
}

/// Two 4-row tiles on the first 8 columns of a panel (`nr <= 8`); stores the second only if
/// `store_second`.
///
/// # Safety
/// See [`super::tile::KernelFn`] for both tiles.
#[inline(always)]
unsafe fn tile_8x8(t: &Tile<'_>, u: &Tile<'_>, store_second: bool) {
    debug_assert!(t.nr <= 8 && t.a.len() == u.a.len());
    // SAFETY (whole function): as `tile_4x16`; only the first 8 floats of each weight row are
    // read.
    unsafe {
        let out: [*mut f32; 2 * MR] = std::array::from_fn(|r| {
            if r < MR {
                t.out[r].add(t.col)
            } else {
                u.out[r - MR].add(u.col)
            }
        });
        let mut c: Acc<{ 2 * MR }, 2> = match t.bias {
            Some(b) => [load_cols::<2>(b.0.as_ptr(), 8); 2 * MR],
            None => out.map(|p| load_cols::<2>(p, t.nr)),
        };
        let mut w = t.weights.as_ptr() as *const f32;
        for (rows, rows2) in t.a.chunks_exact(MR).zip(u.a.chunks_exact(MR)) {
            let a: [*const f32; 2 * MR] = std::array::from_fn(|r| {
                if r < MR { rows[r] } else { rows2[r - MR] }.add(t.a_offset)
            });
            w = reduce(&mut c, a, t.k, w);
        }
        let res = std::array::from_fn(|r| {
            if r < MR {
                t.res[r].wrapping_add(t.col)
            } else {
                u.res[r - MR].wrapping_add(u.col)
            }
        });
        let keep = std::array::from_fn(|r| {
            if r < MR {
                r < t.mr
            } else {
                store_second && r - MR < u.mr
            }
        });
        finish(t.finish, c, out, res, keep, t.nr);
    }
}

/// `k` reduction steps of one tap: `c[r] += a[r][kk] * w[kk]` for `kk < k`, where weight row
/// `kk` is the 16 floats at `w + 16 kk` (the first `4Q` used). Returns the weight pointer after
/// the tap's rows.
///
/// # Safety
/// `a[r]` valid for `k` reads, `w` for `16 k`.
#[inline(always)]
unsafe fn reduce<const R: usize, const Q: usize>(
    c: &mut Acc<R, Q>,
    a: [*const f32; R],
    k: usize,
    mut w: *const f32,
) -> *const f32 {
    // SAFETY (whole function): reads `a[r] .. a[r] + k` and `w .. w + 16 k` only.
    unsafe {
        let mut kk = 0;
        while kk + 4 <= k {
            // One register of 4 consecutive input channels per row; its lanes feed 4 steps.
            // (Plain loops over constant bounds, not `map`/`from_fn`, which LLVM may leave as
            // calls that keep the accumulators in memory.)
            let mut x = [vdupq_n_f32(0.0); R];
            for r in 0..R {
                x[r] = vld1q_f32(a[r].add(kk));
            }
            step_lane::<R, Q, 0>(c, &x, w);
            step_lane::<R, Q, 1>(c, &x, w.add(16));
            step_lane::<R, Q, 2>(c, &x, w.add(32));
            step_lane::<R, Q, 3>(c, &x, w.add(48));
            w = w.add(64);
            kk += 4;
        }
        while kk < k {
            // The same fused multiply-add with the input value in lane 0.
            let mut x = [vdupq_n_f32(0.0); R];
            for r in 0..R {
                x[r] = vld1q_dup_f32(a[r].add(kk));
            }
            step_lane::<R, Q, 0>(c, &x, w);
            w = w.add(16);
            kk += 1;
        }
        w
    }
}

/// One reduction step: `c[r][q] += w[4q..4q + 4] * x[r][L]`.
#[inline(always)]
unsafe fn step_lane<const R: usize, const Q: usize, const L: i32>(
    c: &mut Acc<R, Q>,
    x: &[float32x4_t; R],
    w: *const f32,
) {
    // SAFETY: `w` valid for `4Q` reads (the caller's contract).
    unsafe {
        let mut b = [vdupq_n_f32(0.0); Q];
        for (q, b) in b.iter_mut().enumerate() {
            *b = vld1q_f32(w.add(4 * q));
        }
        for r in 0..R {
            for q in 0..Q {
                c[r][q] = vfmaq_laneq_f32::<L>(c[r][q], b[q], x[r]);
            }
        }
    }
}

/// The epilogue (`[+ residual] -> activation -> [+ residual]`, or raw partial sums without
/// `finish`) and the stores of the kept rows' first `nr` columns. The 16 vectors go through the
/// activation eight at a time: a SiLU is a ~20-step dependency chain, eight side by side keep
/// both pipes busy (as the AVX2 kernel's four 8-lane vectors).
///
/// # Safety
/// `out[r]` valid for `nr` writes for kept rows; `res[r]` valid for `nr` reads when a residual
/// is fused (every row: rows not kept repeat valid pointers).
#[inline(always)]
unsafe fn finish<const R: usize, const Q: usize>(
    f: Option<Finish>,
    c: Acc<R, Q>,
    out: [*mut f32; R],
    res: [*const f32; R],
    keep: [bool; R],
    nr: usize,
) {
    // SAFETY (whole function): the contract above; `load_cols`/`store_cols` touch only the
    // first `nr` floats.
    unsafe {
        let mut c = c;
        if let Some(f) = f {
            debug_assert_eq!(R * Q, 16);
            // Vector `i` is row `i / Q`, columns `4 (i % Q) ..`.
            for g in (0..R * Q).step_by(8) {
                let mut v: [float32x4_t; 8] = std::array::from_fn(|j| {
                    let i = g + j;
                    c[i / Q][i % Q]
                });
                let mut rv = [vdupq_n_f32(0.0); 8];
                if f.order.is_some() {
                    for (j, rv) in rv.iter_mut().enumerate() {
                        let (r, q) = ((g + j) / Q, (g + j) % Q);
                        let lanes = nr.saturating_sub(4 * q).min(4);
                        *rv = load_lanes(res[r].add(4 * q), lanes);
                    }
                }
                if f.order == Some(AddOrder::BeforeActivation) {
                    for (v, r) in v.iter_mut().zip(rv) {
                        *v = vaddq_f32(*v, r);
                    }
                }
                v = activate_n(f.act, v);
                if f.order == Some(AddOrder::AfterActivation) {
                    for (v, r) in v.iter_mut().zip(rv) {
                        *v = vaddq_f32(*v, r);
                    }
                }
                for (j, v) in v.into_iter().enumerate() {
                    let i = g + j;
                    c[i / Q][i % Q] = v;
                }
            }
        }
        for r in 0..R {
            if keep[r] {
                store_cols(out[r], c[r], nr);
            }
        }
    }
}

/// Loads the first `n <= 4Q` of `4Q` floats, zero in the others.
///
/// # Safety
/// `p` valid for `n` reads.
#[inline(always)]
unsafe fn load_cols<const Q: usize>(p: *const f32, n: usize) -> [float32x4_t; Q] {
    // SAFETY: every quarter reads only its valid floats.
    unsafe {
        std::array::from_fn(|q| load_lanes(p.wrapping_add(4 * q), n.saturating_sub(4 * q).min(4)))
    }
}

/// Stores the first `n <= 4Q` floats of `v`: whole registers, then the last partial one lane
/// pair / lane at a time (no masked stores on NEON).
///
/// # Safety
/// `p` valid for `n` writes.
#[inline(always)]
unsafe fn store_cols<const Q: usize>(p: *mut f32, v: [float32x4_t; Q], n: usize) {
    // SAFETY: writes only `p .. p + n`.
    unsafe {
        for (q, v) in v.into_iter().enumerate() {
            store_lanes(p.wrapping_add(4 * q), v, n.saturating_sub(4 * q).min(4));
        }
    }
}
