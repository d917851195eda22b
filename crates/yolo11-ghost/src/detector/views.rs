//! Detection on decoded images the caller owns (a numpy array, a video frame), borrowed as they
//! are: interleaved 8-bit `H x W x 3` in RGB or BGR order (OpenCV's), with the options given per
//! call and the time of each stage.
//!
//! The letterbox reads the borrowed pixels directly (OpenCV's resize is per channel, so resizing
//! BGR and swapping afterwards equals swapping first) and writes the model input in RGB, so a BGR
//! buffer is never copied or converted; the result is bit-identical to [`Detector::detect_rgb`]
//! on the same pixels in RGB order (`tests/pixel_views.rs`).

use std::time::Instant;

use image::RgbImage;
use ndarray::{Array4, Axis, Slice};

use super::Warning;
use super::{Context, DetectError, Detector, DetectorOptions};
use crate::letterbox::{resize_linear, Letterbox, LetterboxError, LetterboxGeometry, PAD_VALUE};
use crate::nms::non_max_suppression;
use crate::postprocess::{to_detections, Detection};

/// Order of the three channels of a pixel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelOrder {
    /// Red, green, blue (PIL, the `image` crate).
    Rgb,
    /// Blue, green, red (OpenCV, `cv2.imread`).
    Bgr,
}

/// A borrowed, C-contiguous `height x width x 3` 8-bit image.
#[derive(Debug, Clone, Copy)]
pub struct PixelView<'a> {
    data: &'a [u8],
    height: usize,
    width: usize,
    order: ChannelOrder,
}

impl<'a> PixelView<'a> {
    /// Borrow `data` as a `height x width x 3` image; fails when its length disagrees with the
    /// shape or the image has no pixels.
    pub fn new(
        data: &'a [u8],
        height: usize,
        width: usize,
        order: ChannelOrder,
    ) -> Result<Self, LetterboxError> {
        if height == 0 || width == 0 {
            return Err(LetterboxError::EmptyImage { height, width });
        }
        let expected = height.checked_mul(width).and_then(|n| n.checked_mul(3));
        if expected != Some(data.len()) {
            return Err(LetterboxError::BufferSize {
                height,
                width,
                channels: 3,
                expected: expected.unwrap_or(usize::MAX),
                found: data.len(),
            });
        }
        Ok(Self {
            data,
            height,
            width,
            order,
        })
    }

    /// Borrow an RGB image.
    pub fn rgb(image: &'a RgbImage) -> Self {
        Self {
            data: image.as_raw(),
            height: image.height() as usize,
            width: image.width() as usize,
            order: ChannelOrder::Rgb,
        }
    }

    /// `(height, width)`.
    pub fn shape(&self) -> (usize, usize) {
        (self.height, self.width)
    }

    /// The channel order.
    pub fn order(&self) -> ChannelOrder {
        self.order
    }
}

/// Wall-clock milliseconds of the three stages of one batch (Ultralytics' `speed`).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StageTimes {
    /// Letterbox and input tensor.
    pub preprocess_ms: f64,
    /// The network.
    pub inference_ms: f64,
    /// NMS and scaling to the original images.
    pub postprocess_ms: f64,
}

/// Detections per image of a batch, with the stage times and the remarks on the options.
#[derive(Debug, Clone, Default)]
pub struct TimedDetections {
    /// One list per input image, in input order.
    pub detections: Vec<Vec<Detection>>,
    /// Time of the whole batch per stage.
    pub times: StageTimes,
    /// Non-fatal remarks on the per-call options (imgsz rounded to the stride, unknown classes).
    pub warnings: Vec<Warning>,
}

impl Detector {
    /// Detect objects in borrowed images with one forward pass, using `options` for this call
    /// instead of the detector's own (`options.threads` is not used: `ctx` decides, else the
    /// detector's pool). The batch is letterboxed like [`Detector::detect_batch_rgb`]: minimal
    /// `rect` padding when every image has the same shape and `options.rect`, else `imgsz`.
    pub fn detect_views(
        &self,
        images: &[PixelView<'_>],
        options: &DetectorOptions,
        ctx: Option<&mut Context>,
    ) -> Result<TimedDetections, DetectError> {
        let (imgsz, warnings) = options.validate(self.stride(), self.num_classes())?;
        if images.is_empty() {
            return Ok(TimedDetections {
                warnings,
                ..TimedDetections::default()
            });
        }
        let start = Instant::now();
        let same_shape = images.windows(2).all(|p| p[0].shape() == p[1].shape());
        let letterbox = Letterbox {
            stride: self.stride(),
            ..Letterbox::new(imgsz.0, imgsz.1)
        }
        .minimal_rect(options.rect && same_shape);
        let (tensor, geometry) = letterbox_views(&letterbox, images)?;
        let preprocessed = Instant::now();

        let output = match ctx {
            Some(ctx) => self.forward_with_context(tensor.view(), ctx)?,
            None => self.forward(tensor.view())?,
        };
        let inferred = Instant::now();

        let nms = options.nms();
        let input_hw = (tensor.shape()[2], tensor.shape()[3]);
        let (channels, anchors) = (output.shape()[1], output.shape()[2]);
        let mut detections = Vec::with_capacity(images.len());
        for (item, g) in output.axis_iter(Axis(0)).zip(&geometry) {
            let item = item.as_standard_layout();
            let flat = item.as_slice().unwrap_or(&[]);
            let raw = non_max_suppression(flat, channels, anchors, &nms)?;
            detections.push(to_detections(
                &raw,
                input_hw,
                (g.orig_h, g.orig_w),
                self.class_names(),
            ));
        }
        let done = Instant::now();
        let ms = |a: Instant, b: Instant| (b - a).as_secs_f64() * 1e3;
        Ok(TimedDetections {
            detections,
            times: StageTimes {
                preprocess_ms: ms(start, preprocessed),
                inference_ms: ms(preprocessed, inferred),
                postprocess_ms: ms(inferred, done),
            },
            warnings,
        })
    }
}

/// Letterbox every view straight into one `[N, 3, H, W]` RGB input (`u8 / 255` as
/// [`crate::letterbox::to_input_tensor`] computes it, pad 114).
fn letterbox_views(
    letterbox: &Letterbox,
    images: &[PixelView<'_>],
) -> Result<(Array4<f32>, Vec<LetterboxGeometry>), LetterboxError> {
    let geometry = images
        .iter()
        .map(|v| letterbox.geometry(v.height, v.width))
        .collect::<Result<Vec<_>, _>>()?;
    // Rect padding only happens when all shapes agree, so every geometry has the same output.
    let (out_h, out_w) = geometry[0].output_shape();
    if let Some((index, g)) = geometry
        .iter()
        .enumerate()
        .find(|(_, g)| g.output_shape() != (out_h, out_w))
    {
        return Err(LetterboxError::MixedBatchShapes {
            index,
            expected_h: out_h,
            expected_w: out_w,
            found_h: g.output_shape().0,
            found_w: g.output_shape().1,
        });
    }
    let pad = f32::from(PAD_VALUE) / 255.0;
    let mut tensor = Array4::<f32>::from_elem((images.len(), 3, out_h, out_w), pad);
    for (n, (view, g)) in images.iter().zip(&geometry).enumerate() {
        let resized;
        let inner: &[u8] = if (g.unpad_h, g.unpad_w) == (view.height, view.width) {
            view.data
        } else {
            resized = resize_linear(view.data, view.height, view.width, 3, g.unpad_h, g.unpad_w)?;
            &resized
        };
        let source_channel = |c: usize| match view.order {
            ChannelOrder::Rgb => c,
            ChannelOrder::Bgr => 2 - c,
        };
        for c in 0..3 {
            let sc = source_channel(c);
            // Axis by axis, not `s![..]`: the `s!` macro expands to an `allow(unsafe_code)`,
            // which this crate's `forbid(unsafe_code)` refuses.
            let mut image = tensor.index_axis_mut(Axis(0), n);
            let plane = image.index_axis_mut(Axis(0), c);
            let rows = plane.slice_axis_move(Axis(0), Slice::from(g.top..g.top + g.unpad_h));
            let mut plane = rows.slice_axis_move(Axis(1), Slice::from(g.left..g.left + g.unpad_w));
            for (mut row, src) in plane
                .axis_iter_mut(Axis(0))
                .zip(inner.chunks_exact(g.unpad_w * 3))
            {
                for (dst, px) in row.iter_mut().zip(src.chunks_exact(3)) {
                    *dst = f32::from(px[sc]) / 255.0;
                }
            }
        }
    }
    Ok((tensor, geometry))
}
