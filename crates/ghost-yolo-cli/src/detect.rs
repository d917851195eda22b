//! `ghost-yolo detect`: images or directories -> a table per image, optional Ultralytics-shaped
//! JSON and annotated copies. Unreadable files are reported and skipped; the exit code is 1 when
//! any input failed.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::Args;
use ghost_image::draw::annotate;
use ghost_image::image_io::load_rgb;
use image::{ImageFormat, RgbImage};
use indicatif::{ProgressBar, ProgressStyle};
use yolo11_ghost::detector::Detector;
use yolo11_ghost::postprocess::Detection;

use ghost_limits::text::{display_path, escape_terminal, json_path_literal};
use serde_json::value::RawValue;

use crate::output::{increment_path, write_atomic, Inputs};

use crate::common::{one_line, parse_unit_interval, warn, CliResult, ModelArgs};

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

    /// Run the forward passes on N independent inference streams sharing one copy of the
    /// weights (throughput mode; images, videos, streams, globs and lists), `--threads` kernel
    /// threads each (default 1 per stream when N > 1, as OpenVINO's THROUGHPUT hint does).
    /// Output and order are those of one stream.
    #[arg(long, default_value = "1", value_parser = crate::common::parse_positive, allow_negative_numbers = true)]
    pub streams: usize,

    /// Everything else `detect` shares with `track` (src/shared_args.rs).
    #[command(flatten)]
    pub shared: crate::shared_args::SharedArgs,
}

pub fn run(args: DetectArgs) -> CliResult {
    let shared = &args.shared;
    if crate::predict::wanted(&args.inputs, &shared.predict) {
        return crate::predict::run(
            "predict",
            &args.inputs,
            &args.model,
            args.conf,
            shared,
            None,
            args.streams,
        );
    }
    let mut options = shared.detector_options(args.conf);
    options.threads = crate::throughput::threads_per_stream(shared.threads, args.streams);
    let (files, unlisted) = collect_inputs(&args.inputs);
    let mut failures = unlisted;
    let inputs = input_set(&files, &args.model);
    let save_dir = match &shared.save {
        Some(dir) => Some(output_dir(dir, shared.exist_ok)?),
        None => None,
    };
    let json_path = match &shared.json {
        Some(path) => Some(output_name(path, shared.exist_ok, "--json")?),
        None => None,
    };
    let mut detector = args.model.detector(options)?;
    if let (None, Some(trained)) = (shared.imgsz, detector.trained_imgsz()) {
        detector = detector.with_imgsz((trained, trained))?;
    }

    let progress = progress_bar(&args.inputs, files.len());
    let mut records = Vec::new();
    let mut saved_names = HashSet::new();
    let detector = std::sync::Arc::new(detector);
    let pool = match args.streams {
        1 => None,
        n => Some(detector.streams(n, detector.threads())?),
    };
    let outcomes: Box<dyn Iterator<Item = crate::throughput::Outcome>> = match &pool {
        Some(pool) => Box::new(crate::throughput::outcomes(pool, &files)),
        None => Box::new(
            files
                .iter()
                .map(|path| detect_one(&detector, path).map_err(|e| e.to_string())),
        ),
    };
    for ((i, path), outcome) in files.iter().enumerate().zip(outcomes) {
        progress.set_message(display_path(path));
        match outcome {
            Ok((image, detections, ms)) => {
                let report = format_report(
                    i + 1,
                    files.len(),
                    path,
                    &image,
                    &detections,
                    ms,
                    shared.quiet,
                );
                progress.suspend(|| print!("{report}"));
                if let Some(dir) = &save_dir {
                    let target = unique_target(dir, path, &mut saved_names);
                    if let Err(e) = save_annotated(&image, &detections, &target, &inputs) {
                        progress.suspend(|| eprintln!("error: {e}"));
                        failures += 1;
                    }
                }
                records.push(JsonRecord {
                    path: json_path_value(path),
                    detections: detections.iter().map(Detection::to_json).collect(),
                });
            }
            Err(e) => {
                progress.suspend(|| eprintln!("error: {}", one_line(&e)));
                failures += 1;
            }
        }
        progress.inc(1);
    }
    progress.finish_and_clear();

    if let Some(json_path) = &json_path {
        let text = serde_json::to_string_pretty(&records)?;
        write_atomic(json_path, &inputs, |w| {
            w.write_all(text.as_bytes())
                .and_then(|()| w.write_all(b"\n"))
                .map_err(|e| format!("cannot write --json file {}: {e}", display_path(json_path)))
        })?;
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

/// One image's entry in `--json`: its path exactly (see [`json_path_value`]) and detections.
#[derive(serde::Serialize)]
pub(crate) struct JsonRecord {
    pub path: Box<RawValue>,
    pub detections: Vec<serde_json::Value>,
}

/// A path as a JSON string holding its exact bytes: UTF-8 names as they are, bytes that are
/// not UTF-8 as `\udcXX` (Python's surrogateescape; docs/cli.md).
pub(crate) fn json_path_value(path: &Path) -> Box<RawValue> {
    RawValue::from_string(json_path_literal(path.as_os_str()))
        .expect("json_path_literal writes a valid JSON string")
}

/// Every file this command reads: the images and the weights / model YAML files.
pub(crate) fn input_set(files: &[PathBuf], model: &crate::common::ModelArgs) -> Inputs {
    let mut inputs = Inputs::default();
    for f in files {
        inputs.add(f);
    }
    if let Some(w) = &model.weights {
        inputs.add(w);
    }
    if let Some(m) = &model.model {
        inputs.add(Path::new(m));
    }
    inputs
}

/// `--save DIR`, or DIR2, DIR3, ... when DIR exists (unless `--exist-ok`), created.
pub(crate) fn output_dir(dir: &Path, exist_ok: bool) -> Result<PathBuf, String> {
    let chosen = output_name(dir, exist_ok, "--save")?;
    std::fs::create_dir_all(&chosen).map_err(|e| {
        format!(
            "cannot create --save directory {}: {e}",
            display_path(&chosen)
        )
    })?;
    Ok(chosen)
}

/// Ultralytics' next free name for an output, with a warning when it is not the one asked for.
pub(crate) fn output_name(path: &Path, exist_ok: bool, flag: &str) -> Result<PathBuf, String> {
    let chosen = increment_path(path, exist_ok).ok_or_else(|| {
        format!(
            "no free name for {flag} {} (tried 9998)",
            display_path(path)
        )
    })?;
    if chosen != path {
        warn(&format!(
            "{flag} {} exists: writing {} instead (--exist-ok to reuse it)",
            display_path(path),
            display_path(&chosen)
        ));
    }
    Ok(chosen)
}

/// `--json FILE` settled before any work: its free name ([`output_name`]), not one of the
/// inputs, and in a directory that exists (the file itself is written by [`write_atomic`] or
/// [`crate::output::AtomicFile`]).
pub(crate) fn json_output(path: &Path, exist_ok: bool, inputs: &Inputs) -> Result<PathBuf, String> {
    let chosen = output_name(path, exist_ok, "--json")?;
    crate::output::check_target(&chosen, inputs)?;
    let dir = match chosen.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if !dir.is_dir() {
        return Err(format!(
            "cannot write --json file {}: directory {} does not exist",
            display_path(&chosen),
            display_path(dir)
        ));
    }
    Ok(chosen)
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
pub(crate) fn format_report(
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
        display_path(path),
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
                format!("{} ({})", escape_terminal(&d.class_name), d.class_id),
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
        .map(|(_, name, n)| format!("{n} {}", escape_terminal(name)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `DIR/<file name>`, made unique when two inputs share a file name.
///
/// The stem is kept as the OS gave it (a non-UTF-8 name is saved under the same bytes).
pub(crate) fn unique_target(dir: &Path, path: &Path, used: &mut HashSet<PathBuf>) -> PathBuf {
    let stem = path.file_stem().unwrap_or(std::ffi::OsStr::new("image"));
    let ext = output_extension(path);
    let named = |k: usize| {
        let mut name = stem.to_os_string();
        if k > 0 {
            name.push(format!("_{k}"));
        }
        name.push(".");
        name.push(&ext);
        dir.join(name)
    };
    let mut candidate = named(0);
    let mut k = 1;
    while used.contains(&candidate) {
        candidate = named(k);
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
    inputs: &Inputs,
) -> Result<(), String> {
    let annotated = annotate(image, detections);
    let fail = |e: &dyn std::fmt::Display| format!("cannot save {}: {e}", display_path(target));
    let format = ImageFormat::from_path(target).map_err(|e| fail(&e))?;
    write_atomic(target, inputs, |writer| {
        if format == ImageFormat::Jpeg {
            let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(writer, 95);
            annotated.write_with_encoder(encoder).map_err(|e| fail(&e))
        } else {
            // The PNG / TIFF encoders need to seek; they write into memory first.
            let mut bytes = std::io::Cursor::new(Vec::new());
            annotated
                .write_to(&mut bytes, format)
                .map_err(|e| fail(&e))?;
            writer.write_all(bytes.get_ref()).map_err(|e| fail(&e))
        }
    })
}
