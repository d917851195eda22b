//! Graph rewrites: patches of the lowered graph applied at load, before the memory plan.
//!
//! A rewrite finds a pattern of nodes in the [`ExecGraph`] and replaces it with nodes running
//! its own [`NodeKernel`]s (new values where it needs them). It touches nothing else: the run
//! loop runs whatever nodes it finds, and the plan, computed afterwards on the patched graph,
//! places the new values and releases them after their last reader. A YAML row whose output
//! no longer exists after a patch gets `layer_values[row] = None`; a forward pass that asks for
//! such an output (a tap) runs the unpatched graph, which the model keeps beside the patched one.
//!
//! To add a rewrite: write `fn apply(graph: &mut ExecGraph, spec: &ModelSpec, weights: &dyn
//! WeightSource) -> Result<usize>` in its own module (finding its pattern on the graph, loading
//! whatever weights its kernels need) and call it from [`apply_all`]. `docs/architecture.md`
//! walks through an example, which is also the test `tests::a_rewrite_is_a_graph_patch` below.

use ghost_layers::WeightSource;

use crate::error::Result;
use crate::lowering::ExecGraph;
#[cfg(doc)]
use crate::lowering::NodeKernel;
use crate::spec::ModelSpec;
use crate::{u8_homes, upsample_rewrite};

/// Every rewrite, in order (the u8 homes last: they look at the nodes the others made).
/// Returns how many patterns were rewritten and values given a u8 home.
pub(crate) fn apply_all(
    graph: &mut ExecGraph,
    spec: &ModelSpec,
    weights: &dyn WeightSource,
) -> Result<usize> {
    let rewritten = upsample_rewrite::apply(graph, spec, weights)?;
    Ok(rewritten + u8_homes::apply(graph))
}

#[cfg(test)]
mod tests {
    //! The worked example of docs/architecture.md ("Adding a rewrite").
    use std::sync::Arc;

    use ghost_layers::{Context, SeededWeights, TensorView, TensorViewMut, Threads};
    use ndarray::Array4;

    use crate::blocks::resample::upsample_nearest;
    use crate::error::Result;
    use crate::graph::YoloModel;
    use crate::lowering::{ExecGraph, Kernel, NodeKernel, Op};
    use crate::spec::ModelSpec;

    /// Nearest upsampling as a rewrite's own kernel.
    #[derive(Debug)]
    struct NearestUpsample {
        factor: usize,
    }

    impl NodeKernel for NearestUpsample {
        fn output_shape(&self, inputs: &[[usize; 4]]) -> Result<[usize; 4]> {
            let [n, h, w, c] = inputs[0];
            Ok([n, h * self.factor, w * self.factor, c])
        }

        fn run(
            &self,
            ctx: &mut Context,
            inputs: &[TensorView<'_>],
            out: &mut TensorViewMut<'_>,
        ) -> Result<()> {
            upsample_nearest(ctx, &inputs[0], self.factor, out)
        }
    }

    /// The example rewrite: every upsample node runs through [`NearestUpsample`].
    fn apply(graph: &mut ExecGraph) -> usize {
        let mut rewritten = 0;
        for node in &mut graph.nodes {
            if let Op::Kernel(Kernel::Upsample(factor)) = node.op {
                node.op = Op::Kernel(Kernel::Rewrite(Arc::new(NearestUpsample { factor })));
                rewritten += 1;
            }
        }
        rewritten
    }

    #[test]
    fn a_rewrite_is_a_graph_patch() {
        let spec = ModelSpec::from_name("yolo11n").unwrap();
        let model = YoloModel::load(&spec, &SeededWeights::new(5)).unwrap();
        let plain = model.plain_graph();
        let mut patched = plain.clone();
        assert_eq!(apply(&mut patched), 2, "yolo11n's neck has two upsamples");
        let patched = patched.finish();
        // The plan does not care what a kernel node computes: the upsampled values are still
        // written straight into their Concat buffers.
        for node in patched
            .nodes
            .iter()
            .filter(|n| matches!(&n.op, Op::Kernel(Kernel::Rewrite(_))))
        {
            assert!(patched.plan.home(node.outputs[0]).is_some(), "{node:?}");
        }
        assert_eq!(patched.plan, plain.plan);

        let images = Array4::from_shape_fn((1, 3, 64, 96), |(_, c, y, x)| {
            ((c * 31 + y * 7 + x * 3) % 97) as f32 / 96.0
        });
        let mut ctx = Context::new(Threads::single());
        let expected = model
            .with_graph(plain.clone())
            .forward(images.view(), &mut ctx);
        let got = model.with_graph(patched).forward(images.view(), &mut ctx);
        let (expected, got) = (expected.unwrap(), got.unwrap());
        assert_eq!(expected.shape(), got.shape());
        assert!(
            expected
                .iter()
                .zip(&got)
                .all(|(a, b)| a.to_bits() == b.to_bits()),
            "the example rewrite changed the output"
        );
    }
}
