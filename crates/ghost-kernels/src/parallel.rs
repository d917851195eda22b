//! How kernels split work over threads.
//!
//! A [`Threads`] value is a caller-chosen thread count backed by its own threads (never rayon's
//! global pool, so an application's other rayon work does not steal our cores). Kernels split
//! their output into a few coarse, contiguous chunks of rows; every output element is computed by
//! exactly the same instruction sequence whatever the split, so results are bitwise identical for
//! any thread count. The chunks of a kernel call run on a [`Team`](crate::team): the calling
//! thread and `count - 1` workers, chunk `i` always on the team's thread `i`; `map` (coarse,
//! uneven jobs at load time) uses a rayon pool of its own, by work stealing.

use std::ops::Range;
use std::sync::Arc;

use crate::error::{KernelError, Result};
use crate::team::Team;

/// A thread budget for kernel calls.
#[derive(Clone)]
pub struct Threads {
    pool: Option<Arc<rayon::ThreadPool>>,
    team: Option<Arc<Team>>,
    count: usize,
}

impl std::fmt::Debug for Threads {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Threads")
            .field("count", &self.count)
            .finish()
    }
}

impl Default for Threads {
    fn default() -> Self {
        Threads::single()
    }
}

impl Threads {
    /// Run everything on the calling thread.
    pub fn single() -> Self {
        Threads {
            pool: None,
            team: None,
            count: 1,
        }
    }

    /// `count` threads (`count >= 1`); 1 runs on the calling thread.
    pub fn new(count: usize) -> Result<Self> {
        if count == 0 {
            return Err(KernelError::param("threads", "must be at least 1"));
        }
        if count == 1 {
            return Ok(Threads::single());
        }
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(count)
            .thread_name(|i| format!("ghost-loader-{i}"))
            .start_handler(|_| crate::fpenv::flush_denormals_forever())
            .build()
            .map_err(|e| KernelError::ThreadPool(e.to_string()))?;
        let team = Team::new(count, crate::fpenv::flush_denormals_forever)
            .map_err(|e| KernelError::ThreadPool(e.to_string()))?;
        // One scratch set per thread, so that chunks running concurrently for the first time
        // in a later pass find grown sets (see `scratch_pool`).
        crate::scratch_pool::reserve_sets(count);
        Ok(Threads {
            pool: Some(Arc::new(pool)),
            team: Some(Arc::new(team)),
            count,
        })
    }

    /// Number of threads.
    pub fn count(&self) -> usize {
        self.count
    }

    /// Runs `f` on the calling thread, which is the team's thread 0 of every
    /// [`Threads::for_each_chunk`] call it makes (kept for callers written when kernel calls had
    /// to start inside a rayon pool to fork cheaply).
    pub fn install<R: Send>(&self, f: impl FnOnce() -> R + Send) -> R {
        f()
    }

    /// `[f(0), f(1), ..., f(count - 1)]`, the calls spread over the pool by work stealing (for
    /// uneven, coarse jobs such as loading and packing a model's layers); in order on the
    /// calling thread when there is one thread. Allocates the result.
    pub fn map<T: Send>(&self, count: usize, f: impl Fn(usize) -> T + Sync + Send) -> Vec<T> {
        match &self.pool {
            None => (0..count).map(f).collect(),
            Some(pool) => {
                use rayon::prelude::*;
                pool.install(|| (0..count).into_par_iter().map(f).collect())
            }
        }
    }

    /// Calls `f` on contiguous chunks covering `0..total`, in parallel when worth it.
    ///
    /// `min_chunk` is the smallest chunk worth a thread (in the caller's units: rows, pixels ...);
    /// `align` rounds chunk boundaries to a multiple (e.g. a microkernel's row tile) so that the
    /// split never changes which code path computes an element.
    ///
    /// Chunk `i` runs on the team's thread `i` (`0` is the caller). Allocation-free: the
    /// chunks are computed, not collected, and the job lives on the caller's stack, so a
    /// steady-state forward pass allocates nothing here.
    pub fn for_each_chunk<F>(&self, total: usize, min_chunk: usize, align: usize, f: F)
    where
        F: Fn(Range<usize>) + Sync + Send,
    {
        let (per, count) = chunk_plan(total, self.count, min_chunk, align);
        let chunk = |i: usize| i * per..((i + 1) * per).min(total);
        match (&self.team, count) {
            (_, 0) => {}
            (None, _) | (_, 1) => (0..count).for_each(|i| f(chunk(i))),
            (Some(team), _) => team.run(count, &|i| f(chunk(i))),
        }
    }

    /// Calls `f(first, chunk)` on contiguous chunks covering `data` (`first` is the index of
    /// `chunk[0]` in `data`), in parallel when worth it: [`Threads::for_each_chunk`] for callers
    /// that write their chunk through a plain `&mut` slice. Same `min_chunk` and `align` rules,
    /// in elements of `data`; allocation-free.
    pub fn for_each_chunk_mut<T, F>(&self, data: &mut [T], min_chunk: usize, align: usize, f: F)
    where
        T: Send,
        F: Fn(usize, &mut [T]) + Sync + Send,
    {
        let (per, count) = chunk_plan(data.len(), self.count, min_chunk, align);
        match (&self.team, count) {
            (_, 0) => {}
            (None, _) | (_, 1) => {
                for (i, chunk) in data.chunks_mut(per).enumerate() {
                    f(i * per, chunk);
                }
            }
            (Some(team), _) => {
                let len = data.len();
                let base = SendPtr(data.as_mut_ptr());
                team.run(count, &|i| {
                    let start = i * per;
                    let end = ((i + 1) * per).min(len);
                    // SAFETY: chunk `i` is `data[start..end]`; `start < end <= len` because
                    // `chunk_plan` makes `count = len.div_ceil(per)` chunks and `i < count`.
                    // Chunks of different `i` are disjoint, each `i` runs exactly once per
                    // `team.run`, and `data` stays mutably borrowed (unused) until it returns,
                    // so no two `&mut` slices alias and none outlives `data`.
                    let chunk = unsafe {
                        std::slice::from_raw_parts_mut(base.get().add(start), end - start)
                    };
                    f(start, chunk);
                });
            }
        }
    }
}

/// A slice's base pointer, handed to the team's threads (each derives its own disjoint chunk).
struct SendPtr<T>(*mut T);

impl<T> SendPtr<T> {
    /// The pointer (a method, so closures capture the `Sync` wrapper, not the raw field).
    fn get(&self) -> *mut T {
        self.0
    }
}

// SAFETY: `SendPtr` only carries the base of a `&mut [T]` whose chunks go to one thread each
// (see `for_each_chunk_mut`); moving `T`s' exclusive access across threads needs `T: Send`.
unsafe impl<T: Send> Sync for SendPtr<T> {}

/// `(items per chunk, chunk count)` of [`chunk_ranges`], without allocating.
pub(crate) fn chunk_plan(
    total: usize,
    threads: usize,
    min_chunk: usize,
    align: usize,
) -> (usize, usize) {
    if total == 0 {
        return (1, 0);
    }
    let align = align.max(1);
    let max_chunks = (total / min_chunk.max(1)).clamp(1, threads.max(1));
    let per = total.div_ceil(max_chunks).div_ceil(align) * align;
    (per, total.div_ceil(per))
}

/// Splits `0..total` into at most `threads` contiguous chunks of at least `min_chunk`, with
/// interior boundaries at multiples of `align`. The chunks `for_each_chunk` runs, as ranges, for
/// the tests of the split.
#[cfg(test)]
fn chunk_ranges(total: usize, threads: usize, min_chunk: usize, align: usize) -> Vec<Range<usize>> {
    let (per, count) = chunk_plan(total, threads, min_chunk, align);
    (0..count)
        .map(|i| i * per..((i + 1) * per).min(total))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_cover_everything_once() {
        for total in 0..50 {
            for threads in 1..5 {
                for align in 1..7 {
                    let chunks = chunk_ranges(total, threads, 3, align);
                    let mut next = 0;
                    for (i, c) in chunks.iter().enumerate() {
                        assert_eq!(c.start, next);
                        assert!(c.end > c.start);
                        if i + 1 < chunks.len() {
                            assert_eq!(c.end % align, 0);
                        }
                        next = c.end;
                    }
                    assert_eq!(next, total);
                    assert!(chunks.len() <= threads);
                }
            }
        }
    }

    /// `map` returns the results in index order, whatever thread ran each call.
    /// Every element is handed to exactly one call, at its own index, in chunks aligned as
    /// asked, for any thread count (odd lengths included).
    #[test]
    fn chunks_mut_cover_everything_once_at_their_index() {
        for threads in [1, 2, 3] {
            let pool = Threads::new(threads).unwrap();
            for len in [0, 1, 7, 64, 333] {
                let mut data = vec![0usize; len];
                pool.for_each_chunk_mut(&mut data, 10, 4, |first, chunk| {
                    assert!(first % 4 == 0 || chunk.is_empty());
                    for (i, v) in chunk.iter_mut().enumerate() {
                        *v += first + i + 1;
                    }
                });
                assert!(data.iter().enumerate().all(|(i, &v)| v == i + 1), "{len}");
            }
        }
    }

    /// Every index of `0..total` reaches exactly one chunk once, for any thread count and
    /// many calls in a row (the team's threads reused from call to call).
    #[test]
    fn chunks_run_every_index_once() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        for threads in [1, 2, 3, 4] {
            let pool = Threads::new(threads).unwrap();
            for total in [0, 1, 5, 64, 333] {
                let hits: Vec<AtomicUsize> = (0..total).map(|_| AtomicUsize::new(0)).collect();
                for _ in 0..50 {
                    pool.for_each_chunk(total, 4, 2, |r| {
                        for i in r {
                            hits[i].fetch_add(1, Ordering::Relaxed);
                        }
                    });
                }
                assert!(
                    hits.iter().all(|h| h.load(Ordering::Relaxed) == 50),
                    "{threads} threads, {total}"
                );
            }
        }
    }

    #[test]
    fn map_keeps_the_order() {
        for threads in [1, 2, 3] {
            let pool = Threads::new(threads).unwrap();
            let got = pool.map(37, |i| {
                // Uneven jobs, so that stealing reorders completion.
                std::hint::black_box((0..(i % 5) * 1000).sum::<usize>());
                i * i
            });
            assert_eq!(
                got,
                (0..37).map(|i| i * i).collect::<Vec<_>>(),
                "{threads} threads"
            );
        }
    }

    #[test]
    fn zero_threads_is_an_error() {
        assert!(Threads::new(0).is_err());
    }
}
