//! u8 homes: values of the lowered graph that INT8 convs of several nodes read, held as u8
//! codes so that they are quantized once, or never.
//!
//! Inside a block, INT8 convs reading one tensor share one quantization pass and an INT8 conv
//! read only by an INT8 conv writes u8 codes (`ghost_layers::ConvBnAct::forward_to_u8`). This
//! patch does the same across nodes. For every value it looks at the readers: each reading
//! node names the INT8 conv through which it reads the value, if any ([`reader`]: a block's
//! first conv, Detect's first conv of a level), and whether that conv is its only read of it.
//!
//! - [`U8Home::Only`]: every reader reads the value only through an INT8 conv, all with the
//!   same input quantization, and the producer is a block whose last conv is INT8 with nothing
//!   added after it. The producer writes u8 codes with the readers' quantization through its
//!   requantizing epilogue (the codes of quantizing its f32 output: exact, see docs/int8.md),
//!   and no f32 tensor exists. The row's value is then gone from the patched graph (a tap on
//!   it runs the plain graph, as for the other rewrites).
//! - [`U8Home::Copy`]: two or more readers read the value through INT8 convs with the same input
//!   quantization (and others may read the f32): the first of them quantizes it, the others
//!   read that copy, which lives as long as the f32 value.
//!
//! Readers whose INT8 convs disagree on the quantization (convs calibrated on other values:
//! a Concat of it, another split) keep f32. Two convs reading one tensor were calibrated on the
//! same values, so they have the same parameters; the patch checks it at load and falls back
//! otherwise. Off with `Context::set_int8_shared_quantization(false)`: then the patched graph
//! runs every value in f32.

use ghost_layers::ActQuant;

use crate::blocks::Conv;
use crate::lowering::{ExecGraph, Kernel, Node, Op};

/// How a value is held besides, or instead of, f32.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum U8Home {
    /// Only as u8 codes with this quantization, written by its producer.
    Only(ActQuant),
    /// f32, plus one u8 copy with this quantization made by its first INT8 reader.
    Copy(ActQuant),
}

/// The INT8 conv through which `node` reads its input `pos`, and whether that conv is the
/// node's only read of it (so the node can run on the u8 codes alone).
pub(crate) fn reader(node: &Node, pos: usize) -> Option<(&Conv, bool)> {
    match &node.op {
        Op::Kernel(Kernel::Block(b)) if node.inputs.len() == 1 => b.u8_reader().map(|c| (c, true)),
        Op::Detect(d) => d.u8_reader(pos).map(|c| (c, false)),
        _ => None,
    }
}

/// Whether `node` can write its output as u8 codes (a block with an INT8 last conv).
fn writes_u8(node: &Node) -> bool {
    matches!(&node.op, Op::Kernel(Kernel::Block(b)) if b.u8_writer().is_some())
}

/// The u8 home of every value of `graph` (see the module documentation).
pub(crate) fn plan(graph: &ExecGraph) -> Vec<Option<U8Home>> {
    let mut homes = vec![None; graph.channels.len()];
    for (p, producer) in graph.nodes.iter().enumerate() {
        for &v in &producer.outputs {
            let reads: Vec<Option<(&Conv, bool)>> = graph
                .nodes
                .iter()
                .enumerate()
                .filter(|&(k, _)| k != p)
                .flat_map(|(_, node)| {
                    node.inputs
                        .iter()
                        .enumerate()
                        .filter(move |&(_, &q)| q == v)
                        .map(move |(pos, _)| reader(node, pos))
                })
                .collect();
            let quants: Vec<ActQuant> = reads
                .iter()
                .filter_map(|r| r.and_then(|(c, _)| c.input_quant()))
                .collect();
            let Some(&q) = quants.first() else {
                continue;
            };
            if quants.iter().any(|&o| o != q) {
                continue;
            }
            let only_u8 = reads.iter().all(|r| matches!(r, Some((_, true))));
            homes[v] = if only_u8 && producer.outputs.len() == 1 && writes_u8(producer) {
                Some(U8Home::Only(q))
            } else if quants.len() >= 2 {
                Some(U8Home::Copy(q))
            } else {
                None
            };
        }
    }
    homes
}

/// Gives `graph`'s values their u8 homes; a row whose value is held only as u8 loses its
/// value (taps on it run the plain graph). Returns how many values got a home.
pub(crate) fn apply(graph: &mut ExecGraph) -> usize {
    let homes = plan(graph);
    for (v, home) in homes.iter().enumerate() {
        if let Some(U8Home::Only(_)) = home {
            for value in graph.layer_values.iter_mut() {
                if *value == Some(v) {
                    *value = None;
                }
            }
        }
    }
    let count = homes.iter().filter(|h| h.is_some()).count();
    graph.u8_homes = homes;
    count
}

#[cfg(test)]
mod tests {
    use crate::graph::YoloModel;
    use crate::spec::ModelSpec;
    use ghost_layers::SeededWeights;

    /// An FP32 model has no INT8 reader: no value gets a u8 home and every row keeps its value
    /// (the patched graph then runs exactly as before this patch).
    #[test]
    fn fp32_models_have_no_u8_homes() {
        for name in ["yolo11n-ghost", "yolo11n"] {
            let spec = ModelSpec::from_name(name).unwrap();
            let model = YoloModel::load(&spec, &SeededWeights::new(2)).unwrap();
            let graph = model.exec_graph();
            assert_eq!(graph.u8_homes.len(), graph.channels.len(), "{name}");
            assert!(graph.u8_homes.iter().all(Option::is_none), "{name}");
            assert!(
                graph.layer_values[5].is_some(),
                "{name}: row 5 keeps its value"
            );
        }
    }
}
