//! # ghost-video
//!
//! Video files and live streams for ghost-yolo, decoded by the `ffmpeg` program found at run time
//! (the way camera NVRs such as Frigate use it): nothing is linked, the default build stays pure
//! Rust, and a missing `ffmpeg` is a clear [`VideoError::ProgramNotFound`] naming it.
//!
//! - [`mod@probe`]: what `ffprobe` says about a file or stream (size, frame rate, codec, frame count);
//! - [`decoder`]: [`VideoDecoder`], an iterator of raw frames read from ffmpeg's stdout through a
//!   bounded queue (memory stays flat on long videos);
//! - [`program`]: where `ffmpeg` / `ffprobe` are found;
//! - [`source`]: Ultralytics predict's sources (files, directories, quoted globs, `.txt` lists,
//!   videos, stream URLs) expanded into [`Input`]s;
//! - [`frames`]: [`FrameReader`], the frames of those inputs as RGB images with their origin;
//! - [`batch`]: Ultralytics' batching rules and [`detect_frames`], the frame-iterator form of the
//!   `Detector` API (also for frames of the caller's own, [`Frame::from_image`]);
//! - [`labels`], [`crop`], [`encoder`]: Ultralytics predict's outputs (YOLO label files byte for
//!   byte, `save_one_box` crops, annotated H.264 MP4 through an ffmpeg encode pipe);
//! - [`pipeline`]: `predict` end to end, decode / inference / output on three threads;
//! - [`mod@prefetch`]: an iterator on its own thread behind a bounded channel (decode overlaps
//!   inference).
//!
//! Why BGR comes from ffmpeg (`-pix_fmt bgr24`) and not from our own YUV conversion: see
//! `docs/video.md` (it equals `cv2.VideoCapture` bit for bit on the committed clip).
#![warn(missing_docs, missing_debug_implementations)]

mod atomic;
pub mod batch;
pub mod crop;
pub mod decoder;
pub mod encoder;
pub mod error;
pub mod frame;
pub mod frames;
pub mod labels;
pub mod pipeline;
pub mod prefetch;
pub mod probe;
pub mod program;
pub mod source;

pub use batch::{
    batches, detect_batch, detect_batch_in, detect_frames, FrameDetections, StreamError,
};
pub use decoder::{DecodeOptions, VideoDecoder};
pub use encoder::VideoEncoder;
pub use error::VideoError;
pub use frame::{PixelFormat, VideoFrame};
pub use frames::{Frame, FrameError, FrameOrigin, FrameReader};
pub use labels::{format_g, label_file, label_line, tracked_label_file, OutputNames};
pub use pipeline::{
    json_record, json_record_text, run_pipeline, run_pipeline_on_streams, run_pipeline_with, Event,
    PipelineOptions, Summary,
};
pub use prefetch::{prefetch, Prefetch};
pub use probe::{probe, VideoInfo};
pub use source::{expand_sources, Input, InputKind, SourceError};

/// The README's examples, compiled and run as doc tests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
