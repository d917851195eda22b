//! Winograd F(4x4, 3x3) for stride-1 3x3 convolutions: each 4x4 block of output pixels costs
//! 36 multiplies per (cin, cout) pair instead of the 144 of the direct GEMM, for a rounding
//! error a few bits larger (bounded in [`crate::tolerance::winograd_bound`]).
//!
//! - Load: every 3x3 kernel becomes a 6x6 one (`U = G g G^T`, [`transform`]), packed as 36
//!   `cin x cout` weight matrices in the pointwise panel format (4x the GEMM weights' memory).
//! - Call: output tiles are split over threads; each thread runs blocks of tiles through the
//!   input transform, 36 GEMMs on the pointwise microkernels and the output transform with the
//!   bias and the fused epilogue (the private `driver` module).
//!
//! Stride-2 3x3 convolutions run a polyphase F(4x4, 2x2) on the same GEMM stage
//! (`stride2.rs`, 81 multiplies per 4x4 output block and (cin, cout) pair instead of 144).
//!
//! [`ConvAlgorithm::choose`](super::ConvAlgorithm::choose) decides where it replaces the GEMM.

mod driver;
pub(crate) mod stride2;
pub mod transform;
pub mod transform_s2;

use std::sync::PoisonError;

use super::ConvScratch;
use crate::act::Epilogue;
use crate::backend::Backend;
use crate::conv_weights::ConvWeights;
use crate::error::Result;
use crate::geometry::Window;
use crate::lanes::Pixels;
use crate::pointwise::driver::MAX_BLOCK_ROWS;
use crate::pointwise::pack::{panel_rows, PanelRow, PanelsRef, NR};
use crate::pointwise::row_buf::RowBuf;
use crate::view::{TensorView, TensorViewMut};

#[cfg(target_arch = "x86_64")]
use driver::Tiles;
use driver::TILE;
pub(crate) use driver::{run_tiles, Job, Stride1};
pub(crate) use stride2::Stride2;

/// Which Winograd variant a set of transformed weights belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Variant {
    /// F(4x4, 3x3) on stride-1 3x3 convolutions: 36 points, one matrix each.
    Stride1,
    /// Polyphase F(4x4, 2x2) on stride-2 3x3 convolutions: 81 points on 36 matrices
    /// ([`stride2`]).
    Stride2,
}

impl Variant {
    /// Transformed points per tile (GEMMs per block of tiles).
    pub(crate) fn points(self) -> usize {
        match self {
            Variant::Stride1 => driver::POINTS,
            Variant::Stride2 => stride2::POINTS,
        }
    }
}

/// Floats a thread's tile-block buffers (`V` and `M`) may hold: 1 MiB, so that a block's
/// transformed input and products stay close (L2 and the thread's share of L3) between the three
/// phases while each weight matrix `U[xi]` is still reused by a block of tiles (it streams from
/// memory once per block). Chosen because 4 MiB, the previous budget, was the slowest at 2
/// threads (two threads' 4 MiB blocks compete for a shared L3) while 2 MiB down to 256 KiB were
/// within noise of each other (see docs/kernels.md#measurements-behind-code-decisions).
const BLOCK_BUDGET: usize = 1 << 18;

/// Most floats of a thread's stride-2 tile-block buffers: 16 MiB.
const S2_MAX_BUFFER: usize = 1 << 22;

/// Bytes of stride-2 weight matrices taken to stay in L3 from one tile block to the next: a
/// quarter of the 32 MiB L3, which also holds the layer's input and output streams and the
/// other threads' blocks.
const S2_CACHED_WEIGHTS: usize = 8 << 20;

/// Tiles per block of the stride-2 variant, before rounding to the microkernel's rows: the
/// 1 MiB budget, or more where the 36 weight matrices need it (`cin * cout / (5 (cin + cout))`
/// tiles, so that streaming them from L3 once per block costs about a fifth of the `V` and
/// `M` traffic), within [`S2_MAX_BUFFER`]. Measured (one thread, CPU time, 5 rounds, 2026-12-07):
/// 512 -> 512 at 80x80 took 93 ms with 6-tile blocks (the 1 MiB budget), 70 with 12, 61 with
/// 24, 57 with 48 (the GEMM: 87); 128 -> 128 was fastest with the budget's 12 tiles (3.9 ms
/// against 4.3 with 48).
///
/// Where the 36 matrices are larger than [`S2_CACHED_WEIGHTS`] they come from memory, not
/// L3, on every block: there twice as many tiles. Measured (conv_s2_cpu, 4 alternated rounds,
/// 2026-12-07): 256 -> 256 at 160x160 (9.4 MB of weights) 59.7 70.0 62.4 61.5 ms with 24-tile
/// blocks, 57.9 57.8 60.2 57.2 with 48; at 80x80 15.0 15.1 15.6 14.9 against 14.3 14.5 14.7
/// 14.3; while 128 -> 256 at 40x40 (4.7 MB) got slower with 30 tiles than with 12 (1.89 1.92
/// 1.77 against 1.64 1.65 1.59 ms), hence the threshold rather than a smaller divisor.
fn stride2_block(cin: usize, cout: usize) -> usize {
    let per_tile = stride2::POINTS * (cin + cout);
    let matrix_bytes = MATRICES * cin * cout * std::mem::size_of::<f32>();
    let reuse = if matrix_bytes > S2_CACHED_WEIGHTS {
        2
    } else {
        1
    };
    let weights = reuse * cin * cout / (5 * (cin + cout));
    (BLOCK_BUDGET / per_tile)
        .max(weights)
        .min(S2_MAX_BUFFER / per_tile)
}

/// Smallest number of tiles worth a thread: about 2 MFLOP of GEMM.
fn min_tiles_per_thread(points: usize, cin: usize, cout: usize) -> usize {
    (2_000_000 / (2 * points * cin * cout).max(1)).max(1)
}

/// Transformed weight matrices per kernel (both variants: 36).
const MATRICES: usize = 36;

/// Transformed weights and the bias of a 3x3 convolution.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct WinogradWeights {
    pub cin: usize,
    pub cout: usize,
    pub variant: Variant,
    /// The 36 matrices as `cin x cout` panels (zero bias rows), one after the other in one
    /// buffer (large enough for huge pages, see `RowBuf`): `U[xi]`, `xi = 6 * i + j`, for
    /// stride 1; see [`stride2`] for stride 2.
    rows: RowBuf,
    /// `cout` biases, added after the output transform.
    pub bias: Vec<f32>,
}

impl WinogradWeights {
    /// Transforms `weights` `[cout][cin][3][3]` (checked by the caller) for `variant`.
    pub(crate) fn new(
        weights: ConvWeights<'_>,
        bias: Option<&[f32]>,
        cin: usize,
        cout: usize,
        variant: Variant,
    ) -> Self {
        // The 16 kernels of a panel row are transformed together (vectorised across output
        // channels) and their 36 values go straight into the 36 weight matrices as one panel
        // row each: the matrices fill in 36 sequential streams, no temporary. Bias rows and the
        // columns past `cout` in the last panel stay zero.
        let per_set = panel_rows(cin, cout);
        let mut rows = RowBuf::zeroed(MATRICES * per_set);
        for (panel, first) in (0..cout).step_by(NR).enumerate() {
            let outs = first..cout.min(first + NR);
            for i in 0..cin {
                // The 16 kernels of this panel and input channel, tap-major (zero past `cout`).
                let mut g = [[0.0f32; NR]; 9];
                for (c, o) in outs.clone().enumerate() {
                    for (t, taps) in g.iter_mut().enumerate() {
                        taps[c] = weights.at(o, cin * 9, i * 9 + t);
                    }
                }
                let mut tile = match variant {
                    Variant::Stride1 => transform::weight_tiles(&g),
                    Variant::Stride2 => stride2::weight_tiles(&g),
                };
                for point in &mut tile {
                    // (-0.0 from the transform's negations) back to +0.0.
                    point[outs.len()..].fill(0.0);
                }
                let row = panel * (cin + 1) + 1 + i;
                for (xi, point) in tile.iter().enumerate() {
                    rows[xi * per_set + row] = PanelRow(*point);
                }
            }
        }
        WinogradWeights {
            cin,
            cout,
            variant,
            rows,
            bias: bias.map_or_else(|| vec![0.0; cout], <[f32]>::to_vec),
        }
    }

    /// Transformed points per tile.
    pub(crate) fn points(&self) -> usize {
        self.variant.points()
    }

    /// Weight matrices (both variants: 36).
    pub(crate) fn matrices(&self) -> usize {
        MATRICES
    }

    /// The weight matrix point `xi` reads.
    pub(crate) fn matrix_of(&self, xi: usize) -> usize {
        match self.variant {
            Variant::Stride1 => xi,
            Variant::Stride2 => stride2::MATRIX_OF[xi] as usize,
        }
    }

    /// Weight matrix `k` (`U[k]` for stride 1).
    pub(crate) fn matrix(&self, k: usize) -> PanelsRef<'_> {
        let per_set = panel_rows(self.cin, self.cout);
        PanelsRef::new(
            self.cin,
            self.cout,
            &self.rows[k * per_set..(k + 1) * per_set],
        )
    }
}

/// Whether Winograd F(4x4, 3x3) can compute `window`: a 3x3 kernel at stride 1 (any padding).
pub fn supports(window: &Window) -> bool {
    (
        window.kernel_h,
        window.kernel_w,
        window.stride_h,
        window.stride_w,
    ) == (3, 3, 1, 1)
}

/// Whether the stride-2 polyphase F(4x4, 2x2) can compute `window`: a 3x3 kernel at stride 2
/// (any padding).
pub fn supports_stride2(window: &Window) -> bool {
    (
        window.kernel_h,
        window.kernel_w,
        window.stride_h,
        window.stride_w,
    ) == (3, 3, 2, 2)
}

/// Whether `variant`'s weights can compute `window`.
pub(crate) fn variant_supports(variant: Variant, window: &Window) -> bool {
    match variant {
        Variant::Stride1 => supports(window),
        Variant::Stride2 => supports_stride2(window),
    }
}

/// Runs the convolution on checked operands (`conv2d_with_isa` checked shapes, the window and
/// that this CPU supports `backend`); `(oh, ow)` is the output size.
#[allow(clippy::too_many_arguments)]
pub(crate) fn run(
    backend: &Backend,
    input: &TensorView<'_>,
    weights: &WinogradWeights,
    window: &Window,
    epilogue: &Epilogue<'_>,
    output: &mut TensorViewMut<'_>,
    (oh, ow): (usize, usize),
    scratch: &mut ConvScratch,
    threads: &crate::parallel::Threads,
) -> Result<()> {
    let kernel = backend.kernels.gemm;
    let tiles_fn = match weights.variant {
        Variant::Stride1 => backend.kernels.winograd_tiles,
        Variant::Stride2 => backend.kernels.winograd_s2_tiles,
    };
    let points = weights.points();
    let [n, h, w, _] = input.shape();
    let (tiles_h, tiles_w) = (oh.div_ceil(TILE), ow.div_ceil(TILE));
    let total = n * tiles_h * tiles_w;
    if total == 0 {
        return Ok(());
    }
    let (cin, cout) = (weights.cin, weights.cout);
    let mr = kernel.mr;
    let min_tiles = min_tiles_per_thread(points, cin, cout);
    let (per, chunks) = crate::parallel::chunk_plan(total, threads.count(), min_tiles, 1);
    // Tiles per block: the budget, at least one microkernel tile, no more than a chunk needs.
    let budget = match weights.variant {
        Variant::Stride1 => BLOCK_BUDGET / (points * (cin + cout)),
        Variant::Stride2 => stride2_block(cin, cout),
    };
    let budget = budget.clamp(mr, MAX_BLOCK_ROWS);
    let block = (budget / mr * mr).min(per.div_ceil(mr) * mr);
    let job = Job {
        kernel,
        weights,
        input: Pixels::of(input),
        h,
        w,
        output: Pixels::of_mut(output),
        oh,
        ow,
        residual: epilogue.residual.as_ref().map(|r| Pixels::of(&r.view)),
        order: epilogue.residual.as_ref().map(|r| r.order),
        act: epilogue.act,
        pad_top: window.padding.top,
        pad_left: window.padding.left,
        tiles_h,
        tiles_w,
        block,
    };
    scratch.reserve(chunks, 0, job.buffer_len(), 0);
    let slots = &scratch.slots[..chunks];
    threads.for_each_chunk(chunks, 1, 1, |ids| {
        for id in ids {
            let mut slot = slots[id].lock().unwrap_or_else(PoisonError::into_inner);
            let tiles = id * per..((id + 1) * per).min(total);
            let buf = &mut slot.cols[..job.buffer_len()];
            // SAFETY: every operand was checked by `conv2d_with_isa`, the slot holds
            // `buffer_len` floats, chunk `id` owns the output pixels of `tiles`, and the back end
            // is supported by this CPU (`Backend::get`).
            unsafe { tiles_fn(&job, tiles, buf) }
        }
    });
    Ok(())
}

/// Winograd's tile loop on AVX2 lanes (the AVX2 back end's entries).
///
/// # Safety
/// As [`run_tiles`]; the CPU must support AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[allow(private_bounds)]
pub(crate) unsafe fn run_tiles_avx2<K: Tiles>(
    job: &Job<'_>,
    tiles: std::ops::Range<usize>,
    buf: &mut [f32],
) {
    // SAFETY: forwarded contract; this function's target features make the AVX2 lanes valid.
    unsafe { run_tiles::<crate::lanes::Avx2, K>(job, tiles, buf) }
}

/// [`run_tiles_avx2`] compiled with AVX-512 F and VL enabled (the AVX-512 back end's entries):
/// the same operations, so the same bits, with 32 vector registers for the output transform's
/// SiLU chains.
///
/// # Safety
/// As [`run_tiles`]; the CPU must support AVX2, FMA and AVX-512 F and VL.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma,avx512f,avx512vl")]
#[allow(private_bounds)]
pub(crate) unsafe fn run_tiles_avx512<K: Tiles>(
    job: &Job<'_>,
    tiles: std::ops::Range<usize>,
    buf: &mut [f32],
) {
    // SAFETY: forwarded contract; this function's target features make the AVX2 lanes valid.
    unsafe { run_tiles::<crate::lanes::Avx2, K>(job, tiles, buf) }
}
