//! Scalar pooling references (averages accumulated in f64).

use crate::error::Result;
use crate::geometry::Window;
use crate::view::{TensorView, TensorViewMut};

/// Max pooling, element by element; padding is `-inf`, a NaN in the window gives NaN.
pub fn max_pool(input: &TensorView, window: &Window, output: &mut TensorViewMut) -> Result<()> {
    super::check_max_pool(input, window, output)?;
    let [n, ih, iw, c] = input.shape();
    let [_, oh, ow, _] = output.shape();
    for b in 0..n {
        for oy in 0..oh {
            for ox in 0..ow {
                for ch in 0..c {
                    let mut m = f32::NEG_INFINITY;
                    for ky in 0..window.kernel_h {
                        for kx in 0..window.kernel_w {
                            let iy =
                                (oy * window.stride_h + ky) as isize - window.padding.top as isize;
                            let ix =
                                (ox * window.stride_w + kx) as isize - window.padding.left as isize;
                            if iy >= 0 && ix >= 0 && (iy as usize) < ih && (ix as usize) < iw {
                                let v = input.get(b, iy as usize, ix as usize, ch);
                                if v.is_nan() || v > m {
                                    m = v;
                                }
                            }
                        }
                    }
                    output.set(b, oy, ox, ch, m);
                }
            }
        }
    }
    Ok(())
}

/// Global average pooling with an f64 sum.
pub fn global_avg_pool(input: &TensorView, output: &mut TensorViewMut) -> Result<()> {
    super::check_global_avg(input, output)?;
    let [n, h, w, c] = input.shape();
    for b in 0..n {
        for ch in 0..c {
            let mut s = 0.0f64;
            for y in 0..h {
                for x in 0..w {
                    s += f64::from(input.get(b, y, x, ch));
                }
            }
            output.set(b, 0, 0, ch, (s / (h * w) as f64) as f32);
        }
    }
    Ok(())
}
