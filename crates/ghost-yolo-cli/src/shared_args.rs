//! The options `detect` and `track` share (flattened into both with `#[command(flatten)]`), so
//! their flag names, defaults and parsing cannot drift apart. `--conf` is not here: its default
//! differs (predict 0.25, track 0.1, as in Ultralytics).

use std::path::PathBuf;

use clap::{ArgAction, Args};
use yolo11_ghost::detector::DetectorOptions;

use crate::common::{parse_imgsz, parse_threads, parse_unit_interval};

/// Inference, output and display options of `detect` and `track`.
#[derive(Debug, Args)]
pub struct SharedArgs {
    /// NMS IoU threshold.
    #[arg(long, default_value = "0.7", value_parser = parse_unit_interval, allow_negative_numbers = true)]
    pub iou: f64,

    /// Maximum detections per image or frame.
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

    /// Kernel threads (default: all cores); with `detect --streams N`, threads per stream
    /// (default 1 each).
    #[arg(long, value_parser = parse_threads, allow_negative_numbers = true)]
    pub threads: Option<usize>,

    /// Write every image's / frame's results as JSON to FILE.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,

    /// Save annotated images (and videos, as H.264 MP4) into DIR (created if missing); DIR is
    /// then also the run directory of --save-txt (DIR/labels) and --save-crop (DIR/crops).
    #[arg(long, value_name = "DIR")]
    pub save: Option<PathBuf>,

    /// Write into an existing --save directory / over an existing --json file instead of
    /// picking the next free name (DIR2, DIR3, ..., out2.json: Ultralytics' increment_path).
    /// Inputs are never overwritten either way.
    #[arg(long)]
    pub exist_ok: bool,

    /// Run directory for --save-txt and --save-crop when --save is not given: PROJECT/NAME,
    /// or the next free PROJECT/NAME2, ... (Ultralytics' project; default runs/detect).
    #[arg(long, value_name = "DIR", conflicts_with = "save")]
    pub project: Option<PathBuf>,

    /// The run directory's name under --project (Ultralytics' name; default predict for
    /// `detect`, track for `track`).
    #[arg(long, value_name = "NAME", conflicts_with = "save")]
    pub name: Option<String>,

    /// Print only the summary line per image or frame, not the table.
    #[arg(long, short = 'q')]
    pub quiet: bool,

    /// Videos, streams and Ultralytics' outputs (src/predict.rs).
    #[command(flatten)]
    pub predict: crate::predict::PredictArgs,
}

impl SharedArgs {
    /// Ultralytics' `save_dir` before `increment_path`: `--project` (runs/detect) / `--name`
    /// (`default_name`). `--save DIR` replaces it.
    pub fn run_dir(&self, default_name: &str) -> PathBuf {
        let project = self
            .project
            .clone()
            .unwrap_or_else(|| PathBuf::from("runs/detect"));
        project.join(self.name.as_deref().unwrap_or(default_name))
    }

    /// The detector's options with confidence threshold `conf`.
    pub fn detector_options(&self, conf: f64) -> DetectorOptions {
        DetectorOptions {
            conf,
            iou: self.iou,
            max_det: self.max_det,
            agnostic: self.agnostic,
            classes: self.classes.clone(),
            imgsz: self.imgsz.unwrap_or(DetectorOptions::default().imgsz),
            rect: self.rect,
            threads: self.threads,
        }
    }
}
