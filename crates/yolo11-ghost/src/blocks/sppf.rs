//! `SPPF`: `cv2(cat(y, m(y), m(m(y)), ...))` with `y = cv1(x)` and `m` a `k x k` stride-1 max
//! pool; each pool reads the previous slice of the concat buffer and writes the next one.

use ghost_kernels::pool::max_pool;
use ghost_kernels::Window;
use ghost_layers::{Context, TensorView, TensorViewMut, WeightSource};

use super::conv::Conv;
use crate::error::{Result, YoloError};
use crate::spec::{ConvArgs, SppfArgs};

/// A loaded `SPPF(c1, c2, k, n, shortcut)`.
#[derive(Clone, Debug)]
pub struct Sppf {
    cv1: Conv,
    cv2: Conv,
    window: Window,
    pools: usize,
    hidden: usize,
    add: bool,
}

impl Sppf {
    /// Loads `{prefix}.cv1` / `{prefix}.cv2`.
    pub fn load(weights: &dyn WeightSource, prefix: &str, a: &SppfArgs) -> Result<Sppf> {
        let c_ = a.c1 / 2;
        Ok(Sppf {
            cv1: Conv::load(
                weights,
                &format!("{prefix}.cv1"),
                &ConvArgs::new(a.c1, c_, 1, 1, a.cv1_act),
            )?,
            cv2: Conv::load(
                weights,
                &format!("{prefix}.cv2"),
                &ConvArgs::new(c_ * (a.n + 1), a.c2, 1, 1, true),
            )?,
            window: Window::square(a.k, 1, a.k / 2),
            pools: a.n,
            hidden: c_,
            add: a.shortcut && a.c1 == a.c2,
        })
    }

    /// Output shape for an input shape.
    pub fn output_shape(&self, input: [usize; 4]) -> Result<[usize; 4]> {
        let [n, h, w, _] = self.cv1.output_shape(input)?;
        self.cv2
            .output_shape([n, h, w, self.hidden * (self.pools + 1)])
    }

    /// Runs into `out`.
    pub fn forward_into(
        &self,
        ctx: &mut Context,
        x: &TensorView<'_>,
        out: &mut TensorViewMut<'_>,
    ) -> Result<()> {
        let [n, h, w, _] = self.cv1.output_shape(x.shape())?;
        let c = self.hidden;
        let mut cat = ctx.alloc([n, h, w, c * (self.pools + 1)]);
        {
            let mut all = cat.view_mut();
            self.cv1
                .forward_into(ctx, x, &mut all.channels_mut(0, c)?, None)?;
            for i in 0..self.pools {
                let (done, mut rest) = all.reborrow().split_channels((i + 1) * c)?;
                let done = done.as_view();
                max_pool(
                    &done.channels(i * c, c)?,
                    &self.window,
                    &mut rest.channels_mut(0, c)?,
                    ctx.threads(),
                )
                .map_err(|source| YoloError::kernel("SPPF.m", source))?;
            }
        }
        let residual = if self.add { Some(*x) } else { None };
        self.cv2.forward_into(ctx, &cat.view(), out, residual)?;
        ctx.recycle(cat);
        Ok(())
    }
}
