//! The whole pipeline (decode -> letterbox -> model -> NMS -> scale_boxes).
//!
//! Part 1 runs the pipeline around a stand-in model whose output is known exactly (it "detects"
//! the white rectangle painted into the input), so the geometry round trip (letterbox there,
//! scale_boxes back) is checked independently of any network.

use std::sync::Arc;

use image::{DynamicImage, Rgb, RgbImage};
use ndarray::{Array3, ArrayView4};
use yolo11_ghost::detector::{Context, DetectionModel, Detector, DetectorOptions};
use yolo11_ghost::YoloError;

#[test]
fn detector_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Detector>();
    assert_send_sync::<Arc<Detector>>();
}

/// Outputs one box per image: the extent of the pure-white input pixels, class 2, score 0.9,
/// on anchor 0 of a YOLO11-sized anchor grid; every other anchor scores 0.
#[derive(Debug)]
struct WhiteBoxModel;

impl DetectionModel for WhiteBoxModel {
    fn forward(
        &self,
        images: ArrayView4<'_, f32>,
        _ctx: &mut Context,
    ) -> Result<Array3<f32>, YoloError> {
        let (n, _, h, w) = images.dim();
        let anchors: usize = [8, 16, 32].iter().map(|s| (h / s) * (w / s)).sum();
        let mut out = Array3::<f32>::zeros((n, 4 + 3, anchors));
        for i in 0..n {
            let (mut x0, mut y0, mut x1, mut y1) = (usize::MAX, usize::MAX, 0, 0);
            for y in 0..h {
                for x in 0..w {
                    if (0..3).all(|c| images[[i, c, y, x]] >= 1.0) {
                        x0 = x0.min(x);
                        y0 = y0.min(y);
                        x1 = x1.max(x + 1);
                        y1 = y1.max(y + 1);
                    }
                }
            }
            if x0 == usize::MAX {
                continue;
            }
            out[[i, 0, 0]] = (x0 + x1) as f32 / 2.0;
            out[[i, 1, 0]] = (y0 + y1) as f32 / 2.0;
            out[[i, 2, 0]] = (x1 - x0) as f32;
            out[[i, 3, 0]] = (y1 - y0) as f32;
            out[[i, 4 + 2, 0]] = 0.9;
        }
        Ok(out)
    }

    fn max_stride(&self) -> usize {
        32
    }

    fn num_classes(&self) -> usize {
        3
    }
}

fn scene(width: u32, height: u32, rect: (u32, u32, u32, u32)) -> RgbImage {
    let mut img = RgbImage::from_pixel(width, height, Rgb([60, 90, 120]));
    for y in rect.1..rect.3 {
        for x in rect.0..rect.2 {
            img.put_pixel(x, y, Rgb([255, 255, 255]));
        }
    }
    img
}

fn detector(options: DetectorOptions) -> Detector {
    let names = vec!["a".into(), "b".into(), "white".into()];
    Detector::from_model(Box::new(WhiteBoxModel), names, options).unwrap()
}

/// The box must come back where the rectangle was, within the bilinear blur at each edge: an
/// input pixel is pure white only when both of its taps are, i.e. its source coordinate lies at
/// least half a source pixel inside the rectangle, and input pixels are `1 / ratio` original
/// pixels apart, so each edge may move inwards by up to `0.5 + 1 / ratio` original pixels.
fn assert_box_near(
    found: &yolo11_ghost::postprocess::Detection,
    rect: (u32, u32, u32, u32),
    ratio: f64,
) {
    let bound = (0.5 + 1.0 / ratio) as f32;
    let expected = [rect.0, rect.1, rect.2, rect.3].map(|v| v as f32);
    let got = [found.x1, found.y1, found.x2, found.y2];
    for (g, e) in got.iter().zip(expected) {
        assert!(
            (g - e).abs() <= bound,
            "box {got:?} vs {expected:?} (bound {bound})"
        );
    }
}

#[test]
fn boxes_map_back_to_the_original_image_in_rect_and_square_modes() {
    let rect = (50, 40, 150, 120);
    let img = DynamicImage::ImageRgb8(scene(300, 200, rect));
    for rect_mode in [true, false] {
        let det = detector(DetectorOptions {
            rect: rect_mode,
            ..DetectorOptions::default()
        });
        let pre = det.preprocess(&[img.to_rgb8()]).unwrap();
        // 300x200 -> r = 640/300: 640x427, padded to 448 rows (rect) or 640 (square).
        let expected_h = if rect_mode { 448 } else { 640 };
        assert_eq!(pre.tensor.shape(), &[1, 3, expected_h, 640]);
        let found = det.detect(&img).unwrap();
        assert_eq!(found.len(), 1, "rect={rect_mode}");
        assert_eq!(
            (found[0].class_id, found[0].class_name.as_str()),
            (2, "white")
        );
        assert_eq!(found[0].confidence, 0.9);
        assert_box_near(&found[0], rect, 640.0 / 300.0);
    }
}

#[test]
fn mixed_shape_batches_use_square_padding_and_keep_per_image_geometry() {
    let a = (10, 20, 60, 90);
    let b = (100, 5, 300, 50);
    let images = [
        DynamicImage::ImageRgb8(scene(120, 160, a)),
        DynamicImage::ImageRgb8(scene(400, 100, b)),
    ];
    let det = detector(DetectorOptions {
        imgsz: (320, 320),
        ..DetectorOptions::default()
    });
    let pre = det
        .preprocess(&images.iter().map(|i| i.to_rgb8()).collect::<Vec<_>>())
        .unwrap();
    assert_eq!(pre.tensor.shape(), &[2, 3, 320, 320]);
    let found = det.detect_batch(&images).unwrap();
    assert_eq!(found.len(), 2);
    assert_box_near(&found[0][0], a, 320.0 / 160.0);
    assert_box_near(&found[1][0], b, 320.0 / 400.0);
    // Same-shape batch: rect padding applies (400x100 -> 320x80, already a multiple of 32 -> 96).
    let same = [images[1].clone(), images[1].clone()];
    let pre = det
        .preprocess(&same.iter().map(|i| i.to_rgb8()).collect::<Vec<_>>())
        .unwrap();
    assert_eq!(pre.tensor.shape(), &[2, 3, 96, 320]);
}

#[test]
fn filters_and_thresholds_apply() {
    let img = DynamicImage::ImageRgb8(scene(64, 64, (8, 8, 40, 40)));
    let high_conf = detector(DetectorOptions {
        conf: 0.95,
        ..DetectorOptions::default()
    });
    assert!(high_conf.detect(&img).unwrap().is_empty());
    let other_class = detector(DetectorOptions {
        classes: Some(vec![0, 1]),
        ..DetectorOptions::default()
    });
    assert!(other_class.detect(&img).unwrap().is_empty());
    let grey = DynamicImage::ImageRgb8(RgbImage::from_pixel(50, 70, Rgb([3, 3, 3])));
    assert!(detector(DetectorOptions::default())
        .detect(&grey)
        .unwrap()
        .is_empty());
}

#[test]
fn a_detector_is_usable_from_several_threads() {
    let det = Arc::new(detector(DetectorOptions {
        threads: Some(1),
        imgsz: (128, 128),
        ..DetectorOptions::default()
    }));
    let handles: Vec<_> = (0..4u32)
        .map(|k| {
            let det = Arc::clone(&det);
            std::thread::spawn(move || {
                let rect = (10 + k, 10, 50 + k, 40);
                let img = DynamicImage::ImageRgb8(scene(100, 80, rect));
                (rect, det.detect(&img).unwrap())
            })
        })
        .collect();
    for h in handles {
        let (rect, found) = h.join().unwrap();
        assert_eq!(found.len(), 1);
        assert_box_near(&found[0], rect, 128.0 / 100.0);
    }
}

#[test]
fn invalid_options_are_typed_errors() {
    let bad = Detector::from_model(
        Box::new(WhiteBoxModel),
        vec![],
        DetectorOptions {
            iou: 2.0,
            ..DetectorOptions::default()
        },
    );
    let err = bad.unwrap_err().to_string();
    assert_eq!(err, "invalid iou: expected a value in [0, 1], found 2");
}
