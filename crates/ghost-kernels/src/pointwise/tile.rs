//! The contract between the GEMM drivers and the ISA microkernels.
//!
//! A microkernel computes an `MR x 16` output tile: `MR` rows (pixels) by one 16-channel weight
//! panel, over one block of the reduction. The block is split into `taps` segments of `k`
//! contiguous floats per row; segment `t` of row `r` starts at `a[t * MR + r] + a_offset`. A
//! pointwise conv has one tap (the input pixel itself); a dense conv run as an indirect GEMM has
//! one tap per kernel position (the input pixel under it, or a zero row in the padding).
//!
//! Long reductions are cut into blocks that keep their weights in L1 (see the drivers). The first
//! block starts from the bias row, later ones reload the partial sums they stored in the output;
//! only the last block applies the epilogue. Reloading an f32 partial sum is exact, so blocking
//! never changes a result.
//!
//! Rows past `mr` repeat a valid row pointer so the kernel never branches on them; only their
//! stores are skipped. Columns past `nr` are computed (on zero-padded weights) and dropped.

use crate::act::{Activation, AddOrder};

use super::pack::PanelRow;

/// What happens after the last reduction block.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Finish {
    /// Activation of the epilogue.
    pub act: Activation,
    /// Residual add position, if any (the residual pointers are then valid).
    pub order: Option<AddOrder>,
}

/// One microkernel invocation: a strip of consecutive `MR`-row tiles over one panel and one
/// reduction block (one call per strip keeps the per-call setup off short reductions).
pub(crate) struct Strip<'a> {
    /// `tiles * tap_stride * MR` row pointers: tile-major, then tap, then row.
    pub a: &'a [*const f32],
    /// Taps per tile in the table.
    pub tap_stride: usize,
    /// This block's taps: `t0 .. t0 + taps`.
    pub t0: usize,
    /// Taps in this block.
    pub taps: usize,
    /// Floats to skip at the start of every row segment.
    pub a_offset: usize,
    /// Floats per tap and row in this block.
    pub k: usize,
    /// The block's weight rows: `taps * k` rows of 16.
    pub weights: &'a [PanelRow],
    /// The bias row on the first reduction block.
    pub bias: Option<&'a PanelRow>,
    /// `tiles * MR` output row pointers (channel 0).
    pub out: &'a [*mut f32],
    /// `tiles * MR` residual row pointers (channel 0).
    pub res: &'a [*const f32],
    /// First output channel of this panel.
    pub col: usize,
    /// Valid rows of the whole strip (the last tile may be partial).
    pub rows: usize,
    /// Valid columns (1..=16).
    pub nr: usize,
    /// The epilogue on the last reduction block.
    pub finish: Option<Finish>,
}

impl<'a> Strip<'a> {
    /// Tile `i` of a kernel with `mr` rows per tile.
    #[inline(always)]
    pub(crate) fn tile(&self, i: usize, mr: usize) -> Tile<'a> {
        let first = (i * self.tap_stride + self.t0) * mr;
        Tile {
            a: &self.a[first..first + self.taps * mr],
            a_offset: self.a_offset,
            k: self.k,
            weights: self.weights,
            bias: self.bias,
            out: &self.out[i * mr..(i + 1) * mr],
            res: &self.res[i * mr..(i + 1) * mr],
            col: self.col,
            mr: (self.rows - i * mr).min(mr),
            nr: self.nr,
            finish: self.finish,
        }
    }

    /// Number of tiles for a kernel with `mr` rows per tile.
    #[inline(always)]
    pub(crate) fn tiles(&self, mr: usize) -> usize {
        self.rows.div_ceil(mr)
    }
}

/// One tile of a strip.
pub(crate) struct Tile<'a> {
    /// `taps * MR` row pointers, tap-major.
    pub a: &'a [*const f32],
    /// Floats to skip at the start of every row segment (the block's first input channel).
    pub a_offset: usize,
    /// Floats per tap and row in this block.
    pub k: usize,
    /// The block's weight rows: `taps * k` rows of 16.
    pub weights: &'a [PanelRow],
    /// The bias row on the first reduction block; `None` reloads the partial sums from `out`.
    pub bias: Option<&'a PanelRow>,
    /// `MR` output row pointers (channel 0 of the output view at that pixel).
    pub out: &'a [*mut f32],
    /// `MR` residual row pointers (channel 0), read only when `finish.order` is set.
    pub res: &'a [*const f32],
    /// First output channel of this panel.
    pub col: usize,
    /// Valid rows (1..=MR).
    pub mr: usize,
    /// Valid columns (1..=16).
    pub nr: usize,
    /// The epilogue on the last reduction block; `None` stores raw partial sums.
    pub finish: Option<Finish>,
}

/// A microkernel entry point (computes every tile of a strip).
///
/// # Safety
/// For every tile of the strip: every pointer in the tile must be valid for the accesses it implies: `a[t*MR + r] + a_offset`
/// for `k` reads, `out[r] + col` for `nr` reads and writes and `res[r] + col` for `nr` reads (when
/// a residual is fused), for every `r < MR` (rows past `mr` repeat valid pointers); `a` must hold
/// `taps * MR` pointers and `weights` `taps * k` rows. The CPU must support the kernel's ISA.
pub(crate) type KernelFn = unsafe fn(&Strip<'_>);

/// A microkernel and its row count.
#[derive(Clone, Copy)]
pub(crate) struct Microkernel {
    /// Rows per tile.
    pub mr: usize,
    /// Entry point.
    pub run: KernelFn,
}
