//! `model.info()`: the per-layer table and the one-line summary, as trained and fused.
//!
//! Counts are computed from the [`ModelSpec`] alone, by Ultralytics' rules: parameters are
//! `sum(p.numel() for p in model.parameters())` (BN gamma/beta included, running statistics
//! not, Detect's fixed DFL conv included), GFLOPs are `2 x` thop's multiply-adds for one image of
//! the given size (see [`ghost_layers::cost`]), and "fused" is what `model.fuse()` leaves: every
//! Ultralytics `Conv`'s BatchNorm folded into a conv bias. (GhostNet's own BatchNorms are timm
//! modules that `fuse()` does not touch; this engine folds them at load time anyway.)

mod ghostnet;
mod tally;

use std::fmt::Write as _;

use serde::Serialize;

use tally::{Hw, Tally};

use crate::error::{Result, YoloError};
use crate::spec::{format_args_list, LayerSpec, ModelSpec, ModuleSpec, Source};

/// One row of the layer table.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LayerInfo {
    /// Layer index.
    pub index: usize,
    /// `from` as written.
    pub from: String,
    /// Repeats after the depth gain.
    pub repeats: usize,
    /// Python type path of the module.
    pub module: String,
    /// Constructor arguments as Ultralytics prints them.
    pub args: String,
    /// Parameters as trained.
    pub params: u64,
    /// GFLOPs as trained.
    pub gflops: f64,
    /// Parameters with BatchNorms fused.
    pub fused_params: u64,
    /// GFLOPs with BatchNorms fused.
    pub fused_gflops: f64,
    /// Output `[channels, height, width]` (empty for GhostNet and Detect, which return lists).
    pub output: Vec<usize>,
}

/// The whole table plus totals.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ModelInfo {
    /// Model name (`yolo11n-ghost`, ...).
    pub name: String,
    /// Image size the GFLOPs are for, `[height, width]`.
    pub imgsz: [usize; 2],
    /// Per-layer rows.
    pub layers: Vec<LayerInfo>,
    /// Total parameters as trained.
    pub params: u64,
    /// Total GFLOPs as trained.
    pub gflops: f64,
    /// Total parameters fused.
    pub fused_params: u64,
    /// Total GFLOPs fused.
    pub fused_gflops: f64,
    /// Leaf modules as trained (Ultralytics' "layers").
    pub leaf_layers: usize,
    /// Leaf modules fused.
    pub fused_leaf_layers: usize,
}

impl ModelInfo {
    /// Counts `spec` for one `height x width` image (Ultralytics' default is 640 x 640).
    pub fn new(spec: &ModelSpec, height: usize, width: usize) -> Result<ModelInfo> {
        let stride = spec.max_stride();
        if height == 0
            || width == 0
            || !height.is_multiple_of(stride)
            || !width.is_multiple_of(stride)
        {
            return Err(YoloError::InputShape {
                operand: "imgsz",
                expected: format!("positive multiples of the model stride {stride}"),
                found: format!("{height}x{width}"),
            });
        }
        let mut sizes: Vec<Hw> = Vec::with_capacity(spec.layers.len());
        let mut backbone_levels = [Hw { h: 0, w: 0 }; 4];
        let mut total = Tally::default();
        let mut layers = Vec::with_capacity(spec.layers.len());
        for layer in &spec.layers {
            let size_of = |s: &Source| match s {
                Source::Image => Hw {
                    h: height,
                    w: width,
                },
                Source::Layer(i) => sizes[*i],
            };
            let input = size_of(&layer.inputs[0]);
            let mut t = Tally::default();
            let out = match &layer.module {
                ModuleSpec::GhostNet { width: w, .. } => {
                    let (g, levels) = ghostnet::ghostnet(*w, input);
                    t = g;
                    backbone_levels = levels;
                    levels[3]
                }
                ModuleSpec::Index { index, .. } => {
                    identity(&mut t);
                    backbone_levels[*index]
                }
                ModuleSpec::Detect(d) => {
                    let levels: Vec<Hw> = layer.inputs.iter().map(size_of).collect();
                    tally::detect(&mut t, d, &levels);
                    input
                }
                ModuleSpec::Concat { .. } => {
                    identity(&mut t);
                    input
                }
                ModuleSpec::Upsample { factor, .. } => {
                    identity(&mut t);
                    Hw {
                        h: input.h * factor,
                        w: input.w * factor,
                    }
                }
                m => {
                    let mut hw = input;
                    for _ in 0..layer.copies {
                        hw = single_module(&mut t, m, hw);
                    }
                    hw
                }
            };
            sizes.push(out);
            layers.push(row(layer, &t, out));
            total += t;
        }
        let shared_act = usize::from(total.uses_default_act);
        Ok(ModelInfo {
            name: spec.name.clone(),
            imgsz: [height, width],
            layers,
            params: total.cost.params_trained,
            gflops: total.cost.gflops_trained(),
            fused_params: total.cost.params_fused,
            fused_gflops: total.cost.gflops_fused(),
            leaf_layers: total.leaves + shared_act,
            fused_leaf_layers: total.fused_leaves + shared_act,
        })
    }

    /// `"NAME summary: L layers, P parameters, F GFLOPs"` (`fused` adds " (fused)").
    pub fn summary(&self, fused: bool) -> String {
        let (tag, layers, params, gflops) = if fused {
            (
                " (fused)",
                self.fused_leaf_layers,
                self.fused_params,
                self.fused_gflops,
            )
        } else {
            ("", self.leaf_layers, self.params, self.gflops)
        };
        format!(
            "{} summary{tag}: {} layers, {} parameters, {gflops:.1} GFLOPs",
            display_name(&self.name),
            thousands(layers as u64),
            thousands(params)
        )
    }

    /// The per-layer table followed by both summaries.
    pub fn table(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{:>3}{:>20}{:>3}{:>10}{:>10}  {:<45}{:<30}",
            "", "from", "n", "params", "GFLOPs", "module", "arguments"
        );
        for l in &self.layers {
            let _ = writeln!(
                s,
                "{:>3}{:>20}{:>3}{:>10}{:>10.3}  {:<45}{:<30}",
                l.index, l.from, l.repeats, l.params, l.gflops, l.module, l.args
            );
        }
        let _ = writeln!(s, "{}", self.summary(false));
        let _ = write!(s, "{}", self.summary(true));
        s
    }

    /// `{"params", "gflops", "fused_params", "fused_gflops", "layers": [...]}` plus the name,
    /// image size and leaf-layer counts.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
}

fn identity(t: &mut Tally) {
    t.leaves += 1;
    t.fused_leaves += 1;
}

/// One copy of a single-input, single-output module.
fn single_module(t: &mut Tally, m: &ModuleSpec, hw: Hw) -> Hw {
    match m {
        ModuleSpec::Conv(a) | ModuleSpec::DWConv(a) => tally::conv(t, a, hw),
        ModuleSpec::GhostConv(a) => tally::ghost_conv(t, a, hw),
        ModuleSpec::Bottleneck(a) => tally::bottleneck(t, a, hw),
        ModuleSpec::C2f(a) => tally::c2f(t, a, hw),
        ModuleSpec::C3(a) => tally::c3(t, a, hw),
        ModuleSpec::C3k2(a) => tally::c3k2(t, a, hw),
        ModuleSpec::C3Ghost(a) => tally::c3ghost(t, a, hw),
        ModuleSpec::GhostBottleneck(a) => tally::ghost_bottleneck(t, a, hw),
        ModuleSpec::Sppf(a) => tally::sppf(t, a, hw),
        ModuleSpec::C2psa(a) => tally::c2psa(t, a, hw),
        ModuleSpec::Upsample { .. }
        | ModuleSpec::Concat { .. }
        | ModuleSpec::Detect(_)
        | ModuleSpec::GhostNet { .. }
        | ModuleSpec::Index { .. } => unreachable!("handled by ModelInfo::new"),
    }
}

fn row(layer: &LayerSpec, t: &Tally, out: Hw) -> LayerInfo {
    let c = layer.out_channels();
    LayerInfo {
        index: layer.index,
        from: layer.from.to_string(),
        repeats: layer.repeats,
        module: layer.module.kind().python_type().to_string(),
        args: format_args_list(&layer.args),
        params: t.cost.params_trained,
        gflops: t.cost.gflops_trained(),
        fused_params: t.cost.params_fused,
        fused_gflops: t.cost.gflops_fused(),
        output: if c == 0 {
            Vec::new()
        } else {
            vec![c, out.h, out.w]
        },
    }
}

/// Ultralytics' display name: `yolo` -> `YOLO` (`YOLO11n-ghost`).
fn display_name(name: &str) -> String {
    name.replace("yolo", "YOLO")
}

/// `1234567` -> `1,234,567`.
fn thousands(v: u64) -> String {
    let digits = v.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::thousands;

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(2624080), "2,624,080");
    }
}
