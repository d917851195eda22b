//! Ultralytics `non_max_suppression` (detection, one label per box) with `torchvision.ops.nms`,
//! reproduced in the same f32 arithmetic so that borderline boxes are kept or dropped as PyTorch
//! would:
//! - candidates: best-class score `> conf` (strict; `conf` rounded to f32 first, as PyTorch casts a
//!   Python float when it compares it with an f32 tensor), label = first class reaching the maximum
//!   (or, with `multi_label`, one candidate per class scoring `> conf`, as `val` runs it);
//!   an anchor with a NaN score never passes (NaN propagates through PyTorch's `amax`);
//! - optional class filter, then at most `max_nms` candidates by score;
//! - class-aware NMS by offsetting every box by `class * max_wh` (7680) in f32 (agnostic: 0);
//! - torchvision's CPU kernel: stable sort by descending score (ties keep anchor order), areas and
//!   IoU in f32, a box is suppressed when `IoU > iou` with the IoU widened to f64 (the threshold is
//!   a C++ `double`), i.e. kept when `IoU <= iou`;
//! - the first `max_det` kept boxes, in descending score order.

/// NMS settings; `Default` is Ultralytics `predict`'s.
#[derive(Debug, Clone, PartialEq)]
pub struct NmsOptions {
    /// Confidence threshold: a box needs best-class score `> conf`.
    pub conf: f64,
    /// IoU threshold: a box overlapping a higher-scored kept box by `> iou` is dropped.
    pub iou: f64,
    /// Keep at most this many detections per image.
    pub max_det: usize,
    /// Class-agnostic NMS (boxes of different classes suppress each other).
    pub agnostic: bool,
    /// Keep only these class ids (`None`: all).
    pub classes: Option<Vec<usize>>,
    /// At most this many candidates enter NMS (highest scores first).
    pub max_nms: usize,
    /// Per-class coordinate offset separating classes in class-aware NMS.
    pub max_wh: f32,
    /// Every class scoring `> conf` makes its own candidate (Ultralytics `multi_label=True`, what
    /// `val` uses); `false` keeps one best class per box (`predict`). Ignored with one class.
    pub multi_label: bool,
}

impl Default for NmsOptions {
    fn default() -> Self {
        Self {
            conf: 0.25,
            iou: 0.7,
            max_det: 300,
            agnostic: false,
            classes: None,
            max_nms: 30_000,
            max_wh: 7680.0,
            multi_label: false,
        }
    }
}

/// A detection in letterboxed-input pixels, before `scale_boxes`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RawDetection {
    /// `[x1, y1, x2, y2]` in input pixels.
    pub bbox: [f32; 4],
    /// Best-class score (sigmoid output).
    pub score: f32,
    /// Best class.
    pub class_id: usize,
    /// Anchor (column of the prediction) the detection came from.
    pub anchor: usize,
}

/// The prediction of one image does not have the layout `[4 + nc, anchors]`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NmsError {
    /// Fewer than 5 channels: no room for a box and a class.
    #[error("prediction has {channels} channels, expected 4 box channels plus at least 1 class")]
    TooFewChannels {
        /// Channels found.
        channels: usize,
    },
    /// The buffer length is not `channels * anchors`.
    #[error(
        "prediction buffer holds {found} values, expected {channels} x {anchors} = {expected}"
    )]
    Length {
        /// Channels.
        channels: usize,
        /// Anchors.
        anchors: usize,
        /// `channels * anchors`.
        expected: usize,
        /// Values received.
        found: usize,
    },
}

/// NMS over one image's prediction, a row-major `[channels, anchors]` buffer (`channels = 4 + nc`:
/// `cx, cy, w, h`, then one score per class), i.e. one batch item of `output0`.
pub fn non_max_suppression(
    prediction: &[f32],
    channels: usize,
    anchors: usize,
    options: &NmsOptions,
) -> Result<Vec<RawDetection>, NmsError> {
    if channels < 5 {
        return Err(NmsError::TooFewChannels { channels });
    }
    if prediction.len() != channels * anchors {
        return Err(NmsError::Length {
            channels,
            anchors,
            expected: channels * anchors,
            found: prediction.len(),
        });
    }
    let num_classes = channels - 4;
    let conf = options.conf as f32;
    let at = |c: usize, a: usize| prediction[c * anchors + a];

    let multi_label = options.multi_label && num_classes > 1;
    let wanted = |class_id: usize| {
        options
            .classes
            .as_ref()
            .is_none_or(|classes| classes.contains(&class_id))
    };
    let mut candidates = Vec::new();
    for anchor in 0..anchors {
        let Some((class_id, score)) = best_class((0..num_classes).map(|c| at(4 + c, anchor)))
        else {
            continue;
        };
        if score <= conf {
            continue;
        }
        let bbox = xywh_to_xyxy([at(0, anchor), at(1, anchor), at(2, anchor), at(3, anchor)]);
        if multi_label {
            // torch.where(cls > conf): anchor-major, then class order.
            for c in 0..num_classes {
                let s = at(4 + c, anchor);
                if s > conf && wanted(c) {
                    candidates.push(RawDetection {
                        bbox,
                        score: s,
                        class_id: c,
                        anchor,
                    });
                }
            }
        } else if wanted(class_id) {
            candidates.push(RawDetection {
                bbox,
                score,
                class_id,
                anchor,
            });
        }
    }
    if candidates.len() > options.max_nms {
        // Ultralytics: x[:, 4].argsort(descending=True)[:max_nms]. PyTorch's sort is not
        // guaranteed stable; a stable sort is the only reproducible choice for exact ties.
        candidates.sort_by(|a, b| b.score.total_cmp(&a.score));
        candidates.truncate(options.max_nms);
    }

    let boxes: Vec<[f32; 4]> = candidates
        .iter()
        .map(|d| {
            let offset = if options.agnostic {
                0.0
            } else {
                d.class_id as f32 * options.max_wh
            };
            d.bbox.map(|v| v + offset)
        })
        .collect();
    let scores: Vec<f32> = candidates.iter().map(|d| d.score).collect();
    let keep = nms_indices(&boxes, &scores, options.iou);
    Ok(keep
        .into_iter()
        .take(options.max_det)
        .map(|i| candidates[i])
        .collect())
}

/// `(class, score)` of the highest score, first index on ties; `None` when any score is NaN.
fn best_class(scores: impl Iterator<Item = f32>) -> Option<(usize, f32)> {
    let mut best: Option<(usize, f32)> = None;
    for (c, s) in scores.enumerate() {
        if s.is_nan() {
            return None;
        }
        if best.is_none_or(|(_, b)| s > b) {
            best = Some((c, s));
        }
    }
    best
}

/// Ultralytics `xywh2xyxy` in f32: `(cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)`.
pub fn xywh_to_xyxy([cx, cy, w, h]: [f32; 4]) -> [f32; 4] {
    let (hw, hh) = (w / 2.0, h / 2.0);
    [cx - hw, cy - hh, cx + hw, cy + hh]
}

/// `torchvision.ops.nms(boxes, scores, iou)` on the CPU: indices of the kept boxes, in descending
/// score order (ties by index).
pub fn nms_indices(boxes: &[[f32; 4]], scores: &[f32], iou: f64) -> Vec<usize> {
    debug_assert_eq!(boxes.len(), scores.len());
    let n = boxes.len().min(scores.len());
    let areas: Vec<f32> = boxes[..n]
        .iter()
        .map(|b| (b[2] - b[0]) * (b[3] - b[1]))
        .collect();
    let mut order: Vec<usize> = (0..n).collect();
    // torchvision: scores.sort(stable=true, descending=true).
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let mut suppressed = vec![false; n];
    let mut keep = Vec::new();
    for (pos, &i) in order.iter().enumerate() {
        if suppressed[i] {
            continue;
        }
        keep.push(i);
        for &j in &order[pos + 1..] {
            if suppressed[j] {
                continue;
            }
            let overlap = iou_with_areas(&boxes[i], areas[i], &boxes[j], areas[j]);
            if f64::from(overlap) > iou {
                suppressed[j] = true;
            }
        }
    }
    keep
}

/// IoU of two xyxy boxes as torchvision computes it (f32, intersection sides clamped at 0).
pub fn box_iou(a: &[f32; 4], b: &[f32; 4]) -> f32 {
    let area = |r: &[f32; 4]| (r[2] - r[0]) * (r[3] - r[1]);
    iou_with_areas(a, area(a), b, area(b))
}

fn iou_with_areas(a: &[f32; 4], area_a: f32, b: &[f32; 4], area_b: f32) -> f32 {
    let w = cpp_max(0.0, cpp_min(a[2], b[2]) - cpp_max(a[0], b[0]));
    let h = cpp_max(0.0, cpp_min(a[3], b[3]) - cpp_max(a[1], b[1]));
    let inter = w * h;
    inter / (area_a + area_b - inter)
}

/// `std::max(a, b)`: `(a < b) ? b : a` (differs from `f32::max` only for NaN).
fn cpp_max(a: f32, b: f32) -> f32 {
    if a < b {
        b
    } else {
        a
    }
}

/// `std::min(a, b)`: `(b < a) ? b : a`.
fn cpp_min(a: f32, b: f32) -> f32 {
    if b < a {
        b
    } else {
        a
    }
}
