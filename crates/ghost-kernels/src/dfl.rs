//! Ultralytics Distribution Focal Loss decoding (`DFL` in `nn/modules/block.py`): per pixel, 4
//! box sides x `bins` logits (channel `side * bins + i`) -> softmax over the bins -> expectation
//! `sum_i i * p_i`, the distance of that box side in grid cells.
//!
//! Computed as `sum_i i e_i / sum_i e_i` with `e_i = exp(x_i - max)`: the softmax and the fixed
//! `arange(bins)` 1x1 conv of PyTorch in one pass, mathematically identical.

use std::ops::Range;

use crate::backend::Backend;
use crate::error::{KernelError, Result};
use crate::isa::{active_isa, Isa};
use crate::lanes::{run_split, Lanes, Pixels, SplitKernel, LANES};
use crate::parallel::Threads;
use crate::view::{TensorView, TensorViewMut};

/// Box sides per pixel.
pub const SIDES: usize = 4;

/// DFL decode of `input` (`c = 4 * bins`) into `output` (same `n, h, w`, `c = 4`).
pub fn dfl(
    input: &TensorView,
    bins: usize,
    output: &mut TensorViewMut,
    threads: &Threads,
) -> Result<()> {
    dfl_with_isa(active_isa(), input, bins, output, threads)
}

/// [`dfl`] on an explicitly chosen implementation.
#[doc(hidden)]
pub fn dfl_with_isa(
    isa: Isa,
    input: &TensorView,
    bins: usize,
    output: &mut TensorViewMut,
    threads: &Threads,
) -> Result<()> {
    let backend = Backend::get(isa)?;
    check(input, bins, output)?;
    let kernel = DflKernel {
        input: Pixels::of(input),
        output: Pixels::of_mut(output),
        bins,
    };
    let pixels = input.layout().pixels();
    let min_pixels = (8 * 1024usize).div_ceil(SIDES * bins);
    // SAFETY: shapes checked above; `isa` is supported; pixels are disjoint.
    unsafe { run_split(backend.kernels.dfl, threads, pixels, min_pixels, &kernel) };
    Ok(())
}

fn check(input: &TensorView, bins: usize, output: &TensorViewMut) -> Result<()> {
    if bins == 0 {
        return Err(KernelError::param("bins", "DFL needs at least 1 bin"));
    }
    let [n, h, w, c] = input.shape();
    if c != SIDES * bins {
        return Err(KernelError::shape(
            "input",
            format!("{} channels (4 x {bins} bins)", SIDES * bins),
            format!("{c} channels"),
        ));
    }
    let expected = [n, h, w, SIDES];
    if output.shape() != expected {
        return Err(KernelError::shape(
            "output",
            format!("{expected:?}"),
            format!("{:?}", output.shape()),
        ));
    }
    Ok(())
}

#[derive(Debug)]
pub(crate) struct DflKernel {
    input: Pixels,
    output: Pixels,
    bins: usize,
}

impl SplitKernel for DflKernel {
    #[inline(always)]
    unsafe fn run<V: Lanes>(&self, pixels: Range<usize>) {
        let bins = self.bins;
        let full = bins / LANES * LANES;
        let lane_index: [f32; LANES] = std::array::from_fn(|i| i as f32);
        let lane_index = V::load(lane_index.as_ptr());
        for p in pixels {
            let out = self.output.at(p);
            for side in 0..SIDES {
                let x = self.input.at(p).add(side * bins);
                let mut max = f32::NEG_INFINITY;
                if full > 0 {
                    let mut m = V::load(x);
                    for i in (LANES..full).step_by(LANES) {
                        m = V::max_fast(m, V::load(x.add(i)));
                    }
                    max = V::reduce_max(m);
                }
                for i in full..bins {
                    max = max.max(*x.add(i));
                }
                let shift = V::splat(max);
                let mut sum = V::splat(0.0);
                let mut weighted = V::splat(0.0);
                for i in (0..full).step_by(LANES) {
                    let e = V::exp(V::sub(V::load(x.add(i)), shift));
                    let index = V::add(lane_index, V::splat(i as f32));
                    sum = V::add(sum, e);
                    weighted = V::mul_add(e, index, weighted);
                }
                let (mut sum, mut weighted) = (V::reduce_add(sum), V::reduce_add(weighted));
                for i in full..bins {
                    let e = (*x.add(i) - max).exp();
                    sum += e;
                    weighted += e * i as f32;
                }
                *out.add(side) = weighted / sum;
            }
        }
    }
}

/// f64 reference.
pub mod naive {
    use super::SIDES;
    use crate::error::Result;
    use crate::view::{TensorView, TensorViewMut};

    /// DFL decode exactly as PyTorch writes it (softmax, then the `arange` expectation), in f64.
    pub fn dfl(input: &TensorView, bins: usize, output: &mut TensorViewMut) -> Result<()> {
        super::check(input, bins, output)?;
        for p in 0..input.layout().pixels() {
            let x = input.pixel(p);
            let out = output.pixel_mut(p);
            for side in 0..SIDES {
                let logits = &x[side * bins..(side + 1) * bins];
                let max = logits
                    .iter()
                    .fold(f64::NEG_INFINITY, |m, &v| m.max(f64::from(v)));
                let e: Vec<f64> = logits.iter().map(|&v| (f64::from(v) - max).exp()).collect();
                let sum: f64 = e.iter().sum();
                out[side] = e
                    .iter()
                    .enumerate()
                    .map(|(i, e)| i as f64 * e / sum)
                    .sum::<f64>() as f32;
            }
        }
        Ok(())
    }
}
