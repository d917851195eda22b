//! Bounds on everything an untrusted input can make this engine allocate or wait for.
//!
//! Every file, YAML document and integer that comes from outside (weights, metadata, model
//! YAML, `data.yaml`, label files, images, command-line arguments) passes through one of these
//! before anything is sized from it:
//!
//! - [`file`](mod@file): opens only regular files, never blocking (a FIFO or device is refused by its
//!   kind, before any read), and reads at most a given number of bytes.
//! - [`walk`]: directory walks that visit each directory and each file once (by device and
//!   inode), so symlink loops end and an image is never counted twice.
//! - [`yaml`]: YAML parsed only after a streaming pre-scan has bounded its nesting depth and the
//!   size it has once aliases are expanded ("billion laughs").
//! - [`int`]: integers from text converted with range checks.
//! - [`text`]: text from files escaped before it reaches a terminal; paths encoded losslessly.
//!
//! Each limit, its default, why, and how to raise it: `docs/limits.md`.
//! This crate sits at the bottom of the workspace (no project dependencies) so that the weights
//! loader in `ghost-layers` and everything above it share one implementation.
#![forbid(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations)]

pub mod budget;
pub mod file;
pub mod int;
pub mod text;
pub mod walk;
pub mod yaml;

pub use file::{open_regular, read_bounded, read_text_bounded, FileError, FileKind, ReadLimit};
pub use walk::{walk_files, WalkError};
pub use yaml::{load_yaml, YamlLimitError, YamlLimits};

/// An environment variable's value as a byte count or count, else `default`. Used by the
/// `GHOST_YOLO_MAX_*` overrides listed in `docs/limits.md`; a value that does not parse is
/// ignored (the default stays), so a typo can never remove a limit.
pub fn env_limit(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|&v| v > 0)
        .unwrap_or(default)
}

/// The README's examples, compiled and run as doc tests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
