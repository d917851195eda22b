//! The per-call execution context: the thread budget and reusable kernel workspace.

use ghost_kernels::conv::ConvScratch;
use ghost_kernels::{NhwcLayout, Threads};

use crate::tensor::Tensor;

/// Buffers kept for reuse; more than this many idle buffers are dropped.
const MAX_POOLED: usize = 16;

/// What every forward call needs besides its tensors: the threads to run kernels on and the
/// dense convolution's reusable workspace. Keep one per inference thread and reuse it; the
/// workspace grows to the largest layer seen and then stops allocating.
#[derive(Default)]
pub struct Context {
    threads: Threads,
    scratch: ConvScratch,
    pool: Vec<Vec<f32>>,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("threads", &self.threads)
            .field("pooled_buffers", &self.pool.len())
            .finish()
    }
}

impl Context {
    /// A context running kernels on `threads`.
    pub fn new(threads: Threads) -> Self {
        Context {
            threads,
            scratch: ConvScratch::new(),
            pool: Vec::new(),
        }
    }

    /// A single-threaded context (kernels run on the calling thread).
    pub fn single_threaded() -> Self {
        Context::new(Threads::single())
    }

    /// The thread budget.
    pub fn threads(&self) -> &Threads {
        &self.threads
    }

    /// The thread budget and the conv workspace, borrowed together for a kernel call.
    pub fn parts(&mut self) -> (&Threads, &mut ConvScratch) {
        (&self.threads, &mut self.scratch)
    }

    /// A dense tensor of `shape` for a layer to write into, reusing a recycled buffer when one
    /// is large enough. Its contents are unspecified (zeros or values of an earlier tensor): only
    /// hand it to a producer that writes every element, which every layer's `forward_into` does.
    pub fn alloc(&mut self, shape: [usize; 4]) -> Tensor {
        let [n, h, w, c] = shape;
        let len = n * h * w * c;
        // The smallest pooled buffer that is long enough. Buffers keep their full length (a
        // tensor may use a prefix of its buffer), so reuse never re-zeroes anything.
        let best = self
            .pool
            .iter()
            .enumerate()
            .filter(|(_, b)| b.len() >= len)
            .min_by_key(|(_, b)| b.len())
            .map(|(i, _)| i);
        let data = match best {
            Some(i) => self.pool.swap_remove(i),
            None => vec![0.0; len],
        };
        Tensor::from_parts(data, NhwcLayout::dense(n, h, w, c))
            .expect("a buffer of at least n*h*w*c floats fits a dense layout")
    }

    /// Returns a tensor's buffer for reuse by [`Context::alloc`].
    pub fn recycle(&mut self, tensor: Tensor) {
        let data = tensor.into_buffer();
        if data.is_empty() {
            return;
        }
        if self.pool.len() >= MAX_POOLED {
            // Keep the largest buffers: drop the smallest idle one if this is larger.
            let (i, smallest) = self
                .pool
                .iter()
                .enumerate()
                .min_by_key(|(_, b)| b.len())
                .map(|(i, b)| (i, b.len()))
                .expect("pool is full, so not empty");
            if smallest >= data.len() {
                return;
            }
            self.pool.swap_remove(i);
        }
        self.pool.push(data);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alloc_reuses_recycled_buffers() {
        let mut ctx = Context::single_threaded();
        let mut t = ctx.alloc([1, 4, 4, 8]);
        assert_eq!(t.shape(), [1, 4, 4, 8]);
        t.view_mut().fill(3.0);
        let ptr = t.buffer().as_ptr();
        ctx.recycle(t);
        let u = ctx.alloc([1, 2, 2, 8]);
        assert_eq!(u.buffer().as_ptr(), ptr, "the recycled buffer is reused");
        assert_eq!(u.shape(), [1, 2, 2, 8]);
        assert_eq!(u.to_dense_vec().len(), 32);
        let v = ctx.alloc([1, 8, 8, 8]);
        assert_eq!(v.to_dense_vec().len(), 512);
    }
}
