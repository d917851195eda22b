//! Throughput mode (`StreamPool`): N streams sharing one detector return, in input order, bit
//! for bit what sequential calls return; one bad item is that item's error only; at most
//! `queue_depth` items are ever in flight; dropping a run early neither blocks nor breaks the
//! pool.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
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
        let shared = detector(1);
        let pool = shared.streams(streams, threads).unwrap();
        // The streams share this very detector (and so its packed weights): the pool holds the
        // one extra reference, no copy.
        assert!(Arc::ptr_eq(pool.detector(), &shared));
        assert_eq!(Arc::strong_count(&shared), 2);
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
        // Items after the first wait at a gate, so that when the run is dropped items 1 and 2
        // are running or queued (two streams, both held at the gate once they start) and item 3
        // is queued (depth 2 x 2 = 4 in flight): no stream is free to start it before the drop.
        let gate = Arc::new((std::sync::Mutex::new(false), std::sync::Condvar::new()));
        let ran = Arc::new(Mutex::new(Vec::new()));
        {
            let (gate, ran) = (Arc::clone(&gate), Arc::clone(&ran));
            let mut run = pool.run(0.., move |_: &Detector, _: &mut _, i: usize| {
                ran.lock().unwrap().push(i);
                if i > 0 {
                    let (open, wake) = &*gate;
                    let mut open = open.lock().unwrap();
                    while !*open {
                        open = wake.wait(open).unwrap();
                    }
                }
                Ok(i)
            });
            assert_eq!(run.next().unwrap().unwrap(), 0);
            // Dropped here, before the gate opens.
        }
        *gate.0.lock().unwrap() = true;
        gate.1.notify_all();
        // The pool still works, and its queue drains the cancelled items first.
        let images = images();
        let again: Vec<_> = pool.detect_rgb(images.clone()).collect();
        let mut started = ran.lock().unwrap().clone();
        started.sort_unstable();
        // Items 1 and 2 may or may not have started by the drop (stream threads get the CPU when
        // they get it); 3 was queued behind them, so only cancellation keeps it out.
        assert!(
            started.first() == Some(&0) && started.iter().all(|&i| i <= 2),
            "items that started: {started:?}; the queued one (3) must have been cancelled"
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

/// `detect_batch_rgb_with_context` (a batch on a stream's context, what the video pipeline's
/// `--streams` runs) gives exactly `detect_batch_rgb`'s detections, for batches of one shape
/// (minimal padding) and of mixed shapes (letterboxed to imgsz), on contexts of 1 and 2 threads.
#[test]
fn a_batch_on_a_stream_context_matches_detect_batch_rgb() {
    let images = images();
    let detector = detector(2);
    let same_shape = vec![images[0].clone(), images[1].clone()];
    let mixed: Vec<RgbImage> = images.iter().step_by(2).cloned().collect();
    assert!(mixed
        .windows(2)
        .any(|p| p[0].dimensions() != p[1].dimensions()));
    for batch in [&same_shape, &mixed] {
        let want = detector.detect_batch_rgb(batch).unwrap();
        assert!(want.iter().map(Vec::len).sum::<usize>() > 0);
        for threads in [1, 2] {
            let mut ctx =
                yolo11_ghost::detector::Context::new(ghost_kernels::Threads::new(threads).unwrap());
            let got = detector
                .detect_batch_rgb_with_context(batch, &mut ctx)
                .unwrap();
            assert_eq!(got, want, "{threads} threads, {} images", batch.len());
        }
    }
    let mut ctx = yolo11_ghost::detector::Context::new(ghost_kernels::Threads::new(1).unwrap());
    assert!(detector
        .detect_batch_rgb_with_context(&[], &mut ctx)
        .unwrap()
        .is_empty());
}
