//! `ghost-yolo info`: the per-layer table and Ultralytics-style summary of a model.

use std::process::ExitCode;

use clap::Args;
use yolo11_ghost::info::ModelInfo;

use crate::common::{load_spec, parse_imgsz, round_imgsz, CliResult};

/// Arguments of `ghost-yolo info`.
#[derive(Debug, Args)]
pub struct InfoArgs {
    /// Built-in model name (yolo11n ... yolo11x, yolo11n-ghost ... yolo11x-ghost) or a model YAML path.
    #[arg(long, short = 'm', value_name = "NAME|YAML")]
    pub model: String,

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
    let spec = load_spec(&args.model, args.nc)?;
    let (h, w) = round_imgsz(args.imgsz, spec.max_stride());
    let info = ModelInfo::new(&spec, h, w)?;
    let isa = ghost_kernels::backend().label();
    if args.json {
        let mut json = info.to_json();
        if let Some(object) = json.as_object_mut() {
            object.insert("isa".into(), isa.into());
        }
        println!("{}", serde_json::to_string_pretty(&json)?);
    } else {
        println!("{}", info.table());
        println!("isa: {isa}");
    }
    Ok(ExitCode::SUCCESS)
}
