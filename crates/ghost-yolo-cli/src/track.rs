//! `ghost-yolo track`: an image sequence (files and/or directories, frames in name order) ->
//! detection on every frame, ByteTrack across them (`ghost-track`, Ultralytics' `bytetrack.yaml`
//! defaults), and per frame a table with track IDs, optional JSON with the frame index and
//! `track_id`, and annotated copies labelled `id:N name conf` as Ultralytics draws tracks.
//!
//! All inputs form one sequence: the tracker is never reset between frames (Ultralytics'
//! `persist=True`; without it Ultralytics resets whenever the source path changes, i.e. on every
//! image of a directory). Reported boxes are the tracker's Kalman boxes clipped to the frame, as
//! Ultralytics' `Results.update` clips them.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{ArgAction, Args};
use ghost_track::{Track, Tracker, TrackerConfig};
use image::RgbImage;
use serde_json::{json, Value};
use yolo11_ghost::detector::DetectorOptions;
use yolo11_ghost::postprocess::Detection;

use crate::common::{
    one_line, parse_imgsz, parse_threads, parse_unit_interval, CliResult, ModelArgs,
};
use crate::detect::{
    collect_inputs, count_summary, detect_one, input_set, output_dir, output_name, progress_bar,
    save_annotated, unique_target,
};

/// Arguments of `ghost-yolo track`.
#[derive(Debug, Args)]
pub struct TrackArgs {
    /// Frames: image files and/or directories (a directory's images in name order), tracked as
    /// one sequence in the order given.
    #[arg(required = true, value_name = "FRAMES")]
    pub inputs: Vec<PathBuf>,

    #[command(flatten)]
    pub model: ModelArgs,

    /// Detection confidence threshold. Ultralytics' `track` lowers predict's 0.25 to 0.1 so that
    /// ByteTrack's second association sees the low-score boxes.
    #[arg(long, default_value = "0.1", value_parser = parse_unit_interval, allow_negative_numbers = true)]
    pub conf: f64,

    /// NMS IoU threshold.
    #[arg(long, default_value = "0.7", value_parser = parse_unit_interval, allow_negative_numbers = true)]
    pub iou: f64,

    /// Maximum detections per frame.
    #[arg(long, default_value_t = 300)]
    pub max_det: usize,

    /// Class-agnostic NMS.
    #[arg(long)]
    pub agnostic: bool,

    /// Keep only these class ids (comma-separated or repeated).
    #[arg(long, value_delimiter = ',', num_args = 1..)]
    pub classes: Option<Vec<usize>>,

    /// Inference size: 640 (square) or H,W. Default: the weights' training size, else 640.
    #[arg(long, value_parser = parse_imgsz, allow_negative_numbers = true)]
    pub imgsz: Option<(usize, usize)>,

    /// Minimal padding to a multiple of the stride; false pads to imgsz.
    #[arg(long, default_value_t = true, action = ArgAction::Set, value_name = "BOOL")]
    pub rect: bool,

    /// Kernel threads (default: all cores).
    #[arg(long, value_parser = parse_threads, allow_negative_numbers = true)]
    pub threads: Option<usize>,

    /// ByteTrack: detections at or above this score go to the first association.
    #[arg(long, default_value = "0.25", value_parser = parse_unit_interval, allow_negative_numbers = true)]
    pub track_high_thresh: f64,

    /// ByteTrack: detections above this (and below --track-high-thresh) go to the second one.
    #[arg(long, default_value = "0.1", value_parser = parse_unit_interval, allow_negative_numbers = true)]
    pub track_low_thresh: f64,

    /// ByteTrack: an unmatched detection starts a track at or above this score.
    #[arg(long, default_value = "0.25", value_parser = parse_unit_interval, allow_negative_numbers = true)]
    pub new_track_thresh: f64,

    /// ByteTrack: frames a lost track is kept for re-identification.
    #[arg(long, default_value_t = 30)]
    pub track_buffer: u32,

    /// ByteTrack: largest accepted cost (1 - IoU x score) in the first association.
    #[arg(long, default_value = "0.8", value_parser = parse_unit_interval, allow_negative_numbers = true)]
    pub match_thresh: f64,

    /// ByteTrack: weight IoU by the detection score when matching.
    #[arg(long, default_value_t = true, action = ArgAction::Set, value_name = "BOOL")]
    pub fuse_score: bool,

    /// Write every frame's tracks as JSON to FILE.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,

    /// Write into an existing --save directory / over an existing --json file instead of the
    /// next free name (Ultralytics' increment_path); inputs are never overwritten either way.
    #[arg(long)]
    pub exist_ok: bool,

    /// Save annotated frames into DIR (created if missing).
    #[arg(long, value_name = "DIR")]
    pub save: Option<PathBuf>,

    /// Print only the summary line per frame, not the table.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

impl TrackArgs {
    fn tracker_config(&self) -> TrackerConfig {
        TrackerConfig {
            track_high_thresh: self.track_high_thresh,
            track_low_thresh: self.track_low_thresh,
            new_track_thresh: self.new_track_thresh,
            track_buffer: self.track_buffer,
            match_thresh: self.match_thresh,
            fuse_score: self.fuse_score,
        }
    }
}

pub fn run(args: TrackArgs) -> CliResult {
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
    let mut tracker = Tracker::new(args.tracker_config())?;
    let (files, unlisted) = collect_inputs(&args.inputs);
    let mut failures = unlisted;
    let inputs = input_set(&files, &args.model);
    let save_dir = match &args.save {
        Some(dir) => Some(output_dir(dir, args.exist_ok)?),
        None => None,
    };
    let json_path = match &args.json {
        Some(path) => Some(output_name(path, args.exist_ok, "--json")?),
        None => None,
    };
    let mut detector = args.model.detector(options)?;
    if let (None, Some(trained)) = (args.imgsz, detector.trained_imgsz()) {
        detector = detector.with_imgsz((trained, trained))?;
    }

    let progress = progress_bar(&args.inputs, files.len());
    let mut records = Vec::new();
    let mut saved_names = HashSet::new();
    for (i, path) in files.iter().enumerate() {
        progress.set_message(ghost_limits::text::display_path(path));
        let (image, detections, ms) = match detect_one(&detector, path) {
            Ok(frame) => frame,
            Err(e) => {
                // A frame that cannot be read is skipped; the sequence goes on without it.
                progress.suspend(|| eprintln!("error: {}", one_line(&e.to_string())));
                failures += 1;
                progress.inc(1);
                continue;
            }
        };
        let tracked = track_frame(&mut tracker, &image, &detections)?;
        let report = format_report(i + 1, files.len(), path, &image, &tracked, ms, args.quiet);
        progress.suspend(|| print!("{report}"));
        if let Some(dir) = &save_dir {
            let target = unique_target(dir, path, &mut saved_names);
            let labelled: Vec<Detection> = tracked.iter().map(TrackedBox::labelled).collect();
            if let Err(e) = save_annotated(&image, &labelled, &target, &inputs) {
                progress.suspend(|| eprintln!("error: {e}"));
                failures += 1;
            }
        }
        records.push(json!({
            "frame": i,
            "path": path.display().to_string(),
            "detections": tracked.iter().map(TrackedBox::to_json).collect::<Vec<_>>(),
        }));
        progress.inc(1);
    }
    progress.finish_and_clear();

    if let Some(json_path) = &json_path {
        let text = serde_json::to_string_pretty(&records)? + "\n";
        crate::output::write_atomic(json_path, &inputs, |w| {
            std::io::Write::write_all(w, text.as_bytes()).map_err(|e| {
                format!(
                    "cannot write --json file {}: {e}",
                    ghost_limits::text::display_path(json_path)
                )
            })
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

/// A confirmed track in one frame: the tracker's box clipped to the frame, with the matched
/// detection's score, class and name.
pub(crate) struct TrackedBox {
    pub track_id: u64,
    pub detection: Detection,
}

impl TrackedBox {
    pub fn to_json(&self) -> Value {
        let mut v = self.detection.to_json();
        if let Some(map) = v.as_object_mut() {
            map.insert("track_id".into(), json!(self.track_id));
        }
        v
    }

    /// The detection with Ultralytics' track label: `id:N name` (the drawing adds the score).
    pub fn labelled(&self) -> Detection {
        Detection {
            class_name: format!("id:{} {}", self.track_id, self.detection.class_name),
            ..self.detection.clone()
        }
    }
}

/// Feeds one frame's detections to the tracker: its confirmed tracks, clipped to the frame.
pub(crate) fn track_frame(
    tracker: &mut Tracker,
    image: &RgbImage,
    detections: &[Detection],
) -> Result<Vec<TrackedBox>, ghost_track::TrackError> {
    let input: Vec<ghost_track::Detection> = detections
        .iter()
        .map(|d| ghost_track::Detection {
            x1: d.x1,
            y1: d.y1,
            x2: d.x2,
            y2: d.y2,
            score: d.confidence,
            class_id: d.class_id,
        })
        .collect();
    let (w, h) = (image.width() as f32, image.height() as f32);
    Ok(tracker
        .update(&input)?
        .into_iter()
        .map(|t: Track| TrackedBox {
            track_id: t.track_id,
            detection: Detection {
                x1: t.x1.clamp(0.0, w),
                y1: t.y1.clamp(0.0, h),
                x2: t.x2.clamp(0.0, w),
                y2: t.y2.clamp(0.0, h),
                confidence: t.score,
                class_id: t.class_id,
                class_name: detections[t.det_index].class_name.clone(),
            },
        })
        .collect())
}

/// `frame 1/30 path: 640x480, 2 person, 12.3 ms` and the table of tracks.
pub(crate) fn format_report(
    index: usize,
    total: usize,
    path: &Path,
    image: &RgbImage,
    tracked: &[TrackedBox],
    ms: f64,
    quiet: bool,
) -> String {
    let boxes: Vec<Detection> = tracked.iter().map(|t| t.detection.clone()).collect();
    let mut s = String::new();
    let _ = writeln!(
        s,
        "frame {index}/{total} {}: {}x{}, {}, {ms:.1} ms",
        path.display(),
        image.width(),
        image.height(),
        count_summary(&boxes).replace("no detections", "no tracks")
    );
    if !quiet && !tracked.is_empty() {
        let _ = writeln!(
            s,
            "  {:>5}  {:<20} {:>6} {:>9} {:>9} {:>9} {:>9}",
            "id", "class", "conf", "x1", "y1", "x2", "y2"
        );
        for t in tracked {
            let d = &t.detection;
            let _ = writeln!(
                s,
                "  {:>5}  {:<20} {:>6.3} {:>9.1} {:>9.1} {:>9.1} {:>9.1}",
                t.track_id,
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
