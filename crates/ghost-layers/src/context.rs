//! The per-call execution context: the thread budget and reusable kernel workspace.

use std::any::Any;
use std::time::{Duration, Instant};

use ghost_kernels::conv::ConvScratch;
use ghost_kernels::{NhwcLayout, Threads};

use crate::kind::RecordKind;
use crate::quant::{QuantSite, RangeObserver};
use crate::tensor::Tensor;

/// Buffers kept for reuse; more than this many idle buffers are dropped. A YOLO forward pass
/// releases each activation after its last reader, so it holds a few idle buffers at a time, far
/// below this; then in steady state every [`Context::alloc`] is served from the pool (what
/// `yolo11-ghost/tests/zero_alloc.rs` checks for yolo11n and yolo11n-ghost). 16 was too few to
/// be sure of it.
const MAX_POOLED: usize = 64;

/// What every forward call needs besides its tensors: the threads to run kernels on, the
/// dense convolution's reusable workspace, a pool of activation buffers and the per-call state
/// of layers that need more (attention's scores, a model's slot table). Keep one per inference
/// thread and reuse it: everything grows to the largest shapes seen, after which a forward pass
/// of the same input size allocates nothing.
#[derive(Default)]
pub struct Context {
    threads: Threads,
    scratch: ConvScratch,
    pool: Vec<Vec<f32>>,
    states: Vec<Box<dyn Any + Send>>,
    profile: Option<Profile>,
    /// Conv input ranges, recorded while calibrating ([`Context::enable_range_observer`]).
    observer: Option<RangeObserver>,
    /// Whether blocks share INT8 input quantizations and pass u8 codes between INT8 convs
    /// ([`Context::set_int8_shared_quantization`]).
    int8_shared: bool,
    /// Quantization passes run by INT8 convs so far ([`Context::int8_quantize_passes`]).
    quantize_passes: u64,
}

/// One timed kernel call, recorded when profiling is on ([`Context::enable_profiling`]).
#[derive(Clone, Debug, PartialEq)]
pub struct ProfileRecord {
    /// The caller's scope when the call ran (a YOLO layer index, say); see [`Context::set_scope`].
    pub scope: usize,
    /// The layer's name (`model.3`, `blocks.3.0.ghost1.primary_conv`, ...).
    pub name: String,
    /// What it times: a kernel family or a whole model layer.
    pub kind: RecordKind,
    /// Wall time of the call.
    pub time: Duration,
    /// Floating-point operations of the call (2 x multiply-adds).
    pub flops: u64,
    /// Bytes the call must move at least once: input, output, residual and weights.
    pub bytes: u64,
    /// The kernel back end the call ran on (`avx2+fma+avx512vnni`, `avx2+fma`, `portable`, `scalar`):
    /// [`ghost_kernels::backend()`]'s label.
    pub isa: &'static str,
}

/// What profiling collects: records in call order and the current scope.
#[derive(Clone, Debug, Default)]
struct Profile {
    scope: usize,
    records: Vec<ProfileRecord>,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("threads", &self.threads)
            .field("pooled_buffers", &self.pool.len())
            .field("states", &self.states.len())
            .field("profiling", &self.profile.is_some())
            .field("observing", &self.observer.is_some())
            .field("int8_shared", &self.int8_shared)
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
            states: Vec::new(),
            profile: None,
            observer: None,
            int8_shared: true,
            quantize_passes: 0,
        }
    }

    /// How many f32 -> u8 quantization passes INT8 convs have run with this context (one per
    /// INT8 conv reading f32, fewer when blocks share them or pass u8 codes: see
    /// [`Context::set_int8_shared_quantization`]).
    pub fn int8_quantize_passes(&self) -> u64 {
        self.quantize_passes
    }

    /// Counts one quantization pass.
    pub(crate) fn count_quantize_pass(&mut self) {
        self.quantize_passes += 1;
    }

    /// On (the default): a block whose INT8 convs read one tensor with the same input
    /// quantization quantizes it once ([`crate::ConvBnAct::quantize_input`]), and an INT8 conv
    /// read only by an INT8 conv writes u8 codes for it ([`crate::ConvBnAct::forward_to_u8`]).
    /// Off: every INT8 conv quantizes its own f32 input and writes f32, the path the tests
    /// compare the shared one with (and the A/B switch of a benchmark).
    pub fn set_int8_shared_quantization(&mut self, on: bool) {
        self.int8_shared = on;
    }

    /// See [`Context::set_int8_shared_quantization`].
    pub fn int8_shared_quantization(&self) -> bool {
        self.int8_shared
    }

    /// Starts recording every conv's input range (INT8 calibration); off by default, when a
    /// conv's only cost is one `Option` check. Clears earlier ranges.
    pub fn enable_range_observer(&mut self) {
        self.observer = Some(RangeObserver::default());
    }

    /// Stops observing and returns the ranges recorded since
    /// [`Context::enable_range_observer`] (`None` when it was off).
    pub fn take_range_observer(&mut self) -> Option<RangeObserver> {
        self.observer.take()
    }

    /// Widens `site`'s observed range with `input` when observing.
    pub(crate) fn observe(
        &mut self,
        site: Option<&QuantSite>,
        input: &ghost_kernels::TensorView<'_>,
    ) {
        if let (Some(observer), Some(site)) = (&mut self.observer, site) {
            observer.observe(site, input);
        }
    }

    /// Starts recording a [`ProfileRecord`] per kernel call (off by default: then no call
    /// reads the clock). Clears earlier records.
    pub fn enable_profiling(&mut self) {
        self.profile = Some(Profile::default());
    }

    /// Whether kernel calls are being recorded.
    pub fn is_profiling(&self) -> bool {
        self.profile.is_some()
    }

    /// Tags the following records with `scope` (a model's layer index).
    pub fn set_scope(&mut self, scope: usize) {
        if let Some(p) = &mut self.profile {
            p.scope = scope;
        }
    }

    /// Takes the records so far (profiling stays on).
    pub fn take_profile(&mut self) -> Vec<ProfileRecord> {
        self.profile
            .as_mut()
            .map(|p| std::mem::take(&mut p.records))
            .unwrap_or_default()
    }

    /// The clock reading to pass to [`Context::record`], or `None` when not profiling.
    pub fn start_timer(&self) -> Option<Instant> {
        self.profile.as_ref().map(|_| Instant::now())
    }

    /// Records a call that started at `start` (from [`Context::start_timer`]); a no-op when
    /// `start` is `None`.
    pub fn record(
        &mut self,
        start: Option<Instant>,
        name: &str,
        kind: RecordKind,
        flops: u64,
        bytes: u64,
    ) {
        if let (Some(start), Some(p)) = (start, &mut self.profile) {
            let time = start.elapsed();
            p.records.push(ProfileRecord {
                scope: p.scope,
                name: name.to_string(),
                kind,
                time,
                flops,
                bytes,
                isa: ghost_kernels::backend().label(),
            });
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

    /// Takes the state of type `T` kept in this context, or a default one on first use. Give it
    /// back with [`Context::put_state`] so that the next call reuses its allocations (one state
    /// per type: layers of the same kind run one after another and share it).
    pub fn take_state<T: Any + Send + Default>(&mut self) -> Box<T> {
        match self.states.iter().position(|s| s.is::<T>()) {
            Some(i) => self
                .states
                .swap_remove(i)
                .downcast::<T>()
                .expect("the state at this position has type T"),
            None => Box::default(),
        }
    }

    /// Takes the kept state of type `T` that `fit` ranks best (the smallest `Some` key; states
    /// it rates `None` are left), or a default one when none fits: for buffers of different
    /// sizes, as [`Context::alloc`] picks the smallest buffer that holds a tensor, so a small
    /// buffer is never grown for a large tensor while a large one sits idle (a steady-state
    /// pass then neither allocates nor reallocates).
    pub fn take_state_fitting<T: Any + Send + Default>(
        &mut self,
        fit: impl Fn(&T) -> Option<usize>,
    ) -> Box<T> {
        let best = self
            .states
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.downcast_ref::<T>().and_then(&fit).map(|k| (i, k)))
            .min_by_key(|&(_, k)| k)
            .map(|(i, _)| i);
        match best {
            Some(i) => self
                .states
                .swap_remove(i)
                .downcast::<T>()
                .expect("the state at this position has type T"),
            None => Box::default(),
        }
    }

    /// Keeps `state` for the next [`Context::take_state`] of its type.
    pub fn put_state<T: Any + Send>(&mut self, state: Box<T>) {
        self.states.push(state);
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
    use crate::kind::KernelKind;

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

    #[test]
    fn fitting_states_pick_the_smallest_that_holds_the_request() {
        let mut ctx = Context::single_threaded();
        for n in [64usize, 16, 256] {
            ctx.put_state(Box::new(Vec::<u8>::with_capacity(n)));
        }
        ctx.put_state(Box::new(7u32));
        let fit = |len: usize| move |v: &Vec<u8>| (v.capacity() >= len).then_some(v.capacity());
        let a = ctx.take_state_fitting(fit(20));
        assert_eq!(
            a.capacity(),
            64,
            "the smallest buffer that holds 20, not the first one"
        );
        let b = ctx.take_state_fitting(fit(200));
        assert_eq!(b.capacity(), 256);
        let c = ctx.take_state_fitting(fit(100));
        assert_eq!(c.capacity(), 0, "none left holds 100: a new default state");
        let d = ctx.take_state_fitting(fit(1));
        assert_eq!(d.capacity(), 16);
        assert_eq!(
            *ctx.take_state::<u32>(),
            7,
            "states of other types are left in place"
        );
    }

    #[test]
    fn states_are_kept_per_type() {
        let mut ctx = Context::single_threaded();
        let mut a: Box<Vec<u32>> = ctx.take_state();
        assert!(a.is_empty(), "a fresh state is the default");
        a.extend([1, 2, 3]);
        let ptr = a.as_ptr();
        ctx.put_state(a);
        let mut b: Box<String> = ctx.take_state();
        b.push('x');
        ctx.put_state(b);
        let a: Box<Vec<u32>> = ctx.take_state();
        assert_eq!((a.as_slice(), a.as_ptr()), (&[1, 2, 3][..], ptr));
        let b: Box<String> = ctx.take_state();
        assert_eq!(b.as_str(), "x");
    }

    #[test]
    fn profiling_records_only_when_enabled() {
        let mut ctx = Context::single_threaded();
        let t = ctx.start_timer();
        assert!(t.is_none(), "no clock reads while profiling is off");
        ctx.record(t, "a", RecordKind::Kernel(KernelKind::Pointwise), 10, 20);
        assert!(ctx.take_profile().is_empty());

        ctx.enable_profiling();
        ctx.set_scope(7);
        let t = ctx.start_timer();
        ctx.record(
            t,
            "model.7",
            RecordKind::Kernel(KernelKind::Dense),
            100,
            200,
        );
        let records = ctx.take_profile();
        assert_eq!(records.len(), 1);
        assert_eq!(
            (records[0].scope, records[0].name.as_str(), records[0].kind),
            (7, "model.7", RecordKind::Kernel(KernelKind::Dense))
        );
        assert_eq!((records[0].flops, records[0].bytes), (100, 200));
        assert!(
            ctx.take_profile().is_empty(),
            "take empties the record list"
        );
    }
}
