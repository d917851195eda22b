//! Dense convolution as a GEMM over (ky, kx, cin) on the pointwise microkernels.
//!
//! Output pixels are processed in cache blocks. For each block the driver first builds the rows
//! the microkernel reads, then runs every 16-channel weight panel over the block's row tiles:
//! - *indirect* (XNNPACK's indirect GEMM, for `cin >= IM2COL_BELOW`): one pointer per (tile row,
//!   kernel tap) straight into the input pixel under that tap, or into a zero row in the padding.
//!   Nothing is copied; the microkernel walks `cin` contiguous floats per tap.
//! - *im2col* (small `cin`, e.g. the RGB stem): the `kh * kw * cin` values of each output pixel
//!   are gathered into one contiguous scratch row, so the microkernel runs one long reduction
//!   instead of many 3-float ones.
//!
//! Both orders reduce over (ky, kx, cin) in the same order as the packed panels.

use std::ops::Range;

use crate::pointwise::driver::{run_block, BlockRows, OutputSide, MAX_BLOCK_ROWS};
use crate::pointwise::pack::Panels;
use crate::pointwise::tile::Microkernel;
use crate::view::{NhwcLayout, TensorView};

use super::scratch::Slot;

/// Input channel count below which the im2col path is used.
pub(crate) const IM2COL_BELOW: usize = 16;

/// Sizes of one convolution call, checked by the safe entry point.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Geometry {
    pub h: usize,
    pub w: usize,
    pub cin: usize,
    pub oh: usize,
    pub ow: usize,
    pub kh: usize,
    pub kw: usize,
    pub stride_h: usize,
    pub stride_w: usize,
    pub pad_top: usize,
    pub pad_left: usize,
}

impl Geometry {
    /// Kernel taps.
    pub(crate) fn taps(&self) -> usize {
        self.kh * self.kw
    }

    /// Whether the im2col path is used.
    pub(crate) fn im2col(&self) -> bool {
        self.cin < IM2COL_BELOW
    }

    /// Pointer-table entries and im2col floats one slot needs for blocks of `block` rows.
    pub(crate) fn slot_sizes(&self, block: usize, mr: usize) -> (usize, usize) {
        let rows = block.div_ceil(mr) * mr;
        if self.im2col() {
            (rows, block * self.taps() * self.cin)
        } else {
            (rows * self.taps(), 0)
        }
    }

    /// Input position `(b, iy, ix)` under tap `(ky, kx)` of output pixel `q`, or `None` in the
    /// padding.
    #[inline(always)]
    fn source(
        &self,
        b: usize,
        oy: usize,
        ox: usize,
        ky: usize,
        kx: usize,
    ) -> Option<(usize, usize, usize)> {
        let iy = (oy * self.stride_h + ky).checked_sub(self.pad_top)?;
        let ix = (ox * self.stride_w + kx).checked_sub(self.pad_left)?;
        (iy < self.h && ix < self.w).then_some((b, iy, ix))
    }

    /// `(b, oy, ox)` of output pixel `q`.
    #[inline(always)]
    fn decompose(&self, q: usize) -> (usize, usize, usize) {
        let per_image = self.oh * self.ow;
        let (b, rem) = (q / per_image, q % per_image);
        (b, rem / self.ow, rem % self.ow)
    }
}

/// Computes output pixels `rows` of a dense convolution.
///
/// # Safety
/// The operands must have been checked by the safe entry point (input `(n, h, w, cin)`, output
/// and residual `(n, oh, ow, cout)`, buffers long enough); `zeros` must point at `cin` zeros;
/// `slot` must hold the sizes from [`Geometry::slot_sizes`] for `block`; no other thread may write
/// these rows; the CPU must support `kernel`.
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn conv_rows(
    kernel: Microkernel,
    panels: &Panels,
    geo: &Geometry,
    input: &TensorView<'_>,
    zeros: *const f32,
    out: &OutputSide<'_>,
    slot: &mut Slot,
    block: usize,
    rows: Range<usize>,
) {
    let mr = kernel.mr;
    let (taps, seg) = if geo.im2col() {
        (1, panels.k())
    } else {
        (geo.taps(), geo.cin)
    };
    let mut o = [std::ptr::null_mut::<f32>(); MAX_BLOCK_ROWS];
    let mut res = [std::ptr::null::<f32>(); MAX_BLOCK_ROWS];
    let finish = out.finish();
    let mut start = rows.start;
    while start < rows.end {
        let len = (rows.end - start).min(block);
        let padded = len.div_ceil(mr) * mr;
        // SAFETY: forwarded contract (checked operands, slot sizes for `block`).
        unsafe { fill_rows(geo, input, zeros, slot, mr, start, len) };
        // SAFETY: rows of this chunk; the arrays hold MAX_BLOCK_ROWS >= padded entries.
        unsafe { out.fill(start, len, mr, &mut o, &mut res) };
        let blk = BlockRows {
            table: &slot.table[..padded * taps],
            out: &o[..padded],
            res: &res[..padded],
            rows: len,
        };
        // SAFETY: the table rows point at `seg` readable floats each (input pixels, the zero
        // row or im2col rows), output/residual pointers at checked pixels with `n` channels.
        unsafe { run_block(kernel, panels, taps, seg, &blk, finish) };
        start += len;
    }
}

/// Builds the row pointers (and im2col rows) of output pixels `start .. start + len`.
///
/// # Safety
/// As [`conv_rows`].
unsafe fn fill_rows(
    geo: &Geometry,
    input: &TensorView<'_>,
    zeros: *const f32,
    slot: &mut Slot,
    mr: usize,
    start: usize,
    len: usize,
) {
    let in_base = input.as_ptr();
    let layout: NhwcLayout = *input.layout();
    let cin = geo.cin;
    let taps = geo.taps();
    let padded = len.div_ceil(mr) * mr;
    if geo.im2col() {
        let row_len = taps * cin;
        let cols = slot.cols.as_mut_ptr();
        for idx in 0..len {
            let (b, oy, ox) = geo.decompose(start + idx);
            for ky in 0..geo.kh {
                for kx in 0..geo.kw {
                    let t = ky * geo.kw + kx;
                    // SAFETY: idx < block, so the destination lies inside `cols` (sized
                    // block * row_len); the source is a checked input pixel's cin floats.
                    unsafe {
                        let dst = cols.add(idx * row_len + t * cin);
                        match geo.source(b, oy, ox, ky, kx) {
                            Some((b, iy, ix)) => {
                                let src = in_base.add(layout.index(b, iy, ix, 0));
                                for c in 0..cin {
                                    *dst.add(c) = *src.add(c);
                                }
                            }
                            None => {
                                for c in 0..cin {
                                    *dst.add(c) = 0.0;
                                }
                            }
                        }
                    }
                }
            }
        }
        for idx in 0..padded {
            // SAFETY: min(idx, len - 1) < block rows of `cols`.
            slot.table[idx] = unsafe { cols.add(idx.min(len - 1) * row_len) };
        }
    } else {
        for idx in 0..padded {
            let (tile, r) = (idx / mr, idx % mr);
            let (b, oy, ox) = geo.decompose(start + idx.min(len - 1));
            for ky in 0..geo.kh {
                for kx in 0..geo.kw {
                    let t = ky * geo.kw + kx;
                    let ptr = match geo.source(b, oy, ox, ky, kx) {
                        // SAFETY: a checked input pixel.
                        Some((b, iy, ix)) => unsafe { in_base.add(layout.index(b, iy, ix, 0)) },
                        None => zeros,
                    };
                    slot.table[(tile * taps + t) * mr + r] = ptr;
                }
            }
        }
    }
}
