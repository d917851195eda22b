//! [`FrameReader`]: the frames of expanded sources, one after another, as RGB images, with where
//! each came from (Ultralytics' `LoadImagesAndVideos` / `LoadStreams`, one source at a time).

use ghost_image::image_io::{load_rgb, ImageLoadError};
use image::RgbImage;

use crate::decoder::{DecodeOptions, VideoDecoder};
use crate::error::VideoError;
use crate::frame::PixelFormat;
use crate::source::{Input, InputKind};

/// Where a frame came from.
#[derive(Debug, Clone, PartialEq)]
pub struct FrameOrigin {
    /// Index of the input in the expanded list.
    pub input_index: usize,
    /// The input's path (exactly as the OS names it, not necessarily UTF-8) or URL.
    pub location: std::path::PathBuf,
    /// Image, video or stream.
    pub kind: InputKind,
    /// For videos and streams: Ultralytics' 1-based frame counter (frames kept after
    /// `vid_stride`), used in label file names (`name_3.txt`); 0 for images.
    pub frame: u64,
    /// For videos and streams: the 0-based index of the frame in the decoded stream.
    pub frame_index: u64,
    /// Frames this input will give when known (images: 1; videos: count / vid_stride).
    pub total_frames: Option<u64>,
    /// Frames per second of a video or stream (0 when unknown; `None` for images).
    pub fps: Option<f64>,
}

/// A decoded frame and where it came from.
#[derive(Debug, Clone)]
pub struct Frame {
    /// Where it came from.
    pub origin: FrameOrigin,
    /// The pixels (RGB, as the model takes them; converted from BGR exactly as OpenCV's frames).
    pub image: RgbImage,
}

/// One input failed; the reader goes on with the next.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// An image file could not be read or decoded.
    #[error(transparent)]
    Image(#[from] ImageLoadError),
    /// A video or stream could not be opened or decoded.
    #[error(transparent)]
    Video(#[from] VideoError),
}

/// Iterator over the frames of a list of inputs. Items are `Err` for an input that failed
/// (reported once; the reader continues with the next input). Warnings about inputs that ended
/// early (truncated files, streams that stopped) collect in [`FrameReader::take_warnings`].
#[derive(Debug)]
pub struct FrameReader {
    inputs: Vec<Input>,
    next_input: usize,
    video: Option<(usize, VideoDecoder)>,
    decode: DecodeOptions,
    warnings: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl FrameReader {
    /// Read `inputs` in order; videos and streams are decoded with `decode` (its pixel format is
    /// forced to BGR, converted to RGB here).
    pub fn new(inputs: Vec<Input>, decode: DecodeOptions) -> Self {
        Self {
            inputs,
            next_input: 0,
            video: None,
            decode: DecodeOptions {
                format: PixelFormat::Bgr24,
                ..decode
            },
            warnings: Default::default(),
        }
    }

    /// A handle on the warnings, readable from another thread while the reader runs on its own.
    pub fn warnings_handle(&self) -> std::sync::Arc<std::sync::Mutex<Vec<String>>> {
        self.warnings.clone()
    }

    /// The inputs being read.
    pub fn inputs(&self) -> &[Input] {
        &self.inputs
    }

    /// Warnings gathered since the last call.
    pub fn take_warnings(&mut self) -> Vec<String> {
        take_all(&self.warnings)
    }

    fn next_video_frame(&mut self) -> Option<Result<Frame, FrameError>> {
        let (input_index, decoder) = self.video.as_mut()?;
        let input_index = *input_index;
        match decoder.next() {
            Some(Ok(raw)) => {
                let origin = FrameOrigin {
                    input_index,
                    location: decoder.input().into(),
                    kind: self.inputs[input_index].kind,
                    frame: decoder.frames_yielded(),
                    frame_index: raw.index,
                    total_frames: decoder.expected_frames(),
                    fps: Some(decoder.info().fps),
                };
                let (w, h) = (raw.width, raw.height);
                let rgb = raw.into_rgb().expect("the reader decodes BGR");
                let image =
                    RgbImage::from_raw(w, h, rgb).expect("frame size follows width x height");
                Some(Ok(Frame { origin, image }))
            }
            Some(Err(e)) => {
                self.video = None;
                Some(Err(e.into()))
            }
            None => {
                if let Ok(mut w) = self.warnings.lock() {
                    w.extend_from_slice(decoder.warnings());
                }
                self.video = None;
                None
            }
        }
    }
}

impl Iterator for FrameReader {
    type Item = Result<Frame, FrameError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.video.is_some() {
                if let Some(item) = self.next_video_frame() {
                    return Some(item);
                }
                continue;
            }
            let index = self.next_input;
            let input = self.inputs.get(index)?.clone();
            self.next_input += 1;
            match input.kind {
                InputKind::Image => {
                    let image = match load_rgb(&input.location) {
                        Ok(image) => image,
                        Err(e) => return Some(Err(e.into())),
                    };
                    let origin = FrameOrigin {
                        input_index: index,
                        location: input.location,
                        kind: InputKind::Image,
                        frame: 0,
                        frame_index: 0,
                        total_frames: Some(1),
                        fps: None,
                    };
                    return Some(Ok(Frame { origin, image }));
                }
                InputKind::Video | InputKind::Stream => {
                    match VideoDecoder::open(&input.location, self.decode.clone()) {
                        Ok(decoder) => self.video = Some((index, decoder)),
                        Err(e) => return Some(Err(e.into())),
                    }
                }
            }
        }
    }
}

/// Empty a shared warning list (a poisoned lock still gives its contents).
pub fn take_all(warnings: &std::sync::Mutex<Vec<String>>) -> Vec<String> {
    match warnings.lock() {
        Ok(mut w) => std::mem::take(&mut *w),
        Err(poisoned) => std::mem::take(&mut *poisoned.into_inner()),
    }
}
