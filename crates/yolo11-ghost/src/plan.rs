//! Where every value of the lowered graph lives, decided once at load, after the rewrites.
//!
//! Zero-copy Concat: a value made by a single-output kernel node (a block, an upsample, a
//! rewrite's kernel) is given a *home*, a channel slice of the Concat buffer it feeds, and its
//! node writes there directly; later readers read that slice. A value gets at most one home (the
//! first Concat that reads it); Concat inputs without a home (GhostNet's outputs, a value already
//! homed elsewhere, or a value whose node reads the same Concat buffer it would write) are
//! copied in when the Concat runs.
//!
//! Lifetimes: every buffer is returned to the context's pool after its last reader has run (a
//! Concat buffer after the last reader of the Concat or of any slice homed in it). Nothing else
//! releases buffers: a rewrite changes the graph, and the lifetimes follow.

use crate::lowering::{ExecGraph, Op, ValueId, IMAGE};

/// A value's place inside a Concat buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Home {
    /// The Concat's output value (owner of the buffer).
    pub buffer: ValueId,
    /// First channel of the slice.
    pub offset: usize,
}

/// The buffer plan of a lowered graph.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// Per value: its home, if its node writes into a Concat buffer.
    pub(crate) home: Vec<Option<Home>>,
    /// Per node: `(input position, channel offset)` of the Concat inputs it copies (empty for
    /// other nodes and for inputs written in place).
    pub(crate) copy_in: Vec<Vec<(usize, usize)>>,
    /// Per node: the values whose buffers go back to the pool once it has run.
    pub(crate) release_after: Vec<Vec<ValueId>>,
}

impl Plan {
    /// Plans `graph`.
    pub(crate) fn new(graph: &ExecGraph) -> Plan {
        let values = graph.channels.len();
        let nodes = &graph.nodes;
        // The node writing each value; single-output kernel nodes may write into a slice.
        let mut producer: Vec<Option<usize>> = vec![None; values];
        for (k, node) in nodes.iter().enumerate() {
            for &v in &node.outputs {
                producer[v] = Some(k);
            }
        }
        let writes_into_view =
            |v: ValueId| producer[v].is_some_and(|k| matches!(nodes[k].op, Op::Kernel(_)));

        let mut home: Vec<Option<Home>> = vec![None; values];
        for node in nodes.iter().filter(|n| matches!(n.op, Op::Concat)) {
            let mut offset = 0;
            for &v in &node.inputs {
                // A value the Concat takes twice is copied both times (its slice could not be
                // read while the Concat writes the other copy into the same buffer).
                let once = node.inputs.iter().filter(|&&q| q == v).count() == 1;
                if once && home[v].is_none() && writes_into_view(v) {
                    home[v] = Some(Home {
                        buffer: node.outputs[0],
                        offset,
                    });
                }
                offset += graph.channels[v];
            }
        }
        // A node must not read the buffer it writes: drop such homes until none is left
        // (dropping one can only remove conflicts).
        loop {
            let conflict = (0..values).find(|&v| {
                home[v].is_some_and(|h| {
                    producer[v].is_some_and(|k| {
                        nodes[k]
                            .inputs
                            .iter()
                            .any(|&q| home[q].is_some_and(|hq| hq.buffer == h.buffer))
                    })
                })
            });
            match conflict {
                Some(v) => home[v] = None,
                None => break,
            }
        }

        let copy_in = nodes
            .iter()
            .map(|node| {
                if !matches!(node.op, Op::Concat) {
                    return Vec::new();
                }
                let mut offset = 0;
                let mut copies = Vec::new();
                for (k, &v) in node.inputs.iter().enumerate() {
                    let here = Home {
                        buffer: node.outputs[0],
                        offset,
                    };
                    if home[v] != Some(here) {
                        copies.push((k, offset));
                    }
                    offset += graph.channels[v];
                }
                copies
            })
            .collect();

        // Last reader of every produced value (its own node when nothing reads it).
        let mut last_use: Vec<Option<usize>> = producer.clone();
        for (k, node) in nodes.iter().enumerate() {
            for &v in &node.inputs {
                last_use[v] = last_use[v].max(Some(k));
            }
        }
        // A Concat buffer lives as long as any slice homed in it is still read.
        for v in 0..values {
            if let Some(h) = home[v] {
                last_use[h.buffer] = last_use[h.buffer].max(last_use[v]);
            }
        }
        let mut release_after = vec![Vec::new(); nodes.len()];
        for (v, last) in last_use.iter().enumerate() {
            // The image belongs to the caller; a homed value's buffer is its Concat's.
            if let (Some(last), None, false) = (last, home[v], v == IMAGE || producer[v].is_none())
            {
                release_after[*last].push(v);
            }
        }
        Plan {
            home,
            copy_in,
            release_after,
        }
    }

    /// Number of Concat inputs that are copied rather than written in place.
    #[cfg(test)]
    pub fn copied_inputs(&self) -> usize {
        self.copy_in.iter().map(Vec::len).sum()
    }

    /// The home of value `v`.
    pub(crate) fn home(&self, v: ValueId) -> Option<Home> {
        self.home.get(v).copied().flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::YoloModel;
    use crate::spec::ModelSpec;
    use ghost_layers::SeededWeights;

    fn model(name: &str) -> YoloModel {
        YoloModel::load(&ModelSpec::from_name(name).unwrap(), &SeededWeights::new(3)).unwrap()
    }

    /// The home of YAML row `layer`'s value, as `(row of the Concat, offset)`.
    fn home_of(graph: &ExecGraph, layer: usize) -> Option<(usize, usize)> {
        let v = graph.layer_values[layer].unwrap();
        graph.plan.home(v).map(|h| {
            let concat = graph.layer_values.iter().position(|&x| x == Some(h.buffer));
            (concat.unwrap(), h.offset)
        })
    }

    /// Release node of YAML row `layer`'s value.
    fn released_by(graph: &ExecGraph, layer: usize) -> usize {
        let v = graph.layer_values[layer].unwrap();
        let k = (0..graph.nodes.len())
            .find(|&k| graph.plan.release_after[k].contains(&v))
            .unwrap();
        graph.nodes[k].layer
    }

    #[test]
    fn yolo11_ghost_concats_are_mostly_in_place() {
        let m = model("yolo11n-ghost");
        let plain = m.plain_graph();
        // 8 = cat(7 upsample, 3 GhostNet P4): 7 in place, 3 copied.
        assert_eq!(home_of(plain, 7), Some((8, 0)));
        assert_eq!(home_of(plain, 3), None);
        // 14 = cat(13, 9), 17 = cat(16, 6): all in place (9 and 6 are also read elsewhere).
        assert_eq!(home_of(plain, 13), Some((14, 0)));
        assert_eq!(home_of(plain, 9), Some((14, 64)));
        assert_eq!(home_of(plain, 6), Some((17, 128)));
        assert_eq!(plain.plan.copied_inputs(), 2);
        // Concat 14's buffer outlives layer 10, which reads layer 9's slice, and Detect reads 15.
        assert_eq!(released_by(plain, 14), 15);

        // Patched: the two top-down Concats (8, 11) are gone, so are their copies; the skip
        // inputs (GhostNet's 3 and 2) live until their consumers (9, 12) have read them.
        let patched = m.exec_graph();
        assert_eq!(patched.plan.copied_inputs(), 0);
        assert_eq!(released_by(patched, 3), 9);
        assert_eq!(released_by(patched, 2), 12);
        assert_eq!(home_of(patched, 9), Some((14, 64)));
    }

    #[test]
    fn yolo11_backbone_features_are_written_in_place() {
        let m = model("yolo11n");
        let (spec, plain) = (m.spec(), m.plain_graph());
        assert_eq!(plain.plan.copied_inputs(), 0);
        // 12 = cat(11 upsample, 6 C3k2): 6 sits after the upsampled channels.
        let offset = spec.layers[11].out_channels();
        assert_eq!(home_of(plain, 6), Some((12, offset)));
        assert_eq!(home_of(plain, 11), Some((12, 0)));
    }

    #[test]
    fn every_produced_value_is_released_once() {
        for name in ["yolo11n", "yolo11n-ghost", "yolo11s"] {
            let m = model(name);
            for graph in [m.plain_graph(), m.exec_graph()] {
                let mut released = vec![0; graph.channels.len()];
                for list in &graph.plan.release_after {
                    for &v in list {
                        released[v] += 1;
                    }
                }
                for node in &graph.nodes {
                    for &v in &node.outputs {
                        let expected = usize::from(graph.plan.home(v).is_none());
                        assert_eq!(released[v], expected, "{name}: value {v}");
                    }
                }
                assert_eq!(released[IMAGE], 0);
            }
        }
    }
}
