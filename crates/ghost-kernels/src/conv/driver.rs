//! Dense convolution as a GEMM over (ky, kx, cin) on the pointwise microkernels.
//!
//! Output pixels are processed in cache blocks. For each block the driver first builds the rows
//! the microkernel reads (a table of row pointers per tile row and "tap"), then runs every
//! 16-channel weight panel over the block's row tiles. Three ways to build the rows:
//! - [`Mode::Indirect`] (XNNPACK's indirect GEMM: `cin >= ROW_TAPS_MAX_CIN`, or `cin >=
//!   SMALL_CIN` on a strided input): one pointer per
//!   (pixel, kernel position) straight into the input pixel under it, or into a zero row in the
//!   padding. Nothing is copied; the microkernel walks `cin` contiguous floats per tap.
//! - [`Mode::RowTaps`] (`cin < ROW_TAPS_MAX_CIN`, input pixels contiguous, e.g. the RGB stem and
//!   yolo11n's 16 -> 32 stride-2 conv): the `kw`
//!   pixels of one window row are `kw * cin` contiguous floats, so one pointer per (pixel, ky)
//!   covers them; only windows that cross the left/right border are gathered into scratch.
//! - [`Mode::Im2col`] (small `cin`, strided input): the `kh * kw * cin` values of each output
//!   pixel are gathered into one contiguous scratch row.
//!
//! All three reduce over (ky, kx, cin) in the same order as the packed panels.

use std::ops::Range;

use crate::pointwise::driver::{run_block, BlockRows, OutputSide, MAX_BLOCK_ROWS};
use crate::pointwise::pack::PanelsRef;
use crate::pointwise::tile::Microkernel;
use crate::view::{NhwcLayout, TensorView};

use super::scratch::Slot;

/// Input channel count below which the rows are gathered (short per-tap reductions would
/// otherwise spend more time switching taps than computing).
pub(crate) const SMALL_CIN: usize = 16;

/// Input channel count below which a packed input takes the row taps (one pointer per kernel
/// row, `kw * cin` contiguous floats) instead of the indirect rows (one pointer per kernel tap):
/// 3 longer reductions per pixel instead of 9 short ones. Measured (bench `conv_s2_cpu`, one
/// thread, CPU time, 2 x 5 rounds alternated with the indirect rows, 2026-12-07,
/// docs/kernels.md "Row taps up to 32 channels"): 16 -> 32 at 320x320 1.11x (avx512vnni) /
/// 1.13x (avx2), 24 -> 48 at 160x160 1.06x, 32 -> 64 at 320x320 1.04x / 1.02x. Strided inputs
/// (channel slices of a concatenation) keep the indirect rows from 16 channels.
pub(crate) const ROW_TAPS_MAX_CIN: usize = 33;

/// Kernel heights whose input row offsets are kept per output row (larger kernels compute them
/// per pixel).
const CACHED_KERNEL_ROWS: usize = 8;

/// How the microkernel's rows are built (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    Indirect,
    RowTaps,
    Im2col,
}

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
    /// Input pixel stride (floats).
    pub pixel_stride: usize,
}

impl Geometry {
    /// How rows are built for this call.
    pub(crate) fn mode(&self) -> Mode {
        if self.pixel_stride == self.cin && self.cin < ROW_TAPS_MAX_CIN {
            Mode::RowTaps
        } else if self.cin >= SMALL_CIN {
            Mode::Indirect
        } else {
            Mode::Im2col
        }
    }

    /// The reduction as `(taps, floats per tap)`.
    pub(crate) fn reduction(&self) -> (usize, usize) {
        match self.mode() {
            Mode::Indirect => (self.kh * self.kw, self.cin),
            Mode::RowTaps => (self.kh, self.kw * self.cin),
            Mode::Im2col => (1, self.kh * self.kw * self.cin),
        }
    }

    /// Floats of the zero row (the longest tap).
    pub(crate) fn zeros_len(&self) -> usize {
        self.kw * self.cin
    }

    /// Pointer-table entries and gathered floats one slot needs for blocks of `block` rows.
    pub(crate) fn slot_sizes(&self, block: usize, mr: usize) -> (usize, usize) {
        let rows = block.div_ceil(mr) * mr;
        let (taps, _) = self.reduction();
        let cols = match self.mode() {
            Mode::Indirect => 0,
            Mode::RowTaps | Mode::Im2col => block * self.kh * self.kw * self.cin,
        };
        (rows * taps, cols)
    }

    /// `(b, oy, ox)` of output pixel `q`.
    #[inline(always)]
    pub(crate) fn decompose(&self, q: usize) -> (usize, usize, usize) {
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
    panels: PanelsRef<'_>,
    geo: &Geometry,
    input: &TensorView<'_>,
    zeros: *const f32,
    out: &OutputSide<'_>,
    slot: &mut Slot,
    block: usize,
    rows: Range<usize>,
) {
    let mr = kernel.mr;
    let (taps, seg) = geo.reduction();
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

/// Builds the row pointers (and gathered rows) of output pixels `start .. start + len`.
///
/// Walks the pixels in order with incremental `(b, oy, ox)` (no division per pixel) and resolves
/// each tap to an input pointer, the zero row, or a gathered copy in the slot.
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
    let (cin, kw, stride) = (geo.cin, geo.kw, layout.pixel_stride);
    let mode = geo.mode();
    let (taps, _) = geo.reduction();
    let window_len = geo.kh * kw * cin;
    let cols = slot.cols.as_mut_ptr();
    let table = slot.table.as_mut_ptr();
    let (mut b, mut oy, mut ox) = geo.decompose(start);
    // Offset of input pixel (b, iy, 0) under each kernel row of the current output row (`None`
    // in the padding): computed once per output row, not per pixel and tap (for the RGB stem,
    // per-pixel index arithmetic was a large share of the time: see
    // docs/kernels.md#measurements-behind-code-decisions).
    let row_of = |b: usize, oy: usize, ky: usize| {
        (oy * geo.stride_h + ky)
            .checked_sub(geo.pad_top)
            .filter(|&iy| iy < geo.h)
            .map(|iy| layout.index(b, iy, 0, 0))
    };
    let cached = geo.kh <= CACHED_KERNEL_ROWS;
    let mut rows = [None; CACHED_KERNEL_ROWS];
    let cache_rows = |b: usize, oy: usize, rows: &mut [Option<usize>; CACHED_KERNEL_ROWS]| {
        if cached {
            for (ky, row) in rows[..geo.kh].iter_mut().enumerate() {
                *row = row_of(b, oy, ky);
            }
        }
    };
    cache_rows(b, oy, &mut rows);
    // Table position of this pixel, kept incrementally (a division per pixel costs more than
    // the rest of the loop): tile `idx / mr` starts at `tile_base`, row `r = idx % mr`.
    let (mut tile_base, mut r) = (0, 0);
    for idx in 0..len {
        let x0 = ox * geo.stride_w;
        let row_at = |ky: usize| if cached { rows[ky] } else { row_of(b, oy, ky) };
        if mode == Mode::RowTaps && x0 >= geo.pad_left && x0 - geo.pad_left + kw <= geo.w {
            // Fast path of the stem-like case: the window's columns are inside the image, so
            // each window row is one pointer into the input (or the zero row above/below it).
            let x_off = (x0 - geo.pad_left) * stride;
            for ky in 0..geo.kh {
                let src = match row_at(ky) {
                    // SAFETY: (b, iy, x0 - pad_left) is a pixel of the checked input view.
                    Some(row) => unsafe { in_base.add(row + x_off) },
                    None => zeros,
                };
                // SAFETY: idx < block, so the slot lies inside the table.
                unsafe { *table.add(tile_base + ky * mr + r) = src };
            }
        } else {
            // Whether every column of the window is inside the image (most pixels).
            let x_inside = x0 >= geo.pad_left && x0 - geo.pad_left + kw <= geo.w;
            // Table slot of tap `t` of this pixel.
            let slot_of = |t: usize| tile_base + t * mr + r;
            for ky in 0..geo.kh {
                // Offset of input pixel (b, iy, 0), channel 0.
                let row = row_at(ky);
                // SAFETY: idx < block, so every table slot and the gathered window row
                // `cols[idx * window_len ..][.. window_len]` lie inside the slot sized by
                // `Geometry::slot_sizes`; sources are pixels of the checked input view or the zero
                // row (zeros_len >= kw * cin floats).
                unsafe {
                    let gathered = cols.add(idx * window_len + ky * kw * cin);
                    match (mode, row) {
                        (Mode::Indirect, _) => {
                            for kx in 0..kw {
                                let ix =
                                    (x0 + kx).checked_sub(geo.pad_left).filter(|&ix| ix < geo.w);
                                *table.add(slot_of(ky * kw + kx)) = match (row, ix) {
                                    (Some(row), Some(ix)) => in_base.add(row + ix * stride),
                                    _ => zeros,
                                };
                            }
                        }
                        (Mode::RowTaps, None) => *table.add(slot_of(ky)) = zeros,
                        (Mode::RowTaps, Some(row)) if x_inside => {
                            *table.add(slot_of(ky)) =
                                in_base.add(row + (x0 - geo.pad_left) * stride);
                        }
                        (Mode::RowTaps, Some(row)) => {
                            gather_row(geo, in_base, row, stride, x0, zeros, gathered);
                            *table.add(slot_of(ky)) = gathered;
                        }
                        (Mode::Im2col, None) => copy(zeros, gathered, kw * cin),
                        (Mode::Im2col, Some(row)) => {
                            gather_row(geo, in_base, row, stride, x0, zeros, gathered)
                        }
                    }
                }
            }
            if mode == Mode::Im2col {
                // SAFETY: as above.
                unsafe { *table.add(slot_of(0)) = cols.add(idx * window_len) };
            }
        }
        r += 1;
        if r == mr {
            r = 0;
            tile_base += taps * mr;
        }
        ox += 1;
        if ox == geo.ow {
            ox = 0;
            oy += 1;
            if oy == geo.oh {
                oy = 0;
                b += 1;
            }
            if idx + 1 < len {
                cache_rows(b, oy, &mut rows);
            }
        }
    }
    // Rows of the last tile past `len` repeat the last valid row (`r - 1` of that tile).
    if r != 0 {
        for pad in r..mr {
            for t in 0..taps {
                // SAFETY: both slots lie in the last tile of the block, inside the table.
                unsafe {
                    *table.add(tile_base + t * mr + pad) = *table.add(tile_base + t * mr + r - 1)
                };
            }
        }
    }
}

/// Gathers the `kw` pixels of one window row (input row offset `row`, first column `x0 -
/// pad_left`) into `dst`, zeros outside the image.
///
/// # Safety
/// `row` must be a valid input row offset; `dst` valid for `kw * cin` writes; `zeros` for `cin`
/// reads.
#[inline(always)]
unsafe fn gather_row(
    geo: &Geometry,
    in_base: *const f32,
    row: usize,
    stride: usize,
    x0: usize,
    zeros: *const f32,
    dst: *mut f32,
) {
    let cin = geo.cin;
    for kx in 0..geo.kw {
        // SAFETY: forwarded contract; (row, ix) is an input pixel when ix < w.
        unsafe {
            let d = dst.add(kx * cin);
            match (x0 + kx).checked_sub(geo.pad_left).filter(|&ix| ix < geo.w) {
                Some(ix) => copy(in_base.add(row + ix * stride), d, cin),
                None => copy(zeros, d, cin),
            }
        }
    }
}

/// Copies `n` floats (a short run: an inlined loop, no `memcpy` call).
///
/// # Safety
/// `src` valid for `n` reads, `dst` for `n` writes, no overlap.
#[inline(always)]
unsafe fn copy(src: *const f32, dst: *mut f32, n: usize) {
    for c in 0..n {
        // SAFETY: forwarded contract.
        unsafe { *dst.add(c) = *src.add(c) };
    }
}
