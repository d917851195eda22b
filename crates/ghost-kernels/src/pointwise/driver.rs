//! GEMM driver shared by the pointwise and dense convolutions: cache blocking around the ISA
//! microkernels.
//!
//! Loop order, for one block of output rows (pixels) whose row pointers are prepared up front:
//! reduction block (at most [`KC`] floats, so one 16-channel panel slice of the weights, `KC x 64`
//! bytes, stays in L1/L2) -> 16-channel weight panel -> `MR`-row tile. Row blocks are sized so their
//! activations for one reduction block stay in L2. Every output element is computed by the same
//! instruction sequence whatever block, tile or thread chunk it falls in: rows never interact, a
//! short row tile repeats its last row, a short column tile runs the full 16-wide math, and the
//! reduction blocks depend only on the layer's shape.

use super::pack::{PanelsRef, NR};
use super::tile::{Finish, Microkernel, Strip};
use crate::act::Epilogue;
use crate::view::{NhwcLayout, SendPtr, TensorView};

/// Longest reduction block, in floats per row: a 32 KiB slice of one weight panel, which stays
/// close (L1/L2) while every tile of the row block streams through it. Chosen because 256 was
/// slower on long reductions while 512, 1024 and no blocking were within noise of each other (see
/// docs/kernels.md#measurements-behind-code-decisions); 512 bounds the slice for any K.
pub(crate) const KC: usize = 512;

/// Floats of activations a row block may hold for one reduction block (128 KiB, a quarter of L2).
const BLOCK_FLOATS: usize = 32 * 1024;

/// Most rows in one block (a multiple of every microkernel's row tile: 1, 2, 4, 6, 8).
pub(crate) const MAX_BLOCK_ROWS: usize = 576;

/// Rows per block for a reduction of `taps` segments of `seg` floats (a multiple of `mr`).
pub(crate) fn block_rows(taps: usize, seg: usize, mr: usize) -> usize {
    let kc = (taps * seg).clamp(1, KC);
    let rows = (BLOCK_FLOATS / kc).clamp(mr, MAX_BLOCK_ROWS);
    rows / mr * mr
}

/// Smallest number of output rows worth a thread: about 2 MFLOP of work.
pub(crate) fn min_rows_per_thread(k: usize, n: usize, mr: usize) -> usize {
    let flops_per_row = 2 * k.max(1) * n.div_ceil(NR) * NR;
    (2_000_000 / flops_per_row).max(mr)
}

/// One reduction block: taps `t0..t1`, floats `c0..c1` of each tap's segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct KBlock {
    pub t0: usize,
    pub t1: usize,
    pub c0: usize,
    pub c1: usize,
}

/// Splits a reduction of `taps` segments of `seg` floats into blocks of at most about [`KC`]
/// floats: long segments are cut into near-equal pieces, short ones grouped by whole taps.
pub(crate) fn k_blocks(taps: usize, seg: usize) -> impl Iterator<Item = KBlock> {
    let pieces = seg.div_ceil(KC).max(1);
    let group = (KC / seg.max(1)).clamp(1, taps.max(1));
    let (tap_steps, piece_len) = if pieces > 1 {
        (taps, seg.div_ceil(pieces))
    } else {
        (taps.div_ceil(group), seg)
    };
    (0..tap_steps).flat_map(move |s| {
        (0..pieces).map(move |p| {
            if pieces > 1 {
                KBlock {
                    t0: s,
                    t1: s + 1,
                    c0: p * piece_len,
                    c1: ((p + 1) * piece_len).min(seg),
                }
            } else {
                KBlock {
                    t0: s * group,
                    t1: ((s + 1) * group).min(taps),
                    c0: 0,
                    c1: seg,
                }
            }
        })
    })
}

/// Output-side operands of a GEMM: the output pointer and layout plus the epilogue.
pub(crate) struct OutputSide<'a> {
    /// Base pointer of the output buffer (element (0,0,0,0) at `+ layout.channel_offset`).
    pub out: SendPtr,
    /// Output layout.
    pub layout: NhwcLayout,
    /// The epilogue (activation and residual view).
    pub epilogue: &'a Epilogue<'a>,
}

impl OutputSide<'_> {
    /// Output and residual pointers (channel 0) of output pixel `q`.
    ///
    /// # Safety
    /// `q` must be a pixel of the output (and so of the residual).
    #[inline(always)]
    pub(crate) unsafe fn row(&self, q: usize) -> (*mut f32, *const f32) {
        // SAFETY: the safe entry point checked both buffers hold every pixel of their layouts.
        unsafe {
            let out = self.out.0.add(self.layout.pixel_offset(q));
            let res = match &self.epilogue.residual {
                Some(r) => r.view.as_ptr().add(r.view.layout().pixel_offset(q)),
                None => std::ptr::null(),
            };
            (out, res)
        }
    }

    /// Fills `out` and `res` with the row pointers of pixels `start .. start + len`, padded to a
    /// whole number of `mr`-row tiles by repeating the last pixel.
    ///
    /// # Safety
    /// `start + len` must not exceed the output's pixels; `len >= 1`; the slices must hold the
    /// padded length.
    pub(crate) unsafe fn fill(
        &self,
        start: usize,
        len: usize,
        mr: usize,
        out: &mut [*mut f32],
        res: &mut [*const f32],
    ) {
        for idx in 0..len.div_ceil(mr) * mr {
            // SAFETY: start + min(idx, len - 1) is an output pixel.
            (out[idx], res[idx]) = unsafe { self.row(start + idx.min(len - 1)) };
        }
    }

    /// The epilogue's `Finish` descriptor.
    pub(crate) fn finish(&self) -> Finish {
        Finish {
            act: self.epilogue.act,
            order: self.epilogue.residual.map(|r| r.order),
        }
    }
}

/// Prepared rows of one block: `tiles * taps * mr` input pointers (tile-major, then tap) and
/// `tiles * mr` output and residual pointers.
pub(crate) struct BlockRows<'a> {
    pub table: &'a [*const f32],
    pub out: &'a [*mut f32],
    pub res: &'a [*const f32],
    /// Valid rows.
    pub rows: usize,
}

/// Runs every reduction block, panel and tile of one row block.
///
/// # Safety
/// The table's pointers must each be valid for `seg` floats, the output/residual pointers for
/// the panels' `n` channels; no other thread may touch these rows; the CPU must support `kernel`.
pub(crate) unsafe fn run_block(
    kernel: Microkernel,
    panels: PanelsRef<'_>,
    taps: usize,
    seg: usize,
    blk: &BlockRows<'_>,
    finish: Finish,
) {
    let mr = kernel.mr;
    let tiles = blk.rows.div_ceil(mr);
    let blocks = k_blocks(taps, seg);
    let mut blocks = blocks.peekable();
    let mut first = true;
    while let Some(kb) = blocks.next() {
        let last = blocks.peek().is_none();
        let k = kb.c1 - kb.c0;
        let w0 = kb.t0 * seg + kb.c0;
        let w_len = (kb.t1 - kb.t0) * k;
        for j in 0..panels.panel_count() {
            let col = j * NR;
            let panel = panels.panel(j);
            let strip = Strip {
                a: &blk.table[..tiles * taps * mr],
                tap_stride: taps,
                t0: kb.t0,
                taps: kb.t1 - kb.t0,
                a_offset: kb.c0,
                k,
                weights: &panel[1 + w0..1 + w0 + w_len],
                bias: first.then_some(&panel[0]),
                out: &blk.out[..tiles * mr],
                res: &blk.res[..tiles * mr],
                col,
                rows: blk.rows,
                nr: (panels.n() - col).min(NR),
                finish: last.then_some(finish),
            };
            // SAFETY: forwarded contract; the strip's slices have the lengths the kernel
            // contract asks for by construction.
            unsafe { (kernel.run)(&strip) };
        }
        first = false;
    }
}

/// Computes output pixels `rows` of a pointwise convolution.
///
/// # Safety
/// The input view, output pointer/layout and residual must have been checked by the safe entry
/// point (shapes agree, buffers long enough), `rows` must lie inside the output's pixels, no
/// other thread may write these rows, and the CPU must support `kernel`.
pub(crate) unsafe fn pointwise_rows(
    kernel: Microkernel,
    panels: PanelsRef<'_>,
    input: &TensorView<'_>,
    out: &OutputSide<'_>,
    rows: std::ops::Range<usize>,
) {
    let mr = kernel.mr;
    let k = panels.k();
    let in_base = input.as_ptr();
    let in_layout = *input.layout();
    let mut table = [std::ptr::null::<f32>(); MAX_BLOCK_ROWS];
    let mut o = [std::ptr::null_mut::<f32>(); MAX_BLOCK_ROWS];
    let mut res = [std::ptr::null::<f32>(); MAX_BLOCK_ROWS];
    let block = block_rows(1, k, mr);
    let finish = out.finish();
    let mut start = rows.start;
    while start < rows.end {
        let len = (rows.end - start).min(block);
        let padded = len.div_ceil(mr) * mr;
        for (idx, a) in table[..padded].iter_mut().enumerate() {
            // SAFETY: start + min(idx, len - 1) is a pixel of the input (same pixels as output).
            *a = unsafe { in_base.add(in_layout.pixel_offset(start + idx.min(len - 1))) };
        }
        // SAFETY: rows of this chunk; the arrays hold MAX_BLOCK_ROWS >= padded entries.
        unsafe { out.fill(start, len, mr, &mut o, &mut res) };
        let blk = BlockRows {
            table: &table[..padded],
            out: &o[..padded],
            res: &res[..padded],
            rows: len,
        };
        // SAFETY: every input pointer has `k` channels, every output pointer `n` channels.
        unsafe { run_block(kernel, panels, 1, k, &blk, finish) };
        start += len;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn k_blocks_cover_the_reduction_in_order() {
        for taps in [1, 2, 9, 25] {
            for seg in [1, 3, 16, 255, 256, 257, 600, 1920] {
                let mut expected = Vec::new();
                for t in 0..taps {
                    for c in 0..seg {
                        expected.push((t, c));
                    }
                }
                let mut got = Vec::new();
                for b in k_blocks(taps, seg) {
                    assert!(b.t1 > b.t0 && b.c1 > b.c0);
                    assert!(b.t1 - b.t0 == 1 || (b.c0 == 0 && b.c1 == seg));
                    assert!((b.t1 - b.t0) * (b.c1 - b.c0) <= KC);
                    for t in b.t0..b.t1 {
                        for c in b.c0..b.c1 {
                            got.push((t, c));
                        }
                    }
                }
                assert_eq!(got, expected, "taps {taps} seg {seg}");
            }
        }
    }
}
