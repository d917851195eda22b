//! Squeeze-and-excite as in GhostNet (timm `SqueezeExcite` with `gate_layer='hard_sigmoid'`):
//! global average pool -> 1x1 `conv_reduce` (bias) -> ReLU -> 1x1 `conv_expand` (bias) ->
//! hard-sigmoid `relu6(x + 3) / 6` -> multiply the input channel-wise.
//!
//! The reduced width is `make_divisible(channels * se_ratio, 4)`. The two 1x1 convs run on the
//! pooled `n x 1 x 1 x c` map through the pointwise kernel, with ReLU and hard-sigmoid fused into
//! their epilogues.

use ghost_kernels::elementwise::channel_scale_inplace;
use ghost_kernels::pointwise::{pointwise, PackedPointwise};
use ghost_kernels::pool::global_avg_pool;
use ghost_kernels::{Activation, Epilogue, TensorView, TensorViewMut};

use crate::channels::make_divisible;
use crate::context::Context;
use crate::cost::Cost;
use crate::error::{LayerError, Result};
use crate::layer::Layer;
use crate::tensor::Tensor;
use crate::weights::{join_name, WeightSource};

/// A squeeze-and-excite gate.
#[derive(Clone, Debug)]
pub struct SqueezeExcite {
    name: String,
    channels: usize,
    reduced: usize,
    reduce: PackedPointwise,
    expand: PackedPointwise,
}

impl SqueezeExcite {
    /// Loads `{prefix}.conv_reduce.{weight,bias}` and `{prefix}.conv_expand.{weight,bias}` for
    /// `channels` channels and reduction ratio `se_ratio`.
    pub fn load(
        weights: &dyn WeightSource,
        prefix: &str,
        channels: usize,
        se_ratio: f64,
    ) -> Result<Self> {
        if channels == 0 || !(se_ratio > 0.0 && se_ratio.is_finite()) {
            return Err(LayerError::config(
                prefix,
                format!("channels = {channels} and se_ratio = {se_ratio} must be positive"),
            ));
        }
        let reduced = make_divisible(channels as f64 * se_ratio, 4);
        let load = |conv: &str, cout: usize, cin: usize| -> Result<PackedPointwise> {
            let base = join_name(prefix, conv);
            let w = weights.load(&join_name(&base, "weight"), &[cout, cin, 1, 1])?;
            let b = weights.load(&join_name(&base, "bias"), &[cout])?;
            PackedPointwise::new(&w, Some(&b), cin, cout).map_err(|e| LayerError::kernel(base, e))
        };
        Ok(SqueezeExcite {
            name: prefix.to_string(),
            channels,
            reduced,
            reduce: load("conv_reduce", reduced, channels)?,
            expand: load("conv_expand", channels, reduced)?,
        })
    }

    /// Channels gated.
    pub fn channels(&self) -> usize {
        self.channels
    }

    /// Width of the squeezed representation.
    pub fn reduced_channels(&self) -> usize {
        self.reduced
    }

    fn check(&self, shape: [usize; 4], operand: &'static str) -> Result<()> {
        if shape[3] != self.channels {
            return Err(LayerError::Shape {
                layer: self.name.clone(),
                operand,
                expected: format!("c = {}", self.channels),
                found: shape,
            });
        }
        Ok(())
    }

    /// The gate values `hard_sigmoid(expand(relu(reduce(mean(x)))))`, shape `n x 1 x 1 x c`.
    pub fn gate(&self, ctx: &mut Context, x: &TensorView<'_>) -> Result<Tensor> {
        self.check(x.shape(), "input")?;
        let n = x.shape()[0];
        let kernel_err = |e| LayerError::kernel(self.name.clone(), e);
        let mut pooled = ctx.alloc([n, 1, 1, self.channels]);
        global_avg_pool(x, &mut pooled.view_mut(), ctx.threads()).map_err(kernel_err)?;
        let mut squeezed = ctx.alloc([n, 1, 1, self.reduced]);
        pointwise(
            &pooled.view(),
            &self.reduce,
            &Epilogue::act(Activation::Relu),
            &mut squeezed.view_mut(),
            ctx.threads(),
        )
        .map_err(kernel_err)?;
        ctx.recycle(pooled);
        let mut gate = ctx.alloc([n, 1, 1, self.channels]);
        pointwise(
            &squeezed.view(),
            &self.expand,
            &Epilogue::act(Activation::HardSigmoid),
            &mut gate.view_mut(),
            ctx.threads(),
        )
        .map_err(kernel_err)?;
        ctx.recycle(squeezed);
        Ok(gate)
    }

    /// Gates `x` in place: `x *= gate(x)` per batch item and channel.
    pub fn forward_inplace(&self, ctx: &mut Context, x: &mut TensorViewMut<'_>) -> Result<()> {
        let gate = self.gate(ctx, &x.as_view())?;
        channel_scale_inplace(x, &gate.view(), ctx.threads())
            .map_err(|e| LayerError::kernel(self.name.clone(), e))?;
        ctx.recycle(gate);
        Ok(())
    }
}

impl SqueezeExcite {
    /// What thop adds when the pooling is an `nn.AdaptiveAvgPool2d(1)` module (as in the
    /// project's Ultralytics GhostNet module) instead of timm's uncounted `x.mean`: one add per
    /// input element and one divide per output. Not part of [`Layer::cost`].
    pub fn pool_cost(&self, input: [usize; 4]) -> Result<Cost> {
        self.check(input, "input")?;
        Ok(Cost::global_avg_pool(input))
    }
}

impl Layer for SqueezeExcite {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> &'static str {
        "SqueezeExcite"
    }

    fn output_shape(&self, input: [usize; 4]) -> Result<[usize; 4]> {
        self.check(input, "input")?;
        Ok(input)
    }

    /// The two 1x1 convs on the pooled `1 x 1` map (with bias, no BN); pooling, gate and
    /// multiply count zero, as in thop (timm pools with `x.mean`, which thop does not see).
    fn cost(&self, input: [usize; 4]) -> Result<Cost> {
        self.check(input, "input")?;
        let n = input[0];
        Ok(
            Cost::conv([n, 1, 1, self.reduced], self.channels, 1, 1, 1, true, false)
                + Cost::conv([n, 1, 1, self.channels], self.reduced, 1, 1, 1, true, false),
        )
    }
}
