//! The tracker against Ultralytics 8.4.190's `BYTETracker` (bytetrack.yaml defaults) on the
//! synthetic sequences of fixtures/tracking/bytetrack_parity.json (made by
//! tools/make_track_fixtures.py): every frame must give the same tracks in the same order with the
//! same IDs, detection indices, scores and classes, and the same f32 boxes, bit for bit.
//!
//! Box tolerance: none. Detection conversions, prediction, IoU costs and thresholds are computed in
//! the same precision (f32 or f64) and order as Ultralytics, so they are exact by construction. The
//! Kalman update's 4x4 solve and short dot products could in principle round differently from
//! NumPy/LAPACK (~1e-16 relative in f64, which would show as at most one f32 ulp in a box); on
//! this fixture they do not, on any of its 1778 track rows, so the test holds them to equality and
//! any drift in the filter shows up.

mod common;

use common::{array, f32_of, fixture, usize_of};
use ghost_track::{Detection, Track, Tracker, TrackerConfig};
use serde_json::Value;

#[test]
fn fixture_config_is_our_default() {
    let doc = fixture("bytetrack_parity.json");
    let c = &doc["config"];
    let d = TrackerConfig::default();
    assert_eq!(c["track_high_thresh"].as_f64(), Some(d.track_high_thresh));
    assert_eq!(c["track_low_thresh"].as_f64(), Some(d.track_low_thresh));
    assert_eq!(c["new_track_thresh"].as_f64(), Some(d.new_track_thresh));
    assert_eq!(c["match_thresh"].as_f64(), Some(d.match_thresh));
    assert_eq!(c["track_buffer"].as_u64(), Some(u64::from(d.track_buffer)));
    assert_eq!(c["fuse_score"].as_bool(), Some(d.fuse_score));
}

/// A fixture frame's `dets` rows `[x1, y1, x2, y2, score, class]` as the tracker's input.
fn detections(frame: &Value) -> Vec<Detection> {
    array(&frame["dets"])
        .iter()
        .map(|d| Detection {
            x1: f32_of(&d[0]),
            y1: f32_of(&d[1]),
            x2: f32_of(&d[2]),
            y2: f32_of(&d[3]),
            score: f32_of(&d[4]),
            class_id: usize_of(&d[5]),
        })
        .collect()
}

/// Runs `tracker` on one fixture frame and checks its output against the frame's `tracks` rows
/// `[id, x1, y1, x2, y2, score, class, det_index]`: the same IDs in the same order, then every
/// field of every row, boxes bit for bit. Returns the number of rows checked.
fn assert_frame_tracks(tracker: &mut Tracker, frame: &Value, ctx: &str) -> usize {
    let got: Vec<Track> = tracker.update(&detections(frame)).unwrap();
    let want = array(&frame["tracks"]);
    let got_ids: Vec<u64> = got.iter().map(|t| t.track_id).collect();
    let want_ids: Vec<u64> = want.iter().map(|t| t[0].as_u64().unwrap()).collect();
    assert_eq!(got_ids, want_ids, "{ctx}: track IDs");
    for (g, w) in got.iter().zip(want) {
        let ctx = format!("{ctx} track {}", g.track_id);
        assert_eq!(g.det_index, usize_of(&w[7]), "{ctx}: detection index");
        assert_eq!(g.class_id, usize_of(&w[6]), "{ctx}: class");
        assert_eq!(g.score, f32_of(&w[5]), "{ctx}: score");
        let want_box: Vec<f32> = array(w)[1..5].iter().map(f32_of).collect();
        assert_eq!(vec![g.x1, g.y1, g.x2, g.y2], want_box, "{ctx}: box");
    }
    got.len()
}

#[test]
fn same_tracks_as_ultralytics_on_every_frame() {
    let doc = fixture("bytetrack_parity.json");
    let mut tracker = Tracker::new(TrackerConfig::default()).unwrap();
    let mut rows = 0;
    for seq in array(&doc["sequences"]) {
        let name = seq["name"].as_str().unwrap();
        // A new sequence is a new video: Ultralytics resets its tracker (IDs restart at 1).
        tracker.reset();
        for (f, frame) in array(&seq["frames"]).iter().enumerate() {
            rows += assert_frame_tracks(&mut tracker, frame, &format!("{name} frame {f}"));
        }
    }
    assert!(rows > 1500, "fixture too small: {rows} rows");
    eprintln!("{rows} track rows equal, boxes bit for bit");
}

/// The detections Ultralytics' `yolo track` (default model, conf 0.1) handed to its tracker on the
/// 75 frames of the committed shapes clip (fixtures/tracking/shapes_clip_tracks.json, made by
/// tools/make_track_clip_fixture.py): the same rows on every frame, boxes bit for bit.
#[test]
fn same_tracks_as_ultralytics_on_the_clip_detections() {
    let doc = fixture("shapes_clip_tracks.json");
    let mut tracker = Tracker::new(TrackerConfig::default()).unwrap();
    let frames = array(&doc["frames"]);
    assert_eq!(frames.len(), 75);
    let mut rows = 0;
    for (f, frame) in frames.iter().enumerate() {
        rows += assert_frame_tracks(&mut tracker, frame, &format!("frame {f}"));
    }
    assert_eq!(rows, 300, "4 tracks on each of the 75 frames");
}
