//! AVX2 + FMA instantiation of the depthwise kernels (the AVX2 back end's entries, and the
//! AVX-512 back end's, compiled with AVX-512 F and VL enabled).

use std::ops::Range;

use super::kernel::{rows as kernel_rows, Plan};
use super::small::rows as small_kernel_rows;
use crate::lanes::Avx2;

/// Output pixels per fast-path tile: 8 accumulators + up to 5 tap registers + 1 input fit the 16
/// ymm registers.
const TILE: usize = 8;

/// Computes output rows `rows` of a layer with at least 8 channels.
///
/// # Safety
/// The CPU must support AVX2 and FMA, and `plan` must come from the checked safe entry point.
#[target_feature(enable = "avx2,fma")]
pub(crate) unsafe fn rows(plan: &Plan, rows: Range<usize>) {
    // SAFETY: forwarded contract; this function's target features make the AVX2 lanes valid.
    unsafe { kernel_rows::<Avx2, TILE, { TILE / 2 }>(plan, rows) }
}

/// Computes output rows `rows` of a layer with fewer than 8 channels.
///
/// # Safety
/// The CPU must support AVX2 and FMA, and `plan` must come from the checked safe entry point.
#[target_feature(enable = "avx2,fma")]
pub(crate) unsafe fn small_rows(plan: &Plan, rows: Range<usize>) {
    // SAFETY: forwarded contract; this function's target features make the AVX2 lanes valid.
    unsafe { small_kernel_rows::<Avx2, TILE>(plan, rows) }
}

/// [`rows`] compiled with AVX-512 F and VL enabled (the AVX-512 back end's entry): the same
/// operations, so the same bits, with 32 vector registers for the epilogue's SiLU chains.
///
/// # Safety
/// As [`rows`]; the CPU must also support AVX-512 F and VL.
#[target_feature(enable = "avx2,fma,avx512f,avx512vl")]
pub(crate) unsafe fn rows_avx512(plan: &Plan, rows: Range<usize>) {
    // SAFETY: forwarded contract; this function's target features make the AVX2 lanes valid.
    unsafe { kernel_rows::<Avx2, TILE, { TILE / 2 }>(plan, rows) }
}

/// [`small_rows`] compiled with AVX-512 F and VL enabled (see [`rows_avx512`]).
///
/// # Safety
/// As [`small_rows`]; the CPU must also support AVX-512 F and VL.
#[target_feature(enable = "avx2,fma,avx512f,avx512vl")]
pub(crate) unsafe fn small_rows_avx512(plan: &Plan, rows: Range<usize>) {
    // SAFETY: forwarded contract; this function's target features make the AVX2 lanes valid.
    unsafe { small_kernel_rows::<Avx2, TILE>(plan, rows) }
}
