//! Row softmax over contiguous rows (C2PSA attention scores): `x_i <- exp(x_i - max) / sum`.

use std::ops::Range;

use crate::backend::Backend;
use crate::error::{KernelError, Result};
use crate::isa::{active_isa, Isa};
use crate::lanes::{run_split, Lanes, SplitKernel, LANES};
use crate::parallel::Threads;

/// Softmax of every `row_len`-float row of `data`, in place.
pub fn softmax_rows(data: &mut [f32], row_len: usize, threads: &Threads) -> Result<()> {
    softmax_rows_with_isa(active_isa(), data, row_len, threads)
}

/// [`softmax_rows`] on an explicitly chosen implementation.
#[doc(hidden)]
pub fn softmax_rows_with_isa(
    isa: Isa,
    data: &mut [f32],
    row_len: usize,
    threads: &Threads,
) -> Result<()> {
    let backend = Backend::get(isa)?;
    check(data, row_len)?;
    let kernel = SoftmaxKernel {
        data: data.as_mut_ptr(),
        row_len,
    };
    let rows = data.len() / row_len;
    let min_rows = (16 * 1024usize).div_ceil(row_len);
    // SAFETY: the length is a whole number of rows (checked); `isa` is supported; rows are
    // disjoint sub-slices of `data`, which is exclusively borrowed for the call.
    unsafe { run_split(backend.kernels.softmax, threads, rows, min_rows, &kernel) };
    Ok(())
}

fn check(data: &[f32], row_len: usize) -> Result<()> {
    if row_len == 0 {
        return Err(KernelError::param(
            "row_len",
            "rows must hold at least 1 float",
        ));
    }
    if !data.len().is_multiple_of(row_len) {
        return Err(KernelError::shape(
            "softmax data",
            format!("a multiple of the row length {row_len}"),
            format!("{} floats", data.len()),
        ));
    }
    Ok(())
}

#[derive(Debug)]
pub(crate) struct SoftmaxKernel {
    data: *mut f32,
    row_len: usize,
}

// SAFETY: threads get disjoint rows of the exclusively borrowed slice.
unsafe impl Sync for SoftmaxKernel {}

impl SplitKernel for SoftmaxKernel {
    #[inline(always)]
    unsafe fn run<V: Lanes>(&self, rows: Range<usize>) {
        let n = self.row_len;
        let full = n / LANES * LANES;
        for r in rows {
            // Row r lies inside the slice and no other thread touches it.
            let x = self.data.add(r * n);
            let mut max = f32::NEG_INFINITY;
            if full > 0 {
                let mut m = V::load(x);
                for i in (LANES..full).step_by(LANES) {
                    m = V::max_fast(m, V::load(x.add(i)));
                }
                max = V::reduce_max(m);
            }
            for i in full..n {
                max = max.max(*x.add(i));
            }
            let shift = V::splat(max);
            let mut sum = V::splat(0.0);
            for i in (0..full).step_by(LANES) {
                let e = V::exp(V::sub(V::load(x.add(i)), shift));
                V::store(x.add(i), e);
                sum = V::add(sum, e);
            }
            let mut sum = V::reduce_add(sum);
            if full < n {
                let m = V::mask(n - full);
                let e = V::exp(V::sub(V::load_masked(x.add(full), m), shift));
                V::store_masked(x.add(full), m, e);
                sum += (full..n).map(|i| *x.add(i)).sum::<f32>();
            }
            let scale = V::splat(1.0 / sum);
            for i in (0..full).step_by(LANES) {
                V::store(x.add(i), V::mul(V::load(x.add(i)), scale));
            }
            if full < n {
                let m = V::mask(n - full);
                V::store_masked(
                    x.add(full),
                    m,
                    V::mul(V::load_masked(x.add(full), m), scale),
                );
            }
        }
    }
}

/// f64 reference.
pub mod naive {
    use crate::error::Result;

    /// Row softmax in f64, rounded once.
    pub fn softmax_rows(data: &mut [f32], row_len: usize) -> Result<()> {
        super::check(data, row_len)?;
        for row in data.chunks_exact_mut(row_len) {
            let max = row
                .iter()
                .fold(f64::NEG_INFINITY, |m, &v| m.max(f64::from(v)));
            let e: Vec<f64> = row.iter().map(|&v| (f64::from(v) - max).exp()).collect();
            let sum: f64 = e.iter().sum();
            for (o, e) in row.iter_mut().zip(e) {
                *o = (e / sum) as f32;
            }
        }
        Ok(())
    }
}
