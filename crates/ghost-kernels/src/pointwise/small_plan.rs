//! Operands of the small-channel pointwise path (at most 16 output channels), shared by every
//! back end that registers a small-channel kernel (`Kernels::pointwise_small`).

use super::pack::{PanelsRef, NR};
use super::tile::Finish;

/// Raw operands of one call, built by the safe entry point from checked views.
pub(crate) struct SmallPlan<'a> {
    pub panels: PanelsRef<'a>,
    /// Channel 0 of input pixel 0, and the input pixel stride.
    pub input: *const f32,
    pub in_stride: usize,
    /// Channel 0 of output pixel 0, and the output pixel stride.
    pub output: *mut f32,
    pub out_stride: usize,
    /// Channel 0 of residual pixel 0 and its pixel stride (null / 0 without a residual).
    pub residual: *const f32,
    pub res_stride: usize,
    pub finish: Finish,
}

// SAFETY: threads of one call only read the input, residual and panels and write disjoint
// output pixels.
unsafe impl Sync for SmallPlan<'_> {}
// SAFETY: as above.
unsafe impl Send for SmallPlan<'_> {}

/// Whether a layer takes this path.
pub(crate) fn applies(cout: usize) -> bool {
    cout <= NR
}
