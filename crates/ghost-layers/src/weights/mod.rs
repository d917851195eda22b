//! Where layer weights come from, by PyTorch `state_dict` name.
//!
//! A [`WeightSource`] hands out f32 tensors by name after checking their shape, and remembers
//! which names were asked for so a loader can report the tensors a file holds but no layer used
//! (usually a sign of a wrong model configuration or name prefix).
//!
//! Implementations:
//! - [`SafetensorsFile`]: a memory-mapped `.safetensors` file (f32, f16 or bf16 tensors);
//! - [`SeededWeights`]: the deterministic generator shared with `tools/seeded_weights.py`, for
//!   tests against fixtures that store only outputs;
//! - [`MemoryWeights`]: tensors built in memory (tests, programmatic models);
//! - [`Prefixed`]: any source seen through a name prefix (e.g. `model.0.` for a GhostNet inside a
//!   YOLO model).

use std::borrow::Cow;

mod error;
mod memory;
mod prefixed;
mod safetensors_file;
pub mod seeded;

pub use error::WeightsError;
pub use memory::MemoryWeights;
pub use prefixed::Prefixed;
pub use safetensors_file::SafetensorsFile;
pub use seeded::SeededWeights;

/// A store of named f32 tensors (PyTorch `state_dict` names, row-major PyTorch shapes).
///
/// Sources are shared by reference while a model loads; they track requested names through
/// interior mutability, so every method takes `&self`.
pub trait WeightSource: Send + Sync {
    /// Where the tensors come from, for error messages (a file path, `seeded(0x...)` ...).
    fn origin(&self) -> String;

    /// The stored shape of `name`, when the source knows it. `None` when the tensor is absent
    /// **or** when the source generates tensors on demand and so has no stored shape
    /// ([`SeededWeights`]); use [`WeightSource::contains`] to tell the two apart.
    fn shape_of(&self, name: &str) -> Option<Vec<usize>>;

    /// Whether a tensor called `name` can be loaded.
    fn contains(&self, name: &str) -> bool;

    /// Loads tensor `name` as f32 in row-major order, checking that its shape is `shape` and that
    /// every value is finite, and marks it as used.
    fn load(&self, name: &str, shape: &[usize]) -> Result<Vec<f32>, WeightsError>;

    /// [`WeightSource::load`] without the copy where the source can lend its storage: a
    /// memory-mapped little-endian f32 tensor comes back borrowed, so loading a model's weights
    /// allocates nothing more than the packed copies. Same checks; the default copies.
    fn load_cow(&self, name: &str, shape: &[usize]) -> Result<Cow<'_, [f32]>, WeightsError> {
        self.load(name, shape).map(Cow::Owned)
    }

    /// The name `name` has in the underlying store (a [`Prefixed`] source prepends its prefix).
    fn full_name(&self, name: &str) -> String {
        name.to_string()
    }

    /// Whether `name` is stored as an int8 tensor (a quantized conv's weights).
    fn is_int8(&self, name: &str) -> bool {
        let _ = name;
        false
    }

    /// Loads int8 tensor `name` (row-major), checking its shape, and marks it as used. Sources
    /// without int8 tensors refuse every name.
    fn load_i8(&self, name: &str, shape: &[usize]) -> Result<Vec<i8>, WeightsError> {
        let _ = shape;
        Err(WeightsError::Quantization {
            origin: self.origin(),
            name: name.to_string(),
            reason: "this source holds no int8 tensors".into(),
        })
    }

    /// Names of stored tensors that were never loaded, sorted (always empty for generated
    /// sources). Integer bookkeeping tensors (`*.num_batches_tracked`) are not listed.
    fn unused(&self) -> Vec<String>;
}

impl<T: WeightSource + ?Sized> WeightSource for &T {
    fn origin(&self) -> String {
        (**self).origin()
    }
    fn shape_of(&self, name: &str) -> Option<Vec<usize>> {
        (**self).shape_of(name)
    }
    fn contains(&self, name: &str) -> bool {
        (**self).contains(name)
    }
    fn load(&self, name: &str, shape: &[usize]) -> Result<Vec<f32>, WeightsError> {
        (**self).load(name, shape)
    }
    fn load_cow(&self, name: &str, shape: &[usize]) -> Result<Cow<'_, [f32]>, WeightsError> {
        (**self).load_cow(name, shape)
    }
    fn full_name(&self, name: &str) -> String {
        (**self).full_name(name)
    }
    fn is_int8(&self, name: &str) -> bool {
        (**self).is_int8(name)
    }
    fn load_i8(&self, name: &str, shape: &[usize]) -> Result<Vec<i8>, WeightsError> {
        (**self).load_i8(name, shape)
    }
    fn unused(&self) -> Vec<String> {
        (**self).unused()
    }
}

/// Joins a name prefix and a tensor name with exactly one dot between them (`"blocks.3"` +
/// `"ghost1.primary_conv.0.weight"`); an empty prefix returns the name unchanged.
pub fn join_name(prefix: &str, name: &str) -> String {
    let prefix = prefix.trim_end_matches('.');
    if prefix.is_empty() {
        name.to_string()
    } else if name.is_empty() {
        prefix.to_string()
    } else {
        format!("{prefix}.{name}")
    }
}

/// Checks a loaded tensor's values are finite (a NaN or Inf weight silently poisons every output
/// downstream, so it is rejected at load time with the first offending index).
pub(crate) fn check_finite(origin: &str, name: &str, values: &[f32]) -> Result<(), WeightsError> {
    match first_non_finite(values) {
        None => Ok(()),
        Some(index) => Err(WeightsError::NonFinite {
            origin: origin.to_string(),
            name: name.to_string(),
            index,
            value: values[index],
        }),
    }
}

/// Values checked per step of [`first_non_finite`].
const FINITE_CHUNK: usize = 1024;

/// Index of the first NaN or infinite value. Every loaded weight passes through here, so the
/// common all-finite case is a branch-free (vectorised) pass per chunk; only a chunk that holds
/// a non-finite value is searched element by element.
fn first_non_finite(values: &[f32]) -> Option<usize> {
    values
        .chunks(FINITE_CHUNK)
        .enumerate()
        .find(|(_, chunk)| chunk.iter().fold(false, |bad, v| bad | !v.is_finite()))
        .and_then(|(c, chunk)| {
            let within = chunk.iter().position(|v| !v.is_finite())?;
            Some(c * FINITE_CHUNK + within)
        })
}

/// A tensor that was loaded although it holds NaN or infinite values (see
/// [`SafetensorsFile::allow_non_finite`]); its `Display` is a one-line warning.
#[derive(Debug, Clone, PartialEq)]
pub struct NonFiniteReport {
    /// The file or source.
    pub origin: String,
    /// The tensor name.
    pub name: String,
    /// How many values are NaN or infinite.
    pub count: usize,
    /// Row-major index of the first one.
    pub index: usize,
    /// Its value.
    pub value: f32,
}

impl NonFiniteReport {
    /// The report for `values`, or `None` when every value is finite.
    pub fn scan(origin: &str, name: &str, values: &[f32]) -> Option<Self> {
        let index = first_non_finite(values)?;
        Some(NonFiniteReport {
            origin: origin.to_string(),
            name: name.to_string(),
            count: values[index..].iter().filter(|v| !v.is_finite()).count(),
            index,
            value: values[index],
        })
    }
}

impl std::fmt::Display for NonFiniteReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: tensor `{}` holds {} non-finite value(s) (first: {} at flat index {}); outputs that depend on it will be NaN",
            self.origin, self.name, self.count, self.value, self.index
        )
    }
}

/// Stored names resembling `name` (one ends with the other after a dot), to suggest a prefix fix
/// in a "missing tensor" error.
pub(crate) fn similar_names<'a>(
    name: &str,
    stored: impl Iterator<Item = &'a str>,
) -> Option<String> {
    let mut hits: Vec<&str> = stored
        .filter(|s| {
            *s != name && (s.ends_with(&format!(".{name}")) || name.ends_with(&format!(".{s}")))
        })
        .collect();
    hits.sort_unstable();
    hits.truncate(3);
    if hits.is_empty() {
        None
    } else {
        Some(hits.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_name_handles_empty_and_dotted_prefixes() {
        assert_eq!(join_name("", "conv.weight"), "conv.weight");
        assert_eq!(join_name("model.0.", "conv.weight"), "model.0.conv.weight");
        assert_eq!(join_name("model.0", "conv.weight"), "model.0.conv.weight");
        assert_eq!(join_name("blocks.9.0", ""), "blocks.9.0");
    }

    #[test]
    fn similar_names_suggest_a_prefix() {
        let stored = ["model.0.conv_stem.weight", "model.0.bn1.weight"];
        assert_eq!(
            similar_names("conv_stem.weight", stored.iter().copied()).as_deref(),
            Some("model.0.conv_stem.weight")
        );
        assert_eq!(similar_names("other.weight", stored.iter().copied()), None);
    }
}
