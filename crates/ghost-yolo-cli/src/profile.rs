//! `ghost-yolo profile`: where a forward pass spends its time. Every kernel call of the
//! convolutions (pointwise, depthwise, dense) is timed, and every model layer as a whole; the
//! difference inside a layer is its non-convolution work (pools, SE gates, attention, concats,
//! upsampling, DFL decode). Times are medians over `--runs` profiled forward passes at batch 1.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use yolo11_ghost::detector::DetectorOptions;
use yolo11_ghost::graph::LAYER_RECORD;
use yolo11_ghost::info::ModelInfo;

use crate::bench::pseudo_random_image;
use crate::common::{
    parse_imgsz, parse_positive, parse_threads, round_imgsz, CliResult, ModelArgs,
};

/// Arguments of `ghost-yolo profile`.
#[derive(Debug, Args)]
pub struct ProfileArgs {
    #[command(flatten)]
    pub model: ModelArgs,

    /// Input size: 640 or H,W (rounded up to a multiple of the stride).
    #[arg(long, default_value = "640", value_parser = parse_imgsz, allow_negative_numbers = true)]
    pub imgsz: (usize, usize),

    /// Kernel threads (default: all cores).
    #[arg(long, value_parser = parse_threads, allow_negative_numbers = true)]
    pub threads: Option<usize>,

    /// Profiled runs (medians are reported).
    #[arg(long, default_value = "10", value_parser = parse_positive, allow_negative_numbers = true)]
    pub runs: usize,

    /// Untimed warm-up runs first.
    #[arg(long, default_value_t = 2)]
    pub warmup: usize,

    /// How many of the slowest kernel calls to list.
    #[arg(long, default_value = "25", value_parser = parse_positive, allow_negative_numbers = true)]
    pub top: usize,
}

/// One kernel call or layer, with its median time over the runs.
struct Row {
    scope: usize,
    name: String,
    kind: ghost_layers::RecordKind,
    time: Duration,
    flops: u64,
    bytes: u64,
    /// The kernel back end the call ran on.
    isa: &'static str,
}

pub fn run(args: ProfileArgs) -> CliResult {
    let options = DetectorOptions {
        threads: args.threads,
        ..DetectorOptions::default()
    };
    let detector = args.model.detector(options)?;
    let (h, w) = round_imgsz(args.imgsz, detector.stride());
    let spec = detector
        .spec()
        .ok_or("the detector has no model specification to profile")?;
    let info = ModelInfo::new(spec, h, w)?;
    let input = pseudo_random_image(h, w);

    let mut ctx = detector.new_context();
    for _ in 0..args.warmup {
        detector.forward_with_context(input.view(), &mut ctx)?;
    }
    ctx.enable_profiling();
    let mut runs = Vec::with_capacity(args.runs);
    let mut totals = Vec::with_capacity(args.runs);
    for _ in 0..args.runs {
        let start = std::time::Instant::now();
        let out = detector.forward_with_context(input.view(), &mut ctx)?;
        totals.push(start.elapsed());
        std::hint::black_box(out);
        runs.push(ctx.take_profile());
    }
    let rows = median_rows(&runs)?;
    totals.sort();
    let total = totals[totals.len() / 2];

    println!(
        "{} at 1x3x{h}x{w}, {} threads (isa: {}): median forward {:.2} ms over {} runs ({:.2} GFLOPs fused, {:.1} GFLOP/s)",
        spec.name,
        detector.threads(),
        ghost_kernels::backend().label(),
        ms(total),
        args.runs,
        info.fused_gflops,
        info.fused_gflops / total.as_secs_f64()
    );
    print_layers(&rows, &info, total);
    print_kinds(&rows, total);
    print_top_calls(&rows, total, args.top);
    Ok(ExitCode::SUCCESS)
}

/// Per record position, the median time over runs (every run makes the same calls in the same
/// order; the check keeps a mismatch from being reported as numbers).
fn median_rows(runs: &[Vec<ghost_layers::ProfileRecord>]) -> Result<Vec<Row>, String> {
    let first = runs.first().ok_or("no profiled runs")?;
    if runs.iter().any(|r| r.len() != first.len()) {
        return Err("profiled runs made different kernel calls; cannot take medians".into());
    }
    Ok(first
        .iter()
        .enumerate()
        .map(|(k, rec)| {
            let mut times: Vec<Duration> = runs.iter().map(|r| r[k].time).collect();
            times.sort();
            Row {
                scope: rec.scope,
                name: rec.name.clone(),
                kind: rec.kind,
                time: times[times.len() / 2],
                flops: rec.flops,
                bytes: rec.bytes,
                isa: rec.isa,
            }
        })
        .collect())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn rate(amount: u64, d: Duration) -> f64 {
    if d.is_zero() {
        0.0
    } else {
        amount as f64 / d.as_secs_f64() / 1e9
    }
}

/// Model layers in order: total time, share, GFLOP/s and the part outside convolutions.
fn print_layers(rows: &[Row], info: &ModelInfo, total: Duration) {
    println!();
    println!(
        "{:>5}  {:<14} {:>9} {:>7} {:>9} {:>9} {:>9}",
        "layer", "module", "ms", "share", "GFLOPs", "GFLOP/s", "other ms"
    );
    for layer in rows.iter().filter(|r| r.kind == LAYER_RECORD) {
        let conv: Duration = rows
            .iter()
            .filter(|r| r.scope == layer.scope && r.kind != LAYER_RECORD)
            .map(|r| r.time)
            .sum();
        let (module, gflops) = info
            .layers
            .get(layer.scope)
            .map_or(("?", 0.0), |l| (l.module.as_str(), l.fused_gflops));
        println!(
            "{:>5}  {:<14} {:>9.3} {:>6.1}% {:>9.3} {:>9.1} {:>9.3}",
            layer.scope,
            short_module(module),
            ms(layer.time),
            100.0 * layer.time.as_secs_f64() / total.as_secs_f64(),
            gflops,
            gflops / layer.time.as_secs_f64().max(1e-12),
            ms(layer.time.saturating_sub(conv))
        );
    }
}

/// `ultralytics.nn.modules.block.C3k2` -> `C3k2`.
fn short_module(module: &str) -> &str {
    module.rsplit('.').next().unwrap_or(module)
}

/// Time per kernel family, plus everything outside the convolutions.
fn print_kinds(rows: &[Row], total: Duration) {
    let mut kinds: BTreeMap<&str, (Duration, u64, u64, usize)> = BTreeMap::new();
    for r in rows.iter().filter(|r| r.kind != LAYER_RECORD) {
        let e = kinds.entry(r.kind.name()).or_default();
        e.0 += r.time;
        e.1 += r.flops;
        e.2 += r.bytes;
        e.3 += 1;
    }
    let conv: Duration = kinds.values().map(|e| e.0).sum();
    println!();
    println!(
        "{:<12} {:>6} {:>9} {:>7} {:>9} {:>8}",
        "kernel", "calls", "ms", "share", "GFLOP/s", "GB/s"
    );
    for (kind, (time, flops, bytes, calls)) in &kinds {
        println!(
            "{:<12} {:>6} {:>9.3} {:>6.1}% {:>9.1} {:>8.1}",
            kind,
            calls,
            ms(*time),
            100.0 * time.as_secs_f64() / total.as_secs_f64(),
            rate(*flops, *time),
            rate(*bytes, *time)
        );
    }
    let other = total.saturating_sub(conv);
    println!(
        "{:<12} {:>6} {:>9.3} {:>6.1}%",
        "other",
        "",
        ms(other),
        100.0 * other.as_secs_f64() / total.as_secs_f64()
    );
}

/// The slowest individual kernel calls.
fn print_top_calls(rows: &[Row], total: Duration, top: usize) {
    let mut calls: Vec<&Row> = rows.iter().filter(|r| r.kind != LAYER_RECORD).collect();
    calls.sort_by_key(|r| std::cmp::Reverse(r.time));
    println!();
    println!(
        "{:<44} {:<10} {:<9} {:>8} {:>7} {:>9} {:>8}",
        format!("slowest {} kernel calls", top.min(calls.len())),
        "kernel",
        "isa",
        "ms",
        "share",
        "GFLOP/s",
        "GB/s"
    );
    for r in calls.iter().take(top) {
        let name = if r.name.starts_with("model.") {
            r.name.clone()
        } else {
            format!("model.{}.{}", r.scope, r.name)
        };
        println!(
            "{:<44} {:<10} {:<9} {:>8.3} {:>6.1}% {:>9.1} {:>8.1}",
            name,
            r.kind,
            r.isa,
            ms(r.time),
            100.0 * r.time.as_secs_f64() / total.as_secs_f64(),
            rate(r.flops, r.time),
            rate(r.bytes, r.time)
        );
    }
}
