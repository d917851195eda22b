//! YAML with bounded nesting and bounded alias expansion.
//!
//! `yaml-rust2` builds the whole document tree and copies an anchored node at every alias, so
//! nine levels of ten aliases each ("billion laughs") expand 1 KB of text into 10^9 nodes; and
//! its loader recurses once per nesting level, so 30,000 nested `[` overflow the stack. Neither
//! has a limit in the crate. [`load_yaml`] therefore first streams the document's events (the
//! pull parser keeps its own state stack and does not recurse) and adds up what the tree would
//! hold, with each alias counted at the full size of its anchor, refusing the text when the
//! nesting or that expanded size passes the limit; only then is the tree built.

use std::collections::HashMap;

use yaml_rust2::parser::{Event, Parser};
use yaml_rust2::{Yaml, YamlLoader};

/// The bounds [`load_yaml`] enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct YamlLimits {
    /// Deepest nesting of sequences and mappings.
    pub max_depth: usize,
    /// Largest size of the document with every alias expanded, in "units": one per node plus
    /// the bytes of each scalar (so a long anchored string aliased many times counts fully).
    pub max_expanded: u64,
}

/// Default nesting limit (`GHOST_YOLO_MAX_YAML_DEPTH`). Ultralytics YAMLs nest 4 deep.
pub const DEFAULT_MAX_DEPTH: usize = 64;
/// Default expanded-size limit (`GHOST_YOLO_MAX_YAML_EXPANDED`): 16 M units, ~2,000 times
/// the largest built-in model YAML, a few hundred MB of tree at most.
pub const DEFAULT_MAX_EXPANDED: u64 = 1 << 24;

impl Default for YamlLimits {
    fn default() -> Self {
        YamlLimits {
            max_depth: crate::env_limit("GHOST_YOLO_MAX_YAML_DEPTH", DEFAULT_MAX_DEPTH as u64)
                .min(100_000) as usize,
            max_expanded: crate::env_limit("GHOST_YOLO_MAX_YAML_EXPANDED", DEFAULT_MAX_EXPANDED),
        }
    }
}

/// Why a YAML text was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum YamlLimitError {
    /// Not valid YAML.
    #[error("{0}")]
    Syntax(String),
    /// Nested deeper than the limit.
    #[error("nested more than {limit} levels deep (line {line}; raise GHOST_YOLO_MAX_YAML_DEPTH)")]
    TooDeep {
        /// The limit.
        limit: usize,
        /// 1-based line where the limit was passed.
        line: usize,
    },
    /// Aliases expand it beyond the limit.
    #[error(
        "expands to more than {limit} nodes and bytes once its aliases are resolved (line \
         {line}; raise GHOST_YOLO_MAX_YAML_EXPANDED)"
    )]
    TooLarge {
        /// The limit.
        limit: u64,
        /// 1-based line where the limit was passed.
        line: usize,
    },
}

/// Checks `text` against `limits` without building it (see the module docs).
pub fn check_yaml(text: &str, limits: YamlLimits) -> Result<(), YamlLimitError> {
    let mut parser = Parser::new_from_str(text);
    // Open collections: (anchor id, expanded size so far).
    let mut open: Vec<(usize, u64)> = Vec::new();
    let mut anchors: HashMap<usize, u64> = HashMap::new();
    let mut total = 0u64;
    loop {
        let (event, mark) = parser
            .next_token()
            .map_err(|e| YamlLimitError::Syntax(e.to_string()))?;
        let line = mark.line();
        let finished = match event {
            Event::StreamEnd => break,
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                if open.len() >= limits.max_depth {
                    return Err(YamlLimitError::TooDeep {
                        limit: limits.max_depth,
                        line,
                    });
                }
                open.push((anchor, 1));
                None
            }
            Event::SequenceEnd | Event::MappingEnd => open.pop(),
            Event::Scalar(value, _, anchor, _) => Some((anchor, 1 + value.len() as u64)),
            // An alias to an unknown (or still open) anchor is a single bad value.
            Event::Alias(id) => Some((0, anchors.get(&id).copied().unwrap_or(1))),
            _ => None,
        };
        if let Some((anchor, size)) = finished {
            if anchor > 0 {
                anchors.insert(anchor, size);
            }
            let slot = match open.last_mut() {
                Some((_, parent)) => parent,
                None => &mut total,
            };
            *slot = slot.saturating_add(size);
            if *slot > limits.max_expanded {
                return Err(YamlLimitError::TooLarge {
                    limit: limits.max_expanded,
                    line,
                });
            }
        }
    }
    Ok(())
}

/// Parses `text` into its documents after [`check_yaml`].
pub fn load_yaml(text: &str, limits: YamlLimits) -> Result<Vec<Yaml>, YamlLimitError> {
    check_yaml(text, limits)?;
    YamlLoader::load_from_str(text).map_err(|e| YamlLimitError::Syntax(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: YamlLimits = YamlLimits {
        max_depth: 64,
        max_expanded: 1 << 20,
    };

    fn laughs(levels: usize) -> String {
        let mut s = String::from("a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
        for i in 1..levels {
            let p = i - 1;
            s.push_str(&format!("a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"));
        }
        s
    }

    #[test]
    fn billion_laughs_is_refused_before_expansion() {
        let start = std::time::Instant::now();
        let err = load_yaml(&laughs(9), SMALL).unwrap_err();
        assert!(matches!(err, YamlLimitError::TooLarge { .. }), "{err}");
        assert!(start.elapsed().as_secs() < 5, "refused without expanding");
        // Three levels (1,000 scalars) is ordinary and loads.
        let docs = load_yaml(&laughs(3), SMALL).unwrap();
        assert_eq!(docs[0]["a2"].as_vec().unwrap().len(), 10);
    }

    #[test]
    fn a_long_anchored_string_counts_at_every_alias() {
        let long = "x".repeat(100_000);
        let text = format!("a: &s {long}\nb: [*s, *s, *s, *s, *s, *s, *s, *s, *s, *s, *s]\n");
        assert!(matches!(
            load_yaml(&text, SMALL),
            Err(YamlLimitError::TooLarge { .. })
        ));
    }

    #[test]
    fn deep_nesting_is_refused_without_recursing() {
        // Block sequences nest without the scanner's 255-level flow limit.
        let text = "- ".repeat(30_000) + "x\n";
        let err = load_yaml(&text, SMALL).unwrap_err();
        assert!(
            matches!(err, YamlLimitError::TooDeep { limit: 64, .. }),
            "{err}"
        );
        let flow = "[".repeat(30_000) + &"]".repeat(30_000);
        assert!(load_yaml(&flow, SMALL).is_err());
        let ok = "[".repeat(64) + &"]".repeat(64);
        assert!(load_yaml(&ok, SMALL).is_ok());
        let nested_maps: String = (0..65).map(|i| format!("{}k:\n", "  ".repeat(i))).collect();
        assert!(matches!(
            load_yaml(&nested_maps, SMALL),
            Err(YamlLimitError::TooDeep { .. })
        ));
    }

    #[test]
    fn syntax_errors_are_reported() {
        assert!(matches!(
            load_yaml("a: [1, 2", SMALL),
            Err(YamlLimitError::Syntax(_))
        ));
    }
}
