//! Throughput mode (`StreamPool`): N streams sharing one detector return, in input order, bit
//! for bit what sequential calls return; one bad item is that item's error only; at most
//! `queue_depth` items are ever in flight; dropping a run early neither blocks nor breaks the
//! pool.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use ghost_image::image_io::load_rgb;
use image::RgbImage;
use yolo11_ghost::detector::{DetectError, Detector, DetectorOptions, StreamOptions, StreamPool};
use yolo11_ghost::postprocess::Detection;

fn repo(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path)
}

/// The shipped images (sorted) and their mirror images: inputs of several shapes.
fn image_paths() -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(repo("fixtures/images"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "jpg" || e == "png"))
        .collect();
    paths.sort();
    assert!(paths.len() >= 3, "{paths:?}");
    paths
}

fn images() -> Vec<RgbImage> {
    let mut images = Vec::new();
    for path in image_paths() {
        let image = load_rgb(&path).unwrap();
        images.push(image::imageops::flip_horizontal(&image));
        images.push(image);
    }
    images
}

/// The trained fixture model at a small size, with a low threshold so every image yields many
/// detections to compare.
fn detector(threads: usize) -> Arc<Detector> {
    Arc::new(
        Detector::from_weights(
            &repo("fixtures/yolo/yolo11n-ghost.f32.safetensors"),
            DetectorOptions {
                conf: 0.05,
                imgsz: (160, 160),
                threads: Some(threads),
                ..Default::default()
            },
        )
        .unwrap(),
    )
}

/// Runs `f` on another thread and fails the test if it takes longer than `limit` (a deadlock
/// would otherwise hang the test binary instead of failing it).
fn within<T: Send + 'static>(limit: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || tx.send(f()).unwrap());
    rx.recv_timeout(limit)
        .expect("timed out: the stream pool deadlocked or hung")
}

#[test]
fn streams_match_sequential_runs_in_order() {
    let images = images();
    let sequential: Vec<Vec<Detection>> = {
        let detector = detector(2);
        images
            .iter()
            .map(|img| detector.detect_rgb(img).unwrap())
            .collect()
    };
    assert!(
        sequential.iter().map(Vec::len).sum::<usize>() > 10,
        "too few detections to compare: {:?}",
        sequential.iter().map(Vec::len).collect::<Vec<_>>()
    );
    // Three rounds over the images so that every stream handles several items and completion
    // order differs from input order.
    let input: Vec<RgbImage> = (0..3).flat_map(|_| images.iter().cloned()).collect();
    for (streams, threads) in [(1, 1), (2, 1), (3, 1), (2, 2)] {
        let pool = detector(1).streams(streams, threads).unwrap();
        let got: Vec<Vec<Detection>> = pool.detect_rgb(input.clone()).map(|r| r.unwrap()).collect();
        assert_eq!(got.len(), input.len(), "{streams} streams x {threads}");
        for (i, detections) in got.iter().enumerate() {
            assert_eq!(
                detections,
                &sequential[i % images.len()],
                "item {i} with {streams} streams x {threads} threads differs from the sequential run"
            );
        }
    }
}

#[test]
fn a_bad_item_fails_alone() {
    let pool = detector(1).streams(2, 1).unwrap();
    let mut paths = image_paths();
    let good = paths.len();
    let missing = repo("fixtures/images/no-such-image.jpg");
    let not_an_image = repo("fixtures/README.md");
    paths.insert(1, missing);
    paths.push(not_an_image);
    // Item 3 panics inside its job: reported as that item's error, the stream survives.
    let results: Vec<Result<(PathBuf, Vec<Detection>), DetectError>> = pool
        .run(
            paths.clone().into_iter().enumerate(),
            |detector: &Detector, ctx: &mut _, (i, path): (usize, PathBuf)| {
                assert_ne!(i, 3, "a job that panics");
                let image = load_rgb(&path)?;
                Ok((path, detector.detect_rgb_with_context(&image, ctx)?))
            },
        )
        .collect();
    assert_eq!(results.len(), paths.len());
    let sequential = detector(1);
    for (i, (path, result)) in paths.iter().zip(&results).enumerate() {
        match (i, result) {
            (1, Err(DetectError::Image(e))) => {
                assert!(e.to_string().contains("no-such-image"), "{e}")
            }
            (3, Err(DetectError::Stream { item: 3, message })) => {
                assert!(message.contains("a job that panics"), "{message}")
            }
            (i, Err(DetectError::Image(_))) if i == good + 1 => {}
            (i, Ok((p, detections))) if i != 1 && i != 3 && i != good + 1 => {
                assert_eq!(p, path);
                let image = load_rgb(path).unwrap();
                assert_eq!(detections, &sequential.detect_rgb(&image).unwrap());
            }
            (i, other) => panic!("item {i} ({}): unexpected {other:?}", path.display()),
        }
    }
}

#[test]
fn in_flight_items_never_exceed_the_queue_depth() {
    let depth = 3;
    let pool = StreamPool::new(
        detector(1),
        StreamOptions {
            streams: 2,
            threads_per_stream: 1,
            queue_depth: depth,
        },
    )
    .unwrap();
    let pulled = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&pulled);
    let input = (0..40).inspect(move |_| {
        counter.fetch_add(1, Ordering::SeqCst);
    });
    let results = pool.run(input, |_: &Detector, _: &mut _, i: usize| {
        std::thread::sleep(Duration::from_millis(2));
        Ok(i * 10)
    });
    let mut returned = 0;
    for r in results {
        assert_eq!(r.unwrap(), returned * 10, "results come in input order");
        returned += 1;
        let in_flight = pulled.load(Ordering::SeqCst) - returned;
        assert!(
            in_flight <= depth,
            "{in_flight} items in flight after {returned} results, depth {depth}"
        );
        // A slow consumer: the streams must wait for it instead of running ahead.
        std::thread::sleep(Duration::from_millis(3));
    }
    assert_eq!(returned, 40);
    assert_eq!(pulled.load(Ordering::SeqCst), 40);
}

#[test]
fn dropping_a_run_early_neither_hangs_nor_breaks_the_pool() {
    within(Duration::from_secs(120), || {
        let pool = detector(1).streams(2, 1).unwrap();
        let images = images();
        let ran = Arc::new(AtomicUsize::new(0));
        {
            let ran = Arc::clone(&ran);
            let endless = images.clone().into_iter().cycle();
            let mut run = pool.run(endless, move |d: &Detector, ctx: &mut _, img| {
                ran.fetch_add(1, Ordering::SeqCst);
                d.detect_rgb_with_context(&img, ctx)
            });
            for _ in 0..3 {
                run.next().unwrap().unwrap();
            }
            // Dropped here with items still queued and running.
        }
        let depth = 2 * 2;
        // Let the cancelled items drain, then check none of the queued ones ran.
        let again: Vec<_> = pool.detect_rgb(images.clone()).collect();
        assert!(
            ran.load(Ordering::SeqCst) <= 3 + depth,
            "{} items ran after the run was dropped",
            ran.load(Ordering::SeqCst)
        );
        let sequential = detector(1);
        for (img, r) in images.iter().zip(again) {
            assert_eq!(r.unwrap(), sequential.detect_rgb(img).unwrap());
        }
        // Dropping the pool itself with a run abandoned mid-way also returns.
        let mut abandoned = pool.detect_rgb(images.into_iter().cycle());
        abandoned.next().unwrap().unwrap();
        drop(abandoned);
        drop(pool);
    });
}

#[test]
fn zero_streams_or_threads_are_refused() {
    for (streams, threads, option) in [(0, 1, "streams"), (1, 0, "threads")] {
        let err = detector(1).streams(streams, threads).unwrap_err();
        assert!(
            matches!(&err, DetectError::InvalidOption { option: o, .. } if *o == option),
            "{err}"
        );
    }
}
