//! One track (or a detection waiting to become one): Ultralytics' `STrack`, with its float32 box
//! conversions reproduced operation by operation.

use crate::kalman::KalmanState;
use crate::types::Detection;

/// Ultralytics' `TrackState` (`New` is never observed once a track is activated).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    New,
    Tracked,
    Lost,
    Removed,
}

#[derive(Debug, Clone)]
pub(crate) struct STrack {
    /// 0 until activated.
    pub track_id: u64,
    pub state: State,
    /// False for a track started after the first frame until it is matched once more.
    pub is_activated: bool,
    /// Last frame the track was matched in (its `end_frame`).
    pub frame_id: u64,
    pub start_frame: u64,
    pub kalman: Option<KalmanState>,
    /// The detection's box as Ultralytics stores it: float32 (left, top, width, height).
    pub tlwh: [f32; 4],
    pub score: f32,
    pub class_id: usize,
    pub det_index: usize,
}

impl STrack {
    /// A detection as `BYTETracker.init_track` builds it from Ultralytics' `Boxes`: `xywh` in float32
    /// (`xyxy2xywh`), then `xywh2ltwh` on the float64 array that `parse_bboxes` concatenates the
    /// indices into, stored back as float32.
    pub fn from_detection(d: &Detection, det_index: usize) -> Self {
        let cx = (d.x1 + d.x2) / 2.0;
        let cy = (d.y1 + d.y2) / 2.0;
        let w = d.x2 - d.x1;
        let h = d.y2 - d.y1;
        let left = (f64::from(cx) - f64::from(w) / 2.0) as f32;
        let top = (f64::from(cy) - f64::from(h) / 2.0) as f32;
        Self {
            track_id: 0,
            state: State::New,
            is_activated: false,
            frame_id: 0,
            start_frame: 0,
            kalman: None,
            tlwh: [left, top, w, h],
            score: d.score,
            class_id: d.class_id,
            det_index,
        }
    }

    /// The detection's (cx, cy, w/h, h) as `tlwh_to_xyah` computes it on the float32 box.
    pub fn measurement(&self) -> [f64; 4] {
        let [l, t, w, h] = self.tlwh;
        [l + w / 2.0, t + h / 2.0, w / h, h].map(f64::from)
    }

    /// Corners as Ultralytics' `xyxy` gives them, cast to float32 as `iou_distance` does: from the
    /// Kalman mean for a track (float64 arithmetic), from the float32 box for a detection.
    pub fn xyxy(&self) -> [f32; 4] {
        match &self.kalman {
            Some(k) => {
                let [cx, cy, a, h] = [k.mean[0], k.mean[1], k.mean[2], k.mean[3]];
                let w = a * h;
                let x = cx - w / 2.0;
                let y = cy - h / 2.0;
                [x, y, x + w, y + h].map(|v| v as f32)
            }
            None => {
                let [l, t, w, h] = self.tlwh;
                [l, t, l + w, t + h]
            }
        }
    }

    /// `activate`: starts a track from this detection with a fresh ID.
    pub fn activate(&mut self, track_id: u64, frame_id: u64) {
        self.track_id = track_id;
        self.kalman = Some(KalmanState::initiate(self.measurement()));
        self.state = State::Tracked;
        self.is_activated = frame_id == 1;
        self.frame_id = frame_id;
        self.start_frame = frame_id;
    }

    /// `update` (a tracked track) and `re_activate` (a lost one, same ID): both correct the filter
    /// with the detection and take over its score, class and index.
    pub fn match_detection(&mut self, det: &STrack, frame_id: u64) {
        if let Some(k) = self.kalman.as_mut() {
            k.update(det.measurement());
        }
        self.state = State::Tracked;
        self.is_activated = true;
        self.frame_id = frame_id;
        self.score = det.score;
        self.class_id = det.class_id;
        self.det_index = det.det_index;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detection_box_round_trips_through_ltwh() {
        let d = Detection {
            x1: 10.0,
            y1: 20.0,
            x2: 50.0,
            y2: 100.0,
            score: 0.9,
            class_id: 3,
        };
        let s = STrack::from_detection(&d, 7);
        assert_eq!(s.xyxy(), [10.0, 20.0, 50.0, 100.0]);
        assert_eq!(s.measurement(), [30.0, 60.0, 0.5, 80.0]);
        let mut t = s.clone();
        t.activate(1, 1);
        assert_eq!(t.xyxy(), [10.0, 20.0, 50.0, 100.0]);
        assert!(t.is_activated);
        assert_eq!(t.det_index, 7);
    }
}
