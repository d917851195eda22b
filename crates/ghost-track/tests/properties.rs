//! Whatever finite detections arrive (huge, tiny, inverted, duplicated, far outside any image), the
//! tracker neither panics nor hangs, and every frame's output is well formed: distinct IDs, each
//! detection matched at most once, indices within the frame, scores and classes of that detection.

use std::collections::HashSet;

use ghost_track::{Detection, Tracker, TrackerConfig};
use proptest::prelude::*;

fn coordinate() -> impl Strategy<Value = f32> {
    prop_oneof![
        8 => -50.0f32..700.0,
        1 => prop::num::f32::NORMAL,
        1 => Just(0.0f32),
    ]
}

fn detection() -> impl Strategy<Value = Detection> {
    (
        coordinate(),
        coordinate(),
        0.0f32..300.0,
        0.0f32..300.0,
        0.0f32..=1.0,
        0usize..4,
    )
        .prop_map(|(x, y, w, h, score, class_id)| Detection {
            x1: x,
            y1: y,
            x2: x + w,
            y2: y + h,
            score,
            class_id,
        })
}

fn frames() -> impl Strategy<Value = Vec<Vec<Detection>>> {
    // Frames drawn independently, plus copies of earlier ones (slowly moving, duplicated objects).
    prop::collection::vec(prop::collection::vec(detection(), 0..12), 1..40).prop_map(|mut fs| {
        for i in 1..fs.len() {
            if i % 3 != 0 {
                let mut prev = fs[i - 1].clone();
                for d in &mut prev {
                    d.x1 += 2.0;
                    d.x2 += 2.0;
                }
                prev.extend(fs[i].iter().take(2).copied());
                fs[i] = prev;
            }
        }
        fs
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(256)
    ))]

    #[test]
    fn output_is_well_formed(frames in frames()) {
        let mut tracker = Tracker::new(TrackerConfig::default()).unwrap();
        let mut max_id = 0;
        for dets in &frames {
            let out = tracker.update(dets).unwrap();
            let mut ids = HashSet::new();
            let mut used = HashSet::new();
            for t in &out {
                prop_assert!(ids.insert(t.track_id), "ID {} twice", t.track_id);
                prop_assert!(t.det_index < dets.len());
                prop_assert!(used.insert(t.det_index), "detection {} used twice", t.det_index);
                let d = dets[t.det_index];
                prop_assert_eq!(t.score, d.score);
                prop_assert_eq!(t.class_id, d.class_id);
                prop_assert!(t.score > 0.1, "score {} tracked", t.score);
                prop_assert!(t.track_id >= 1);
                max_id = max_id.max(t.track_id);
            }
        }
        let n: usize = frames.iter().map(Vec::len).sum();
        prop_assert!(max_id as usize <= n, "more IDs ({max_id}) than detections ({n})");
    }
}
