//! # yolo11-ghost
//!
//! YOLO11 and YOLO11-GhostNet detectors built from Ultralytics model YAMLs and safetensors
//! weights, run on the CPU kernels of `ghost-kernels`.
//!
//! - [`spec`]: YAML -> [`spec::ModelSpec`] with Ultralytics' `parse_model` rules;
//! - [`info`]: per-layer parameter / GFLOP table and the model summary;
//! - [`blocks`], [`plan`], [`graph`]: the loaded network ([`YoloModel`]) and its forward pass,
//!   returning Ultralytics' eval-mode `output0` `[N, 4 + nc, A]`.
#![warn(missing_debug_implementations)]

pub mod blocks;
pub mod error;
pub mod graph;
pub mod info;
pub mod plan;
pub mod spec;
mod upsample_rewrite;

// Pre/post-processing and the detector (the ghost-yolo CLI sits on these; image decoding and
// drawing are the ghost-image crate, re-exported here because the detector's API uses its types).
pub mod detector;
pub mod letterbox;
pub mod nms;
pub mod postprocess;
pub mod val;

pub use error::{Result, YoloError};
pub use ghost_image;
pub use graph::YoloModel;
pub use spec::ModelSpec;
