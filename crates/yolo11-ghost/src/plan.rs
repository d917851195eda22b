//! Where every layer's output lives, decided once at load.
//!
//! Zero-copy Concat: a producer whose only job is to compute one tensor (a block or an
//! upsample) is given a *home*, a channel slice of the Concat buffer it feeds, and writes there
//! directly; later readers of the producer read that slice. A producer gets at most one home
//! (the first Concat that reads it); Concat inputs without a home (GhostNet outputs, a tensor
//! already homed elsewhere, or a producer that reads the same Concat buffer it would write) are
//! copied in when the Concat runs.
//!
//! Lifetimes: every buffer is returned to the context's pool after its last reader has run (a
//! Concat buffer after the last reader of the Concat or of any slice homed in it).

use crate::spec::{ModelSpec, ModuleSpec, Source};

/// A producer's place inside a Concat buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Home {
    /// The Concat layer owning the buffer.
    pub concat: usize,
    /// First channel of the slice.
    pub offset: usize,
}

/// The buffer plan of a model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    /// Per layer: its home, if it writes into a Concat buffer.
    pub home: Vec<Option<Home>>,
    /// Per layer `i`: the layers whose buffers can be released once `i` has run.
    pub release_after: Vec<Vec<usize>>,
}

/// Whether a layer's output can be written into a caller-given slice.
fn writes_into_view(module: &ModuleSpec) -> bool {
    !matches!(
        module,
        ModuleSpec::GhostNet { .. }
            | ModuleSpec::Index { .. }
            | ModuleSpec::Concat { .. }
            | ModuleSpec::Detect(_)
    )
}

impl Plan {
    /// Plans `spec`.
    pub fn new(spec: &ModelSpec) -> Plan {
        let n = spec.layers.len();
        let mut home: Vec<Option<Home>> = vec![None; n];
        for layer in &spec.layers {
            let ModuleSpec::Concat { ch } = &layer.module else {
                continue;
            };
            let mut offset = 0;
            for (src, &c) in layer.inputs.iter().zip(ch) {
                if let Source::Layer(p) = *src {
                    if home[p].is_none() && writes_into_view(&spec.layers[p].module) {
                        home[p] = Some(Home {
                            concat: layer.index,
                            offset,
                        });
                    }
                }
                offset += c;
            }
        }
        // A producer must not read the buffer it writes: drop such homes until none is left
        // (dropping one can only remove conflicts).
        loop {
            let conflict = (0..n).find(|&p| {
                home[p].is_some_and(|h| {
                    spec.layers[p].inputs.iter().any(|s| match *s {
                        Source::Layer(q) => home[q].is_some_and(|hq| hq.concat == h.concat),
                        Source::Image => false,
                    })
                })
            });
            match conflict {
                Some(p) => home[p] = None,
                None => break,
            }
        }

        // Last reader of every layer's output (the layer itself when nothing reads it).
        let mut last_use: Vec<usize> = (0..n).collect();
        for layer in &spec.layers {
            for src in &layer.inputs {
                if let Source::Layer(p) = *src {
                    last_use[p] = last_use[p].max(layer.index);
                }
            }
        }
        // GhostNet's outputs are handed to its Index layers, which own them afterwards.
        // A Concat buffer lives as long as any slice homed in it is still read.
        for p in 0..n {
            if let Some(h) = home[p] {
                last_use[h.concat] = last_use[h.concat].max(last_use[p]);
            }
        }
        let mut release_after = vec![Vec::new(); n];
        for (i, &last) in last_use.iter().enumerate() {
            if home[i].is_none() {
                release_after[last].push(i);
            }
        }
        Plan {
            home,
            release_after,
        }
    }

    /// Number of Concat inputs that are copied rather than written in place.
    pub fn copied_inputs(&self, spec: &ModelSpec) -> usize {
        spec.layers
            .iter()
            .filter(|l| matches!(l.module, ModuleSpec::Concat { .. }))
            .map(|l| {
                l.inputs
                    .iter()
                    .enumerate()
                    .filter(|(k, s)| match s {
                        Source::Layer(p) => {
                            self.home[*p].is_none_or(|h| h.concat != l.index) || {
                                // Same producer twice: only its first occurrence is in place.
                                l.inputs[..*k].contains(s)
                            }
                        }
                        Source::Image => true,
                    })
                    .count()
            })
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yolo11_ghost_concats_are_mostly_in_place() {
        let spec = ModelSpec::from_name("yolo11n-ghost").unwrap();
        let plan = Plan::new(&spec);
        // 8 = cat(7 upsample, 3 GhostNet P4): 7 in place, 3 copied.
        assert_eq!(
            plan.home[7],
            Some(Home {
                concat: 8,
                offset: 0
            })
        );
        assert_eq!(plan.home[3], None);
        // 14 = cat(13, 9), 17 = cat(16, 6): all in place (9 and 6 are also read elsewhere).
        assert_eq!(
            plan.home[13],
            Some(Home {
                concat: 14,
                offset: 0
            })
        );
        assert_eq!(
            plan.home[9],
            Some(Home {
                concat: 14,
                offset: 64
            })
        );
        assert_eq!(
            plan.home[6],
            Some(Home {
                concat: 17,
                offset: 128
            })
        );
        assert_eq!(plan.copied_inputs(&spec), 2);
        // Concat 14's buffer outlives layer 10, which reads layer 9's slice, and Detect reads 15.
        assert!(plan.release_after[15].contains(&14));
    }

    #[test]
    fn yolo11_backbone_features_are_written_in_place() {
        let spec = ModelSpec::from_name("yolo11n").unwrap();
        let plan = Plan::new(&spec);
        assert_eq!(plan.copied_inputs(&spec), 0);
        // 12 = cat(11 upsample, 6 C3k2): 6 sits after the upsampled channels.
        let offset = spec.layers[11].out_channels();
        assert_eq!(plan.home[6], Some(Home { concat: 12, offset }));
        assert_eq!(
            plan.home[11],
            Some(Home {
                concat: 12,
                offset: 0
            })
        );
    }
}
