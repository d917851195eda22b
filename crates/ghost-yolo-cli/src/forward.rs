//! `ghost-yolo forward`: run the raw network on a safetensors tensor `images` [N, 3, H, W] and
//! write `output0` [N, 4 + nc, anchors] (the tensor Ultralytics' model returns in eval mode).

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use ndarray::ArrayView4;
use safetensors::{tensor::TensorView, Dtype, SafeTensors};
use yolo11_ghost::detector::DetectorOptions;

use ghost_limits::text::display_path;

use crate::common::{parse_threads, CliResult, ModelArgs};
use crate::detect::input_set;
use crate::output::write_atomic;

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
    let (shape, values) = read_images(&args.input)?;
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
    let serialized = safetensors::serialize([("output0", view)], Some(metadata))
        .map_err(|e| format!("cannot write {}: {e}", display_path(&args.output)))?;
    let inputs = input_set(std::slice::from_ref(&args.input), &args.model);
    write_atomic(&args.output, &inputs, |w| {
        std::io::Write::write_all(w, &serialized)
            .map_err(|e| format!("cannot write {}: {e}", display_path(&args.output)))
    })?;
    println!(
        "output0 {:?} written to {}",
        out_shape,
        args.output.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// The `images` tensor of a safetensors file as (shape, values). The file is read with the
/// tensor file cap (a regular file only: `/dev/zero` or a FIFO is refused), and its bytes are
/// dropped before the model runs: an 8192x8192 input used to be held three times (file bytes,
/// f32 copy, the model's own layout); the model now runs beside one copy.
fn read_images(path: &std::path::Path) -> Result<(Vec<usize>, Vec<f32>), String> {
    let shown = display_path(path);
    let bytes = ghost_limits::read_bounded(path, ghost_limits::budget::tensor_file())
        .map_err(|e| e.to_string())?;
    let tensors = SafeTensors::deserialize(&bytes)
        .map_err(|e| format!("{shown} is not a safetensors file: {e}"))?;
    let images = tensors.tensor("images").map_err(|_| {
        format!(
            "{shown} has no tensor named \"images\" (found: {})",
            tensors.names().join(", ")
        )
    })?;
    if images.dtype() != Dtype::F32 {
        return Err(format!(
            "input images: expected dtype F32, found {:?}",
            images.dtype()
        ));
    }
    let shape = images.shape().to_vec();
    if shape.len() != 4 || shape[1] != 3 {
        return Err(format!(
            "input images: expected shape [N, 3, H, W], found {shape:?}"
        ));
    }
    // The same side limit as --imgsz: activations grow with the square of the side.
    let max = ghost_limits::budget::max_imgsz();
    if shape[2] > max || shape[3] > max {
        return Err(format!(
            "input images: {}x{} is above the largest side {max} (raise GHOST_YOLO_MAX_IMGSZ)",
            shape[2], shape[3]
        ));
    }
    let values: Vec<f32> = images
        .data()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    Ok((shape, values))
}
