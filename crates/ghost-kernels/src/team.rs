//! A fixed team of worker threads that run a kernel's chunks together with the calling thread.
//!
//! A forward pass makes a few hundred parallel kernel calls, many of them short (yolo11n at
//! 2 threads: ~31 ms a pass on a quiet machine, ~100-200 µs a call). With rayon's work stealing
//! the pass ran on a pool worker, which forked every call with `rayon::join`; an idle worker gave
//! its core away with `sched_yield` about 32 times, then slept on a futex (12-37 sleeps per
//! worker per yolo11n pass on a quiet machine, see
//! docs/performance.md#steady-latency-where-the-p90-tail-comes-from).
//!
//! The team: the caller posts the job to the workers' mailboxes, runs chunk 0 itself, then
//! claims the remaining chunks from a shared counter like the workers do; so chunk 1 normally
//! runs on worker 1, but a worker that is off its core (the machine is busy) does not hold the
//! call up: the caller runs its chunk and takes the job back from its mailbox. An idle thread
//! (a worker between calls, the caller waiting for a worker's chunk) spins on its own cache
//! line for [`SPIN`], then yields its core for up to [`YIELD`] (so that it costs little when
//! other processes want the core), then parks. Results do not depend on which thread runs a
//! chunk, see [`crate::Threads`].

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle, Thread};
use std::time::{Duration, Instant};

/// How long an idle thread spins (no system call) before it starts yielding: catches a call
/// posted right after the previous one; longer gaps (layer bookkeeping, a kernel too small to
/// split) are bridged by yielding, which on a busy machine lets other processes run.
pub(crate) const SPIN: Duration = Duration::from_micros(5);

/// How long an idle thread then yields its core (`sched_yield`) before it parks: a busy
/// machine's other processes run meanwhile, a quiet one returns at once.
pub(crate) const YIELD: Duration = Duration::from_micros(100);

/// One call's work, on the caller's stack while the workers run it.
struct Job<'a> {
    chunk: &'a (dyn Fn(usize) + Sync),
    chunks: usize,
    /// The next chunk to claim.
    next: AtomicUsize,
    /// Workers that took the job from their mailbox and have not finished with it.
    active: AtomicUsize,
    /// Set by a worker whose chunk panicked.
    panicked: AtomicBool,
    /// The calling thread, woken by the last worker to finish when it parked.
    caller: Thread,
}

impl Job<'_> {
    /// Runs chunks claimed from `next` until none is left; whether one panicked.
    fn claim_and_run(&self) -> bool {
        let mut panicked = false;
        loop {
            let i = self.next.fetch_add(1, Ordering::Relaxed);
            if i >= self.chunks {
                return panicked;
            }
            panicked |= catch_unwind(AssertUnwindSafe(|| (self.chunk)(i))).is_err();
        }
    }
}

/// A worker's mailbox, alone on its cache lines (the worker spins reading it).
#[repr(align(128))]
struct Mailbox {
    /// Bumped once per job posted to this worker (and once at shutdown).
    posted: AtomicU64,
    /// The posted [`Job`] until the worker takes it (or the caller takes it back): null then.
    job: AtomicPtr<Job<'static>>,
    /// The worker is parked or about to park: the poster must unpark it.
    sleeping: AtomicBool,
}

struct Shared {
    mailboxes: Vec<Mailbox>,
    shutdown: AtomicBool,
    /// The caller is parked or about to park, waiting for `active` to reach 0.
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

    /// Runs `chunk(i)` once for every `i < chunks` (`chunks` at most the team's size): `0` on
    /// this thread, the others on whichever team thread claims them first (worker `i` when it
    /// is on a core); returns when all are done. A panic in any chunk panics here, after every
    /// chunk has finished. Allocation-free.
    pub(crate) fn run(&self, chunks: usize, chunk: &(dyn Fn(usize) + Sync)) {
        debug_assert!(chunks <= self.shared.mailboxes.len() + 1);
        if chunks <= 1 {
            (0..chunks).for_each(chunk);
            return;
        }
        // Denormals flushed on this thread too, as on the workers, so that a chunk's result
        // does not depend on which thread claims it (as when rayon's workers ran every chunk).
        let _flush = crate::fpenv::flush_denormals();
        if self
            .busy
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            (0..chunks).for_each(chunk);
            return;
        }
        let _busy = Release(&self.busy);
        let helpers = chunks - 1;
        let job = Job {
            chunk,
            chunks,
            next: AtomicUsize::new(1),
            active: AtomicUsize::new(helpers),
            panicked: AtomicBool::new(false),
            caller: thread::current(),
        };
        let erased = (&job as *const Job<'_>).cast::<Job<'static>>().cast_mut();
        // Takes back untaken posts and waits for the workers that took the job, also if chunk
        // 0 panics below: they read `job` until then.
        let finish = Finish {
            shared: &self.shared,
            job: &job,
            erased,
            helpers,
        };
        for (worker, mailbox) in self.shared.mailboxes[..helpers].iter().enumerate() {
            mailbox.job.store(erased, Ordering::Relaxed);
            // SeqCst pairs with the worker's `sleeping` store then `posted` load: either it
            // sees this job before parking, or this sees it asleep and unparks it.
            mailbox.posted.fetch_add(1, Ordering::SeqCst);
            if mailbox.sleeping.load(Ordering::SeqCst) {
                self.workers[worker].thread().unpark();
            }
        }
        chunk(0);
        let mine_panicked = job.claim_and_run();
        drop(finish);
        if mine_panicked || job.panicked.load(Ordering::Acquire) {
            panic!("a kernel chunk panicked");
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

/// When dropped: takes the job back from the mailboxes of workers that have not taken it, then
/// waits until every worker that did has finished with it.
struct Finish<'a> {
    shared: &'a Shared,
    job: &'a Job<'a>,
    erased: *mut Job<'static>,
    helpers: usize,
}

impl Drop for Finish<'_> {
    fn drop(&mut self) {
        for mailbox in &self.shared.mailboxes[..self.helpers] {
            let untaken = mailbox
                .job
                .compare_exchange(
                    self.erased,
                    std::ptr::null_mut(),
                    Ordering::AcqRel,
                    Ordering::Acquire,
                )
                .is_ok();
            if untaken {
                self.job.active.fetch_sub(1, Ordering::SeqCst);
            }
        }
        let done = || self.job.active.load(Ordering::Acquire) == 0;
        if idle_until(done) {
            return;
        }
        loop {
            self.shared.caller_sleeping.store(true, Ordering::SeqCst);
            if self.job.active.load(Ordering::SeqCst) == 0 {
                break;
            }
            thread::park();
        }
        self.shared.caller_sleeping.store(false, Ordering::Relaxed);
    }
}

/// Spins for [`SPIN`], then yields for [`YIELD`], until `ready()`; whether it became ready.
fn idle_until(ready: impl Fn() -> bool) -> bool {
    let start = Instant::now();
    loop {
        for _ in 0..64 {
            if ready() {
                return true;
            }
            std::hint::spin_loop();
        }
        let idle = start.elapsed();
        if idle >= SPIN + YIELD {
            return ready();
        }
        if idle >= SPIN {
            thread::yield_now();
        }
    }
}

/// Worker `index`'s loop: wait for a post in its mailbox, take the job, run chunks claimed
/// from it, count itself done.
fn work(shared: &Shared, index: usize) {
    let mailbox = &shared.mailboxes[index - 1];
    let mut seen = 0u64;
    loop {
        let posted = |seen| mailbox.posted.load(Ordering::Acquire) != seen;
        if !idle_until(|| posted(seen)) {
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
        let job = mailbox.job.swap(std::ptr::null_mut(), Ordering::AcqRel);
        if job.is_null() {
            // The caller finished the call without this worker and took the job back.
            continue;
        }
        // SAFETY: a non-null pointer in the mailbox points to a live `Job`: the poster stores
        // it before bumping `posted` and keeps the `Job` alive on its stack until `active`
        // reaches 0 (`Finish`, also when its own chunk panics). Taking it with `swap` means the
        // poster can no longer take it back, so `active` still counts this worker, which
        // decrements it last thing below and does not touch `job` after; the reference never
        // outlives the `Job`.
        let job = unsafe { &*job };
        if job.claim_and_run() {
            job.panicked.store(true, Ordering::Release);
        }
        // Cloned before the count reaches 0, after which the caller may return and free `job`.
        let caller = job.caller.clone();
        if job.active.fetch_sub(1, Ordering::SeqCst) == 1
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

    /// Over many calls of every size, every chunk runs exactly once per call, chunk 0 on the
    /// caller and all on team threads: a chunk lost or run twice changes a count.
    #[test]
    fn every_chunk_runs_once_on_a_team_thread() {
        for size in [2, 3, 4] {
            let team = Team::new(size, || {}).unwrap();
            let caller = thread::current().id();
            let runs: Vec<AtomicUsize> = (0..size).map(|_| AtomicUsize::new(0)).collect();
            let mut expected = vec![0; size];
            for call in 0..1000 {
                let chunks = 1 + call % size;
                team.run(chunks, &|i| {
                    runs[i].fetch_add(1, Ordering::Relaxed);
                    let thread = team_index(caller);
                    assert!(i > 0 || thread == 0, "chunk 0 ran on worker {thread}");
                    // Chunk 0 long enough for the workers to claim theirs (~ a small kernel
                    // call), the others uneven, so that the caller sometimes waits for a worker.
                    let work = if i == 0 {
                        20_000
                    } else {
                        2_000 * (call % 7 == i) as usize
                    };
                    std::hint::black_box((0..work).map(std::hint::black_box).sum::<usize>());
                });
                expected[..chunks].iter_mut().for_each(|e| *e += 1);
                // Every chunk finished before `run` returned.
                let now: Vec<usize> = runs.iter().map(|r| r.load(Ordering::Relaxed)).collect();
                assert_eq!(now, expected, "team of {size}, call {call}");
            }
        }
    }

    /// The workers do take part: while the caller runs a long chunk 0, the others are claimed
    /// by workers (given a few tries, as a loaded machine may keep a worker off its core).
    #[test]
    fn workers_take_part() {
        let team = Team::new(3, || {}).unwrap();
        let caller = thread::current().id();
        let on_workers = AtomicUsize::new(0);
        let start = Instant::now();
        while on_workers.load(Ordering::SeqCst) == 0 {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "no chunk ran on a worker"
            );
            team.run(3, &|i| {
                if i == 0 {
                    thread::sleep(Duration::from_millis(5));
                } else if team_index(caller) > 0 {
                    on_workers.fetch_add(1, Ordering::SeqCst);
                }
            });
        }
    }

    /// Workers that parked after a long idle spell wake up for the next call, and the caller
    /// parks (and is woken) while a worker's chunk takes longer than the spin.
    #[test]
    fn parked_threads_wake_up() {
        let team = Team::new(3, || {}).unwrap();
        let caller = thread::current().id();
        for round in 0..5 {
            thread::sleep((SPIN + YIELD) * 5);
            let sum = AtomicUsize::new(0);
            team.run(3, &|i| {
                if i == 2 {
                    thread::sleep((SPIN + YIELD) * 3);
                }
                team_index(caller);
                sum.fetch_add(1 + i, Ordering::Relaxed);
            });
            assert_eq!(sum.load(Ordering::Relaxed), 1 + 2 + 3, "round {round}");
        }
    }

    /// A chunk's panic reaches the caller, never before every chunk that started has
    /// finished (the workers read the caller's stack until then); a worker's panic leaves the
    /// other chunks run; the team works afterwards.
    #[test]
    fn panics_reach_the_caller_after_all_chunks() {
        let team = Team::new(3, || {}).unwrap();
        for bad in [0, 2] {
            let done = AtomicUsize::new(0);
            let running = AtomicUsize::new(0);
            let result = catch_unwind(AssertUnwindSafe(|| {
                team.run(3, &|i| {
                    if i == bad {
                        panic!("chunk {i}");
                    }
                    running.fetch_add(1, Ordering::SeqCst);
                    thread::sleep(Duration::from_millis(2));
                    done.fetch_add(1, Ordering::SeqCst);
                    running.fetch_sub(1, Ordering::SeqCst);
                })
            }));
            assert!(result.is_err(), "chunk {bad}'s panic was lost");
            assert_eq!(running.load(Ordering::SeqCst), 0, "chunk {bad}");
            if bad != 0 {
                // The caller claims whatever the workers did not.
                assert_eq!(done.load(Ordering::SeqCst), 2, "chunk {bad}");
            }
        }
        let count = AtomicUsize::new(0);
        team.run(3, &|_| {
            count.fetch_add(1, Ordering::SeqCst);
        });
        assert_eq!(count.load(Ordering::SeqCst), 3);
    }

    /// A thread busy with a long chunk does not hold up the other chunks: chunk 1 here waits
    /// until chunk 2 has run, which only another team thread can do (a static split that gave
    /// both to one thread would time out).
    #[test]
    fn a_slow_chunk_leaves_the_rest_to_others() {
        let team = Team::new(3, || {}).unwrap();
        let caller = thread::current().id();
        let two_ran = AtomicBool::new(false);
        let waited_out = AtomicBool::new(false);
        team.run(3, &|i| {
            team_index(caller);
            match i {
                1 => {
                    let start = Instant::now();
                    while !two_ran.load(Ordering::SeqCst) {
                        if start.elapsed() > Duration::from_secs(20) {
                            waited_out.store(true, Ordering::SeqCst);
                            return;
                        }
                        thread::sleep(Duration::from_millis(1));
                    }
                }
                2 => two_ran.store(true, Ordering::SeqCst),
                _ => {}
            }
        });
        assert!(two_ran.load(Ordering::SeqCst));
        assert!(
            !waited_out.load(Ordering::SeqCst),
            "chunk 2 waited for chunk 1's thread"
        );
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

    /// Every chunk of a split call runs with denormals flushed, whichever thread claims it
    /// (the caller included, whatever its own setting), and the caller's setting is restored.
    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    #[test]
    fn chunks_run_with_denormals_flushed_on_any_thread() {
        let subnormal_survives = || {
            let tiny = std::hint::black_box(1e-30f32) * std::hint::black_box(1e-10f32);
            tiny != 0.0
        };
        assert!(
            subnormal_survives(),
            "the test thread flushes denormals already"
        );
        let team = Team::new(3, crate::fpenv::flush_denormals_forever).unwrap();
        let survived = AtomicUsize::new(0);
        for _ in 0..100 {
            team.run(3, &|_| {
                if subnormal_survives() {
                    survived.fetch_add(1, Ordering::SeqCst);
                }
            });
        }
        assert_eq!(survived.load(Ordering::SeqCst), 0);
        assert!(
            subnormal_survives(),
            "the caller's setting was not restored"
        );
    }

    /// Each worker runs the start function before any chunk.
    #[test]
    fn workers_run_the_start_function() {
        thread_local!(static STARTED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) });
        let team = Team::new(3, || STARTED.with(|s| s.set(true))).unwrap();
        let caller = thread::current().id();
        let (on_workers, started) = (AtomicUsize::new(0), AtomicUsize::new(0));
        let start = Instant::now();
        // Until a worker has run a chunk (a loaded machine may keep them off their cores).
        while on_workers.load(Ordering::SeqCst) == 0 && start.elapsed() < Duration::from_secs(20) {
            team.run(3, &|i| {
                if i == 0 {
                    thread::sleep(Duration::from_millis(5));
                } else if team_index(caller) > 0 {
                    on_workers.fetch_add(1, Ordering::SeqCst);
                    if STARTED.with(|s| s.get()) {
                        started.fetch_add(1, Ordering::SeqCst);
                    }
                }
            });
        }
        assert!(on_workers.load(Ordering::SeqCst) > 0);
        assert_eq!(
            started.load(Ordering::SeqCst),
            on_workers.load(Ordering::SeqCst)
        );
    }
}
