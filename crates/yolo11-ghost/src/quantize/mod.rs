//! Post-training INT8 quantization (`ghost-yolo quantize`): calibrate activation ranges on
//! images of a dataset's val split with the FP32 model, quantize the weights of every conv that
//! does not stay FP32 (s8, symmetric, per output channel, after BatchNorm folding) and its input
//! (u8, asymmetric, per tensor, MinMax), and write an ordinary safetensors file that every
//! loader of this crate reads like any weights file (see `ghost_layers::quant` for the tensor
//! names, and `docs/int8.md` for the accuracy and speed measured).
//!
//! Calibration runs the FP32 model with the context's range observer on
//! ([`ghost_layers::Context::enable_range_observer`]): every conv records its input's min and
//! max, inside GhostNet's blocks too (a hook in the node loop would not see them). A conv that a
//! rewrite splits by input channel records both halves under its own name: the range of the
//! Concat it reads.

mod recording;
mod rules;
mod tensors;
mod write;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use ghost_image::image_io::load_rgb;
use ghost_layers::{SafetensorsFile, SeededWeights, WeightSource, QUANT_SCHEME};

use crate::detector::{DetectError, DetectorOptions, WeightsChoice};
use crate::error::YoloError;
use crate::graph::YoloModel;
use crate::letterbox::{to_input_tensor, Letterbox};
use crate::spec::{builtin_yaml, ModelSpec};
use crate::val::Dataset;

pub use recording::{RecordedTensor, Recording};
pub use rules::{Fp32Rule, DEFAULT_FP32_RULES, NARROW_CHANNELS, NARROW_DENSE_CHANNELS};
pub use tensors::{quantized_tensors, LayerDecision, OutTensor};
pub use write::write_safetensors;

/// Calibration images when `--images` is not given. Ultralytics' INT8 exports calibrate on the
/// data YAML's val split (times `fraction`, default 1.0) and warn below 300 images
/// (`ultralytics/engine/exporter.py`, `get_int8_calibration_dataloader`: ">300 images
/// recommended for INT8 calibration"); NNCF's `quantize` (OpenVINO INT8) defaults to
/// `subset_size=300`. So: the first 300 images of the split in sorted order, or all of them
/// when there are fewer.
pub const DEFAULT_CALIBRATION_IMAGES: usize = 300;

/// Metadata key of a quantized file's scheme ([`QUANT_SCHEME`]).
pub const QUANTIZATION_KEY: &str = "quantization";

/// Why quantizing failed.
#[derive(Debug, thiserror::Error)]
pub enum QuantizeError {
    /// Loading the model, its weights or an image.
    #[error(transparent)]
    Detect(#[from] DetectError),
    /// The model.
    #[error(transparent)]
    Model(#[from] YoloError),
    /// The dataset split holds no image.
    #[error("{}: split `{split}` holds no images to calibrate on", data.display())]
    NoImages {
        /// The data YAML.
        data: PathBuf,
        /// The split.
        split: String,
    },
    /// The output would overwrite an input.
    #[error("{}: refusing to overwrite the input weights; choose another -o", path.display())]
    SameFile {
        /// The path.
        path: PathBuf,
    },
    /// An option is unusable.
    #[error("invalid {option}: {reason}")]
    Option {
        /// Which option.
        option: &'static str,
        /// Why.
        reason: String,
    },
    /// Serialising the file failed.
    #[error("{}: cannot write the quantized model: {reason}", path.display())]
    Write {
        /// The output file.
        path: PathBuf,
        /// What failed.
        reason: String,
    },
    /// Writing the file failed.
    #[error("{}: cannot write the quantized model: {source}", path.display())]
    Io {
        /// The output file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
}

/// How to quantize.
#[derive(Clone, Debug, PartialEq)]
pub struct QuantizeOptions {
    /// At most this many calibration images (the first of the split).
    pub images: usize,
    /// Calibration image size (square letterbox, as Ultralytics' calibration dataset); default
    /// the weights' `imgsz` metadata, else 640.
    pub imgsz: Option<usize>,
    /// Convs kept in FP32 (default [`DEFAULT_FP32_RULES`]).
    pub fp32: Vec<Fp32Rule>,
    /// Kernel threads (default all cores).
    pub threads: Option<usize>,
}

impl Default for QuantizeOptions {
    fn default() -> Self {
        QuantizeOptions {
            images: DEFAULT_CALIBRATION_IMAGES,
            imgsz: None,
            fp32: DEFAULT_FP32_RULES.to_vec(),
            threads: None,
        }
    }
}

/// What [`quantize`] did.
#[derive(Clone, Debug, PartialEq)]
pub struct QuantizeReport {
    /// The model's name.
    pub model: String,
    /// Images calibrated on.
    pub calibration_images: usize,
    /// Images the split holds.
    pub available_images: usize,
    /// Calibration size.
    pub imgsz: usize,
    /// One row per conv that ran, in name order.
    pub layers: Vec<LayerDecision>,
}

impl QuantizeReport {
    /// Convs running as INT8.
    pub fn int8_layers(&self) -> usize {
        self.layers.iter().filter(|l| l.int8).count()
    }
}

/// Quantizes `model` (a built-in name or YAML; `None`: the model the weights describe) with
/// `weights`, calibrating on `data`'s images, and writes the INT8 model to `output`.
pub fn quantize(
    model: Option<&str>,
    weights: &WeightsChoice,
    data: &Dataset,
    output: &Path,
    options: &QuantizeOptions,
) -> Result<QuantizeReport, QuantizeError> {
    if options.images == 0 {
        return Err(QuantizeError::Option {
            option: "images",
            reason: "at least one calibration image is needed".into(),
        });
    }
    let file = match weights {
        WeightsChoice::File(path) => {
            refuse_same_file(path, output)?;
            Some(SafetensorsFile::open(path).map_err(YoloError::from)?)
        }
        #[cfg(feature = "default-model")]
        WeightsChoice::Default => Some(
            SafetensorsFile::from_bytes(
                crate::detector::DEFAULT_WEIGHTS_NAME,
                crate::detector::DEFAULT_WEIGHTS.to_vec(),
            )
            .map_err(YoloError::from)?,
        ),
        WeightsChoice::Seeded(_) => None,
    };
    if let Some(scheme) = file
        .as_ref()
        .and_then(|f| f.metadata_value(QUANTIZATION_KEY))
    {
        return Err(QuantizeError::Option {
            option: "weights",
            reason: format!("already quantized ({scheme}); quantize the FP32 weights"),
        });
    }
    let seeded = match weights {
        WeightsChoice::Seeded(seed) => Some(SeededWeights::new(*seed)),
        _ => None,
    };
    let source: &dyn WeightSource = match (&file, &seeded) {
        (Some(f), _) => f,
        (None, Some(s)) => s,
        (None, None) => unreachable!("every weights choice opens a file or seeds weights"),
    };
    let (spec, mut metadata) = model_and_metadata(model, file.as_ref())?;
    let imgsz = options
        .imgsz
        .or_else(|| {
            file.as_ref()
                .and_then(|f| f.metadata_value("imgsz"))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(640);
    let threads = DetectorOptions {
        threads: options.threads,
        ..DetectorOptions::default()
    }
    .thread_pool()?;

    let recording = Recording::new(source);
    let yolo = YoloModel::load_with(&spec, &recording, &threads)?;
    if !imgsz.is_multiple_of(yolo.max_stride()) {
        return Err(QuantizeError::Option {
            option: "imgsz",
            reason: format!(
                "{imgsz} is not a multiple of the stride {}",
                yolo.max_stride()
            ),
        });
    }
    let used = data.samples.len().min(options.images);
    if used == 0 {
        return Err(QuantizeError::NoImages {
            data: data.yaml.clone(),
            split: data.split.clone(),
        });
    }
    // Ultralytics' calibration dataset: square letterbox at imgsz, no upscaling (val rules).
    let letterbox = Letterbox {
        stride: yolo.max_stride(),
        scaleup: false,
        ..Letterbox::new(imgsz, imgsz)
    };
    let mut ctx = ghost_layers::Context::new(threads.clone());
    ctx.enable_range_observer();
    for sample in &data.samples[..used] {
        let image = load_rgb(&sample.image).map_err(DetectError::from)?;
        let (boxed, _) = letterbox.apply(&image).map_err(DetectError::from)?;
        let tensor = to_input_tensor(&[boxed]).map_err(DetectError::from)?;
        yolo.forward(tensor.view(), &mut ctx)?;
    }
    let ranges = ctx
        .take_range_observer()
        .map(|o| o.into_ranges())
        .unwrap_or_default();

    let keep = rules::matcher(&options.fp32, &spec);
    let (tensors, layers) =
        quantized_tensors(source, recording.into_tensors(), &ranges, &|conv| {
            keep(conv)
        })?;
    metadata.insert(QUANTIZATION_KEY.into(), QUANT_SCHEME.into());
    metadata.insert(
        "quantization_calibration".into(),
        format!(
            "MinMax over {used} image(s) of {} split `{}` at imgsz {imgsz}",
            data.yaml.display(),
            data.split
        ),
    );
    write_safetensors(output, &tensors, metadata)?;
    Ok(QuantizeReport {
        model: spec.name.clone(),
        calibration_images: used,
        available_images: data.samples.len(),
        imgsz,
        layers,
    })
}

/// The spec to build and the metadata the quantized file carries (the FP32 file's, or for
/// seeded weights the model's name / YAML), so that it loads like its FP32 original.
fn model_and_metadata(
    model: Option<&str>,
    file: Option<&SafetensorsFile>,
) -> Result<(ModelSpec, HashMap<String, String>), QuantizeError> {
    let mut metadata: HashMap<String, String> =
        file.map(|f| f.metadata_entries()).unwrap_or_default();
    let spec = match (model, file) {
        (Some(name), _) => {
            let spec = ModelSpec::from_name(name)?;
            if builtin_yaml(name).is_some() {
                metadata.remove("model_yaml");
                metadata.remove("scale");
                metadata.insert("yaml_file".into(), format!("{name}.yaml"));
            } else {
                let yaml = ghost_limits::read_text_bounded(
                    Path::new(name),
                    ghost_limits::budget::yaml_file(),
                )
                .map_err(YoloError::from)?;
                metadata.insert("model_yaml".into(), yaml);
            }
            spec
        }
        (None, Some(f)) => crate::detector::load::spec_from_metadata(f)?,
        (None, None) => ModelSpec::from_name(crate::detector::DEFAULT_MODEL)?,
    };
    if file.is_none() && model.is_none() {
        metadata.insert(
            "yaml_file".into(),
            format!("{}.yaml", crate::detector::DEFAULT_MODEL),
        );
    }
    Ok((spec, metadata))
}

/// Refuses an output that is the input weights file (the same file under any path).
fn refuse_same_file(input: &Path, output: &Path) -> Result<(), QuantizeError> {
    let same = match (std::fs::canonicalize(input), std::fs::canonicalize(output)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    if same {
        return Err(QuantizeError::SameFile {
            path: output.to_path_buf(),
        });
    }
    Ok(())
}
