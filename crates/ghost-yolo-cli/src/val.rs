//! `ghost-yolo val`: precision, recall, mAP50 and mAP50-95 on a YOLO-format dataset, computed as
//! Ultralytics' `yolo val` does, printed as its table (and optionally written as JSON).

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use ghost_limits::text::display_path;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;
use yolo11_ghost::detector::DetectorOptions;
use yolo11_ghost::val::dataset::label_path;
use yolo11_ghost::val::{validate, Dataset, ValOptions, ValReport};

use crate::detect::{input_set, json_output, json_path_value};
use crate::output::{write_atomic, Inputs};

use crate::common::{
    parse_positive, parse_threads, parse_unit_interval, round_imgsz, warn, CliResult, ModelArgs,
};

/// Arguments of `ghost-yolo val`.
#[derive(Debug, Args)]
pub struct ValArgs {
    /// Dataset YAML (Ultralytics format: path, val, names).
    #[arg(long, value_name = "DATA.yaml")]
    pub data: PathBuf,

    #[command(flatten)]
    pub model: ModelArgs,

    /// Split to evaluate.
    #[arg(long, default_value = "val")]
    pub split: String,

    /// Inference size (long side); default: the size the weights were trained at, else 640.
    #[arg(long, value_parser = parse_positive)]
    pub imgsz: Option<usize>,

    /// Images per batch (decides the letterbox shapes, as in Ultralytics).
    #[arg(long, default_value = "16", value_parser = parse_positive)]
    pub batch: usize,

    /// NMS confidence threshold.
    #[arg(long, default_value = "0.001", value_parser = parse_unit_interval, allow_negative_numbers = true)]
    pub conf: f64,

    /// NMS IoU threshold.
    #[arg(long, default_value = "0.7", value_parser = parse_unit_interval, allow_negative_numbers = true)]
    pub iou: f64,

    /// Maximum detections per image.
    #[arg(long, default_value_t = 300)]
    pub max_det: usize,

    /// Kernel threads (default: all cores).
    #[arg(long, value_parser = parse_threads)]
    pub threads: Option<usize>,

    /// Also write the metrics as JSON to FILE (FILE2, FILE3, ... when it exists, as
    /// Ultralytics' increment_path; never over the dataset YAML, an image, a label file or the
    /// weights).
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,

    /// Write over an existing --json file instead of the next free name (inputs are never
    /// overwritten either way).
    #[arg(long)]
    pub exist_ok: bool,
}

pub fn run(args: ValArgs) -> CliResult {
    let data = Dataset::open(&args.data, &args.split)?;
    for w in &data.warnings {
        warn(w);
    }
    // Chosen (and checked against the inputs) before the work, so a bad --json costs nothing.
    let inputs = val_inputs(&args, &data);
    let json_path = match &args.json {
        Some(path) => Some(json_output(path, args.exist_ok, &inputs)?),
        None => None,
    };
    let detector = args.model.detector(DetectorOptions {
        threads: args.threads,
        ..DetectorOptions::default()
    })?;
    let imgsz = args.imgsz.or(detector.trained_imgsz()).unwrap_or(640);
    let (imgsz, _) = round_imgsz((imgsz, imgsz), detector.stride());
    let options = ValOptions {
        imgsz,
        batch: args.batch,
        conf: args.conf,
        iou: args.iou,
        max_det: args.max_det,
    };
    let bar = ProgressBar::new(data.samples.len() as u64);
    if let Ok(style) = ProgressStyle::with_template(
        "{bar:30} {pos}/{len} images [{elapsed_precise}<{eta_precise}]",
    ) {
        bar.set_style(style);
    }
    let report = validate(&detector, &data, &options, |done, _| {
        bar.set_position(done as u64)
    })?;
    bar.finish_and_clear();
    print_table(&report);
    println!(
        "Speed: {:.1}ms preprocess, {:.1}ms inference, {:.1}ms postprocess per image at {imgsz} \
         (batch {}, {} threads)",
        report.speed_ms[0],
        report.speed_ms[1],
        report.speed_ms[2],
        options.batch,
        detector.threads()
    );
    if let Some(path) = &json_path {
        let rest = json!({
            "split": args.split,
            "imgsz": imgsz,
            "batch": options.batch,
            "conf": options.conf,
            "iou": options.iou,
            "max_det": options.max_det,
            "images": report.images,
            "instances": report.instances,
            "precision": report.precision,
            "recall": report.recall,
            "map50": report.map50,
            "map50_95": report.map50_95,
            "classes": report.classes.iter().map(|c| json!({
                "class": c.class, "name": c.name, "images": c.images, "instances": c.instances,
                "precision": c.precision, "recall": c.recall, "map50": c.map50, "map50_95": c.map50_95,
            })).collect::<Vec<_>>(),
            "speed_ms": {"preprocess": report.speed_ms[0], "inference": report.speed_ms[1], "postprocess": report.speed_ms[2]},
        });
        let doc = ValJson {
            data: json_path_value(&args.data),
            rest,
        };
        let text = serde_json::to_string_pretty(&doc)?;
        write_atomic(path, &inputs, |w| {
            w.write_all(text.as_bytes())
                .and_then(|()| w.write_all(b"\n"))
                .map_err(|e| format!("cannot write --json file {}: {e}", display_path(path)))
        })?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `--json`: the dataset path exactly (non-UTF-8 bytes as `\udcXX`, as detect's `--json`
/// paths), then the metrics.
#[derive(serde::Serialize)]
struct ValJson {
    data: Box<serde_json::value::RawValue>,
    #[serde(flatten)]
    rest: serde_json::Value,
}

/// Every file `val` reads: the dataset YAML, its images and label files, and the model files.
fn val_inputs(args: &ValArgs, data: &Dataset) -> Inputs {
    let images: Vec<PathBuf> = data.samples.iter().map(|s| s.image.clone()).collect();
    let mut inputs = input_set(&images, &args.model);
    inputs.add(&args.data);
    for s in &data.samples {
        inputs.add(&label_path(&s.image));
    }
    inputs
}

/// Ultralytics' validation table: `all` then one row per class with targets.
fn print_table(r: &ValReport) {
    println!(
        "{:>22}{:>11}{:>11}{:>11}{:>11}{:>11}{:>11}",
        "Class", "Images", "Instances", "Box(P", "R", "mAP50", "mAP50-95)"
    );
    let row = |name: &str, images: usize, instances: usize, p: f64, rc: f64, m50: f64, m: f64| {
        println!("{name:>22}{images:>11}{instances:>11}{p:>11.3}{rc:>11.3}{m50:>11.3}{m:>11.3}");
    };
    row(
        "all",
        r.images,
        r.instances,
        r.precision,
        r.recall,
        r.map50,
        r.map50_95,
    );
    for c in &r.classes {
        row(
            &c.name,
            c.images,
            c.instances,
            c.precision,
            c.recall,
            c.map50,
            c.map50_95,
        );
    }
}
