//! `C2f` and its YOLO11 variant `C3k2`: `cv2(cat(y0, y1, m0(y1), m1(m0(y1)), ...))` with
//! `y0, y1 = cv1(x).chunk(2)`. Every part is written in place into one concat buffer: `cv1`
//! fills the first two slices and inner block `i` reads slice `i + 1` and writes slice `i + 2`.

use ghost_layers::{
    ActQuant, Context, ConvInput, QuantizedTensor, Tensor, TensorView, TensorViewMut, WeightSource,
};

use super::bottleneck::Bottleneck;
use super::c3::{C3Inner, C3};
use super::conv::Conv;
use super::psa::PsaBlock;
use crate::error::Result;
use crate::spec::{hidden_channels, BottleneckArgs, C3k2Args, ConvArgs, CspArgs};

#[derive(Clone, Debug)]
enum Inner {
    /// `Bottleneck(c, c, shortcut, g, k, e)`.
    Bottleneck(Box<Bottleneck>),
    /// `C3k(c, c, 2, shortcut, g)` (C3k2 with `c3k=True`).
    C3k(Box<C3>),
    /// `Sequential(Bottleneck(c, c, shortcut, g), PSABlock(c, 0.5, max(c // 64, 1)))`.
    Attn(Box<(Bottleneck, PsaBlock)>),
}

impl Inner {
    fn forward_into(
        &self,
        ctx: &mut Context,
        x: &TensorView<'_>,
        out: &mut TensorViewMut<'_>,
    ) -> Result<()> {
        match self {
            Inner::Bottleneck(b) => b.forward_into(ctx, x, out),
            Inner::C3k(c) => c.forward_into(ctx, x, out),
            Inner::Attn(parts) => {
                let (b, psa) = &**parts;
                let mut t = ctx.alloc(b.output_shape(x.shape())?);
                b.forward_into(ctx, x, &mut t.view_mut())?;
                psa.forward_into(ctx, &t.view(), out)?;
                ctx.recycle(t);
                Ok(())
            }
        }
    }
}

/// A loaded C2f or C3k2.
#[derive(Clone, Debug)]
pub struct C2f {
    cv1: Conv,
    cv2: Conv,
    m: Vec<Inner>,
    hidden: usize,
}

impl C2f {
    /// Loads a `C2f(c1, c2, n, shortcut, g, e)` (inner `Bottleneck(c, c, shortcut, g, (3, 3), 1.0)`).
    pub fn load_c2f(weights: &dyn WeightSource, prefix: &str, a: &CspArgs) -> Result<C2f> {
        let c = hidden_channels(a.c2, a.e);
        let m = (0..a.n)
            .map(|i| {
                let b = BottleneckArgs {
                    c1: c,
                    c2: c,
                    shortcut: a.shortcut,
                    g: a.g,
                    k: (3, 3),
                    e: 1.0,
                };
                let block = Bottleneck::load(weights, &format!("{prefix}.m.{i}"), &b)?;
                Ok(Inner::Bottleneck(Box::new(block)))
            })
            .collect::<Result<Vec<_>>>()?;
        Self::with_inner(weights, prefix, a.c1, a.c2, c, m)
    }

    /// Loads a `C3k2(c1, c2, n, c3k, e, attn, g, shortcut)`.
    pub fn load_c3k2(weights: &dyn WeightSource, prefix: &str, a: &C3k2Args) -> Result<C2f> {
        let c = hidden_channels(a.c2, a.e);
        let bottleneck = BottleneckArgs {
            c1: c,
            c2: c,
            shortcut: a.shortcut,
            g: a.g,
            k: (3, 3),
            e: 0.5,
        };
        let m = (0..a.n)
            .map(|i| {
                let p = format!("{prefix}.m.{i}");
                Ok(if a.attn {
                    Inner::Attn(Box::new((
                        Bottleneck::load(weights, &format!("{p}.0"), &bottleneck)?,
                        PsaBlock::load(weights, &format!("{p}.1"), c, 0.5, (c / 64).max(1))?,
                    )))
                } else if a.c3k {
                    let csp = CspArgs {
                        c1: c,
                        c2: c,
                        n: 2,
                        shortcut: a.shortcut,
                        g: a.g,
                        e: 0.5,
                    };
                    Inner::C3k(Box::new(C3::load(
                        weights,
                        &p,
                        &csp,
                        C3Inner::Bottleneck(3, 3),
                    )?))
                } else {
                    Inner::Bottleneck(Box::new(Bottleneck::load(weights, &p, &bottleneck)?))
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Self::with_inner(weights, prefix, a.c1, a.c2, c, m)
    }

    fn with_inner(
        weights: &dyn WeightSource,
        prefix: &str,
        c1: usize,
        c2: usize,
        c: usize,
        m: Vec<Inner>,
    ) -> Result<C2f> {
        Ok(C2f {
            cv1: Conv::load(
                weights,
                &format!("{prefix}.cv1"),
                &ConvArgs::new(c1, 2 * c, 1, 1, true),
            )?,
            cv2: Conv::load(
                weights,
                &format!("{prefix}.cv2"),
                &ConvArgs::new((2 + m.len()) * c, c2, 1, 1, true),
            )?,
            m,
            hidden: c,
        })
    }

    /// Output shape for an input shape (every part keeps the spatial size).
    pub fn output_shape(&self, input: [usize; 4]) -> Result<[usize; 4]> {
        let [n, h, w, _] = self.cv1.output_shape(input)?;
        self.cv2
            .output_shape([n, h, w, (2 + self.m.len()) * self.hidden])
    }

    /// Input and output channels of `cv1` (`c1`, `2 c`).
    pub fn cv1_channels(&self) -> (usize, usize) {
        (self.cv1.in_channels(), self.cv1.out_channels())
    }

    /// Runs into `out`.
    pub fn forward_into(
        &self,
        ctx: &mut Context,
        x: &TensorView<'_>,
        out: &mut TensorViewMut<'_>,
    ) -> Result<()> {
        self.forward_with_cv1(ctx, out, |ctx, y| self.cv1.forward_into(ctx, x, y, None))
    }

    /// [`C2f::forward_into`] on an f32 input (with its shared u8 copy, when given) or on u8
    /// codes with `cv1`'s input quantization.
    pub fn forward_input_into(
        &self,
        ctx: &mut Context,
        x: ConvInput<'_, '_>,
        out: &mut TensorViewMut<'_>,
    ) -> Result<()> {
        self.forward_with_cv1(ctx, out, |ctx, y| {
            self.cv1.forward_input_into(ctx, x, y, None)
        })
    }

    /// The INT8 conv that reads the input (`cv1`, its only reader), if `cv1` is INT8.
    pub fn u8_reader(&self) -> Option<&Conv> {
        self.cv1.input_quant().map(|_| &self.cv1)
    }

    /// The INT8 conv that writes the output (`cv2`), if `cv2` is INT8.
    pub fn u8_writer(&self) -> Option<&Conv> {
        self.cv2.input_quant().map(|_| &self.cv2)
    }

    /// The output as u8 codes quantized with `out`, written by `cv2`'s requantizing epilogue
    /// (an FP32 `cv2` is a configuration error).
    pub fn forward_to_u8(
        &self,
        ctx: &mut Context,
        x: ConvInput<'_, '_>,
        out: ActQuant,
    ) -> Result<QuantizedTensor> {
        let [n, h, w, _] = self.cv1.output_shape(x.shape())?;
        let cat = self.concat(ctx, [n, h, w], |ctx, y| {
            self.cv1.forward_input_into(ctx, x, y, None)
        })?;
        let result = self
            .cv2
            .forward_to_u8(ctx, ConvInput::F32(&cat.view(), None), out);
        ctx.recycle(cat);
        result
    }

    /// Runs into `out` with `cv1` computed by `cv1` (which fills its `2 c` output channels, at
    /// `out`'s spatial size): the graph's upsample rewrite computes it from two inputs.
    pub fn forward_with_cv1(
        &self,
        ctx: &mut Context,
        out: &mut TensorViewMut<'_>,
        cv1: impl FnOnce(&mut Context, &mut TensorViewMut<'_>) -> Result<()>,
    ) -> Result<()> {
        let [n, h, w, _] = out.shape();
        let cat = self.concat(ctx, [n, h, w], cv1)?;
        let result = self.cv2.forward_into(ctx, &cat.view(), out, None);
        ctx.recycle(cat);
        result
    }

    /// `cat(y0, y1, m0(y1), ...)` at spatial size `[n, h, w]` in a buffer of the pool, with
    /// `cv1` filling its first `2 c` channels.
    fn concat(
        &self,
        ctx: &mut Context,
        [n, h, w]: [usize; 3],
        cv1: impl FnOnce(&mut Context, &mut TensorViewMut<'_>) -> Result<()>,
    ) -> Result<Tensor> {
        let c = self.hidden;
        let mut cat = ctx.alloc([n, h, w, (2 + self.m.len()) * c]);
        let result = (|| {
            let mut all = cat.view_mut();
            cv1(ctx, &mut all.channels_mut(0, 2 * c)?)?;
            for (i, block) in self.m.iter().enumerate() {
                // Slice i + 1 is this block's input, slice i + 2 its output.
                let (done, mut rest) = all.reborrow().split_channels((i + 2) * c)?;
                let done = done.as_view();
                let input = done.channels((i + 1) * c, c)?;
                block.forward_into(ctx, &input, &mut rest.channels_mut(0, c)?)?;
            }
            Ok(())
        })();
        match result {
            Ok(()) => Ok(cat),
            Err(e) => {
                ctx.recycle(cat);
                Err(e)
            }
        }
    }
}
