//! Multi-object tracking for ghost-yolo: ByteTrack exactly as Ultralytics' `BYTETracker` runs it
//! (`yolo track` with `tracker=bytetrack.yaml`), in pure Rust with no dependency on the model crates.
//!
//! Input: each frame's detections as corner boxes with a score and a class ([`Detection`]); output:
//! the confirmed tracks of that frame with stable IDs, their Kalman-filtered boxes and the index of
//! the detection each one matched ([`Track`]). Defaults are Ultralytics' `bytetrack.yaml`
//! ([`TrackerConfig`]).
//!
//! Parity: `tests/ultralytics_parity.rs` feeds the detections of committed sequences to this
//! tracker and compares IDs, order and boxes with what Ultralytics 8.4.190's `BYTETracker` gave
//! (fixture made by `tools/make_track_fixtures.py`). See `docs/tracking.md`.
#![forbid(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations)]

pub mod assignment;
mod kalman;
mod matching;
mod strack;
mod tracker;
mod types;

pub use tracker::Tracker;
pub use types::{Detection, Track, TrackError, TrackerConfig};

/// The README's examples, compiled and run as doc tests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
