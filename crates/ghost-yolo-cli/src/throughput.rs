//! Throughput mode in the CLI (`--streams N`): `bench` runs N independent inference streams
//! (yolo11_ghost's `StreamPool`: each stream its own context and kernel threads, all sharing
//! the detector's packed weights) and reports images/s over all of them; `detect` runs its
//! images on the streams and prints and writes exactly what the sequential run does, in the
//! same order.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use image::RgbImage;
use ndarray::Array4;
use yolo11_ghost::detector::{Context, Detector, StreamPool};
use yolo11_ghost::postprocess::Detection;

use crate::bench::{percentile, BenchArgs};
use crate::cpu_stats::Counters;

/// The kernel threads of each stream: as given, else every core for one stream and one thread
/// per stream for several (OpenVINO's THROUGHPUT hint likewise gives each stream a share of the
/// cores; on this project's 2-core machines that is 1).
pub fn threads_per_stream(threads: Option<usize>, streams: usize) -> Option<usize> {
    match (threads, streams) {
        (Some(t), _) => Some(t),
        (None, 1) => None,
        (None, _) => Some(1),
    }
}

/// `bench --streams N`: `warmup` untimed then `runs` timed forward passes per stream, all
/// queued at once; images/s is every image over the wall time of the timed passes, latency
/// is each pass's own time on its stream.
pub fn bench_streams(
    detector: &Arc<Detector>,
    input: Array4<f32>,
    args: &BenchArgs,
    header: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    let threads = detector.threads();
    let pool = detector.streams(args.streams, threads)?;
    let input = Arc::new(input);
    let pass = |d: &Detector, ctx: &mut Context, input: Arc<Array4<f32>>| {
        let start = Instant::now();
        let out = d.forward_with_context(input.view(), ctx)?;
        std::hint::black_box(out);
        Ok(start.elapsed().as_secs_f64() * 1e3)
    };
    let passes = |n: usize| std::iter::repeat_n(Arc::clone(&input), n);
    for r in pool.run(passes(args.warmup * args.streams), pass) {
        r?;
    }
    let before = Counters::read();
    let start = Instant::now();
    let mut times = pool
        .run(passes(args.runs * args.streams), pass)
        .collect::<Result<Vec<f64>, _>>()?;
    let wall = start.elapsed().as_secs_f64();
    let cpu = before.zip(Counters::read()).map(|(b, a)| a.since(&b));
    times.sort_by(f64::total_cmp);
    let images = times.len() * args.batch;
    println!(
        "{header}, {} streams x {threads} threads, {} warm-up + {} runs per stream",
        args.streams, args.warmup, args.runs
    );
    println!(
        "median {:.2} ms, min {:.2} ms, p90 {:.2} ms (per pass, on its stream)",
        percentile(&times, 0.5),
        times[0],
        percentile(&times, 0.9)
    );
    println!(
        "throughput {:.2} images/s ({images} images in {wall:.2} s over {} streams)",
        images as f64 / wall,
        args.streams
    );
    if let Some((cpu_ms, faults)) = cpu {
        // On a loaded machine the cores this process got is below the threads it runs.
        println!(
            "cpu {:.2} s over {wall:.2} s wall ({:.2} cores busy), {:.1} page faults per image",
            cpu_ms / 1e3,
            cpu_ms / 1e3 / wall,
            faults as f64 / images as f64
        );
    }
    Ok(())
}

/// One image's outcome in `detect`: the image, its detections and the milliseconds from
/// reading the file to the detections, or the error message.
pub type Outcome = Result<(RgbImage, Vec<Detection>, f64), String>;

/// The outcomes of `files` on `pool`, lazily and in order (at most the pool's queue depth of
/// decoded images held at a time).
pub fn outcomes<'p>(
    pool: &'p StreamPool,
    files: &'p [PathBuf],
) -> impl Iterator<Item = Outcome> + 'p {
    pool.run(
        files.to_vec(),
        |d: &Detector, ctx: &mut Context, path: PathBuf| {
            let start = Instant::now();
            let image = ghost_image::image_io::load_rgb(&path)?;
            let detections = d.detect_rgb_with_context(&image, ctx)?;
            Ok((image, detections, start.elapsed().as_secs_f64() * 1e3))
        },
    )
    .map(|r| r.map_err(|e| e.to_string()))
}
