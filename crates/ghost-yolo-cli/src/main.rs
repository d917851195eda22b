//! `ghost-yolo`: YOLO11 / YOLO11-GhostNet detection on the CPU.
//!
//! Subcommands: `detect` (images, directories, videos, streams -> tables, JSON, annotated
//! images and videos, label files), `track` (the same with ByteTrack IDs), `info` (layer
//! table and summary), `forward` (raw tensor in, `output0` out), `bench` (latency, and images/s
//! with `--batch` / `--streams`),
//! `profile` (per-layer and per-kernel time), `val` (mAP on a dataset), `quantize` (INT8).
//! Every failure is one line on stderr (`error: ...`) and a non-zero exit code: 1 for runtime
//! failures, 2 for invalid arguments (an unusable `GHOST_KERNELS_ISA` included).
#![forbid(unsafe_code)]

mod bench;
mod common;
mod cpu_stats;
mod detect;
mod forward;
mod info;
mod output;
mod predict;
mod profile;
mod quantize;
mod shared_args;
mod thread_stats;
mod throughput;
mod track;
mod val;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// YOLO11 and YOLO11-GhostNet object detection on the CPU (Ultralytics-compatible).
#[derive(Debug, Parser)]
#[command(name = "ghost-yolo", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Detect objects in images (files or directories).
    Detect(detect::DetectArgs),
    /// Track objects through videos, streams or an image sequence (ByteTrack; IDs in the table,
    /// JSON, label files and annotated output).
    Track(track::TrackArgs),
    /// Print a model's layer table and parameter / GFLOP summary.
    Info(info::InfoArgs),
    /// Run the raw network on a tensor: `images` (N,3,H,W) -> `output0` (N,4+nc,anchors).
    Forward(forward::ForwardArgs),
    /// Measure forward latency and throughput (images/s; --batch, --streams).
    Bench(bench::BenchArgs),
    /// Per-layer and per-kernel time, share, GFLOP/s and GB/s of a forward pass.
    Profile(profile::ProfileArgs),
    /// Precision, recall, mAP50 and mAP50-95 on a YOLO-format dataset (as `yolo val`).
    Val(val::ValArgs),
    /// Post-training INT8 quantization, calibrated on a dataset's images.
    Quantize(quantize::QuantizeArgs),
}

fn main() -> ExitCode {
    common::install_panic_hook();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return common::report_clap_error(e),
    };
    // A GHOST_KERNELS_ISA the kernels cannot honour is a configuration error, refused before
    // any work (the kernels alone would only warn and run the best back end).
    if let Err(e) = ghost_kernels::backend::from_env() {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    let result = match cli.command {
        Command::Detect(args) => detect::run(args),
        Command::Track(args) => track::run(args),
        Command::Info(args) => info::run(args),
        Command::Forward(args) => forward::run(args),
        Command::Bench(args) => bench::run(args),
        Command::Profile(args) => profile::run(args),
        Command::Val(args) => val::run(args),
        Command::Quantize(args) => quantize::run(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", common::one_line(&e.to_string()));
            ExitCode::FAILURE
        }
    }
}
