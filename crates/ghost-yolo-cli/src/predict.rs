//! `ghost-yolo detect` on what `yolo predict` takes beyond still images: videos (through the
//! `ffmpeg` program), RTSP and other streams, quoted glob patterns, `.txt` lists, and the
//! `--vid-stride`, `--batch`, `--save-txt`, `--save-conf`, `--save-crop` options. The work is
//! `ghost_video::run_pipeline` (decode, inference and output on three threads with bounded
//! channels); this file turns the arguments into its options and prints what it reports.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use ghost_video::{
    expand_sources, probe, run_pipeline, DecodeOptions, Event, Input, InputKind, PipelineOptions,
};
use indicatif::{ProgressBar, ProgressStyle};
use yolo11_ghost::detector::DetectorOptions;

use crate::common::{one_line, parse_positive, warn, CliResult};
use crate::detect::{format_report, DetectArgs};

/// The options `detect` has for videos, streams and Ultralytics' outputs.
#[derive(Debug, Args)]
pub struct PredictArgs {
    /// Keep every N-th video frame (Ultralytics' vid_stride: frames N, 2N, ...).
    #[arg(long, default_value = "1", value_parser = parse_stride, allow_negative_numbers = true)]
    pub vid_stride: u64,

    /// Images per forward pass (a batch never spans two videos).
    #[arg(long, default_value = "1", value_parser = parse_positive, allow_negative_numbers = true)]
    pub batch: usize,

    /// Write YOLO label files into DIR: `<stem>.txt` per image, `<stem>_<frame>.txt` per video
    /// frame, byte for byte as Ultralytics' save_txt.
    #[arg(long, value_name = "DIR")]
    pub save_txt: Option<PathBuf>,

    /// Add each box's confidence to the label lines.
    #[arg(long, requires = "save_txt")]
    pub save_conf: bool,

    /// Write each box's crop into `DIR/<class name>/<stem>.jpg` (Ultralytics' save_one_box).
    #[arg(long, value_name = "DIR")]
    pub save_crop: Option<PathBuf>,
}

fn parse_stride(s: &str) -> Result<u64, String> {
    parse_positive(s).map(|n| n as u64)
}

/// Whether `detect` needs the video pipeline: a video, stream, glob or list among the inputs, or
/// one of its options. Plain images and directories of images keep the image path.
pub fn wanted(args: &DetectArgs) -> bool {
    let p = &args.predict;
    if p.vid_stride != 1 || p.batch != 1 || p.save_txt.is_some() || p.save_crop.is_some() {
        return true;
    }
    args.inputs.iter().any(|input| {
        let s = input.to_string_lossy();
        if ghost_video::source::is_stream_url(&s)
            || s.contains('*')
            || input.is_file() && s.to_ascii_lowercase().ends_with(".txt")
        {
            return true;
        }
        if input.is_dir() {
            return expand_sources(&[s.into_owned()])
                .is_ok_and(|i| i.iter().any(|i| i.kind != InputKind::Image));
        }
        ghost_video::source::classify(&s) == Some(InputKind::Video)
    })
}

/// Frames the inputs will give, when every count is known (for the progress bar's ETA).
fn total_frames(inputs: &[Input], vid_stride: u64) -> Option<u64> {
    inputs.iter().try_fold(0u64, |sum, input| match input.kind {
        InputKind::Image => Some(sum + 1),
        InputKind::Stream => None,
        InputKind::Video => probe(&input.location, None)
            .ok()
            .and_then(|i| i.frame_count)
            .map(|n| sum + n / vid_stride),
    })
}

fn progress_bar(total: Option<u64>, videos: bool, images: usize) -> ProgressBar {
    if !videos && images < 2 {
        return ProgressBar::hidden();
    }
    let (bar, template) = match total {
        Some(n) => (
            ProgressBar::new(n),
            "{bar:30} {pos}/{len} frames [{elapsed_precise}<{eta_precise}, {per_sec}] {wide_msg}",
        ),
        None => (
            ProgressBar::no_length(),
            "{spinner} {pos} frames [{elapsed_precise}, {per_sec}] {wide_msg}",
        ),
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    bar
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
    // Each source on its own, so a missing one is reported and the others still run.
    let mut inputs = Vec::new();
    let mut failures = 0u64;
    for source in &args.inputs {
        match expand_sources(&[source.to_string_lossy().into_owned()]) {
            Ok(found) => inputs.extend(found),
            Err(e) => {
                eprintln!("error: {}", one_line(&e.to_string()));
                failures += 1;
            }
        }
    }
    let mut detector = args.model.detector(options)?;
    if let (None, Some(trained)) = (args.imgsz, detector.trained_imgsz()) {
        detector = detector.with_imgsz((trained, trained))?;
    }
    let p = &args.predict;
    let pipeline = PipelineOptions {
        batch: p.batch,
        decode: DecodeOptions {
            vid_stride: p.vid_stride,
            ..Default::default()
        },
        queue: 2,
        save_txt: p.save_txt.clone(),
        save_conf: p.save_conf,
        save_crop: p.save_crop.clone(),
        save: args.save.clone(),
        json: args.json.clone(),
    };
    let n_inputs = inputs.len();
    let images = inputs.iter().filter(|i| i.kind == InputKind::Image).count();
    let videos = images < n_inputs;
    let progress = progress_bar(total_frames(&inputs, p.vid_stride), videos, images);
    let quiet = args.quiet;
    let summary = run_pipeline(&detector, inputs, &pipeline, |event| match event {
        Event::Frame {
            result,
            inference_ms,
        } => {
            let o = &result.frame.origin;
            let path = Path::new(&o.location);
            let report = format_report(
                o.input_index + 1,
                n_inputs,
                path,
                &result.frame.image,
                &result.detections,
                inference_ms,
                quiet,
            );
            let report = match o.kind {
                InputKind::Image => report,
                // Ultralytics: `video 1/2 (frame 3/75) clip.mp4: ...`
                _ => {
                    let total = o.total_frames.map_or("?".into(), |n| n.to_string());
                    let prefix = format!("image {}/{n_inputs} ", o.input_index + 1);
                    let video = format!(
                        "video {}/{n_inputs} (frame {}/{total}) ",
                        o.input_index + 1,
                        o.frame
                    );
                    report.replacen(&prefix, &video, 1)
                }
            };
            progress.set_message(o.location.clone());
            progress.suspend(|| print!("{report}"));
            progress.inc(1);
        }
        Event::Failed { location: _, error } => {
            progress.suspend(|| eprintln!("error: {}", one_line(&error)));
        }
        Event::Warning(w) => progress.suspend(|| warn(&one_line(&w))),
    })?;
    progress.finish_and_clear();
    // Ultralytics ends with a speed line; this one counts the whole pipeline (decode, inference,
    // outputs) from the first frame read to the last output written.
    eprintln!(
        "{} frames in {:.2} s: {:.1} frames/s",
        summary.frames,
        summary.seconds,
        summary.frames as f64 / summary.seconds.max(1e-9)
    );
    failures += summary.failures;
    if failures > 0 {
        eprintln!(
            "error: {failures} inputs or outputs failed ({} frames done)",
            summary.frames
        );
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}
