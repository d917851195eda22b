//! Module arguments as Ultralytics sees them after `parse_model`'s string evaluation.
//!
//! YAML scalars arrive as yaml-rust2 values; `parse_model` then runs `ast.literal_eval` on every
//! string argument (so `None`, `True`, `2` written as strings become Python values) and replaces
//! the names of its own locals (`nc`, ...) by their values. [`ArgValue`] is the result, printed
//! the way Python prints it so the layer table reads like Ultralytics'.

use std::fmt;

use yaml_rust2::Yaml;

/// One evaluated module argument.
#[derive(Clone, Debug, PartialEq)]
pub enum ArgValue {
    /// Python `None`.
    None,
    /// Python `bool`.
    Bool(bool),
    /// Python `int`.
    Int(i64),
    /// Python `float`.
    Float(f64),
    /// A string literal_eval could not turn into a value (e.g. `"nearest"`).
    Str(String),
    /// A list (e.g. a kernel pair, or Detect's input channels).
    List(Vec<ArgValue>),
}

impl ArgValue {
    /// Converts one YAML node, as `yaml.safe_load` + `ast.literal_eval` would.
    /// Returns `None` for YAML nodes that cannot be an argument (mappings, aliases).
    pub fn from_yaml(node: &Yaml) -> Option<ArgValue> {
        Some(match node {
            Yaml::Null => ArgValue::None,
            Yaml::Boolean(b) => ArgValue::Bool(*b),
            Yaml::Integer(i) => ArgValue::Int(*i),
            Yaml::Real(text) => ArgValue::Float(node.as_f64().or_else(|| text.parse().ok())?),
            Yaml::String(s) => literal_eval(s),
            Yaml::Array(items) => ArgValue::List(
                items
                    .iter()
                    .map(ArgValue::from_yaml)
                    .collect::<Option<Vec<_>>>()?,
            ),
            Yaml::Hash(_) | Yaml::Alias(_) | Yaml::BadValue => return None,
        })
    }

    /// The value as an integer, if it is one (Python `bool` is an `int` subclass, but a YAML
    /// `True` where a channel count belongs is a mistake, so booleans are not accepted here).
    pub fn as_int(&self) -> Option<i64> {
        match self {
            ArgValue::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// The value as a float (ints widen, as in Python arithmetic).
    pub fn as_float(&self) -> Option<f64> {
        match self {
            ArgValue::Int(i) => Some(*i as f64),
            ArgValue::Float(f) => Some(*f),
            _ => None,
        }
    }

    /// The value as a flag. Python only tests truthiness, so `0`/`1` are accepted too.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            ArgValue::Bool(b) => Some(*b),
            ArgValue::Int(0) => Some(false),
            ArgValue::Int(1) => Some(true),
            _ => None,
        }
    }

    /// A short description of the value's type and value for error messages.
    pub fn describe(&self) -> String {
        let kind = match self {
            ArgValue::None => return "None".to_string(),
            ArgValue::Bool(_) => "bool",
            ArgValue::Int(_) => "int",
            ArgValue::Float(_) => "float",
            ArgValue::Str(_) => "str",
            ArgValue::List(_) => "list",
        };
        format!("{kind} {self}")
    }
}

/// `ast.literal_eval` on the strings YAML models use: `None`, `True`/`False`, numbers, and
/// anything else stays a string (literal_eval raises and `parse_model` keeps the string).
fn literal_eval(text: &str) -> ArgValue {
    let trimmed = text.trim();
    match trimmed {
        "None" => ArgValue::None,
        "True" => ArgValue::Bool(true),
        "False" => ArgValue::Bool(false),
        _ => {
            if let Ok(i) = trimmed.parse::<i64>() {
                ArgValue::Int(i)
            } else if looks_numeric(trimmed) {
                match trimmed.parse::<f64>() {
                    Ok(f) => ArgValue::Float(f),
                    Err(_) => ArgValue::Str(text.to_string()),
                }
            } else {
                ArgValue::Str(text.to_string())
            }
        }
    }
}

/// Python float literals contain a digit; Rust would also parse `inf`/`NaN`, which Python would not.
fn looks_numeric(text: &str) -> bool {
    text.bytes().any(|b| b.is_ascii_digit())
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-' | b'_'))
}

impl fmt::Display for ArgValue {
    /// Python `repr`: `None`, `True`, `64`, `0.25`, `1.0`, `'nearest'`, `[256, 512]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ArgValue::None => f.write_str("None"),
            ArgValue::Bool(true) => f.write_str("True"),
            ArgValue::Bool(false) => f.write_str("False"),
            ArgValue::Int(i) => write!(f, "{i}"),
            ArgValue::Float(x) => {
                if x.is_finite() && x.fract() == 0.0 && x.abs() < 1e16 {
                    write!(f, "{x:.1}")
                } else {
                    write!(f, "{x}")
                }
            }
            ArgValue::Str(s) => write!(f, "'{s}'"),
            ArgValue::List(items) => {
                f.write_str("[")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_str("]")
            }
        }
    }
}

/// Formats a list of arguments like Python prints a list.
pub fn format_args_list(args: &[ArgValue]) -> String {
    ArgValue::List(args.to_vec()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_eval_matches_python() {
        assert_eq!(literal_eval("None"), ArgValue::None);
        assert_eq!(literal_eval("True"), ArgValue::Bool(true));
        assert_eq!(literal_eval("2"), ArgValue::Int(2));
        assert_eq!(literal_eval("0.5"), ArgValue::Float(0.5));
        assert_eq!(literal_eval("nearest"), ArgValue::Str("nearest".into()));
        assert_eq!(literal_eval("inf"), ArgValue::Str("inf".into()));
        assert_eq!(literal_eval("nc"), ArgValue::Str("nc".into()));
    }

    #[test]
    fn display_is_python_repr() {
        let v = ArgValue::List(vec![
            ArgValue::None,
            ArgValue::Int(2),
            ArgValue::Str("nearest".into()),
            ArgValue::Float(1.0),
            ArgValue::Float(0.25),
            ArgValue::Bool(false),
        ]);
        assert_eq!(v.to_string(), "[None, 2, 'nearest', 1.0, 0.25, False]");
    }
}
