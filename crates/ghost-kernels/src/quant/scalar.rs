//! Scalar INT8 microkernels: exact i32 arithmetic, one multiply-add at a time. The scalar and
//! portable back ends run them; they are also the readable statement of each contract.

use super::convert::ConvertPlan;
use super::depthwise_kernel::DwWeights;
use super::gemm::{TileI8, MR};
use super::pack::{KG, NR};
use super::params::quantize_value;

/// [`super::gemm::GemmI8Fn`] in plain Rust.
///
/// # Safety
/// As [`super::gemm::GemmI8Fn`].
pub(crate) unsafe fn gemm_tile(tile: &TileI8<'_>, acc: &mut [[i32; NR]; MR]) {
    *acc = [[0; NR]; MR];
    for t in 0..tile.taps {
        for (r, acc_row) in acc.iter_mut().enumerate() {
            // SAFETY: the contract makes each row pointer valid for `cin` reads.
            let x = unsafe { std::slice::from_raw_parts(tile.a[t * MR + r], tile.cin) };
            for (i, &xi) in x.iter().enumerate() {
                let (g, b) = (i / KG, i % KG);
                let w = &tile.panel[(t * tile.groups + g) * NR * KG..][..NR * KG];
                for (j, a) in acc_row.iter_mut().enumerate() {
                    *a += i32::from(xi) * i32::from(w[j * KG + b]);
                }
            }
        }
    }
}

/// [`super::depthwise_kernel::DwPixelFn`] in plain Rust.
///
/// # Safety
/// As [`super::depthwise_kernel::DwPixelFn`].
pub(crate) unsafe fn depthwise_pixel(a: &[*const u8], w: &DwWeights<'_>, acc: &mut [i32]) {
    let c = w.channels;
    acc[..c].fill(0);
    for (t, &row) in a.iter().enumerate() {
        // SAFETY: the contract makes each tap pointer valid for `channels` reads.
        let x = unsafe { std::slice::from_raw_parts(row, c) };
        let wt = &w.codes[(t / 2) * w.cpad * 2..][..c * 2];
        for ((a, &xi), wi) in acc.iter_mut().zip(x).zip(wt.iter().skip(t % 2).step_by(2)) {
            *a += i32::from(xi) * i32::from(*wi);
        }
    }
}

/// Quantizes pixels `rows` (f32 -> u8).
///
/// # Safety
/// The plan must come from checked views; concurrent calls get disjoint ranges.
pub(crate) unsafe fn quantize_rows(plan: &ConvertPlan, rows: std::ops::Range<usize>) {
    for p in rows {
        // SAFETY: pixel `p` of both checked views holds `c` elements.
        let (src, dst) = unsafe {
            (
                std::slice::from_raw_parts(plan.f32_ptr.add(p * plan.f32_stride), plan.c),
                std::slice::from_raw_parts_mut(plan.u8_ptr.add(p * plan.u8_stride), plan.c),
            )
        };
        for (d, &s) in dst.iter_mut().zip(src) {
            *d = quantize_value(s, plan.scale, plan.zp);
        }
    }
}

/// Dequantizes pixels `rows` (u8 -> f32).
///
/// # Safety
/// As [`quantize_rows`].
pub(crate) unsafe fn dequantize_rows(plan: &ConvertPlan, rows: std::ops::Range<usize>) {
    for p in rows {
        // SAFETY: pixel `p` of both checked views holds `c` elements.
        let (src, dst) = unsafe {
            (
                std::slice::from_raw_parts(plan.u8_ptr.add(p * plan.u8_stride), plan.c),
                std::slice::from_raw_parts_mut(
                    plan.f32_ptr.cast_mut().add(p * plan.f32_stride),
                    plan.c,
                ),
            )
        };
        for (d, &s) in dst.iter_mut().zip(src) {
            *d = (i32::from(s) - i32::from(plan.zp)) as f32 * plan.scale;
        }
    }
}
