//! Portable (`wide::f32x8`) instantiation of the depthwise kernels (the portable back end's
//! entries).

use std::ops::Range;

use super::kernel::{rows as kernel_rows, Plan};
use super::small::rows as small_kernel_rows;
use crate::lanes::Portable;

/// Output pixels per fast-path tile. Without AVX at compile time an `f32x8` is two SSE
/// registers, so a smaller tile keeps the accumulators in the 16 xmm registers.
const TILE: usize = 4;

/// Computes output rows `rows` of a layer with at least 8 channels.
///
/// # Safety
/// `plan` must come from the checked safe entry point.
pub(crate) unsafe fn rows(plan: &Plan, rows: Range<usize>) {
    // SAFETY: forwarded contract; the portable lanes need no CPU feature.
    unsafe { kernel_rows::<Portable, TILE, { TILE / 2 }>(plan, rows) }
}

/// Computes output rows `rows` of a layer with fewer than 8 channels.
///
/// # Safety
/// `plan` must come from the checked safe entry point.
pub(crate) unsafe fn small_rows(plan: &Plan, rows: Range<usize>) {
    // SAFETY: forwarded contract; the portable lanes need no CPU feature.
    unsafe { small_kernel_rows::<Portable, TILE>(plan, rows) }
}
