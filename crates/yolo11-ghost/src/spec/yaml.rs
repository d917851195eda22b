//! Reading an Ultralytics model YAML into raw rows, before any scaling rule runs.

use ghost_limits::{load_yaml, YamlLimits};
use yaml_rust2::Yaml;

use super::scale::Scale;
use super::value::ArgValue;
use super::MAX_INT;
use crate::error::{Result, YoloError};

/// A row's `from` field as written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LayerFrom {
    /// One input, `-1` = the previous layer.
    One(i64),
    /// Several inputs (Concat, Detect).
    Many(Vec<i64>),
}

impl std::fmt::Display for LayerFrom {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LayerFrom::One(i) => write!(f, "{i}"),
            LayerFrom::Many(v) => {
                let items: Vec<String> = v.iter().map(i64::to_string).collect();
                write!(f, "[{}]", items.join(", "))
            }
        }
    }
}

/// One `[from, repeats, module, args]` row.
#[derive(Clone, Debug, PartialEq)]
pub struct RawRow {
    /// Inputs as written.
    pub from: LayerFrom,
    /// Repeats as written (before the depth gain).
    pub repeats: i64,
    /// Module name as written.
    pub module: String,
    /// Arguments after literal evaluation (names like `nc` still unresolved strings).
    pub args: Vec<ArgValue>,
}

/// The top level of a model YAML.
#[derive(Clone, Debug, PartialEq)]
pub struct RawModel {
    /// Where the text came from (file name or built-in model name).
    pub source_name: String,
    /// `nc`, when present.
    pub nc: Option<i64>,
    /// `scales`, in file order.
    pub scales: Vec<(String, Scale)>,
    /// `depth_multiple` / `width_multiple` (used when there is no `scales` table).
    pub depth_multiple: f64,
    /// See `depth_multiple`.
    pub width_multiple: f64,
    /// `scale` key inside the YAML, if any.
    pub scale: Option<String>,
    /// `channels` (input channels, default 3).
    pub channels: i64,
    /// `reg_max` (DFL bins, default 16).
    pub reg_max: i64,
    /// `end2end` (one-to-one head); only false/absent is supported.
    pub end2end: bool,
    /// `backbone` rows followed by `head` rows.
    pub rows: Vec<RawRow>,
    /// Number of `backbone` rows.
    pub backbone_rows: usize,
}

/// The largest depth or width multiple (`depth_multiple`, `width_multiple`, a `scales` row)
/// accepted. Ultralytics' are at most 1.5; a multiple of `.inf` or 1e12 would ask for
/// unbounded repeats or channels.
pub const MAX_MULTIPLE: f64 = 64.0;

fn model_err(source_name: &str, message: impl Into<String>) -> YoloError {
    YoloError::ModelYaml {
        source_name: source_name.to_string(),
        message: message.into(),
    }
}

/// A finite number (YAML's `.inf` and `.nan` are numbers to YAML, never to a model).
fn number(node: &Yaml) -> Option<f64> {
    match node {
        Yaml::Integer(i) => Some(*i as f64),
        Yaml::Real(_) => node.as_f64(),
        _ => None,
    }
    .filter(|v| v.is_finite())
}

/// Parses YAML text into a [`RawModel`]; `source_name` is used in error messages.
///
/// The text is bounded before it is parsed: its length by the YAML file limit (it may come from
/// weights metadata rather than a file read with that cap), its nesting and alias expansion by
/// [`ghost_limits::load_yaml`].
pub fn parse_yaml(text: &str, source_name: &str) -> Result<RawModel> {
    let cap = ghost_limits::budget::yaml_file();
    if text.len() as u64 > cap.bytes {
        return Err(model_err(
            source_name,
            format!(
                "{} bytes of model YAML, more than the {} allowed (raise {})",
                text.len(),
                cap.bytes,
                cap.knob
            ),
        ));
    }
    let docs = load_yaml(text, YamlLimits::default()).map_err(|e| YoloError::Yaml {
        source_name: source_name.to_string(),
        message: e.to_string(),
    })?;
    let doc = match docs.as_slice() {
        [doc] => doc,
        [] => return Err(model_err(source_name, "the file is empty")),
        _ => {
            return Err(model_err(
                source_name,
                "expected one YAML document, found several",
            ))
        }
    };
    let Yaml::Hash(map) = doc else {
        return Err(model_err(source_name, "the top level must be a mapping"));
    };
    let get = |key: &str| map.get(&Yaml::String(key.to_string()));

    let nc = match get("nc") {
        None | Some(Yaml::Null) => None,
        Some(Yaml::Integer(i)) if (1..=MAX_INT).contains(i) => Some(*i),
        Some(other) => {
            return Err(model_err(
                source_name,
                format!("`nc` must be a positive integer up to {MAX_INT}, found {other:?}"),
            ))
        }
    };

    let mut scales = Vec::new();
    match get("scales") {
        None | Some(Yaml::Null) => {}
        Some(Yaml::Hash(table)) => {
            for (key, value) in table {
                let name = match key {
                    Yaml::String(s) => s.clone(),
                    other => {
                        return Err(model_err(
                            source_name,
                            format!("scale name {other:?} is not a string"),
                        ))
                    }
                };
                let bad = || {
                    model_err(
                        source_name,
                        format!(
                            "scale {name:?} must be [depth, width, max_channels] with depth and \
                             width in (0, {MAX_MULTIPLE}]"
                        ),
                    )
                };
                let Yaml::Array(v) = value else {
                    return Err(bad());
                };
                let [d, w, m] = v.as_slice() else {
                    return Err(bad());
                };
                let (Some(depth), Some(width), Some(max)) = (number(d), number(w), number(m))
                else {
                    return Err(bad());
                };
                if !(0.0..=MAX_MULTIPLE).contains(&depth)
                    || !(0.0..=MAX_MULTIPLE).contains(&width)
                    || depth == 0.0
                    || width == 0.0
                    || max <= 0.0
                {
                    return Err(bad());
                }
                scales.push((
                    name,
                    Scale {
                        depth,
                        width,
                        max_channels: Some(max),
                    },
                ));
            }
        }
        Some(_) => {
            return Err(model_err(
                source_name,
                "`scales` must be a mapping of name -> [depth, width, max_channels]",
            ))
        }
    }

    let multiple = |key: &str| -> Result<f64> {
        match get(key) {
            None | Some(Yaml::Null) => Ok(1.0),
            Some(node) => number(node)
                .filter(|v| *v > 0.0 && *v <= MAX_MULTIPLE)
                .ok_or_else(|| {
                    model_err(
                        source_name,
                        format!("`{key}` must be a number in (0, {MAX_MULTIPLE}]"),
                    )
                }),
        }
    };
    let depth_multiple = multiple("depth_multiple")?;
    let width_multiple = multiple("width_multiple")?;
    let int_key = |key: &str, default: i64| -> Result<i64> {
        match get(key) {
            None | Some(Yaml::Null) => Ok(default),
            Some(Yaml::Integer(i)) if (1..=MAX_INT).contains(i) => Ok(*i),
            Some(_) => Err(model_err(
                source_name,
                format!("`{key}` must be a positive integer up to {MAX_INT}"),
            )),
        }
    };
    let channels = int_key("channels", 3)?;
    let reg_max = int_key("reg_max", 16)?;
    let end2end = match get("end2end") {
        None | Some(Yaml::Null) => false,
        Some(Yaml::Boolean(b)) => *b,
        Some(_) => return Err(model_err(source_name, "`end2end` must be true or false")),
    };
    let scale = match get("scale") {
        None | Some(Yaml::Null) => None,
        Some(Yaml::String(s)) => Some(s.clone()),
        Some(_) => return Err(model_err(source_name, "`scale` must be a string")),
    };

    let mut rows = Vec::new();
    let mut backbone_rows = 0;
    for section in ["backbone", "head"] {
        let list = match get(section) {
            Some(Yaml::Array(list)) => list,
            None if section == "head" => {
                backbone_rows = rows.len();
                continue;
            }
            _ => {
                return Err(model_err(
                    source_name,
                    format!("`{section}` must be a list of [from, repeats, module, args] rows"),
                ))
            }
        };
        for node in list {
            rows.push(parse_row(node, rows.len())?);
        }
        if section == "backbone" {
            backbone_rows = rows.len();
        }
    }
    if rows.is_empty() {
        return Err(model_err(source_name, "the model has no layers"));
    }
    Ok(RawModel {
        source_name: source_name.to_string(),
        nc,
        scales,
        depth_multiple,
        width_multiple,
        scale,
        channels,
        reg_max,
        end2end,
        rows,
        backbone_rows,
    })
}

/// Parses one row; `row` is its position among all rows (before any GhostNet expansion), used
/// only in messages for rows too malformed to know their layer index.
fn parse_row(node: &Yaml, row: usize) -> Result<RawRow> {
    let fail = |module: &str, message: String| YoloError::Row {
        row,
        module: module.to_string(),
        message,
    };
    let Yaml::Array(fields) = node else {
        return Err(fail(
            "?",
            format!("expected [from, repeats, module, args], found {node:?}"),
        ));
    };
    let [from, repeats, module, args] = fields.as_slice() else {
        return Err(fail(
            "?",
            format!(
                "expected 4 fields [from, repeats, module, args], found {}",
                fields.len()
            ),
        ));
    };
    let module = match module {
        Yaml::String(s) => s.clone(),
        other => {
            return Err(fail(
                "?",
                format!("module name must be a string, found {other:?}"),
            ))
        }
    };
    let from = match from {
        Yaml::Integer(i) => LayerFrom::One(*i),
        Yaml::Array(items) => LayerFrom::Many(
            items
                .iter()
                .map(|y| match y {
                    Yaml::Integer(i) => Ok(*i),
                    other => Err(fail(
                        &module,
                        format!("`from` entries must be integers, found {other:?}"),
                    )),
                })
                .collect::<Result<_>>()?,
        ),
        other => {
            return Err(fail(
                &module,
                format!("`from` must be an integer or a list of integers, found {other:?}"),
            ))
        }
    };
    let repeats = match repeats {
        Yaml::Integer(i) if (1..=MAX_INT).contains(i) => *i,
        other => {
            return Err(fail(
                &module,
                format!("repeats must be a positive integer up to {MAX_INT}, found {other:?}"),
            ))
        }
    };
    let args = match args {
        Yaml::Array(items) => items
            .iter()
            .map(|y| {
                ArgValue::from_yaml(y).ok_or_else(|| {
                    fail(
                        &module,
                        format!("argument {y:?} is not a number, string, bool, null or list"),
                    )
                })
            })
            .collect::<Result<Vec<_>>>()?,
        other => {
            return Err(fail(
                &module,
                format!("args must be a list, found {other:?}"),
            ))
        }
    };
    Ok(RawRow {
        from,
        repeats,
        module,
        args,
    })
}
