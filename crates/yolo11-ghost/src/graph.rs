//! A built detector: [`ModelSpec`] + weights -> [`YoloModel`], and its forward pass.
//!
//! Every BatchNorm is folded at load (Ultralytics eps 1e-3), kernels are prepacked, and the
//! buffer [`Plan`] is fixed. `forward` takes NCHW images (`[N, 3, H, W]`, any batch, H and W
//! multiples of the model stride, non-square allowed) and returns Ultralytics' eval-mode
//! `output0` `[N, 4 + nc, A]`. The model holds no mutable state: all scratch lives in the
//! caller's [`Context`], so one `YoloModel` can serve many threads at once (`Send + Sync`).

use ghost_backbone::{GhostNet, GhostNetConfig};
use ghost_layers::{Context, Prefixed, Tensor, TensorView, Threads, WeightSource};
use ndarray::{Array3, Array4, ArrayView4};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::blocks::resample::{copy_into, upsample_nearest};
use crate::blocks::{Block, C2f, Detect};
use crate::error::{Result, YoloError};
use crate::plan::Plan;
use crate::spec::{LayerSpec, ModelSpec, ModuleSpec, Source};
use crate::upsample_rewrite::{Pattern, UpsampleRewrite};

/// The [`ghost_layers::ProfileRecord::kind`] of the record timing a whole model layer (its
/// kernel calls are recorded separately, inside it).
pub const LAYER_RECORD: &str = "layer";

/// The most parameters a model may have (2^30, 4 GiB of f32 weights; YOLO11x has 57M). A
/// larger specification (a hostile or mistyped YAML) is refused before any weight is generated
/// or read.
pub const MAX_PARAMS: u64 = 1 << 30;

/// How one layer runs.
#[derive(Clone, Debug)]
enum LayerImpl {
    /// GhostNet V1 (layer 0): produces the four feature maps taken by layers 1-4.
    Backbone(Box<GhostNet>),
    /// Takes backbone output `k`.
    Index(usize),
    /// One or more chained copies of a block (`model.i.` or `model.i.j.`).
    Blocks(Vec<Block>),
    /// Nearest upsampling.
    Upsample(usize),
    /// Channel concatenation.
    Concat,
    /// The detection head.
    Detect(Box<Detect>),
}

impl LayerImpl {
    /// The layer's block when it is one C2f / C3k2 (an upsample rewrite's consumer, layer `i`).
    fn single_c2f(&self, i: usize) -> Result<&C2f> {
        if let LayerImpl::Blocks(blocks) = self {
            if let [Block::C2f(block)] = &blocks[..] {
                return Ok(block);
            }
        }
        Err(internal(i, "upsample rewrite without a single C2f"))
    }
}

/// Detect heads with at most this many levels take their inputs from a stack array (more
/// levels, which no Ultralytics model has, cost one small allocation per forward pass).
const INLINE_LEVELS: usize = 8;

/// Source of [`YoloModel`] identities (the key of a context's cached shapes).
static NEXT_MODEL_ID: AtomicU64 = AtomicU64::new(0);

/// A loaded YOLO11 / YOLO11-GhostNet detector.
#[derive(Clone, Debug)]
pub struct YoloModel {
    /// Unique per load (clones share it: same layers, same shapes).
    id: u64,
    spec: ModelSpec,
    layers: Vec<LayerImpl>,
    plan: Plan,
    /// The neck's upsample-then-1x1 patterns, run at the coarse resolution
    /// (`crate::upsample_rewrite`).
    rewrites: Vec<UpsampleRewrite>,
    detect_strides: Vec<usize>,
    max_stride: usize,
}

/// Where a layer's output currently lives during a forward pass.
#[derive(Debug, Default)]
enum Slot {
    #[default]
    Empty,
    Owned(Tensor),
    InConcat {
        concat: usize,
        offset: usize,
        channels: usize,
    },
}

/// What a forward pass keeps in the caller's [`Context`] between calls
/// ([`Context::take_state`]): the layer shapes of the last input size and the slot table, so
/// that a steady-state forward pass allocates nothing.
#[derive(Debug, Default)]
struct RunState {
    /// `(model id, n, h, w)` that `shapes` belongs to.
    key: Option<(u64, usize, usize, usize)>,
    shapes: Vec<[usize; 4]>,
    slots: Vec<Slot>,
}

fn slot_view<'a>(slots: &'a [Slot], image: &TensorView<'a>, src: Source) -> Result<TensorView<'a>> {
    let i = match src {
        Source::Image => return Ok(*image),
        Source::Layer(i) => i,
    };
    match &slots[i] {
        Slot::Owned(t) => Ok(t.view()),
        Slot::InConcat {
            concat,
            offset,
            channels,
        } => match &slots[*concat] {
            Slot::Owned(t) => Ok(t.view().channels(*offset, *channels)?),
            _ => Err(internal(
                i,
                "output read after its concat buffer was released",
            )),
        },
        Slot::Empty => Err(internal(
            i,
            "read before it was computed or after it was released",
        )),
    }
}

fn internal(layer: usize, what: &str) -> YoloError {
    YoloError::Internal {
        layer,
        message: what.to_string(),
    }
}

impl YoloModel {
    /// Builds `spec` with `weights` (Ultralytics `state_dict` names: `model.{i}.`...). The class
    /// count is taken from the Detect weights (`model.{last}.cv3.0.2.weight`) when the source
    /// stores shapes, re-parsing the spec if it differs from the YAML's `nc`.
    pub fn load(spec: &ModelSpec, weights: &dyn WeightSource) -> Result<YoloModel> {
        Self::load_with(spec, weights, &Threads::single())
    }

    /// [`YoloModel::load`] with the layers loaded and packed on `threads` (the result does not
    /// depend on the thread count).
    pub fn load_with(
        spec: &ModelSpec,
        weights: &dyn WeightSource,
        threads: &Threads,
    ) -> Result<YoloModel> {
        let last = spec.layers.len() - 1;
        let cls_name = format!("model.{last}.cv3.0.2.weight");
        let spec = match weights.shape_of(&cls_name) {
            Some(shape) if shape.first().is_some_and(|&nc| nc >= 1 && nc != spec.nc) => {
                spec.with_nc(shape[0])?
            }
            _ => spec.clone(),
        };
        // Parameter counts do not depend on the image size, so the model is counted at the
        // smallest size every spec accepts (one stride-sized image), whatever its stride: the
        // guard used to be skipped when 64 was not a multiple of it. A spec that cannot even be
        // counted is refused here rather than loaded unchecked.
        let side = spec.max_stride();
        let params = crate::info::ModelInfo::new(&spec, side, side)?.params;
        if params > MAX_PARAMS {
            return Err(YoloError::Build {
                layer: "model".into(),
                message: format!(
                    "{params} parameters, more than the {MAX_PARAMS} this engine loads \
                     (nothing was allocated)"
                ),
            });
        }
        // Layers load, fold and pack independently; with several threads they are spread over
        // the pool (the first error in layer order is reported, as in a sequential load).
        let layers = threads
            .map(spec.layers.len(), |i| {
                Self::load_layer(weights, &spec.layers[i])
            })
            .into_iter()
            .collect::<Result<Vec<_>>>()?;
        let rewrites = Pattern::find(&spec)
            .into_iter()
            .map(|p| {
                let block = layers[p.consumer].single_c2f(p.consumer)?;
                UpsampleRewrite::load(
                    weights,
                    p,
                    &spec.layers[p.consumer].prefix(0),
                    block.cv1_channels(),
                    spec.layers[p.upsample].out_channels(),
                )
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(YoloModel {
            id: NEXT_MODEL_ID.fetch_add(1, Ordering::Relaxed),
            plan: Plan::new(&spec),
            rewrites,
            detect_strides: spec.detect_strides(),
            max_stride: spec.max_stride(),
            spec,
            layers,
        })
    }

    fn load_layer(weights: &dyn WeightSource, layer: &LayerSpec) -> Result<LayerImpl> {
        Ok(match &layer.module {
            ModuleSpec::GhostNet { width, .. } => {
                let prefixed = Prefixed::new(weights, "model.0.");
                LayerImpl::Backbone(Box::new(GhostNet::load(
                    &prefixed,
                    GhostNetConfig::ultralytics_backbone(*width),
                )?))
            }
            ModuleSpec::Index { index, .. } => LayerImpl::Index(*index),
            ModuleSpec::Upsample { factor, .. } => LayerImpl::Upsample(*factor),
            ModuleSpec::Concat { .. } => LayerImpl::Concat,
            ModuleSpec::Detect(d) => {
                LayerImpl::Detect(Box::new(Detect::load(weights, &layer.prefix(0), d)?))
            }
            m => LayerImpl::Blocks(
                (0..layer.copies)
                    .map(|j| {
                        Block::load(weights, &layer.prefix(j), m)?
                            .ok_or_else(|| internal(layer.index, "module is not a block"))
                    })
                    .collect::<Result<Vec<_>>>()?,
            ),
        })
    }

    /// The specification it was built from (with the class count of the weights).
    pub fn spec(&self) -> &ModelSpec {
        &self.spec
    }

    /// Number of classes.
    pub fn num_classes(&self) -> usize {
        self.spec.nc
    }

    /// Input height and width must be multiples of this (32 for YOLO11).
    pub fn max_stride(&self) -> usize {
        self.max_stride
    }

    /// The buffer plan (which Concat inputs are written in place).
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// `output0` for NCHW `images` (`[N, 3, H, W]`, RGB in [0, 1]) on `threads`.
    pub fn forward_threads(
        &self,
        images: ArrayView4<'_, f32>,
        threads: &Threads,
    ) -> Result<Array3<f32>> {
        let mut ctx = Context::new(threads.clone());
        self.forward(images, &mut ctx)
    }

    /// `output0` for NCHW `images`, with `ctx`'s threads and buffer pool (reuse one context per
    /// calling thread to avoid re-allocating).
    pub fn forward(&self, images: ArrayView4<'_, f32>, ctx: &mut Context) -> Result<Array3<f32>> {
        let mut out = Array3::zeros((0, 0, 0));
        self.forward_into(images, ctx, &mut out)?;
        Ok(out)
    }

    /// [`YoloModel::forward`] into `out` (reshaped only when its shape is not `output0`'s). With
    /// the same `ctx` and `out` kept across calls, a forward pass on an input of the size of
    /// the previous one allocates nothing: activations come from the context's pool, layer
    /// scratch and the slot table are kept in the context, threads fork without heap jobs
    /// (`tests/zero_alloc.rs` counts).
    pub fn forward_into(
        &self,
        images: ArrayView4<'_, f32>,
        ctx: &mut Context,
        out: &mut Array3<f32>,
    ) -> Result<()> {
        let [n, c, h, w] = [
            images.shape()[0],
            images.shape()[1],
            images.shape()[2],
            images.shape()[3],
        ];
        self.check_input(n, c, h, w)?;
        let mut nhwc = ctx.alloc([n, h, w, c]);
        nhwc.copy_from_nchw(images)?;
        // The whole pass runs on one of the pool's own workers: each kernel's fork is then a
        // local `rayon::join` instead of a hand-off from this thread into the pool and back
        // (two thread wake-ups per kernel call, ~150-250 calls per pass).
        let threads = ctx.threads().clone();
        let result = threads.install(|| self.run(ctx, &nhwc.view(), &[], out));
        ctx.recycle(nhwc);
        result.map(|_| ())
    }

    fn check_input(&self, n: usize, c: usize, h: usize, w: usize) -> Result<()> {
        let s = self.max_stride;
        if n == 0 || c != self.spec.input_channels || h == 0 || w == 0 || h % s != 0 || w % s != 0 {
            return Err(YoloError::InputShape {
                operand: "images",
                expected: format!(
                    "[N >= 1, {}, H, W] with H and W positive multiples of {s}",
                    self.spec.input_channels
                ),
                found: format!("[{n}, {c}, {h}, {w}]"),
            });
        }
        Ok(())
    }

    /// Output shapes (NHWC) of every layer for an `n x h x w` input, checking that Concat inputs
    /// agree (empty for GhostNet and Detect).
    fn shapes(&self, n: usize, h: usize, w: usize) -> Result<Vec<[usize; 4]>> {
        let mut shapes: Vec<[usize; 4]> = Vec::with_capacity(self.layers.len());
        let mut levels = [[0usize; 4]; 4];
        for (layer, imp) in self.spec.layers.iter().zip(&self.layers) {
            let input = match layer.inputs.first() {
                Some(Source::Layer(i)) => shapes[*i],
                _ => [n, h, w, self.spec.input_channels],
            };
            let shape = match (imp, &layer.module) {
                (LayerImpl::Backbone(_), ModuleSpec::GhostNet { channels, .. }) => {
                    // Every stride-2 GhostNet conv pads k / 2: sizes halve, rounding up.
                    let (mut hh, mut ww) = (h, w);
                    for (k, level) in levels.iter_mut().enumerate() {
                        let halvings = if k == 0 { 2 } else { 1 };
                        for _ in 0..halvings {
                            hh = hh.div_ceil(2);
                            ww = ww.div_ceil(2);
                        }
                        *level = [n, hh, ww, channels[k]];
                    }
                    [0; 4]
                }
                (LayerImpl::Index(k), _) => levels[*k],
                (LayerImpl::Blocks(blocks), _) => {
                    let mut s = input;
                    for b in blocks {
                        s = b.output_shape(s)?;
                    }
                    s
                }
                (LayerImpl::Upsample(f), _) => [input[0], input[1] * f, input[2] * f, input[3]],
                (LayerImpl::Concat, _) => {
                    let parts: Vec<[usize; 4]> = layer
                        .inputs
                        .iter()
                        .map(|s| match s {
                            Source::Layer(i) => shapes[*i],
                            Source::Image => [n, h, w, self.spec.input_channels],
                        })
                        .collect();
                    if parts.iter().any(|p| p[..3] != parts[0][..3]) {
                        return Err(YoloError::InputShape {
                            operand: "concat inputs",
                            expected: format!("equal N, H, W at layer {}", layer.index),
                            found: format!("{parts:?} for a {h}x{w} image"),
                        });
                    }
                    [
                        n,
                        parts[0][1],
                        parts[0][2],
                        parts.iter().map(|p| p[3]).sum(),
                    ]
                }
                _ => [0; 4],
            };
            shapes.push(shape);
        }
        Ok(shapes)
    }

    /// `output0` for an NHWC image tensor `[N, H, W, 3]`.
    pub fn forward_nhwc(&self, ctx: &mut Context, image: &TensorView<'_>) -> Result<Array3<f32>> {
        let mut out = Array3::zeros((0, 0, 0));
        self.run(ctx, image, &[], &mut out)?;
        Ok(out)
    }

    /// `output0` plus copies (NCHW) of the outputs of layers `taps` (e.g. the Detect inputs, or
    /// GhostNet's outputs 1-4), for debugging and parity tests. GhostNet (0) and Detect have no
    /// single output and cannot be tapped.
    pub fn forward_with_taps(
        &self,
        images: ArrayView4<'_, f32>,
        ctx: &mut Context,
        taps: &[usize],
    ) -> Result<(Array3<f32>, Vec<Array4<f32>>)> {
        let [n, c, h, w] = [
            images.shape()[0],
            images.shape()[1],
            images.shape()[2],
            images.shape()[3],
        ];
        self.check_input(n, c, h, w)?;
        if let Some(&bad) = taps.iter().find(|&&t| {
            t >= self.layers.len()
                || matches!(
                    self.layers[t],
                    LayerImpl::Backbone(_) | LayerImpl::Detect(_)
                )
        }) {
            return Err(YoloError::InputShape {
                operand: "taps",
                expected: format!(
                    "layer indices with a single output, below {}",
                    self.layers.len()
                ),
                found: bad.to_string(),
            });
        }
        let nhwc = Tensor::from_nchw(images);
        let mut out = Array3::zeros((0, 0, 0));
        let tapped = self.run(ctx, &nhwc.view(), taps, &mut out)?;
        Ok((out, tapped.iter().map(Tensor::to_nchw).collect()))
    }

    /// Runs every layer on `image` into `out`; returns copies of the outputs of layers `taps`.
    fn run(
        &self,
        ctx: &mut Context,
        image: &TensorView<'_>,
        taps: &[usize],
        out: &mut Array3<f32>,
    ) -> Result<Vec<Tensor>> {
        // Subnormal activations would cost ~100 cycles per operation (see ghost_kernels::fpenv).
        let _flush = ghost_layers::flush_denormals();
        let [n, h, w, c] = image.shape();
        self.check_input(n, c, h, w)?;
        let mut state: Box<RunState> = ctx.take_state();
        let key = (self.id, n, h, w);
        if state.key != Some(key) {
            // On error the state is dropped, not put back: no stale key survives.
            state.shapes = self.shapes(n, h, w)?;
            state.key = Some(key);
        }
        let RunState { shapes, slots, .. } = &mut *state;
        slots.clear();
        slots.resize_with(self.layers.len(), Slot::default);
        let result = self.run_layers(ctx, image, taps, shapes, slots, out);
        // Buffers still held (only after an error) go back to the pool.
        for slot in slots.iter_mut() {
            if let Slot::Owned(t) = std::mem::take(slot) {
                ctx.recycle(t);
            }
        }
        ctx.put_state(state);
        result
    }

    /// The layer loop of [`YoloModel::run`].
    fn run_layers(
        &self,
        ctx: &mut Context,
        image: &TensorView<'_>,
        taps: &[usize],
        shapes: &[[usize; 4]],
        slots: &mut [Slot],
        out: &mut Array3<f32>,
    ) -> Result<Vec<Tensor>> {
        let mut tapped: Vec<Option<Tensor>> = vec![None; taps.len()];
        let c = image.shape()[3];
        let mut features: [Option<Tensor>; 4] = Default::default();
        let mut detected = false;
        for (i, (layer, imp)) in self.spec.layers.iter().zip(&self.layers).enumerate() {
            ctx.set_scope(i);
            let timer = ctx.start_timer();
            let rewrite = self.rewrites.iter().find(|r| {
                let p = &r.pattern;
                [p.upsample, p.concat, p.consumer].contains(&i) && p.applies(taps)
            });
            let handled = rewrite
                .map(|r| self.run_rewritten(ctx, slots, image, i, shapes, r))
                .transpose()?
                .is_some();
            match imp {
                _ if handled => {}
                LayerImpl::Backbone(net) => {
                    let input = slot_view(slots, image, layer.inputs[0])?;
                    features = net.features(ctx, &input)?.map(Some);
                }
                LayerImpl::Index(k) => {
                    let t = features[*k]
                        .take()
                        .ok_or_else(|| internal(i, "backbone output taken twice"))?;
                    slots[i] = Slot::Owned(t);
                }
                LayerImpl::Concat => {
                    if matches!(slots[i], Slot::Empty) {
                        slots[i] = Slot::Owned(ctx.alloc(shapes[i]));
                    }
                    let mut buf = match std::mem::take(&mut slots[i]) {
                        Slot::Owned(t) => t,
                        _ => return Err(internal(i, "concat buffer is not owned")),
                    };
                    let mut offset = 0;
                    for (k, src) in layer.inputs.iter().enumerate() {
                        let in_place = match *src {
                            Source::Layer(p) => {
                                self.plan.home[p].is_some_and(|h| h.concat == i)
                                    && !layer.inputs[..k].contains(src)
                            }
                            Source::Image => false,
                        };
                        let channels = match *src {
                            Source::Layer(p) => shapes[p][3],
                            Source::Image => c,
                        };
                        if !in_place {
                            let part = slot_view(slots, image, *src)?;
                            copy_into(&part, &mut buf.view_mut().channels_mut(offset, channels)?)?;
                        }
                        offset += channels;
                    }
                    slots[i] = Slot::Owned(buf);
                }
                LayerImpl::Detect(head) => {
                    let levels = layer.inputs.len();
                    if levels <= INLINE_LEVELS {
                        let mut inputs = [*image; INLINE_LEVELS];
                        for (v, src) in inputs.iter_mut().zip(&layer.inputs) {
                            *v = slot_view(slots, image, *src)?;
                        }
                        head.forward_into(ctx, &inputs[..levels], &self.detect_strides, out)?;
                    } else {
                        let inputs = layer
                            .inputs
                            .iter()
                            .map(|s| slot_view(slots, image, *s))
                            .collect::<Result<Vec<_>>>()?;
                        head.forward_into(ctx, &inputs, &self.detect_strides, out)?;
                    }
                    detected = true;
                }
                LayerImpl::Blocks(_) | LayerImpl::Upsample(_) => {
                    self.run_producer(ctx, slots, image, i, shapes, None)?;
                }
            }
            if timer.is_some() {
                ctx.record(timer, &format!("model.{i}"), LAYER_RECORD, 0, 0);
            }
            for (k, _) in taps.iter().enumerate().filter(|(_, &t)| t == i) {
                tapped[k] = Some(Tensor::from_view(&slot_view(
                    slots,
                    image,
                    Source::Layer(i),
                )?));
            }
            // With the rewrite, what the plan frees after the Concat (its skip input, when the
            // Concat was its last reader) is still read by the consumer: freed after it.
            let (now, deferred): (&[usize], &[usize]) = match rewrite {
                Some(r) if i == r.pattern.concat => (&[], &[]),
                Some(r) if i == r.pattern.consumer => (
                    &self.plan.release_after[i],
                    &self.plan.release_after[r.pattern.concat],
                ),
                _ => (&self.plan.release_after[i], &[]),
            };
            for &r in now.iter().chain(deferred) {
                if let Slot::Owned(t) = std::mem::take(&mut slots[r]) {
                    ctx.recycle(t);
                }
            }
        }
        if !detected {
            return Err(internal(self.layers.len() - 1, "Detect did not run"));
        }
        tapped
            .into_iter()
            .map(|t| t.ok_or_else(|| internal(0, "tap not produced")))
            .collect()
    }

    /// Layer `i` of an upsample rewrite: the upsample computes `up(W_x x)`, the Concat does
    /// nothing (its consumer reads the skip input and that product directly), the consumer runs
    /// with the split `cv1`.
    fn run_rewritten(
        &self,
        ctx: &mut Context,
        slots: &mut [Slot],
        image: &TensorView<'_>,
        i: usize,
        shapes: &[[usize; 4]],
        r: &UpsampleRewrite,
    ) -> Result<()> {
        if i == r.pattern.upsample {
            let x = slot_view(slots, image, self.spec.layers[i].inputs[0])?;
            let up_low = r.upsampled_low(ctx, &x, (shapes[i][1], shapes[i][2]))?;
            slots[i] = Slot::Owned(up_low);
        } else if i == r.pattern.consumer {
            self.run_producer(ctx, slots, image, i, shapes, Some(r))?;
        }
        Ok(())
    }

    /// Runs a block or upsample layer into its home slice or a new buffer; with `rewrite`, the
    /// pattern's consumer from the skip input and the upsampled coarse product (released after).
    fn run_producer(
        &self,
        ctx: &mut Context,
        slots: &mut [Slot],
        image: &TensorView<'_>,
        i: usize,
        shapes: &[[usize; 4]],
        rewrite: Option<&UpsampleRewrite>,
    ) -> Result<()> {
        let layer = &self.spec.layers[i];
        let channels = shapes[i][3];
        let (mut buf, offset, home) = match self.plan.home[i] {
            Some(h) => {
                if matches!(slots[h.concat], Slot::Empty) {
                    slots[h.concat] = Slot::Owned(ctx.alloc(shapes[h.concat]));
                }
                match std::mem::take(&mut slots[h.concat]) {
                    Slot::Owned(t) => (t, h.offset, Some(h.concat)),
                    _ => return Err(internal(i, "home buffer is not owned")),
                }
            }
            None => (ctx.alloc(shapes[i]), 0, None),
        };
        if let Some(r) = rewrite {
            let skip = slot_view(slots, image, r.pattern.skip)?;
            let up_low = slot_view(slots, image, Source::Layer(r.pattern.upsample))?;
            let mut all = buf.view_mut();
            let mut out = all.channels_mut(offset, channels)?;
            self.layers[i]
                .single_c2f(i)?
                .forward_with_cv1(ctx, &mut out, |ctx, y| r.cv1(ctx, &skip, up_low, y))?;
        } else {
            let input = slot_view(slots, image, layer.inputs[0])?;
            let mut all = buf.view_mut();
            let mut out = all.channels_mut(offset, channels)?;
            match &self.layers[i] {
                LayerImpl::Upsample(f) => upsample_nearest(ctx, &input, *f, &mut out)?,
                LayerImpl::Blocks(blocks) => match blocks.split_last() {
                    Some((last, [])) => last.forward_into(ctx, &input, &mut out)?,
                    Some((last, rest)) => {
                        let mut t = ctx.alloc(rest[0].output_shape(input.shape())?);
                        rest[0].forward_into(ctx, &input, &mut t.view_mut())?;
                        for b in &rest[1..] {
                            let mut next = ctx.alloc(b.output_shape(t.shape())?);
                            b.forward_into(ctx, &t.view(), &mut next.view_mut())?;
                            ctx.recycle(std::mem::replace(&mut t, next));
                        }
                        last.forward_into(ctx, &t.view(), &mut out)?;
                        ctx.recycle(t);
                    }
                    None => return Err(internal(i, "layer has no blocks")),
                },
                _ => return Err(internal(i, "not a producer")),
            }
        }
        match home {
            Some(c) => {
                slots[c] = Slot::Owned(buf);
                slots[i] = Slot::InConcat {
                    concat: c,
                    offset,
                    channels,
                };
            }
            None => slots[i] = Slot::Owned(buf),
        }
        if let Some(r) = rewrite {
            if let Slot::Owned(t) = std::mem::take(&mut slots[r.pattern.upsample]) {
                ctx.recycle(t);
            }
        }
        Ok(())
    }
}

impl crate::detector::DetectionModel for YoloModel {
    fn forward(&self, images: ArrayView4<'_, f32>, ctx: &mut Context) -> Result<Array3<f32>> {
        YoloModel::forward(self, images, ctx)
    }

    fn max_stride(&self) -> usize {
        self.max_stride
    }

    fn num_classes(&self) -> usize {
        self.spec.nc
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<YoloModel>();
    }
}
