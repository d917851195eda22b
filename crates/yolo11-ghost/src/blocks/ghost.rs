//! Ultralytics' own Ghost modules (`nn/modules/conv.py` GhostConv, `block.py` GhostBottleneck),
//! used by `C3Ghost` and YAML rows; GhostNet's timm blocks live in `ghost-layers`.

use ghost_kernels::elementwise::add;
use ghost_layers::{Context, Tensor, TensorView, TensorViewMut, WeightSource};

use super::conv::Conv;
use crate::error::{Result, YoloError};
use crate::spec::{ConvArgs, GhostBottleneckArgs, GhostConvArgs};

/// A loaded `GhostConv(c1, c2, k, s, g, act)`: `cat(y, cv2(y))` with `y = cv1(x)`, `c2 / 2`
/// channels each; `cv2` is a 5x5 depthwise Conv.
#[derive(Clone, Debug)]
pub struct GhostConv {
    cv1: Conv,
    cv2: Conv,
    half: usize,
}

impl GhostConv {
    /// Loads `{prefix}.cv1`, `{prefix}.cv2`. `c2` must be even (Python would silently produce
    /// `c2 - 1` channels).
    pub fn load(weights: &dyn WeightSource, prefix: &str, a: &GhostConvArgs) -> Result<GhostConv> {
        if !a.c2.is_multiple_of(2) || a.c2 < 2 {
            return Err(YoloError::config(
                prefix,
                format!("GhostConv output channels must be even, got {}", a.c2),
            ));
        }
        let half = a.c2 / 2;
        Ok(GhostConv {
            cv1: Conv::load(
                weights,
                &format!("{prefix}.cv1"),
                &ConvArgs::new(a.c1, half, a.k, a.s, a.act).groups(a.g),
            )?,
            cv2: Conv::load(
                weights,
                &format!("{prefix}.cv2"),
                &ConvArgs::new(half, half, 5, 1, a.act).groups(half),
            )?,
            half,
        })
    }

    /// Output shape for an input shape.
    pub fn output_shape(&self, input: [usize; 4]) -> Result<[usize; 4]> {
        let [n, h, w, _] = self.cv1.output_shape(input)?;
        Ok([n, h, w, 2 * self.half])
    }

    /// Runs into `out`, adding `residual` (same shape as `out`) when given.
    pub fn forward_into(
        &self,
        ctx: &mut Context,
        x: &TensorView<'_>,
        out: &mut TensorViewMut<'_>,
        residual: Option<TensorView<'_>>,
    ) -> Result<()> {
        let half = self.half;
        let (mut left, mut right) = out.reborrow().split_channels(half)?;
        match residual {
            None => {
                self.cv1.forward_into(ctx, x, &mut left, None)?;
                self.cv2
                    .forward_into(ctx, &left.as_view(), &mut right, None)?;
            }
            Some(r) => {
                // cv2 must see cv1's output before the residual is added to it.
                let y: Tensor = self.cv1.forward(ctx, x)?;
                self.cv2
                    .forward_into(ctx, &y.view(), &mut right, Some(r.channels(half, half)?))?;
                add(&y.view(), &r.channels(0, half)?, &mut left, ctx.threads())?;
                ctx.recycle(y);
            }
        }
        Ok(())
    }
}

/// A loaded Ultralytics `GhostBottleneck(c1, c2, k, s)`.
#[derive(Clone, Debug)]
pub struct GhostBottleneck {
    ghost1: GhostConv,
    dw: Option<Conv>,
    ghost2: GhostConv,
    shortcut: Option<(Conv, Conv)>,
}

impl GhostBottleneck {
    /// Loads `{prefix}.conv.{0,1,2}` and `{prefix}.shortcut.{0,1}` (stride 2 only).
    pub fn load(
        weights: &dyn WeightSource,
        prefix: &str,
        a: &GhostBottleneckArgs,
    ) -> Result<GhostBottleneck> {
        let c_ = a.c2 / 2;
        if a.s == 1 && a.c1 != a.c2 {
            return Err(YoloError::config(
                prefix,
                format!(
                    "stride-1 GhostBottleneck needs c1 == c2 for its identity shortcut, got {} -> {}",
                    a.c1, a.c2
                ),
            ));
        }
        let ghost = |i: usize, c1, c2, act| {
            GhostConv::load(
                weights,
                &format!("{prefix}.conv.{i}"),
                &GhostConvArgs {
                    c1,
                    c2,
                    k: 1,
                    s: 1,
                    g: 1,
                    act,
                },
            )
        };
        let (dw, shortcut) = if a.s == 2 {
            (
                Some(Conv::load(
                    weights,
                    &format!("{prefix}.conv.1"),
                    &ConvArgs::new(c_, c_, a.k, 2, false).groups(c_),
                )?),
                Some((
                    Conv::load(
                        weights,
                        &format!("{prefix}.shortcut.0"),
                        &ConvArgs::new(a.c1, a.c1, a.k, 2, false).groups(a.c1),
                    )?,
                    Conv::load(
                        weights,
                        &format!("{prefix}.shortcut.1"),
                        &ConvArgs::new(a.c1, a.c2, 1, 1, false),
                    )?,
                )),
            )
        } else {
            (None, None)
        };
        Ok(GhostBottleneck {
            ghost1: ghost(0, a.c1, c_, true)?,
            dw,
            ghost2: ghost(2, c_, a.c2, false)?,
            shortcut,
        })
    }

    /// Output shape for an input shape.
    pub fn output_shape(&self, input: [usize; 4]) -> Result<[usize; 4]> {
        let mut s = self.ghost1.output_shape(input)?;
        if let Some(dw) = &self.dw {
            s = dw.output_shape(s)?;
        }
        self.ghost2.output_shape(s)
    }

    /// Runs into `out`.
    pub fn forward_into(
        &self,
        ctx: &mut Context,
        x: &TensorView<'_>,
        out: &mut TensorViewMut<'_>,
    ) -> Result<()> {
        let mut t = ctx.alloc(self.ghost1.output_shape(x.shape())?);
        self.ghost1.forward_into(ctx, x, &mut t.view_mut(), None)?;
        if let Some(dw) = &self.dw {
            let t2 = dw.forward(ctx, &t.view())?;
            ctx.recycle(std::mem::replace(&mut t, t2));
        }
        match &self.shortcut {
            None => self.ghost2.forward_into(ctx, &t.view(), out, Some(*x))?,
            Some((sc_dw, sc_pw)) => {
                let s1 = sc_dw.forward(ctx, x)?;
                let s2 = sc_pw.forward(ctx, &s1.view())?;
                self.ghost2
                    .forward_into(ctx, &t.view(), out, Some(s2.view()))?;
                ctx.recycle(s1);
                ctx.recycle(s2);
            }
        }
        ctx.recycle(t);
        Ok(())
    }
}
