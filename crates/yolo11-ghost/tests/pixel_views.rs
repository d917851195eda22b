//! `Detector::detect_views` (borrowed RGB/BGR buffers, per-call options) against the established
//! path `Detector::detect_rgb` / `detect_batch_rgb` with a detector built with the same options:
//! the detections must be identical (same f32 values, not "close": both letterbox with the same
//! integer resize and feed the network the same tensor, so any difference is a bug).

use std::path::PathBuf;

use ghost_image::image_io::load_rgb;
use image::RgbImage;
use yolo11_ghost::detector::{ChannelOrder, Detector, DetectorOptions, PixelView};

fn repo(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path)
}

/// The default model's weights, read from the fixture file (independent of how the library
/// embeds them).
fn detector(options: DetectorOptions) -> Detector {
    Detector::from_weights(
        &repo("crates/yolo11-ghost/assets/yolo11n-ghost-shapes.safetensors"),
        DetectorOptions {
            threads: Some(1),
            ..options
        },
    )
    .unwrap()
}

fn images() -> Vec<RgbImage> {
    [
        "shapes/shapes_val_0.jpg",
        "shapes/shapes_val_1.jpg",
        "rgb_333x250.png",
    ]
    .iter()
    .map(|name| load_rgb(&repo(&format!("fixtures/images/{name}"))).unwrap())
    .collect()
}

fn bgr_bytes(image: &RgbImage) -> Vec<u8> {
    image
        .as_raw()
        .chunks_exact(3)
        .flat_map(|p| [p[2], p[1], p[0]])
        .collect()
}

#[test]
fn rgb_and_bgr_views_equal_detect_rgb() {
    let options = DetectorOptions {
        imgsz: (320, 320),
        ..DetectorOptions::default()
    };
    let reference = detector(options.clone());
    let images = images();
    let mut found = 0;
    for image in &images {
        let expected = reference.detect_rgb(image).unwrap();
        found += expected.len();
        let rgb = reference
            .detect_views(&[PixelView::rgb(image)], &options, None)
            .unwrap();
        assert_eq!(rgb.detections, vec![expected.clone()]);
        let bgr = bgr_bytes(image);
        let (h, w) = (image.height() as usize, image.width() as usize);
        let view = PixelView::new(&bgr, h, w, ChannelOrder::Bgr).unwrap();
        let got = reference.detect_views(&[view], &options, None).unwrap();
        assert_eq!(got.detections, vec![expected]);
        assert!(got.times.inference_ms > 0.0);
    }
    // The comparison means something only if the model finds objects.
    assert!(
        found >= 5,
        "only {found} detections on the shipped shapes images"
    );
}

#[test]
fn per_call_options_equal_a_detector_built_with_them() {
    // The detector is built with defaults; the call asks for something else.
    let general = detector(DetectorOptions::default());
    let options = DetectorOptions {
        imgsz: (256, 288),
        conf: 0.5,
        iou: 0.5,
        classes: Some(vec![0, 2, 3]),
        max_det: 3,
        agnostic: true,
        rect: false,
        threads: Some(1),
    };
    let specific = detector(options.clone());
    let images = images();
    let views: Vec<PixelView<'_>> = images.iter().map(PixelView::rgb).collect();
    let got = general.detect_views(&views, &options, None).unwrap();
    let expected = specific.detect_batch_rgb(&images).unwrap();
    assert_eq!(got.detections, expected);
    assert!(expected.iter().any(|d| !d.is_empty()));
    // Mixed shapes with rect: padded to imgsz (like detect_batch_rgb), same answer.
    let rect = DetectorOptions {
        rect: true,
        ..options.clone()
    };
    let got = general.detect_views(&views, &rect, None).unwrap();
    assert_eq!(got.detections, expected);
}

#[test]
fn own_context_gives_the_same_answer() {
    let d = detector(DetectorOptions::default());
    let images = images();
    let views: Vec<PixelView<'_>> = images.iter().map(PixelView::rgb).collect();
    let options = DetectorOptions {
        imgsz: (320, 320),
        ..DetectorOptions::default()
    };
    let threads = ghost_kernels::Threads::new(2).unwrap();
    let mut ctx = yolo11_ghost::detector::Context::new(threads);
    let a = d
        .detect_views(&views[..1], &options, Some(&mut ctx))
        .unwrap();
    let b = d.detect_views(&views[..1], &options, None).unwrap();
    assert_eq!(a.detections, b.detections);
}

#[test]
fn bad_buffers_and_options_are_errors() {
    let err = PixelView::new(&[0; 10], 2, 2, ChannelOrder::Rgb).unwrap_err();
    assert_eq!(
        err.to_string(),
        "pixel buffer holds 10 bytes, a 2x2x3 image needs 12"
    );
    assert!(PixelView::new(&[], 0, 5, ChannelOrder::Bgr).is_err());
    let d = detector(DetectorOptions::default());
    let pixels = [0u8; 12];
    let view = PixelView::new(&pixels, 2, 2, ChannelOrder::Rgb).unwrap();
    let bad = DetectorOptions {
        conf: 1.5,
        ..DetectorOptions::default()
    };
    let err = d.detect_views(&[view], &bad, None).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid conf: expected a value in [0, 1], found 1.5"
    );
    let warned = DetectorOptions {
        imgsz: (100, 100),
        ..DetectorOptions::default()
    };
    let got = d.detect_views(&[view], &warned, None).unwrap();
    assert_eq!(got.warnings.len(), 1, "{:?}", got.warnings);
    assert!(d
        .detect_views(&[], &DetectorOptions::default(), None)
        .unwrap()
        .detections
        .is_empty());
}
