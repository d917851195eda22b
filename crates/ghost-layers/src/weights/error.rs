//! Why a tensor could not be loaded: each variant names the tensor and the file it came from.

use std::path::PathBuf;

use thiserror::Error;

/// A weights file or tensor problem.
#[derive(Debug, Error)]
pub enum WeightsError {
    /// The file could not be opened or mapped.
    #[error("{}: cannot read weights file: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The path is not a regular file (a FIFO, device, directory): refused without reading.
    /// (An operating-system error while opening it is `Io`, as for every other OS error.)
    #[error(transparent)]
    File(ghost_limits::FileError),
    /// The bytes are not a valid safetensors file (bad header, truncated data ...).
    #[error("{origin}: not a valid safetensors file: {reason}")]
    Format {
        /// The file.
        origin: String,
        /// What the parser said.
        reason: String,
    },
    /// No tensor of that name.
    #[error("{origin}: tensor `{name}` is missing{}", similar.as_ref().map(|s| format!(" (similar stored names: {s}; wrong name prefix?)")).unwrap_or_default())]
    Missing {
        /// The file or source.
        origin: String,
        /// The tensor name asked for.
        name: String,
        /// Stored names that look like a prefix mix-up.
        similar: Option<String>,
    },
    /// The tensor exists with a different shape.
    #[error("{origin}: tensor `{name}` has shape {found:?}, expected {expected:?}")]
    Shape {
        /// The file or source.
        origin: String,
        /// The tensor name.
        name: String,
        /// The shape the layer needs.
        expected: Vec<usize>,
        /// The stored shape.
        found: Vec<usize>,
    },
    /// The tensor's element type is not a float type we convert (f32, f16, bf16).
    #[error("{origin}: tensor `{name}` has dtype {found}, expected F32, F16 or BF16")]
    Dtype {
        /// The file or source.
        origin: String,
        /// The tensor name.
        name: String,
        /// The stored dtype.
        found: String,
    },
    /// A value is NaN or infinite.
    #[error("{origin}: tensor `{name}` holds the non-finite value {value} at flat index {index}")]
    NonFinite {
        /// The file or source.
        origin: String,
        /// The tensor name.
        name: String,
        /// Row-major index of the first bad value.
        index: usize,
        /// The value.
        value: f32,
    },
    /// An INT8 model's tensor is inconsistent: a non-positive or non-finite scale, a zero point
    /// out of range, an int8 tensor where f32 was expected or the reverse.
    #[error("{origin}: quantized tensor `{name}`: {reason}")]
    Quantization {
        /// The file or source.
        origin: String,
        /// The tensor name.
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// A generator has no rule for the tensor (e.g. seeded weights asked for a scalar weight).
    #[error("{origin}: cannot generate tensor `{name}`: {reason}")]
    Unsupported {
        /// The source.
        origin: String,
        /// The tensor name.
        name: String,
        /// Why.
        reason: String,
    },
}

impl From<ghost_limits::FileError> for WeightsError {
    /// OS errors become `Io`, so that one variant holds every operating-system failure on a
    /// weights file (callers match `Io` for a missing file); refusals stay `File`.
    fn from(e: ghost_limits::FileError) -> Self {
        match e {
            ghost_limits::FileError::Io { path, source } => WeightsError::Io { path, source },
            other => WeightsError::File(other),
        }
    }
}
