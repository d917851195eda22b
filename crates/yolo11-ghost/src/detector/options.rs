//! Detector settings with Ultralytics `predict`'s defaults and its validation rules.

use ghost_kernels::Threads;

use super::error::DetectError;
use super::warning::{Warning, WarningKind};
use crate::nms::NmsOptions;

/// Inference settings. `Default` is what `model.predict(source)` uses in Ultralytics 8.4:
/// conf 0.25, iou 0.7, max_det 300, class-aware NMS, all classes, imgsz 640, `rect` (minimal
/// padding to a multiple of the stride for a PyTorch model), all available cores.
#[derive(Debug, Clone, PartialEq)]
pub struct DetectorOptions {
    /// Confidence threshold in [0, 1]: keep boxes whose best class score is `> conf`.
    pub conf: f64,
    /// NMS IoU threshold in [0, 1].
    pub iou: f64,
    /// At most this many detections per image.
    pub max_det: usize,
    /// Class-agnostic NMS.
    pub agnostic: bool,
    /// Keep only these class ids.
    pub classes: Option<Vec<usize>>,
    /// Target `(height, width)`; rounded up to a multiple of the model stride (with a warning).
    pub imgsz: (usize, usize),
    /// Pad only to a multiple of the stride (Ultralytics `rect`/`auto`), when a batch shares one
    /// image shape; otherwise pad to `imgsz`.
    pub rect: bool,
    /// Kernel threads (`None`: every available core); `Some(0)` is rejected.
    pub threads: Option<usize>,
}

impl Default for DetectorOptions {
    fn default() -> Self {
        Self {
            conf: 0.25,
            iou: 0.7,
            max_det: 300,
            agnostic: false,
            classes: None,
            imgsz: (640, 640),
            rect: true,
            threads: None,
        }
    }
}

impl DetectorOptions {
    /// The kernel thread pool these options ask for (`threads`, else every available core).
    pub(crate) fn thread_pool(&self) -> Result<Threads, DetectError> {
        Threads::new(self.thread_count()?).map_err(DetectError::Threads)
    }

    /// `threads`, else every available core; 0 is an error.
    fn thread_count(&self) -> Result<usize, DetectError> {
        match self.threads {
            Some(0) => Err(DetectError::InvalidOption {
                option: "threads",
                expected: "at least 1".into(),
                found: "0".into(),
            }),
            Some(n) => Ok(n),
            None => Ok(std::thread::available_parallelism().map_or(1, |n| n.get())),
        }
    }

    /// Check every value; returns the image size rounded to `stride` and the warnings to show
    /// (Ultralytics `check_imgsz`: `max(ceil(x / stride) * stride, stride)` per side).
    pub fn validate(
        &self,
        stride: usize,
        num_classes: usize,
    ) -> Result<((usize, usize), Vec<Warning>), DetectError> {
        check_unit_interval("conf", self.conf)?;
        check_unit_interval("iou", self.iou)?;
        self.thread_count()?;
        let mut warnings = Vec::new();
        let (h, w) = self.imgsz;
        // Checked before any arithmetic: a side near usize::MAX wrapped in the rounding below
        // ("updating to 0x0"), and 100000 asked for tens of GB of activations.
        let max = ghost_limits::budget::max_imgsz();
        if h > max || w > max {
            return Err(DetectError::InvalidOption {
                option: "imgsz",
                expected: format!("sides up to {max} (raise GHOST_YOLO_MAX_IMGSZ)"),
                found: format!("{h}x{w}"),
            });
        }
        let round = |x: usize| x.div_ceil(stride).max(1) * stride;
        let imgsz = (round(h), round(w));
        if imgsz != (h, w) {
            warnings.push(Warning::new(
                WarningKind::ImageSizeRounded,
                format!(
                    "imgsz={h}x{w} must be a multiple of max stride {stride}, updating to {}x{}",
                    imgsz.0, imgsz.1
                ),
            ));
        }
        if let Some(classes) = &self.classes {
            let unknown: Vec<String> = classes
                .iter()
                .filter(|&&c| c >= num_classes)
                .map(|c| c.to_string())
                .collect();
            if !unknown.is_empty() {
                warnings.push(Warning::new(
                    WarningKind::UnknownClasses,
                    format!(
                        "classes {} do not exist in a {num_classes}-class model and never match",
                        unknown.join(", ")
                    ),
                ));
            }
        }
        Ok((imgsz, warnings))
    }

    /// The NMS settings these options imply.
    pub fn nms(&self) -> NmsOptions {
        NmsOptions {
            conf: self.conf,
            iou: self.iou,
            max_det: self.max_det,
            agnostic: self.agnostic,
            classes: self.classes.clone(),
            ..NmsOptions::default()
        }
    }
}

fn check_unit_interval(option: &'static str, value: f64) -> Result<(), DetectError> {
    if (0.0..=1.0).contains(&value) {
        Ok(())
    } else {
        Err(DetectError::InvalidOption {
            option,
            expected: "a value in [0, 1]".into(),
            found: value.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_ultralytics_predict() {
        let o = DetectorOptions::default();
        assert_eq!((o.conf, o.iou, o.max_det), (0.25, 0.7, 300));
        assert!(o.rect && !o.agnostic && o.classes.is_none());
        assert_eq!(o.imgsz, (640, 640));
        assert_eq!(o.validate(32, 80).unwrap(), ((640, 640), vec![]));
    }

    #[test]
    fn imgsz_is_rounded_up_to_the_stride_with_a_warning() {
        let o = DetectorOptions {
            imgsz: (500, 0),
            ..Default::default()
        };
        let (size, warnings) = o.validate(32, 80).unwrap();
        assert_eq!(size, (512, 32));
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].contains("512x32"), "{}", warnings[0]);
    }

    #[test]
    fn out_of_range_values_are_rejected() {
        for (conf, iou) in [(1.5, 0.7), (-0.1, 0.7), (f64::NAN, 0.7), (0.25, 1.01)] {
            let o = DetectorOptions {
                conf,
                iou,
                ..Default::default()
            };
            let err = o.validate(32, 80).unwrap_err();
            assert!(matches!(err, DetectError::InvalidOption { .. }), "{err}");
        }
        let o = DetectorOptions {
            threads: Some(0),
            ..Default::default()
        };
        assert_eq!(
            o.validate(32, 80).unwrap_err().to_string(),
            "invalid threads: expected at least 1, found 0"
        );
    }

    #[test]
    fn unknown_classes_warn() {
        let o = DetectorOptions {
            classes: Some(vec![0, 80]),
            ..Default::default()
        };
        let (_, warnings) = o.validate(32, 80).unwrap();
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].contains("80"));
    }
}
