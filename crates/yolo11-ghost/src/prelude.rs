//! What most programs use: `use yolo11_ghost::prelude::*;`.

pub use crate::detector::{DetectError, Detector, DetectorOptions, WeightsChoice};
pub use crate::error::YoloError;
pub use crate::graph::YoloModel;
pub use crate::postprocess::Detection;
pub use crate::spec::ModelSpec;
pub use ghost_image::draw::annotate;
pub use ghost_image::image_io::load_rgb;
