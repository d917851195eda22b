//! Operands of the direct small-output dense convolution (`Kernels::conv_direct`, the RGB stem:
//! see `direct_avx2.rs`), shared by every back end that registers one.

use super::driver::{Geometry, Mode};
use crate::pointwise::pack::PanelsRef;
use crate::pointwise::tile::Finish;
use crate::view::NhwcLayout;

/// Most kernel rows.
pub(crate) const MAX_KH: usize = 3;

/// Longest window (`kh * kw * cin` floats).
pub(crate) const MAX_WINDOW: usize = 32;

/// Most output channels (four 16-output panels): the stems of yolo11n / s / m / l have 16 / 32 /
/// 64 / 64, the GhostNet models' 4 (docs/kernels.md, "RGB stem", has the measurements).
pub(crate) const MAX_COUT: usize = 64;

/// Raw operands of one call, built by the safe entry point from checked views. (Only x86-64
/// registers a kernel that reads them.)
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
pub(crate) struct DirectPlan<'a> {
    pub panels: PanelsRef<'a>,
    pub geo: Geometry,
    /// The input buffer (offsets from `NhwcLayout::index`).
    pub input: *const f32,
    pub in_layout: NhwcLayout,
    /// `kw * cin` zeros.
    pub zeros: *const f32,
    /// The output buffer and layout.
    pub output: *mut f32,
    pub out_layout: NhwcLayout,
    /// The residual buffer and layout, when one is fused.
    pub residual: Option<(*const f32, NhwcLayout)>,
    pub finish: Finish,
}

// SAFETY: threads of one call only read the input, residual and panels and write disjoint
// output pixels.
unsafe impl Sync for DirectPlan<'_> {}

/// Whether a layer takes the direct path: a packed input with few channels (the GEMM driver's
/// row-tap mode), at most [`MAX_COUT`] outputs, at most [`MAX_KH`] kernel rows and a window of
/// at most [`MAX_WINDOW`] floats.
pub(crate) fn applies(geo: &Geometry, cout: usize) -> bool {
    geo.mode() == Mode::RowTaps
        && cout <= MAX_COUT
        && geo.kh <= MAX_KH
        && geo.kh * geo.kw * geo.cin <= MAX_WINDOW
}
