//! Dense `kh x kw` convolution (groups = 1, any stride, any asymmetric padding) on strided NHWC
//! views, as a GEMM over (ky, kx, cin) that reuses the pointwise microkernels.
//!
//! Weights are packed once ([`PackedConv`]) into the pointwise panel format with the reduction
//! in (ky, kx, cin) order. The driver ([`driver`]) feeds the microkernel either pointers straight
//! into the input (indirect GEMM, no copy) or, for tiny `cin` such as the RGB stem, im2col rows of
//! a cache block gathered into a reusable [`ConvScratch`].

mod driver;
pub mod naive;
mod scratch;

use std::sync::PoisonError;

use crate::act::Epilogue;
use crate::error::{KernelError, Result};
use crate::geometry::Window;
use crate::isa::{active_isa, Isa};
use crate::parallel::Threads;
use crate::pointwise::driver::{block_rows, min_rows_per_thread, OutputSide};
use crate::pointwise::pack::Panels;
use crate::pointwise::{check_output, microkernel};
use crate::view::{SendPtr, TensorView, TensorViewMut};

use driver::{conv_rows, Geometry};
pub use scratch::ConvScratch;

/// Dense convolution weights and bias, packed once for the microkernels.
#[derive(Debug, Clone, PartialEq)]
pub struct PackedConv {
    cin: usize,
    cout: usize,
    kh: usize,
    kw: usize,
    panels: Panels,
}

impl PackedConv {
    /// Packs `weights` `[cout][cin][kh][kw]` (PyTorch layout) and an optional bias of `cout`
    /// values (`None` = zeros).
    pub fn new(
        weights: &[f32],
        bias: Option<&[f32]>,
        cin: usize,
        cout: usize,
        kh: usize,
        kw: usize,
    ) -> Result<Self> {
        check_weights(weights, bias, cin, cout, kh, kw)?;
        let taps = kh * kw;
        let panels = Panels::pack(taps * cin, cout, bias, |o, k| {
            let (t, i) = (k / cin, k % cin);
            weights[(o * cin + i) * taps + t]
        });
        Ok(PackedConv {
            cin,
            cout,
            kh,
            kw,
            panels,
        })
    }

    /// Input channels.
    pub fn cin(&self) -> usize {
        self.cin
    }

    /// Output channels.
    pub fn cout(&self) -> usize {
        self.cout
    }

    /// Kernel `(height, width)`.
    pub fn kernel(&self) -> (usize, usize) {
        (self.kh, self.kw)
    }
}

/// Dense convolution `output = epilogue(conv(input, W) + bias)` on the best instruction set of
/// this CPU. `window` must have the packed kernel size; `output` and the residual (if any) must
/// have shape `(n, oh, ow, cout)` with `(oh, ow) = window.output_size(h, w)`. Only the output's
/// channel range is written; `scratch` is grown on first use and reused afterwards.
pub fn conv2d(
    input: &TensorView<'_>,
    weights: &PackedConv,
    window: &Window,
    epilogue: &Epilogue<'_>,
    output: &mut TensorViewMut<'_>,
    scratch: &mut ConvScratch,
    threads: &Threads,
) -> Result<()> {
    conv2d_with_isa(
        active_isa(),
        input,
        weights,
        window,
        epilogue,
        output,
        scratch,
        threads,
    )
}

/// [`conv2d`] on an explicit instruction set (tests and comparisons). Fails with
/// `InvalidParameter` if this CPU cannot run `isa`.
#[doc(hidden)]
#[allow(clippy::too_many_arguments)]
pub fn conv2d_with_isa(
    isa: Isa,
    input: &TensorView<'_>,
    weights: &PackedConv,
    window: &Window,
    epilogue: &Epilogue<'_>,
    output: &mut TensorViewMut<'_>,
    scratch: &mut ConvScratch,
    threads: &Threads,
) -> Result<()> {
    let (cin, cout, kh, kw) = (weights.cin, weights.cout, weights.kh, weights.kw);
    let (oh, ow) = check_conv(input, cin, cout, kh, kw, window, epilogue, output)?;
    let kernel = microkernel(isa)?;
    let [_, h, w, _] = input.shape();
    let geo = Geometry {
        h,
        w,
        cin,
        oh,
        ow,
        kh,
        kw,
        stride_h: window.stride_h,
        stride_w: window.stride_w,
        pad_top: window.padding.top,
        pad_left: window.padding.left,
        pixel_stride: input.layout().pixel_stride,
    };
    let m = output.layout().pixels();
    if m == 0 {
        return Ok(());
    }
    let mr = kernel.mr;
    let k = weights.panels.k();
    let (taps, seg) = geo.reduction();
    let block = block_rows(taps, seg, mr);
    let min_rows = min_rows_per_thread(k, cout, mr);
    let (per, chunks) = chunking(m, threads.count(), min_rows, mr);
    let (table, cols) = geo.slot_sizes(block, mr);
    scratch.reserve(chunks, table, cols, geo.zeros_len());
    let zeros = scratch.zeros.as_ptr();
    let slots = &scratch.slots[..chunks];
    let out = OutputSide {
        out: SendPtr(output.as_mut_ptr()),
        layout: *output.layout(),
        epilogue,
    };
    let zeros = SendConstPtr(zeros);
    threads.for_each_chunk(chunks, 1, 1, |ids| {
        for id in ids {
            let mut slot = slots[id].lock().unwrap_or_else(PoisonError::into_inner);
            let rows = id * per..((id + 1) * per).min(m);
            // SAFETY: `check_conv` verified every shape and the views guarantee their buffers;
            // the zero row holds >= zeros_len() zeros and the slot the sizes `reserve` was given; chunk
            // `id` owns output pixels `rows` alone; the microkernel is supported by this CPU.
            unsafe {
                conv_rows(
                    kernel,
                    &weights.panels,
                    &geo,
                    input,
                    zeros.get(),
                    &out,
                    &mut slot,
                    block,
                    rows,
                )
            };
        }
    });
    Ok(())
}

/// A read-only pointer shared with worker threads (the zero row).
#[derive(Clone, Copy)]
struct SendConstPtr(*const f32);
// SAFETY: points at an immutable zero row that outlives the parallel section.
unsafe impl Send for SendConstPtr {}
// SAFETY: as above; only read.
unsafe impl Sync for SendConstPtr {}

impl SendConstPtr {
    /// The pointer (a method, so closures capture the wrapper and not its field).
    fn get(self) -> *const f32 {
        self.0
    }
}

/// Splits `m` rows into chunks like [`crate::parallel::chunk_ranges`] (rows per chunk, chunk
/// count), without allocating.
fn chunking(m: usize, threads: usize, min_rows: usize, align: usize) -> (usize, usize) {
    let max_chunks = (m / min_rows.max(1)).clamp(1, threads.max(1));
    let per = m.div_ceil(max_chunks).div_ceil(align) * align;
    (per, m.div_ceil(per))
}

/// Checks the weights slice and bias of a `[cout][cin][kh][kw]` convolution.
pub(crate) fn check_weights(
    weights: &[f32],
    bias: Option<&[f32]>,
    cin: usize,
    cout: usize,
    kh: usize,
    kw: usize,
) -> Result<()> {
    if cin == 0 || cout == 0 || kh == 0 || kw == 0 {
        return Err(KernelError::param(
            "conv shape",
            format!("cin = {cin}, cout = {cout}, kernel {kh}x{kw}: all must be at least 1"),
        ));
    }
    let per_out = cin
        .checked_mul(kh)
        .and_then(|v| v.checked_mul(kw))
        .ok_or_else(|| KernelError::param("weights", "size overflows"))?;
    crate::pointwise::naive::check_weights_len(weights, bias, per_out, cout)
}

/// Checks every operand of a convolution; returns the output size.
#[allow(clippy::too_many_arguments)]
pub(crate) fn check_conv(
    input: &TensorView<'_>,
    cin: usize,
    cout: usize,
    kh: usize,
    kw: usize,
    window: &Window,
    epilogue: &Epilogue<'_>,
    output: &TensorViewMut<'_>,
) -> Result<(usize, usize)> {
    if (window.kernel_h, window.kernel_w) != (kh, kw) {
        return Err(KernelError::param(
            "window",
            format!(
                "kernel {}x{} does not match the {kh}x{kw} weights",
                window.kernel_h, window.kernel_w
            ),
        ));
    }
    let [n, h, w, c] = input.shape();
    if c != cin {
        return Err(KernelError::shape(
            "input",
            format!("{cin} channels"),
            format!("{c} channels"),
        ));
    }
    let (oh, ow) = window.output_size(h, w)?;
    check_output(output, [n, oh, ow, cout], epilogue)?;
    Ok((oh, ow))
}
