//! # ghost-image
//!
//! Images in and out of the ghost-yolo detectors, with the pixels Ultralytics sees:
//!
//! - [`image_io`]: decoding as `cv2.imread` does (a libjpeg-turbo-exact JPEG decoder, EXIF
//!   orientation, grey / alpha / 16-bit conversions), with a pixel limit checked on the header;
//! - [`draw`]: annotated images in the style of Ultralytics' `Results.plot()` (boxes, labels, a
//!   built-in bitmap font).
//!
//! This crate knows nothing of models: drawing takes anything that implements
//! [`draw::LabelledBox`].
#![forbid(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations)]

pub mod draw;
pub mod image_io;

/// The README's examples, compiled and run as doc tests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
