//! One thread's share of a Winograd convolution: blocks of output tiles, each run through
//! input transform -> one GEMM per transformed point -> output transform while its buffers are
//! still in cache. The transforms are a [`Tiles`] implementation: F(4x4, 3x3) here
//! ([`Stride1`]), the stride-2 polyphase F(4x4, 2x2) in `super::stride2`.
//!
//! Buffers of one block of `T` tiles (the thread's slot of the [`ConvScratch`](super::super::ConvScratch)):
//! - `V[xi][t][cin]`: the transformed input, one `T x cin` matrix per point (row stride `cin`,
//!   point stride [`Job::v_stride`]: `T x cin` padded to an odd number of cache lines);
//! - `M[xi][t][cout]`: their products with the transformed weights, one `T x cout` matrix per
//!   point (point stride [`Job::m_stride`]).
//!
//! The GEMM `M[xi] = V[xi] U[xi]` runs on the same microkernels and blocking as the pointwise
//! convolution (one tap of `cin` floats per row, zero bias, identity epilogue). Every output
//! element is computed by the same instruction sequence whichever block, thread chunk or block
//! size its tile falls in (rows of a GEMM never interact), so results do not depend on the
//! thread count.

use std::ops::Range;

use super::transform::{input_1d, output_1d};
use super::WinogradWeights;
use crate::act::{Activation, AddOrder};
use crate::lanes::{each_block, load_opt, store_opt, Lanes, Pixels};
use crate::pointwise::driver::{run_block, BlockRows, MAX_BLOCK_ROWS};
use crate::pointwise::tile::{Finish, Microkernel};

/// Output pixels per tile side.
pub(crate) const TILE: usize = 4;
/// Input pixels per tile side (`TILE + 3 - 1`).
pub(crate) const WINDOW: usize = 6;
/// Transformed elements per tile.
pub(crate) const POINTS: usize = WINDOW * WINDOW;

/// The per-tile transforms of one Winograd variant.
pub(crate) trait Tiles {
    /// Transforms the input window of tile `q` into `V[xi][slot]` (`v` points at point 0 of the
    /// slot; point `xi` is `xi * job.v_stride()` floats further).
    ///
    /// # Safety
    /// As [`run_tiles`]; `v` is slot `< T` of the `V` buffer.
    unsafe fn input<V: Lanes>(job: &Job<'_>, q: usize, v: *mut f32);
    /// Transforms `M[xi][slot]` back into the output pixels of tile `q`, with the bias and the
    /// epilogue.
    ///
    /// # Safety
    /// As [`run_tiles`]; `m` is slot `< T` of the `M` buffer and this thread owns the tile.
    unsafe fn output<V: Lanes>(job: &Job<'_>, q: usize, m: *const f32);
}

/// Winograd F(4x4, 3x3) tiles (stride-1 3x3 convolutions).
pub(crate) struct Stride1;

impl Tiles for Stride1 {
    #[inline(always)]
    unsafe fn input<V: Lanes>(job: &Job<'_>, q: usize, v: *mut f32) {
        // SAFETY: forwarded contract.
        unsafe { input_tile::<V>(job, q, v) }
    }
    #[inline(always)]
    unsafe fn output<V: Lanes>(job: &Job<'_>, q: usize, m: *const f32) {
        // SAFETY: forwarded contract.
        unsafe { output_tile::<V>(job, q, m) }
    }
}

/// Everything the threads of one call share, built by the safe entry point after every check.
pub(crate) struct Job<'a> {
    pub kernel: Microkernel,
    pub weights: &'a WinogradWeights,
    pub input: Pixels,
    pub h: usize,
    pub w: usize,
    pub output: Pixels,
    pub oh: usize,
    pub ow: usize,
    /// Residual pixels, read only when `order` is set.
    pub residual: Option<Pixels>,
    pub order: Option<AddOrder>,
    pub act: Activation,
    pub pad_top: usize,
    pub pad_left: usize,
    pub tiles_h: usize,
    pub tiles_w: usize,
    /// Tiles per block (`T`): a multiple of the microkernel's rows, at most [`MAX_BLOCK_ROWS`].
    pub block: usize,
}

// SAFETY: the threads of one call only read the input, residual and weights and write the output
// pixels of disjoint tiles.
unsafe impl Sync for Job<'_> {}
// SAFETY: as above.
unsafe impl Send for Job<'_> {}

impl Job<'_> {
    /// Floats of a thread's `V` and `M` buffers.
    pub(crate) fn buffer_len(&self) -> usize {
        self.weights.points() * (self.v_stride() + self.m_stride())
    }

    /// Floats from one point's `V` rows to the next's (`T * cin`, padded).
    #[inline(always)]
    pub(crate) fn v_stride(&self) -> usize {
        point_stride(self.block * self.weights.cin)
    }

    /// Floats from one point's `M` rows to the next's (`T * cout`, padded).
    #[inline(always)]
    pub(crate) fn m_stride(&self) -> usize {
        point_stride(self.block * self.weights.cout)
    }

    /// `(batch, tile row, tile column)` of tile `q`.
    #[inline(always)]
    pub(crate) fn tile(&self, q: usize) -> (usize, usize, usize) {
        let per_image = self.tiles_h * self.tiles_w;
        let (b, rem) = (q / per_image, q % per_image);
        (b, rem / self.tiles_w, rem % self.tiles_w)
    }
}

/// The stride between two points' rows for `floats` floats of rows: rounded up to an odd number
/// of 64-byte cache lines. The transforms touch the same slot of all 36 (or 81) points one after
/// the other; at a stride of an even number of lines those accesses fall into a fraction of the
/// L1's 64 sets (T = 224 tiles x 16 channels = 224 lines: 2 sets), and the conflict misses cost
/// the 8-row GEMM tile's block sizes (multiples of 8) up to 30% on Winograd convs with 16-64
/// channels (`benches/benches/gemm_tile_cpu.rs`), and where `T * cin` is a multiple of 4 KiB
/// (24 tiles x 256 channels) all of them fall in one set: yolo11m's 64 -> 128 stride-2 layer went
/// from 35.5 to 32.4 ms with one line of padding (docs/kernels.md). An odd line count maps 64
/// consecutive points to 64 different sets.
#[inline(always)]
fn point_stride(floats: usize) -> usize {
    let lines = floats.div_ceil(16);
    (lines | 1) * 16
}

/// Computes every output pixel of tiles `tiles`.
///
/// # Safety
/// The job must describe views checked by the safe entry point; `buf` must hold
/// [`Job::buffer_len`] floats; no other thread may write these tiles' output pixels; the CPU
/// must support `V` and the job's microkernel.
#[inline(always)]
pub(crate) unsafe fn run_tiles<V: Lanes, K: Tiles>(
    job: &Job<'_>,
    tiles: Range<usize>,
    buf: &mut [f32],
) {
    let (cin, cout, t) = (job.weights.cin, job.weights.cout, job.block);
    let (v, m) = buf.split_at_mut(job.weights.points() * job.v_stride());
    let (v, m) = (v.as_mut_ptr(), m.as_mut_ptr());
    let mut start = tiles.start;
    while start < tiles.end {
        let len = (tiles.end - start).min(t);
        for i in 0..len {
            // SAFETY: slot i < T of the V buffer; the tile is inside the checked input.
            unsafe { K::input::<V>(job, start + i, v.add(i * cin)) };
        }
        // SAFETY: V rows of the first `len` slots were just written, M holds T rows per point.
        unsafe { gemm(job, v, m, len) };
        for i in 0..len {
            // SAFETY: slot i < T of the M buffer; this thread owns the tile's output pixels.
            unsafe { K::output::<V>(job, start + i, m.add(i * cout)) };
        }
        start += len;
    }
}

/// Transforms the 6x6 input window of tile `q` into `V[xi][slot]` (`v` points at point 0 of
/// the slot; point `xi` is `xi * job.v_stride()` floats further).
#[inline(always)]
unsafe fn input_tile<V: Lanes>(job: &Job<'_>, q: usize, v: *mut f32) {
    let cin = job.weights.cin;
    let point_stride = job.v_stride();
    let (b, ty, tx) = job.tile(q);
    let iy0 = (ty * TILE) as isize - job.pad_top as isize;
    let ix0 = (tx * TILE) as isize - job.pad_left as isize;
    // Pixel index of each window position, or None in the padding.
    let mut rows = [None; WINDOW];
    let mut cols = [None; WINDOW];
    for k in 0..WINDOW {
        let iy = iy0 + k as isize;
        if iy >= 0 && (iy as usize) < job.h {
            rows[k] = Some((b * job.h + iy as usize) * job.w);
        }
        let ix = ix0 + k as isize;
        if ix >= 0 && (ix as usize) < job.w {
            cols[k] = Some(ix as usize);
        }
    }
    let tail = V::mask(cin % crate::lanes::LANES);
    each_block!(cin, tail, |ch, mask| {
        let zero = V::splat(0.0);
        // Columns first: t[i][j] = (B^T d)[i][j].
        let mut t = [[zero; WINDOW]; WINDOW];
        for j in 0..WINDOW {
            let mut d = [zero; WINDOW];
            if let Some(x) = cols[j] {
                for k in 0..WINDOW {
                    if let Some(row) = rows[k] {
                        // SAFETY: (row + x) is a pixel of the checked input; ch + lanes <= cin.
                        d[k] = unsafe { load_opt::<V>(job.input.at(row + x).add(ch), mask) };
                    }
                }
            }
            // SAFETY: arithmetic only.
            let c = unsafe { input_1d(d) };
            for i in 0..WINDOW {
                t[i][j] = c[i];
            }
        }
        // Then rows: V[i][j] = (t B)[i][j].
        for (i, row) in t.iter().enumerate() {
            // SAFETY: arithmetic only.
            let r = unsafe { input_1d(*row) };
            for (j, value) in r.into_iter().enumerate() {
                // SAFETY: point i*6+j of this slot, channels ch.. of its cin-float row.
                unsafe { store_opt(v.add((i * WINDOW + j) * point_stride + ch), mask, value) };
            }
        }
    });
}

/// `M[xi][0..len] = V[xi][0..len] U[xi]` for every point. The points that read one weight
/// matrix (the stride-2 variant's identity directions: up to 16 points per matrix) run as one
/// GEMM over all their rows, so each weight panel is loaded once per block and matrix instead
/// of once per point; a row's result does not depend on which rows share its call.
unsafe fn gemm(job: &Job<'_>, v: *const f32, m: *mut f32, len: usize) {
    let (cin, cout) = (job.weights.cin, job.weights.cout);
    let (vs, ms) = (job.v_stride(), job.m_stride());
    let mr = job.kernel.mr;
    let mut table = [std::ptr::null::<f32>(); MAX_BLOCK_ROWS];
    let mut out = [std::ptr::null_mut::<f32>(); MAX_BLOCK_ROWS];
    let res = [std::ptr::null::<f32>(); MAX_BLOCK_ROWS];
    let finish = Finish {
        act: Activation::Identity,
        order: None,
    };
    let points = job.weights.points();
    for matrix in 0..job.weights.matrices() {
        let panels = job.weights.matrix(matrix);
        let mut rows = (0..points)
            .filter(|&xi| job.weights.matrix_of(xi) == matrix)
            .flat_map(|xi| (0..len).map(move |r| (xi, r)))
            .peekable();
        while rows.peek().is_some() {
            // Up to MAX_BLOCK_ROWS rows (a multiple of every `mr`) per call.
            let mut n = 0;
            for (xi, r) in rows.by_ref().take(MAX_BLOCK_ROWS) {
                // SAFETY: xi < points and r < len <= T: inside the V and M buffers.
                unsafe {
                    table[n] = v.add(xi * vs + r * cin);
                    out[n] = m.add(xi * ms + r * cout);
                }
                n += 1;
            }
            // Rows past `n` repeat the last valid row (the microkernel's contract).
            let padded = n.div_ceil(mr) * mr;
            let (last_in, last_out) = (table[n - 1], out[n - 1]);
            table[n..padded].fill(last_in);
            out[n..padded].fill(last_out);
            let blk = BlockRows {
                table: &table[..padded],
                out: &out[..padded],
                res: &res[..padded],
                rows: n,
            };
            // SAFETY: every table row holds `cin` floats, every output row `cout` floats; no
            // residual is read (`finish.order` is None); the caller checked the kernel's ISA.
            unsafe { run_block(job.kernel, panels, 1, cin, &blk, finish) };
        }
    }
}

/// Transforms `M[xi][slot]` back into the (up to) 4x4 output pixels of tile `q`, adding the
/// bias and applying the epilogue.
#[inline(always)]
unsafe fn output_tile<V: Lanes>(job: &Job<'_>, q: usize, m: *const f32) {
    let cout = job.weights.cout;
    let point_stride = job.m_stride();
    let (b, ty, tx) = job.tile(q);
    let (oy0, ox0) = (ty * TILE, tx * TILE);
    let rows = (job.oh - oy0).min(TILE);
    let cols = (job.ow - ox0).min(TILE);
    let bias = job.weights.bias.as_ptr();
    let tail = V::mask(cout % crate::lanes::LANES);
    each_block!(cout, tail, |ch, mask| {
        let zero = V::splat(0.0);
        // Columns first: s[j][y] = (A^T M)[y][j].
        let mut s = [[zero; TILE]; WINDOW];
        for (j, sj) in s.iter_mut().enumerate() {
            let mut col = [zero; WINDOW];
            for (i, c) in col.iter_mut().enumerate() {
                // SAFETY: point i*6+j of this slot, channels ch.. of its cout-float row.
                *c = unsafe { load_opt::<V>(m.add((i * WINDOW + j) * point_stride + ch), mask) };
            }
            // SAFETY: arithmetic only.
            *sj = unsafe { output_1d(col) };
        }
        // SAFETY: the bias holds cout floats.
        let bias = unsafe { load_opt::<V>(bias.add(ch), mask) };
        for r in 0..rows {
            let mut row = [zero; WINDOW];
            for (v, sj) in row.iter_mut().zip(&s) {
                *v = sj[r];
            }
            // SAFETY: arithmetic only.
            let y = unsafe { output_1d(row) };
            let pixel = (b * job.oh + oy0 + r) * job.ow + ox0;
            let mut y = y;
            for v in &mut y {
                // SAFETY: arithmetic only.
                *v = unsafe { V::add(*v, bias) };
            }
            // SAFETY: pixels pixel .. pixel + cols are output pixels of this tile (r < rows).
            unsafe { finish_row::<V>(job, pixel, cols, ch, mask, y) };
        }
    });
}

/// The epilogue on one output row of a tile: `y[c]` (bias included) for output pixels `pixel +
/// c`, `c < cols`. SiLU and sigmoid run on the row's four vectors side by side
/// ([`Lanes::activate4`]; columns past `cols` are computed and dropped), the cheap activations
/// one vector at a time.
#[inline(always)]
pub(super) unsafe fn finish_row<V: Lanes>(
    job: &Job<'_>,
    pixel: usize,
    cols: usize,
    ch: usize,
    mask: Option<V::Mask>,
    y: [V; TILE],
) {
    if !job.act.is_transcendental() {
        for (c, &acc) in y.iter().enumerate().take(cols) {
            // SAFETY: forwarded contract: pixel + c is an output pixel.
            unsafe { finish::<V>(job, pixel + c, ch, mask, acc) };
        }
        return;
    }
    // SAFETY (whole body): pixels `pixel + c`, `c < cols`, are output (and residual) pixels.
    unsafe {
        let mut y = y;
        let mut r = [V::splat(0.0); TILE];
        if let (Some(_), Some(res)) = (job.order, job.residual) {
            for (c, r) in r.iter_mut().enumerate().take(cols) {
                *r = load_opt::<V>(res.at(pixel + c).add(ch), mask);
            }
        }
        let order = job.order.filter(|_| job.residual.is_some());
        if order == Some(AddOrder::BeforeActivation) {
            for (v, &r) in y.iter_mut().zip(&r) {
                *v = V::add(*v, r);
            }
        }
        let mut y = V::activate4(job.act, y);
        if order == Some(AddOrder::AfterActivation) {
            for (v, &r) in y.iter_mut().zip(&r) {
                *v = V::add(*v, r);
            }
        }
        for (c, &v) in y.iter().enumerate().take(cols) {
            store_opt(job.output.at(pixel + c).add(ch), mask, v);
        }
    }
}

/// Applies the epilogue to `acc` (bias included) and stores channels `ch..` of output `pixel`.
#[inline(always)]
unsafe fn finish<V: Lanes>(job: &Job<'_>, pixel: usize, ch: usize, mask: Option<V::Mask>, acc: V) {
    // SAFETY (whole body): `pixel` is an output pixel, so of the residual too (same shape).
    let value = match (job.order, job.residual) {
        (Some(order), Some(res)) => {
            let r = unsafe { load_opt::<V>(res.at(pixel).add(ch), mask) };
            match order {
                AddOrder::BeforeActivation => unsafe { V::activate(job.act, V::add(acc, r)) },
                AddOrder::AfterActivation => unsafe { V::add(V::activate(job.act, acc), r) },
            }
        }
        _ => unsafe { V::activate(job.act, acc) },
    };
    unsafe { store_opt(job.output.at(pixel).add(ch), mask, value) };
}
