//! Building a [`Detector`] from a model name / YAML and a weights choice, on [`YoloModel`]
//! (which implements [`super::DetectionModel`] in `graph.rs`).

use std::path::PathBuf;

use ghost_layers::{SafetensorsFile, SeededWeights, WeightSource};

use super::{parse_class_names, DetectError, Detector, DetectorOptions};
use crate::error::YoloError;
use crate::graph::YoloModel;
use crate::spec::ModelSpec;

/// Where a detector's weights come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WeightsChoice {
    /// A `.safetensors` file with Ultralytics `state_dict` names (e.g. from
    /// `tools/export_ultralytics.py`); class names come from its `names` metadata.
    File(PathBuf),
    /// The deterministic seeded generator (team-brief "Seeded weights"): for tests and benchmarks,
    /// the detections are meaningless.
    Seeded(u64),
}

/// Default global seed for [`WeightsChoice::Seeded`] when none is given.
pub const DEFAULT_SEED: u64 = 0x0123_4567_89ab_cdef;

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

    /// [`Detector::load`] for an already parsed specification.
    pub fn load_spec(
        spec: &ModelSpec,
        weights: &WeightsChoice,
        options: DetectorOptions,
    ) -> Result<Self, DetectError> {
        let (model, names) = match weights {
            WeightsChoice::File(path) => {
                let file = SafetensorsFile::open(path).map_err(YoloError::from)?;
                let model = YoloModel::load(spec, &file)?;
                let names = match file.metadata_value("names") {
                    Some(json) => parse_class_names(json)?,
                    None => Vec::new(),
                };
                (model, names)
            }
            WeightsChoice::Seeded(seed) => {
                let source = SeededWeights::new(*seed);
                let model = YoloModel::load(spec, &source as &dyn WeightSource)?;
                (model, Vec::new())
            }
        };
        Self::from_model(Box::new(model), names, options)
    }
}
