//! Depthwise `kh x kw` convolution (channel multiplier 1) on strided NHWC views: GhostNet's cheap
//! operations and stride-2 bottleneck convs, YOLO's DWConv.
//!
//! [`depthwise`] checks every shape, then runs the back end's depthwise entry (chosen at
//! start-up, [`active_isa`]; small-channel layers have their own) over rows of the output split across threads. Input and
//! output may be two channel ranges of one buffer (a Ghost module reads `[0, m)` and writes
//! `[m, 2m)`): the kernels address both through raw pointers and only ever touch channels inside
//! each view's range.

#[cfg(target_arch = "x86_64")]
pub(crate) mod avx2;
mod kernel;
pub mod naive;
#[cfg(target_arch = "aarch64")]
pub(crate) mod neon;
mod pack;
pub(crate) mod portable;
pub(crate) mod scalar;
mod small;

pub use pack::PackedDepthwise;

use crate::act::Epilogue;
use crate::backend::Backend;
use crate::error::{KernelError, Result};
use crate::geometry::Window;
use crate::isa::{active_isa, Isa};
use crate::parallel::Threads;
use crate::view::{TensorView, TensorViewMut};
pub(crate) use kernel::Plan;

/// Output rows of less work than this many multiply-adds are not worth a thread wake-up.
const MIN_MACS_PER_CHUNK: usize = 64 * 1024;

/// Depthwise convolution of `input` with prepacked `weights` (and their bias), zero padding, then
/// the fused `epilogue`, written into `output` (`n x oh x ow x c`, `(oh, ow)` from
/// [`Window::output_size`]).
pub fn depthwise(
    input: &TensorView,
    weights: &PackedDepthwise,
    window: &Window,
    epilogue: &Epilogue,
    output: &mut TensorViewMut,
    threads: &Threads,
) -> Result<()> {
    depthwise_with_isa(
        active_isa(),
        input,
        weights,
        window,
        epilogue,
        output,
        threads,
    )
}

/// [`depthwise`] on an explicitly chosen implementation (tests and benchmarks). Fails with
/// `InvalidParameter` if the CPU cannot run `isa`.
#[doc(hidden)]
pub fn depthwise_with_isa(
    isa: Isa,
    input: &TensorView,
    weights: &PackedDepthwise,
    window: &Window,
    epilogue: &Epilogue,
    output: &mut TensorViewMut,
    threads: &Threads,
) -> Result<()> {
    let backend = Backend::get(isa)?;
    let c = weights.channels();
    check_shapes(
        input,
        c,
        weights.kernel_h(),
        weights.kernel_w(),
        window,
        epilogue,
        output,
    )?;
    let [n, ih, iw, _] = input.shape();
    let [_, oh, ow, _] = output.shape();
    if n == 0 || oh == 0 || ow == 0 {
        return Ok(());
    }
    let in_layout = *input.layout();
    let out_layout = *output.layout();
    let residual = epilogue.residual.map(|r| {
        (
            r.view.as_ptr().wrapping_add(r.view.layout().channel_offset),
            r,
        )
    });
    let plan = Plan {
        input: input.as_ptr().wrapping_add(in_layout.channel_offset),
        in_stride: in_layout.pixel_stride,
        ih,
        iw,
        output: output.as_mut_ptr().wrapping_add(out_layout.channel_offset),
        out_stride: out_layout.pixel_stride,
        oh,
        ow,
        residual: residual.map_or(std::ptr::null(), |(ptr, _)| ptr),
        res_stride: residual.map_or(0, |(_, r)| r.view.layout().pixel_stride),
        order: epilogue.residual.map(|r| r.order),
        act: epilogue.act,
        sh: window.stride_h,
        sw: window.stride_w,
        pad_top: window.padding.top,
        pad_left: window.padding.left,
        packed: weights,
    };
    let row_macs = ow * c * weights.kernel_h() * weights.kernel_w();
    let min_rows = MIN_MACS_PER_CHUNK.div_ceil(row_macs.max(1));
    let entry = if weights.small() {
        backend.kernels.depthwise_small
    } else {
        backend.kernels.depthwise_rows
    };
    threads.for_each_chunk(n * oh, min_rows, 1, |rows| {
        // SAFETY: the back end is supported (`Backend::get`) and the plan's pointers and
        // geometry were derived from views whose shapes `check_shapes` verified; chunks are
        // disjoint rows.
        unsafe { entry(&plan, rows) }
    });
    Ok(())
}

/// Checks the operands of a depthwise convolution with `c` channels and a `kh x kw` kernel.
pub(crate) fn check_shapes(
    input: &TensorView,
    c: usize,
    kh: usize,
    kw: usize,
    window: &Window,
    epilogue: &Epilogue,
    output: &TensorViewMut,
) -> Result<()> {
    if window.kernel_h != kh || window.kernel_w != kw {
        return Err(KernelError::shape(
            "window",
            format!("{kh}x{kw} kernel (the packed weights)"),
            format!("{}x{}", window.kernel_h, window.kernel_w),
        ));
    }
    let [n, ih, iw, ic] = input.shape();
    if ic != c {
        return Err(KernelError::shape(
            "input",
            format!("{c} channels"),
            format!("{ic} channels"),
        ));
    }
    let (oh, ow) = window.output_size(ih, iw)?;
    let expected = [n, oh, ow, c];
    if output.shape() != expected {
        return Err(KernelError::shape(
            "output",
            format!("{expected:?}"),
            format!("{:?}", output.shape()),
        ));
    }
    if let Some(r) = &epilogue.residual {
        if r.view.shape() != expected {
            return Err(KernelError::shape(
                "residual",
                format!("{expected:?}"),
                format!("{:?}", r.view.shape()),
            ));
        }
    }
    Ok(())
}
