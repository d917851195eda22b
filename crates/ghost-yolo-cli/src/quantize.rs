//! `ghost-yolo quantize`: post-training INT8 quantization of a weights file, calibrated on a
//! dataset's val images (see `yolo11_ghost::quantize`).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use yolo11_ghost::quantize::{
    quantize, Fp32Rule, QuantizeOptions, DEFAULT_CALIBRATION_IMAGES, DEFAULT_FP32_RULES,
};
use yolo11_ghost::val::Dataset;

use crate::common::{parse_positive, parse_threads, warn, CliResult, ModelArgs};

/// Arguments of `ghost-yolo quantize`.
#[derive(Debug, Args)]
pub struct QuantizeArgs {
    #[command(flatten)]
    pub model: ModelArgs,

    /// Dataset YAML whose images calibrate the activation ranges.
    #[arg(long, value_name = "DATA.yaml")]
    pub data: PathBuf,

    /// Split to calibrate on.
    #[arg(long, default_value = "val")]
    pub split: String,

    /// Calibration images (the first of the split; all of them when it has fewer). Default: 300,
    /// the count Ultralytics recommends for its INT8 exports.
    #[arg(long, default_value_t = DEFAULT_CALIBRATION_IMAGES, value_parser = parse_positive)]
    pub images: usize,

    /// Calibration image size; default: the weights' training size, else 640.
    #[arg(long, value_parser = parse_positive)]
    pub imgsz: Option<usize>,

    /// Convs kept in FP32, comma-separated: first, box (Detect cv2), box-head (Detect cv2.*.2,
    /// the DFL logits), cls-out (Detect cv3.*.2), cls (Detect cv3), psa (C2PSA), depthwise
    /// (every depthwise conv), winograd (3x3 stride-1 convs FP32 runs with Winograd),
    /// narrow or narrow:N (1x1 convs with fewer than N input or output channels, default N 32;
    /// kxk convs with fewer than min(N, 16)), a tensor prefix (model.9), or none. Default:
    /// first,depthwise,narrow (docs/int8.md; on CPUs without AVX-512 VNNI the Winograd-shaped
    /// INT8 convs run FP32 at load time).
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    pub fp32: Option<Vec<String>>,

    /// Kernel threads (default: all cores).
    #[arg(long, value_parser = parse_threads)]
    pub threads: Option<usize>,

    /// Print every conv's decision and input range.
    #[arg(long)]
    pub verbose: bool,

    /// The INT8 weights file to write.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: PathBuf,
}

pub fn run(args: QuantizeArgs) -> CliResult {
    let data = Dataset::open(&args.data, &args.split)?;
    for w in &data.warnings {
        warn(w);
    }
    let fp32 = match &args.fp32 {
        None => DEFAULT_FP32_RULES.to_vec(),
        Some(list) if list.iter().all(|s| s == "none") => Vec::new(),
        Some(list) => list
            .iter()
            .map(|s| s.parse::<Fp32Rule>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("invalid --fp32: {e}"))?,
    };
    let weights = args.model.weights()?;
    if args.model.weights.is_none() && args.model.model.is_some() {
        warn("no --weights given: quantizing seeded random weights (for benchmarks only)");
    }
    let options = QuantizeOptions {
        images: args.images,
        imgsz: args.imgsz,
        fp32,
        threads: args.threads,
    };
    let report = quantize(
        args.model.model.as_deref(),
        &weights,
        &data,
        &args.output,
        &options,
    )?;
    if report.calibration_images < args.images {
        warn(&format!(
            "split `{}` holds {} image(s), fewer than the {} asked for: calibrated on all of them",
            args.split, report.available_images, args.images
        ));
    }
    if args.verbose {
        for l in &report.layers {
            let q = l
                .input
                .map(|q| format!("scale {:.6} zp {}", q.scale, q.zero_point))
                .unwrap_or_default();
            println!(
                "{:<48} {:<5} [{:>9.4}, {:>9.4}] {q}",
                l.conv,
                if l.int8 { "int8" } else { "fp32" },
                l.min,
                l.max
            );
        }
    }
    println!(
        "{}: {} of {} convs INT8, calibrated on {} image(s) at {}; wrote {}",
        report.model,
        report.int8_layers(),
        report.layers.len(),
        report.calibration_images,
        report.imgsz,
        args.output.display()
    );
    // The file is the same on every CPU; which kernel an INT8 conv runs on is decided when it
    // is loaded (ghost_layers::quant::runs_as_int8): say so when this CPU differs.
    let isa = ghost_kernels::active_isa();
    let as_fp32 = report
        .layers
        .iter()
        .filter(|l| l.int8 && !ghost_layers::quant::runs_as_int8(&l.spec, isa))
        .count();
    if as_fp32 > 0 {
        println!(
            "note: on this CPU ({}) {as_fp32} of the INT8 convs (3x3 convs FP32 runs with \
             Winograd) run FP32 on their dequantized weights, faster than INT8 without AVX-512 \
             VNNI (docs/int8.md)",
            isa.label()
        );
    }
    Ok(ExitCode::SUCCESS)
}
