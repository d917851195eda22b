//! Lowering: a [`ModelSpec`] with its loaded layers becomes an [`ExecGraph`], the list of nodes
//! a forward pass runs in order.
//!
//! A node names its operation (with the layers, kernels prepacked, it runs), the values it reads
//! and the values it writes. Values are activation tensors numbered from 0 (the input image);
//! their channel counts are fixed at load, their spatial sizes follow the input
//! ([`ExecGraph::shapes`]). The YAML's index layers disappear here: GhostNet's node writes its
//! four feature maps straight into the values the index layers stood for, and a row with several
//! chained copies becomes one node per copy.
//!
//! After lowering, rewrites patch the graph (see [`crate::rewrites`]); then the memory
//! [`Plan`] is computed on the patched graph. The run loop (`graph.rs`) only walks the nodes.

use std::sync::Arc;

use ghost_backbone::GhostNet;
use ghost_layers::{Context, TensorView, TensorViewMut};

use crate::blocks::resample::upsample_nearest;
use crate::blocks::{Block, Detect};
use crate::error::{Result, YoloError};
use crate::plan::Plan;
use crate::spec::{ModelSpec, ModuleSpec, Source};
use crate::u8_homes::U8Home;

/// Index of a value (an activation tensor) of an [`ExecGraph`].
pub(crate) type ValueId = usize;

/// The input image's value.
pub(crate) const IMAGE: ValueId = 0;

/// A rewrite's own single-output operation (see [`crate::rewrites`] for how to add one). It
/// writes into a caller-given view, which may be a channel slice of a Concat buffer.
pub(crate) trait NodeKernel: std::fmt::Debug + Send + Sync {
    /// Output shape (NHWC) for the input shapes, in the node's input order.
    fn output_shape(&self, inputs: &[[usize; 4]]) -> Result<[usize; 4]>;

    /// Runs on `inputs` into `out` (shape [`NodeKernel::output_shape`]; it does not overlap the
    /// inputs).
    fn run(
        &self,
        ctx: &mut Context,
        inputs: &[TensorView<'_>],
        out: &mut TensorViewMut<'_>,
    ) -> Result<()>;
}

/// A single-output operation: what the memory plan may place in a Concat buffer.
#[derive(Clone, Debug)]
pub(crate) enum Kernel {
    /// One copy of a block (`model.i.` or `model.i.j.`).
    Block(Arc<Block>),
    /// Nearest upsampling by an integer factor.
    Upsample(usize),
    /// An operation a rewrite introduced.
    Rewrite(Arc<dyn NodeKernel>),
}

impl Kernel {
    /// Output shape (NHWC) for the input shapes.
    pub(crate) fn output_shape(&self, inputs: &[[usize; 4]]) -> Result<[usize; 4]> {
        match self {
            Kernel::Block(b) => b.output_shape(inputs[0]),
            Kernel::Upsample(f) => {
                let [n, h, w, c] = inputs[0];
                Ok([n, h * f, w * f, c])
            }
            Kernel::Rewrite(k) => k.output_shape(inputs),
        }
    }

    /// Runs on `inputs` into `out`.
    pub(crate) fn run(
        &self,
        ctx: &mut Context,
        inputs: &[TensorView<'_>],
        out: &mut TensorViewMut<'_>,
    ) -> Result<()> {
        match self {
            Kernel::Block(b) => b.forward_into(ctx, &inputs[0], out),
            Kernel::Upsample(f) => upsample_nearest(ctx, &inputs[0], *f, out),
            Kernel::Rewrite(k) => k.run(ctx, inputs, out),
        }
    }
}

/// What a node runs.
#[derive(Clone, Debug)]
pub(crate) enum Op {
    /// GhostNet V1: the image -> its four feature maps (four output values).
    Backbone(Arc<GhostNet>),
    /// A single-output operation (one output value).
    Kernel(Kernel),
    /// Channel concatenation of the inputs (one output value); inputs the plan placed in the
    /// buffer already are not copied.
    Concat,
    /// The detection head: writes `output0` (no output value).
    Detect(Arc<Detect>),
}

/// One step of a forward pass.
#[derive(Clone, Debug)]
pub(crate) struct Node {
    /// The YAML row it comes from (profiling scope, error messages).
    pub layer: usize,
    /// What it runs.
    pub op: Op,
    /// The values it reads, in order.
    pub inputs: Vec<ValueId>,
    /// The values it writes.
    pub outputs: Vec<ValueId>,
}

/// A lowered, patched and planned model.
#[derive(Clone, Debug)]
pub(crate) struct ExecGraph {
    /// Nodes in execution order (every input produced by an earlier node or the image).
    pub nodes: Vec<Node>,
    /// Channels of every value (value 0 is the image).
    pub channels: Vec<usize>,
    /// The value holding each YAML row's output: `None` for GhostNet and Detect (no single
    /// output) and for rows a rewrite removed.
    pub layer_values: Vec<Option<ValueId>>,
    /// Where every value lives and when it is released.
    pub plan: Plan,
    /// Per value: its u8 home (`u8_homes.rs`); empty when no value has one (the plain graph).
    pub u8_homes: Vec<Option<U8Home>>,
}

/// A YAML row with its layers loaded (`graph.rs` loads them, possibly on several threads).
#[derive(Clone, Debug)]
pub(crate) enum LoadedLayer {
    /// GhostNet V1 (layer 0).
    Backbone(Box<GhostNet>),
    /// Takes backbone output `k`.
    Index(usize),
    /// One or more chained copies of a block.
    Blocks(Vec<Block>),
    /// Nearest upsampling.
    Upsample(usize),
    /// Channel concatenation.
    Concat,
    /// The detection head.
    Detect(Box<Detect>),
}

impl ExecGraph {
    /// Lowers `spec` with its loaded `layers` (one per row); the plan is left empty
    /// ([`ExecGraph::finish`] computes it after the rewrites).
    pub(crate) fn lower(spec: &ModelSpec, layers: Vec<LoadedLayer>) -> Result<ExecGraph> {
        let mut graph = ExecGraph {
            nodes: Vec::with_capacity(layers.len()),
            channels: vec![spec.input_channels],
            layer_values: vec![None; layers.len()],
            plan: Plan::default(),
            u8_homes: Vec::new(),
        };
        let mut features: Option<[ValueId; 4]> = None;
        for (layer, loaded) in spec.layers.iter().zip(layers) {
            let i = layer.index;
            if let LoadedLayer::Index(k) = loaded {
                // No node: the row's value is the backbone's output `k`.
                let value = features
                    .and_then(|f| f.get(k).copied())
                    .ok_or_else(|| internal(i, "index of a missing backbone output"))?;
                graph.layer_values[i] = Some(value);
                continue;
            }
            let inputs = layer
                .inputs
                .iter()
                .map(|s| match *s {
                    Source::Image => Ok(IMAGE),
                    Source::Layer(p) => graph.layer_values[p].ok_or_else(|| {
                        internal(i, &format!("reads layer {p}, which has no single output"))
                    }),
                })
                .collect::<Result<Vec<_>>>()?;
            match loaded {
                LoadedLayer::Backbone(net) => {
                    let ModuleSpec::GhostNet { channels, .. } = &layer.module else {
                        return Err(internal(i, "GhostNet weights for another module"));
                    };
                    let outputs = channels.map(|c| graph.add_value(c));
                    features = Some(outputs);
                    graph.push(i, Op::Backbone(Arc::from(net)), inputs, outputs.to_vec());
                }
                LoadedLayer::Index(_) => unreachable!("handled above"),
                LoadedLayer::Blocks(blocks) => {
                    let mut input = inputs;
                    let copies = blocks.len();
                    for (j, block) in blocks.into_iter().enumerate() {
                        // Intermediate copies' channels are the row's output channels too
                        // (chained copies map c2 -> c2), but only the last one is the row's.
                        let out = graph.add_value(layer.out_channels());
                        graph.push(
                            i,
                            Op::Kernel(Kernel::Block(Arc::new(block))),
                            input,
                            vec![out],
                        );
                        input = vec![out];
                        if j + 1 == copies {
                            graph.layer_values[i] = Some(out);
                        }
                    }
                    if copies == 0 {
                        return Err(internal(i, "layer has no blocks"));
                    }
                }
                LoadedLayer::Upsample(f) => {
                    let out = graph.add_value(layer.out_channels());
                    graph.push(i, Op::Kernel(Kernel::Upsample(f)), inputs, vec![out]);
                    graph.layer_values[i] = Some(out);
                }
                LoadedLayer::Concat => {
                    let c = inputs.iter().map(|&v| graph.channels[v]).sum();
                    let out = graph.add_value(c);
                    graph.push(i, Op::Concat, inputs, vec![out]);
                    graph.layer_values[i] = Some(out);
                }
                LoadedLayer::Detect(head) => {
                    graph.push(i, Op::Detect(Arc::from(head)), inputs, Vec::new());
                }
            }
        }
        Ok(graph)
    }

    /// Computes the memory plan (after every rewrite).
    pub(crate) fn finish(mut self) -> ExecGraph {
        self.plan = Plan::new(&self);
        self
    }

    /// A new value of `channels` channels.
    pub(crate) fn add_value(&mut self, channels: usize) -> ValueId {
        self.channels.push(channels);
        self.channels.len() - 1
    }

    fn push(&mut self, layer: usize, op: Op, inputs: Vec<ValueId>, outputs: Vec<ValueId>) {
        self.nodes.push(Node {
            layer,
            op,
            inputs,
            outputs,
        });
    }

    /// The nodes reading value `v`, in order.
    pub(crate) fn readers(&self, v: ValueId) -> impl Iterator<Item = usize> + '_ {
        self.nodes
            .iter()
            .enumerate()
            .filter(move |(_, n)| n.inputs.contains(&v))
            .map(|(k, _)| k)
    }

    /// Shapes (NHWC) of every value for an input image of shape `image`; values no node
    /// produces (removed by a rewrite) stay `[0; 4]`. Checks that Concat inputs agree.
    pub(crate) fn shapes(&self, image: [usize; 4], shapes: &mut Vec<[usize; 4]>) -> Result<()> {
        shapes.clear();
        shapes.resize(self.channels.len(), [0; 4]);
        shapes[IMAGE] = image;
        let [n, h, w, _] = image;
        for node in &self.nodes {
            match &node.op {
                Op::Backbone(net) => {
                    let levels = net.config().feature_shapes(n, h, w);
                    for (&v, shape) in node.outputs.iter().zip(levels) {
                        shapes[v] = shape;
                    }
                }
                Op::Kernel(kernel) => {
                    let mut inputs = [[0; 4]; MAX_KERNEL_INPUTS];
                    if node.inputs.len() > MAX_KERNEL_INPUTS {
                        return Err(internal(node.layer, "too many kernel inputs"));
                    }
                    for (s, &v) in inputs.iter_mut().zip(&node.inputs) {
                        *s = shapes[v];
                    }
                    shapes[node.outputs[0]] = kernel.output_shape(&inputs[..node.inputs.len()])?;
                }
                Op::Concat => {
                    let first = shapes[node.inputs[0]];
                    if node.inputs.iter().any(|&v| shapes[v][..3] != first[..3]) {
                        let parts: Vec<[usize; 4]> =
                            node.inputs.iter().map(|&v| shapes[v]).collect();
                        return Err(YoloError::InputShape {
                            operand: "concat inputs",
                            expected: format!("equal N, H, W at layer {}", node.layer),
                            found: format!("{parts:?} for a {h}x{w} image"),
                        });
                    }
                    let c = node.inputs.iter().map(|&v| shapes[v][3]).sum();
                    shapes[node.outputs[0]] = [first[0], first[1], first[2], c];
                }
                Op::Detect(_) => {}
            }
        }
        Ok(())
    }
}

/// The most inputs a [`Kernel`] node takes (blocks take 1, the upsample rewrite's consumer 2).
pub(crate) const MAX_KERNEL_INPUTS: usize = 4;

/// An engine bug at `layer` (never a user error).
pub(crate) fn internal(layer: usize, what: &str) -> YoloError {
    YoloError::Internal {
        layer,
        message: what.to_string(),
    }
}
