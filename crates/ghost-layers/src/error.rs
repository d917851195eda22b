//! Typed errors of the layer API: a bad weights file, a layer fed the wrong shape, or a kernel
//! refusing its operands. Every variant names what was wrong and where.

use thiserror::Error;

use crate::weights::WeightsError;
use ghost_kernels::KernelError;

/// Why a layer could not be built or run.
#[derive(Debug, Error)]
pub enum LayerError {
    /// Loading a tensor failed (missing, mis-shaped, mis-typed, non-finite, unreadable file).
    #[error(transparent)]
    Weights(#[from] WeightsError),
    /// A kernel rejected its operands (a bug in the caller's shapes or views).
    #[error("{layer}: {source}")]
    Kernel {
        /// The layer that called the kernel.
        layer: String,
        /// The kernel's own error.
        #[source]
        source: KernelError,
    },
    /// A layer was given an input (or output view) of the wrong shape.
    #[error("{layer}: {operand} has shape {found:?} (n, h, w, c), expected {expected}")]
    Shape {
        /// The layer.
        layer: String,
        /// `"input"`, `"output"`, `"residual"` ...
        operand: &'static str,
        /// What the layer needs, in words (e.g. `"c = 24"`).
        expected: String,
        /// The shape found, NHWC.
        found: [usize; 4],
    },
    /// A layer or model configuration is invalid (zero channels, unsupported groups ...).
    #[error("{context}: invalid configuration: {reason}")]
    Config {
        /// The layer or model.
        context: String,
        /// What is wrong.
        reason: String,
    },
    /// Data handed to a tensor constructor does not match its shape.
    #[error("tensor: {0}")]
    Tensor(String),
}

impl LayerError {
    /// Wraps a kernel error with the name of the layer that called the kernel.
    pub fn kernel(layer: impl Into<String>, source: KernelError) -> Self {
        LayerError::Kernel {
            layer: layer.into(),
            source,
        }
    }

    /// A configuration error.
    pub fn config(context: impl Into<String>, reason: impl Into<String>) -> Self {
        LayerError::Config {
            context: context.into(),
            reason: reason.into(),
        }
    }
}

/// Result alias for layer operations.
pub type Result<T> = std::result::Result<T, LayerError>;
