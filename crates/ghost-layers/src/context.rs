//! The per-call execution context: the thread budget and reusable kernel workspace.

use ghost_kernels::conv::ConvScratch;
use ghost_kernels::Threads;

/// What every forward call needs besides its tensors: the threads to run kernels on and the
/// dense convolution's reusable workspace. Keep one per inference thread and reuse it; the
/// workspace grows to the largest layer seen and then stops allocating.
#[derive(Debug, Default)]
pub struct Context {
    threads: Threads,
    scratch: ConvScratch,
}

impl Context {
    /// A context running kernels on `threads`.
    pub fn new(threads: Threads) -> Self {
        Context {
            threads,
            scratch: ConvScratch::new(),
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
}
