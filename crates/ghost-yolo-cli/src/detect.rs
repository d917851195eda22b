//! `ghost-yolo detect`: images or directories -> a table per image, optional Ultralytics-shaped
//! JSON and annotated copies. Unreadable files are reported and skipped; the exit code is 1 when
//! any input failed.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::{ArgAction, Args};
use ghost_image::draw::annotate;
use ghost_image::image_io::load_rgb;
use image::{ImageFormat, RgbImage};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;
use yolo11_ghost::detector::{Detector, DetectorOptions};
use yolo11_ghost::postprocess::Detection;

use crate::common::{
    one_line, parse_imgsz, parse_threads, parse_unit_interval, warn, CliResult, ModelArgs,
};

/// File extensions picked up when a directory is given (Ultralytics' image formats that the
/// decoder supports).
const IMAGE_EXTENSIONS: [&str; 9] = [
    "bmp", "gif", "jpeg", "jpg", "png", "tif", "tiff", "webp", "pbm",
];

/// Arguments of `ghost-yolo detect`.
#[derive(Debug, Args)]
pub struct DetectArgs {
    /// Image files and/or directories (directories: their image files, not recursive).
    #[arg(required = true, value_name = "IMAGES")]
    pub inputs: Vec<PathBuf>,

    #[command(flatten)]
    pub model: ModelArgs,

    /// Confidence threshold: keep boxes whose best class score is above it.
    #[arg(long, default_value = "0.25", value_parser = parse_unit_interval, allow_negative_numbers = true)]
    pub conf: f64,

    /// NMS IoU threshold.
    #[arg(long, default_value = "0.7", value_parser = parse_unit_interval, allow_negative_numbers = true)]
    pub iou: f64,

    /// Maximum detections per image.
    #[arg(long, default_value_t = 300)]
    pub max_det: usize,

    /// Class-agnostic NMS.
    #[arg(long)]
    pub agnostic: bool,

    /// Keep only these class ids (comma-separated or repeated).
    #[arg(long, value_delimiter = ',', num_args = 1..)]
    pub classes: Option<Vec<usize>>,

    /// Inference size: 640 (square) or H,W; rounded up to a multiple of the stride. Default: the
    /// size the weights were trained at (their `imgsz` metadata, as Ultralytics does for a
    /// checkpoint), else 640.
    #[arg(long, value_parser = parse_imgsz, allow_negative_numbers = true)]
    pub imgsz: Option<(usize, usize)>,

    /// Minimal padding to a multiple of the stride (Ultralytics predict default); false pads to imgsz.
    #[arg(long, default_value_t = true, action = ArgAction::Set, value_name = "BOOL")]
    pub rect: bool,

    /// Kernel threads (default: all cores).
    #[arg(long, value_parser = parse_threads, allow_negative_numbers = true)]
    pub threads: Option<usize>,

    /// Write all detections as JSON to FILE.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,

    /// Save annotated images into DIR (created if missing).
    #[arg(long, value_name = "DIR")]
    pub save: Option<PathBuf>,

    /// Print only the summary line per image, not the table.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

pub fn run(args: DetectArgs) -> CliResult {
    let options = DetectorOptions {
        conf: args.conf,
        iou: args.iou,
        max_det: args.max_det,
        agnostic: args.agnostic,
        classes: args.classes.clone(),
        imgsz: args.imgsz.unwrap_or(DetectorOptions::default().imgsz),
        rect: args.rect,
        threads: args.threads,
    };
    let (files, unlisted) = collect_inputs(&args.inputs);
    let mut failures = unlisted;
    if let Some(dir) = &args.save {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create --save directory {}: {e}", dir.display()))?;
    }
    let mut detector = args.model.detector(options)?;
    if let (None, Some(trained)) = (args.imgsz, detector.trained_imgsz()) {
        detector = detector.with_imgsz((trained, trained))?;
    }

    let progress = progress_bar(&args.inputs, files.len());
    let mut records = Vec::new();
    let mut saved_names = HashSet::new();
    for (i, path) in files.iter().enumerate() {
        progress.set_message(path.display().to_string());
        match detect_one(&detector, path) {
            Ok((image, detections, ms)) => {
                let report = format_report(
                    i + 1,
                    files.len(),
                    path,
                    &image,
                    &detections,
                    ms,
                    args.quiet,
                );
                progress.suspend(|| print!("{report}"));
                if let Some(dir) = &args.save {
                    let target = unique_target(dir, path, &mut saved_names);
                    if let Err(e) = save_annotated(&image, &detections, &target) {
                        progress.suspend(|| eprintln!("error: {e}"));
                        failures += 1;
                    }
                }
                records.push(json!({
                    "path": path.display().to_string(),
                    "detections": detections.iter().map(Detection::to_json).collect::<Vec<_>>(),
                }));
            }
            Err(e) => {
                progress.suspend(|| eprintln!("error: {}", one_line(&e.to_string())));
                failures += 1;
            }
        }
        progress.inc(1);
    }
    progress.finish_and_clear();

    if let Some(json_path) = &args.json {
        let text = serde_json::to_string_pretty(&records)?;
        std::fs::write(json_path, text + "\n")
            .map_err(|e| format!("cannot write --json file {}: {e}", json_path.display()))?;
    }
    if failures > 0 {
        eprintln!(
            "error: {failures} of {} inputs failed",
            files.len() + unlisted
        );
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn detect_one(
    detector: &Detector,
    path: &Path,
) -> Result<(RgbImage, Vec<Detection>, f64), Box<dyn std::error::Error>> {
    let start = Instant::now();
    let image = load_rgb(path)?;
    let detections = detector.detect_rgb(&image)?;
    Ok((image, detections, start.elapsed().as_secs_f64() * 1e3))
}

/// Expand directories into their image files (sorted); missing paths are reported and counted.
pub(crate) fn collect_inputs(inputs: &[PathBuf]) -> (Vec<PathBuf>, usize) {
    let mut files = Vec::new();
    let mut failures = 0;
    for input in inputs {
        if input.is_dir() {
            match std::fs::read_dir(input) {
                Ok(entries) => {
                    let mut found: Vec<PathBuf> = entries
                        .filter_map(|e| e.ok().map(|e| e.path()))
                        .filter(|p| p.is_file() && has_image_extension(p))
                        .collect();
                    found.sort();
                    if found.is_empty() {
                        warn(&format!("no image files in directory {}", input.display()));
                    }
                    files.extend(found);
                }
                Err(e) => {
                    eprintln!("error: cannot list directory {}: {e}", input.display());
                    failures += 1;
                }
            }
        } else if input.exists() {
            files.push(input.clone());
        } else {
            eprintln!("error: {}: no such file or directory", input.display());
            failures += 1;
        }
    }
    (files, failures)
}

fn has_image_extension(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// A progress bar when a directory or many files are processed (hidden when stderr is not a
/// terminal).
pub(crate) fn progress_bar(inputs: &[PathBuf], total: usize) -> ProgressBar {
    if !inputs.iter().any(|p| p.is_dir()) && total < 2 {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total as u64);
    if let Ok(style) = ProgressStyle::with_template(
        "{bar:30} {pos}/{len} [{elapsed_precise}<{eta_precise}] {wide_msg}",
    ) {
        bar.set_style(style);
    }
    bar
}

/// `image 1/3 path: 640x480, 2 person, 1 dog, 12.3 ms` and the detection table.
fn format_report(
    index: usize,
    total: usize,
    path: &Path,
    image: &RgbImage,
    detections: &[Detection],
    ms: f64,
    quiet: bool,
) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "image {index}/{total} {}: {}x{}, {}, {ms:.1} ms",
        path.display(),
        image.width(),
        image.height(),
        count_summary(detections)
    );
    if !quiet && !detections.is_empty() {
        let _ = writeln!(
            s,
            "  {:>3}  {:<20} {:>6} {:>9} {:>9} {:>9} {:>9}",
            "#", "class", "conf", "x1", "y1", "x2", "y2"
        );
        for (i, d) in detections.iter().enumerate() {
            let _ = writeln!(
                s,
                "  {:>3}  {:<20} {:>6.3} {:>9.1} {:>9.1} {:>9.1} {:>9.1}",
                i,
                format!("{} ({})", d.class_name, d.class_id),
                d.confidence,
                d.x1,
                d.y1,
                d.x2,
                d.y2
            );
        }
    }
    s
}

/// `"2 person, 1 dog"` in first-seen order, or `"no detections"`.
pub(crate) fn count_summary(detections: &[Detection]) -> String {
    if detections.is_empty() {
        return "no detections".into();
    }
    let mut counts: Vec<(usize, &str, usize)> = Vec::new();
    for d in detections {
        match counts.iter_mut().find(|c| c.0 == d.class_id) {
            Some(c) => c.2 += 1,
            None => counts.push((d.class_id, &d.class_name, 1)),
        }
    }
    counts
        .iter()
        .map(|(_, name, n)| format!("{n} {name}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `DIR/<file name>`, made unique when two inputs share a file name.
pub(crate) fn unique_target(dir: &Path, path: &Path, used: &mut HashSet<PathBuf>) -> PathBuf {
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("image");
    let ext = output_extension(path);
    let mut candidate = dir.join(format!("{stem}.{ext}"));
    let mut k = 1;
    while used.contains(&candidate) {
        candidate = dir.join(format!("{stem}_{k}.{ext}"));
        k += 1;
    }
    used.insert(candidate.clone());
    candidate
}

/// Keep the input's format when it can be written losslessly or as JPEG; otherwise PNG.
fn output_extension(path: &Path) -> String {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    match ext.as_str() {
        "jpg" | "jpeg" | "png" | "bmp" | "tif" | "tiff" => ext,
        _ => "png".into(),
    }
}

pub(crate) fn save_annotated(
    image: &RgbImage,
    detections: &[Detection],
    target: &Path,
) -> Result<(), String> {
    let annotated = annotate(image, detections);
    let fail = |e: &dyn std::fmt::Display| format!("cannot save {}: {e}", target.display());
    let format = ImageFormat::from_path(target).map_err(|e| fail(&e))?;
    if format == ImageFormat::Jpeg {
        let file = std::fs::File::create(target).map_err(|e| fail(&e))?;
        let mut writer = std::io::BufWriter::new(file);
        let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut writer, 95);
        annotated.write_with_encoder(encoder).map_err(|e| fail(&e))
    } else {
        annotated
            .save_with_format(target, format)
            .map_err(|e| fail(&e))
    }
}
