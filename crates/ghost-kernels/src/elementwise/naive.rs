//! Scalar references for the element-wise kernels (activations evaluated in f64).

use super::BinaryOp;
use crate::act::Activation;
use crate::error::Result;
use crate::view::{TensorView, TensorViewMut};

/// `output = a (+|*) b`, one element at a time.
pub fn binary(
    op: BinaryOp,
    a: &TensorView,
    b: &TensorView,
    output: &mut TensorViewMut,
) -> Result<()> {
    super::same_shape("b", a.shape(), b.shape())?;
    super::same_shape("output", a.shape(), output.shape())?;
    for p in 0..a.layout().pixels() {
        let (pa, pb) = (a.pixel(p), b.pixel(p));
        for (ch, o) in output.pixel_mut(p).iter_mut().enumerate() {
            *o = match op {
                BinaryOp::Add => pa[ch] + pb[ch],
                BinaryOp::Mul => pa[ch] * pb[ch],
            };
        }
    }
    Ok(())
}

/// `x += r`, one element at a time.
pub fn add_inplace(x: &mut TensorViewMut, r: &TensorView) -> Result<()> {
    super::same_shape("residual", x.shape(), r.shape())?;
    for p in 0..r.layout().pixels() {
        for (o, &v) in x.pixel_mut(p).iter_mut().zip(r.pixel(p)) {
            *o += v;
        }
    }
    Ok(())
}

/// `output[b, y, x, ch] = input[b, y, x, ch] * scale[b, 0, 0, ch]`.
pub fn channel_scale(
    input: &TensorView,
    scale: &TensorView,
    output: &mut TensorViewMut,
) -> Result<()> {
    super::check_scale(input.shape(), scale)?;
    super::same_shape("output", input.shape(), output.shape())?;
    let [_, h, w, _] = input.shape();
    for p in 0..input.layout().pixels() {
        let (x, s) = (input.pixel(p), scale.pixel(p / (h * w)));
        for (ch, o) in output.pixel_mut(p).iter_mut().enumerate() {
            *o = x[ch] * s[ch];
        }
    }
    Ok(())
}

/// `x *= scale` per image and channel.
pub fn channel_scale_inplace(x: &mut TensorViewMut, scale: &TensorView) -> Result<()> {
    super::check_scale(x.shape(), scale)?;
    let [_, h, w, _] = x.shape();
    for p in 0..x.layout().pixels() {
        let s = scale.pixel(p / (h * w));
        for (ch, o) in x.pixel_mut(p).iter_mut().enumerate() {
            *o *= s[ch];
        }
    }
    Ok(())
}

/// `x = act(x)`, evaluated in f64 and rounded once.
pub fn activate_inplace(x: &mut TensorViewMut, act: Activation) -> Result<()> {
    for p in 0..x.layout().pixels() {
        for o in x.pixel_mut(p) {
            *o = act.apply_f64(f64::from(*o)) as f32;
        }
    }
    Ok(())
}
