//! Nearest-neighbour 2x upsampling (YOLO neck `nn.Upsample(scale_factor=2, mode="nearest")`) on
//! strided NHWC views: the output may be a channel slice of the following Concat's buffer.

use std::ops::Range;

use crate::backend::Backend;
use crate::error::{KernelError, Result};
use crate::isa::{active_isa, Isa};
use crate::lanes::{each_block, load_opt, run_split, store_opt, Lanes, Pixels, SplitKernel, LANES};
use crate::parallel::Threads;
use crate::view::{TensorView, TensorViewMut};

/// Smallest number of output floats worth giving a thread.
const MIN_FLOATS_PER_CHUNK: usize = 32 * 1024;

/// `output[b, y, x, ch] = input[b, y / 2, x / 2, ch]`, `output` is `n x 2h x 2w x c`.
pub fn upsample_nearest_2x(
    input: &TensorView,
    output: &mut TensorViewMut,
    threads: &Threads,
) -> Result<()> {
    upsample_nearest_2x_with_isa(active_isa(), input, output, threads)
}

/// [`upsample_nearest_2x`] on an explicitly chosen implementation.
#[doc(hidden)]
pub fn upsample_nearest_2x_with_isa(
    isa: Isa,
    input: &TensorView,
    output: &mut TensorViewMut,
    threads: &Threads,
) -> Result<()> {
    let backend = Backend::get(isa)?;
    check(input, output)?;
    let [n, h, w, c] = input.shape();
    if n * h * w * c == 0 {
        return Ok(());
    }
    let kernel = Upsample2x {
        input: Pixels::of(input),
        output: Pixels::of_mut(output),
        h,
        w,
        c,
    };
    let min_rows = MIN_FLOATS_PER_CHUNK.div_ceil(2 * w * c);
    // SAFETY: shapes checked above; `isa` is supported; output rows are disjoint.
    unsafe {
        run_split(
            backend.kernels.upsample,
            threads,
            n * 2 * h,
            min_rows,
            &kernel,
        )
    };
    Ok(())
}

fn check(input: &TensorView, output: &TensorViewMut) -> Result<()> {
    let [n, h, w, c] = input.shape();
    let expected = [n, 2 * h, 2 * w, c];
    if output.shape() != expected {
        return Err(KernelError::shape(
            "output",
            format!("{expected:?}"),
            format!("{:?}", output.shape()),
        ));
    }
    Ok(())
}

/// Work items are output rows `b * 2h + oy`.
#[derive(Debug)]
pub(crate) struct Upsample2x {
    input: Pixels,
    output: Pixels,
    h: usize,
    w: usize,
    c: usize,
}

impl SplitKernel for Upsample2x {
    #[inline(always)]
    unsafe fn run<V: Lanes>(&self, rows: Range<usize>) {
        let tail = V::mask(self.c % LANES);
        for r in rows {
            let (b, oy) = (r / (2 * self.h), r % (2 * self.h));
            let in_row = (b * self.h + oy / 2) * self.w;
            let out_row = r * 2 * self.w;
            for x in 0..self.w {
                let src = self.input.at(in_row + x);
                let (d0, d1) = (
                    self.output.at(out_row + 2 * x),
                    self.output.at(out_row + 2 * x + 1),
                );
                each_block!(self.c, tail, |ch, m| {
                    let v: V = load_opt(src.add(ch), m);
                    store_opt(d0.add(ch), m, v);
                    store_opt(d1.add(ch), m, v);
                });
            }
        }
    }
}

/// Scalar reference.
pub mod naive {
    use crate::error::Result;
    use crate::view::{TensorView, TensorViewMut};

    /// Nearest 2x upsampling, element by element.
    pub fn upsample_nearest_2x(input: &TensorView, output: &mut TensorViewMut) -> Result<()> {
        super::check(input, output)?;
        let [n, oh, ow, c] = output.shape();
        for b in 0..n {
            for y in 0..oh {
                for x in 0..ow {
                    for ch in 0..c {
                        output.set(b, y, x, ch, input.get(b, y / 2, x / 2, ch));
                    }
                }
            }
        }
        Ok(())
    }
}
