//! Working memory for kernels that need a few rows of scratch per call (the small-channel
//! depthwise row copies, max pooling's column maxima, global pooling's sums).
//!
//! Each call takes a set of buffers from a process-wide pool and gives it back when done. Sets
//! are shared by all threads, and a set given back brings every idle set (and itself) up to the
//! largest capacities among them. So the pool's sets always hold the largest scratch any call
//! has needed, whichever thread ran it, and a steady-state forward pass allocates nothing even
//! when its chunks land on a thread, or run concurrently, in a way the first passes did not (which
//! worker steals a chunk varies from pass to pass). [`reserve_sets`] pre-creates one set per
//! thread of a pool so that concurrency never needs a new set later.

use std::sync::{Mutex, PoisonError};

/// The reusable buffers; contents are unspecified on take, callers size and initialise them.
#[derive(Debug, Default)]
pub(crate) struct Buffers {
    pub floats: Vec<f32>,
    pub words: Vec<usize>,
    pub more_words: Vec<usize>,
}

/// Idle buffer sets.
struct ScratchPool {
    idle: Mutex<Vec<Buffers>>,
}

impl ScratchPool {
    const fn new() -> Self {
        ScratchPool {
            idle: Mutex::new(Vec::new()),
        }
    }

    /// An idle set (all idle sets have the same capacities), or empty buffers when none is idle.
    fn take(&self) -> Buffers {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        idle.pop().unwrap_or_default()
    }

    /// Gives `buffers` back, growing it and every idle set to the largest capacities among them.
    fn put(&self, buffers: Buffers) {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        let largest = largest_capacities(&idle, buffers.capacities());
        idle.push(buffers);
        for b in idle.iter_mut() {
            b.reserve(largest);
        }
    }

    /// Makes sure at least `sets` sets exist idle.
    fn reserve_sets(&self, sets: usize) {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        let largest = largest_capacities(&idle, [0; 3]);
        while idle.len() < sets {
            let mut b = Buffers::default();
            b.reserve(largest);
            idle.push(b);
        }
    }
}

/// The element-wise largest of `start` and the capacities of `sets`.
fn largest_capacities(sets: &[Buffers], start: [usize; 3]) -> [usize; 3] {
    sets.iter().fold(start, |m, b| {
        let c = b.capacities();
        [m[0].max(c[0]), m[1].max(c[1]), m[2].max(c[2])]
    })
}

impl Buffers {
    fn capacities(&self) -> [usize; 3] {
        [
            self.floats.capacity(),
            self.words.capacity(),
            self.more_words.capacity(),
        ]
    }

    /// Grows the capacities to at least `caps` (contents unchanged).
    fn reserve(&mut self, caps: [usize; 3]) {
        fn at_least<T>(v: &mut Vec<T>, cap: usize) {
            if v.capacity() < cap {
                v.reserve_exact(cap - v.len());
            }
        }
        at_least(&mut self.floats, caps[0]);
        at_least(&mut self.words, caps[1]);
        at_least(&mut self.more_words, caps[2]);
    }
}

static SHARED: ScratchPool = ScratchPool::new();

/// Takes a set of buffers from the shared pool.
pub(crate) fn take() -> Buffers {
    SHARED.take()
}

/// Gives the buffers back for later calls.
pub(crate) fn put(buffers: Buffers) {
    SHARED.put(buffers);
}

/// Makes sure the shared pool holds at least `sets` sets (one per thread of a new pool).
pub(crate) fn reserve_sets(sets: usize) {
    SHARED.reserve_sets(sets);
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
        let pool = ScratchPool::new();
        let mut b = pool.take();
        refill(&mut b.floats, 1000, 1.0);
        let ptr = b.floats.as_ptr();
        pool.put(b);
        let mut again = pool.take();
        refill(&mut again.floats, 10, 0.0);
        assert_eq!(
            (again.floats.as_ptr(), again.floats.as_slice()),
            (ptr, &[0.0; 10][..])
        );
        pool.put(again);
    }

    /// A set given back grows the idle ones (and itself) to the largest capacities, so a later
    /// concurrent call finds grown sets whichever it takes.
    #[test]
    fn sets_given_back_grow_to_the_largest() {
        let pool = ScratchPool::new();
        pool.reserve_sets(2);
        let mut a = pool.take();
        refill(&mut a.floats, 5000, 0.0);
        refill(&mut a.words, 7, 0);
        pool.put(a);
        let (x, y) = (pool.take(), pool.take());
        for b in [&x, &y] {
            assert!(b.floats.capacity() >= 5000 && b.words.capacity() >= 7);
        }
        assert_eq!(
            pool.take().floats.capacity(),
            0,
            "only the two reserved sets exist"
        );
    }
}
