//! `PSABlock` (`x + attn(x)`, then `x + ffn(x)`) and `C2PSA` (`cv2(cat(a, m(b)))` with
//! `a, b = cv1(x).split`): the last PSABlock writes its result straight into `b`'s slice.

use ghost_layers::{
    ActQuant, Context, ConvInput, QuantizedTensor, Tensor, TensorView, TensorViewMut, WeightSource,
};

use super::attention::Attention;
use super::conv::Conv;
use super::resample::copy_into;
use crate::error::Result;
use crate::spec::{hidden_channels, C2psaArgs, ConvArgs};

/// A loaded `PSABlock(c, attn_ratio, num_heads, shortcut=True)`.
#[derive(Clone, Debug)]
pub struct PsaBlock {
    attn: Attention,
    ffn0: Conv,
    ffn1: Conv,
}

impl PsaBlock {
    /// Loads `{prefix}.attn.*`, `{prefix}.ffn.0`, `{prefix}.ffn.1`.
    pub fn load(
        weights: &dyn WeightSource,
        prefix: &str,
        c: usize,
        attn_ratio: f64,
        num_heads: usize,
    ) -> Result<PsaBlock> {
        Ok(PsaBlock {
            attn: Attention::load(weights, &format!("{prefix}.attn"), c, num_heads, attn_ratio)?,
            ffn0: Conv::load(
                weights,
                &format!("{prefix}.ffn.0"),
                &ConvArgs::new(c, 2 * c, 1, 1, true),
            )?,
            ffn1: Conv::load(
                weights,
                &format!("{prefix}.ffn.1"),
                &ConvArgs::new(2 * c, c, 1, 1, false),
            )?,
        })
    }

    /// Runs into `out` (same shape as `x`; must not overlap `x`).
    pub fn forward_into(
        &self,
        ctx: &mut Context,
        x: &TensorView<'_>,
        out: &mut TensorViewMut<'_>,
    ) -> Result<()> {
        let mut x1 = ctx.alloc(x.shape());
        self.attn
            .forward_into(ctx, x, &mut x1.view_mut(), Some(*x))?;
        let both_int8 = ctx.int8_shared_quantization() && self.ffn0.input_quant().is_some();
        match self.ffn1.input_quant().filter(|_| both_int8) {
            // Both INT8: the hidden activation (read by ffn1 only) passes as u8 codes with
            // ffn1's input quantization, requantized in ffn0's epilogue.
            Some(q) => {
                let hidden = self
                    .ffn0
                    .forward_to_u8(ctx, ConvInput::F32(&x1.view(), None), q)?;
                let result =
                    self.ffn1
                        .forward_input_into(ctx, ConvInput::U8(&hidden), out, Some(x1.view()));
                hidden.recycle(ctx);
                result?;
            }
            None => {
                let hidden = self.ffn0.forward(ctx, &x1.view())?;
                self.ffn1
                    .forward_into(ctx, &hidden.view(), out, Some(x1.view()))?;
                ctx.recycle(hidden);
            }
        }
        ctx.recycle(x1);
        Ok(())
    }
}

/// A loaded `C2PSA(c1, c2, n, e)`.
#[derive(Clone, Debug)]
pub struct C2psa {
    cv1: Conv,
    cv2: Conv,
    m: Vec<PsaBlock>,
    hidden: usize,
}

impl C2psa {
    /// Loads `{prefix}.cv1`, `{prefix}.cv2`, `{prefix}.m.{i}`.
    pub fn load(weights: &dyn WeightSource, prefix: &str, a: &C2psaArgs) -> Result<C2psa> {
        let c = hidden_channels(a.c1, a.e);
        let m = (0..a.n)
            .map(|i| PsaBlock::load(weights, &format!("{prefix}.m.{i}"), c, 0.5, (c / 64).max(1)))
            .collect::<Result<Vec<_>>>()?;
        Ok(C2psa {
            cv1: Conv::load(
                weights,
                &format!("{prefix}.cv1"),
                &ConvArgs::new(a.c1, 2 * c, 1, 1, true),
            )?,
            cv2: Conv::load(
                weights,
                &format!("{prefix}.cv2"),
                &ConvArgs::new(2 * c, a.c1, 1, 1, true),
            )?,
            m,
            hidden: c,
        })
    }

    /// Output shape for an input shape.
    pub fn output_shape(&self, input: [usize; 4]) -> Result<[usize; 4]> {
        self.cv2.output_shape(self.cv1.output_shape(input)?)
    }

    /// Runs into `out`.
    pub fn forward_into(
        &self,
        ctx: &mut Context,
        x: &TensorView<'_>,
        out: &mut TensorViewMut<'_>,
    ) -> Result<()> {
        self.forward_input_into(ctx, ConvInput::F32(x, None), out)
    }

    /// [`C2psa::forward_into`] on an f32 input (with its shared u8 copy, when given) or on u8
    /// codes with `cv1`'s input quantization.
    pub fn forward_input_into(
        &self,
        ctx: &mut Context,
        x: ConvInput<'_, '_>,
        out: &mut TensorViewMut<'_>,
    ) -> Result<()> {
        let cat = self.mixed(ctx, x)?;
        let result = self.cv2.forward_into(ctx, &cat.view(), out, None);
        ctx.recycle(cat);
        result
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
        let cat = self.mixed(ctx, x)?;
        let result = self
            .cv2
            .forward_to_u8(ctx, ConvInput::F32(&cat.view(), None), out);
        ctx.recycle(cat);
        result
    }

    /// `cat(a, m(b))` with `a, b = cv1(x).split`, in a buffer of the pool.
    fn mixed(&self, ctx: &mut Context, x: ConvInput<'_, '_>) -> Result<Tensor> {
        let mut cat = ctx.alloc(self.cv1.output_shape(x.shape())?);
        match self.attend(ctx, x, &mut cat) {
            Ok(()) => Ok(cat),
            Err(e) => {
                ctx.recycle(cat);
                Err(e)
            }
        }
    }

    /// Fills `cat` with `cv1(x)`, then runs the blocks on its second half.
    fn attend(&self, ctx: &mut Context, x: ConvInput<'_, '_>, cat: &mut Tensor) -> Result<()> {
        let c = self.hidden;
        self.cv1
            .forward_input_into(ctx, x, &mut cat.view_mut(), None)?;
        if let Some((last, rest)) = self.m.split_last() {
            let [n, h, w, _] = cat.shape();
            // b = cat[c..2c): chain the blocks through temporaries, the last writes back into b.
            let mut t: Option<ghost_layers::Tensor> = None;
            for block in rest {
                let mut next = ctx.alloc([n, h, w, c]);
                match &t {
                    None => block.forward_into(
                        ctx,
                        &cat.view().channels(c, c)?,
                        &mut next.view_mut(),
                    )?,
                    Some(prev) => block.forward_into(ctx, &prev.view(), &mut next.view_mut())?,
                }
                if let Some(prev) = t.replace(next) {
                    ctx.recycle(prev);
                }
            }
            let input = match t {
                Some(prev) => prev,
                None => {
                    // The block reads b and writes b: it needs a copy of its input.
                    let mut copy = ctx.alloc([n, h, w, c]);
                    copy_into(&cat.view().channels(c, c)?, &mut copy.view_mut())?;
                    copy
                }
            };
            let result =
                last.forward_into(ctx, &input.view(), &mut cat.view_mut().channels_mut(c, c)?);
            ctx.recycle(input);
            result?;
        }
        Ok(())
    }
}
