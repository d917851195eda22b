//! From NMS output in letterboxed-input pixels to detections in original-image pixels, exactly as
//! Ultralytics `ops.scale_boxes` + `clip_boxes` (f32 arithmetic, per-axis gains recomputed from the
//! input and original shapes), and the `Results.summary()` / `to_json()` record shape.

use serde_json::{json, Value};

use crate::nms::RawDetection;

/// One detected object in original-image pixels.
#[derive(Debug, Clone, PartialEq)]
pub struct Detection {
    /// Left edge (pixels, 0 ..= image width).
    pub x1: f32,
    /// Top edge (pixels, 0 ..= image height).
    pub y1: f32,
    /// Right edge.
    pub x2: f32,
    /// Bottom edge.
    pub y2: f32,
    /// Best-class score (sigmoid), in (conf, 1].
    pub confidence: f32,
    /// Class index.
    pub class_id: usize,
    /// Class name (from the weights' metadata, else `class{id}`).
    pub class_name: String,
}

impl Detection {
    /// Box width in pixels.
    pub fn width(&self) -> f32 {
        self.x2 - self.x1
    }

    /// Box height in pixels.
    pub fn height(&self) -> f32 {
        self.y2 - self.y1
    }

    /// Ultralytics `Results.summary()` record: `{name, class, confidence, box: {x1, y1, x2, y2}}`,
    /// numbers rounded to 5 decimals like `to_json()`.
    pub fn to_json(&self) -> Value {
        json!({
            "name": self.class_name,
            "class": self.class_id,
            "confidence": round5(self.confidence),
            "box": {
                "x1": round5(self.x1),
                "y1": round5(self.y1),
                "x2": round5(self.x2),
                "y2": round5(self.y2),
            },
        })
    }
}

/// Drawing (`ghost_image::draw::annotate`) takes detections through this trait.
impl ghost_image::draw::LabelledBox for Detection {
    fn xyxy(&self) -> [f32; 4] {
        [self.x1, self.y1, self.x2, self.y2]
    }
    fn confidence(&self) -> f32 {
        self.confidence
    }
    fn class_id(&self) -> usize {
        self.class_id
    }
    fn class_name(&self) -> &str {
        &self.class_name
    }
}

/// Python `round(float(v), 5)`: the f32 widened exactly, then rounded to 5 decimals (correctly
/// rounded, ties to even on the exact binary value, as both Python and Rust's formatter do).
fn round5(v: f32) -> f64 {
    let text = format!("{:.5}", f64::from(v));
    text.parse().unwrap_or(f64::from(v))
}

/// The class name for `class_id`: the model's name when it has one, else `class{id}`.
pub fn class_name(names: &[String], class_id: usize) -> String {
    names
        .get(class_id)
        .cloned()
        .unwrap_or_else(|| format!("class{class_id}"))
}

/// Ultralytics `scale_boxes(img1_shape, boxes, img0_shape)` followed by `clip_boxes`: map xyxy boxes
/// from the letterboxed input (`input_hw`, the tensor's spatial shape) back to the original image
/// (`orig_hw`). The gain and padding are recomputed from the two shapes, as Ultralytics does.
pub fn scale_boxes(input_hw: (usize, usize), boxes: &mut [[f32; 4]], orig_hw: (usize, usize)) {
    let (h1, w1) = (input_hw.0 as f64, input_hw.1 as f64);
    let (h0, w0) = (orig_hw.0 as f64, orig_hw.1 as f64);
    let gain = f64::min(h1 / h0, w1 / w0);
    let new_h = (h0 * gain).round_ties_even().max(1.0);
    let new_w = (w0 * gain).round_ties_even().max(1.0);
    // PyTorch divides an f32 tensor by a Python float in f32 (the scalar is rounded first).
    let gain_y = (new_h / h0) as f32;
    let gain_x = (new_w / w0) as f32;
    let pad_x = ((w1 - new_w) / 2.0 - 0.1).round_ties_even() as f32;
    let pad_y = ((h1 - new_h) / 2.0 - 0.1).round_ties_even() as f32;
    for b in boxes.iter_mut() {
        b[0] = (b[0] - pad_x) / gain_x;
        b[1] = (b[1] - pad_y) / gain_y;
        b[2] = (b[2] - pad_x) / gain_x;
        b[3] = (b[3] - pad_y) / gain_y;
    }
    clip_boxes(boxes, orig_hw);
}

/// Ultralytics `clip_boxes`: x into `[0, width]`, y into `[0, height]`.
pub fn clip_boxes(boxes: &mut [[f32; 4]], (height, width): (usize, usize)) {
    let (h, w) = (height as f32, width as f32);
    for b in boxes.iter_mut() {
        b[0] = torch_clamp(b[0], w);
        b[1] = torch_clamp(b[1], h);
        b[2] = torch_clamp(b[2], w);
        b[3] = torch_clamp(b[3], h);
    }
}

/// `tensor.clamp_(0, hi)`: NaN stays NaN (`f32::clamp` would do the same; spelled out for intent).
fn torch_clamp(v: f32, hi: f32) -> f32 {
    if v.is_nan() {
        v
    } else {
        v.clamp(0.0, hi)
    }
}

/// Scale NMS output to the original image and attach class names.
pub fn to_detections(
    raw: &[RawDetection],
    input_hw: (usize, usize),
    orig_hw: (usize, usize),
    names: &[String],
) -> Vec<Detection> {
    let mut boxes: Vec<[f32; 4]> = raw.iter().map(|d| d.bbox).collect();
    scale_boxes(input_hw, &mut boxes, orig_hw);
    raw.iter()
        .zip(boxes)
        .map(|(d, b)| Detection {
            x1: b[0],
            y1: b[1],
            x2: b[2],
            y2: b[3],
            confidence: d.score,
            class_id: d.class_id,
            class_name: class_name(names, d.class_id),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_record_has_ultralytics_shape() {
        let d = Detection {
            x1: 1.0,
            y1: 2.5,
            x2: 3.123_456_7,
            y2: 4.0,
            confidence: 0.876_543_2,
            class_id: 7,
            class_name: "truck".into(),
        };
        let v = d.to_json();
        assert_eq!(v["name"], "truck");
        assert_eq!(v["class"], 7);
        assert_eq!(v["confidence"].as_f64(), Some(0.87654));
        assert_eq!(v["box"]["x2"].as_f64(), Some(3.12346));
        assert_eq!(v["box"]["y1"].as_f64(), Some(2.5));
    }

    #[test]
    fn missing_names_fall_back_to_class_index() {
        let names = vec!["a".to_string()];
        assert_eq!(class_name(&names, 0), "a");
        assert_eq!(class_name(&names, 3), "class3");
    }
}
