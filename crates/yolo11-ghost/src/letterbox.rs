//! Pre-processing exactly as Ultralytics `predict` does it: `LetterBox` (scale to fit, keep the aspect
//! ratio, pad with 114) on top of OpenCV's `cv2.resize(..., INTER_LINEAR)`, reproduced bit for bit.
//!
//! OpenCV resizes 8-bit images in fixed point, and the exact arithmetic matters for parity (a float
//! bilinear differs from it by one level on about a tenth of the pixels):
//! - source coordinate `f = (float)((d + 0.5) * (src / dst) - 0.5)`, `s = floor(f)`, weights
//!   `round_half_even((1 - frac) * 2048)` and `round_half_even(frac * 2048)` (11-bit coefficients);
//! - horizontal taps are clamped at the borders (`s < 0` or `s >= src - 1` -> weight (2048, 0));
//!   vertical taps are NOT: border rows keep their weights and read the clamped row twice;
//! - horizontal pass into `i32` (`p0 * a0 + p1 * a1`), vertical pass as OpenCV's SIMD kernel does
//!   it: `((b0 * (S0 >> 4)) >> 16) + ((b1 * (S1 >> 4)) >> 16)`, then `(v + 2) >> 2`.
//!
//! Checked against `cv2.resize` and Ultralytics `LetterBox` (OpenCV 5.0, Ultralytics 8.4) through
//! `fixtures/letterbox/` (`tools/make_letterbox_fixtures.py`): every pixel identical.

use image::RgbImage;
use ndarray::Array4;

/// Ultralytics' letterbox padding value (grey 114 on every channel).
pub const PAD_VALUE: u8 = 114;

/// OpenCV's `INTER_RESIZE_COEF_BITS`: resize weights are integers in units of 1/2048.
const COEF_SCALE: f32 = 2048.0;

/// What can be wrong with a letterbox request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LetterboxError {
    /// The source image has no pixels.
    #[error("image is empty ({height}x{width} pixels): nothing to resize")]
    EmptyImage {
        /// Rows.
        height: usize,
        /// Columns.
        width: usize,
    },
    /// The target shape has a zero side.
    #[error("letterbox target must be at least 1x1, found {height}x{width}")]
    EmptyTarget {
        /// Target rows.
        height: usize,
        /// Target columns.
        width: usize,
    },
    /// `auto` padding needs a positive stride.
    #[error("letterbox stride must be at least 1, found 0")]
    ZeroStride,
    /// A raw pixel buffer does not match its declared shape.
    #[error(
        "pixel buffer holds {found} bytes, a {height}x{width}x{channels} image needs {expected}"
    )]
    BufferSize {
        /// Rows.
        height: usize,
        /// Columns.
        width: usize,
        /// Channels.
        channels: usize,
        /// `height * width * channels`.
        expected: usize,
        /// Length of the buffer received.
        found: usize,
    },
    /// Images stacked into one batch tensor must share a shape.
    #[error("batch image {index} is {found_h}x{found_w}, image 0 is {expected_h}x{expected_w}: a batch tensor needs one shape")]
    MixedBatchShapes {
        /// Index of the first image that differs.
        index: usize,
        /// Shape of image 0.
        expected_h: usize,
        /// Shape of image 0.
        expected_w: usize,
        /// Shape of the offending image.
        found_h: usize,
        /// Shape of the offending image.
        found_w: usize,
    },
    /// An empty batch cannot become a tensor.
    #[error("cannot build an input tensor from an empty batch")]
    EmptyBatch,
}

/// Letterbox settings, the subset of Ultralytics' `LetterBox` that `predict` and `val` use
/// (`center=True`, `scale_fill=False`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Letterbox {
    /// Target `(height, width)` (Ultralytics `new_shape`, i.e. `imgsz`).
    pub new_shape: (usize, usize),
    /// Pad only up to the next multiple of `stride` instead of to `new_shape` (Ultralytics `auto`,
    /// which `predict` turns on for a PyTorch model when the batch images share one shape).
    pub auto: bool,
    /// The model stride `auto` pads to (32 for YOLO11).
    pub stride: usize,
    /// Padding value on every channel.
    pub pad_value: u8,
    /// Enlarge images smaller than the target (Ultralytics `scaleup`; `predict` does, `val`'s
    /// dataset does not).
    pub scaleup: bool,
}

impl Letterbox {
    /// Pad to exactly `height x width` ("square" mode when they are equal), stride 32, pad 114.
    pub fn new(height: usize, width: usize) -> Self {
        Self {
            new_shape: (height, width),
            auto: false,
            stride: 32,
            pad_value: PAD_VALUE,
            scaleup: true,
        }
    }

    /// Same target, but pad only to a multiple of the stride (`rect` / Ultralytics `auto`).
    pub fn minimal_rect(self, auto: bool) -> Self {
        Self { auto, ..self }
    }

    /// The resize and padding Ultralytics `LetterBox.get_params` computes for an `height x width` image.
    pub fn geometry(
        &self,
        height: usize,
        width: usize,
    ) -> Result<LetterboxGeometry, LetterboxError> {
        let (new_h, new_w) = self.new_shape;
        if height == 0 || width == 0 {
            return Err(LetterboxError::EmptyImage { height, width });
        }
        if new_h == 0 || new_w == 0 {
            return Err(LetterboxError::EmptyTarget {
                height: new_h,
                width: new_w,
            });
        }
        if self.auto && self.stride == 0 {
            return Err(LetterboxError::ZeroStride);
        }
        // Python: r = min(new_h / h, new_w / w); new_unpad = max(round(w * r), 1), ... where
        // round() is round-half-to-even (41 * 0.5 = 20.5 -> 20).
        let mut ratio = f64::min(new_h as f64 / height as f64, new_w as f64 / width as f64);
        if !self.scaleup {
            ratio = ratio.min(1.0);
        }
        let unpad_w = python_round(width as f64 * ratio).max(1.0) as usize;
        let unpad_h = python_round(height as f64 * ratio).max(1.0) as usize;
        let mut dw = new_w as i64 - unpad_w as i64;
        let mut dh = new_h as i64 - unpad_h as i64;
        if self.auto {
            dw = dw.rem_euclid(self.stride as i64);
            dh = dh.rem_euclid(self.stride as i64);
        }
        let (half_w, half_h) = (dw as f64 / 2.0, dh as f64 / 2.0);
        let side = |v: f64| python_round(v).max(0.0) as usize;
        Ok(LetterboxGeometry {
            orig_h: height,
            orig_w: width,
            ratio,
            unpad_h,
            unpad_w,
            top: side(half_h - 0.1),
            bottom: side(half_h + 0.1),
            left: side(half_w - 0.1),
            right: side(half_w + 0.1),
        })
    }

    /// Resize (OpenCV INTER_LINEAR) and pad an RGB image.
    pub fn apply(&self, image: &RgbImage) -> Result<(RgbImage, LetterboxGeometry), LetterboxError> {
        let (w, h) = (image.width() as usize, image.height() as usize);
        let geometry = self.geometry(h, w)?;
        let resized;
        let inner: &[u8] = if (geometry.unpad_h, geometry.unpad_w) == (h, w) {
            image.as_raw()
        } else {
            resized = resize_linear(image.as_raw(), h, w, 3, geometry.unpad_h, geometry.unpad_w)?;
            &resized
        };
        let (out_h, out_w) = geometry.output_shape();
        let mut out = vec![self.pad_value; out_h * out_w * 3];
        let row_len = geometry.unpad_w * 3;
        for y in 0..geometry.unpad_h {
            let dst = ((geometry.top + y) * out_w + geometry.left) * 3;
            out[dst..dst + row_len].copy_from_slice(&inner[y * row_len..(y + 1) * row_len]);
        }
        let image = RgbImage::from_raw(out_w as u32, out_h as u32, out)
            .expect("letterbox output buffer is sized from its own shape");
        Ok((image, geometry))
    }
}

/// Where an original image ended up inside the letterboxed input.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LetterboxGeometry {
    /// Original rows.
    pub orig_h: usize,
    /// Original columns.
    pub orig_w: usize,
    /// Scale factor `min(new_h / h, new_w / w)`.
    pub ratio: f64,
    /// Rows after resizing, before padding.
    pub unpad_h: usize,
    /// Columns after resizing, before padding.
    pub unpad_w: usize,
    /// Padding rows above.
    pub top: usize,
    /// Padding rows below.
    pub bottom: usize,
    /// Padding columns on the left.
    pub left: usize,
    /// Padding columns on the right.
    pub right: usize,
}

impl LetterboxGeometry {
    /// `(height, width)` of the letterboxed image.
    pub fn output_shape(&self) -> (usize, usize) {
        (
            self.unpad_h + self.top + self.bottom,
            self.unpad_w + self.left + self.right,
        )
    }
}

/// Python's `round()` on a float: to nearest, ties to even.
fn python_round(v: f64) -> f64 {
    v.round_ties_even()
}

/// One output coordinate's two source taps: first index and 11-bit weights `(w0, w1)`.
#[derive(Debug, Clone, Copy)]
struct Tap {
    index: isize,
    w0: i32,
    w1: i32,
}

/// OpenCV's coordinate mapping for `dst` outputs over `src` inputs; `clamp` applies the horizontal
/// border rule (weights collapse to the edge pixel), the vertical pass keeps raw weights.
fn taps(src: usize, dst: usize, clamp: bool) -> Vec<Tap> {
    // OpenCV: inv_scale = (double)dst / src; scale = 1. / inv_scale.
    let scale = 1.0 / (dst as f64 / src as f64);
    (0..dst)
        .map(|d| {
            let f = ((d as f64 + 0.5) * scale - 0.5) as f32;
            let floor = f.floor();
            let mut frac = f - floor;
            let mut index = floor as isize;
            if clamp {
                if index < 0 {
                    (frac, index) = (0.0, 0);
                }
                if index >= src as isize - 1 {
                    (frac, index) = (0.0, src as isize - 1);
                }
            }
            // saturate_cast<short>(float) rounds half to even (lrint).
            let w0 = ((1.0 - frac) * COEF_SCALE).round_ties_even() as i32;
            let w1 = (frac * COEF_SCALE).round_ties_even() as i32;
            Tap { index, w0, w1 }
        })
        .collect()
}

/// `cv2.resize(src, (dst_w, dst_h), interpolation=cv2.INTER_LINEAR)` for an interleaved 8-bit
/// image with any channel count, bit-exact (see the module docs for the arithmetic).
pub fn resize_linear(
    src: &[u8],
    height: usize,
    width: usize,
    channels: usize,
    dst_h: usize,
    dst_w: usize,
) -> Result<Vec<u8>, LetterboxError> {
    if height == 0 || width == 0 || channels == 0 {
        return Err(LetterboxError::EmptyImage { height, width });
    }
    if dst_h == 0 || dst_w == 0 {
        return Err(LetterboxError::EmptyTarget {
            height: dst_h,
            width: dst_w,
        });
    }
    let expected = height * width * channels;
    if src.len() != expected {
        return Err(LetterboxError::BufferSize {
            height,
            width,
            channels,
            expected,
            found: src.len(),
        });
    }
    let x_taps = taps(width, dst_w, true);
    let y_taps = taps(height, dst_h, false);
    let row_len = dst_w * channels;

    // Horizontal pass of one source row into i32 (values up to 255 * 2048).
    let horizontal = |row: usize, out: &mut [i32]| {
        let line = &src[row * width * channels..(row + 1) * width * channels];
        for (dx, tap) in x_taps.iter().enumerate() {
            let s = tap.index as usize * channels;
            let o = dx * channels;
            if s / channels + 1 < width {
                for c in 0..channels {
                    out[o + c] =
                        line[s + c] as i32 * tap.w0 + line[s + channels + c] as i32 * tap.w1;
                }
            } else {
                // Right border: OpenCV multiplies the edge pixel by ONE (w0 is 2048 here).
                for c in 0..channels {
                    out[o + c] = line[s + c] as i32 * tap.w0;
                }
            }
        }
    };

    let mut out = vec![0u8; dst_h * row_len];
    let mut cached: [Option<usize>; 2] = [None, None];
    let mut rows = [vec![0i32; row_len], vec![0i32; row_len]];
    let clip_row = |r: isize| r.clamp(0, height as isize - 1) as usize;
    for (dy, tap) in y_taps.iter().enumerate() {
        let (r0, r1) = (clip_row(tap.index), clip_row(tap.index + 1));
        if cached[0] != Some(r0) {
            if cached[1] == Some(r0) {
                rows.swap(0, 1);
                cached.swap(0, 1);
            } else {
                horizontal(r0, &mut rows[0]);
                cached[0] = Some(r0);
            }
        }
        if cached[1] != Some(r1) {
            if r1 == r0 {
                let (a, b) = rows.split_at_mut(1);
                b[0].copy_from_slice(&a[0]);
            } else {
                horizontal(r1, &mut rows[1]);
            }
            cached[1] = Some(r1);
        }
        let dst = &mut out[dy * row_len..(dy + 1) * row_len];
        for ((d, &s0), &s1) in dst.iter_mut().zip(&rows[0]).zip(&rows[1]) {
            // OpenCV's VResizeLinearVec_32s8u: 16-bit high products, then a rounding shift by 2.
            let v = ((tap.w0 * (s0 >> 4)) >> 16) + ((tap.w1 * (s1 >> 4)) >> 16);
            *d = ((v + 2) >> 2).clamp(0, 255) as u8;
        }
    }
    Ok(out)
}

/// Stack letterboxed RGB images into the model input: NCHW f32, RGB, values `u8 / 255` exactly
/// as Ultralytics' `im.float().div_(255)`.
pub fn to_input_tensor(images: &[RgbImage]) -> Result<Array4<f32>, LetterboxError> {
    let first = images.first().ok_or(LetterboxError::EmptyBatch)?;
    let (w, h) = (first.width() as usize, first.height() as usize);
    for (index, img) in images.iter().enumerate() {
        if (img.width() as usize, img.height() as usize) != (w, h) {
            return Err(LetterboxError::MixedBatchShapes {
                index,
                expected_h: h,
                expected_w: w,
                found_h: img.height() as usize,
                found_w: img.width() as usize,
            });
        }
    }
    let mut tensor = Array4::<f32>::zeros((images.len(), 3, h, w));
    for (n, img) in images.iter().enumerate() {
        let raw = img.as_raw();
        for c in 0..3 {
            // `index_axis_mut`, not `s![n, c, .., ..]`: the `s!` macro expands to an
            // `allow(unsafe_code)`, which this crate's `forbid(unsafe_code)` refuses.
            let mut image = tensor.index_axis_mut(ndarray::Axis(0), n);
            let mut plane = image.index_axis_mut(ndarray::Axis(0), c);
            for (dst, px) in plane.iter_mut().zip(raw.chunks_exact(3)) {
                *dst = px[c] as f32 / 255.0;
            }
        }
    }
    Ok(tensor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn geometry_rounds_half_to_even_like_python() {
        // 41 * 0.5 = 20.5 -> Python round -> 20 (a naive round would give 21).
        let g = Letterbox::new(64, 64).geometry(128, 41).unwrap();
        assert_eq!((g.unpad_h, g.unpad_w), (64, 20));
        assert_eq!((g.left, g.right), (22, 22));
        // 43 * 0.5 = 21.5 -> 22.
        let g = Letterbox::new(64, 64).geometry(128, 43).unwrap();
        assert_eq!(g.unpad_w, 22);
    }

    #[test]
    fn odd_padding_puts_the_extra_row_below() {
        // 35x97 -> 64: unpad 23x64, dh = 41 -> top round(20.4) = 20, bottom round(20.6) = 21.
        let g = Letterbox::new(64, 64).geometry(35, 97).unwrap();
        assert_eq!((g.unpad_h, g.top, g.bottom), (23, 20, 21));
        assert_eq!(g.output_shape(), (64, 64));
        // rect mode: 41 mod 32 = 9 -> 4 above, 5 below.
        let g = Letterbox::new(64, 64)
            .minimal_rect(true)
            .geometry(35, 97)
            .unwrap();
        assert_eq!((g.top, g.bottom), (4, 5));
        assert_eq!(g.output_shape(), (32, 64));
    }

    #[test]
    fn predict_scales_small_images_up() {
        let g = Letterbox::new(640, 640).geometry(10, 20).unwrap();
        assert_eq!((g.unpad_h, g.unpad_w), (320, 640));
    }

    #[test]
    fn thin_images_keep_one_pixel() {
        let g = Letterbox::new(32, 32).geometry(1, 3000).unwrap();
        assert_eq!((g.unpad_h, g.unpad_w), (1, 32));
    }

    #[test]
    fn rejects_empty_inputs() {
        assert_eq!(
            Letterbox::new(32, 32).geometry(0, 5),
            Err(LetterboxError::EmptyImage {
                height: 0,
                width: 5
            })
        );
        assert!(matches!(
            Letterbox::new(0, 32).geometry(5, 5),
            Err(LetterboxError::EmptyTarget { .. })
        ));
        assert!(matches!(
            resize_linear(&[0; 5], 2, 2, 1, 1, 1),
            Err(LetterboxError::BufferSize {
                expected: 4,
                found: 5,
                ..
            })
        ));
    }

    #[test]
    fn identity_resize_is_a_copy() {
        let src: Vec<u8> = (0..5 * 7 * 3).map(|i| (i * 37 % 256) as u8).collect();
        assert_eq!(resize_linear(&src, 5, 7, 3, 5, 7).unwrap(), src);
    }

    #[test]
    fn constant_images_stay_constant() {
        let src = vec![201u8; 13 * 17 * 3];
        for (h, w) in [(5, 9), (40, 3), (13, 17), (64, 64)] {
            let out = resize_linear(&src, 13, 17, 3, h, w).unwrap();
            assert!(out.iter().all(|&v| v == 201), "{h}x{w}");
        }
    }

    #[test]
    fn tensor_is_rgb_planes_over_255() {
        let img = RgbImage::from_raw(2, 1, vec![255, 0, 51, 1, 2, 3]).unwrap();
        let t = to_input_tensor(&[img]).unwrap();
        assert_eq!(t.shape(), &[1, 3, 1, 2]);
        assert_eq!(t[[0, 0, 0, 0]], 1.0);
        assert_eq!(t[[0, 1, 0, 0]], 0.0);
        assert_eq!(t[[0, 2, 0, 0]], 51.0 / 255.0);
        assert_eq!(t[[0, 2, 0, 1]], 3.0 / 255.0);
    }
}
