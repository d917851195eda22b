//! The INT8 epilogue every quantized convolution shares: the exact i32 accumulator corrected
//! for the input zero point, dequantized, biased, then the f32 epilogue of the FP32 kernels
//! (residual before / after, activation), stored as f32 or requantized to u8:
//!
//! `y = act((acc - zp_in * sum_w[c]) * (s_in * s_w[c]) + bias[c] [+ r]) [+ r]`,
//! `q = clamp(round_half_even(y / s_out) + zp_out, 0, 255)`.
//!
//! Written once over [`Lanes`] (8 f32 lanes) and instantiated per back end, like the FP32
//! epilogues. The correction `acc - zp * sum_w` is exact in i32 (`MAX_REDUCTION`).

use crate::act::{Activation, AddOrder};
use crate::lanes::Lanes;

use super::params::quantize_value;

/// Where and how results are stored.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Store {
    /// f32 output: channel 0 of pixel `p` at `ptr + p * stride`.
    F32 { ptr: *mut f32, stride: usize },
    /// u8 output requantized with `scale`, `zp`.
    U8 {
        ptr: *mut u8,
        stride: usize,
        scale: f32,
        zp: u8,
    },
}

/// Per-channel constants and the fused operations of one call. Channel arrays are padded to
/// whole 16-channel panels (vector loads past `cout` stay inside them).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Finish<'a> {
    /// `s_in * s_w[c]`.
    pub scale: &'a [f32],
    /// `bias[c]`.
    pub bias: &'a [f32],
    /// `zp_in * sum_w[c]`.
    pub zp_sum: &'a [i32],
    /// Valid output channels.
    pub cout: usize,
    pub act: Activation,
    /// Residual: channel 0 of pixel `p` at `residual + p * res_stride` (when `order` is set).
    pub residual: *const f32,
    pub res_stride: usize,
    pub order: Option<AddOrder>,
    pub store: Store,
}

// SAFETY: the raw pointers address buffers the safe entry points borrowed for the call; threads
// write disjoint pixels.
unsafe impl Send for Finish<'_> {}
// SAFETY: as above.
unsafe impl Sync for Finish<'_> {}

/// Finishes output pixel `p`, channels `[col, col + 16)` clipped to `cout`, from 16
/// accumulators.
///
/// # Safety
/// `p` must be a pixel of the output (and residual) the plan was built from, `col < cout` a
/// multiple of 8, and the channel arrays padded to `col + 16`; the CPU must support `V`.
#[inline(always)]
pub(crate) unsafe fn finish16<V: Lanes>(f: &Finish<'_>, acc: &[i32; 16], p: usize, col: usize) {
    let mut corrected = [0.0f32; 16];
    for j in 0..16 {
        corrected[j] = (acc[j] - f.zp_sum[col + j]) as f32;
    }
    for half in 0..2 {
        let c0 = col + 8 * half;
        if c0 >= f.cout {
            break;
        }
        let n = (f.cout - c0).min(8);
        // SAFETY (whole block): the channel arrays hold `col + 16` entries; output and residual
        // pixels hold `cout` channels from channel 0, and only the first `n` lanes past `c0`
        // are touched.
        unsafe {
            let mask = V::mask(n);
            let mut y = V::mul_add(
                V::load(corrected.as_ptr().add(8 * half)),
                V::load(f.scale.as_ptr().add(c0)),
                V::load(f.bias.as_ptr().add(c0)),
            );
            let res = |y: V| {
                V::add(
                    y,
                    V::load_masked(f.residual.add(p * f.res_stride + c0), mask),
                )
            };
            if f.order == Some(AddOrder::BeforeActivation) {
                y = res(y);
            }
            y = V::activate(f.act, y);
            if f.order == Some(AddOrder::AfterActivation) {
                y = res(y);
            }
            match f.store {
                Store::F32 { ptr, stride } => {
                    let dst = ptr.add(p * stride + c0);
                    if n == 8 {
                        V::store(dst, y);
                    } else {
                        V::store_masked(dst, mask, y);
                    }
                }
                Store::U8 {
                    ptr,
                    stride,
                    scale,
                    zp,
                } => {
                    let mut tmp = [0.0f32; 8];
                    V::store(tmp.as_mut_ptr(), y);
                    let dst = ptr.add(p * stride + c0);
                    for (j, &v) in tmp.iter().enumerate().take(n) {
                        *dst.add(j) = quantize_value(v, scale, zp);
                    }
                }
            }
        }
    }
}
