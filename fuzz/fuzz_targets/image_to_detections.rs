//! Arbitrary bytes as an image file: decode (any format, our libjpeg-exact JPEG decoder, at most
//! 2^20 pixels to keep runs fast) -> letterbox -> yolo11n-ghost with seeded weights at imgsz 64
//! -> NMS -> detections. Decoding fails typed or the detector runs; it never panics.
#![no_main]

use std::path::Path;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use yolo11_ghost::detector::{Detector, DetectorOptions, WeightsChoice};
use yolo11_ghost::ghost_image::image_io::decode_rgb_limited;

const MAX_PIXELS: u64 = 1 << 20;

fn detector() -> &'static Detector {
    static DETECTOR: OnceLock<Detector> = OnceLock::new();
    DETECTOR.get_or_init(|| {
        Detector::load(
            "yolo11n-ghost",
            &WeightsChoice::Seeded(11),
            DetectorOptions {
                imgsz: (64, 64),
                threads: Some(1),
                conf: 0.001,
                ..Default::default()
            },
        )
        .expect("the built-in model with seeded weights loads")
    })
}

fuzz_target!(|data: &[u8]| {
    if let Ok(rgb) = decode_rgb_limited(data, Path::new("fuzz"), MAX_PIXELS) {
        let detections = detector()
            .detect_rgb(&rgb)
            .expect("a decoded image always runs through the detector");
        for d in detections {
            assert!(d.x1 <= d.x2 && d.y1 <= d.y2, "{d:?}");
        }
    }
});
