//! Rust errors and panics as Python exceptions: `FileNotFoundError` when a file is missing,
//! `ValueError` for an invalid argument, `ghost_yolo.GhostYoloError` for everything else (bad
//! weights, YAML, images); a panic never unwinds into Python.

use std::error::Error;
use std::panic::{catch_unwind, AssertUnwindSafe};

use pyo3::exceptions::{PyException, PyFileNotFoundError, PyValueError};
use pyo3::prelude::*;
use yolo11_ghost::detector::DetectError;
use yolo11_ghost::val::ValError;

pyo3::create_exception!(
    _core,
    GhostYoloError,
    PyException,
    "Bad weights, model YAML, image or dataset (the message says which file and why), or an \
     internal error of the engine."
);

/// The message of an error and of its causes, as one line.
fn message(error: &dyn Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(c) = cause {
        let s = c.to_string();
        if !text.contains(&s) {
            text.push_str(": ");
            text.push_str(&s);
        }
        cause = c.source();
    }
    text
}

/// Whether an `io::Error` of kind `NotFound` is among the causes.
fn is_not_found(error: &(dyn Error + 'static)) -> bool {
    let mut cause: Option<&(dyn Error + 'static)> = Some(error);
    while let Some(c) = cause {
        if let Some(io) = c.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::NotFound {
                return true;
            }
        }
        cause = c.source();
    }
    false
}

/// A library error as the Python exception a user expects.
pub fn to_py(error: &(dyn Error + 'static)) -> PyErr {
    let text = message(error);
    let invalid_option = matches!(
        error.downcast_ref::<DetectError>(),
        Some(DetectError::InvalidOption { .. })
    ) || matches!(
        error.downcast_ref::<ValError>(),
        Some(ValError::InvalidOption { .. })
            | Some(ValError::Detect(DetectError::InvalidOption { .. }))
    );
    if invalid_option {
        PyValueError::new_err(text)
    } else if is_not_found(error) {
        PyFileNotFoundError::new_err(text)
    } else {
        GhostYoloError::new_err(text)
    }
}

/// Run `f` without letting a panic escape: a panic becomes `GhostYoloError` with its message.
pub fn guarded<T>(f: impl FnOnce() -> PyResult<T>) -> PyResult<T> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(result) => result,
        Err(payload) => {
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Err(GhostYoloError::new_err(format!(
                "internal error (a bug, please report it): {what}"
            )))
        }
    }
}

/// `Err(e)` of any library error type as a Python exception.
pub fn py_err<E: Error + 'static>(error: E) -> PyErr {
    to_py(&error)
}
