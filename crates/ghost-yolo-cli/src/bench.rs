//! `ghost-yolo bench`: forward latency after warm-up (median, min, p90), throughput in GFLOP/s
//! (Ultralytics' fused GFLOPs for the input size divided by the median time) and in images/s.
//! `--batch B` times B-image forward passes; `--streams N` runs N independent streams sharing
//! the weights (throughput mode, src/throughput.rs).

use std::process::ExitCode;
use std::time::Instant;

use clap::Args;
use ndarray::{Array3, Array4};
use yolo11_ghost::detector::{DetectorOptions, WeightsChoice};
use yolo11_ghost::info::ModelInfo;

use crate::common::{
    parse_imgsz, parse_positive, parse_threads, round_imgsz, CliResult, ModelArgs,
};
use crate::cpu_stats::Counters;
use crate::thread_stats::{self, Snapshot};

/// Arguments of `ghost-yolo bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    #[command(flatten)]
    pub model: ModelArgs,

    /// Input size: 640 or H,W (rounded up to a multiple of the stride).
    #[arg(long, default_value = "640", value_parser = parse_imgsz, allow_negative_numbers = true)]
    pub imgsz: (usize, usize),

    /// Kernel threads per stream (default: all cores with one stream, 1 per stream with
    /// --streams > 1, as OpenVINO's THROUGHPUT hint does).
    #[arg(long, value_parser = parse_threads, allow_negative_numbers = true)]
    pub threads: Option<usize>,

    /// Independent inference streams sharing one copy of the weights, each with its own
    /// threads, fed from one queue (throughput mode): reports images/s over all streams.
    #[arg(long, default_value = "1", value_parser = parse_positive, allow_negative_numbers = true)]
    pub streams: usize,

    /// Images per forward pass (one GEMM over the pixels of all of them).
    #[arg(long, default_value = "1", value_parser = parse_positive, allow_negative_numbers = true)]
    pub batch: usize,

    /// Timed runs.
    #[arg(long, default_value = "20", value_parser = parse_positive, allow_negative_numbers = true)]
    pub runs: usize,

    /// Untimed warm-up runs first.
    #[arg(long, default_value_t = 3)]
    pub warmup: usize,

    /// Also print each thread's CPU time, run-queue wait, context switches and migrations per
    /// timed pass, and the process's memory on transparent huge pages (Linux; where a latency
    /// tail comes from).
    #[arg(long)]
    pub thread_stats: bool,
}

pub fn run(args: BenchArgs) -> CliResult {
    let options = DetectorOptions {
        threads: crate::throughput::threads_per_stream(args.threads, args.streams),
        ..DetectorOptions::default()
    };
    let weights = args.model.weights()?;
    // Load = read (or generate) the weights, fold BatchNorm, pack or transform every kernel
    // and fix the buffer plan: everything before the first forward pass.
    let load_start = Instant::now();
    let detector = args.model.detector(options)?;
    let load_ms = load_start.elapsed().as_secs_f64() * 1e3;
    let (h, w) = round_imgsz(args.imgsz, detector.stride());
    let spec = detector
        .spec()
        .ok_or("the detector has no model specification to count GFLOPs from")?;
    let gflops = ModelInfo::new(spec, h, w)?.fused_gflops;

    let input = pseudo_random_batch(args.batch, h, w);
    if args.streams > 1 {
        let header = format!(
            "{} ({}), input {}x3x{h}x{w}",
            spec.name,
            weights_source(&weights),
            args.batch
        );
        let detector = std::sync::Arc::new(detector);
        crate::throughput::bench_streams(&detector, input, &args, &header)?;
        println!("load {load_ms:.1} ms (weights, BN folding, kernel packing, buffer plan)");
        println!("isa: {}", ghost_kernels::backend().label());
        return Ok(ExitCode::SUCCESS);
    }
    // One context and one output kept across passes, as a video loop would: a steady-state
    // pass then allocates nothing (tests/zero_alloc.rs).
    let mut ctx = detector.new_context();
    let mut out = Array3::zeros((0, 0, 0));
    for _ in 0..args.warmup {
        detector.forward_into(input.view(), &mut ctx, &mut out)?;
    }
    let mut times = Vec::with_capacity(args.runs);
    let mut cpu = Vec::with_capacity(args.runs);
    let threads_before = args.thread_stats.then(Snapshot::read).flatten();
    for _ in 0..args.runs {
        let before = Counters::read();
        let start = Instant::now();
        detector.forward_into(input.view(), &mut ctx, &mut out)?;
        times.push(start.elapsed().as_secs_f64() * 1e3);
        if let (Some(b), Some(a)) = (before, Counters::read()) {
            cpu.push(a.since(&b));
        }
        std::hint::black_box(&out);
    }
    let threads_after = args.thread_stats.then(Snapshot::read).flatten();
    times.sort_by(f64::total_cmp);
    let median = percentile(&times, 0.5);
    let p90 = percentile(&times, 0.9);
    let source = weights_source(&weights);
    println!(
        "{} ({source}), input {}x3x{h}x{w}, {} threads, {} warm-up + {} runs",
        spec.name,
        args.batch,
        detector.threads(),
        args.warmup,
        args.runs
    );
    // GFLOPs are per image: a batch-B pass does B times the work.
    let batch_gflops = gflops * args.batch as f64;
    println!(
        "median {median:.2} ms, min {:.2} ms, p90 {p90:.2} ms, {:.1} GFLOP/s ({gflops:.2} GFLOPs fused)",
        times[0],
        batch_gflops / (median / 1e3)
    );
    println!(
        "throughput {:.2} images/s (batch {} / median)",
        args.batch as f64 / (median / 1e3),
        args.batch
    );
    if !cpu.is_empty() {
        print_cpu_line(&cpu);
    }
    if let (Some(before), Some(after)) = (&threads_before, &threads_after) {
        for line in thread_stats::report(&after.since(before), args.runs) {
            println!("{line}");
        }
        if let Some(kib) = thread_stats::anon_huge_pages_kib() {
            println!(
                "transparent huge pages {:.1} MiB (anonymous memory)",
                kib as f64 / 1024.0
            );
        }
    }
    println!("load {load_ms:.1} ms (weights, BN folding, kernel packing, buffer plan)");
    println!("{}", precision_line(detector.quantization()));
    println!("isa: {}", ghost_kernels::backend().label());
    Ok(ExitCode::SUCCESS)
}

/// `precision: FP32`, or `precision: INT8 (scheme)` for a quantized weights file.
pub fn precision_line(quantization: Option<&str>) -> String {
    match quantization {
        Some(scheme) => format!("precision: INT8 ({scheme})"),
        None => "precision: FP32".to_string(),
    }
}

/// Per-pass CPU time (all threads) and minor page faults: on a loaded machine the wall-time
/// spread is mostly other processes, the CPU-time spread is ours.
fn print_cpu_line(cpu: &[(f64, u64)]) {
    let mut ms: Vec<f64> = cpu.iter().map(|c| c.0).collect();
    ms.sort_by(f64::total_cmp);
    let mut faults: Vec<u64> = cpu.iter().map(|c| c.1).collect();
    faults.sort_unstable();
    println!(
        "cpu time median {:.2} ms, min {:.2} ms, p90 {:.2} ms; page faults median {}, max {} (per pass, all threads)",
        percentile(&ms, 0.5),
        ms[0],
        percentile(&ms, 0.9),
        faults[faults.len() / 2],
        faults[faults.len() - 1]
    );
}

/// Where the weights came from, for the header line.
fn weights_source(weights: &WeightsChoice) -> String {
    match weights {
        WeightsChoice::File(p) => p.display().to_string(),
        WeightsChoice::Seeded(seed) => format!("seeded weights {seed:#x}"),
        #[cfg(feature = "default-model")]
        WeightsChoice::Default => yolo11_ghost::detector::DEFAULT_WEIGHTS_NAME.to_string(),
        other => format!("{other:?}"),
    }
}

/// Nearest-rank percentile of sorted values.
pub(crate) fn percentile(sorted: &[f64], q: f64) -> f64 {
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// A deterministic [1, 3, h, w] input with values in [0, 1) (splitmix64).
pub fn pseudo_random_image(h: usize, w: usize) -> Array4<f32> {
    pseudo_random_batch(1, h, w)
}

/// A deterministic [n, 3, h, w] input with values in [0, 1) (splitmix64).
pub fn pseudo_random_batch(n: usize, h: usize, w: usize) -> Array4<f32> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    Array4::from_shape_simple_fn((n, 3, h, w), || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 40) as f32 / (1u64 << 24) as f32
    })
}
