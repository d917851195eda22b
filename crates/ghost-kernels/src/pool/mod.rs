//! Pooling on strided NHWC views: max pooling (PyTorch `MaxPool2d`, padding counts as `-inf`,
//! NaN propagates; SPPF's 5x5 stride 1) and global average pooling (SE blocks, classifier head).

mod kernel;
pub mod naive;

use crate::backend::Backend;
use crate::error::{KernelError, Result};
use crate::geometry::Window;
use crate::isa::{active_isa, Isa};
use crate::lanes::{run_split, Pixels, LANES};
use crate::parallel::Threads;
use crate::view::{TensorView, TensorViewMut};
pub(crate) use kernel::{GlobalAvgKernel, MaxPoolKernel};

/// Smallest number of floats worth giving a thread.
const MIN_FLOATS_PER_CHUNK: usize = 32 * 1024;

/// Max pooling of `input` with `window` into `output` (`n x oh x ow x c`). Computed separably
/// (column maxima over the window's rows, then row maxima), which is exact for a maximum.
pub fn max_pool(
    input: &TensorView,
    window: &Window,
    output: &mut TensorViewMut,
    threads: &Threads,
) -> Result<()> {
    max_pool_with_isa(active_isa(), input, window, output, threads)
}

/// [`max_pool`] on an explicitly chosen implementation.
#[doc(hidden)]
pub fn max_pool_with_isa(
    isa: Isa,
    input: &TensorView,
    window: &Window,
    output: &mut TensorViewMut,
    threads: &Threads,
) -> Result<()> {
    let backend = Backend::get(isa)?;
    check_max_pool(input, window, output)?;
    let [n, ih, iw, c] = input.shape();
    let [_, oh, ow, _] = output.shape();
    if n * oh * ow * c == 0 {
        return Ok(());
    }
    let kernel = MaxPoolKernel {
        input: Pixels::of(input),
        output: Pixels::of_mut(output),
        ih,
        iw,
        oh,
        ow,
        c,
        window: *window,
    };
    let min_rows = MIN_FLOATS_PER_CHUNK.div_ceil(ow * c * window.kernel_h * window.kernel_w);
    // SAFETY: shapes checked above; `isa` is supported; rows are disjoint.
    unsafe { run_split(backend.kernels.max_pool, threads, n * oh, min_rows, &kernel) };
    Ok(())
}

pub(crate) fn check_max_pool(
    input: &TensorView,
    window: &Window,
    output: &TensorViewMut,
) -> Result<()> {
    let [n, ih, iw, c] = input.shape();
    if ih == 0 || iw == 0 {
        return Err(KernelError::shape(
            "input",
            "a non-empty image",
            format!("{ih}x{iw}"),
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
    Ok(())
}

/// Global average pooling: `output[b, 0, 0, ch] = mean over (y, x) of input[b, y, x, ch]`.
/// Sums each image row in f32, then adds the row sums (error ~ `(h + w) u` of the absolute sum
/// instead of `h w u` for one long running sum).
pub fn global_avg_pool(
    input: &TensorView,
    output: &mut TensorViewMut,
    threads: &Threads,
) -> Result<()> {
    global_avg_pool_with_isa(active_isa(), input, output, threads)
}

/// [`global_avg_pool`] on an explicitly chosen implementation.
#[doc(hidden)]
pub fn global_avg_pool_with_isa(
    isa: Isa,
    input: &TensorView,
    output: &mut TensorViewMut,
    threads: &Threads,
) -> Result<()> {
    let backend = Backend::get(isa)?;
    check_global_avg(input, output)?;
    let [n, h, w, c] = input.shape();
    if n * c == 0 {
        return Ok(());
    }
    let blocks = c.div_ceil(LANES);
    let kernel = GlobalAvgKernel {
        input: Pixels::of(input),
        output: Pixels::of_mut(output),
        h,
        w,
        c,
        blocks,
    };
    let min_blocks = MIN_FLOATS_PER_CHUNK.div_ceil(h * w * LANES);
    // SAFETY: shapes checked above; `isa` is supported; work items (image, channel block) are
    // disjoint output elements.
    unsafe {
        run_split(
            backend.kernels.global_avg_pool,
            threads,
            n * blocks,
            min_blocks,
            &kernel,
        )
    };
    Ok(())
}

pub(crate) fn check_global_avg(input: &TensorView, output: &TensorViewMut) -> Result<()> {
    let [n, h, w, c] = input.shape();
    if h == 0 || w == 0 {
        return Err(KernelError::shape(
            "input",
            "a non-empty image",
            format!("{h}x{w}"),
        ));
    }
    let expected = [n, 1, 1, c];
    if output.shape() != expected {
        return Err(KernelError::shape(
            "output",
            format!("{expected:?}"),
            format!("{:?}", output.shape()),
        ));
    }
    Ok(())
}
