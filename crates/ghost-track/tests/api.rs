//! The library API's contract: reset, errors on bad input and settings, ignored degenerate boxes.

use ghost_track::{Detection, TrackError, Tracker, TrackerConfig};

fn det(x: f32, score: f32) -> Detection {
    Detection {
        x1: x,
        y1: 10.0,
        x2: x + 40.0,
        y2: 60.0,
        score,
        class_id: 0,
    }
}

#[test]
fn reset_forgets_tracks_and_restarts_ids() {
    let mut t = Tracker::new(TrackerConfig::default()).unwrap();
    for i in 0..3 {
        t.update(&[det(10.0 + i as f32, 0.9), det(300.0, 0.9)])
            .unwrap();
    }
    assert_eq!(t.frame_count(), 3);
    t.reset();
    assert_eq!(t.frame_count(), 0);
    let out = t.update(&[det(500.0, 0.9)]).unwrap();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].track_id, 1);
}

#[test]
fn non_finite_detections_are_refused_and_change_nothing() {
    let frames = [
        vec![det(10.0, 0.9)],
        vec![det(14.0, 0.9)],
        vec![det(18.0, 0.9)],
    ];
    let mut clean = Tracker::new(TrackerConfig::default()).unwrap();
    let mut probed = clean.clone();
    let mut bad = det(14.0, 0.9);
    bad.y2 = f32::NAN;
    for (i, f) in frames.iter().enumerate() {
        if i == 1 {
            let err = probed.update(&[det(0.0, 0.9), bad]).unwrap_err();
            assert!(
                matches!(
                    err,
                    TrackError::NonFiniteDetection { frame: 2, index: 1, field: "y2", value } if value.is_nan()
                ),
                "{err:?}"
            );
            assert!(
                err.to_string()
                    .contains("detection 1 of frame 2: y2 is NaN"),
                "{err}"
            );
            let mut inf = det(14.0, 0.9);
            inf.score = f32::INFINITY;
            assert!(probed.update(&[inf]).is_err());
        }
        assert_eq!(
            clean.update(f).unwrap(),
            probed.update(f).unwrap(),
            "frame {i}"
        );
    }
}

#[test]
fn invalid_settings_are_refused() {
    for (name, cfg) in [
        (
            "track_high_thresh",
            TrackerConfig {
                track_high_thresh: f64::NAN,
                ..Default::default()
            },
        ),
        (
            "track_low_thresh",
            TrackerConfig {
                track_low_thresh: -0.1,
                ..Default::default()
            },
        ),
        (
            "new_track_thresh",
            TrackerConfig {
                new_track_thresh: 1.5,
                ..Default::default()
            },
        ),
        (
            "match_thresh",
            TrackerConfig {
                match_thresh: f64::INFINITY,
                ..Default::default()
            },
        ),
    ] {
        match Tracker::new(cfg) {
            Err(TrackError::InvalidOption { name: n, .. }) => assert_eq!(n, name),
            other => panic!("{name}: {other:?}"),
        }
    }
}

#[test]
fn empty_frames_and_degenerate_boxes_give_no_tracks() {
    let mut t = Tracker::new(TrackerConfig::default()).unwrap();
    assert!(t.update(&[]).unwrap().is_empty());
    let flat = Detection {
        x1: 5.0,
        y1: 5.0,
        x2: 5.0,
        y2: 50.0,
        score: 0.9,
        class_id: 1,
    };
    let inverted = Detection {
        x1: 50.0,
        y1: 5.0,
        x2: 10.0,
        y2: 50.0,
        score: 0.9,
        class_id: 1,
    };
    assert!(t.update(&[flat, inverted]).unwrap().is_empty());
    // A valid box beside them is tracked, and its index points past the ignored ones.
    t.reset();
    let out = t.update(&[flat, det(100.0, 0.9)]).unwrap();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].det_index, 1);
}

#[test]
fn a_new_track_is_reported_from_its_second_frame_after_the_first() {
    let mut t = Tracker::new(TrackerConfig::default()).unwrap();
    assert_eq!(
        t.update(&[det(10.0, 0.9)]).unwrap().len(),
        1,
        "frame 1 activates at once"
    );
    let out = t.update(&[det(12.0, 0.9), det(300.0, 0.9)]).unwrap();
    assert_eq!(
        out.iter().map(|t| t.track_id).collect::<Vec<_>>(),
        vec![1],
        "new track unconfirmed"
    );
    let out = t.update(&[det(14.0, 0.9), det(302.0, 0.9)]).unwrap();
    assert_eq!(
        out.iter().map(|t| t.track_id).collect::<Vec<_>>(),
        vec![1, 2]
    );
}
