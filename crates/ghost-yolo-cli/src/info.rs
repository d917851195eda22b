//! `ghost-yolo info`: the per-layer table and Ultralytics-style summary of a model.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use yolo11_ghost::detector::{Detector, DetectorOptions, WeightsChoice};
use yolo11_ghost::info::ModelInfo;

use crate::common::{load_spec, parse_imgsz, round_imgsz, CliResult};

/// Arguments of `ghost-yolo info`.
#[derive(Debug, Args)]
pub struct InfoArgs {
    /// Built-in model name (yolo11n ... yolo11x, yolo11n-ghost ... yolo11x-ghost) or a model YAML path.
    /// Default: the model the --weights file describes.
    #[arg(
        long,
        short = 'm',
        value_name = "NAME|YAML",
        required_unless_present = "weights"
    )]
    pub model: Option<String>,

    /// A weights file: its model (unless --model names one) and its precision (FP32, or INT8
    /// for a `ghost-yolo quantize` file) are reported.
    #[arg(long, short = 'w', value_name = "FILE")]
    pub weights: Option<PathBuf>,

    /// Number of classes (overrides the YAML's nc).
    #[arg(long)]
    pub nc: Option<usize>,

    /// Image size the GFLOPs are computed for: 640 or H,W.
    #[arg(long, default_value = "640", value_parser = parse_imgsz, allow_negative_numbers = true)]
    pub imgsz: (usize, usize),

    /// Print the table as JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: InfoArgs) -> CliResult {
    if args.nc == Some(0) {
        return Err("invalid nc: expected at least 1, found 0".into());
    }
    let mut precision = None;
    let spec = match (&args.model, &args.weights) {
        (Some(model), None) => load_spec(model, args.nc)?,
        (model, Some(path)) => {
            let options = DetectorOptions {
                threads: Some(1),
                ..DetectorOptions::default()
            };
            let detector = match model {
                Some(m) => Detector::load(m, &WeightsChoice::File(path.clone()), options)?,
                None => Detector::from_weights(path, options)?,
            };
            precision = Some(crate::bench::precision_line(detector.quantization()));
            let spec = detector
                .spec()
                .ok_or("the weights describe no model")?
                .clone();
            match args.nc {
                Some(nc) => spec.with_nc(nc)?,
                None => spec,
            }
        }
        (None, None) => unreachable!("clap requires --model or --weights"),
    };
    let (h, w) = round_imgsz(args.imgsz, spec.max_stride());
    let info = ModelInfo::new(&spec, h, w)?;
    let isa = ghost_kernels::backend().label();
    if args.json {
        let mut json = info.to_json();
        if let Some(object) = json.as_object_mut() {
            object.insert("isa".into(), isa.into());
            if let Some(p) = &precision {
                object.insert(
                    "precision".into(),
                    p.trim_start_matches("precision: ").into(),
                );
            }
        }
        println!("{}", serde_json::to_string_pretty(&json)?);
    } else {
        println!("{}", info.table());
        println!("isa: {isa}");
        if let Some(p) = &precision {
            println!("{p}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
