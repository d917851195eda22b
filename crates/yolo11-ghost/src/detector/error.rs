//! The error type of the detection pipeline (image in, detections out).

use crate::error::YoloError;
use crate::letterbox::LetterboxError;
use crate::nms::NmsError;
use ghost_image::image_io::ImageLoadError;

/// Everything that can go wrong between an image and its detections.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DetectError {
    /// Building or running the model failed (YAML, weights, input shape, kernels).
    #[error(transparent)]
    Model(#[from] YoloError),
    /// An image file could not be read or decoded.
    #[error(transparent)]
    Image(#[from] ImageLoadError),
    /// Pre-processing rejected an image (e.g. zero width).
    #[error(transparent)]
    Letterbox(#[from] LetterboxError),
    /// The model output does not have the `[4 + nc, anchors]` layout NMS expects.
    #[error(transparent)]
    Nms(#[from] NmsError),
    /// An option is outside its valid range.
    #[error("invalid {option}: expected {expected}, found {found}")]
    InvalidOption {
        /// Option name as the CLI spells it (`conf`, `iou`, `threads` ...).
        option: &'static str,
        /// The valid range.
        expected: String,
        /// The value given.
        found: String,
    },
    /// The model returned a tensor of the wrong shape (a bug in the model, reported, not hidden).
    #[error("model output0: expected {expected}, found {found}")]
    OutputShape {
        /// The expected shape rule.
        expected: String,
        /// The shape returned.
        found: String,
    },
    /// Weight-file metadata is present but unusable (e.g. `names` is not a JSON list).
    #[error("weights metadata {key:?}: {message}")]
    Metadata {
        /// Metadata key.
        key: String,
        /// What is wrong.
        message: String,
    },
    /// The kernel thread pool could not be built (the kernel error says why, starting with
    /// "thread pool:").
    #[error(transparent)]
    Threads(ghost_kernels::KernelError),
    /// A throughput-mode item ([`super::StreamPool`]) did not finish: its job panicked, or the
    /// pool shut down before running it. The other items are unaffected.
    #[error("stream item {item}: {message}")]
    Stream {
        /// The item's position in the input sequence (0-based).
        item: usize,
        /// What happened.
        message: String,
    },
}
