//! Ultralytics `Conv` / `DWConv`: conv (no bias) + BatchNorm (eps 1e-3, folded at load) + SiLU
//! or identity, on `ghost_layers::ConvBnAct`.

use ghost_layers::{
    ActQuant, Activation, Context, ConvBnAct, ConvBnNames, ConvInput, ConvSpec, FoldedConv, Layer,
    QuantizedTensor, Residual, TensorView, TensorViewMut, WeightSource, EPS_ULTRALYTICS,
};

use crate::error::Result;
use crate::spec::ConvArgs;

/// A loaded Ultralytics `Conv` (tensors `{prefix}.conv.weight`, `{prefix}.bn.*`).
#[derive(Clone, Debug)]
pub struct Conv {
    inner: ConvBnAct,
}

impl Conv {
    /// Loads `Conv(c1, c2, k, s, p, g, act)` from `{prefix}.conv` / `{prefix}.bn`.
    pub fn load(weights: &dyn WeightSource, prefix: &str, a: &ConvArgs) -> Result<Conv> {
        let spec = ConvSpec::new(a.c1, a.c2, a.k)
            .stride(a.s)
            .padding(a.p)
            .groups(a.g)
            .act(activation(a));
        let inner = ConvBnAct::load(
            weights,
            &ConvBnNames::ultralytics(prefix),
            spec,
            EPS_ULTRALYTICS,
        )?;
        Ok(Conv { inner })
    }

    /// A 1x1 `Conv(c1, c2, 1)` from `{prefix}.conv` / `{prefix}.bn` (BatchNorm folded), split by
    /// input channel at `at`: `[0, at)` as a conv with no bias and no activation, `[at, c1)` with
    /// the folded bias and the activation. `act(low(x) + high(s) + b)` is the whole conv on
    /// `cat(x, s)`, up to the order of the float additions.
    pub fn load_split_1x1(
        weights: &dyn WeightSource,
        prefix: &str,
        a: &ConvArgs,
        at: usize,
    ) -> Result<(ConvBnAct, ConvBnAct)> {
        let (c1, c2) = (a.c1, a.c2);
        // Both halves keep the whole conv's site and input quantization: their inputs are the
        // two parts of the Concat the conv reads, one tensor for calibration and INT8.
        let (folded, quant) = ConvBnAct::load_folded_quant(
            weights,
            &ConvBnNames::ultralytics(prefix),
            &ConvSpec::new(c1, c2, 1),
            EPS_ULTRALYTICS,
        )?;
        let columns = |range: std::ops::Range<usize>| -> Vec<f32> {
            folded
                .weight
                .chunks_exact(c1)
                .flat_map(|row| row[range.clone()].iter().copied())
                .collect()
        };
        let (low_weight, high_weight) = (columns(0..at), columns(at..c1));
        // An INT8 conv's codes split the same way (per-output-channel scales are shared).
        let split_quant = |range: std::ops::Range<usize>| {
            let mut q = quant.clone();
            if let Some((_, w)) = &mut q.int8 {
                w.codes = w
                    .codes
                    .chunks_exact(c1)
                    .flat_map(|row| row[range.clone()].iter().copied())
                    .collect();
            }
            q
        };
        let low = ConvBnAct::from_folded_quant(
            format!("{prefix}[..{at}]"),
            ConvSpec::new(at, c2, 1),
            &FoldedConv {
                weight: low_weight,
                bias: vec![0.0; c2],
            },
            split_quant(0..at),
        )?;
        let high = ConvBnAct::from_folded_quant(
            format!("{prefix}[{at}..]"),
            ConvSpec::new(c1 - at, c2, 1).act(activation(a)),
            &FoldedConv {
                weight: high_weight,
                bias: folded.bias,
            },
            split_quant(at..c1),
        )?;
        Ok((low, high))
    }

    /// A plain `nn.Conv2d(c1, c2, 1)` with its own bias and no BatchNorm (Detect's last convs).
    pub fn load_plain_1x1(
        weights: &dyn WeightSource,
        name: &str,
        c1: usize,
        c2: usize,
    ) -> Result<Conv> {
        let spec = ConvSpec::new(c1, c2, 1).bias(true);
        let inner = ConvBnAct::load(
            weights,
            &ConvBnNames::conv_only(name),
            spec,
            EPS_ULTRALYTICS,
        )?;
        Ok(Conv { inner })
    }

    /// Input channels.
    pub fn in_channels(&self) -> usize {
        self.inner.spec().cin
    }

    /// Output channels.
    pub fn out_channels(&self) -> usize {
        self.inner.spec().cout
    }

    /// Output shape (NHWC) for an input shape.
    pub fn output_shape(&self, input: [usize; 4]) -> Result<[usize; 4]> {
        Ok(self.inner.output_shape(input)?)
    }

    /// Runs into `out`, adding `residual` after the activation when given.
    pub fn forward_into(
        &self,
        ctx: &mut Context,
        x: &TensorView<'_>,
        out: &mut TensorViewMut<'_>,
        residual: Option<TensorView<'_>>,
    ) -> Result<()> {
        let residual = residual.map(|view| Residual {
            view,
            order: ghost_layers::AddOrder::AfterActivation,
        });
        Ok(self.inner.forward_into(ctx, x, out, residual)?)
    }

    /// Whether both convs are INT8 with the same input quantization (see
    /// [`ConvBnAct::shares_input_quant`]).
    pub fn shares_input_quant(&self, other: &Conv) -> bool {
        self.inner.shares_input_quant(&other.inner)
    }

    /// The INT8 input quantization, `None` for an FP32 conv.
    pub fn input_quant(&self) -> Option<ActQuant> {
        self.inner.input_quant()
    }

    /// `x` quantized for this conv and every INT8 conv sharing its input quantization (`None`
    /// for an FP32 conv): [`ConvBnAct::quantize_input`].
    pub fn quantize_input(
        &self,
        ctx: &mut Context,
        x: &TensorView<'_>,
    ) -> Result<Option<QuantizedTensor>> {
        Ok(self.inner.quantize_input(ctx, x)?)
    }

    /// [`Conv::forward_into`] reading `shared` (the u8 copy of `x`) when it has this conv's
    /// input quantization ([`ConvBnAct::forward_shared_into`]).
    pub fn forward_shared_into(
        &self,
        ctx: &mut Context,
        x: &TensorView<'_>,
        shared: Option<&QuantizedTensor>,
        out: &mut TensorViewMut<'_>,
    ) -> Result<()> {
        Ok(self.inner.forward_shared_into(ctx, x, shared, out, None)?)
    }

    /// An INT8 conv's output as u8 codes quantized with `out`, from an f32 (optionally with
    /// its shared u8 copy) or u8 input ([`ConvBnAct::forward_to_u8`]).
    pub fn forward_to_u8(
        &self,
        ctx: &mut Context,
        x: ConvInput<'_, '_>,
        out: ActQuant,
    ) -> Result<QuantizedTensor> {
        Ok(self.inner.forward_to_u8(ctx, x, out, None)?)
    }

    /// Runs on an f32 input (optionally with its shared u8 copy) or, for an INT8 conv, on u8
    /// codes, into `out`, adding `residual` after the activation when given.
    pub fn forward_input_into(
        &self,
        ctx: &mut Context,
        x: ConvInput<'_, '_>,
        out: &mut TensorViewMut<'_>,
        residual: Option<TensorView<'_>>,
    ) -> Result<()> {
        let residual = residual.map(|view| Residual {
            view,
            order: ghost_layers::AddOrder::AfterActivation,
        });
        match x {
            ConvInput::F32(x, shared) => Ok(self
                .inner
                .forward_shared_into(ctx, x, shared, out, residual)?),
            ConvInput::U8(q) => Ok(self.inner.forward_u8_into(ctx, q, out, residual)?),
        }
    }

    /// Runs into a new tensor from `ctx`'s pool.
    pub fn forward(&self, ctx: &mut Context, x: &TensorView<'_>) -> Result<ghost_layers::Tensor> {
        let mut out = ctx.alloc(self.output_shape(x.shape())?);
        self.forward_into(ctx, x, &mut out.view_mut(), None)?;
        Ok(out)
    }
}

/// The activation of an Ultralytics `Conv` (`act=True`: SiLU).
fn activation(a: &ConvArgs) -> Activation {
    if a.act {
        Activation::Silu
    } else {
        Activation::Identity
    }
}
