//! Scalar reference depthwise convolution, accumulating in f64: what the property tests trust.

use crate::act::{AddOrder, Epilogue};
use crate::error::{KernelError, Result};
use crate::geometry::Window;
use crate::view::{TensorView, TensorViewMut};

/// Depthwise `kh x kw` convolution (channel multiplier 1) with PyTorch `[c][1][kh][kw]` weights,
/// optional bias and the fused epilogue, computed element by element in f64 and rounded once.
/// Zero padding, as PyTorch `Conv2d(groups = c)`.
pub fn depthwise(
    input: &TensorView,
    weights: &[f32],
    bias: Option<&[f32]>,
    window: &Window,
    epilogue: &Epilogue,
    output: &mut TensorViewMut,
) -> Result<()> {
    let c = input.layout().c;
    let (kh, kw) = (window.kernel_h, window.kernel_w);
    if weights.len() != c * kh * kw {
        return Err(KernelError::shape(
            "depthwise weights",
            format!("[{c}][1][{kh}][{kw}] = {} floats", c * kh * kw),
            format!("{} floats", weights.len()),
        ));
    }
    if let Some(b) = bias {
        if b.len() != c {
            return Err(KernelError::shape(
                "depthwise bias",
                format!("[{c}]"),
                format!("[{}]", b.len()),
            ));
        }
    }
    super::check_shapes(input, c, kh, kw, window, epilogue, output)?;
    let [n, ih, iw, _] = input.shape();
    let [_, oh, ow, _] = output.shape();
    let pad = window.padding;
    for b in 0..n {
        for oy in 0..oh {
            for ox in 0..ow {
                for ch in 0..c {
                    let mut acc = bias.map_or(0.0, |bias| f64::from(bias[ch]));
                    for ky in 0..kh {
                        let iy = (oy * window.stride_h + ky) as isize - pad.top as isize;
                        if iy < 0 || iy >= ih as isize {
                            continue;
                        }
                        for kx in 0..kw {
                            let ix = (ox * window.stride_w + kx) as isize - pad.left as isize;
                            if ix < 0 || ix >= iw as isize {
                                continue;
                            }
                            let x = input.get(b, iy as usize, ix as usize, ch);
                            acc += f64::from(weights[(ch * kh + ky) * kw + kx]) * f64::from(x);
                        }
                    }
                    let value = epilogue_f64(epilogue, acc, b, oy, ox, ch);
                    output.set(b, oy, ox, ch, value as f32);
                }
            }
        }
    }
    Ok(())
}

/// The epilogue of one output element in f64 (shared by the naive references of every family).
pub(crate) fn epilogue_f64(
    epilogue: &Epilogue,
    acc: f64,
    b: usize,
    y: usize,
    x: usize,
    ch: usize,
) -> f64 {
    let act = epilogue.act;
    match epilogue.residual {
        None => act.apply_f64(acc),
        Some(r) => {
            let res = f64::from(r.view.get(b, y, x, ch));
            match r.order {
                AddOrder::BeforeActivation => act.apply_f64(acc + res),
                AddOrder::AfterActivation => act.apply_f64(acc) + res,
            }
        }
    }
}
