//! Throughput mode: `N` independent inference streams over one [`Detector`].
//!
//! Each stream is a worker thread with its own [`Context`] (activation buffers, workspace) and
//! its own kernel thread pool of `threads_per_stream` threads; all streams share the detector,
//! and so its packed weights, by reference (`Arc`), never copying them. Work comes from one
//! bounded queue and results come back in input order, as OpenVINO's THROUGHPUT hint and ONNX
//! Runtime's parallel sessions do for batch work: on a machine with few cores, two streams of
//! one thread keep both cores busy through the serial parts of a pass (NMS, pre-processing, the
//! small late layers) that leave one of two kernel threads idle.
//!
//! Guarantees (tests/streams.rs):
//! - results are bit-identical to sequential calls (kernels compute every element with the same
//!   instructions whatever the thread count) and arrive in input order;
//! - an error, or a panic, in one item is that item's `Err`; the others go on;
//! - at most `queue_depth` items are in flight per run (queued, running, or finished and waiting
//!   for an earlier one): memory stays bounded however long the input;
//! - dropping a run's iterator early cancels its queued items and never blocks or deadlocks; the
//!   pool stays usable.

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, sync_channel, Receiver, Sender, SyncSender};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

use ghost_kernels::Threads;
use image::RgbImage;

use super::{Context, DetectError, Detector};
use crate::postprocess::Detection;

/// A unit of work for a stream: runs on the stream's thread with the stream's context.
type Job = Box<dyn FnOnce(&mut Context) + Send>;

/// How many streams, of how many threads, with how deep a queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamOptions {
    /// Independent inference streams (worker threads, each with its own context).
    pub streams: usize,
    /// Kernel threads of each stream (1: the stream's own thread runs the kernels).
    pub threads_per_stream: usize,
    /// Most items in flight per run; 0 picks `2 * streams` (one running and one waiting per
    /// stream, so no stream idles while the consumer takes a result).
    pub queue_depth: usize,
}

impl StreamOptions {
    /// `streams` streams of `threads_per_stream` threads, default queue depth.
    pub fn new(streams: usize, threads_per_stream: usize) -> Self {
        StreamOptions {
            streams,
            threads_per_stream,
            queue_depth: 0,
        }
    }

    fn depth(&self) -> usize {
        if self.queue_depth == 0 {
            2 * self.streams
        } else {
            self.queue_depth
        }
    }
}

/// `N` inference streams sharing one [`Detector`]; see the module documentation.
#[derive(Debug)]
pub struct StreamPool {
    detector: Arc<Detector>,
    options: StreamOptions,
    jobs: Option<SyncSender<Job>>,
    workers: Vec<JoinHandle<()>>,
}

impl Detector {
    /// A [`StreamPool`] of `streams` streams with `threads_per_stream` kernel threads each,
    /// sharing this detector (and its packed weights).
    pub fn streams(
        self: &Arc<Self>,
        streams: usize,
        threads_per_stream: usize,
    ) -> Result<StreamPool, DetectError> {
        StreamPool::new(
            Arc::clone(self),
            StreamOptions::new(streams, threads_per_stream),
        )
    }

    /// [`Detector::detect_rgb`] with a caller-owned context (its threads and buffers): what each
    /// stream of a [`StreamPool`] runs. Same result, bit for bit, whatever the context's threads.
    pub fn detect_rgb_with_context(
        &self,
        image: &RgbImage,
        ctx: &mut Context,
    ) -> Result<Vec<Detection>, DetectError> {
        let pre = self.preprocess(std::slice::from_ref(image))?;
        let mut all = self.detect_preprocessed(&pre, ctx)?;
        Ok(all.pop().unwrap_or_default())
    }

    /// [`Detector::detect_batch_rgb`] with a caller-owned context: one forward pass over the
    /// batch on a stream of a [`StreamPool`] (the video pipeline's `--streams`). Same result, bit
    /// for bit, whatever the context's threads.
    pub fn detect_batch_rgb_with_context(
        &self,
        images: &[RgbImage],
        ctx: &mut Context,
    ) -> Result<Vec<Vec<Detection>>, DetectError> {
        if images.is_empty() {
            return Ok(Vec::new());
        }
        let pre = self.preprocess(images)?;
        self.detect_preprocessed(&pre, ctx)
    }
}

impl StreamPool {
    /// Starts the streams. Fails on zero streams or threads, or when a thread pool cannot be
    /// built.
    pub fn new(detector: Arc<Detector>, options: StreamOptions) -> Result<Self, DetectError> {
        let invalid = |option, found: usize| DetectError::InvalidOption {
            option,
            expected: "at least 1".into(),
            found: found.to_string(),
        };
        if options.streams == 0 {
            return Err(invalid("streams", 0));
        }
        if options.threads_per_stream == 0 {
            return Err(invalid("threads", 0));
        }
        let (jobs, queue) = sync_channel::<Job>(options.depth());
        let queue = Arc::new(Mutex::new(queue));
        let mut workers = Vec::with_capacity(options.streams);
        for i in 0..options.streams {
            let threads = Threads::new(options.threads_per_stream).map_err(DetectError::Threads)?;
            let queue = Arc::clone(&queue);
            let worker = std::thread::Builder::new()
                .name(format!("ghost-yolo-stream-{i}"))
                .spawn(move || stream_loop(&queue, Context::new(threads)))
                .map_err(|e| DetectError::Stream {
                    item: 0,
                    message: format!("cannot start stream thread {i}: {e}"),
                })?;
            workers.push(worker);
        }
        Ok(StreamPool {
            detector,
            options,
            jobs: Some(jobs),
            workers,
        })
    }

    /// The options the pool runs with (`queue_depth` as given).
    pub fn options(&self) -> StreamOptions {
        self.options
    }

    /// The shared detector.
    pub fn detector(&self) -> &Arc<Detector> {
        &self.detector
    }

    /// Runs `f(detector, stream context, item)` for every item on the streams and yields the
    /// results in input order. Items are pulled from `items` lazily, at most `queue_depth`
    /// ahead of the consumer. Dropping the iterator cancels the items not yet started.
    pub fn run<T, R, F, I>(&self, items: I, f: F) -> Ordered<'_, I::IntoIter, T, R>
    where
        I: IntoIterator<Item = T>,
        T: Send + 'static,
        R: Send + 'static,
        F: Fn(&Detector, &mut Context, T) -> Result<R, DetectError> + Send + Sync + 'static,
    {
        let (replies, results) = channel();
        Ordered {
            pool: self,
            input: items.into_iter(),
            input_done: false,
            f: Arc::new(f),
            replies,
            results,
            waiting: BTreeMap::new(),
            submitted: 0,
            returned: 0,
            cancelled: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Detections for each image, in order ([`Detector::detect_rgb`] on the streams).
    pub fn detect_rgb<I>(&self, images: I) -> Ordered<'_, I::IntoIter, RgbImage, Vec<Detection>>
    where
        I: IntoIterator<Item = RgbImage>,
    {
        self.run(images, |detector: &Detector, ctx: &mut Context, image| {
            detector.detect_rgb_with_context(&image, ctx)
        })
    }
}

impl Drop for StreamPool {
    fn drop(&mut self) {
        // Closing the queue ends every stream's loop once the queued jobs are done (each
        // cancelled job returns at once).
        self.jobs = None;
        for worker in self.workers.drain(..) {
            let _ = worker.join();
        }
    }
}

/// A stream: take jobs from the shared queue until it closes.
fn stream_loop(queue: &Mutex<Receiver<Job>>, mut ctx: Context) {
    loop {
        // The lock is held only while waiting for a job, never while running one.
        let job = queue.lock().unwrap_or_else(PoisonError::into_inner).recv();
        match job {
            Ok(job) => job(&mut ctx),
            Err(_) => return,
        }
    }
}

/// The reply slot of one item: sends the item's result, or, if dropped unsent (the job was
/// cancelled or never ran), an error, so the consumer never waits for a reply that cannot come.
struct Reply<R> {
    item: usize,
    to: Option<Sender<(usize, Result<R, DetectError>)>>,
}

impl<R> Reply<R> {
    fn send(mut self, result: Result<R, DetectError>) {
        if let Some(to) = self.to.take() {
            // The consumer may be gone (iterator dropped): nothing to do then.
            let _ = to.send((self.item, result));
        }
    }
}

impl<R> Drop for Reply<R> {
    fn drop(&mut self) {
        if let Some(to) = self.to.take() {
            let _ = to.send((
                self.item,
                Err(DetectError::Stream {
                    item: self.item,
                    message: "not run: the run was cancelled or the pool shut down".into(),
                }),
            ));
        }
    }
}

/// The results of [`StreamPool::run`], in input order.
pub struct Ordered<'p, I, T, R> {
    pool: &'p StreamPool,
    input: I,
    input_done: bool,
    #[allow(clippy::type_complexity)]
    f: Arc<dyn Fn(&Detector, &mut Context, T) -> Result<R, DetectError> + Send + Sync>,
    replies: Sender<(usize, Result<R, DetectError>)>,
    results: Receiver<(usize, Result<R, DetectError>)>,
    /// Finished items that wait for an earlier one.
    waiting: BTreeMap<usize, Result<R, DetectError>>,
    submitted: usize,
    returned: usize,
    cancelled: Arc<AtomicBool>,
}

impl<I, T, R> std::fmt::Debug for Ordered<'_, I, T, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ordered")
            .field("submitted", &self.submitted)
            .field("returned", &self.returned)
            .field("waiting", &self.waiting.len())
            .finish()
    }
}

impl<I, T, R> Ordered<'_, I, T, R>
where
    I: Iterator<Item = T>,
    T: Send + 'static,
    R: Send + 'static,
{
    /// Queues items until `queue_depth` are in flight or the input ends.
    fn top_up(&mut self) {
        let depth = self.pool.options.depth();
        while !self.input_done && self.submitted - self.returned < depth {
            let Some(item) = self.input.next() else {
                self.input_done = true;
                return;
            };
            let index = self.submitted;
            self.submitted += 1;
            let reply = Reply {
                item: index,
                to: Some(self.replies.clone()),
            };
            let (f, cancelled) = (Arc::clone(&self.f), Arc::clone(&self.cancelled));
            let detector = Arc::clone(&self.pool.detector);
            let job: Job = Box::new(move |ctx: &mut Context| {
                if cancelled.load(Ordering::SeqCst) {
                    return; // `reply` dropped: reports "not run" to nobody.
                }
                let result = catch_unwind(AssertUnwindSafe(|| f(&detector, ctx, item)))
                    .unwrap_or_else(|panic| {
                        Err(DetectError::Stream {
                            item: index,
                            message: format!("panicked: {}", panic_message(&*panic)),
                        })
                    });
                reply.send(result);
            });
            let sent = match &self.pool.jobs {
                Some(jobs) => jobs.send(job).map_err(|e| e.0),
                None => Err(job),
            };
            // A failed send drops the job and so its reply, which reports the item as not run.
            drop(sent);
        }
    }
}

impl<I, T, R> Iterator for Ordered<'_, I, T, R>
where
    I: Iterator<Item = T>,
    T: Send + 'static,
    R: Send + 'static,
{
    type Item = Result<R, DetectError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            self.top_up();
            if let Some(result) = self.waiting.remove(&self.returned) {
                self.returned += 1;
                return Some(result);
            }
            if self.returned == self.submitted {
                return None;
            }
            // Every submitted item replies exactly once (a result, or "not run" from its
            // dropped reply), and we hold a sender, so this never fails.
            let (index, result) = self.results.recv().ok()?;
            self.waiting.insert(index, result);
        }
    }
}

impl<I, T, R> Drop for Ordered<'_, I, T, R> {
    fn drop(&mut self) {
        // Queued items of this run return at once when a stream takes them; the running ones
        // finish and their replies go nowhere.
        self.cancelled.store(true, Ordering::SeqCst);
    }
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "(no message)".into()
    }
}
