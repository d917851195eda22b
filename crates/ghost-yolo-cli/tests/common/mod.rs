//! The CLI's test binaries use the same helpers as yolo11-ghost's (fixture paths, scratch
//! directories, edited weights files): one file, included here by path rather than copied.
#![allow(unused_imports)]

#[path = "../../../yolo11-ghost/tests/common/mod.rs"]
mod shared;

pub use shared::*;
