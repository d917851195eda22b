//! Ultralytics `Detect` in eval mode: per level a box branch `cv2` (two 3x3 Convs, a 1x1 conv to
//! `4 * reg_max` DFL logits) and a class branch `cv3` (YOLO11: DWConv 3x3 + Conv 1x1, twice, then
//! a 1x1 conv to `nc` logits; `legacy` YOLOv8 form: two 3x3 Convs), decoded into `output0`
//! `[N, 4 + nc, A]`: DFL softmax expectation -> `dist2bbox` (xywh) -> times the level stride,
//! then the sigmoid class scores. Anchors are grid cell centres (`x + 0.5, y + 0.5`), levels in
//! order (P3, P4, P5), pixels row-major within a level, as `make_anchors` lays them out.

use ghost_kernels::detect_decode::{detect_decode, DecodeTarget};
use ghost_layers::{
    Context, ConvInput, QuantizedTensor, Tensor, TensorView, TensorViewMut, WeightSource,
};
use ndarray::Array3;

use super::conv::Conv;
use crate::error::{Result, YoloError};
use crate::spec::{ConvArgs, DetectArgs};

#[derive(Clone, Debug)]
struct Level {
    box_convs: Vec<Conv>,
    box_out: Conv,
    cls_convs: Vec<Conv>,
    cls_out: Conv,
}

/// The current value of a branch in [`Detect::branch`].
enum Value {
    /// The level's input.
    Input,
    /// An f32 tensor of the pool.
    F32(Tensor),
    /// u8 codes for the next INT8 conv.
    U8(QuantizedTensor),
}

impl Value {
    /// Gives its buffer back to `ctx`.
    fn recycle(self, ctx: &mut Context) {
        match self {
            Value::Input => {}
            Value::F32(t) => ctx.recycle(t),
            Value::U8(q) => q.recycle(ctx),
        }
    }
}

/// The first conv of a branch (`convs`, then `last`).
fn first<'a>(convs: &'a [Conv], last: &'a Conv) -> &'a Conv {
    convs.first().unwrap_or(last)
}

/// A loaded Detect head.
#[derive(Clone, Debug)]
pub struct Detect {
    levels: Vec<Level>,
    nc: usize,
    reg_max: usize,
    name: String,
}

impl Detect {
    /// Loads `{prefix}.cv2.{i}.*` and `{prefix}.cv3.{i}.*` for every level. When the source
    /// stores `{prefix}.dfl.conv.weight`, it must be the fixed `arange(reg_max)` the decoder
    /// assumes.
    pub fn load(weights: &dyn WeightSource, prefix: &str, a: &DetectArgs) -> Result<Detect> {
        let (c2, c3) = a.hidden();
        let conv = |name: String, args: ConvArgs| Conv::load(weights, &name, &args);
        let levels = a
            .ch
            .iter()
            .enumerate()
            .map(|(i, &x)| {
                let b = format!("{prefix}.cv2.{i}");
                let c = format!("{prefix}.cv3.{i}");
                let cls_convs = if a.legacy {
                    vec![
                        conv(format!("{c}.0"), ConvArgs::new(x, c3, 3, 1, true))?,
                        conv(format!("{c}.1"), ConvArgs::new(c3, c3, 3, 1, true))?,
                    ]
                } else {
                    vec![
                        conv(
                            format!("{c}.0.0"),
                            ConvArgs::new(x, x, 3, 1, true).groups(x),
                        )?,
                        conv(format!("{c}.0.1"), ConvArgs::new(x, c3, 1, 1, true))?,
                        conv(
                            format!("{c}.1.0"),
                            ConvArgs::new(c3, c3, 3, 1, true).groups(c3),
                        )?,
                        conv(format!("{c}.1.1"), ConvArgs::new(c3, c3, 1, 1, true))?,
                    ]
                };
                Ok(Level {
                    box_convs: vec![
                        conv(format!("{b}.0"), ConvArgs::new(x, c2, 3, 1, true))?,
                        conv(format!("{b}.1"), ConvArgs::new(c2, c2, 3, 1, true))?,
                    ],
                    box_out: Conv::load_plain_1x1(weights, &format!("{b}.2"), c2, 4 * a.reg_max)?,
                    cls_convs,
                    cls_out: Conv::load_plain_1x1(weights, &format!("{c}.2"), c3, a.nc)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let dfl_name = format!("{prefix}.dfl.conv.weight");
        if a.reg_max > 1 && weights.shape_of(&dfl_name).is_some() {
            let w = weights.load(&dfl_name, &[1, a.reg_max, 1, 1])?;
            if w.iter().enumerate().any(|(i, &v)| v != i as f32) {
                return Err(YoloError::config(
                    prefix,
                    format!(
                        "{dfl_name} is not arange({}): the DFL decoder assumes it",
                        a.reg_max
                    ),
                ));
            }
        }
        Ok(Detect {
            levels,
            nc: a.nc,
            reg_max: a.reg_max,
            name: prefix.to_string(),
        })
    }

    /// One branch of a level, `convs` then `last` into `out`, on `x` (with `shared`, its u8
    /// copy, when given). Consecutive INT8 convs pass u8 codes: each intermediate output is
    /// read only by the next conv, so an INT8 conv followed by an INT8 conv writes its output
    /// requantized with the next conv's input quantization (no f32 tensor, no quantization
    /// pass).
    fn branch(
        ctx: &mut Context,
        convs: &[Conv],
        last: &Conv,
        x: &TensorView<'_>,
        shared: Option<&QuantizedTensor>,
        out: &mut TensorViewMut<'_>,
    ) -> Result<()> {
        let mut cur = Value::Input;
        for (k, conv) in convs.iter().enumerate() {
            let next = convs.get(k + 1).unwrap_or(last);
            let input = match &cur {
                Value::Input => ConvInput::F32(x, shared),
                Value::F32(t) => ConvInput::F32(&t.view(), None),
                Value::U8(q) => ConvInput::U8(q),
            };
            let u8_passing = ctx.int8_shared_quantization();
            let produced = match (conv.input_quant(), next.input_quant()) {
                (Some(_), Some(q)) if u8_passing => {
                    conv.forward_to_u8(ctx, input, q).map(Value::U8)
                }
                _ => {
                    let mut t = ctx.alloc(conv.output_shape(input.shape())?);
                    conv.forward_input_into(ctx, input, &mut t.view_mut(), None)
                        .map(|()| Value::F32(t))
                }
            };
            std::mem::replace(&mut cur, produced?).recycle(ctx);
        }
        let input = match &cur {
            Value::Input => ConvInput::F32(x, shared),
            Value::F32(t) => ConvInput::F32(&t.view(), None),
            Value::U8(q) => ConvInput::U8(q),
        };
        let result = last.forward_input_into(ctx, input, out, None);
        cur.recycle(ctx);
        result
    }

    /// The first INT8 conv reading level `k`'s input (the box branch's first conv, else the
    /// class branch's): a u8 copy of the input made with its input quantization is used by
    /// every first conv with that quantization ([`Detect::forward_shared_into`]).
    pub fn u8_reader(&self, k: usize) -> Option<&Conv> {
        let level = self.levels.get(k)?;
        [
            first(&level.box_convs, &level.box_out),
            first(&level.cls_convs, &level.cls_out),
        ]
        .into_iter()
        .find(|c| c.input_quant().is_some())
    }

    /// Runs the head on the level feature maps (NHWC) with their strides into `output0`, which
    /// is reshaped (reallocated) only when its shape is not `output0`'s: a caller that keeps
    /// `out` between calls allocates nothing here. `shared[k]`, when given, is a u8 copy of
    /// level `k`'s input (made by the graph for readers outside the head too: `u8_homes.rs`):
    /// each branch's first conv reads it if it has that conv's input quantization, else the
    /// head quantizes the input itself. `shared` is empty or has one entry per level.
    pub fn forward_shared_into(
        &self,
        ctx: &mut Context,
        inputs: &[TensorView<'_>],
        shared: &[Option<&QuantizedTensor>],
        strides: &[usize],
        out: &mut Array3<f32>,
    ) -> Result<()> {
        let shared_ok = shared.is_empty() || shared.len() == self.levels.len();
        if inputs.len() != self.levels.len() || strides.len() != self.levels.len() || !shared_ok {
            return Err(YoloError::config(
                self.name.clone(),
                format!(
                    "expected {} levels, got {} inputs",
                    self.levels.len(),
                    inputs.len()
                ),
            ));
        }
        let n = inputs[0].shape()[0];
        let anchors: usize = inputs.iter().map(|x| x.shape()[1] * x.shape()[2]).sum();
        let (nc, bins) = (self.nc, self.reg_max);
        // Every element is written below (box rows and class rows of every anchor).
        if out.dim() != (n, 4 + nc, anchors) || !out.is_standard_layout() {
            *out = Array3::<f32>::zeros((n, 4 + nc, anchors));
        }
        let mut offset = 0;
        for (k, ((level, x), &stride)) in self.levels.iter().zip(inputs).zip(strides).enumerate() {
            let given = shared.get(k).copied().flatten();
            let [_, h, w, _] = x.shape();
            // Box logits [0, 4 bins) and class logits [4 bins, 4 bins + nc) side by side.
            let mut logits = ctx.alloc([n, h, w, 4 * bins + nc]);
            {
                // Both branches read x: when their first convs are INT8 with the same input
                // quantization (they saw the same values in calibration), x is quantized once.
                let (first_box, first_cls) = (
                    first(&level.box_convs, &level.box_out),
                    first(&level.cls_convs, &level.cls_out),
                );
                let own = if given.is_none()
                    && ctx.int8_shared_quantization()
                    && first_box.shares_input_quant(first_cls)
                {
                    first_box.quantize_input(ctx, x)?
                } else {
                    None
                };
                let shared = own.as_ref().or(given);
                let all = logits.view_mut();
                let (mut box_logits, mut cls_logits) = all.split_channels(4 * bins)?;
                let result = Self::branch(
                    ctx,
                    &level.box_convs,
                    &level.box_out,
                    x,
                    shared,
                    &mut box_logits,
                )
                .and_then(|()| {
                    Self::branch(
                        ctx,
                        &level.cls_convs,
                        &level.cls_out,
                        x,
                        shared,
                        &mut cls_logits,
                    )
                });
                if let Some(q) = own {
                    q.recycle(ctx);
                }
                result?;
            }
            // DFL + dist2bbox into the box rows and the sigmoid into the class rows of this
            // level's anchor columns, one pass over the logits (ghost_kernels::detect_decode).
            let out_flat = out.as_slice_mut().expect("output0 is in standard layout");
            let item_len = (4 + nc) * anchors;
            for b in 0..n {
                let item = &mut out_flat[b * item_len..(b + 1) * item_len];
                let logits_b = logits.view().batch_item(b)?;
                let mut target = DecodeTarget {
                    data: item,
                    anchors,
                    offset,
                };
                detect_decode(
                    &logits_b,
                    bins,
                    nc,
                    stride as f32,
                    &mut target,
                    ctx.threads(),
                )
                .map_err(|source| YoloError::kernel(format!("{}.decode", self.name), source))?;
            }
            ctx.recycle(logits);
            offset += h * w;
        }
        Ok(())
    }
}
