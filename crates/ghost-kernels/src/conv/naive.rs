//! Scalar f64 reference for dense convolution (groups = 1), straight from the PyTorch weight
//! layout `[cout][cin][kh][kw]`: what the property tests compare the fast paths against.

use crate::act::Epilogue;
use crate::error::Result;
use crate::geometry::Window;
use crate::pointwise::naive::finish;
use crate::view::{TensorView, TensorViewMut};

use super::check_conv;

/// Reference dense convolution. `weights` is `[cout][cin][kh][kw]` with `kh, kw` from `window`;
/// `bias` has `cout` entries or is `None` (zeros). Padding reads zeros.
#[allow(clippy::too_many_arguments)]
pub fn conv2d(
    input: &TensorView<'_>,
    weights: &[f32],
    bias: Option<&[f32]>,
    cin: usize,
    cout: usize,
    window: &Window,
    epilogue: &Epilogue<'_>,
    output: &mut TensorViewMut<'_>,
) -> Result<()> {
    let (kh, kw) = (window.kernel_h, window.kernel_w);
    super::check_weights(weights, bias, cin, cout, kh, kw)?;
    check_conv(input, cin, cout, kh, kw, window, epilogue, output)?;
    let [n, h, w, _] = input.shape();
    let [_, oh, ow, _] = output.shape();
    let pad = window.padding;
    for b in 0..n {
        for oy in 0..oh {
            for ox in 0..ow {
                for o in 0..cout {
                    let mut acc = bias.map_or(0.0, |b| f64::from(b[o]));
                    for ky in 0..kh {
                        let Some(iy) = (oy * window.stride_h + ky).checked_sub(pad.top) else {
                            continue;
                        };
                        if iy >= h {
                            continue;
                        }
                        for kx in 0..kw {
                            let Some(ix) = (ox * window.stride_w + kx).checked_sub(pad.left) else {
                                continue;
                            };
                            if ix >= w {
                                continue;
                            }
                            for i in 0..cin {
                                let wv = weights[((o * cin + i) * kh + ky) * kw + kx];
                                acc += f64::from(wv) * f64::from(input.get(b, iy, ix, i));
                            }
                        }
                    }
                    let r = epilogue
                        .residual
                        .map(|r| (r.order, f64::from(r.view.get(b, oy, ox, o))));
                    output.set(b, oy, ox, o, finish(epilogue, acc, r) as f32);
                }
            }
        }
    }
    Ok(())
}
