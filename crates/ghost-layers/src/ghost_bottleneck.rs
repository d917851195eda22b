//! The Ghost bottleneck (GhostNet V1):
//!
//! ```text
//! x -> ghost1 (expand, ReLU) -> [stride 2: conv_dw kxk s2 + bn_dw, no act] -> [SE] -> ghost2
//!   (project, no act) -> + shortcut(x)
//! ```
//!
//! The shortcut is the identity when `cin == cout` and stride 1, else
//! `shortcut.{0: depthwise kxk stride s, 1: BN, 2: 1x1 conv, 3: BN}` (no activations).
//! The residual add is fused into ghost2's epilogue (see [`GhostModule::forward_into`]).
//!
//! Tensor names (timm): `{prefix}.ghost1.*`, `{prefix}.conv_dw.weight`, `{prefix}.bn_dw.*`,
//! `{prefix}.se.*`, `{prefix}.ghost2.*`, `{prefix}.shortcut.{0,1,2,3}.*`.

use ghost_kernels::{TensorView, TensorViewMut};

use crate::context::Context;
use crate::conv::{ConvBnAct, ConvBnNames, ConvInput, ConvSpec};
use crate::cost::Cost;
use crate::error::{LayerError, Result};
use crate::ghost_module::GhostModule;
use crate::layer::Layer;
use crate::quant::ActQuant;
use crate::squeeze_excite::SqueezeExcite;
use crate::tensor::Tensor;
use crate::weights::{join_name, WeightSource};

/// The configuration of one bottleneck (one row of GhostNet's cfg table, width applied).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GhostBottleneckSpec {
    /// Input channels.
    pub cin: usize,
    /// Expanded (hidden) channels.
    pub mid: usize,
    /// Output channels.
    pub cout: usize,
    /// Kernel size of the stride-2 depthwise conv and of the shortcut's depthwise conv.
    pub dw_kernel: usize,
    /// 1 or 2.
    pub stride: usize,
    /// Squeeze-excite ratio; 0 = no SE.
    pub se_ratio: f64,
}

/// The shortcut branch.
#[derive(Clone, Debug)]
enum Shortcut {
    Identity,
    Conv {
        dw: Box<ConvBnAct>,
        pw: Box<ConvBnAct>,
    },
}

/// A Ghost bottleneck with every BatchNorm folded.
#[derive(Clone, Debug)]
pub struct GhostBottleneck {
    name: String,
    spec: GhostBottleneckSpec,
    ghost1: GhostModule,
    conv_dw: Option<ConvBnAct>,
    se: Option<SqueezeExcite>,
    ghost2: GhostModule,
    shortcut: Shortcut,
}

impl GhostBottleneck {
    /// Loads a bottleneck under `prefix` (e.g. `blocks.3.0`).
    pub fn load(
        weights: &dyn WeightSource,
        prefix: &str,
        spec: GhostBottleneckSpec,
        eps: f64,
    ) -> Result<Self> {
        let s = spec;
        if s.stride == 0 || s.dw_kernel == 0 || s.dw_kernel.is_multiple_of(2) {
            return Err(LayerError::config(
                prefix,
                format!(
                    "stride {} and odd dw_kernel {} required",
                    s.stride, s.dw_kernel
                ),
            ));
        }
        let name = |child: &str| join_name(prefix, child);
        let pad = (s.dw_kernel - 1) / 2;
        let ghost1 = GhostModule::load(weights, &name("ghost1"), s.cin, s.mid, true, eps)?;
        let conv_dw = if s.stride > 1 {
            Some(ConvBnAct::load(
                weights,
                &ConvBnNames::new(name("conv_dw"), name("bn_dw")),
                ConvSpec::depthwise(s.mid, s.dw_kernel)
                    .stride(s.stride)
                    .padding(pad),
                eps,
            )?)
        } else {
            None
        };
        let se = if s.se_ratio > 0.0 {
            Some(SqueezeExcite::load(
                weights,
                &name("se"),
                s.mid,
                s.se_ratio,
            )?)
        } else {
            None
        };
        let ghost2 = GhostModule::load(weights, &name("ghost2"), s.mid, s.cout, false, eps)?;
        let shortcut = if s.cin == s.cout && s.stride == 1 {
            Shortcut::Identity
        } else {
            let seq = name("shortcut");
            Shortcut::Conv {
                dw: Box::new(ConvBnAct::load(
                    weights,
                    &ConvBnNames::sequential(&seq, 0),
                    ConvSpec::depthwise(s.cin, s.dw_kernel)
                        .stride(s.stride)
                        .padding(pad),
                    eps,
                )?),
                pw: Box::new(ConvBnAct::load(
                    weights,
                    &ConvBnNames::sequential(&seq, 2),
                    ConvSpec::new(s.cin, s.cout, 1),
                    eps,
                )?),
            }
        };
        Ok(GhostBottleneck {
            name: prefix.to_string(),
            spec,
            ghost1,
            conv_dw,
            se,
            ghost2,
            shortcut,
        })
    }

    /// The configuration.
    pub fn spec(&self) -> &GhostBottleneckSpec {
        &self.spec
    }

    /// The SE pooling cost when it is an `nn.AdaptiveAvgPool2d` module (the project's Ultralytics
    /// GhostNet; timm pools with an uncounted `x.mean`): zero without SE. See
    /// [`SqueezeExcite::pool_cost`].
    pub fn se_pool_cost(&self, input: [usize; 4]) -> Result<Cost> {
        let Some(se) = &self.se else {
            return Ok(Cost::ZERO);
        };
        let mut shape = self.ghost1.output_shape(input)?;
        if let Some(dw) = &self.conv_dw {
            shape = dw.output_shape(shape)?;
        }
        se.pool_cost(shape)
    }

    /// Runs the block into `output` (`n x oh x ow x cout`, any strides).
    pub fn forward_into(
        &self,
        ctx: &mut Context,
        input: &TensorView<'_>,
        output: &mut TensorViewMut<'_>,
    ) -> Result<()> {
        let expected = self.output_shape(input.shape())?;
        if output.shape() != expected {
            return Err(LayerError::Shape {
                layer: self.name.clone(),
                operand: "output",
                expected: format!("{expected:?}"),
                found: output.shape(),
            });
        }
        let mut hidden = self.ghost1.forward(ctx, input)?;
        // u8 between INT8 convs where the reader is the value's only reader (docs/int8.md,
        // "Shared quantization and u8 between INT8 convs"): the stride-2 depthwise conv and
        // ghost2's primary conv without SE between them, and the shortcut's depthwise and
        // pointwise convs. The producer's epilogue writes the reader's codes; no f32 copy, no
        // quantization pass.
        let u8_to = |producer: &ConvBnAct, reader: Option<ActQuant>, ctx: &Context| {
            reader.filter(|_| ctx.int8_shared_quantization() && producer.input_quant().is_some())
        };
        let mut hidden_u8 = None;
        if let Some(dw) = &self.conv_dw {
            let primary_q = self.ghost2.primary_input_quant();
            match u8_to(dw, primary_q, ctx).filter(|_| self.se.is_none()) {
                Some(q) => {
                    hidden_u8 = Some(dw.forward_to_u8(
                        ctx,
                        ConvInput::F32(&hidden.view(), None),
                        q,
                        None,
                    )?);
                }
                None => {
                    let reduced = dw.forward(ctx, &hidden.view())?;
                    ctx.recycle(std::mem::replace(&mut hidden, reduced));
                }
            }
        }
        if let Some(se) = &self.se {
            se.forward_inplace(ctx, &mut hidden.view_mut())?;
        }
        let hidden_view = hidden.view();
        let ghost2_input = match &hidden_u8 {
            Some(q) => ConvInput::U8(q),
            None => ConvInput::F32(&hidden_view, None),
        };
        let result = match &self.shortcut {
            Shortcut::Identity => {
                self.ghost2
                    .forward_input_into(ctx, ghost2_input, output, Some(input))
            }
            Shortcut::Conv { dw, pw } => {
                let projected = match u8_to(dw, pw.input_quant(), ctx) {
                    Some(q) => {
                        let reduced =
                            dw.forward_to_u8(ctx, ConvInput::F32(input, None), q, None)?;
                        let mut projected = ctx.alloc(pw.output_shape(reduced.shape())?);
                        let done =
                            pw.forward_u8_into(ctx, &reduced, &mut projected.view_mut(), None);
                        reduced.recycle(ctx);
                        done?;
                        projected
                    }
                    None => {
                        let reduced = dw.forward(ctx, input)?;
                        let projected = pw.forward(ctx, &reduced.view())?;
                        ctx.recycle(reduced);
                        projected
                    }
                };
                let result = self.ghost2.forward_input_into(
                    ctx,
                    ghost2_input,
                    output,
                    Some(&projected.view()),
                );
                ctx.recycle(projected);
                result
            }
        };
        if let Some(q) = hidden_u8 {
            q.recycle(ctx);
        }
        ctx.recycle(hidden);
        result
    }

    /// Runs the block into a new dense tensor.
    pub fn forward(&self, ctx: &mut Context, input: &TensorView<'_>) -> Result<Tensor> {
        let mut out = ctx.alloc(self.output_shape(input.shape())?);
        self.forward_into(ctx, input, &mut out.view_mut())?;
        Ok(out)
    }
}

impl Layer for GhostBottleneck {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> &'static str {
        "GhostBottleneck"
    }

    fn output_shape(&self, input: [usize; 4]) -> Result<[usize; 4]> {
        let mut shape = self.ghost1.output_shape(input)?;
        if let Some(dw) = &self.conv_dw {
            shape = dw.output_shape(shape)?;
        }
        self.ghost2.output_shape(shape)
    }

    fn cost(&self, input: [usize; 4]) -> Result<Cost> {
        let mut shape = self.ghost1.output_shape(input)?;
        let mut cost = self.ghost1.cost(input)?;
        if let Some(dw) = &self.conv_dw {
            cost += dw.cost(shape)?;
            shape = dw.output_shape(shape)?;
        }
        if let Some(se) = &self.se {
            cost += se.cost(shape)?;
        }
        cost += self.ghost2.cost(shape)?;
        if let Shortcut::Conv { dw, pw } = &self.shortcut {
            cost += dw.cost(input)? + pw.cost(dw.output_shape(input)?)?;
        }
        Ok(cost)
    }
}
