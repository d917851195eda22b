//! The INT8 epilogue every quantized convolution shares: the exact i32 accumulator corrected
//! for the input zero point, dequantized, biased, then the f32 epilogue of the FP32 kernels
//! (residual before / after, activation), stored as f32 or requantized to u8:
//!
//! `y = act((acc - zp_in * sum_w[c]) * (s_in * s_w[c]) + bias[c] [+ r]) [+ r]`,
//! `q = clamp(round_half_even(y / s_out) + zp_out, 0, 255)`.
//!
//! Written once over [`Lanes`] (8 f32 lanes) and instantiated per back end, like the FP32
//! epilogues. Work comes in batches of up to four 8-channel vectors ([`finish4`]) so that
//! SiLU's and sigmoid's `exp` chains run side by side (`Lanes::activate4`; measured in
//! docs/kernels.md, "INT8"). The correction
//! `acc - zp * sum_w` is exact in i32 (`MAX_REDUCTION`).

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

/// Requantized u8 stores on a lanes type: the scalar definition ([`quantize_value`]) lane by
/// lane, or its vector form with the same operations in the same order (bit-equal codes).
pub(crate) trait StoreU8: Lanes {
    /// Stores `n <= 8` codes of `y` at `dst`.
    ///
    /// # Safety
    /// `dst` must be valid for `n` byte writes; the CPU must support the lanes.
    #[inline(always)]
    unsafe fn store_u8(dst: *mut u8, y: Self, scale: f32, zp: u8, n: usize) {
        let mut tmp = [0.0f32; 8];
        // SAFETY: `tmp` holds 8 floats; `dst` holds `n` bytes (caller).
        unsafe {
            Self::store(tmp.as_mut_ptr(), y);
            for (j, &v) in tmp.iter().enumerate().take(n) {
                *dst.add(j) = quantize_value(v, scale, zp);
            }
        }
    }
}

impl StoreU8 for crate::scalar_lanes::Scalar {}
impl StoreU8 for crate::lanes::Portable {}
#[cfg(target_arch = "aarch64")]
impl StoreU8 for crate::lanes::Neon {}

#[cfg(target_arch = "x86_64")]
impl StoreU8 for crate::lanes::Avx2 {
    #[inline(always)]
    unsafe fn store_u8(dst: *mut u8, y: Self, scale: f32, zp: u8, n: usize) {
        use std::arch::x86_64::*;
        // SAFETY: AVX2 lanes exist only inside AVX2 code; `dst` holds `n` bytes (caller).
        unsafe {
            let v = _mm256_div_ps(y.0, _mm256_set1_ps(scale));
            let v = _mm256_add_ps(
                _mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC),
                _mm256_set1_ps(f32::from(zp)),
            );
            // `max(v, 0)` returns 0 for NaN, as `quantize_value`.
            let v = _mm256_min_ps(_mm256_max_ps(v, _mm256_setzero_ps()), _mm256_set1_ps(255.0));
            let i = _mm256_cvtps_epi32(v);
            let w = _mm_packus_epi32(_mm256_castsi256_si128(i), _mm256_extracti128_si256(i, 1));
            let b = _mm_packus_epi16(w, w);
            if n == 8 {
                _mm_storel_epi64(dst.cast(), b);
            } else {
                let bytes = (_mm_cvtsi128_si64(b) as u64).to_le_bytes();
                super::depthwise_row::copy_pixel(bytes.as_ptr(), dst, n);
            }
        }
    }
}

/// One 8-channel vector to finish: output pixel `p`, channels `c0 .. c0 + 8` (clipped to
/// `cout`), their zero-point-corrected sums in `acc`.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Job {
    pub p: usize,
    pub c0: usize,
    pub acc: [i32; 8],
}

/// Finishes up to 4 jobs (`jobs.len() <= 4`) side by side.
///
/// # Safety
/// Every job's `p` must be a pixel of the output (and residual) the plan was built from and
/// `c0 < cout` a multiple of 8 with the channel arrays padded to `c0 + 8`; the CPU must
/// support `V`.
#[inline(always)]
pub(crate) unsafe fn finish4<V: StoreU8>(f: &Finish<'_>, jobs: &[Job]) {
    debug_assert!(jobs.len() <= 4);
    let count = jobs.len();
    // SAFETY (whole function): the channel arrays hold `c0 + 8` entries; output and residual
    // pixels hold `cout` channels from channel 0, and only the first `n` lanes past `c0` are
    // touched.
    unsafe {
        let mut y = [V::splat(0.0); 4];
        let mut masks = [V::mask(8); 4];
        let mut ns = [8usize; 4];
        for (i, job) in jobs.iter().enumerate() {
            let mut corrected = [0.0f32; 8];
            let zp_sum: &[i32; 8] = f.zp_sum[job.c0..job.c0 + 8].try_into().expect("8");
            for ((c, &a), &z) in corrected.iter_mut().zip(&job.acc).zip(zp_sum) {
                *c = (a - z) as f32;
            }
            ns[i] = (f.cout - job.c0).min(8);
            masks[i] = V::mask(ns[i]);
            y[i] = V::mul_add(
                V::load(corrected.as_ptr()),
                V::load(f.scale.as_ptr().add(job.c0)),
                V::load(f.bias.as_ptr().add(job.c0)),
            );
        }
        let residual = |i: usize, y: V| {
            let job = &jobs[i];
            V::add(
                y,
                V::load_masked(f.residual.add(job.p * f.res_stride + job.c0), masks[i]),
            )
        };
        if f.order == Some(AddOrder::BeforeActivation) {
            for (i, v) in y.iter_mut().enumerate().take(count) {
                *v = residual(i, *v);
            }
        }
        y = if count > 1 {
            V::activate4(f.act, y)
        } else {
            [V::activate(f.act, y[0]), y[1], y[2], y[3]]
        };
        if f.order == Some(AddOrder::AfterActivation) {
            for (i, v) in y.iter_mut().enumerate().take(count) {
                *v = residual(i, *v);
            }
        }
        for (i, job) in jobs.iter().enumerate() {
            let n = ns[i];
            match f.store {
                Store::F32 { ptr, stride } => {
                    let dst = ptr.add(job.p * stride + job.c0);
                    if n == 8 {
                        V::store(dst, y[i]);
                    } else {
                        V::store_masked(dst, masks[i], y[i]);
                    }
                }
                Store::U8 {
                    ptr,
                    stride,
                    scale,
                    zp,
                } => V::store_u8(ptr.add(job.p * stride + job.c0), y[i], scale, zp, n),
            }
        }
    }
}

/// Finishes a list of jobs four at a time.
///
/// # Safety
/// As [`finish4`] for every job.
#[inline(always)]
pub(crate) unsafe fn finish_all<V: StoreU8>(f: &Finish<'_>, jobs: &[Job]) {
    for chunk in jobs.chunks(4) {
        // SAFETY: forwarded contract.
        unsafe { finish4::<V>(f, chunk) };
    }
}
