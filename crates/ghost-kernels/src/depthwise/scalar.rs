//! Scalar f32 instantiation of the depthwise kernels (the scalar back end's entries).

use std::ops::Range;

use super::kernel::{rows as kernel_rows, Plan};
use super::small::rows as small_kernel_rows;
use crate::scalar_lanes::Scalar;

/// Output pixels per fast-path tile (as the portable back end: it only changes the order in
/// which pixels are visited, not any pixel's arithmetic).
const TILE: usize = 4;

/// Computes output rows `rows` of a layer with at least 8 channels.
///
/// # Safety
/// `plan` must come from the checked safe entry point.
pub(crate) unsafe fn rows(plan: &Plan, rows: Range<usize>) {
    // SAFETY: forwarded contract; scalar lanes need no CPU feature.
    unsafe { kernel_rows::<Scalar, TILE, { TILE / 2 }>(plan, rows) }
}

/// Computes output rows `rows` of a layer with fewer than 8 channels.
///
/// # Safety
/// `plan` must come from the checked safe entry point.
pub(crate) unsafe fn small_rows(plan: &Plan, rows: Range<usize>) {
    // SAFETY: forwarded contract; scalar lanes need no CPU feature.
    unsafe { small_kernel_rows::<Scalar, TILE>(plan, rows) }
}
