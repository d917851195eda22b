//! Typed errors of the safe kernel API: every length, stride and shape is checked before any
//! unsafe code runs, and a violation names the operand and what was expected.

use thiserror::Error;

/// Why a kernel refused to run.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum KernelError {
    /// An operand's logical shape does not fit the operation.
    #[error("{operand}: expected shape {expected}, found {found}")]
    ShapeMismatch {
        /// The operand (`"input"`, `"output"`, `"weights"`, `"residual"` ...).
        operand: &'static str,
        /// The shape the operation needs, in words or as `[n, h, w, c]`.
        expected: String,
        /// The shape given.
        found: String,
    },
    /// A slice is shorter than its layout needs.
    #[error("{operand}: buffer holds {len} floats but the layout needs {needed}")]
    BufferTooSmall {
        /// The operand whose slice is short.
        operand: &'static str,
        /// Floats the layout addresses (last element's index + 1).
        needed: usize,
        /// Floats the slice holds.
        len: usize,
    },
    /// A layout is not self-consistent (channel range outside the pixel stride, overflow, ...).
    #[error("{operand}: invalid layout: {reason}")]
    InvalidLayout {
        /// The operand whose layout is wrong.
        operand: &'static str,
        /// What is inconsistent.
        reason: String,
    },
    /// A scalar parameter (kernel size, stride, padding, thread count ...) is out of range.
    #[error("invalid parameter {name}: {reason}")]
    InvalidParameter {
        /// The parameter (`"kernel"`, `"stride"`, `"threads"` ...).
        name: &'static str,
        /// The valid range, or why the value is refused.
        reason: String,
    },
    /// The thread pool could not be built.
    #[error("thread pool: {0}")]
    ThreadPool(String),
}

impl KernelError {
    pub(crate) fn shape(
        operand: &'static str,
        expected: impl ToString,
        found: impl ToString,
    ) -> Self {
        KernelError::ShapeMismatch {
            operand,
            expected: expected.to_string(),
            found: found.to_string(),
        }
    }

    pub(crate) fn param(name: &'static str, reason: impl ToString) -> Self {
        KernelError::InvalidParameter {
            name,
            reason: reason.to_string(),
        }
    }
}

/// Result alias for kernel calls.
pub type Result<T> = std::result::Result<T, KernelError>;
