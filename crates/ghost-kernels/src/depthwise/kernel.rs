//! The depthwise kernel body, written once over [`Lanes`] and instantiated by `avx2.rs` and
//! `portable.rs`.
//!
//! Work is one output row at a time (the unit threads split on). Fewer than 8 channels go to
//! `small.rs` (a separate entry of the back end table); otherwise, inside a row:
//! - *interior* columns (window fully inside the input horizontally) of 3x3 / 5x5 kernels with
//!   horizontal stride 1 or 2 run the tile kernel: `T` (then `H`) output pixels x one 8-channel
//!   block, each tap's weight vector loaded once and fed to the `T` accumulators, each input load
//!   folded into its FMA (no padded copy, no register spills);
//! - vertical borders shrink the kernel to its valid rows (MLAS), in both paths;
//! - edge columns, the leftover interior columns and every other kernel size run the edge
//!   kernel: one output pixel x up to 4 channel blocks, valid taps only.
//!
//! Both paths start each accumulator from the bias and add the valid taps in the same order
//! (kernel row ascending, then column ascending) with the same fused multiply-add, so a pixel's
//! value does not depend on which path (or which thread) computed it.

use std::ops::Range;

use super::pack::PackedDepthwise;
use crate::act::{Activation, AddOrder};
use crate::lanes::{Lanes, LANES};

/// Everything a row needs: raw pointers (already offset to each view's channel 0) and geometry.
/// Built by the safe entry point after every check.
pub(crate) struct Plan<'a> {
    pub input: *const f32,
    pub in_stride: usize,
    pub ih: usize,
    pub iw: usize,
    pub output: *mut f32,
    pub out_stride: usize,
    pub oh: usize,
    pub ow: usize,
    /// Residual base pointer and pixel stride (null / 0 when `order` is `None`).
    pub residual: *const f32,
    pub res_stride: usize,
    pub order: Option<AddOrder>,
    pub act: Activation,
    pub sh: usize,
    pub sw: usize,
    pub pad_top: usize,
    pub pad_left: usize,
    pub packed: &'a PackedDepthwise,
}

// SAFETY: a Plan is shared by the threads of one kernel call; they only read `input`, `residual`
// and `packed`, and write disjoint output rows.
unsafe impl Sync for Plan<'_> {}
// SAFETY: as above.
unsafe impl Send for Plan<'_> {}

/// Computes output rows `rows` (numbered `b * oh + oy`) of a layer with at least 8 channels
/// (fewer go to `small.rs`).
///
/// # Safety
/// `plan` must describe views checked by the safe entry point, and the back end `V` must be
/// supported by the CPU.
#[inline(always)]
pub(crate) unsafe fn rows<V: Lanes, const T: usize, const H: usize>(
    plan: &Plan,
    rows: Range<usize>,
) {
    rows_impl::<V, T, H>(plan, rows)
}

/// Geometry of one output row.
struct Row {
    b: usize,
    oy: usize,
    /// Input row of kernel row 0 (may be negative: padding).
    iy0: isize,
    /// Valid kernel rows.
    ky: Range<usize>,
    /// Input rows the next output row needs and this one does not: prefetched while this row
    /// computes, so the kernel does not stall on memory at the start of each new input row.
    prefetch: Range<usize>,
}

/// Floats per cache line.
const LINE: usize = 16;

/// Prefetches part `part` of `parts` equal parts of the row's `prefetch` input rows.
#[inline(always)]
unsafe fn prefetch_part<V: Lanes>(p: &Plan, row: &Row, part: usize, parts: usize) {
    let row_len = p.iw * p.in_stride;
    let chunk = row_len.div_ceil(parts.max(1)).div_ceil(LINE) * LINE;
    let (lo, hi) = (part * chunk, ((part + 1) * chunk).min(row_len));
    for iy in row.prefetch.clone() {
        let base = p.input.wrapping_add((row.b * p.ih + iy) * row_len);
        for off in (lo..hi).step_by(LINE) {
            V::prefetch(base.wrapping_add(off));
        }
    }
}

#[inline(always)]
unsafe fn rows_impl<V: Lanes, const T: usize, const H: usize>(plan: &Plan, rows: Range<usize>) {
    let p = plan;
    let (kh, kw) = (p.packed.kernel_h(), p.packed.kernel_w());
    // Interior columns: ox * sw - pad_left >= 0 and ox * sw - pad_left + kw <= iw.
    let ox_lo = p.pad_left.div_ceil(p.sw).min(p.ow);
    let ox_hi = if p.iw + p.pad_left >= kw {
        ((p.iw + p.pad_left - kw) / p.sw + 1).min(p.ow)
    } else {
        0
    }
    .max(ox_lo);
    for r in rows {
        let (b, oy) = (r / p.oh, r % p.oh);
        let iy0 = (oy * p.sh) as isize - p.pad_top as isize;
        let ky0 = (-iy0).clamp(0, kh as isize) as usize;
        let ky1 = (p.ih as isize - iy0).clamp(ky0 as isize, kh as isize) as usize;
        let next_iy0 = iy0 + p.sh as isize;
        let prefetch = if oy + 1 < p.oh {
            let lo = next_iy0.max(iy0 + kh as isize).clamp(0, p.ih as isize) as usize;
            lo..(next_iy0 + kh as isize).clamp(lo as isize, p.ih as isize) as usize
        } else {
            0..0
        };
        let row = Row {
            b,
            oy,
            iy0,
            ky: ky0..ky1,
            prefetch,
        };
        let fast = match (kw, p.sw) {
            (3, 1) => row_tiles::<V, T, H, 3, 1>(p, &row, ox_lo..ox_hi),
            (3, 2) => row_tiles::<V, T, H, 3, 2>(p, &row, ox_lo..ox_hi),
            (5, 1) => row_tiles::<V, T, H, 5, 1>(p, &row, ox_lo..ox_hi),
            (5, 2) => row_tiles::<V, T, H, 5, 2>(p, &row, ox_lo..ox_hi),
            _ => ox_lo..ox_lo,
        };
        if fast.is_empty() {
            prefetch_part::<V>(p, &row, 0, 1);
        }
        // Everything the tiles did not cover goes through the edge kernel.
        for ox in (0..fast.start).chain(fast.end..p.ow) {
            edge_pixel::<V>(p, &row, ox);
        }
    }
}

/// Runs tiles of `T` (then at most one of `H`) pixels over the interior columns and returns the
/// columns it covered. Each tile runs every channel block before the next tile starts: the
/// tile's input pixels (all channels, contiguous) are then loaded from memory once per row, and
/// the next tile's overlapping columns are still in L1.
#[inline(always)]
unsafe fn row_tiles<V: Lanes, const T: usize, const H: usize, const KW: usize, const S: usize>(
    p: &Plan,
    row: &Row,
    interior: Range<usize>,
) -> Range<usize> {
    let len = interior.end - interior.start;
    let tiles = len / T;
    let half = usize::from(len % T >= H);
    let blocks = p.packed.block_starts();
    for tile in 0..tiles {
        prefetch_part::<V>(p, row, tile, tiles + half);
        let ox = interior.start + tile * T;
        for (blk, &start) in blocks.iter().enumerate() {
            tile_block::<V, T, KW, S>(p, row, ox, blk, start);
        }
    }
    if half == 1 {
        prefetch_part::<V>(p, row, tiles, tiles + 1);
        let ox = interior.start + tiles * T;
        for (blk, &start) in blocks.iter().enumerate() {
            tile_block::<V, H, KW, S>(p, row, ox, blk, start);
        }
    }
    interior.start..interior.start + tiles * T + half * H
}

/// `T` output pixels from `ox` of one channel block.
#[inline(always)]
unsafe fn tile_block<V: Lanes, const T: usize, const KW: usize, const S: usize>(
    p: &Plan,
    row: &Row,
    ox: usize,
    blk: usize,
    start: usize,
) {
    let weights = p.packed.block_weights(blk);
    let bias = V::load(p.packed.block_bias(blk));
    let mut acc = [bias; T];
    // Interior tile: its first input column is inside the image. One pointer per output pixel;
    // every tap then adds the same offset to all of them.
    let ix0 = ox * S - p.pad_left;
    let first = p
        .input
        .add(((row.b * p.ih) * p.iw + ix0) * p.in_stride + start);
    let px: [*const f32; T] = std::array::from_fn(|t| first.add(t * S * p.in_stride));
    let row_len = p.iw * p.in_stride;
    for ky in row.ky.clone() {
        let line = (row.iy0 + ky as isize) as usize * row_len;
        for kx in 0..KW {
            // One tap of 8 channels feeds the T accumulators; each input load feeds one FMA.
            let w = V::load(weights.add((ky * KW + kx) * LANES));
            let off = line + kx * p.in_stride;
            for t in 0..T {
                acc[t] = V::mul_add(w, V::load(px[t].add(off)), acc[t]);
            }
        }
    }
    for (t, a) in acc.into_iter().enumerate() {
        finish::<V>(p, row, ox + t, start, a);
    }
}

/// One output pixel of every channel block, valid taps only.
#[inline(always)]
unsafe fn edge_pixel<V: Lanes>(p: &Plan, row: &Row, ox: usize) {
    let starts = p.packed.block_starts();
    let mut blk = 0;
    while blk < starts.len() {
        match starts.len() - blk {
            1 => edge_blocks::<V, 1>(p, row, ox, blk),
            2 => edge_blocks::<V, 2>(p, row, ox, blk),
            3 => edge_blocks::<V, 3>(p, row, ox, blk),
            _ => edge_blocks::<V, 4>(p, row, ox, blk),
        }
        blk += 4;
    }
}

/// One output pixel of blocks `blk0 .. blk0 + NB` (independent accumulators hide FMA latency).
#[inline(always)]
unsafe fn edge_blocks<V: Lanes, const NB: usize>(p: &Plan, row: &Row, ox: usize, blk0: usize) {
    let kw = p.packed.kernel_w();
    let starts = p.packed.block_starts();
    let ix0 = (ox * p.sw) as isize - p.pad_left as isize;
    let kx0 = (-ix0).clamp(0, kw as isize) as usize;
    let kx1 = (p.iw as isize - ix0).clamp(kx0 as isize, kw as isize) as usize;
    let weights: [*const f32; NB] = std::array::from_fn(|i| p.packed.block_weights(blk0 + i));
    let start: [usize; NB] = std::array::from_fn(|i| starts[blk0 + i]);
    // No closure around the loads: closures do not inherit the caller's target features.
    let mut acc = [V::splat(0.0); NB];
    for (i, a) in acc.iter_mut().enumerate() {
        *a = V::load(p.packed.block_bias(blk0 + i));
    }
    for ky in row.ky.clone() {
        let iy = (row.iy0 + ky as isize) as usize;
        let line = p.input.add((row.b * p.ih + iy) * p.iw * p.in_stride);
        for kx in kx0..kx1 {
            let px = line.add((ix0 + kx as isize) as usize * p.in_stride);
            let tap = (ky * kw + kx) * LANES;
            for i in 0..NB {
                let x = V::load(px.add(start[i]));
                acc[i] = V::mul_add(V::load(weights[i].add(tap)), x, acc[i]);
            }
        }
    }
    for i in 0..NB {
        finish::<V>(p, row, ox, start[i], acc[i]);
    }
}

/// Epilogue (residual, activation) and store of one accumulator vector.
#[inline(always)]
unsafe fn finish<V: Lanes>(p: &Plan, row: &Row, ox: usize, start: usize, acc: V) {
    let pixel = (row.b * p.oh + row.oy) * p.ow + ox;
    let value = match p.order {
        None => V::activate(p.act, acc),
        Some(order) => {
            let r = V::load(p.residual.add(pixel * p.res_stride + start));
            match order {
                AddOrder::BeforeActivation => V::activate(p.act, V::add(acc, r)),
                AddOrder::AfterActivation => V::add(V::activate(p.act, acc), r),
            }
        }
    };
    V::store(p.output.add(pixel * p.out_stride + start), value);
}
