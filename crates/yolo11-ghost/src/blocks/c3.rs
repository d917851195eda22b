//! The C3 family: `cv3(cat(m(cv1(x)), cv2(x)))` with Bottleneck (`C3`, `C3k`) or Ultralytics
//! GhostBottleneck (`C3Ghost`) inner blocks. `m`'s last block and `cv2` write straight into the
//! two halves of the concat buffer.

use ghost_layers::{Context, QuantizedTensor, Tensor, TensorView, TensorViewMut, WeightSource};

use super::bottleneck::Bottleneck;
use super::conv::Conv;
use super::ghost::GhostBottleneck;
use crate::error::Result;
use crate::spec::{hidden_channels, BottleneckArgs, ConvArgs, CspArgs, GhostBottleneckArgs};

/// Which inner block a C3 chains.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum C3Inner {
    /// `Bottleneck(c_, c_, shortcut, g, k=(k1, k2), e=1.0)`: `(1, 3)` for C3, `(k, k)` for C3k.
    Bottleneck(usize, usize),
    /// Ultralytics `GhostBottleneck(c_, c_)` (C3Ghost).
    Ghost,
}

#[derive(Clone, Debug)]
enum Inner {
    Bottleneck(Box<Bottleneck>),
    Ghost(Box<GhostBottleneck>),
}

impl Inner {
    fn output_shape(&self, input: [usize; 4]) -> Result<[usize; 4]> {
        match self {
            Inner::Bottleneck(b) => b.output_shape(input),
            Inner::Ghost(g) => g.output_shape(input),
        }
    }

    fn forward_into(
        &self,
        ctx: &mut Context,
        x: &TensorView<'_>,
        out: &mut TensorViewMut<'_>,
    ) -> Result<()> {
        match self {
            Inner::Bottleneck(b) => b.forward_into(ctx, x, out),
            Inner::Ghost(g) => g.forward_into(ctx, x, out),
        }
    }
}

/// A loaded C3 / C3k / C3Ghost.
#[derive(Clone, Debug)]
pub struct C3 {
    cv1: Conv,
    cv2: Conv,
    cv3: Conv,
    m: Vec<Inner>,
    hidden: usize,
}

impl C3 {
    /// Loads `{prefix}.cv1/cv2/cv3` and `{prefix}.m.{i}`.
    pub fn load(
        weights: &dyn WeightSource,
        prefix: &str,
        a: &CspArgs,
        inner: C3Inner,
    ) -> Result<C3> {
        let c_ = hidden_channels(a.c2, a.e);
        let conv = |name: &str, c1, c2| {
            Conv::load(
                weights,
                &format!("{prefix}.{name}"),
                &ConvArgs::new(c1, c2, 1, 1, true),
            )
        };
        let m = (0..a.n)
            .map(|i| {
                let p = format!("{prefix}.m.{i}");
                Ok(match inner {
                    C3Inner::Bottleneck(k1, k2) => Inner::Bottleneck(Box::new(Bottleneck::load(
                        weights,
                        &p,
                        &BottleneckArgs {
                            c1: c_,
                            c2: c_,
                            shortcut: a.shortcut,
                            g: a.g,
                            k: (k1, k2),
                            e: 1.0,
                        },
                    )?)),
                    C3Inner::Ghost => Inner::Ghost(Box::new(GhostBottleneck::load(
                        weights,
                        &p,
                        &GhostBottleneckArgs {
                            c1: c_,
                            c2: c_,
                            k: 3,
                            s: 1,
                        },
                    )?)),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(C3 {
            cv1: conv("cv1", a.c1, c_)?,
            cv2: conv("cv2", a.c1, c_)?,
            cv3: conv("cv3", 2 * c_, a.c2)?,
            m,
            hidden: c_,
        })
    }

    /// Output shape for an input shape.
    pub fn output_shape(&self, input: [usize; 4]) -> Result<[usize; 4]> {
        let mut s = self.cv1.output_shape(input)?;
        for b in &self.m {
            s = b.output_shape(s)?;
        }
        self.cv3.output_shape([s[0], s[1], s[2], 2 * self.hidden])
    }

    /// Runs into `out`.
    pub fn forward_into(
        &self,
        ctx: &mut Context,
        x: &TensorView<'_>,
        out: &mut TensorViewMut<'_>,
    ) -> Result<()> {
        let [n, h, w, _] = self.cv1.output_shape(x.shape())?;
        let c_ = self.hidden;
        let mut cat = ctx.alloc([n, h, w, 2 * c_]);
        // cv1 and cv2 both read x: INT8 with the same input quantization (always, after a
        // calibration: they saw the same values), x is quantized once for both.
        let shared = if ctx.int8_shared_quantization() && self.cv1.shares_input_quant(&self.cv2) {
            self.cv1.quantize_input(ctx, x)?
        } else {
            None
        };
        self.run_parts(ctx, x, shared, &mut cat.view_mut())?;
        self.cv3.forward_into(ctx, &cat.view(), out, None)?;
        ctx.recycle(cat);
        Ok(())
    }

    /// `m(cv1(x))` and `cv2(x)` into the two halves of `cat`, cv1 and cv2 reading `shared` (the
    /// u8 copy of `x`, recycled as soon as both have run) when given.
    fn run_parts(
        &self,
        ctx: &mut Context,
        x: &TensorView<'_>,
        shared: Option<QuantizedTensor>,
        cat: &mut TensorViewMut<'_>,
    ) -> Result<()> {
        let (mut left, mut right) = cat.reborrow().split_channels(self.hidden)?;
        let first = (|| -> Result<Option<Tensor>> {
            let t = if self.m.is_empty() {
                self.cv1
                    .forward_shared_into(ctx, x, shared.as_ref(), &mut left)?;
                None
            } else {
                let mut t = ctx.alloc(self.cv1.output_shape(x.shape())?);
                self.cv1
                    .forward_shared_into(ctx, x, shared.as_ref(), &mut t.view_mut())?;
                Some(t)
            };
            self.cv2
                .forward_shared_into(ctx, x, shared.as_ref(), &mut right)?;
            Ok(t)
        })();
        if let Some(q) = shared {
            q.recycle(ctx);
        }
        let (Some(mut t), Some((last, rest))) = (first?, self.m.split_last()) else {
            return Ok(());
        };
        for b in rest {
            let mut next = ctx.alloc(b.output_shape(t.shape())?);
            b.forward_into(ctx, &t.view(), &mut next.view_mut())?;
            ctx.recycle(std::mem::replace(&mut t, next));
        }
        last.forward_into(ctx, &t.view(), &mut left)?;
        ctx.recycle(t);
        Ok(())
    }
}
