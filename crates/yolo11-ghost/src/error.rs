//! The crate's error type: every failure names what was wrong and where.

use std::path::PathBuf;

/// Result alias used across the crate.
pub type Result<T, E = YoloError> = std::result::Result<T, E>;

/// Everything that can go wrong between a YAML file, a weights file, an image and detections.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum YoloError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },

    /// A file could not be read safely: not a regular file (a FIFO, device, directory) or above
    /// its size limit (`docs/limits.md`).
    #[error(transparent)]
    File(ghost_limits::FileError),

    /// The YAML text itself is not valid YAML.
    #[error("malformed YAML in {source_name}: {message}")]
    Yaml {
        /// File name or model name the text came from.
        source_name: String,
        /// The parser's message (with line/column).
        message: String,
    },

    /// The YAML is valid but a top-level key is missing or has the wrong type.
    #[error("model YAML {source_name}: {message}")]
    ModelYaml {
        /// File name or model name the text came from.
        source_name: String,
        /// What is wrong.
        message: String,
    },

    /// A model name that is neither built in nor a YAML path.
    #[error("unknown model {name:?}: expected one of {known} or a path to a .yaml file")]
    UnknownModel {
        /// The name asked for.
        name: String,
        /// The built-in names.
        known: String,
    },

    /// A scale letter the YAML's `scales` table does not define.
    #[error("model YAML {source_name} has no scale {scale:?} (available: {available})")]
    UnknownScale {
        /// File name or model name.
        source_name: String,
        /// The scale asked for.
        scale: String,
        /// The scales the YAML defines.
        available: String,
    },

    /// A `[from, repeats, module, args]` row is malformed.
    #[error("layer {row} ({module}): {message}")]
    Row {
        /// Layer index of the row (Ultralytics numbering).
        row: usize,
        /// Module name as written in the YAML (or `?` when unreadable).
        module: String,
        /// What is wrong.
        message: String,
    },

    /// A row names a module this engine does not implement.
    #[error("layer {row}: unsupported module {module:?} (supported: {supported})")]
    UnsupportedModule {
        /// Layer index of the row.
        row: usize,
        /// Module name as written in the YAML.
        module: String,
        /// The supported module names.
        supported: String,
    },

    /// A row's `from` refers to a layer that does not exist (yet).
    #[error("layer {row} ({module}): bad `from` index {from}: {reason}")]
    BadFrom {
        /// Layer index of the row.
        row: usize,
        /// Module name as written in the YAML.
        module: String,
        /// The offending index as written.
        from: i64,
        /// Why it is invalid.
        reason: String,
    },

    /// An argument has the wrong type or an unsupported value.
    #[error("layer {row} ({module}): argument {arg}: expected {expected}, found {found}")]
    BadArg {
        /// Layer index of the row.
        row: usize,
        /// Module name.
        module: String,
        /// Argument name (Ultralytics constructor parameter name).
        arg: String,
        /// What was expected.
        expected: String,
        /// What the YAML gave.
        found: String,
    },

    /// A broken invariant of the engine itself (a bug; please report it).
    #[error("internal error at layer {layer}: {message}")]
    Internal {
        /// Layer index.
        layer: usize,
        /// What went wrong.
        message: String,
    },

    /// The input tensor handed to `forward` has the wrong shape.
    #[error("input {operand}: expected {expected}, found {found}")]
    InputShape {
        /// Which input.
        operand: &'static str,
        /// The expected shape or rule.
        expected: String,
        /// The shape received.
        found: String,
    },

    /// A layer could not be loaded, built or run; the inner error names the tensor or layer:
    /// a missing / mis-shaped / non-finite tensor (`LayerError::Weights`), weights the engine
    /// cannot use or a configuration it cannot build, such as an odd GhostConv width or a model
    /// above the parameter limit (`LayerError::Config`), a layer input of the wrong shape
    /// (`LayerError::Shape`), a kernel refusing its operands (`LayerError::Kernel`, a bug if it
    /// ever happens after the shape checks).
    #[error(transparent)]
    Layer(#[from] ghost_layers::LayerError),
}

impl YoloError {
    /// A layer (named by its tensor prefix, `model.6.m.0.attn`) cannot be built with the
    /// configuration or weights it was given: [`ghost_layers::LayerError::Config`].
    pub(crate) fn config(layer: impl Into<String>, reason: impl Into<String>) -> Self {
        YoloError::Layer(ghost_layers::LayerError::config(layer, reason))
    }

    /// A kernel refused its operands in `layer`: [`ghost_layers::LayerError::Kernel`].
    pub(crate) fn kernel(layer: impl Into<String>, source: ghost_kernels::KernelError) -> Self {
        YoloError::Layer(ghost_layers::LayerError::kernel(layer, source))
    }

    /// The error with the YAML file's path as its source name (file-level YAML errors are
    /// raised with the model's display name; a user editing a file wants the path).
    pub fn in_file(self, path: &std::path::Path) -> Self {
        let file = path.display().to_string();
        match self {
            YoloError::Yaml { message, .. } => YoloError::Yaml {
                source_name: file,
                message,
            },
            YoloError::ModelYaml { message, .. } => YoloError::ModelYaml {
                source_name: file,
                message,
            },
            YoloError::UnknownScale {
                scale, available, ..
            } => YoloError::UnknownScale {
                source_name: file,
                scale,
                available,
            },
            other => other,
        }
    }
}

impl From<ghost_limits::FileError> for YoloError {
    /// Operating-system errors stay [`YoloError::Io`]; refusals by kind or size are
    /// [`YoloError::File`].
    fn from(e: ghost_limits::FileError) -> Self {
        match e {
            ghost_limits::FileError::Io { path, source } => YoloError::Io { path, source },
            other => YoloError::File(other),
        }
    }
}

impl From<ghost_kernels::KernelError> for YoloError {
    /// A kernel or view error outside any named layer (slicing a buffer, ...): a bug if it
    /// ever happens, since shapes are checked before.
    fn from(source: ghost_kernels::KernelError) -> Self {
        YoloError::kernel("view", source)
    }
}

impl From<ghost_layers::WeightsError> for YoloError {
    fn from(e: ghost_layers::WeightsError) -> Self {
        YoloError::Layer(e.into())
    }
}
