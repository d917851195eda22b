//! NEON instantiation of the depthwise kernels (aarch64; the NEON back end's entries).

use std::ops::Range;

use super::kernel::{rows as kernel_rows, Plan};
use super::small::rows as small_kernel_rows;
use crate::lanes::Neon;

/// Output pixels per fast-path tile. An 8-lane vector is two of the 32 q registers: 8
/// accumulators (16 registers) + up to 5 taps (10) + 1 input (2) = 28, the AVX2 tile's shape
/// within the register file.
const TILE: usize = 8;

/// Computes output rows `rows` of a layer with at least 8 channels.
///
/// # Safety
/// `plan` must come from the checked safe entry point (NEON is always present on aarch64).
pub(crate) unsafe fn rows(plan: &Plan, rows: Range<usize>) {
    // SAFETY: forwarded contract; the NEON lanes need no run-time CPU check on aarch64.
    unsafe { kernel_rows::<Neon, TILE, { TILE / 2 }>(plan, rows) }
}

/// Computes output rows `rows` of a layer with fewer than 8 channels.
///
/// # Safety
/// `plan` must come from the checked safe entry point (NEON is always present on aarch64).
pub(crate) unsafe fn small_rows(plan: &Plan, rows: Range<usize>) {
    // SAFETY: forwarded contract; the NEON lanes need no run-time CPU check on aarch64.
    unsafe { small_kernel_rows::<Neon, TILE>(plan, rows) }
}
