//! References for the INT8 kernels, what the conformance and property tests compare against:
//! one output element at a time, straight from the PyTorch weight layouts, i64 accumulators,
//! the epilogue in f64.

use crate::act::{AddOrder, Epilogue};
use crate::error::{KernelError, Result};
use crate::geometry::Window;

use super::params::QuantParams;
use super::view::U8View;

/// Zero-point-corrected sums `sum (q_in - zp) * q_w` of a dense convolution, dense
/// `[n][oh][ow][cout]`; `codes` is `[cout][cin][kh][kw]` (a pointwise conv is the 1x1 window);
/// padding is real 0 (`q_in = zp`).
pub fn conv2d_acc(
    input: &U8View<'_>,
    zero_point: u8,
    codes: &[i8],
    cout: usize,
    window: &Window,
) -> Result<Vec<i64>> {
    let [n, ih, iw, cin] = input.shape();
    let (kh, kw) = (window.kernel_h, window.kernel_w);
    if codes.len() != cout * cin * kh * kw {
        return Err(KernelError::shape(
            "weights",
            cout * cin * kh * kw,
            codes.len(),
        ));
    }
    let (oh, ow) = window.output_size(ih, iw)?;
    let mut out = Vec::with_capacity(n * oh * ow * cout);
    for b in 0..n {
        for oy in 0..oh {
            for ox in 0..ow {
                for o in 0..cout {
                    let mut acc = 0i64;
                    for i in 0..cin {
                        for ky in 0..kh {
                            for kx in 0..kw {
                                let iy =
                                    (oy * window.stride_h + ky) as i64 - window.padding.top as i64;
                                let ix =
                                    (ox * window.stride_w + kx) as i64 - window.padding.left as i64;
                                let inside =
                                    (0..ih as i64).contains(&iy) && (0..iw as i64).contains(&ix);
                                let q = if inside {
                                    input.get(b, iy as usize, ix as usize, i)
                                } else {
                                    zero_point
                                };
                                let w = codes[((o * cin + i) * kh + ky) * kw + kx];
                                acc += (i64::from(q) - i64::from(zero_point)) * i64::from(w);
                            }
                        }
                    }
                    out.push(acc);
                }
            }
        }
    }
    Ok(out)
}

/// Zero-point-corrected sums of a depthwise convolution, dense `[n][oh][ow][c]`; `codes` is
/// `[c][1][kh][kw]`.
pub fn depthwise_acc(
    input: &U8View<'_>,
    zero_point: u8,
    codes: &[i8],
    window: &Window,
) -> Result<Vec<i64>> {
    let [n, ih, iw, c] = input.shape();
    let (kh, kw) = (window.kernel_h, window.kernel_w);
    if codes.len() != c * kh * kw {
        return Err(KernelError::shape("weights", c * kh * kw, codes.len()));
    }
    let (oh, ow) = window.output_size(ih, iw)?;
    let mut out = Vec::with_capacity(n * oh * ow * c);
    for b in 0..n {
        for oy in 0..oh {
            for ox in 0..ow {
                for ch in 0..c {
                    let mut acc = 0i64;
                    for ky in 0..kh {
                        for kx in 0..kw {
                            let iy = (oy * window.stride_h + ky) as i64 - window.padding.top as i64;
                            let ix =
                                (ox * window.stride_w + kx) as i64 - window.padding.left as i64;
                            if (0..ih as i64).contains(&iy) && (0..iw as i64).contains(&ix) {
                                let q = input.get(b, iy as usize, ix as usize, ch);
                                let w = codes[(ch * kh + ky) * kw + kx];
                                acc += (i64::from(q) - i64::from(zero_point)) * i64::from(w);
                            }
                        }
                    }
                    out.push(acc);
                }
            }
        }
    }
    Ok(out)
}

/// The epilogue in f64 on corrected sums `acc` (dense, `cout` channels per pixel):
/// `act(acc * s_in * s_w[c] + bias[c] [+ r]) [+ r]`, the residual read from the epilogue's
/// view (pixel by pixel in `n, h, w` order).
pub fn finish(
    acc: &[i64],
    cout: usize,
    input_scale: f32,
    weight_scales: &[f32],
    bias: Option<&[f32]>,
    epilogue: &Epilogue<'_>,
) -> Vec<f64> {
    acc.iter()
        .enumerate()
        .map(|(k, &a)| {
            let (p, c) = (k / cout, k % cout);
            let y = a as f64 * f64::from(input_scale) * f64::from(weight_scales[c])
                + bias.map_or(0.0, |b| f64::from(b[c]));
            let r = epilogue
                .residual
                .map(|r| (r.order, f64::from(r.view.pixel(p)[c])));
            match r {
                None => epilogue.act.apply_f64(y),
                Some((AddOrder::BeforeActivation, r)) => epilogue.act.apply_f64(y + r),
                Some((AddOrder::AfterActivation, r)) => epilogue.act.apply_f64(y) + r,
            }
        })
        .collect()
}

/// `clamp(round_half_even(y / scale) + zp, 0, 255)` in f64.
pub fn requantize(y: f64, params: QuantParams) -> u8 {
    ((y / f64::from(params.scale)).round_ties_even() + f64::from(params.zero_point))
        .clamp(0.0, 255.0) as u8
}
