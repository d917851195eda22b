//! YOLO label files as Ultralytics predict writes them (`--save-txt`, `--save-conf`), and the
//! names of every per-frame output (label files, crops).
//!
//! A line is `("%g " * n).rstrip() % (cls, x, y, w, h[, conf][, track_id])` with `x y w h` the
//! box centre and size divided by the image width and height, in float32 as Ultralytics computes
//! them (`Results.save_txt`, `Boxes.xywhn`).

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use yolo11_ghost::postprocess::Detection;

use crate::frames::FrameOrigin;
use crate::source::InputKind;

/// C's (and Python's) `%g`: 6 significant digits, fixed notation when the decimal exponent is in
/// [-4, 6), else `d.ddddde+XX`; trailing zeros and a trailing point removed.
pub fn format_g(value: f64) -> String {
    if value.is_nan() {
        return "nan".into();
    }
    if value.is_infinite() {
        return if value > 0.0 { "inf" } else { "-inf" }.into();
    }
    if value == 0.0 {
        return if value.is_sign_negative() { "-0" } else { "0" }.into();
    }
    // The exponent after rounding to 6 significant digits decides the notation (C99 7.21.6.1).
    let scientific = format!("{value:.5e}");
    let (mantissa, exponent) = scientific
        .split_once('e')
        .expect("Rust's {:e} always has an exponent");
    let exponent: i32 = exponent.parse().expect("integer exponent");
    if (-4..6).contains(&exponent) {
        let fixed = format!("{value:.*}", (5 - exponent) as usize);
        strip_fraction_zeros(&fixed).to_string()
    } else {
        let sign = if exponent < 0 { '-' } else { '+' };
        format!(
            "{}e{sign}{:02}",
            strip_fraction_zeros(mantissa),
            exponent.abs()
        )
    }
}

fn strip_fraction_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

/// One label line for `detection` in a `width` x `height` image (no newline).
pub fn label_line(
    detection: &Detection,
    width: u32,
    height: u32,
    save_conf: bool,
    track_id: Option<u64>,
) -> String {
    let (w, h) = (width as f32, height as f32);
    let (x1, y1, x2, y2) = (detection.x1, detection.y1, detection.x2, detection.y2);
    let xywhn = [
        (x1 + x2) / 2.0 / w,
        (y1 + y2) / 2.0 / h,
        (x2 - x1) / w,
        (y2 - y1) / h,
    ];
    let mut fields = vec![format_g(detection.class_id as f64)];
    fields.extend(xywhn.iter().map(|&v| format_g(f64::from(v))));
    if save_conf {
        fields.push(format_g(f64::from(detection.confidence)));
    }
    if let Some(id) = track_id {
        fields.push(format_g(id as f64));
    }
    fields.join(" ")
}

/// The whole label file (one line per detection, each ending in `\n`); `None` when there are no
/// detections (Ultralytics writes no file then).
pub fn label_file(
    detections: &[Detection],
    width: u32,
    height: u32,
    save_conf: bool,
) -> Option<String> {
    if detections.is_empty() {
        return None;
    }
    Some(
        detections
            .iter()
            .map(|d| label_line(d, width, height, save_conf, None) + "\n")
            .collect(),
    )
}

/// [`label_file`] for tracked boxes: each line ends with the box's track ID, as Ultralytics'
/// `Results.save_txt` writes tracking results (`cls x y w h [conf] id`). `ids` has one entry per
/// detection; `None` is [`label_file`].
pub fn tracked_label_file(
    detections: &[Detection],
    ids: Option<&[u64]>,
    width: u32,
    height: u32,
    save_conf: bool,
) -> Option<String> {
    let Some(ids) = ids else {
        return label_file(detections, width, height, save_conf);
    };
    if detections.is_empty() {
        return None;
    }
    Some(
        detections
            .iter()
            .zip(ids)
            .map(|(d, &id)| label_line(d, width, height, save_conf, Some(id)) + "\n")
            .collect(),
    )
}

/// Names per-frame outputs as Ultralytics' predictor does: each source gets a base name, its file
/// stem, made unique with `-2`, `-3` ... when two sources share a stem (`bus.jpg` + `bus.png`,
/// `a/clip.mp4` + `b/clip.mp4`); a video keeps one base for all its frames and adds `_<frame>`
/// (Ultralytics' 1-based frame counter).
#[derive(Debug, Default)]
pub struct OutputNames {
    used: HashSet<String>,
    videos: HashMap<PathBuf, String>,
}

impl OutputNames {
    /// A new, empty name table (one per run).
    pub fn new() -> Self {
        Self::default()
    }

    fn fresh_base(&mut self, location: &Path) -> String {
        let stem = location
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "stream".into());
        let mut base = stem.clone();
        let mut k = 1;
        while self.used.contains(&base) {
            k += 1;
            base = format!("{stem}-{k}");
        }
        self.used.insert(base.clone());
        base
    }

    /// The base name of the frame's source (for the annotated image or video file).
    pub fn base(&mut self, origin: &FrameOrigin) -> String {
        match origin.kind {
            InputKind::Image => self.fresh_base(&origin.location),
            InputKind::Video | InputKind::Stream => {
                if let Some(base) = self.videos.get(&origin.location) {
                    return base.clone();
                }
                let base = self.fresh_base(&origin.location);
                self.videos.insert(origin.location.clone(), base.clone());
                base
            }
        }
    }

    /// The stem of the frame's label file and crops: `base` for an image, `base_<frame>` for a
    /// video frame. Call once per frame (an image's base is drawn anew each call, as Ultralytics').
    pub fn frame_stem(&mut self, origin: &FrameOrigin) -> String {
        let base = self.base(origin);
        match origin.kind {
            InputKind::Image => base,
            _ => format!("{base}_{}", origin.frame),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin(location: &str, kind: InputKind, frame: u64) -> FrameOrigin {
        FrameOrigin {
            input_index: 0,
            location: location.into(),
            kind,
            frame,
            frame_index: frame.saturating_sub(1),
            total_frames: None,
            fps: None,
        }
    }

    #[test]
    fn names_follow_ultralytics_predictor() {
        let mut names = OutputNames::new();
        use InputKind::*;
        assert_eq!(names.frame_stem(&origin("a/bus.jpg", Image, 0)), "bus");
        assert_eq!(names.frame_stem(&origin("b/bus.png", Image, 0)), "bus-2");
        assert_eq!(names.frame_stem(&origin("v/clip.mp4", Video, 1)), "clip_1");
        assert_eq!(names.frame_stem(&origin("v/clip.mp4", Video, 2)), "clip_2");
        assert_eq!(
            names.frame_stem(&origin("w/clip.mp4", Video, 1)),
            "clip-2_1"
        );
        assert_eq!(names.base(&origin("v/clip.mp4", Video, 3)), "clip");
    }
}
