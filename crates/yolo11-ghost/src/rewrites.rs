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
use crate::upsample_rewrite;

/// Every rewrite, in order. Returns how many patterns were rewritten.
pub(crate) fn apply_all(
    graph: &mut ExecGraph,
    spec: &ModelSpec,
    weights: &dyn WeightSource,
) -> Result<usize> {
    upsample_rewrite::apply(graph, spec, weights)
}
