//! One `Detector` shared by 8 threads (`Arc<Detector>`), each running different images several
//! times, returns exactly (bit for bit, in the same order) what sequential calls return.

use std::path::PathBuf;
use std::sync::{Arc, Barrier};

use ghost_image::image_io::load_rgb;
use image::RgbImage;
use yolo11_ghost::detector::{Detector, DetectorOptions};
use yolo11_ghost::postprocess::Detection;

fn repo(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path)
}

const THREADS: usize = 8;
const ROUNDS: usize = 3;

/// The shipped images plus flipped / cropped variants: 8+ distinct inputs of several shapes.
fn images() -> Vec<RgbImage> {
    let mut images = Vec::new();
    let mut dir: Vec<PathBuf> = std::fs::read_dir(repo("fixtures/images"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "jpg" || e == "png"))
        .collect();
    dir.sort();
    for path in dir {
        let image = load_rgb(&path).unwrap();
        images.push(image::imageops::flip_horizontal(&image));
        images.push(image);
    }
    assert!(images.len() >= THREADS, "{} images", images.len());
    images
}

#[test]
fn shared_detector_matches_sequential_runs() {
    let detector = Arc::new(
        Detector::from_weights(
            &repo("fixtures/yolo/yolo11n-ghost.f32.safetensors"),
            // Low threshold so every image yields many detections to compare; 2 kernel
            // threads per call so the calls also share the kernel pool.
            DetectorOptions {
                conf: 0.05,
                imgsz: (160, 160),
                threads: Some(2),
                ..Default::default()
            },
        )
        .unwrap(),
    );
    let images = Arc::new(images());
    let sequential: Vec<Vec<Detection>> = images
        .iter()
        .map(|img| detector.detect_rgb(img).unwrap())
        .collect();
    assert!(
        sequential.iter().map(Vec::len).sum::<usize>() > 10,
        "too few detections to compare: {:?}",
        sequential.iter().map(Vec::len).collect::<Vec<_>>()
    );

    let barrier = Arc::new(Barrier::new(THREADS));
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let (detector, images, barrier) = (
                Arc::clone(&detector),
                Arc::clone(&images),
                Arc::clone(&barrier),
            );
            std::thread::spawn(move || {
                barrier.wait();
                let mut results = Vec::new();
                // Each thread starts at a different image and walks all of them.
                for round in 0..ROUNDS {
                    for k in 0..images.len() {
                        let i = (t * 3 + k + round) % images.len();
                        results.push((i, detector.detect_rgb(&images[i]).unwrap()));
                    }
                }
                results
            })
        })
        .collect();
    let mut checked = 0;
    for handle in handles {
        for (i, detections) in handle.join().expect("worker thread panicked") {
            assert_eq!(
                detections, sequential[i],
                "image {i} differs from the sequential run"
            );
            checked += 1;
        }
    }
    assert_eq!(checked, THREADS * ROUNDS * images.len());
}

#[test]
fn shared_detector_batches_match_single_runs() {
    // detect_batch from several threads at once equals per-image calls (same-shape batch).
    let detector = Arc::new(
        Detector::load(
            "yolo11n-ghost",
            &yolo11_ghost::detector::WeightsChoice::Seeded(3),
            DetectorOptions {
                conf: 0.01,
                imgsz: (96, 96),
                threads: Some(1),
                ..Default::default()
            },
        )
        .unwrap(),
    );
    let base = load_rgb(&repo("fixtures/images/shapes_200x150.jpg")).unwrap();
    let batch: Vec<image::DynamicImage> = (0..3)
        .map(|k| {
            let mut img = base.clone();
            image::imageops::colorops::brighten_in_place(&mut img, 20 * k);
            image::DynamicImage::ImageRgb8(img)
        })
        .collect();
    let singles: Vec<Vec<Detection>> = batch.iter().map(|i| detector.detect(i).unwrap()).collect();
    let batch = Arc::new(batch);
    let handles: Vec<_> = (0..THREADS)
        .map(|_| {
            let (detector, batch) = (Arc::clone(&detector), Arc::clone(&batch));
            std::thread::spawn(move || detector.detect_batch(&batch).unwrap())
        })
        .collect();
    for handle in handles {
        assert_eq!(handle.join().unwrap(), singles);
    }
}
