//! `ghost-yolo track` on videos, streams, globs and lists goes through the video pipeline with
//! the tracker run after detection (src/predict.rs, IDs reset between videos); this file is the
//! image-sequence path and the pieces both share.
//!
//! On images: an image sequence (files and/or directories, frames in name order) ->
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
use yolo11_ghost::postprocess::Detection;

use crate::common::{one_line, parse_unit_interval, CliResult, ModelArgs};
use crate::detect::{
    collect_inputs, count_summary, detect_one, input_set, json_output, json_path_value, output_dir,
    progress_bar, save_annotated, unique_target,
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

    /// Everything else `track` shares with `detect` (src/shared_args.rs).
    #[command(flatten)]
    pub shared: crate::shared_args::SharedArgs,

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
    let shared = &args.shared;
    let mut tracker = Tracker::new(args.tracker_config())?;
    if crate::predict::wanted(&args.inputs, &shared.predict) {
        let config = *tracker.config();
        return crate::predict::run(
            "track",
            &args.inputs,
            &args.model,
            args.conf,
            shared,
            Some(config),
            1,
        );
    }
    let options = shared.detector_options(args.conf);
    let (files, unlisted) = collect_inputs(&args.inputs);
    let mut failures = unlisted;
    let inputs = input_set(&files, &args.model);
    let json_path = match &shared.json {
        Some(path) => Some(json_output(path, shared.exist_ok, &inputs)?),
        None => None,
    };
    let save_dir = match &shared.save {
        Some(dir) => Some(output_dir(dir, shared.exist_ok)?),
        None => None,
    };
    let mut detector = args.model.detector(options)?;
    if let (None, Some(trained)) = (shared.imgsz, detector.trained_imgsz()) {
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
        let report = format_report(i + 1, files.len(), path, &image, &tracked, ms, shared.quiet);
        progress.suspend(|| print!("{report}"));
        if let Some(dir) = &save_dir {
            let target = unique_target(dir, path, &mut saved_names);
            let labelled: Vec<Detection> = tracked.iter().map(TrackedBox::labelled).collect();
            if let Err(e) = save_annotated(&image, &labelled, &target, &inputs) {
                progress.suspend(|| eprintln!("error: {e}"));
                failures += 1;
            }
        }
        records.push(TrackRecord {
            frame: i,
            path: json_path_value(path),
            detections: tracked.iter().map(TrackedBox::to_json).collect(),
        });
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

/// One frame's entry in `--json`: its index, its path exactly (as detect's `--json`), tracks.
#[derive(serde::Serialize)]
struct TrackRecord {
    frame: usize,
    path: Box<serde_json::value::RawValue>,
    detections: Vec<Value>,
}

/// A confirmed track in one frame: the tracker's box clipped to the frame, with the matched
/// detection's score, class and name.
pub(crate) struct TrackedBox {
    /// `None` for a raw detection in a frame where the tracker confirmed no track (see
    /// [`track_frame`]).
    pub track_id: Option<u64>,
    pub detection: Detection,
}

impl TrackedBox {
    pub fn to_json(&self) -> Value {
        let mut v = self.detection.to_json();
        if let (Some(map), Some(id)) = (v.as_object_mut(), self.track_id) {
            map.insert("track_id".into(), json!(id));
        }
        v
    }

    /// The detection with Ultralytics' track label: `id:N name` (the drawing adds the score).
    pub fn labelled(&self) -> Detection {
        match self.track_id {
            Some(id) => Detection {
                class_name: format!("id:{id} {}", self.detection.class_name),
                ..self.detection.clone()
            },
            None => self.detection.clone(),
        }
    }
}

/// Feeds one frame's detections to the tracker: its confirmed tracks, clipped to the frame. A
/// frame where the tracker confirms no track keeps its raw detections, without IDs, as
/// Ultralytics' `on_predict_postprocess_end` does (it skips the update when there are no tracks).
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
    let tracks = tracker.update(&input)?;
    if tracks.is_empty() {
        return Ok(detections
            .iter()
            .map(|d| TrackedBox {
                track_id: None,
                detection: d.clone(),
            })
            .collect());
    }
    Ok(tracks
        .into_iter()
        .map(|t: Track| TrackedBox {
            track_id: Some(t.track_id),
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
                t.track_id
                    .map_or_else(|| "-".to_string(), |id| id.to_string()),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn detection(score: f32) -> Detection {
        Detection {
            x1: 10.0,
            y1: 20.0,
            x2: 50.0,
            y2: 60.0,
            confidence: score,
            class_id: 2,
            class_name: "triangle".into(),
        }
    }

    /// Ultralytics keeps a frame's raw detections (no IDs) when the tracker confirms nothing:
    /// a first frame whose only box scores under new_track_thresh (0.25) starts no track.
    #[test]
    fn a_frame_without_tracks_keeps_its_raw_detections_without_ids() {
        let mut tracker = Tracker::new(TrackerConfig::default()).unwrap();
        let image = RgbImage::new(100, 100);
        let low = [detection(0.15)];
        let out = track_frame(&mut tracker, &image, &low).unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].track_id, None);
        assert_eq!(out[0].detection, low[0]);
        assert!(out[0].to_json().get("track_id").is_none());
        assert_eq!(out[0].labelled().class_name, "triangle");

        // A confident box starts a track on frame 2, unconfirmed there (only frame 1's tracks
        // are confirmed at once), so frame 2 still shows the raw box; frame 3 confirms it.
        let out = track_frame(&mut tracker, &image, &[detection(0.9)]).unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].track_id, None);
        let out = track_frame(&mut tracker, &image, &[detection(0.9)]).unwrap();
        assert_eq!(out.len(), 1);
        assert!(out[0].track_id.is_some());
        assert!(out[0].labelled().class_name.starts_with("id:"));
    }
}
