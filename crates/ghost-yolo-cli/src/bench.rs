//! `ghost-yolo bench`: batch-1 forward latency after warm-up (median, min, p90) and throughput
//! in GFLOP/s (Ultralytics' fused GFLOPs for the input size divided by the median time).

use std::process::ExitCode;
use std::time::Instant;

use clap::Args;
use ndarray::Array4;
use yolo11_ghost::detector::{DetectorOptions, WeightsChoice};
use yolo11_ghost::info::ModelInfo;

use crate::common::{
    parse_imgsz, parse_positive, parse_threads, round_imgsz, CliResult, ModelArgs,
};

/// Arguments of `ghost-yolo bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    #[command(flatten)]
    pub model: ModelArgs,

    /// Input size: 640 or H,W (rounded up to a multiple of the stride).
    #[arg(long, default_value = "640", value_parser = parse_imgsz, allow_negative_numbers = true)]
    pub imgsz: (usize, usize),

    /// Kernel threads (default: all cores).
    #[arg(long, value_parser = parse_threads, allow_negative_numbers = true)]
    pub threads: Option<usize>,

    /// Timed runs.
    #[arg(long, default_value = "20", value_parser = parse_positive, allow_negative_numbers = true)]
    pub runs: usize,

    /// Untimed warm-up runs first.
    #[arg(long, default_value_t = 3)]
    pub warmup: usize,
}

pub fn run(args: BenchArgs) -> CliResult {
    let options = DetectorOptions {
        threads: args.threads,
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

    let input = pseudo_random_image(h, w);
    for _ in 0..args.warmup {
        detector.forward(input.view())?;
    }
    let mut times = Vec::with_capacity(args.runs);
    for _ in 0..args.runs {
        let start = Instant::now();
        let out = detector.forward(input.view())?;
        times.push(start.elapsed().as_secs_f64() * 1e3);
        std::hint::black_box(out);
    }
    times.sort_by(f64::total_cmp);
    let median = percentile(&times, 0.5);
    let p90 = percentile(&times, 0.9);
    let source = match &weights {
        WeightsChoice::File(p) => p.display().to_string(),
        WeightsChoice::Seeded(seed) => format!("seeded weights {seed:#x}"),
        #[cfg(feature = "default-model")]
        WeightsChoice::Default => yolo11_ghost::detector::DEFAULT_WEIGHTS_NAME.to_string(),
        other => format!("{other:?}"),
    };
    println!(
        "{} ({source}), input 1x3x{h}x{w}, {} threads, {} warm-up + {} runs",
        spec.name,
        detector.threads(),
        args.warmup,
        args.runs
    );
    println!(
        "median {median:.2} ms, min {:.2} ms, p90 {p90:.2} ms, {:.1} GFLOP/s ({gflops:.2} GFLOPs fused)",
        times[0],
        gflops / (median / 1e3)
    );
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

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[f64], q: f64) -> f64 {
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// A deterministic [1, 3, h, w] input with values in [0, 1) (splitmix64).
pub fn pseudo_random_image(h: usize, w: usize) -> Array4<f32> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    Array4::from_shape_simple_fn((1, 3, h, w), || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 40) as f32 / (1u64 << 24) as f32
    })
}
