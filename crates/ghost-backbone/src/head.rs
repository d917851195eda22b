//! The classifier head: global average pool -> `conv_head` (1x1, bias, ReLU; 1280 channels
//! whatever the width) -> flatten -> `classifier` (Linear). Dropout is a no-op in inference.

use ghost_kernels::pool::global_avg_pool;
use ghost_kernels::Activation;
use ghost_layers::{
    Context, ConvBnAct, ConvBnNames, ConvSpec, Cost, CostRow, CostTable, FoldedConv, Layer,
    LayerError, Result, Tensor, TensorView, WeightSource, WeightsError,
};

use crate::config::HEAD_CHANNELS;

/// `conv_head` + `classifier`, with the pooling in front.
#[derive(Clone, Debug)]
pub struct ClassifierHead {
    in_channels: usize,
    num_classes: usize,
    conv_head: ConvBnAct,
    classifier: ConvBnAct,
}

impl ClassifierHead {
    /// Loads `conv_head.{weight,bias}` ([1280, in, 1, 1]) and `classifier.{weight,bias}`
    /// ([classes, 1280]). `num_classes = None` reads it from the stored `classifier.weight` shape.
    pub fn load(
        weights: &dyn WeightSource,
        in_channels: usize,
        num_classes: Option<usize>,
    ) -> Result<Self> {
        let conv_head = ConvBnAct::load(
            weights,
            &ConvBnNames::conv_only("conv_head"),
            ConvSpec::new(in_channels, HEAD_CHANNELS, 1)
                .bias(true)
                .act(Activation::Relu),
            0.0,
        )?;
        let stored = weights.shape_of("classifier.weight");
        let num_classes = match (num_classes, stored) {
            (Some(n), _) => n,
            (None, Some(shape)) if shape.len() == 2 => shape[0],
            (None, Some(shape)) => {
                return Err(WeightsError::Shape {
                    origin: weights.origin(),
                    name: "classifier.weight".into(),
                    expected: vec![0, HEAD_CHANNELS],
                    found: shape,
                }
                .into())
            }
            (None, None) if weights.contains("classifier.weight") => {
                return Err(LayerError::config(
                    "classifier",
                    format!(
                        "{} stores no shapes: set GhostNetConfig::num_classes",
                        weights.origin()
                    ),
                ))
            }
            (None, None) => {
                return Err(WeightsError::Missing {
                    origin: weights.origin(),
                    name: "classifier.weight".into(),
                    similar: None,
                }
                .into())
            }
        };
        if num_classes == 0 {
            return Err(LayerError::config(
                "classifier",
                "num_classes must be at least 1",
            ));
        }
        let folded = FoldedConv {
            weight: weights.load("classifier.weight", &[num_classes, HEAD_CHANNELS])?,
            bias: weights.load("classifier.bias", &[num_classes])?,
        };
        let classifier = ConvBnAct::from_folded(
            "classifier",
            ConvSpec::new(HEAD_CHANNELS, num_classes, 1).bias(true),
            &folded,
        )?;
        Ok(ClassifierHead {
            in_channels,
            num_classes,
            conv_head,
            classifier,
        })
    }

    /// Number of classes.
    pub fn num_classes(&self) -> usize {
        self.num_classes
    }

    /// Logits `n x 1 x 1 x classes` of the final feature map `x` (`n x h x w x in_channels`).
    pub fn forward(&self, ctx: &mut Context, x: &TensorView<'_>) -> Result<Tensor> {
        let [n, _, _, c] = x.shape();
        if c != self.in_channels {
            return Err(LayerError::Shape {
                layer: "global_pool".into(),
                operand: "input",
                expected: format!("c = {}", self.in_channels),
                found: x.shape(),
            });
        }
        let mut pooled = Tensor::zeros([n, 1, 1, c]);
        global_avg_pool(x, &mut pooled.view_mut(), ctx.threads())
            .map_err(|e| LayerError::kernel("global_pool", e))?;
        let hidden = self.conv_head.forward(ctx, &pooled.view())?;
        self.classifier.forward(ctx, &hidden.view())
    }

    /// Cost rows (pool, conv_head, classifier) for a final feature map of shape `input`.
    pub fn cost_table(&self, input: [usize; 4]) -> Result<CostTable> {
        let n = input[0];
        let pooled = [n, 1, 1, input[3]];
        let hidden = [n, 1, 1, HEAD_CHANNELS];
        let mut table = CostTable::new();
        table.push(CostRow {
            name: "global_pool".into(),
            kind: "AdaptiveAvgPool2d".into(),
            input,
            output: pooled,
            cost: Cost::global_avg_pool(input),
        });
        table.push(self.conv_head.cost_row(pooled)?);
        table.push(CostRow {
            name: "classifier".into(),
            kind: "Linear".into(),
            input: hidden,
            output: [n, 1, 1, self.num_classes],
            cost: Cost::linear(n, HEAD_CHANNELS, self.num_classes, true),
        });
        Ok(table)
    }
}
