//! `ghost-yolo forward`: run the raw network on a safetensors tensor `images` [N, 3, H, W] and
//! write `output0` [N, 4 + nc, anchors] (the tensor Ultralytics' model returns in eval mode).

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use ndarray::ArrayView4;
use safetensors::{tensor::TensorView, Dtype, SafeTensors};
use yolo11_ghost::detector::DetectorOptions;

use crate::common::{parse_threads, CliResult, ModelArgs};

/// Arguments of `ghost-yolo forward`.
#[derive(Debug, Args)]
pub struct ForwardArgs {
    #[command(flatten)]
    pub model: ModelArgs,

    /// Input .safetensors holding an F32 tensor `images` of shape [N, 3, H, W] (RGB, 0-1).
    #[arg(long, value_name = "IN.safetensors")]
    pub input: PathBuf,

    /// Output .safetensors to write `output0` [N, 4+nc, anchors] into.
    #[arg(long, value_name = "OUT.safetensors")]
    pub output: PathBuf,

    /// Kernel threads (default: all cores).
    #[arg(long, value_parser = parse_threads, allow_negative_numbers = true)]
    pub threads: Option<usize>,
}

pub fn run(args: ForwardArgs) -> CliResult {
    let bytes = std::fs::read(&args.input)
        .map_err(|e| format!("cannot read {}: {e}", args.input.display()))?;
    let tensors = SafeTensors::deserialize(&bytes)
        .map_err(|e| format!("{} is not a safetensors file: {e}", args.input.display()))?;
    let images = tensors.tensor("images").map_err(|_| {
        format!(
            "{} has no tensor named \"images\" (found: {})",
            args.input.display(),
            tensors.names().join(", ")
        )
    })?;
    if images.dtype() != Dtype::F32 {
        return Err(format!(
            "input images: expected dtype F32, found {:?}",
            images.dtype()
        )
        .into());
    }
    let shape = images.shape().to_vec();
    if shape.len() != 4 || shape[1] != 3 {
        return Err(format!("input images: expected shape [N, 3, H, W], found {shape:?}").into());
    }
    let values: Vec<f32> = images
        .data()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    let array = ArrayView4::from_shape((shape[0], shape[1], shape[2], shape[3]), &values)
        .map_err(|e| format!("input images: {e}"))?;

    let options = DetectorOptions {
        threads: args.threads,
        ..DetectorOptions::default()
    };
    let detector = args.model.detector(options)?;
    let output = detector.forward(array)?;
    let out_shape = output.shape().to_vec();
    let out_bytes: Vec<u8> = output.iter().flat_map(|v| v.to_le_bytes()).collect();
    let view = TensorView::new(Dtype::F32, out_shape.clone(), &out_bytes)
        .map_err(|e| format!("output0: {e}"))?;
    let metadata = HashMap::from([("producer".to_string(), "ghost-yolo forward".to_string())]);
    safetensors::serialize_to_file([("output0", view)], Some(metadata), &args.output)
        .map_err(|e| format!("cannot write {}: {e}", args.output.display()))?;
    println!(
        "output0 {:?} written to {}",
        out_shape,
        args.output.display()
    );
    Ok(ExitCode::SUCCESS)
}
