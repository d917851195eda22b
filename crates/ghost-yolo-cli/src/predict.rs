//! `ghost-yolo detect` on what `yolo predict` takes beyond still images: videos (through the
//! `ffmpeg` program), RTSP and other streams, quoted glob patterns, `.txt` lists, and the
//! `--vid-stride`, `--batch`, `--save-txt`, `--save-conf`, `--save-crop` options. The work is
//! `ghost_video::run_pipeline` (decode, inference and output on three threads with bounded
//! channels); this file turns the arguments into its options and prints what it reports.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use ghost_limits::text::display_path;
use ghost_track::{Tracker, TrackerConfig};
use ghost_video::batch::FrameDetections;
use ghost_video::{
    expand_sources, json_record_text, probe, run_pipeline_on_streams, run_pipeline_with,
    DecodeOptions, Event, Input, InputKind, PipelineOptions,
};
use indicatif::{ProgressBar, ProgressStyle};

use crate::common::{one_line, parse_positive, warn, CliResult, ModelArgs};
use crate::detect::{format_report, input_set, json_output, output_dir};
use crate::output::{AtomicFile, Inputs};
use crate::shared_args::SharedArgs;
use crate::track::{format_report as track_report, track_frame, TrackedBox};

/// The options `detect` has for videos, streams and Ultralytics' outputs.
#[derive(Debug, Args)]
pub struct PredictArgs {
    /// Keep every N-th video frame (Ultralytics' vid_stride: frames N, 2N, ...).
    #[arg(long, default_value = "1", value_parser = parse_stride, allow_negative_numbers = true)]
    pub vid_stride: u64,

    /// Images per forward pass (a batch never spans two videos).
    #[arg(long, default_value = "1", value_parser = parse_positive, allow_negative_numbers = true)]
    pub batch: usize,

    /// Write YOLO label files into the run directory's `labels/` (Ultralytics' save_txt):
    /// `<stem>.txt` per image, `<stem>_<frame>.txt` per video frame, byte for byte as
    /// Ultralytics; with `track`, each line ends with the track ID.
    #[arg(long)]
    pub save_txt: bool,

    /// Add each box's confidence to the label lines.
    #[arg(long, requires = "save_txt")]
    pub save_conf: bool,

    /// Write each box's crop into the run directory's `crops/<class name>/<stem>.jpg`
    /// (Ultralytics' save_crop, save_one_box geometry).
    #[arg(long)]
    pub save_crop: bool,
}

fn parse_stride(s: &str) -> Result<u64, String> {
    parse_positive(s).map(|n| n as u64)
}

/// Whether `detect` needs the video pipeline: a video, stream, glob or list among the inputs, or
/// one of its options. Plain images and directories of images keep the image path.
pub fn wanted(inputs: &[PathBuf], p: &PredictArgs) -> bool {
    if p.vid_stride != 1 || p.batch != 1 || p.save_txt || p.save_crop {
        return true;
    }
    inputs.iter().any(|input| {
        let s = input.to_string_lossy();
        if ghost_video::source::is_stream_url(&s)
            || s.contains('*')
            || input.is_file() && s.to_ascii_lowercase().ends_with(".txt")
        {
            return true;
        }
        if input.is_dir() {
            return expand_sources(std::slice::from_ref(input))
                .is_ok_and(|i| i.iter().any(|i| i.kind != InputKind::Image));
        }
        ghost_video::source::classify(input) == Some(InputKind::Video)
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

/// `detect` (`tracker` None) or `track` (`tracker` Some) through the video pipeline. With a
/// tracker, IDs persist across the frames of one video or stream and restart at 1 with the next
/// one (Ultralytics' `yolo track`: the tracker is reset when the source changes); still images
/// form one sequence, as `track` on images does. `run_name` is the run directory's default name
/// (`predict` or `track`, as Ultralytics names it). `streams` > 1: the forward passes run on that
/// many inference streams (`detect --streams N`, throughput mode), the outputs in the same order.
pub fn run(
    run_name: &str,
    sources: &[PathBuf],
    model: &ModelArgs,
    conf: f64,
    args: &SharedArgs,
    tracker: Option<TrackerConfig>,
    streams: usize,
) -> CliResult {
    let mut options = args.detector_options(conf);
    options.threads = crate::throughput::threads_per_stream(args.threads, streams);
    // Each source on its own, so a missing one is reported and the others still run.
    let mut inputs = Vec::new();
    let mut failures = 0u64;
    for source in sources {
        // The path itself: a file name need not be UTF-8 (it is kept exactly, to the JSON).
        match expand_sources(std::slice::from_ref(source)) {
            Ok(found) => inputs.extend(found),
            Err(e) => {
                eprintln!("error: {}", one_line(&e.to_string()));
                failures += 1;
            }
        }
    }
    let protected = input_set(
        &inputs
            .iter()
            .filter(|i| i.kind != InputKind::Stream)
            .map(|i| i.location.clone())
            .collect::<Vec<_>>(),
        model,
    );
    let save = match &args.save {
        Some(dir) => Some(output_dir(dir, args.exist_ok)?),
        None => None,
    };
    let p = &args.predict;
    // Ultralytics' save_dir: label files and crops go under it (`labels/`, `crops/<class>/`).
    let run_dir = match &save {
        Some(dir) => Some(dir.clone()),
        None if p.save_txt || p.save_crop => {
            Some(output_dir(&args.run_dir(run_name), args.exist_ok)?)
        }
        None => None,
    };
    let under_run =
        |wanted: bool, sub: &str| run_dir.as_ref().filter(|_| wanted).map(|d| d.join(sub));
    let mut json = match &args.json {
        Some(path) => Some(JsonOut::create(
            json_output(path, args.exist_ok, &protected)?,
            &protected,
        )?),
        None => None,
    };
    let mut tracker = match tracker {
        Some(config) => Some(Tracker::new(config)?),
        None => None,
    };
    let mut detector = model.detector(options)?;
    if let (None, Some(trained)) = (args.imgsz, detector.trained_imgsz()) {
        detector = detector.with_imgsz((trained, trained))?;
    }
    let pipeline = PipelineOptions {
        batch: p.batch,
        decode: DecodeOptions {
            vid_stride: p.vid_stride,
            ..Default::default()
        },
        queue: 2,
        save_txt: under_run(p.save_txt, "labels"),
        save_conf: p.save_conf,
        save_crop: under_run(p.save_crop, "crops"),
        save,
        // written here, through the temp-file-and-rename writer (src/output.rs)
        json: None,
    };
    let n_inputs = inputs.len();
    let images = inputs.iter().filter(|i| i.kind == InputKind::Image).count();
    let videos = images < n_inputs;
    let progress = progress_bar(total_frames(&inputs, p.vid_stride), videos, images);
    let quiet = args.quiet;
    let tracking = tracker.is_some();
    // The sequence the tracker is on: a video's or stream's input index, or None for images.
    let mut sequence: Option<Option<usize>> = None;
    let after_detect = |r: &mut FrameDetections| -> Result<(), String> {
        let Some(tracker) = tracker.as_mut() else {
            return Ok(());
        };
        let o = &r.frame.origin;
        let key = (o.kind != InputKind::Image).then_some(o.input_index);
        if sequence.is_some_and(|s| s != key) {
            tracker.reset();
        }
        sequence = Some(key);
        let tracked =
            track_frame(tracker, &r.frame.image, &r.detections).map_err(|e| e.to_string())?;
        // All IDs, or none: a frame without confirmed tracks keeps its raw detections.
        r.track_ids = tracked.iter().map(|t| t.track_id).collect();
        r.detections = tracked.into_iter().map(|t| t.detection).collect();
        Ok(())
    };
    let json_slot = &mut json;
    let sink = |event: Event<'_>| match event {
        Event::Frame {
            result,
            inference_ms,
        } => {
            if let Some(out) = json_slot.as_mut() {
                if let Err(e) = out.record(result) {
                    progress.suspend(|| eprintln!("error: {}", one_line(&e)));
                    *json_slot = None; // one error, not one per frame
                }
            }
            let report = frame_report(result, inference_ms, n_inputs, tracking, quiet);
            progress.set_message(display_path(&result.frame.origin.location));
            progress.suspend(|| print!("{report}"));
            progress.inc(1);
        }
        Event::Failed { location: _, error } => {
            progress.suspend(|| eprintln!("error: {}", one_line(&error)));
        }
        Event::Warning(w) => progress.suspend(|| warn(&one_line(&w))),
    };
    let summary = if streams > 1 {
        let detector = std::sync::Arc::new(detector);
        let pool = detector.streams(streams, detector.threads())?;
        run_pipeline_on_streams(&pool, inputs, &pipeline, after_detect, sink)?
    } else {
        run_pipeline_with(&detector, inputs, &pipeline, after_detect, sink)?
    };
    progress.finish_and_clear();
    if args.json.is_some() {
        match json {
            Some(out) => out.finish(&protected)?,
            None => failures += 1,
        }
    }
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

/// Ultralytics' per-frame line (`image 1/3 a.jpg: ...`, `video 1/2 (frame 3/75) clip.mp4: ...`)
/// and the table (with an `id` column when tracking).
fn frame_report(
    result: &FrameDetections,
    inference_ms: f64,
    n_inputs: usize,
    tracking: bool,
    quiet: bool,
) -> String {
    let o = &result.frame.origin;
    let path = Path::new(&o.location);
    let (report, prefix) = match &result.track_ids {
        Some(ids) if tracking => {
            let tracked: Vec<TrackedBox> = ids
                .iter()
                .zip(&result.detections)
                .map(|(&track_id, d)| TrackedBox {
                    track_id: Some(track_id),
                    detection: d.clone(),
                })
                .collect();
            let index = o.input_index + 1;
            let report = track_report(
                index,
                n_inputs,
                path,
                &result.frame.image,
                &tracked,
                inference_ms,
                quiet,
            );
            (report, format!("frame {index}/{n_inputs} "))
        }
        _ => (
            format_report(
                o.input_index + 1,
                n_inputs,
                path,
                &result.frame.image,
                &result.detections,
                inference_ms,
                quiet,
            ),
            format!("image {}/{n_inputs} ", o.input_index + 1),
        ),
    };
    let kind = match o.kind {
        InputKind::Image => "image",
        _ => "video",
    };
    let total = o.total_frames.map_or("?".into(), |n| n.to_string());
    let head = match o.kind {
        InputKind::Image => format!("{kind} {}/{n_inputs} ", o.input_index + 1),
        // Ultralytics: `video 1/2 (frame 3/75) clip.mp4: ...`
        _ => format!(
            "{kind} {}/{n_inputs} (frame {}/{total}) ",
            o.input_index + 1,
            o.frame
        ),
    };
    report.replacen(&prefix, &head, 1)
}

/// `--json` for the pipeline: `[`, one record per frame as it finishes (so memory stays flat on a
/// long video), `]`, written to a temporary file renamed over the target at the end; a run that
/// fails leaves no half file.
struct JsonOut {
    file: AtomicFile,
    path: PathBuf,
    first: bool,
}

impl JsonOut {
    fn create(path: PathBuf, inputs: &Inputs) -> Result<Self, String> {
        let mut file = AtomicFile::create(&path, inputs)?;
        file.writer()
            .write_all(b"[")
            .map_err(|e| format!("cannot write --json file {}: {e}", display_path(&path)))?;
        Ok(Self {
            file,
            path,
            first: true,
        })
    }

    fn record(&mut self, result: &FrameDetections) -> Result<(), String> {
        // The path exactly, as detect's --json writes image paths.
        let text = json_record_text(result);
        let sep: &[u8] = if self.first { b"\n  " } else { b",\n  " };
        self.first = false;
        let w = self.file.writer();
        w.write_all(sep)
            .and_then(|()| w.write_all(text.as_bytes()))
            .map_err(|e| format!("cannot write --json file {}: {e}", display_path(&self.path)))
    }

    fn finish(mut self, inputs: &Inputs) -> Result<(), String> {
        let end: &[u8] = if self.first { b"]\n" } else { b"\n]\n" };
        self.file
            .writer()
            .write_all(end)
            .map_err(|e| format!("cannot write --json file {}: {e}", display_path(&self.path)))?;
        self.file.commit(inputs)
    }
}
