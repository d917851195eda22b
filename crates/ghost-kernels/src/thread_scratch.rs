//! Per-thread working memory for kernels that need a few rows of scratch per call (the
//! small-channel depthwise row copies, max pooling's column maxima, global pooling's sums).
//!
//! Each call takes its thread's buffers and gives them back when done, so after the first call
//! on a thread (per largest shape) no call allocates: a steady-state forward pass makes no heap
//! allocation, on the calling thread or on the pool's workers. A kernel that finds the buffers
//! taken (not the case today: none of these kernels nests another) just starts from empty ones.

use std::cell::RefCell;

/// The reusable buffers; contents are unspecified on take, callers size and initialise them.
#[derive(Debug, Default)]
pub(crate) struct Buffers {
    pub floats: Vec<f32>,
    pub words: Vec<usize>,
    pub more_words: Vec<usize>,
}

thread_local! {
    static BUFFERS: RefCell<Buffers> = RefCell::new(Buffers::default());
}

/// Takes this thread's buffers.
pub(crate) fn take() -> Buffers {
    BUFFERS.with(|b| std::mem::take(&mut *b.borrow_mut()))
}

/// Gives the buffers back for the next call on this thread.
pub(crate) fn put(buffers: Buffers) {
    BUFFERS.with(|b| *b.borrow_mut() = buffers);
}

/// `v` cleared and refilled with `len` copies of `value` (no allocation within its capacity).
pub(crate) fn refill<T: Copy>(v: &mut Vec<T>, len: usize, value: T) {
    v.clear();
    v.resize(len, value);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_come_back_with_their_capacity() {
        let mut b = take();
        refill(&mut b.floats, 1000, 1.0);
        let ptr = b.floats.as_ptr();
        put(b);
        let mut again = take();
        refill(&mut again.floats, 10, 0.0);
        assert_eq!(
            (again.floats.as_ptr(), again.floats.as_slice()),
            (ptr, &[0.0; 10][..])
        );
        put(again);
    }
}
