//! The GhostNet V1 network: stem, nine bottleneck stages, the final 1x1 conv, and optionally the
//! classifier head; forward passes for logits and for the stride 4/8/16/32 feature maps.

use ghost_kernels::Activation;
use ghost_layers::{
    Context, ConvBnAct, ConvBnNames, ConvSpec, CostTable, GhostBottleneck, GhostBottleneckSpec,
    Layer, LayerError, Result, Tensor, TensorView, WeightSource,
};

use crate::config::{
    feature_stages, GhostNetConfig, IN_CHANNELS, STAGES, STEM_KERNEL, STEM_STRIDE,
};
use crate::head::ClassifierHead;

/// One entry of `blocks`: a stage of bottlenecks, or the final 1x1 ConvBnAct (`blocks.9.0`).
#[derive(Clone, Debug)]
enum Stage {
    Bottlenecks(Vec<GhostBottleneck>),
    // Boxed: a conv layer is much larger than a Vec (clippy's large_enum_variant).
    FinalConv(Box<ConvBnAct>),
}

impl Stage {
    /// Runs the stage on `x` (borrowed: it may be a feature tap), recycling its own
    /// intermediate tensors.
    fn forward(&self, ctx: &mut Context, x: &TensorView<'_>) -> Result<Tensor> {
        match self {
            Stage::Bottlenecks(blocks) => {
                let (first, rest) = blocks.split_first().expect("every stage has a block");
                let mut y = first.forward(ctx, x)?;
                for block in rest {
                    let next = block.forward(ctx, &y.view())?;
                    ctx.recycle(std::mem::replace(&mut y, next));
                }
                Ok(y)
            }
            Stage::FinalConv(conv) => conv.forward(ctx, x),
        }
    }
}

/// What a forward pass returns.
#[derive(Clone, Debug)]
pub struct GhostNetOutput {
    /// Feature maps at strides 4, 8, 16, 32 (NHWC): the outputs of `blocks[2]`, `blocks[4]`,
    /// `blocks[6]` and `blocks[9]`.
    pub features: [Tensor; 4],
    /// Logits `n x 1 x 1 x classes`, when the model has a classifier head.
    pub logits: Option<Tensor>,
}

/// A loaded GhostNet V1 with every BatchNorm folded.
#[derive(Clone, Debug)]
pub struct GhostNet {
    config: GhostNetConfig,
    stem: ConvBnAct,
    stages: Vec<Stage>,
    head: Option<ClassifierHead>,
    taps: [usize; 4],
}

impl GhostNet {
    /// Loads a GhostNet with timm tensor names (`conv_stem.weight`, `bn1.*`,
    /// `blocks.{s}.{i}.ghost1.primary_conv.0.weight`, ..., `conv_head.*`, `classifier.*`).
    /// Wrap the source in [`ghost_layers::Prefixed`] for a GhostNet inside another model
    /// (`model.0.`).
    pub fn load(weights: &dyn WeightSource, config: GhostNetConfig) -> Result<Self> {
        if !(config.width.is_finite() && config.width > 0.0) {
            return Err(LayerError::config(
                "GhostNet",
                format!("width {} must be positive", config.width),
            ));
        }
        let eps = config.eps;
        let stem_chs = config.stem_channels();
        let stem = ConvBnAct::load(
            weights,
            &ConvBnNames::new("conv_stem", "bn1"),
            ConvSpec::new(IN_CHANNELS, stem_chs, STEM_KERNEL)
                .stride(STEM_STRIDE)
                .padding(STEM_KERNEL / 2)
                .act(Activation::Relu),
            eps,
        )?;
        let mut stages = Vec::with_capacity(STAGES.len() + 1);
        let mut prev = stem_chs;
        for (s, rows) in STAGES.iter().enumerate() {
            let mut blocks = Vec::with_capacity(rows.len());
            for (i, row) in rows.iter().enumerate() {
                let spec = GhostBottleneckSpec {
                    cin: prev,
                    mid: config.channels(row.expand),
                    cout: config.channels(row.out),
                    dw_kernel: row.kernel,
                    stride: row.stride,
                    se_ratio: row.se_ratio,
                };
                blocks.push(GhostBottleneck::load(
                    weights,
                    &format!("blocks.{s}.{i}"),
                    spec,
                    eps,
                )?);
                prev = spec.cout;
            }
            stages.push(Stage::Bottlenecks(blocks));
        }
        let final_chs = config.final_channels();
        stages.push(Stage::FinalConv(Box::new(ConvBnAct::load(
            weights,
            &ConvBnNames::timm(&format!("blocks.{}.0", STAGES.len())),
            ConvSpec::new(prev, final_chs, 1).act(Activation::Relu),
            eps,
        )?)));
        let head = if config.classifier {
            Some(ClassifierHead::load(
                weights,
                final_chs,
                config.num_classes,
            )?)
        } else {
            None
        };
        Ok(GhostNet {
            config,
            stem,
            stages,
            head,
            taps: feature_stages(),
        })
    }

    /// The configuration it was loaded with (`num_classes` as given, see [`GhostNet::num_classes`]).
    pub fn config(&self) -> &GhostNetConfig {
        &self.config
    }

    /// Number of classes of the classifier head, if any.
    pub fn num_classes(&self) -> Option<usize> {
        self.head.as_ref().map(ClassifierHead::num_classes)
    }

    /// Channels of the stride 4/8/16/32 feature maps.
    pub fn feature_channels(&self) -> [usize; 4] {
        self.config.feature_channels()
    }

    fn check_input(&self, input: &TensorView<'_>) -> Result<()> {
        let shape = input.shape();
        if shape[3] != IN_CHANNELS {
            return Err(LayerError::Shape {
                layer: "GhostNet".into(),
                operand: "input",
                expected: format!("c = {IN_CHANNELS} (RGB)"),
                found: shape,
            });
        }
        Ok(())
    }

    /// Runs the backbone (and the head, if loaded) on an `n x h x w x 3` input.
    pub fn forward(&self, ctx: &mut Context, input: &TensorView<'_>) -> Result<GhostNetOutput> {
        let features = self.features(ctx, input)?;
        let logits = match &self.head {
            Some(head) => Some(head.forward(ctx, &features[3].view())?),
            None => None,
        };
        Ok(GhostNetOutput { features, logits })
    }

    /// The stride 4/8/16/32 feature maps (NHWC) of an `n x h x w x 3` input.
    pub fn features(&self, ctx: &mut Context, input: &TensorView<'_>) -> Result<[Tensor; 4]> {
        self.check_input(input)?;
        // Subnormal activations cost ~100 cycles per operation (see ghost_kernels::fpenv).
        let _flush = ghost_layers::flush_denormals();
        let mut x = self.stem.forward(ctx, input)?;
        let mut x_is_tap = false;
        // A fixed array, not a Vec: a steady-state forward pass allocates nothing.
        let mut taps: [Option<Tensor>; 4] = Default::default();
        let mut produced = 0;
        let mut keep = |t: Tensor| {
            if let Some(slot) = taps.get_mut(produced) {
                *slot = Some(t);
            }
            produced += 1;
        };
        for (i, stage) in self.stages.iter().enumerate() {
            let y = stage.forward(ctx, &x.view())?;
            let done = std::mem::replace(&mut x, y);
            if x_is_tap {
                keep(done);
            } else {
                ctx.recycle(done);
            }
            x_is_tap = self.taps.contains(&i);
        }
        if x_is_tap {
            keep(x);
        }
        match taps {
            [Some(a), Some(b), Some(c), Some(d)] if produced == 4 => Ok([a, b, c, d]),
            _ => Err(LayerError::config(
                "GhostNet",
                format!("expected 4 feature taps, produced {produced}"),
            )),
        }
    }

    /// Logits `n x 1 x 1 x classes` of an `n x h x w x 3` input; an error without a head.
    pub fn classify(&self, ctx: &mut Context, input: &TensorView<'_>) -> Result<Tensor> {
        if self.head.is_none() {
            return Err(LayerError::config(
                "GhostNet",
                "loaded without a classifier head",
            ));
        }
        let out = self.forward(ctx, input)?;
        Ok(out.logits.expect("the head exists"))
    }

    /// A per-layer cost table (stem, every bottleneck, the final conv, the head) for an input of
    /// shape `input` (NHWC), counted as thop counts timm's GhostNet.
    pub fn cost_table(&self, input: [usize; 4]) -> Result<CostTable> {
        self.cost_table_with(input, false)
    }

    /// As [`GhostNet::cost_table`], for the project's Ultralytics GhostNet module
    /// (`tools/ghost_ultralytics.py`), whose SE pooling is an `nn.AdaptiveAvgPool2d` module that
    /// thop counts (one add per input element, one divide per output).
    pub fn cost_table_ultralytics(&self, input: [usize; 4]) -> Result<CostTable> {
        self.cost_table_with(input, true)
    }

    fn cost_table_with(&self, input: [usize; 4], se_pool_counted: bool) -> Result<CostTable> {
        let mut table = CostTable::new();
        let mut row = self.stem.cost_row(input)?;
        row.name = "conv_stem+bn1".into();
        let mut shape = row.output;
        table.push(row);
        for stage in &self.stages {
            match stage {
                Stage::Bottlenecks(blocks) => {
                    for block in blocks {
                        let mut row = block.cost_row(shape)?;
                        if se_pool_counted {
                            row.cost += block.se_pool_cost(shape)?;
                        }
                        shape = row.output;
                        table.push(row);
                    }
                }
                Stage::FinalConv(conv) => {
                    let row = conv.cost_row(shape)?;
                    shape = row.output;
                    table.push(row);
                }
            }
        }
        if let Some(head) = &self.head {
            table.extend(head.cost_table(shape)?);
        }
        Ok(table)
    }
}
