//! A built detector: [`ModelSpec`] + weights -> [`YoloModel`], and its forward pass.
//!
//! Every BatchNorm is folded at load (Ultralytics eps 1e-3), kernels are prepacked, the model is
//! lowered to an execution graph (`lowering.rs`), patched by the rewrites (`rewrites.rs`), and
//! its buffer plan (`plan.rs`) is fixed. A forward pass walks the graph's nodes in order.
//! `forward` takes NCHW images (`[N, 3, H, W]`, any batch, H and W multiples of the model
//! stride, non-square allowed) and returns Ultralytics' eval-mode
//! `output0` `[N, 4 + nc, A]`. The model holds no mutable state: all scratch lives in the
//! caller's [`Context`], so one `YoloModel` can serve many threads at once (`Send + Sync`).

use ghost_backbone::{GhostNet, GhostNetConfig};
use ghost_layers::{
    Context, ConvInput, Prefixed, QuantizedTensor, Tensor, TensorView, Threads, WeightSource,
};
use ndarray::{Array3, Array4, ArrayView4};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::blocks::resample::copy_into;
use crate::blocks::{Block, Detect};
use crate::error::{Result, YoloError};
use crate::lowering::{
    internal, ExecGraph, Kernel, LoadedLayer, Node, Op, ValueId, IMAGE, MAX_KERNEL_INPUTS,
};
use crate::plan::Plan;
use crate::spec::{LayerSpec, ModelSpec, ModuleSpec};
use crate::u8_homes::{self, U8Home};

/// The [`ghost_layers::ProfileRecord::kind`] of the record timing a whole model layer (its
/// kernel calls are recorded separately, inside it).
pub const LAYER_RECORD: ghost_layers::RecordKind = ghost_layers::RecordKind::Layer;

/// The most parameters a model may have (2^30, 4 GiB of f32 weights; YOLO11x has 57M). A
/// larger specification (a hostile or mistyped YAML) is refused before any weight is generated
/// or read.
pub const MAX_PARAMS: u64 = 1 << 30;

/// Detect heads with at most this many levels take their inputs from a stack array (more
/// levels, which no Ultralytics model has, cost one small allocation per forward pass).
const INLINE_LEVELS: usize = 8;

/// Source of [`YoloModel`] identities (the key of a context's cached shapes).
static NEXT_MODEL_ID: AtomicU64 = AtomicU64::new(0);

/// A loaded YOLO11 / YOLO11-GhostNet detector.
#[derive(Clone, Debug)]
pub struct YoloModel {
    /// Unique per load (clones share it: same graphs, same shapes).
    id: u64,
    spec: ModelSpec,
    /// The lowered graph with every rewrite applied: what forward passes run.
    graph: ExecGraph,
    /// The lowered graph without rewrites (same layers, shared): runs when a tap asks for an
    /// output a rewrite removed.
    plain: ExecGraph,
    detect_strides: Vec<usize>,
    max_stride: usize,
}

/// Where a value currently lives during a forward pass.
#[derive(Debug, Default)]
enum Slot {
    #[default]
    Empty,
    Owned(Tensor),
    /// Written into its home slice of a Concat buffer ([`Plan`]).
    Homed,
}

/// What a forward pass keeps in the caller's [`Context`] between calls
/// ([`Context::take_state`]): the value shapes of the last input size and the slot table, so
/// that a steady-state forward pass allocates nothing.
#[derive(Debug, Default)]
struct RunState {
    /// `(model id, plain graph?, n, h, w)` that `shapes` belongs to.
    key: Option<(u64, bool, usize, usize, usize)>,
    shapes: Vec<[usize; 4]>,
    slots: Vec<Slot>,
    /// Per value: its u8 codes, for values with a u8 home (`u8_homes.rs`).
    codes: Vec<Option<QuantizedTensor>>,
}

/// The values of one forward pass: the graph's plan, the value shapes for this input, the
/// slots, the u8 codes, the image.
struct Values<'a, 'i> {
    plan: &'a Plan,
    /// The u8 homes in use (empty when the context turned shared quantization off).
    u8_homes: &'a [Option<U8Home>],
    shapes: &'a [[usize; 4]],
    slots: &'a mut [Slot],
    codes: &'a mut [Option<QuantizedTensor>],
    image: &'a TensorView<'i>,
}

impl<'i> Values<'_, 'i> {
    /// A view of value `v` (read by a node of row `layer`).
    fn view(&self, v: ValueId, layer: usize) -> Result<TensorView<'_>> {
        if v == IMAGE {
            return Ok(*self.image);
        }
        match &self.slots[v] {
            Slot::Owned(t) => Ok(t.view()),
            Slot::Homed => {
                let home = self
                    .plan
                    .home(v)
                    .ok_or_else(|| internal(layer, "homed value without a home"))?;
                match &self.slots[home.buffer] {
                    Slot::Owned(t) => Ok(t.view().channels(home.offset, self.shapes[v][3])?),
                    _ => Err(internal(
                        layer,
                        "input read after its concat buffer was released",
                    )),
                }
            }
            Slot::Empty => Err(internal(
                layer,
                "input read before it was computed or after it was released",
            )),
        }
    }

    /// Takes the buffer of value `v` out of its slot, allocating it from `ctx` when empty.
    fn take_buffer(&mut self, ctx: &mut Context, v: ValueId, layer: usize) -> Result<Tensor> {
        match std::mem::take(&mut self.slots[v]) {
            Slot::Empty => Ok(ctx.alloc(self.shapes[v])),
            Slot::Owned(t) => Ok(t),
            Slot::Homed => Err(internal(layer, "buffer of a homed value")),
        }
    }

    /// Returns value `v`'s buffers (f32 and u8) to the pool.
    fn release(&mut self, ctx: &mut Context, v: ValueId) {
        if let Slot::Owned(t) = std::mem::take(&mut self.slots[v]) {
            ctx.recycle(t);
        }
        if let Some(q) = self.codes[v].take() {
            q.recycle(ctx);
        }
    }

    /// The u8 home of value `v` in this pass.
    fn u8_home(&self, v: ValueId) -> Option<U8Home> {
        self.u8_homes.get(v).copied().flatten()
    }

    /// Makes the u8 copy of input `pos` of `node` if the value has a [`U8Home::Copy`] and no
    /// copy yet: the node's INT8 reader of it quantizes it (its input quantization is the
    /// home's, checked at load).
    fn make_copy(&mut self, ctx: &mut Context, node: &Node, pos: usize) -> Result<()> {
        let v = node.inputs[pos];
        let Some(U8Home::Copy(q)) = self.u8_home(v) else {
            return Ok(());
        };
        if self.codes[v].is_some() {
            return Ok(());
        }
        let Some((conv, _)) = u8_homes::reader(node, pos) else {
            return Ok(());
        };
        if conv.input_quant() != Some(q) {
            return Err(internal(
                node.layer,
                "u8 copy reader with another quantization",
            ));
        }
        let copy = conv.quantize_input(ctx, &self.view(v, node.layer)?)?;
        self.codes[v] = copy;
        Ok(())
    }

    /// Input `pos` of `node` for a conv: u8 codes only, or f32 with its u8 copy when there is
    /// one.
    fn conv_input(&self, node: &Node, pos: usize) -> Result<NodeInput<'_>> {
        let v = node.inputs[pos];
        match self.u8_home(v) {
            Some(U8Home::Only(_)) => self.codes[v]
                .as_ref()
                .map(NodeInput::U8)
                .ok_or_else(|| internal(node.layer, "u8 input read before it was written")),
            _ => Ok(NodeInput::F32(
                self.view(v, node.layer)?,
                self.codes[v].as_ref(),
            )),
        }
    }
}

/// A node's input as [`Values::conv_input`] gives it (owning the view, which
/// [`ConvInput::F32`] borrows).
enum NodeInput<'a> {
    F32(TensorView<'a>, Option<&'a QuantizedTensor>),
    U8(&'a QuantizedTensor),
}

impl NodeInput<'_> {
    /// The input as a block reads it: f32 (with its u8 copy, when there is one) or u8 codes.
    fn as_conv_input(&self) -> ConvInput<'_, '_> {
        match self {
            NodeInput::F32(view, copy) => ConvInput::F32(view, *copy),
            NodeInput::U8(q) => ConvInput::U8(q),
        }
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
            return Err(YoloError::config(
                "model",
                format!(
                    "{params} parameters, more than the {MAX_PARAMS} this engine loads \
                     (nothing was allocated)"
                ),
            ));
        }
        // Layers load, fold and pack independently; with several threads they are spread over
        // the pool (the first error in layer order is reported, as in a sequential load).
        let layers = threads
            .map(spec.layers.len(), |i| {
                Self::load_layer(weights, &spec.layers[i])
            })
            .into_iter()
            .collect::<Result<Vec<_>>>()?;
        let plain = ExecGraph::lower(&spec, layers)?;
        let mut graph = plain.clone();
        crate::rewrites::apply_all(&mut graph, &spec, weights)?;
        Ok(YoloModel {
            id: NEXT_MODEL_ID.fetch_add(1, Ordering::Relaxed),
            graph: graph.finish(),
            plain: plain.finish(),
            detect_strides: spec.detect_strides(),
            max_stride: spec.max_stride(),
            spec,
        })
    }

    fn load_layer(weights: &dyn WeightSource, layer: &LayerSpec) -> Result<LoadedLayer> {
        Ok(match &layer.module {
            ModuleSpec::GhostNet { width, .. } => {
                let prefixed = Prefixed::new(weights, "model.0.");
                LoadedLayer::Backbone(Box::new(GhostNet::load(
                    &prefixed,
                    GhostNetConfig::ultralytics_backbone(*width),
                )?))
            }
            ModuleSpec::Index { index, .. } => LoadedLayer::Index(*index),
            ModuleSpec::Upsample { factor, .. } => LoadedLayer::Upsample(*factor),
            ModuleSpec::Concat { .. } => LoadedLayer::Concat,
            ModuleSpec::Detect(d) => {
                LoadedLayer::Detect(Box::new(Detect::load(weights, &layer.prefix(0), d)?))
            }
            m => LoadedLayer::Blocks(
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

    /// The lowered graph with every rewrite applied.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn exec_graph(&self) -> &ExecGraph {
        &self.graph
    }

    /// This model running `graph` instead (a new identity: run states are per graph).
    #[cfg(test)]
    pub(crate) fn with_graph(&self, graph: ExecGraph) -> YoloModel {
        YoloModel {
            id: NEXT_MODEL_ID.fetch_add(1, Ordering::Relaxed),
            graph,
            ..self.clone()
        }
    }

    /// The lowered graph without rewrites.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn plain_graph(&self) -> &ExecGraph {
        &self.plain
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
        // The whole pass runs on this thread, which runs chunk 0 of every kernel call itself
        // while the kernel threads' team runs the others (ghost_kernels' `team`).
        let threads = ctx.threads().clone();
        let result = threads.install(|| self.run(ctx, &nhwc.view(), &[], out));
        ctx.recycle(nhwc);
        result.map(|_| ())
    }

    fn check_input(&self, n: usize, c: usize, h: usize, w: usize) -> Result<()> {
        let s = self.max_stride;
        if n == 0
            || c != self.spec.input_channels
            || h == 0
            || w == 0
            || !h.is_multiple_of(s)
            || !w.is_multiple_of(s)
        {
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

    /// `output0` for an NHWC image tensor `[N, H, W, 3]`.
    pub fn forward_nhwc(&self, ctx: &mut Context, image: &TensorView<'_>) -> Result<Array3<f32>> {
        let mut out = Array3::zeros((0, 0, 0));
        self.run(ctx, image, &[], &mut out)?;
        Ok(out)
    }

    /// `output0` plus copies (NCHW) of the outputs of layers `taps` (e.g. the Detect inputs, or
    /// GhostNet's outputs 1-4), for debugging and parity tests. GhostNet (0) and Detect have no
    /// single output and cannot be tapped. Tapping a layer a rewrite removed (the upsample or
    /// Concat of the upsample-then-1x1 pattern) runs the graph without rewrites.
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
        let layers = self.plain.layer_values.len();
        if let Some(&bad) = taps
            .iter()
            .find(|&&t| self.plain.layer_values.get(t).is_none_or(Option::is_none))
        {
            return Err(YoloError::InputShape {
                operand: "taps",
                expected: format!("layer indices with a single output, below {layers}"),
                found: bad.to_string(),
            });
        }
        let nhwc = Tensor::from_nchw(images);
        let mut out = Array3::zeros((0, 0, 0));
        let tapped = self.run(ctx, &nhwc.view(), taps, &mut out)?;
        Ok((out, tapped.iter().map(Tensor::to_nchw).collect()))
    }

    /// Runs the graph on `image` into `out`; returns copies of the outputs of layers `taps`
    /// (the graph without rewrites when a tap names a layer they removed).
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
        let patched_has_taps = taps
            .iter()
            .all(|&t| self.graph.layer_values.get(t).is_some_and(Option::is_some));
        let (graph, plain) = if patched_has_taps {
            (&self.graph, false)
        } else {
            (&self.plain, true)
        };
        let tap_values = taps
            .iter()
            .map(|&t| graph.layer_values.get(t).copied().flatten())
            .collect::<Option<Vec<ValueId>>>()
            .ok_or_else(|| internal(0, "tap without a value"))?;
        let mut state: Box<RunState> = ctx.take_state();
        let key = (self.id, plain, n, h, w);
        if state.key != Some(key) {
            // On error the state is dropped, not put back: no stale key survives.
            state.key = None;
            graph.shapes(image.shape(), &mut state.shapes)?;
            state.key = Some(key);
        }
        let RunState {
            shapes,
            slots,
            codes,
            ..
        } = &mut *state;
        slots.clear();
        slots.resize_with(graph.channels.len(), Slot::default);
        codes.clear();
        codes.resize_with(graph.channels.len(), || None);
        let u8_homes: &[Option<U8Home>] = if ctx.int8_shared_quantization() {
            &graph.u8_homes
        } else {
            &[]
        };
        let mut values = Values {
            plan: &graph.plan,
            u8_homes,
            shapes,
            slots,
            codes,
            image,
        };
        let result = self.run_nodes(ctx, graph, &mut values, &tap_values, out);
        // Buffers still held (only after an error) go back to the pool.
        for v in 0..values.slots.len() {
            values.release(ctx, v);
        }
        ctx.put_state(state);
        result
    }

    /// The node loop of [`YoloModel::run`].
    fn run_nodes(
        &self,
        ctx: &mut Context,
        graph: &ExecGraph,
        values: &mut Values<'_, '_>,
        taps: &[ValueId],
        out: &mut Array3<f32>,
    ) -> Result<Vec<Tensor>> {
        let mut tapped: Vec<Option<Tensor>> = vec![None; taps.len()];
        let mut detected = false;
        // Profiling: one record per YAML row (a row may be several nodes: chained copies).
        let mut row: Option<(usize, Option<std::time::Instant>)> = None;
        for (k, node) in graph.nodes.iter().enumerate() {
            if row.map(|r| r.0) != Some(node.layer) {
                if let Some((layer, timer)) = row.take() {
                    record_row(ctx, layer, timer);
                }
                ctx.set_scope(node.layer);
                row = Some((node.layer, ctx.start_timer()));
            }
            match &node.op {
                Op::Backbone(net) => {
                    let features = net.features(ctx, &values.view(node.inputs[0], node.layer)?)?;
                    for (&v, t) in node.outputs.iter().zip(features) {
                        values.slots[v] = Slot::Owned(t);
                    }
                }
                Op::Kernel(kernel) => run_kernel(ctx, node, kernel, values)?,
                Op::Concat => run_concat(ctx, node, &graph.plan.copy_in[k], values)?,
                Op::Detect(head) => {
                    for pos in 0..node.inputs.len() {
                        values.make_copy(ctx, node, pos)?;
                    }
                    let levels = node.inputs.len();
                    if levels <= INLINE_LEVELS {
                        let mut inputs = [*values.image; INLINE_LEVELS];
                        let mut shared = [None; INLINE_LEVELS];
                        for (k, &v) in node.inputs.iter().enumerate() {
                            inputs[k] = values.view(v, node.layer)?;
                            shared[k] = values.codes[v].as_ref();
                        }
                        head.forward_shared_into(
                            ctx,
                            &inputs[..levels],
                            &shared[..levels],
                            &self.detect_strides,
                            out,
                        )?;
                    } else {
                        let inputs = node
                            .inputs
                            .iter()
                            .map(|&v| values.view(v, node.layer))
                            .collect::<Result<Vec<_>>>()?;
                        let shared: Vec<_> = node
                            .inputs
                            .iter()
                            .map(|&v| values.codes[v].as_ref())
                            .collect();
                        head.forward_shared_into(ctx, &inputs, &shared, &self.detect_strides, out)?;
                    }
                    detected = true;
                }
            }
            for (t, &v) in taps.iter().enumerate() {
                if node.outputs.contains(&v) {
                    tapped[t] = Some(Tensor::from_view(&values.view(v, node.layer)?));
                }
            }
            for &v in &graph.plan.release_after[k] {
                values.release(ctx, v);
            }
        }
        if let Some((layer, timer)) = row {
            record_row(ctx, layer, timer);
        }
        if !detected {
            return Err(internal(self.spec.layers.len() - 1, "Detect did not run"));
        }
        tapped
            .into_iter()
            .map(|t| t.ok_or_else(|| internal(0, "tap not produced")))
            .collect()
    }
}

/// The profile record timing YAML row `layer` (its kernel calls are recorded inside it).
fn record_row(ctx: &mut Context, layer: usize, timer: Option<std::time::Instant>) {
    if timer.is_some() {
        ctx.record(timer, &format!("model.{layer}"), LAYER_RECORD, 0, 0);
    }
}

/// A single-output kernel node: into its home slice of a Concat buffer, or a buffer of its own;
/// a block whose input or output has a u8 home through [`run_block_u8`].
fn run_kernel(
    ctx: &mut Context,
    node: &Node,
    kernel: &Kernel,
    values: &mut Values<'_, '_>,
) -> Result<()> {
    let v = node.outputs[0];
    if let Kernel::Block(block) = kernel {
        let u8_input = node.inputs.len() == 1 && values.u8_home(node.inputs[0]).is_some();
        if u8_input || values.u8_home(v).is_some() {
            return run_block_u8(ctx, node, block, values);
        }
    }
    let channels = values.shapes[v][3];
    let home = values.plan.home(v);
    let (mut buf, offset) = match home {
        Some(h) => (values.take_buffer(ctx, h.buffer, node.layer)?, h.offset),
        None => (values.take_buffer(ctx, v, node.layer)?, 0),
    };
    if node.inputs.len() > MAX_KERNEL_INPUTS {
        return Err(internal(node.layer, "too many kernel inputs"));
    }
    let result = (|| {
        let mut inputs = [*values.image; MAX_KERNEL_INPUTS];
        for (view, &src) in inputs.iter_mut().zip(&node.inputs) {
            *view = values.view(src, node.layer)?;
        }
        let mut all = buf.view_mut();
        let mut out = all.channels_mut(offset, channels)?;
        kernel.run(ctx, &inputs[..node.inputs.len()], &mut out)
    })();
    match home {
        Some(h) => {
            values.slots[h.buffer] = Slot::Owned(buf);
            values.slots[v] = Slot::Homed;
        }
        None => values.slots[v] = Slot::Owned(buf),
    }
    result
}

/// A block node with a u8 home on its input (read as u8 codes, or as f32 with its u8 copy) or
/// on its output (written as u8 codes with the readers' quantization).
fn run_block_u8(
    ctx: &mut Context,
    node: &Node,
    block: &Block,
    values: &mut Values<'_, '_>,
) -> Result<()> {
    let v = node.outputs[0];
    if node.inputs.len() != 1 {
        return Err(internal(node.layer, "a u8 block node reads one input"));
    }
    values.make_copy(ctx, node, 0)?;
    if let Some(U8Home::Only(q)) = values.u8_home(v) {
        let codes = {
            let input = values.conv_input(node, 0)?;
            block.forward_to_u8(ctx, input.as_conv_input(), q)?
        };
        values.codes[v] = Some(codes);
        return Ok(());
    }
    let channels = values.shapes[v][3];
    let home = values.plan.home(v);
    let (mut buf, offset) = match home {
        Some(h) => (values.take_buffer(ctx, h.buffer, node.layer)?, h.offset),
        None => (values.take_buffer(ctx, v, node.layer)?, 0),
    };
    let result = (|| {
        let input = values.conv_input(node, 0)?;
        let mut all = buf.view_mut();
        let mut out = all.channels_mut(offset, channels)?;
        block.forward_input_into(ctx, input.as_conv_input(), &mut out)
    })();
    match home {
        Some(h) => {
            values.slots[h.buffer] = Slot::Owned(buf);
            values.slots[v] = Slot::Homed;
        }
        None => values.slots[v] = Slot::Owned(buf),
    }
    result
}

/// A Concat node: copies in the inputs the plan did not place in its buffer.
fn run_concat(
    ctx: &mut Context,
    node: &Node,
    copy_in: &[(usize, usize)],
    values: &mut Values<'_, '_>,
) -> Result<()> {
    let v = node.outputs[0];
    let mut buf = values.take_buffer(ctx, v, node.layer)?;
    let result = (|| {
        for &(k, offset) in copy_in {
            let src = node.inputs[k];
            let part = values.view(src, node.layer)?;
            let channels = values.shapes[src][3];
            copy_into(&part, &mut buf.view_mut().channels_mut(offset, channels)?)?;
        }
        Ok(())
    })();
    values.slots[v] = Slot::Owned(buf);
    result
}

impl crate::detector::DetectionModel for YoloModel {
    fn forward(&self, images: ArrayView4<'_, f32>, ctx: &mut Context) -> Result<Array3<f32>> {
        YoloModel::forward(self, images, ctx)
    }

    fn forward_into(
        &self,
        images: ArrayView4<'_, f32>,
        ctx: &mut Context,
        out: &mut Array3<f32>,
    ) -> Result<()> {
        YoloModel::forward_into(self, images, ctx, out)
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
