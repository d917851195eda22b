//! Building a [`Detector`] from a model name / YAML and a weights choice, on [`YoloModel`]
//! (which implements [`super::DetectionModel`] in `graph.rs`).

use std::path::{Path, PathBuf};

use ghost_kernels::Threads;
use ghost_layers::{SafetensorsFile, SeededWeights, WeightSource};

use super::{parse_class_names, DetectError, Detector, DetectorOptions, Warning, WarningKind};
use crate::error::YoloError;
use crate::graph::YoloModel;
use crate::spec::{builtin_yaml, ModelSpec};

/// Where a detector's weights come from.
///
/// Non-exhaustive: `WeightsChoice::Default` exists only with the `default-model` feature.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum WeightsChoice {
    /// A `.safetensors` file with Ultralytics `state_dict` names (e.g. from
    /// `tools/export_ultralytics.py`); class names come from its `names` metadata.
    File(PathBuf),
    /// The deterministic seeded generator (team-brief "Seeded weights"): for tests and benchmarks,
    /// the detections are meaningless.
    Seeded(u64),
    /// The default model's weights, embedded in this library ([`DEFAULT_WEIGHTS`]; feature
    /// `default-model`).
    #[cfg(feature = "default-model")]
    Default,
}

/// The default model, compiled into the library so that it works from any working directory:
/// YOLO11n-GhostNet (GhostNet width 0.25) trained with Ultralytics on the synthetic shapes
/// dataset of `tools/make_synthetic_dataset.py` (6 classes, imgsz 320; see `docs/training.md`).
/// A safetensors file with the usual metadata (model YAML, class names, imgsz).
/// Only with the `default-model` feature (3.7 MB in every binary that links it).
#[cfg(feature = "default-model")]
pub static DEFAULT_WEIGHTS: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/assets/yolo11n-ghost-shapes.safetensors"
));

/// How the embedded default weights (`DEFAULT_WEIGHTS`, feature `default-model`) are named in
/// messages.
pub const DEFAULT_WEIGHTS_NAME: &str = "<embedded default model yolo11n-ghost-shapes>";

/// Default global seed for [`WeightsChoice::Seeded`] when none is given.
pub const DEFAULT_SEED: u64 = 0x0123_4567_89ab_cdef;

/// The model used when neither a model nor a weights file names one.
pub const DEFAULT_MODEL: &str = "yolo11n-ghost";

impl Detector {
    /// Build `model` (a built-in name such as `yolo11n-ghost`, or a YAML path) with `weights`,
    /// wrapped in a detector with `options`. The class count follows the weights (a YAML with
    /// `nc: 80` loads a 3-class checkpoint); class names come from the file's `names` metadata
    /// (else `class{i}`).
    pub fn load(
        model: &str,
        weights: &WeightsChoice,
        options: DetectorOptions,
    ) -> Result<Self, DetectError> {
        let spec = ModelSpec::from_name(model)?;
        Self::load_spec(&spec, weights, options)
    }

    /// A detector for a weights file that describes its own model (`model_yaml` / `yaml_file`
    /// metadata, as `tools/export_ultralytics.py` writes them).
    pub fn from_weights(path: &Path, options: DetectorOptions) -> Result<Self, DetectError> {
        let file = open(path)?;
        let spec = spec_from_metadata(&file)?;
        Self::from_file(&spec, &file, options)
    }

    /// The default model ([`DEFAULT_WEIGHTS`]): a trained YOLO11n-GhostNet that finds the
    /// synthetic shapes of the shipped sample images. Feature `default-model`.
    #[cfg(feature = "default-model")]
    pub fn default_model(options: DetectorOptions) -> Result<Self, DetectError> {
        let file = default_file()?;
        let spec = spec_from_metadata(&file)?;
        Self::from_file(&spec, &file, options)
    }

    /// [`Detector::load`] for an already parsed specification.
    pub fn load_spec(
        spec: &ModelSpec,
        weights: &WeightsChoice,
        options: DetectorOptions,
    ) -> Result<Self, DetectError> {
        match weights {
            WeightsChoice::File(path) => Self::from_file(spec, &open(path)?, options),
            #[cfg(feature = "default-model")]
            WeightsChoice::Default => Self::from_file(spec, &default_file()?, options),
            WeightsChoice::Seeded(seed) => {
                let threads = options.thread_pool()?;
                let source = SeededWeights::new(*seed);
                let model = YoloModel::load_with(spec, &source as &dyn WeightSource, &threads)?;
                Self::with_spec(model, Vec::new(), options, threads)
            }
        }
    }

    fn from_file(
        spec: &ModelSpec,
        file: &SafetensorsFile,
        options: DetectorOptions,
    ) -> Result<Self, DetectError> {
        let threads = options.thread_pool()?;
        let model = YoloModel::load_with(spec, file, &threads)?;
        let names = match file.metadata_value("names") {
            Some(json) => parse_class_names(json)?,
            None => Vec::new(),
        };
        let mut detector = Self::with_spec(model, names, options, threads)?;
        detector.trained_imgsz = match file.metadata_value("imgsz") {
            None => None,
            Some(v) => {
                let max = ghost_limits::budget::max_imgsz();
                let parsed = ghost_limits::int::parse_in_range(v, 1, max as u64);
                if parsed.is_none() {
                    detector.warnings.push(Warning::new(
                        WarningKind::MetadataIgnored,
                        format!(
                            "{}: ignoring `imgsz` metadata {}: not an integer from 1 to {max}",
                            file.origin(),
                            ghost_limits::text::escape_terminal(&format!("{v:?}"))
                        ),
                    ));
                }
                parsed.map(|v| v as usize)
            }
        };
        detector.quantization = file
            .metadata_value(crate::quantize::QUANTIZATION_KEY)
            .map(|s| ghost_limits::text::escape_terminal(s).into_owned());
        detector.warnings.extend(weights_warnings(file, &spec.name));
        Ok(detector)
    }

    fn with_spec(
        model: YoloModel,
        names: Vec<String>,
        options: DetectorOptions,
        threads: Threads,
    ) -> Result<Self, DetectError> {
        let spec = model.spec().clone();
        let mut detector = Self::from_model_on(Box::new(model), names, options, threads)?;
        detector.spec = Some(spec);
        Ok(detector)
    }
}

#[cfg(feature = "default-model")]
fn default_file() -> Result<SafetensorsFile, DetectError> {
    Ok(
        SafetensorsFile::from_bytes(DEFAULT_WEIGHTS_NAME, DEFAULT_WEIGHTS.to_vec())
            .map_err(YoloError::from)?,
    )
}

/// Opens a weights file. NaN / Inf values do not stop the load: they are reported as warnings
/// (see [`weights_warnings`]), since a checkpoint is still inspectable and NaN scores never pass
/// the confidence threshold.
fn open(path: &Path) -> Result<SafetensorsFile, DetectError> {
    Ok(SafetensorsFile::open(path)
        .map_err(YoloError::from)?
        .allow_non_finite(true))
}

/// Stored tensors listed in an "unused tensors" warning before it is shortened.
const UNUSED_LISTED: usize = 5;

/// What a loaded weights file holds that deserves a warning: tensors with NaN / Inf values,
/// and tensors the model never asked for (a sign of a wrong `--model` or a truncated export).
fn weights_warnings(file: &SafetensorsFile, model: &str) -> Vec<Warning> {
    let mut warnings: Vec<Warning> = file
        .non_finite()
        .iter()
        .map(|r| Warning::new(WarningKind::NonFiniteWeights, r.to_string()))
        .collect();
    let unused = file.unused();
    if !unused.is_empty() {
        let mut listed = unused
            .iter()
            .take(UNUSED_LISTED)
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", ");
        if unused.len() > UNUSED_LISTED {
            listed.push_str(&format!(" and {} more", unused.len() - UNUSED_LISTED));
        }
        warnings.push(Warning::new(
            WarningKind::UnusedTensors,
            format!(
                "{}: {} tensor(s) not used by model {model}: {listed} (wrong --model?)",
                file.origin(),
                unused.len()
            ),
        ));
    }
    warnings
}

/// The model a weights file was exported from: its `model_yaml` (the model dict as trained, in
/// JSON, which is valid YAML) with its `scale`, else its built-in `yaml_file` name.
pub(crate) fn spec_from_metadata(file: &SafetensorsFile) -> Result<ModelSpec, DetectError> {
    let stem = file.metadata_value("yaml_file").map(|f| {
        f.trim_end_matches(".yaml")
            .trim_end_matches(".yml")
            .to_string()
    });
    let scale = file
        .metadata_value("scale")
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    if let Some(yaml) = file.metadata_value("model_yaml") {
        let name = stem.as_deref().unwrap_or("model");
        return Ok(ModelSpec::from_yaml_str(
            yaml,
            name,
            scale.as_deref(),
            None,
        )?);
    }
    match stem {
        Some(stem) if builtin_yaml(&stem).is_some() => Ok(ModelSpec::from_name(&stem)?),
        _ => Err(DetectError::Metadata {
            key: "model_yaml".into(),
            message:
                "the weights do not say which model they belong to: name it (--model NAME|YAML)"
                    .into(),
        }),
    }
}
