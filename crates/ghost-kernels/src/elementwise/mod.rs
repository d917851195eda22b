//! Element-wise kernels on strided NHWC views: residual `add` (also in place), `mul`, the SE
//! `channel_scale` (per image and channel), and an in-place activation.
//!
//! All are memory-bound: one pass, 8 channels per vector, masked tails (never overlapped, so the
//! in-place kernels touch each element once), pixels split over threads. Inputs and output may be
//! different channel ranges of one buffer.

mod kernel;
pub mod naive;

use crate::act::Activation;
use crate::backend::Backend;
use crate::error::{KernelError, Result};
use crate::isa::{active_isa, Isa};
use crate::lanes::{run_split, Pixels};
use crate::parallel::Threads;
use crate::view::{TensorView, TensorViewMut};
pub(crate) use kernel::ElementwiseKernel;
use kernel::Op;

/// Smallest number of floats worth giving a thread.
const MIN_FLOATS_PER_CHUNK: usize = 32 * 1024;

/// `output = a + b`.
pub fn add(
    a: &TensorView,
    b: &TensorView,
    output: &mut TensorViewMut,
    threads: &Threads,
) -> Result<()> {
    binary_with_isa(active_isa(), BinaryOp::Add, a, b, output, threads)
}

/// `x += r` in place (a residual that cannot go into a kernel epilogue because `x`'s values
/// before the add are read by another layer first, as in a Ghost module's primary half).
pub fn add_inplace(x: &mut TensorViewMut, r: &TensorView, threads: &Threads) -> Result<()> {
    add_inplace_with_isa(active_isa(), x, r, threads)
}

/// [`add_inplace`] on an explicitly chosen implementation.
#[doc(hidden)]
pub fn add_inplace_with_isa(
    isa: Isa,
    x: &mut TensorViewMut,
    r: &TensorView,
    threads: &Threads,
) -> Result<()> {
    let backend = Backend::get(isa)?;
    let shape = x.shape();
    same_shape("residual", shape, r.shape())?;
    let out = Pixels::of_mut(x);
    let kernel = ElementwiseKernel {
        op: Op::Add,
        a: out,
        b: Pixels::of(r),
        out,
        c: shape[3],
    };
    run(backend, threads, &kernel, x.layout().pixels());
    Ok(())
}

/// `output = a * b` (element-wise).
pub fn mul(
    a: &TensorView,
    b: &TensorView,
    output: &mut TensorViewMut,
    threads: &Threads,
) -> Result<()> {
    binary_with_isa(active_isa(), BinaryOp::Mul, a, b, output, threads)
}

/// A binary element-wise operation.
#[doc(hidden)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinaryOp {
    Add,
    Mul,
}

/// [`add`] / [`mul`] on an explicitly chosen implementation.
#[doc(hidden)]
pub fn binary_with_isa(
    isa: Isa,
    op: BinaryOp,
    a: &TensorView,
    b: &TensorView,
    output: &mut TensorViewMut,
    threads: &Threads,
) -> Result<()> {
    let backend = Backend::get(isa)?;
    let shape = a.shape();
    same_shape("b", shape, b.shape())?;
    same_shape("output", shape, output.shape())?;
    let kernel = ElementwiseKernel {
        op: match op {
            BinaryOp::Add => Op::Add,
            BinaryOp::Mul => Op::Mul,
        },
        a: Pixels::of(a),
        b: Pixels::of(b),
        out: Pixels::of_mut(output),
        c: shape[3],
    };
    run(backend, threads, &kernel, output.layout().pixels());
    Ok(())
}

/// `output[b, y, x, ch] = input[b, y, x, ch] * scale[b, 0, 0, ch]` (the SE gate; `scale` is
/// `n x 1 x 1 x c`).
pub fn channel_scale(
    input: &TensorView,
    scale: &TensorView,
    output: &mut TensorViewMut,
    threads: &Threads,
) -> Result<()> {
    channel_scale_with_isa(active_isa(), input, scale, output, threads)
}

/// [`channel_scale`] on an explicitly chosen implementation.
#[doc(hidden)]
pub fn channel_scale_with_isa(
    isa: Isa,
    input: &TensorView,
    scale: &TensorView,
    output: &mut TensorViewMut,
    threads: &Threads,
) -> Result<()> {
    let backend = Backend::get(isa)?;
    let shape = input.shape();
    check_scale(shape, scale)?;
    same_shape("output", shape, output.shape())?;
    let kernel = ElementwiseKernel {
        op: Op::Scale {
            image_pixels: shape[1] * shape[2],
        },
        a: Pixels::of(input),
        b: Pixels::of(scale),
        out: Pixels::of_mut(output),
        c: shape[3],
    };
    run(backend, threads, &kernel, output.layout().pixels());
    Ok(())
}

/// [`channel_scale`] in place: `x[b, y, x, ch] *= scale[b, 0, 0, ch]`.
pub fn channel_scale_inplace(
    x: &mut TensorViewMut,
    scale: &TensorView,
    threads: &Threads,
) -> Result<()> {
    channel_scale_inplace_with_isa(active_isa(), x, scale, threads)
}

/// [`channel_scale_inplace`] on an explicitly chosen implementation.
#[doc(hidden)]
pub fn channel_scale_inplace_with_isa(
    isa: Isa,
    x: &mut TensorViewMut,
    scale: &TensorView,
    threads: &Threads,
) -> Result<()> {
    let backend = Backend::get(isa)?;
    let shape = x.shape();
    check_scale(shape, scale)?;
    let out = Pixels::of_mut(x);
    let kernel = ElementwiseKernel {
        op: Op::Scale {
            image_pixels: shape[1] * shape[2],
        },
        a: out,
        b: Pixels::of(scale),
        out,
        c: shape[3],
    };
    run(backend, threads, &kernel, x.layout().pixels());
    Ok(())
}

/// `x = act(x)` in place.
pub fn activate_inplace(x: &mut TensorViewMut, act: Activation, threads: &Threads) -> Result<()> {
    activate_inplace_with_isa(active_isa(), x, act, threads)
}

/// [`activate_inplace`] on an explicitly chosen implementation.
#[doc(hidden)]
pub fn activate_inplace_with_isa(
    isa: Isa,
    x: &mut TensorViewMut,
    act: Activation,
    threads: &Threads,
) -> Result<()> {
    let backend = Backend::get(isa)?;
    if act == Activation::Identity {
        return Ok(());
    }
    let out = Pixels::of_mut(x);
    let kernel = ElementwiseKernel {
        op: Op::Activate(act),
        a: out,
        b: out,
        out,
        c: x.layout().c,
    };
    run(backend, threads, &kernel, x.layout().pixels());
    Ok(())
}

fn run(backend: &Backend, threads: &Threads, kernel: &ElementwiseKernel, pixels: usize) {
    if kernel.c == 0 {
        return;
    }
    let min_pixels = MIN_FLOATS_PER_CHUNK.div_ceil(kernel.c);
    // SAFETY: every view's shape was checked against the output's by the caller, the back end is
    // supported (`Backend::get`), and the kernel writes only pixel ranges it is given.
    unsafe {
        run_split(
            backend.kernels.elementwise,
            threads,
            pixels,
            min_pixels,
            kernel,
        )
    }
}

fn same_shape(operand: &'static str, expected: [usize; 4], found: [usize; 4]) -> Result<()> {
    if expected == found {
        Ok(())
    } else {
        Err(KernelError::shape(
            operand,
            format!("{expected:?}"),
            format!("{found:?}"),
        ))
    }
}

fn check_scale(shape: [usize; 4], scale: &TensorView) -> Result<()> {
    same_shape("scale", [shape[0], 1, 1, shape[3]], scale.shape())
}
