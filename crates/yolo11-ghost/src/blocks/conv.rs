//! Ultralytics `Conv` / `DWConv`: conv (no bias) + BatchNorm (eps 1e-3, folded at load) + SiLU
//! or identity, on `ghost_layers::ConvBnAct`.

use ghost_layers::{
    Activation, Context, ConvBnAct, ConvBnNames, ConvSpec, Layer, Residual, TensorView,
    TensorViewMut, WeightSource, EPS_ULTRALYTICS,
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
            .act(if a.act {
                Activation::Silu
            } else {
                Activation::Identity
            });
        let inner = ConvBnAct::load(
            weights,
            &ConvBnNames::ultralytics(prefix),
            spec,
            EPS_ULTRALYTICS,
        )?;
        Ok(Conv { inner })
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

    /// Runs into a new tensor from `ctx`'s pool.
    pub fn forward(&self, ctx: &mut Context, x: &TensorView<'_>) -> Result<ghost_layers::Tensor> {
        let mut out = ctx.alloc(self.output_shape(x.shape())?);
        self.forward_into(ctx, x, &mut out.view_mut(), None)?;
        Ok(out)
    }
}
