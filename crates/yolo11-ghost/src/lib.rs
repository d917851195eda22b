//! # yolo11-ghost
//!
//! YOLO11 and YOLO11-GhostNet detectors built from Ultralytics model YAMLs and safetensors
//! weights, run on the CPU kernels of `ghost-kernels`.
//!
//! - [`spec`]: YAML -> [`spec::ModelSpec`] with Ultralytics' `parse_model` rules;
//! - [`info`]: per-layer parameter / GFLOP table and the model summary;
//! - [`graph`]: the loaded network ([`YoloModel`]): the YAML's blocks loaded with BatchNorms
//!   folded, lowered to an execution graph, patched by the rewrites, its buffers planned; its
//!   forward pass returns Ultralytics' eval-mode `output0` `[N, 4 + nc, A]`;
//! - [`detector`]: images in, detections out ([`detector::Detector`]), on [`letterbox`],
//!   [`nms`] and [`postprocess`]; [`val`]: mAP on a YOLO-format dataset as `yolo val` computes it.
//!
//! Most programs need only the [`prelude`]:
//!
//! ```no_run
//! use yolo11_ghost::prelude::*;
//!
//! let detector = Detector::from_weights("best.safetensors".as_ref(), DetectorOptions::default())?;
//! for d in detector.detect_path("street.jpg".as_ref())? {
//!     println!("{} {:.2} [{:.0}, {:.0}, {:.0}, {:.0}]", d.class_name, d.confidence, d.x1, d.y1, d.x2, d.y2);
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations)]

pub(crate) mod blocks;
pub mod error;
pub mod graph;
pub mod info;
mod lowering;
mod plan;
pub mod prelude;
pub mod quantize;
mod rewrites;
pub mod spec;
mod u8_homes;
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

/// The README's examples, compiled and run as doc tests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
