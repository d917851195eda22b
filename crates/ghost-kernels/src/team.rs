//! A fixed team of worker threads that run a kernel's chunks together with the calling thread.
//!
//! A forward pass makes a few hundred parallel kernel calls, many of them short (yolo11n at
//! 2 threads: ~32 ms a pass on a quiet machine, ~100-200 µs a call). With rayon's work stealing
//! each call's second half waited until an idle worker stole it, and an idle worker gave its core
//! away with `sched_yield` about 32 times before sleeping on a futex: on an otherwise idle
//! machine the yields return at once, so a worker fell asleep after a few tens of
//! microseconds, and the next call paid a futex wake-up (and, in a virtual machine, a halted
//! virtual CPU's wake-up) before its second half started (~30 sleeps per worker per pass, see
//! docs/performance.md#steady-latency-where-the-p90-tail-comes-from).
//!
//! The team instead gives chunk `i` of every call to the same thread, `0` to the caller and
//! `i >= 1` to worker `i`, through a per-worker mailbox: the caller posts the job, runs chunk 0
//! itself and waits for the workers' chunks. An idle thread (a worker between calls, the caller
//! waiting for a slower worker) spins on its own cache line for [`SPIN`] before it parks, so the
//! gaps between the calls of one pass are bridged without a system call, and a team between
//! passes sleeps. Results do not depend on the split, see [`crate::Threads`].

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle, Thread};
use std::time::{Duration, Instant};

/// How long an idle thread spins before it parks: longer than the serial stretches between
/// the kernel calls of one pass (layer bookkeeping, a kernel too small to split), far shorter
/// than the time between passes of a video loop, so that it costs little CPU when idle.
pub(crate) const SPIN: Duration = Duration::from_micros(200);

/// One call's work, on the caller's stack while the workers run it.
struct Job<'a> {
    chunk: &'a (dyn Fn(usize) + Sync),
    /// Workers' chunks not finished yet.
    pending: AtomicUsize,
    /// Set by a worker whose chunk panicked.
    panicked: AtomicBool,
    /// The calling thread, woken by the last worker to finish when it parked.
    caller: Thread,
}

/// A worker's mailbox, alone on its cache lines (the worker spins reading it).
#[repr(align(128))]
struct Mailbox {
    /// Bumped once per job posted to this worker (and once at shutdown).
    posted: AtomicU64,
    /// The posted [`Job`], valid until the worker counts its chunk done.
    job: AtomicPtr<Job<'static>>,
    /// The worker is parked or about to park: the poster must unpark it.
    sleeping: AtomicBool,
}

struct Shared {
    mailboxes: Vec<Mailbox>,
    shutdown: AtomicBool,
    /// The caller is parked or about to park, waiting for `pending` to reach 0.
    caller_sleeping: AtomicBool,
}

/// `count - 1` workers; the caller is the team's thread 0.
pub(crate) struct Team {
    shared: Arc<Shared>,
    workers: Vec<JoinHandle<()>>,
    /// One call at a time: a call made while another runs (nested in a chunk, or from a second
    /// thread sharing this team) runs its chunks on its own thread.
    busy: AtomicBool,
}

impl Team {
    /// A team of `count >= 2` threads: this one and `count - 1` spawned workers, each of which
    /// runs `start` first.
    pub(crate) fn new(count: usize, start: fn()) -> std::io::Result<Team> {
        let shared = Arc::new(Shared {
            mailboxes: (1..count)
                .map(|_| Mailbox {
                    posted: AtomicU64::new(0),
                    job: AtomicPtr::new(std::ptr::null_mut()),
                    sleeping: AtomicBool::new(false),
                })
                .collect(),
            shutdown: AtomicBool::new(false),
            caller_sleeping: AtomicBool::new(false),
        });
        let mut team = Team {
            shared: shared.clone(),
            workers: Vec::with_capacity(count - 1),
            busy: AtomicBool::new(false),
        };
        for index in 1..count {
            let shared = shared.clone();
            let handle = thread::Builder::new()
                .name(format!("ghost-kernels-{index}"))
                .spawn(move || {
                    start();
                    work(&shared, index);
                })?;
            // On an error `team` drops here and stops the workers spawned so far.
            team.workers.push(handle);
        }
        Ok(team)
    }

    /// Runs `chunk(i)` for every `i < chunks` (`chunks` at most the team's size): `0` on this
    /// thread, `i` on worker `i`; returns when all are done. A panic in any chunk panics here,
    /// after every chunk has finished. Allocation-free.
    pub(crate) fn run(&self, chunks: usize, chunk: &(dyn Fn(usize) + Sync)) {
        debug_assert!(chunks <= self.shared.mailboxes.len() + 1);
        if chunks <= 1
            || self
                .busy
                .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
                .is_err()
        {
            (0..chunks).for_each(chunk);
            return;
        }
        let _busy = Release(&self.busy);
        let job = Job {
            chunk,
            pending: AtomicUsize::new(chunks - 1),
            panicked: AtomicBool::new(false),
            caller: thread::current(),
        };
        // Waits for the workers even if chunk 0 panics below: they read `job` until then.
        let wait = WaitForWorkers {
            shared: &self.shared,
            job: &job,
        };
        let erased = (&job as *const Job<'_>).cast::<Job<'static>>().cast_mut();
        for (worker, mailbox) in self.shared.mailboxes[..chunks - 1].iter().enumerate() {
            mailbox.job.store(erased, Ordering::Relaxed);
            // SeqCst pairs with the worker's `sleeping` store then `posted` load: either it
            // sees this job before parking, or this sees it asleep and unparks it.
            mailbox.posted.fetch_add(1, Ordering::SeqCst);
            if mailbox.sleeping.load(Ordering::SeqCst) {
                self.workers[worker].thread().unpark();
            }
        }
        chunk(0);
        drop(wait);
        if job.panicked.load(Ordering::Acquire) {
            panic!("a kernel chunk panicked on a worker thread");
        }
    }
}

impl Drop for Team {
    fn drop(&mut self) {
        self.shared.shutdown.store(true, Ordering::SeqCst);
        for (mailbox, worker) in self.shared.mailboxes.iter().zip(&self.workers) {
            mailbox.posted.fetch_add(1, Ordering::SeqCst);
            worker.thread().unpark();
        }
        for worker in self.workers.drain(..) {
            // A worker catches its chunks' panics, so joining fails only if it was killed.
            let _ = worker.join();
        }
    }
}

/// Clears the team's busy flag when dropped.
struct Release<'a>(&'a AtomicBool);

impl Drop for Release<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

/// Waits, when dropped, until every worker has finished its chunk of `job`.
struct WaitForWorkers<'a> {
    shared: &'a Shared,
    job: &'a Job<'a>,
}

impl Drop for WaitForWorkers<'_> {
    fn drop(&mut self) {
        let done = || self.job.pending.load(Ordering::Acquire) == 0;
        if spin_until(done) {
            return;
        }
        loop {
            self.shared.caller_sleeping.store(true, Ordering::SeqCst);
            if self.job.pending.load(Ordering::SeqCst) == 0 {
                break;
            }
            thread::park();
        }
        self.shared.caller_sleeping.store(false, Ordering::Relaxed);
    }
}

/// Spins until `ready()` or [`SPIN`] has passed; whether it became ready.
fn spin_until(ready: impl Fn() -> bool) -> bool {
    let start = Instant::now();
    loop {
        for _ in 0..64 {
            if ready() {
                return true;
            }
            std::hint::spin_loop();
        }
        if start.elapsed() >= SPIN {
            return ready();
        }
    }
}

/// Worker `index`'s loop: wait for a job in its mailbox, run chunk `index`, count it done.
fn work(shared: &Shared, index: usize) {
    let mailbox = &shared.mailboxes[index - 1];
    let mut seen = 0u64;
    loop {
        let posted = |seen| mailbox.posted.load(Ordering::Acquire) != seen;
        if !spin_until(|| posted(seen)) {
            mailbox.sleeping.store(true, Ordering::SeqCst);
            while mailbox.posted.load(Ordering::SeqCst) == seen {
                thread::park();
            }
            mailbox.sleeping.store(false, Ordering::Relaxed);
        }
        seen = mailbox.posted.load(Ordering::Acquire);
        if shared.shutdown.load(Ordering::Acquire) {
            return;
        }
        let job = mailbox.job.load(Ordering::Relaxed);
        // SAFETY: the poster stored a pointer to a live `Job` before bumping `posted` (whose
        // Acquire load above makes the store visible), and keeps that `Job` alive on its stack
        // until `pending` reaches 0 (`WaitForWorkers`, also when its own chunk panics). This
        // worker decrements `pending` last thing below and does not touch `job` after, so the
        // reference never outlives the `Job`. Only one job is posted to a mailbox at a time
        // (the next waits for this one's `pending`), so `seen` never skips one.
        let job = unsafe { &*job };
        if catch_unwind(AssertUnwindSafe(|| (job.chunk)(index))).is_err() {
            job.panicked.store(true, Ordering::Release);
        }
        // Cloned before the count reaches 0, after which the caller may return and free `job`.
        let caller = job.caller.clone();
        if job.pending.fetch_sub(1, Ordering::SeqCst) == 1
            && shared.caller_sleeping.load(Ordering::SeqCst)
        {
            caller.unpark();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    /// The team's thread each chunk ran on: 0 for the caller, `i` for `ghost-kernels-i`.
    fn team_index(caller: thread::ThreadId) -> usize {
        let me = thread::current();
        if me.id() == caller {
            return 0;
        }
        me.name()
            .and_then(|n| n.strip_prefix("ghost-kernels-"))
            .and_then(|i| i.parse().ok())
            .expect("a chunk ran on a thread outside the team")
    }

    /// Over many calls of every size, every chunk runs exactly once per call, on its own
    /// thread: a chunk lost or run twice changes a count, one run elsewhere fails the index.
    #[test]
    fn every_chunk_runs_once_on_its_own_thread() {
        for size in [2, 3, 4] {
            let team = Team::new(size, || {}).unwrap();
            let caller = thread::current().id();
            let runs: Vec<AtomicUsize> = (0..size).map(|_| AtomicUsize::new(0)).collect();
            let misplaced = AtomicUsize::new(0);
            let mut expected = vec![0; size];
            for call in 0..3000 {
                let chunks = 1 + call % size;
                team.run(chunks, &|i| {
                    runs[i].fetch_add(1, Ordering::Relaxed);
                    if team_index(caller) != i {
                        misplaced.fetch_add(1, Ordering::Relaxed);
                    }
                    // Uneven chunks, so that the caller sometimes waits for a worker.
                    if call % 7 == i {
                        std::hint::black_box((0..2000).sum::<usize>());
                    }
                });
                expected[..chunks].iter_mut().for_each(|e| *e += 1);
                // Every chunk finished before `run` returned.
                let now: Vec<usize> = runs.iter().map(|r| r.load(Ordering::Relaxed)).collect();
                assert_eq!(now, expected, "team of {size}, call {call}");
            }
            assert_eq!(misplaced.load(Ordering::Relaxed), 0);
        }
    }

    /// Workers that parked after a long idle spell wake up for the next call, and the caller
    /// parks (and is woken) while a worker's chunk takes longer than the spin.
    #[test]
    fn parked_threads_wake_up() {
        let team = Team::new(3, || {}).unwrap();
        let caller = thread::current().id();
        for round in 0..5 {
            thread::sleep(SPIN * 5);
            let sum = AtomicUsize::new(0);
            team.run(3, &|i| {
                if i == 2 {
                    thread::sleep(SPIN * 3);
                }
                sum.fetch_add(1 + team_index(caller), Ordering::Relaxed);
            });
            assert_eq!(sum.load(Ordering::Relaxed), 1 + 2 + 3, "round {round}");
        }
    }

    /// A worker's panic reaches the caller after every chunk finished; a panic in the caller's
    /// own chunk waits for the workers too; the team works afterwards.
    #[test]
    fn panics_reach_the_caller_after_all_chunks() {
        let team = Team::new(3, || {}).unwrap();
        for bad in [0, 2] {
            let done = AtomicUsize::new(0);
            let result = catch_unwind(AssertUnwindSafe(|| {
                team.run(3, &|i| {
                    if i == bad {
                        panic!("chunk {i}");
                    }
                    thread::sleep(Duration::from_millis(2));
                    done.fetch_add(1, Ordering::SeqCst);
                })
            }));
            assert!(result.is_err(), "chunk {bad}'s panic was lost");
            assert_eq!(done.load(Ordering::SeqCst), 2, "chunk {bad}");
        }
        let count = AtomicUsize::new(0);
        team.run(3, &|_| {
            count.fetch_add(1, Ordering::SeqCst);
        });
        assert_eq!(count.load(Ordering::SeqCst), 3);
    }

    /// A call made from inside a chunk, or from a second thread while the team is busy, runs
    /// its chunks on its own thread instead of waiting for the team (no deadlock), each once.
    #[test]
    fn nested_and_concurrent_calls_run_inline() {
        let team = Team::new(2, || {}).unwrap();
        let inner = AtomicUsize::new(0);
        team.run(2, &|_| {
            team.run(2, &|j| {
                inner.fetch_add(1 << (8 * j), Ordering::SeqCst);
            });
        });
        // Two outer chunks, each running inner chunks 0 and 1 once.
        assert_eq!(inner.load(Ordering::SeqCst), 2 + (2 << 8));

        let total = AtomicUsize::new(0);
        thread::scope(|s| {
            for _ in 0..2 {
                s.spawn(|| {
                    for _ in 0..500 {
                        team.run(2, &|i| {
                            total.fetch_add(i + 1, Ordering::Relaxed);
                        });
                    }
                });
            }
        });
        assert_eq!(total.load(Ordering::Relaxed), 2 * 500 * 3);
    }

    /// Each worker runs the start function once, before any chunk.
    #[test]
    fn workers_run_the_start_function() {
        thread_local!(static STARTED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) });
        let team = Team::new(3, || STARTED.with(|s| s.set(true))).unwrap();
        let started = AtomicUsize::new(0);
        team.run(3, &|i| {
            if i > 0 && STARTED.with(|s| s.get()) {
                started.fetch_add(1, Ordering::SeqCst);
            }
        });
        assert_eq!(started.load(Ordering::SeqCst), 2);
    }
}
