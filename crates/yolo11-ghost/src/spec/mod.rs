//! Ultralytics model YAML -> a resolved model specification.
//!
//! [`ModelSpec`] is what Ultralytics' `parse_model` builds, minus the tensors: one [`LayerSpec`]
//! per layer index with its inputs, repeat count and constructor arguments resolved by the same
//! rules (width/depth scaling, `max_channels`, C3k2's `c3k` at m/l/x, Concat channel sums,
//! Detect's input channels). A GhostNet backbone row occupies layer indices 0-4: index 0 is the
//! backbone itself (its output is a list nobody reads directly) and 1-4 pick its stride 4/8/16/32
//! outputs, whether the YAML writes the single-row form or the native `Index` rows.

mod builtin;
mod module;
mod parse;
mod scale;
mod value;
mod yaml;

use std::path::Path;

pub use builtin::{builtin_model_names, builtin_yaml};
pub use module::{
    hidden_channels, BottleneckArgs, C2psaArgs, C3k2Args, ConvArgs, CspArgs, DetectArgs,
    GhostBottleneckArgs, GhostConvArgs, ModuleKind, ModuleSpec, SppfArgs,
};
pub use scale::{ceil_to_multiple, guess_model_scale, unify_model_name, Scale};
pub use value::{format_args_list, ArgValue};
pub use yaml::LayerFrom;
pub(crate) use yaml::{parse_yaml, RawModel};

use crate::error::{Result, YoloError};

/// The largest integer a model YAML may give for a count, size or channel number (`nc`,
/// repeats, kernel sizes, strides, output channels after width scaling): far above any real
/// model (YOLO11x has 640 channels), low enough that products of a few of them cannot overflow
/// and that a hostile YAML is refused with a row error instead of asking for terabytes.
pub const MAX_INT: i64 = 1 << 16;

/// Number of GhostNet outputs (strides 4, 8, 16, 32).
pub const GHOSTNET_OUTPUTS: usize = 4;

/// The coarsest output stride a model may have. Input sides must be multiples of the model's
/// coarsest stride, so anything near this is already unusable; YOLO11 tops out at 32.
pub const MAX_STRIDE: usize = 1 << 16;

/// `base^exp`, saturating at `usize::MAX` (a YAML can ask for 99 stride-2 copies).
fn saturating_power(base: usize, exp: usize) -> usize {
    base.saturating_pow(u32::try_from(exp).unwrap_or(u32::MAX))
}

/// GhostNet output channels at `width` (the last block at each stride: blocks 2, 4, 6, 9, with
/// 24, 40, 112 and 960 channels at width 1), timm's `make_divisible(c * width, 4)`.
pub fn ghostnet_channels(width: f64) -> [usize; 4] {
    ghost_backbone::GhostNetConfig::ultralytics_backbone(width).feature_channels()
}

/// Where a layer reads its input from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Source {
    /// The input image (only layer 0).
    Image,
    /// The output of an earlier layer.
    Layer(usize),
}

/// One layer of the model, as `parse_model` resolves it.
#[derive(Clone, Debug, PartialEq)]
pub struct LayerSpec {
    /// Layer index (the `i` in `model.{i}.` tensor names).
    pub index: usize,
    /// `from` as written in the YAML.
    pub from: LayerFrom,
    /// Resolved inputs, in order.
    pub inputs: Vec<Source>,
    /// Repeats after the depth gain (what Ultralytics prints in its `n` column).
    pub repeats: usize,
    /// Chained copies of the module (`nn.Sequential`, tensor names `model.{i}.{j}.`): the repeat
    /// count for non-repeat modules, 1 for modules that take `n` as an argument.
    pub copies: usize,
    /// The module with resolved constructor arguments.
    pub module: ModuleSpec,
    /// The constructor arguments as Ultralytics prints them.
    pub args: Vec<ArgValue>,
}

impl LayerSpec {
    /// Output channels of the layer (0 for GhostNet and Detect, which return lists).
    pub fn out_channels(&self) -> usize {
        self.module.out_channels()
    }

    /// Tensor-name prefix of copy `j` (`model.6.` or, for chained copies, `model.6.1.`).
    pub fn prefix(&self, copy: usize) -> String {
        if self.copies > 1 {
            format!("model.{}.{}", self.index, copy)
        } else {
            format!("model.{}", self.index)
        }
    }
}

/// A whole model: layers plus the settings that shaped them.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelSpec {
    /// Display name (`yolo11n-ghost`, or the YAML file stem).
    pub name: String,
    /// Where the YAML came from.
    pub source_name: String,
    /// The scale key used, if the YAML has a `scales` table (or a scale was guessed).
    pub scale: Option<String>,
    /// The depth/width/max-channels rule applied.
    pub scale_rule: Scale,
    /// Number of classes.
    pub nc: usize,
    /// DFL bins.
    pub reg_max: usize,
    /// Input image channels.
    pub input_channels: usize,
    /// Layers in index order.
    pub layers: Vec<LayerSpec>,
    /// The YAML it was parsed from (to re-parse with another class count).
    pub(crate) raw: RawModel,
}

/// How a model is named: a built-in name or a YAML file, with an optional scale.
impl ModelSpec {
    /// A built-in model by name (`yolo11n`, `yolo11m-ghost`, ...; see [`builtin_model_names`]),
    /// or, if `name` ends in `.yaml`/`.yml`, a YAML file (scale guessed from its stem, else the
    /// first of its `scales`).
    pub fn from_name(name: &str) -> Result<ModelSpec> {
        if name.ends_with(".yaml") || name.ends_with(".yml") {
            return ModelSpec::from_yaml_path(name, None);
        }
        let stem = name.trim();
        let text = builtin_yaml(stem).ok_or_else(|| YoloError::UnknownModel {
            name: name.to_string(),
            known: builtin_model_names().join(", "),
        })?;
        let scale = guess_model_scale(stem).map(String::from);
        ModelSpec::from_yaml_str(text, stem, scale.as_deref(), None)
    }

    /// A YAML file; `scale` picks a row of its `scales` (default: guessed from the file stem as
    /// Ultralytics does, else the table's first row).
    pub fn from_yaml_path(path: impl AsRef<Path>, scale: Option<&str>) -> Result<ModelSpec> {
        let path = path.as_ref();
        let text = ghost_limits::read_text_bounded(path, ghost_limits::budget::yaml_file())?;
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("model")
            .to_string();
        let guessed = guess_model_scale(&stem).map(String::from);
        let scale = scale.map(str::to_string).or(guessed);
        ModelSpec::from_yaml_str(&text, &stem, scale.as_deref(), None).map_err(|e| e.in_file(path))
    }

    /// YAML text; `name` is used for display and messages. `nc` overrides the YAML's `nc`.
    pub fn from_yaml_str(
        text: &str,
        name: &str,
        scale: Option<&str>,
        nc: Option<usize>,
    ) -> Result<ModelSpec> {
        let raw = parse_yaml(text, name)?;
        parse::parse_model(&raw, scale, nc, name)
    }

    /// The same model re-parsed with another class count (as when the weights say so).
    pub fn with_nc(&self, nc: usize) -> Result<ModelSpec> {
        parse::parse_model(&self.raw, self.scale.as_deref(), Some(nc), &self.name)
    }

    /// Stride (input pixels per output pixel) of every layer's output; GhostNet's entry is its
    /// coarsest output (32), Detect's the coarsest of its inputs.
    pub fn strides(&self) -> Vec<usize> {
        let mut strides: Vec<usize> = Vec::with_capacity(self.layers.len());
        for layer in &self.layers {
            let input = |k: usize| match layer.inputs.get(k) {
                Some(Source::Layer(i)) => strides[*i],
                _ => 1,
            };
            let s = match &layer.module {
                ModuleSpec::GhostNet { .. } => 32,
                ModuleSpec::Index { index, .. } => 4 << index,
                ModuleSpec::Upsample { factor, .. } => {
                    (input(0) / saturating_power(*factor, layer.copies)).max(1)
                }
                ModuleSpec::Concat { .. } => input(0),
                ModuleSpec::Detect(_) => (0..layer.inputs.len()).map(input).max().unwrap_or(1),
                m => input(0).saturating_mul(saturating_power(m.stride(), layer.copies)),
            };
            strides.push(s);
        }
        strides
    }

    /// The Detect layer's input strides (P3, P4, P5 = 8, 16, 32 for YOLO11).
    pub fn detect_strides(&self) -> Vec<usize> {
        let strides = self.strides();
        match self.layers.last() {
            Some(LayerSpec {
                module: ModuleSpec::Detect(_),
                inputs,
                ..
            }) => inputs
                .iter()
                .map(|s| match s {
                    Source::Layer(i) => strides[*i],
                    Source::Image => 1,
                })
                .collect(),
            _ => Vec::new(),
        }
    }

    /// Input height and width must be multiples of this (the coarsest stride in the model).
    pub fn max_stride(&self) -> usize {
        self.strides().into_iter().max().unwrap_or(1)
    }

    /// The Detect layer (always the last layer of a validated spec).
    pub fn detect(&self) -> &DetectArgs {
        match self.layers.last().map(|l| &l.module) {
            Some(ModuleSpec::Detect(d)) => d,
            _ => unreachable!("a validated ModelSpec ends with Detect"),
        }
    }

    /// Checks the whole-graph rules no single row can: exactly one Detect, as the last layer;
    /// Concat inputs at one resolution; upsampling never finer than the input image.
    fn validate(&self) -> Result<()> {
        let strides = self.strides();
        let last = self.layers.len() - 1;
        for (layer, &stride) in self.layers.iter().zip(&strides) {
            let kind = layer.module.kind();
            let err = |message: String| YoloError::Row {
                row: layer.index,
                module: kind.yaml_name().to_string(),
                message,
            };
            if stride > MAX_STRIDE {
                let found = match stride {
                    usize::MAX => "beyond usize".to_string(),
                    s => s.to_string(),
                };
                return Err(err(format!(
                    "output stride {found} is above the largest supported stride {MAX_STRIDE} \
                     (input sides must be multiples of the coarsest stride)"
                )));
            }
            match &layer.module {
                ModuleSpec::Detect(_) if layer.index != last => {
                    return Err(err("Detect must be the last layer".into()));
                }
                ModuleSpec::Concat { .. } => {
                    let s: Vec<usize> = layer
                        .inputs
                        .iter()
                        .map(|src| match src {
                            Source::Layer(i) => strides[*i],
                            Source::Image => 1,
                        })
                        .collect();
                    if s.windows(2).any(|w| w[0] != w[1]) {
                        return Err(err(format!(
                            "inputs {} have different strides {s:?}",
                            layer.from
                        )));
                    }
                }
                ModuleSpec::Upsample { factor, .. } => {
                    let input = match layer.inputs[0] {
                        Source::Layer(i) => strides[i],
                        Source::Image => 1,
                    };
                    if input % saturating_power(*factor, layer.copies) != 0 {
                        return Err(err(format!("upsampling a stride-{input} map by {factor} goes finer than the input image")));
                    }
                }
                _ => {}
            }
        }
        if !matches!(self.layers[last].module, ModuleSpec::Detect(_)) {
            return Err(YoloError::ModelYaml {
                source_name: self.source_name.clone(),
                message: format!(
                    "the last layer must be Detect, found {}",
                    self.layers[last].module.kind().yaml_name()
                ),
            });
        }
        Ok(())
    }
}
