//! `model.track`'s compiled half: [`Tracker`] (ByteTrack from `ghost-track`, fed one frame's
//! `boxes.data` at a time) and [`tracker_config`] (Ultralytics' `tracker=` YAML files).
//!
//! The Python layer (`python/ghost_yolo/model.py`, `YOLO.track`) decides when a tracker is made,
//! kept (`persist=True`) or reset (a new video), as Ultralytics' `on_predict_start` and
//! `on_predict_postprocess_end` do.

use std::collections::HashMap;
use std::path::PathBuf;

use ghost_limits::yaml::{load_yaml, YamlLimits};
use ghost_track::{Detection, TrackerConfig};
use ndarray::Array2;
use numpy::{IntoPyArray, PyArray2, PyReadonlyArray2};
use pyo3::exceptions::{PyFileNotFoundError, PyNotImplementedError, PyValueError};
use pyo3::prelude::*;
use yaml_rust2::Yaml;

use crate::errors::{guarded, GhostYoloError};

/// The settings of `bytetrack.yaml`, in its order (the `TrackerConfig` fields).
const BYTETRACK_KEYS: [&str; 6] = [
    "track_high_thresh",
    "track_low_thresh",
    "new_track_thresh",
    "track_buffer",
    "match_thresh",
    "fuse_score",
];

/// A ByteTrack tracker (Ultralytics' `BYTETracker`), one per tracked sequence.
#[pyclass(module = "ghost_yolo._core")]
pub struct Tracker {
    inner: ghost_track::Tracker,
}

fn value_error(e: ghost_track::TrackError) -> PyErr {
    PyValueError::new_err(e.to_string())
}

#[pymethods]
impl Tracker {
    /// A tracker with `bytetrack.yaml`'s settings, as given (checked: each threshold in [0, 1]).
    #[new]
    #[pyo3(signature = (track_high_thresh, track_low_thresh, new_track_thresh, track_buffer, match_thresh, fuse_score))]
    fn new(
        track_high_thresh: f64,
        track_low_thresh: f64,
        new_track_thresh: f64,
        track_buffer: u32,
        match_thresh: f64,
        fuse_score: bool,
    ) -> PyResult<Self> {
        let config = TrackerConfig {
            track_high_thresh,
            track_low_thresh,
            new_track_thresh,
            track_buffer,
            match_thresh,
            fuse_score,
        };
        let inner = ghost_track::Tracker::new(config).map_err(value_error)?;
        Ok(Self { inner })
    }

    /// A tracker with Ultralytics' `bytetrack.yaml` settings (`TrackerConfig::default()`).
    #[staticmethod]
    fn bytetrack() -> Self {
        let inner = ghost_track::Tracker::new(TrackerConfig::default())
            .expect("the default settings are valid");
        Self { inner }
    }

    /// A tracker with the settings of a tracker YAML file (Ultralytics' `tracker=` file format,
    /// see [`tracker_config`]); out-of-range values are a `ValueError` naming the setting.
    #[staticmethod]
    fn from_yaml(path: PathBuf) -> PyResult<Self> {
        let shown = ghost_limits::text::display_path(&path);
        let config = tracker_config(path)?;
        let inner = ghost_track::Tracker::new(config)
            .map_err(|e| PyValueError::new_err(format!("tracker file {shown}: {e}")))?;
        Ok(Self { inner })
    }

    /// Advance by one frame with its detections (`N x 6` rows `x1, y1, x2, y2, conf, cls`, as
    /// `boxes.data`). Returns the confirmed tracks as Ultralytics' `BYTETracker.update` does: an
    /// `M x 8` float32 array of rows `x1, y1, x2, y2, track_id, score, cls, detection_index`
    /// (the box is the track's Kalman estimate, not clipped). A NaN or infinite value is a
    /// `ValueError` and leaves the tracker as it was.
    fn update<'py>(
        &mut self,
        py: Python<'py>,
        boxes: PyReadonlyArray2<'py, f32>,
    ) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let rows = boxes.as_array();
        if rows.ncols() != 6 {
            return Err(PyValueError::new_err(format!(
                "tracker input: expected N x 6 rows (x1, y1, x2, y2, conf, cls), found shape {:?}",
                rows.shape()
            )));
        }
        let mut detections = Vec::with_capacity(rows.nrows());
        for (i, r) in rows.rows().into_iter().enumerate() {
            if !(r[5].is_finite() && r[5] >= 0.0 && r[5] == r[5].trunc()) {
                return Err(PyValueError::new_err(format!(
                    "tracker input row {i}: class is {}, expected a non-negative whole number",
                    r[5]
                )));
            }
            detections.push(Detection {
                x1: r[0],
                y1: r[1],
                x2: r[2],
                y2: r[3],
                score: r[4],
                class_id: r[5] as usize,
            });
        }
        let tracks = guarded(|| self.inner.update(&detections).map_err(value_error))?;
        let mut out = Array2::<f32>::zeros((tracks.len(), 8));
        for (mut row, t) in out.outer_iter_mut().zip(&tracks) {
            // IDs and indices as float32, as Ultralytics' track array holds them (exact below 2^24).
            let v = [
                t.x1,
                t.y1,
                t.x2,
                t.y2,
                t.track_id as f32,
                t.score,
                t.class_id as f32,
                t.det_index as f32,
            ];
            row.iter_mut().zip(v).for_each(|(r, v)| *r = v);
        }
        Ok(out.into_pyarray(py))
    }

    /// Forget every track; IDs start again at 1 (Ultralytics' `tracker.reset()`, a new video).
    fn reset(&mut self) {
        self.inner.reset();
    }

    /// Frames seen since creation or the last reset.
    #[getter]
    fn frame_count(&self) -> u64 {
        self.inner.frame_count()
    }

    /// The settings, as a dict with `bytetrack.yaml`'s keys.
    #[getter]
    fn config(&self) -> HashMap<&'static str, f64> {
        let c = self.inner.config();
        HashMap::from([
            ("track_high_thresh", c.track_high_thresh),
            ("track_low_thresh", c.track_low_thresh),
            ("new_track_thresh", c.new_track_thresh),
            ("track_buffer", f64::from(c.track_buffer)),
            ("match_thresh", c.match_thresh),
            ("fuse_score", f64::from(u8::from(c.fuse_score))),
        ])
    }
}

/// The ByteTrack settings of a tracker YAML file.
///
/// As Ultralytics' `check_yaml` + `on_predict_start`: the file must hold a mapping with
/// `tracker_type` `bytetrack` (`botsort` is recognised and refused with `NotImplementedError`:
/// BoT-SORT is not implemented) and every ByteTrack setting; other keys are ignored, as
/// Ultralytics' `BYTETracker` ignores them. Missing file: `FileNotFoundError`; not YAML, a
/// missing key or a value of the wrong type: `ValueError` naming the file and the key.
fn tracker_config(path: PathBuf) -> PyResult<TrackerConfig> {
    let shown = ghost_limits::text::display_path(&path);
    let text = ghost_limits::file::read_text_bounded(&path, ghost_limits::budget::yaml_file())
        .map_err(|e| {
            if e.is_not_found() {
                PyFileNotFoundError::new_err(format!("tracker file {shown} does not exist"))
            } else {
                GhostYoloError::new_err(format!("tracker file {shown}: {e}"))
            }
        })?;
    let docs = load_yaml(&text, YamlLimits::default())
        .map_err(|e| PyValueError::new_err(format!("tracker file {shown}: not valid YAML: {e}")))?;
    let doc = match docs.first() {
        Some(d @ Yaml::Hash(_)) => d,
        _ => {
            return Err(PyValueError::new_err(format!(
                "tracker file {shown}: expected a mapping of settings (tracker_type: bytetrack, \
                 track_high_thresh: 0.25, ...)"
            )))
        }
    };
    match doc["tracker_type"].as_str() {
        Some("bytetrack") => {}
        Some("botsort") => {
            return Err(PyNotImplementedError::new_err(format!(
                "tracker file {shown}: tracker_type botsort (BoT-SORT) is not implemented; use \
                 tracker=\"bytetrack.yaml\" or a file with tracker_type: bytetrack"
            )))
        }
        _ => {
            return Err(PyValueError::new_err(format!(
                "tracker file {shown}: tracker_type is {}, expected bytetrack (or botsort, not \
                 implemented here)",
                describe(&doc["tracker_type"])
            )))
        }
    }
    let mut out = [0.0f64; BYTETRACK_KEYS.len()];
    for (slot, key) in out.iter_mut().zip(BYTETRACK_KEYS) {
        let v = &doc[key];
        let value = match (key, v) {
            ("fuse_score", Yaml::Boolean(b)) => f64::from(u8::from(*b)),
            ("track_buffer", Yaml::Integer(i)) if (0..=i64::from(u32::MAX)).contains(i) => {
                *i as f64
            }
            ("fuse_score" | "track_buffer", _) => return Err(wrong(&shown, key, v)),
            (_, Yaml::Real(r)) => r.parse::<f64>().map_err(|_| wrong(&shown, key, v))?,
            (_, Yaml::Integer(i)) => *i as f64,
            _ => return Err(wrong(&shown, key, v)),
        };
        *slot = value;
    }
    let [track_high_thresh, track_low_thresh, new_track_thresh, track_buffer, match_thresh, fuse_score] =
        out;
    Ok(TrackerConfig {
        track_high_thresh,
        track_low_thresh,
        new_track_thresh,
        track_buffer: track_buffer as u32,
        match_thresh,
        fuse_score: fuse_score != 0.0,
    })
}

fn wrong(file: &str, key: &str, v: &Yaml) -> PyErr {
    let expected = match key {
        "fuse_score" => "true or false",
        "track_buffer" => "a whole number of frames >= 0",
        _ => "a number",
    };
    PyValueError::new_err(format!(
        "tracker file {file}: {key} is {}, expected {expected}",
        describe(v)
    ))
}

fn describe(v: &Yaml) -> String {
    match v {
        Yaml::BadValue => "missing".into(),
        Yaml::Null => "null".into(),
        Yaml::String(s) => format!("{s:?}"),
        Yaml::Real(r) => r.clone(),
        Yaml::Integer(i) => i.to_string(),
        Yaml::Boolean(b) => b.to_string(),
        _ => "a list or mapping".into(),
    }
}
