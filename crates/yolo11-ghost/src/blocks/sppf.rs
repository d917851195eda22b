//! `SPPF`: `cv2(cat(y, m(y), m(m(y)), ...))` with `y = cv1(x)` and `m` a `k x k` stride-1 max
//! pool; each pool reads the previous slice of the concat buffer and writes the next one.

use ghost_kernels::pool::max_pool;
use ghost_kernels::Window;
use ghost_layers::{
    ActQuant, Context, ConvInput, QuantizedTensor, Tensor, TensorView, TensorViewMut, WeightSource,
};

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
        self.forward_input_into(ctx, ConvInput::F32(x, None), out)
    }

    /// [`Sppf::forward_into`] on an f32 input (with its shared u8 copy, when given) or on u8
    /// codes with `cv1`'s input quantization (not with a shortcut, which adds the f32 input).
    pub fn forward_input_into(
        &self,
        ctx: &mut Context,
        x: ConvInput<'_, '_>,
        out: &mut TensorViewMut<'_>,
    ) -> Result<()> {
        let residual = self.residual(&x)?;
        let cat = self.pooled(ctx, x)?;
        let result = self.cv2.forward_into(ctx, &cat.view(), out, residual);
        ctx.recycle(cat);
        result
    }

    /// The INT8 conv that reads the input (`cv1`), when every read of the input is its: an
    /// INT8 `cv1` and no shortcut.
    pub fn u8_reader(&self) -> Option<&Conv> {
        self.cv1.input_quant().filter(|_| !self.add)?;
        Some(&self.cv1)
    }

    /// The INT8 conv that writes the output (`cv2`), when it can write u8 codes: INT8 and no
    /// shortcut (the f32 input would be added after it).
    pub fn u8_writer(&self) -> Option<&Conv> {
        self.cv2.input_quant().filter(|_| !self.add)?;
        Some(&self.cv2)
    }

    /// The output as u8 codes quantized with `out`, written by `cv2`'s requantizing epilogue
    /// (only when [`Sppf::u8_writer`] is `Some`).
    pub fn forward_to_u8(
        &self,
        ctx: &mut Context,
        x: ConvInput<'_, '_>,
        out: ActQuant,
    ) -> Result<QuantizedTensor> {
        if self.add {
            return Err(YoloError::config(
                "SPPF",
                "a shortcut SPPF adds its f32 input after cv2 and cannot write u8 codes",
            ));
        }
        let cat = self.pooled(ctx, x)?;
        let result = self
            .cv2
            .forward_to_u8(ctx, ConvInput::F32(&cat.view(), None), out);
        ctx.recycle(cat);
        result
    }

    /// The shortcut's residual: the f32 input (u8 codes cannot be one).
    fn residual<'v>(&self, x: &ConvInput<'_, 'v>) -> Result<Option<TensorView<'v>>> {
        match (self.add, x) {
            (false, _) => Ok(None),
            (true, ConvInput::F32(v, _)) => Ok(Some(**v)),
            (true, ConvInput::U8(_)) => Err(YoloError::config(
                "SPPF",
                "a shortcut SPPF adds its input, which it needs in f32, not u8 codes",
            )),
        }
    }

    /// `cat(y, m(y), m(m(y)), ...)` with `y = cv1(x)`, in a buffer of the pool.
    fn pooled(&self, ctx: &mut Context, x: ConvInput<'_, '_>) -> Result<Tensor> {
        let [n, h, w, _] = self.cv1.output_shape(x.shape())?;
        let c = self.hidden;
        let mut cat = ctx.alloc([n, h, w, c * (self.pools + 1)]);
        let result = (|| {
            let mut all = cat.view_mut();
            self.cv1
                .forward_input_into(ctx, x, &mut all.channels_mut(0, c)?, None)?;
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
