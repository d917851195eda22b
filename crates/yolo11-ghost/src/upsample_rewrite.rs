//! The upsample-then-1x1 rewrite of YOLO11's top-down path, a patch of the lowered graph.
//!
//! The neck upsamples a coarse map `x` (nearest), concatenates it with a finer skip map `s`, and
//! feeds the result to a C3k2 (or C2f) whose first conv `cv1` is 1x1:
//! `cv1(cat(up(x), s)) = act(W_x up(x) + W_s s + b)`. A 1x1 conv commutes with nearest
//! upsampling (`W_x up(x) = up(W_x x)`), so the `x` columns can run at the coarse resolution:
//! `act(up(W_x x) + W_s s + b)`, a quarter of their multiply-adds for a 2x upsample, and the
//! upsample copies `2c` channels instead of `x`'s (fewer on every YOLO11 neck). The sum
//! `up(W_x x)` enters the `W_s` conv's epilogue as a residual added before the activation.
//!
//! Only the exact pattern is rewritten: an upsample read by nothing but a two-input Concat that
//! takes it first, the Concat read by nothing but a single-copy C3k2 / C2f. The patch replaces
//! the upsample node by [`CoarseProjection`] (`x -> up(W_x x)`, a new value), drops the Concat
//! node, and replaces the consumer by [`SplitCv1Consumer`] (reads the skip value and that new
//! value). The rows of the upsample and the Concat then have no value of their own: a forward
//! pass asking for them (intermediate taps) runs the plain, unpatched graph. Results differ from
//! the plain graph only in the order of the float additions.

use std::sync::Arc;

use ghost_layers::WeightSource;
use ghost_layers::{AddOrder, Context, ConvBnAct, Layer, Residual, TensorView, TensorViewMut};

use crate::blocks::resample::upsample_nearest;
use crate::blocks::{Block, Conv};
use crate::error::{Result, YoloError};
use crate::lowering::{ExecGraph, Kernel, NodeKernel, Op};
use crate::spec::{ConvArgs, ModelSpec};

/// Node indices of one rewritable pattern in a lowered graph.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Pattern {
    /// The upsample node.
    pub upsample: usize,
    /// The Concat node reading `cat(upsample, skip)`.
    pub concat: usize,
    /// The C3k2 / C2f node reading the Concat.
    pub consumer: usize,
    /// The upsample factor.
    pub factor: usize,
}

impl Pattern {
    /// The first rewritable pattern of `graph`, in node order.
    pub(crate) fn find(graph: &ExecGraph) -> Option<Pattern> {
        let only_reader = |v| match graph.readers(v).collect::<Vec<_>>()[..] {
            [k] => Some(k),
            _ => None,
        };
        graph.nodes.iter().enumerate().find_map(|(u, node)| {
            let Op::Kernel(Kernel::Upsample(factor)) = node.op else {
                return None;
            };
            let up = node.outputs[0];
            let concat = only_reader(up)?;
            let cat = &graph.nodes[concat];
            let takes_up_first = matches!(cat.op, Op::Concat)
                && matches!(cat.inputs[..], [first, skip] if first == up && skip != up);
            if !takes_up_first {
                return None;
            }
            let consumer = only_reader(cat.outputs[0])?;
            let block = &graph.nodes[consumer];
            let is_csp =
                matches!(&block.op, Op::Kernel(Kernel::Block(b)) if matches!(**b, Block::C2f(_)));
            // A single copy: it reads the Concat and its output is its row's output.
            let single_copy = block.inputs == [cat.outputs[0]]
                && graph.layer_values[block.layer] == Some(block.outputs[0]);
            (is_csp && single_copy).then_some(Pattern {
                upsample: u,
                concat,
                consumer,
                factor,
            })
        })
    }
}

/// Applies the rewrite to every pattern of `graph`, loading the consumers' `cv1` split by input
/// channel from `weights`. Returns how many patterns were rewritten.
pub(crate) fn apply(
    graph: &mut ExecGraph,
    spec: &ModelSpec,
    weights: &dyn WeightSource,
) -> Result<usize> {
    let mut applied = 0;
    while let Some(p) = Pattern::find(graph) {
        let consumer = &graph.nodes[p.consumer];
        let Op::Kernel(Kernel::Block(block)) = &consumer.op else {
            unreachable!("Pattern::find checked the consumer is a block")
        };
        let Block::C2f(c2f) = &**block else {
            unreachable!("Pattern::find checked the consumer is a C2f")
        };
        let (c1, c2) = c2f.cv1_channels();
        let x = graph.nodes[p.upsample].inputs[0];
        let skip = graph.nodes[p.concat].inputs[1];
        let x_channels = graph.channels[x];
        let prefix = spec.layers[consumer.layer].prefix(0);
        let args = ConvArgs::new(c1, c2, 1, 1, true);
        let (low, high) =
            Conv::load_split_1x1(weights, &format!("{prefix}.cv1"), &args, x_channels)?;
        let split = Arc::new(SplitCv1 {
            low,
            high,
            factor: p.factor,
            x_channels,
            concat_layer: graph.nodes[p.concat].layer,
        });
        let consumer_kernel = SplitCv1Consumer {
            block: Arc::clone(block),
            split: Arc::clone(&split),
        };
        let coarse = graph.add_value(c2);

        let up_node = &mut graph.nodes[p.upsample];
        up_node.op = Op::Kernel(Kernel::Rewrite(Arc::new(CoarseProjection(split))));
        up_node.outputs = vec![coarse];
        let up_layer = up_node.layer;
        let consumer = &mut graph.nodes[p.consumer];
        consumer.op = Op::Kernel(Kernel::Rewrite(Arc::new(consumer_kernel)));
        consumer.inputs = vec![skip, coarse];
        let cat_layer = graph.nodes[p.concat].layer;
        graph.nodes.remove(p.concat);
        graph.layer_values[up_layer] = None;
        graph.layer_values[cat_layer] = None;
        applied += 1;
    }
    Ok(applied)
}

/// A consumer's `cv1` split by input channel.
#[derive(Debug)]
struct SplitCv1 {
    /// `cv1`'s columns of the upsampled channels: no bias, no activation (run coarse).
    low: ConvBnAct,
    /// `cv1`'s columns of the skip channels, with the bias and the activation.
    high: ConvBnAct,
    /// The upsample factor.
    factor: usize,
    /// Channels of the coarse map `x`.
    x_channels: usize,
    /// The removed Concat's row (error messages).
    concat_layer: usize,
}

/// `x -> up(W_x x)`: the coarse product, upsampled to the Concat's resolution.
#[derive(Debug)]
struct CoarseProjection(Arc<SplitCv1>);

impl NodeKernel for CoarseProjection {
    fn output_shape(&self, inputs: &[[usize; 4]]) -> Result<[usize; 4]> {
        let [n, h, w, c] = self.0.low.output_shape(inputs[0])?;
        Ok([n, h * self.0.factor, w * self.0.factor, c])
    }

    fn run(
        &self,
        ctx: &mut Context,
        inputs: &[TensorView<'_>],
        out: &mut TensorViewMut<'_>,
    ) -> Result<()> {
        let split = &self.0;
        let coarse_shape = split.low.output_shape(inputs[0].shape())?;
        let mut coarse = ctx.alloc(coarse_shape);
        let result = split
            .low
            .forward_into(ctx, &inputs[0], &mut coarse.view_mut(), None)
            .map_err(YoloError::from)
            .and_then(|()| upsample_nearest(ctx, &coarse.view(), split.factor, out));
        ctx.recycle(coarse);
        result
    }
}

/// The C3k2 / C2f with its `cv1` computed as `act(W_s s + b + up(W_x x))` from the skip value
/// and [`CoarseProjection`]'s value.
#[derive(Debug)]
struct SplitCv1Consumer {
    /// The consumer (a `Block::C2f`).
    block: Arc<Block>,
    split: Arc<SplitCv1>,
}

impl NodeKernel for SplitCv1Consumer {
    fn output_shape(&self, inputs: &[[usize; 4]]) -> Result<[usize; 4]> {
        let (skip, coarse) = (inputs[0], inputs[1]);
        if skip[..3] != coarse[..3] {
            return Err(YoloError::InputShape {
                operand: "concat inputs",
                expected: format!("equal N, H, W at layer {}", self.split.concat_layer),
                found: format!("{:?}", [coarse, skip]),
            });
        }
        let [n, h, w, c] = skip;
        self.block
            .output_shape([n, h, w, self.split.x_channels + c])
    }

    fn run(
        &self,
        ctx: &mut Context,
        inputs: &[TensorView<'_>],
        out: &mut TensorViewMut<'_>,
    ) -> Result<()> {
        let Block::C2f(c2f) = &*self.block else {
            unreachable!("the rewrite only takes C2f consumers")
        };
        let (skip, coarse) = (inputs[0], inputs[1]);
        c2f.forward_with_cv1(ctx, out, |ctx, y| {
            let residual = Residual {
                view: coarse,
                order: AddOrder::BeforeActivation,
            };
            Ok(self
                .split
                .high
                .forward_into(ctx, &skip, y, Some(residual))?)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::YoloModel;
    use ghost_layers::SeededWeights;

    /// Both top-down Concats of every YOLO11 scale are rewritten, and nothing else.
    #[test]
    fn rewrites_the_two_top_down_patterns() {
        for name in [
            "yolo11n",
            "yolo11m",
            "yolo11n-ghost",
            "yolo11m-ghost",
            "yolo11x",
        ] {
            let spec = ModelSpec::from_name(name).unwrap();
            let model = YoloModel::load(&spec, &SeededWeights::new(1)).unwrap();
            let (plain, patched) = (model.plain_graph(), model.exec_graph());
            assert_eq!(plain.nodes.len(), patched.nodes.len() + 2, "{name}");
            let mut patterns = 0;
            let mut plain = plain.clone();
            while let Some(p) = Pattern::find(&plain) {
                let layer = |k: usize| plain.nodes[k].layer;
                assert_eq!(layer(p.concat), layer(p.upsample) + 1, "{name}");
                assert_eq!(layer(p.consumer), layer(p.concat) + 1, "{name}");
                assert_eq!(p.factor, 2);
                // The patched graph has no value for the upsample and Concat rows.
                assert_eq!(patched.layer_values[layer(p.upsample)], None);
                assert_eq!(patched.layer_values[layer(p.concat)], None);
                plain.nodes.remove(p.concat);
                plain.nodes.remove(p.upsample);
                patterns += 1;
            }
            assert_eq!(patterns, 2, "{name}");
            assert_eq!(Pattern::find(patched), None, "{name}");
        }
    }
}
