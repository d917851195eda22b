//! The tracker's inputs, outputs, settings and errors.

/// One detection of one frame: an axis-aligned box in pixels (corners), its confidence and class.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Detection {
    /// Left edge, pixels of the original frame.
    pub x1: f32,
    /// Top edge, pixels.
    pub y1: f32,
    /// Right edge, pixels (`>= x1` for a real box; the tracker does not reorder corners).
    pub x2: f32,
    /// Bottom edge, pixels.
    pub y2: f32,
    /// Confidence in [0, 1] (the detector's score after NMS).
    pub score: f32,
    /// Class index of the detection (the model's class list); tracks keep the class of the
    /// detection they last matched.
    pub class_id: usize,
}

/// One confirmed track in the current frame (a row of Ultralytics' tracker output).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Track {
    /// The track's ID: 1, 2, ... in the order tracks are started, unique for the tracker's lifetime
    /// (until [`crate::Tracker::reset`]).
    pub track_id: u64,
    /// Left edge of the Kalman-filtered box (corners, pixels), which is what Ultralytics reports
    /// for a track.
    pub x1: f32,
    /// Top edge of the filtered box, pixels.
    pub y1: f32,
    /// Right edge of the filtered box, pixels.
    pub x2: f32,
    /// Bottom edge of the filtered box, pixels.
    pub y2: f32,
    /// Score of the detection last matched to the track.
    pub score: f32,
    /// Class of the detection last matched to the track.
    pub class_id: usize,
    /// Index into this frame's detection slice of the detection matched to the track (for a
    /// confirmed track it is always matched in the current frame).
    pub det_index: usize,
}

/// ByteTrack's settings. [`Default`] is Ultralytics' `bytetrack.yaml`.
///
/// The thresholds are f64 like the Python floats Ultralytics reads them into: `match_thresh` goes to
/// the assignment solver as a double, and score thresholds are compared with the float32 scores as
/// NumPy 2 does it (the threshold rounded to f32 first).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrackerConfig {
    /// Detections with a score at or above this take part in the first association.
    pub track_high_thresh: f64,
    /// Detections scoring above this (and below `track_high_thresh`) take part in the second one.
    pub track_low_thresh: f64,
    /// An unmatched high-score detection starts a track only at or above this score.
    pub new_track_thresh: f64,
    /// Frames a lost track is kept for re-identification before it is removed.
    pub track_buffer: u32,
    /// Largest (fused) cost `1 - IoU * score` the first association accepts.
    pub match_thresh: f64,
    /// Multiply the IoU similarity by the detection score in the first association and for
    /// unconfirmed tracks.
    pub fuse_score: bool,
}

impl Default for TrackerConfig {
    fn default() -> Self {
        Self {
            track_high_thresh: 0.25,
            track_low_thresh: 0.1,
            new_track_thresh: 0.25,
            track_buffer: 30,
            match_thresh: 0.8,
            fuse_score: true,
        }
    }
}

/// Why the tracker refused its settings or a frame's detections.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TrackError {
    /// A [`TrackerConfig`] threshold is outside the range it is compared against (or NaN).
    #[error("tracker setting {name} = {value} is invalid: {why}")]
    InvalidOption {
        /// The setting, as `bytetrack.yaml` spells it (`track_high_thresh` ...).
        name: &'static str,
        /// The value given.
        value: f64,
        /// The valid range, in words.
        why: &'static str,
    },
    /// A detection has a NaN or infinite coordinate or score: refused before it reaches the
    /// Kalman filter, where it would poison every track it matched.
    #[error("detection {index} of frame {frame}: {field} is {value}, expected a finite number")]
    NonFiniteDetection {
        /// The frame number (1-based, as the tracker counts `update` calls since a reset).
        frame: u64,
        /// Index of the detection in that frame's slice.
        index: usize,
        /// `x1`, `y1`, `x2`, `y2` or `score`.
        field: &'static str,
        /// The value found.
        value: f32,
    },
}

impl TrackerConfig {
    /// Checks that every threshold is a finite number in the range it is compared against.
    pub fn validate(&self) -> Result<(), TrackError> {
        let unit = |name, value: f64| {
            if value.is_finite() && (0.0..=1.0).contains(&value) {
                Ok(())
            } else {
                Err(TrackError::InvalidOption {
                    name,
                    value,
                    why: "expected a number in [0, 1]",
                })
            }
        };
        unit("track_high_thresh", self.track_high_thresh)?;
        unit("track_low_thresh", self.track_low_thresh)?;
        unit("new_track_thresh", self.new_track_thresh)?;
        unit("match_thresh", self.match_thresh)?;
        Ok(())
    }
}
