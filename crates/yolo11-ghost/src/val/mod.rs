//! `val`: precision, recall, mAP50 and mAP50-95 of a detector on a YOLO-format dataset, computed
//! as Ultralytics 8.4's `DetectionValidator` does, so the numbers can be compared with `yolo val`.
//!
//! The pipeline reproduces the validator's data path, not `predict`'s:
//! - images are read like `cv2.imread`; when the long side differs from `imgsz` the image is first
//!   resized (OpenCV INTER_LINEAR) to `min(ceil(w * r), imgsz) x min(ceil(h * r), imgsz)` with
//!   `r = imgsz / max(h, w)` (`BaseDataset.load_image`);
//! - images are sorted by aspect ratio `h / w` and grouped into batches of `batch`; each batch gets
//!   one shape `ceil(s * imgsz / stride + 0.5) * stride` where `s` is `[max_ar, 1]` if every ratio
//!   is below 1, `[1, 1 / min_ar]` if every ratio is above 1, else `[1, 1]` (`set_rectangle`,
//!   `pad = 0.5`); each image is letterboxed into its batch's shape without enlarging
//!   (`LetterBox(auto=False, scaleup=False)`);
//! - NMS with `multi_label=True` (every class above `conf` makes a candidate), conf 0.001,
//!   iou 0.7, max_det 300;
//! - matching and AP in the letterboxed input's pixels ([`metrics`]).
//!
//! Batching only decides the letterbox shapes; the results do not depend on how many images one
//! forward pass holds.

pub mod dataset;
pub mod labels;
pub mod metrics;

use std::time::{Duration, Instant};

use image::RgbImage;
use ndarray::Axis;

use crate::detector::{DetectError, Detector};
use crate::letterbox::{resize_linear, to_input_tensor, Letterbox, LetterboxError};
use crate::nms::{non_max_suppression, NmsOptions};
pub use dataset::{Dataset, DatasetError, Label, Sample};
use ghost_image::image_io::{load_rgb, oriented_size, ImageLoadError};
use metrics::{ap_per_class, iou_thresholds, match_predictions, ScoredPrediction};

/// Settings of a validation run; `Default` is Ultralytics `val`'s.
#[derive(Debug, Clone, PartialEq)]
pub struct ValOptions {
    /// Inference size (long side), a multiple of the model stride.
    pub imgsz: usize,
    /// Images per batch (decides the letterbox shapes, as in Ultralytics).
    pub batch: usize,
    /// Confidence threshold of NMS.
    pub conf: f64,
    /// IoU threshold of NMS.
    pub iou: f64,
    /// Detections kept per image.
    pub max_det: usize,
}

impl Default for ValOptions {
    fn default() -> Self {
        Self {
            imgsz: 640,
            batch: 16,
            conf: 0.001,
            iou: 0.7,
            max_det: 300,
        }
    }
}

/// What can stop a validation run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ValError {
    /// The dataset could not be read.
    #[error(transparent)]
    Dataset(#[from] DatasetError),
    /// An image could not be read, decoded or letterboxed, or the model or NMS failed: the
    /// detection pipeline's own error ([`DetectError::Image`], [`DetectError::Letterbox`], ...),
    /// the same whether `val` or `Detector` met it.
    #[error(transparent)]
    Detect(#[from] DetectError),
    /// An option is out of range or disagrees with the model.
    #[error("invalid {option}: {message}")]
    InvalidOption {
        /// Option name.
        option: &'static str,
        /// What is wrong.
        message: String,
    },
}

impl From<ImageLoadError> for ValError {
    fn from(e: ImageLoadError) -> Self {
        ValError::Detect(e.into())
    }
}

impl From<LetterboxError> for ValError {
    fn from(e: LetterboxError) -> Self {
        ValError::Detect(e.into())
    }
}

/// Metrics of one class (a row of Ultralytics' table).
#[derive(Debug, Clone, PartialEq)]
pub struct ClassResult {
    /// Class id.
    pub class: usize,
    /// Class name.
    pub name: String,
    /// Images with at least one target of this class.
    pub images: usize,
    /// Targets of this class.
    pub instances: usize,
    /// Precision at the max-F1 confidence.
    pub precision: f64,
    /// Recall at the max-F1 confidence.
    pub recall: f64,
    /// AP at IoU 0.5.
    pub map50: f64,
    /// AP averaged over IoU 0.5:0.95.
    pub map50_95: f64,
}

/// The result of a validation run.
#[derive(Debug, Clone, PartialEq)]
pub struct ValReport {
    /// Images evaluated.
    pub images: usize,
    /// Targets.
    pub instances: usize,
    /// Mean precision over classes with targets (Ultralytics `box.mp`).
    pub precision: f64,
    /// Mean recall (`box.mr`).
    pub recall: f64,
    /// mAP at IoU 0.5 (`box.map50`).
    pub map50: f64,
    /// mAP over IoU 0.5:0.95 (`box.map`).
    pub map50_95: f64,
    /// Per class with targets, by class id.
    pub classes: Vec<ClassResult>,
    /// Mean time per image: pre-processing, inference, post-processing (NMS + matching).
    pub speed_ms: [f64; 3],
}

/// A ground-truth box in letterboxed-input pixels (`xyxy`) and its class.
type Target = ([f32; 4], usize);

/// One image after pre-processing.
struct Prepared {
    input: RgbImage,
    targets: Vec<Target>,
}

/// Runs `detector` over `data` and computes the metrics. `progress(done, total)` is called after
/// every batch.
pub fn validate(
    detector: &Detector,
    data: &Dataset,
    options: &ValOptions,
    mut progress: impl FnMut(usize, usize),
) -> Result<ValReport, ValError> {
    let stride = detector.stride();
    check_options(detector, data, options, stride)?;
    let thresholds = iou_thresholds();
    let nms = NmsOptions {
        conf: options.conf,
        iou: options.iou,
        max_det: options.max_det,
        multi_label: true,
        ..NmsOptions::default()
    };

    let shapes = data
        .samples
        .iter()
        .map(|s| oriented_size(&s.image))
        .collect::<Result<Vec<_>, _>>()?;
    let batches = batch_shapes(&shapes, options.imgsz, options.batch, stride);

    let mut scored: Vec<ScoredPrediction> = Vec::new();
    let mut target_classes: Vec<usize> = Vec::new();
    let mut images_per_class = vec![0usize; data.names.len()];
    let mut times = [Duration::ZERO; 3];
    let mut done = 0;
    for (members, shape) in &batches {
        let t0 = Instant::now();
        let (inputs, targets): (Vec<RgbImage>, Vec<Vec<Target>>) = members
            .iter()
            .map(|&i| prepare(&data.samples[i], options.imgsz, *shape, stride))
            .collect::<Result<Vec<_>, ValError>>()?
            .into_iter()
            .map(|p| (p.input, p.targets))
            .unzip();
        let tensor = to_input_tensor(&inputs)?;
        let t1 = Instant::now();
        let output = detector.forward(tensor.view())?;
        let t2 = Instant::now();
        let (channels, anchors) = (output.shape()[1], output.shape()[2]);
        for (b, targets) in targets.iter().enumerate() {
            let pred = output.index_axis(Axis(0), b);
            let pred = pred.as_standard_layout();
            let flat = pred.as_slice().expect("standard layout is contiguous");
            let kept =
                non_max_suppression(flat, channels, anchors, &nms).map_err(DetectError::from)?;
            let preds: Vec<([f32; 4], usize)> = kept.iter().map(|d| (d.bbox, d.class_id)).collect();
            let tp = match_predictions(&preds, targets, &thresholds);
            scored.extend(kept.iter().zip(tp).map(|(d, tp)| ScoredPrediction {
                tp,
                conf: d.score,
                class: d.class_id,
            }));
            let mut present: Vec<usize> = targets.iter().map(|t| t.1).collect();
            target_classes.extend(&present);
            present.sort_unstable();
            present.dedup();
            for c in present {
                images_per_class[c] += 1;
            }
        }
        let t3 = Instant::now();
        times[0] += t1 - t0;
        times[1] += t2 - t1;
        times[2] += t3 - t2;
        done += members.len();
        progress(done, data.samples.len());
    }

    let m = ap_per_class(&scored, &target_classes);
    let classes = m
        .classes
        .iter()
        .enumerate()
        .map(|(i, &c)| ClassResult {
            class: c,
            name: data.names[c].clone(),
            images: images_per_class[c],
            instances: m.targets[i],
            precision: m.precision[i],
            recall: m.recall[i],
            map50: m.ap50(i),
            map50_95: m.ap50_95(i),
        })
        .collect();
    let n = data.samples.len().max(1) as f64;
    Ok(ValReport {
        images: data.samples.len(),
        instances: target_classes.len(),
        precision: m.mean_precision(),
        recall: m.mean_recall(),
        map50: m.map50(),
        map50_95: m.map50_95(),
        classes,
        speed_ms: times.map(|t| t.as_secs_f64() * 1e3 / n),
    })
}

fn check_options(
    detector: &Detector,
    data: &Dataset,
    options: &ValOptions,
    stride: usize,
) -> Result<(), ValError> {
    let invalid = |option, message: String| Err(ValError::InvalidOption { option, message });
    if options.imgsz == 0 || !options.imgsz.is_multiple_of(stride) {
        return invalid(
            "imgsz",
            format!(
                "{} is not a positive multiple of the stride {stride}",
                options.imgsz
            ),
        );
    }
    if options.batch == 0 {
        return invalid("batch", "must be at least 1".into());
    }
    for (name, v) in [("conf", options.conf), ("iou", options.iou)] {
        if !(0.0..=1.0).contains(&v) {
            return invalid(name, format!("{v} is outside [0, 1]"));
        }
    }
    if detector.num_classes() != data.names.len() {
        return invalid(
            "data",
            format!(
                "{} names {} classes but the model predicts {}",
                data.yaml.display(),
                data.names.len(),
                detector.num_classes()
            ),
        );
    }
    Ok(())
}

/// Ultralytics `set_rectangle`: image indices sorted by aspect ratio, cut into batches, each with
/// its letterbox shape `(height, width)`.
pub fn batch_shapes(
    shapes: &[(usize, usize)],
    imgsz: usize,
    batch: usize,
    stride: usize,
) -> Vec<(Vec<usize>, (usize, usize))> {
    let ar: Vec<f64> = shapes.iter().map(|&(h, w)| h as f64 / w as f64).collect();
    let mut order: Vec<usize> = (0..shapes.len()).collect();
    order.sort_by(|&a, &b| ar[a].total_cmp(&ar[b]));
    order
        .chunks(batch.max(1))
        .map(|members| {
            let lo = members.iter().map(|&i| ar[i]).fold(f64::INFINITY, f64::min);
            let hi = members
                .iter()
                .map(|&i| ar[i])
                .fold(f64::NEG_INFINITY, f64::max);
            let s = if hi < 1.0 {
                [hi, 1.0]
            } else if lo > 1.0 {
                [1.0, 1.0 / lo]
            } else {
                [1.0, 1.0]
            };
            let side = |v: f64| ((v * imgsz as f64 / stride as f64 + 0.5).ceil() as usize) * stride;
            (members.to_vec(), (side(s[0]), side(s[1])))
        })
        .collect()
}

/// Loads, resizes and letterboxes one image into `shape`, and maps its labels into the
/// letterboxed pixels (`xyxy`).
fn prepare(
    sample: &Sample,
    imgsz: usize,
    shape: (usize, usize),
    stride: usize,
) -> Result<Prepared, ValError> {
    let image = load_rgb(&sample.image)?;
    let (h0, w0) = (image.height() as usize, image.width() as usize);
    let r = imgsz as f64 / h0.max(w0) as f64;
    let image = if r != 1.0 {
        let w = ((w0 as f64 * r).ceil() as usize).min(imgsz);
        let h = ((h0 as f64 * r).ceil() as usize).min(imgsz);
        let raw = resize_linear(image.as_raw(), h0, w0, 3, h, w)?;
        RgbImage::from_raw(w as u32, h as u32, raw).expect("resize output is h x w x 3")
    } else {
        image
    };
    let letterbox = Letterbox {
        stride,
        scaleup: false,
        ..Letterbox::new(shape.0, shape.1)
    };
    let (input, g) = letterbox.apply(&image)?;
    let (wr, hr) = (image.width() as f32, image.height() as f32);
    let ratio = g.ratio as f32;
    let (left, top) = (g.left as f32, g.top as f32);
    let targets = sample
        .labels
        .iter()
        .map(|l| {
            let [cx, cy, w, h] = l.xywh;
            let xyxy = [cx - w / 2.0, cy - h / 2.0, cx + w / 2.0, cy + h / 2.0];
            let b = [
                xyxy[0] * wr * ratio + left,
                xyxy[1] * hr * ratio + top,
                xyxy[2] * wr * ratio + left,
                xyxy[3] * hr * ratio + top,
            ];
            (b, l.class)
        })
        .collect();
    Ok(Prepared { input, targets })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_shapes_follow_set_rectangle() {
        // 320x240 (ar 0.75), 240x320 (ar 1.333), 320x320 (ar 1).
        let shapes = [(240, 320), (320, 240), (320, 320)];
        let one = batch_shapes(&shapes, 320, 1, 32);
        // Sorted by ar: 0.75, 1.0, 1.333.
        // Long side: ceil(10 + 0.5) * 32 = 352; short side ceil(0.75 * 10 + 0.5) * 32 = 256.
        assert_eq!(one[0], (vec![0], (256, 352)));
        assert_eq!(one[1], (vec![2], (352, 352)));
        assert_eq!(one[2], (vec![1], (352, 256)));
        let all = batch_shapes(&shapes, 320, 16, 32);
        assert_eq!(
            all,
            vec![(vec![0, 2, 1], (352, 352))],
            "mixed ratios: square"
        );
    }
}
