//! Ultralytics `Bottleneck`: `x + cv2(cv1(x))` (the add only when `shortcut` and `c1 == c2`).

use ghost_layers::{Context, TensorView, TensorViewMut, WeightSource};

use super::conv::Conv;
use crate::error::Result;
use crate::spec::{hidden_channels, BottleneckArgs, ConvArgs};

/// A loaded `Bottleneck(c1, c2, shortcut, g, k, e)`.
#[derive(Clone, Debug)]
pub struct Bottleneck {
    cv1: Conv,
    cv2: Conv,
    add: bool,
}

impl Bottleneck {
    /// Loads `{prefix}.cv1` and `{prefix}.cv2`.
    pub fn load(
        weights: &dyn WeightSource,
        prefix: &str,
        a: &BottleneckArgs,
    ) -> Result<Bottleneck> {
        let c_ = hidden_channels(a.c2, a.e);
        Ok(Bottleneck {
            cv1: Conv::load(
                weights,
                &format!("{prefix}.cv1"),
                &ConvArgs::new(a.c1, c_, a.k.0, 1, true),
            )?,
            cv2: Conv::load(
                weights,
                &format!("{prefix}.cv2"),
                &ConvArgs::new(c_, a.c2, a.k.1, 1, true).groups(a.g),
            )?,
            add: a.shortcut && a.c1 == a.c2,
        })
    }

    /// Output shape for an input shape.
    pub fn output_shape(&self, input: [usize; 4]) -> Result<[usize; 4]> {
        self.cv2.output_shape(self.cv1.output_shape(input)?)
    }

    /// Runs into `out` (which may be a channel slice of a larger buffer).
    pub fn forward_into(
        &self,
        ctx: &mut Context,
        x: &TensorView<'_>,
        out: &mut TensorViewMut<'_>,
    ) -> Result<()> {
        let mid = self.cv1.forward(ctx, x)?;
        let residual = if self.add { Some(*x) } else { None };
        self.cv2.forward_into(ctx, &mid.view(), out, residual)?;
        ctx.recycle(mid);
        Ok(())
    }
}
