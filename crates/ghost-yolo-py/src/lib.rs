//! `ghost_yolo._core`: the compiled half of the `ghost_yolo` Python package (the Ultralytics-shaped
//! API lives in `python/ghost_yolo/`, on top of these functions).
//!
//! Every entry point releases the GIL while it decodes, letterboxes, runs the network and NMS
//! ([`Python::detach`]), catches panics (`errors::guarded`) and raises `FileNotFoundError`,
//! `ValueError` or `ghost_yolo.GhostYoloError` (`errors`).
#![warn(missing_docs)]

mod errors;
mod images;
mod model;
mod tracking;
mod video;

use pyo3::prelude::*;

/// The compiled module.
#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add(
        "GhostYoloError",
        m.py().get_type::<errors::GhostYoloError>(),
    )?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<model::Model>()?;
    m.add_class::<tracking::Tracker>()?;
    m.add_class::<video::VideoReader>()?;
    m.add_function(wrap_pyfunction!(model::builtin_models, m)?)?;
    m.add_function(wrap_pyfunction!(images::annotate, m)?)?;
    m.add_function(wrap_pyfunction!(images::save_image, m)?)?;
    m.add_function(wrap_pyfunction!(images::read_image, m)?)?;
    m.add_function(wrap_pyfunction!(_panic_for_tests, m)?)?;
    Ok(())
}

/// Test hook: panics inside the same guard every entry point uses, so the suite can check that a
/// panic reaches Python as `GhostYoloError` (`tests/test_errors.py`).
#[pyfunction]
fn _panic_for_tests(message: String) -> PyResult<()> {
    errors::guarded(|| panic!("{message}"))
}
