//! # ghost-backbone
//!
//! GhostNet V1 (Han et al., CVPR 2020) at any width, loaded from timm / huawei `state_dict`
//! names: an ImageNet-style classifier (logits) and a stride 4/8/16/32 feature extractor for the
//! YOLO11-GhostNet detector.
//!
//! ```no_run
//! use ghost_backbone::{GhostNet, GhostNetConfig};
//! use ghost_layers::{Context, SafetensorsFile, Tensor};
//!
//! let weights = SafetensorsFile::open("ghostnet_100.safetensors")?;
//! let net = GhostNet::load(&weights, GhostNetConfig::timm(1.0))?;
//! let image = Tensor::zeros([1, 224, 224, 3]); // NHWC, normalised RGB
//! let mut ctx = Context::single_threaded();
//! let logits = net.classify(&mut ctx, &image.view())?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations)]

pub mod config;
pub mod head;
pub mod model;

pub use config::{
    conv_output_len, feature_stages, BlockCfg, GhostNetConfig, FEATURE_STRIDES, HEAD_CHANNELS,
    STAGES,
};
pub use head::ClassifierHead;
pub use model::{GhostNet, GhostNetOutput};

/// The README's examples, compiled and run as doc tests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
