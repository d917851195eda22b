//! `nn.Upsample(scale_factor=f, mode="nearest")` and the channel copies a Concat needs when a
//! producer could not write into its slice directly.

use ghost_kernels::resize::upsample_nearest_2x;
use ghost_layers::{Context, TensorView, TensorViewMut};

use crate::error::{Result, YoloError};

/// Nearest upsampling of `x` by `factor` into `out` (`n x f*h x f*w x c`, possibly a slice).
pub fn upsample_nearest(
    ctx: &Context,
    x: &TensorView<'_>,
    factor: usize,
    out: &mut TensorViewMut<'_>,
) -> Result<()> {
    let [n, h, w, c] = x.shape();
    if out.shape() != [n, h * factor, w * factor, c] {
        return Err(YoloError::InputShape {
            operand: "upsample output",
            expected: format!("{:?}", [n, h * factor, w * factor, c]),
            found: format!("{:?}", out.shape()),
        });
    }
    if factor == 2 {
        return Ok(upsample_nearest_2x(x, out, ctx.threads())?);
    }
    // Other factors are not used by the built-in models: a plain per-pixel copy.
    let (oh, ow) = (h * factor, w * factor);
    for b in 0..n {
        for y in 0..oh {
            for xo in 0..ow {
                let src = x.pixel((b * h + y / factor) * w + xo / factor);
                out.pixel_mut((b * oh + y) * ow + xo).copy_from_slice(src);
            }
        }
    }
    Ok(())
}

/// Copies `src` into `dst` (same shape; either may be a channel slice of a wider buffer).
pub fn copy_into(src: &TensorView<'_>, dst: &mut TensorViewMut<'_>) -> Result<()> {
    if src.shape() != dst.shape() {
        return Err(YoloError::InputShape {
            operand: "concat input",
            expected: format!("{:?}", dst.shape()),
            found: format!("{:?}", src.shape()),
        });
    }
    for p in 0..src.layout().pixels() {
        dst.pixel_mut(p).copy_from_slice(src.pixel(p));
    }
    Ok(())
}
