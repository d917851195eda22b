//! The Ghost module (GhostNet V1, ratio 2): a 1x1 "primary" conv makes `init = ceil(oup / 2)`
//! channels, a depthwise 3x3 "cheap operation" on them makes the rest, and the output is
//! `concat(primary, cheap)[:oup]`.
//!
//! Both halves are written in place into one output view split at `init`
//! ([`TensorViewMut::split_channels`]): the primary conv writes channels `[0, init)`, the cheap
//! depthwise conv reads them and writes `[init, oup)`. No concat, no slice copy. PyTorch's cheap
//! operation produces `init` channels of which only `oup - init` survive the slice (one fewer when
//! `oup` is odd); only the kept channels are packed and computed.
//!
//! Tensor names (timm / huawei): `{prefix}.primary_conv.{0: conv, 1: BN}`,
//! `{prefix}.cheap_operation.{0: conv, 1: BN}`.

use ghost_kernels::elementwise::add_inplace;
use ghost_kernels::{Activation, AddOrder, Residual, TensorView, TensorViewMut};

use crate::context::Context;
use crate::conv::{ConvBnAct, ConvBnNames, ConvInput, ConvSpec};
use crate::cost::Cost;
use crate::error::{LayerError, Result};
use crate::layer::Layer;
use crate::quant::ActQuant;
use crate::tensor::Tensor;
use crate::weights::{join_name, WeightSource};

/// GhostNet's ratio: half the channels from the 1x1 conv, half from the cheap operation.
pub const RATIO: usize = 2;
/// Kernel size of the cheap depthwise operation.
pub const DW_SIZE: usize = 3;

/// A Ghost module with its BatchNorms folded.
#[derive(Clone, Debug)]
pub struct GhostModule {
    name: String,
    cin: usize,
    oup: usize,
    init: usize,
    relu: bool,
    primary: ConvBnAct,
    cheap: ConvBnAct,
}

impl GhostModule {
    /// Loads `{prefix}.primary_conv.*` and `{prefix}.cheap_operation.*` for a module mapping
    /// `cin` to `oup` channels, with ReLU after both halves when `relu` (ghost1) or none (ghost2).
    pub fn load(
        weights: &dyn WeightSource,
        prefix: &str,
        cin: usize,
        oup: usize,
        relu: bool,
        eps: f64,
    ) -> Result<Self> {
        if cin == 0 || oup == 0 {
            return Err(LayerError::config(
                prefix,
                format!("cin = {cin}, oup = {oup} must be at least 1"),
            ));
        }
        let init = oup.div_ceil(RATIO);
        let new_chs = init * (RATIO - 1);
        let kept = oup - init;
        let act = if relu {
            Activation::Relu
        } else {
            Activation::Identity
        };
        let primary = ConvBnAct::load(
            weights,
            &ConvBnNames::sequential(&join_name(prefix, "primary_conv"), 0),
            ConvSpec::new(cin, init, 1).act(act),
            eps,
        )?;

        // The cheap op as stored: depthwise [new_chs, 1, 3, 3] + BN(new_chs). Channel j reads
        // primary channel j (groups = init, ratio 2), so keeping the first `kept` output channels
        // is a depthwise conv over the first `kept` primary channels.
        let cheap_names = ConvBnNames::sequential(&join_name(prefix, "cheap_operation"), 0);
        let full = ConvSpec::depthwise(init, DW_SIZE);
        // Loaded (and, in an INT8 file, stored) whole; only the kept channels are packed.
        debug_assert_eq!(
            new_chs, init,
            "ratio 2: one cheap channel per primary channel"
        );
        let (mut folded, mut quant) =
            ConvBnAct::load_folded_quant(weights, &cheap_names, &full, eps)?;
        let cheap = if kept == 0 {
            // oup = 1: nothing of the cheap op survives; keep a 1-channel layer that never runs.
            ConvBnAct::from_folded_quant(cheap_names.layer_name(), full.act(act), &folded, quant)?
        } else {
            folded.weight.truncate(kept * DW_SIZE * DW_SIZE);
            folded.bias.truncate(kept);
            if let Some((_, w)) = &mut quant.int8 {
                w.codes.truncate(kept * DW_SIZE * DW_SIZE);
                w.scales.truncate(kept);
            }
            ConvBnAct::from_folded_quant(
                cheap_names.layer_name(),
                ConvSpec::depthwise(kept, DW_SIZE).act(act),
                &folded,
                quant,
            )?
        };
        Ok(GhostModule {
            name: prefix.to_string(),
            cin,
            oup,
            init,
            relu,
            primary,
            cheap,
        })
    }

    /// Input channels.
    pub fn in_channels(&self) -> usize {
        self.cin
    }

    /// Output channels.
    pub fn out_channels(&self) -> usize {
        self.oup
    }

    /// Channels made by the primary 1x1 conv (`ceil(oup / 2)`).
    pub fn init_channels(&self) -> usize {
        self.init
    }

    /// Whether both halves end with ReLU.
    pub fn has_relu(&self) -> bool {
        self.relu
    }

    /// Runs the module into `output` (`n x h x w x oup`, any pixel stride / channel offset). When
    /// `residual` is given (same shape as the output) it is added to the result (after the
    /// activation, the Ghost bottleneck's `ghost2(x) + shortcut`): fused into the cheap
    /// operation's epilogue, and added in place to the primary half after the cheap operation
    /// has read it.
    pub fn forward_into(
        &self,
        ctx: &mut Context,
        input: &TensorView<'_>,
        output: &mut TensorViewMut<'_>,
        residual: Option<&TensorView<'_>>,
    ) -> Result<()> {
        self.forward_input_into(ctx, ConvInput::F32(input, None), output, residual)
    }

    /// The input quantization of the primary conv when it is INT8 (what u8 codes passed to
    /// [`GhostModule::forward_input_into`] must carry).
    pub fn primary_input_quant(&self) -> Option<ActQuant> {
        self.primary.input_quant()
    }

    /// [`GhostModule::forward_into`] on an f32 input or on u8 codes for an INT8 primary conv
    /// (made by the producer's requantizing epilogue, [`ConvBnAct::forward_to_u8`]): the
    /// primary conv reads them without a quantization pass; codes on another scale are a
    /// configuration error.
    pub fn forward_input_into(
        &self,
        ctx: &mut Context,
        input: ConvInput<'_, '_>,
        output: &mut TensorViewMut<'_>,
        residual: Option<&TensorView<'_>>,
    ) -> Result<()> {
        let expected = self.output_shape(input.shape())?;
        for (operand, shape) in [
            ("output", Some(output.shape())),
            ("residual", residual.map(|r| r.shape())),
        ] {
            if let Some(found) = shape.filter(|s| *s != expected) {
                return Err(LayerError::Shape {
                    layer: self.name.clone(),
                    operand,
                    expected: format!("{expected:?}"),
                    found,
                });
            }
        }
        let kernel_err = |e| LayerError::kernel(self.name.clone(), e);
        let (mut primary_out, mut cheap_out) = output
            .reborrow()
            .split_channels(self.init)
            .map_err(kernel_err)?;
        match input {
            ConvInput::F32(x, _) => self.primary.forward_into(ctx, x, &mut primary_out, None)?,
            ConvInput::U8(q) => self
                .primary
                .forward_u8_into(ctx, q, &mut primary_out, None)?,
        }
        let kept = self.oup - self.init;
        if kept > 0 {
            let cheap_in = primary_out
                .as_view()
                .channels(0, kept)
                .map_err(kernel_err)?;
            let cheap_residual = residual
                .map(|r| r.channels(self.init, kept))
                .transpose()
                .map_err(kernel_err)?
                .map(|view| Residual {
                    view,
                    order: AddOrder::AfterActivation,
                });
            self.cheap
                .forward_into(ctx, &cheap_in, &mut cheap_out, cheap_residual)?;
        }
        if let Some(r) = residual {
            // Added after the cheap operation has read the pre-residual primary half.
            let r_primary = r.channels(0, self.init).map_err(kernel_err)?;
            add_inplace(&mut primary_out, &r_primary, ctx.threads()).map_err(kernel_err)?;
        }
        Ok(())
    }

    /// Runs the module into a new dense tensor.
    pub fn forward(&self, ctx: &mut Context, input: &TensorView<'_>) -> Result<Tensor> {
        let mut out = ctx.alloc(self.output_shape(input.shape())?);
        self.forward_into(ctx, input, &mut out.view_mut(), None)?;
        Ok(out)
    }
}

impl Layer for GhostModule {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> &'static str {
        "GhostModule"
    }

    fn output_shape(&self, input: [usize; 4]) -> Result<[usize; 4]> {
        let [n, h, w, c] = self.primary.output_shape(input)?;
        debug_assert_eq!(c, self.init);
        Ok([n, h, w, self.oup])
    }

    /// Counted as PyTorch runs it: the cheap operation makes all `init` channels (thop counts
    /// its full output even though the slice drops one when `oup` is odd).
    fn cost(&self, input: [usize; 4]) -> Result<Cost> {
        let primary_out = self.primary.output_shape(input)?;
        let full_cheap = [
            primary_out[0],
            primary_out[1],
            primary_out[2],
            self.init * (RATIO - 1),
        ];
        Ok(self.primary.cost(input)?
            + Cost::conv(
                full_cheap, self.init, self.init, DW_SIZE, DW_SIZE, false, true,
            ))
    }
}
