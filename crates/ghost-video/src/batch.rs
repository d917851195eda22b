//! Frames -> batches -> detections, beside the `Detector` API: Ultralytics predict's batching
//! rules, and a frame iterator a library user can feed with frames of their own.

use yolo11_ghost::detector::{Context, DetectError, Detector};
use yolo11_ghost::postprocess::Detection;

use crate::frames::{Frame, FrameOrigin};
use crate::source::InputKind;

impl Frame {
    /// A frame of the caller's own (camera SDK, screen grabber, another decoder): `index` is its
    /// 0-based position in the caller's stream.
    pub fn from_image(index: u64, image: image::RgbImage) -> Self {
        Frame {
            origin: FrameOrigin {
                input_index: 0,
                location: std::path::PathBuf::new(),
                kind: InputKind::Stream,
                frame: index + 1,
                frame_index: index,
                total_frames: None,
                fps: None,
            },
            image,
        }
    }
}

/// Whether two frames may share a forward pass: Ultralytics batches images together, but a batch
/// never spans two videos nor mixes images and video frames.
fn same_group(a: &FrameOrigin, b: &FrameOrigin) -> bool {
    match (a.kind, b.kind) {
        (InputKind::Image, InputKind::Image) => true,
        (InputKind::Image, _) | (_, InputKind::Image) => false,
        _ => a.input_index == b.input_index,
    }
}

/// Groups frames into batches of at most `batch` (see [`batches`]).
#[derive(Debug)]
pub struct Batches<I, E> {
    frames: I,
    batch: usize,
    /// A frame (or error) read ahead that starts the next batch.
    held: Option<Result<Frame, E>>,
}

/// Group `frames` into batches of up to `batch` frames (at least 1) with Ultralytics' rules: a
/// batch never spans two videos, images are flushed before a video starts. An error item ends
/// the batch being filled (which is returned first) and is then returned on its own.
pub fn batches<I, E>(frames: I, batch: usize) -> Batches<I, E>
where
    I: Iterator<Item = Result<Frame, E>>,
{
    Batches {
        frames,
        batch: batch.max(1),
        held: None,
    }
}

impl<I, E> Iterator for Batches<I, E>
where
    I: Iterator<Item = Result<Frame, E>>,
{
    type Item = Result<Vec<Frame>, E>;

    fn next(&mut self) -> Option<Self::Item> {
        let mut out: Vec<Frame> = Vec::with_capacity(self.batch);
        loop {
            let item = match self.held.take() {
                Some(item) => item,
                None => match self.frames.next() {
                    Some(item) => item,
                    None => return (!out.is_empty()).then_some(Ok(out)),
                },
            };
            match item {
                Err(e) if out.is_empty() => return Some(Err(e)),
                Ok(f) if out.last().is_none_or(|l| same_group(&l.origin, &f.origin)) => {
                    out.push(f);
                    if out.len() == self.batch {
                        return Some(Ok(out));
                    }
                }
                other => {
                    self.held = Some(other);
                    return Some(Ok(out));
                }
            }
        }
    }
}

/// A frame with its detections.
#[derive(Debug, Clone)]
pub struct FrameDetections {
    /// The frame (pixels and origin), kept for drawing, crops and label files.
    pub frame: Frame,
    /// Its detections, in the original frame's pixel coordinates.
    pub detections: Vec<Detection>,
    /// When a tracker ran on the frame: each detection's track ID (same order and length as
    /// `detections`, which then hold the tracks' boxes). `None` from the detector alone.
    pub track_ids: Option<Vec<u64>>,
}

/// Run `detector` on one batch (one forward pass).
pub fn detect_batch(
    detector: &Detector,
    batch: Vec<Frame>,
) -> Result<Vec<FrameDetections>, DetectError> {
    detect_batch_in(detector, None, batch)
}

/// [`detect_batch`] on `ctx` when given (a stream of a `StreamPool`), else on the detector's own
/// contexts. The same detections either way.
pub fn detect_batch_in(
    detector: &Detector,
    ctx: Option<&mut Context>,
    batch: Vec<Frame>,
) -> Result<Vec<FrameDetections>, DetectError> {
    // Lend the pixels to the detector and take them back: no copy of the frames.
    let mut batch = batch;
    let images: Vec<image::RgbImage> = batch
        .iter_mut()
        .map(|f| std::mem::take(&mut f.image))
        .collect();
    let detected = match ctx {
        Some(ctx) => detector.detect_batch_rgb_with_context(&images, ctx),
        None => detector.detect_batch_rgb(&images),
    };
    for (frame, image) in batch.iter_mut().zip(images) {
        frame.image = image;
    }
    Ok(batch
        .into_iter()
        .zip(detected?)
        .map(|(frame, detections)| FrameDetections {
            frame,
            detections,
            track_ids: None,
        })
        .collect())
}

/// Why a frame has no detections: its input failed, or the detector did.
#[derive(Debug, thiserror::Error)]
pub enum StreamError<E: std::error::Error + 'static> {
    /// Reading the frames failed (the input is skipped).
    #[error(transparent)]
    Frames(E),
    /// Inference failed.
    #[error(transparent)]
    Detect(#[from] DetectError),
}

/// Detections for a stream of frames, `batch` frames per forward pass: the frame-iterator form of
/// the `Detector` API. Works on [`crate::FrameReader`] or on frames of the caller's own
/// ([`Frame::from_image`]); yields one item per frame (or per failed input).
pub fn detect_frames<'d, I, E>(
    detector: &'d Detector,
    frames: I,
    batch: usize,
) -> impl Iterator<Item = Result<FrameDetections, StreamError<E>>> + 'd
where
    I: Iterator<Item = Result<Frame, E>> + 'd,
    E: std::error::Error + 'static,
{
    batches(frames, batch).flat_map(move |b| -> Vec<Result<FrameDetections, StreamError<E>>> {
        match b {
            Err(e) => vec![Err(StreamError::Frames(e))],
            Ok(frames) => match detect_batch(detector, frames) {
                Ok(done) => done.into_iter().map(Ok).collect(),
                Err(e) => vec![Err(e.into())],
            },
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(input_index: usize, kind: InputKind, n: u64) -> Result<Frame, std::io::Error> {
        let mut f = Frame::from_image(n, image::RgbImage::new(2, 2));
        f.origin.input_index = input_index;
        f.origin.kind = kind;
        Ok(f)
    }

    fn shape(
        items: Vec<Result<Frame, std::io::Error>>,
        batch: usize,
    ) -> Vec<Result<Vec<usize>, String>> {
        batches(items.into_iter(), batch)
            .map(|b| {
                b.map(|v| v.iter().map(|f| f.origin.input_index).collect())
                    .map_err(|e| e.to_string())
            })
            .collect()
    }

    #[test]
    fn batches_follow_ultralytics_rules() {
        use InputKind::*;
        // images 0,1,2 then video 3 (3 frames) then video 4 (2 frames), batch 2
        let items = vec![
            frame(0, Image, 0),
            frame(1, Image, 0),
            frame(2, Image, 0),
            frame(3, Video, 0),
            frame(3, Video, 1),
            frame(3, Video, 2),
            frame(4, Video, 0),
            frame(4, Video, 1),
        ];
        let got = shape(items, 2);
        let want: Vec<Result<Vec<usize>, String>> = vec![
            Ok(vec![0, 1]),
            Ok(vec![2]),
            Ok(vec![3, 3]),
            Ok(vec![3]),
            Ok(vec![4, 4]),
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn an_error_closes_the_batch_and_comes_alone() {
        use InputKind::*;
        let items = vec![
            frame(0, Image, 0),
            Err(std::io::Error::other("bad file")),
            frame(2, Image, 0),
        ];
        assert_eq!(
            shape(items, 4),
            vec![Ok(vec![0]), Err("bad file".to_string()), Ok(vec![2])]
        );
        assert_eq!(shape(vec![], 4), vec![]);
    }
}
