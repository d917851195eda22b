//! Arbitrary text as a label file for a 3-class dataset: `check_labels` either reports the
//! image corrupt or returns boxes that pass every Ultralytics check, with no two rows equal.
#![no_main]

use libfuzzer_sys::fuzz_target;
use yolo11_ghost::val::labels::{check_labels, LabelCheck};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let LabelCheck::Ok { labels, duplicates } = check_labels(text, 3) {
        for l in &labels {
            assert!(l.class < 3);
            assert!(l.xywh.iter().all(|v| (0.0..=1.0).contains(v)), "{l:?}");
        }
        let mut rows: Vec<[u32; 5]> = labels
            .iter()
            .map(|l| {
                let b = |v: f32| (v + 0.0).to_bits();
                [l.class as u32, b(l.xywh[0]), b(l.xywh[1]), b(l.xywh[2]), b(l.xywh[3])]
            })
            .collect();
        let n = rows.len();
        rows.sort();
        rows.dedup();
        assert_eq!(rows.len(), n, "duplicate rows kept");
        if duplicates > 0 {
            assert!(n > 0);
        }
    }
});
