//! In-place residual add, for the one place a residual cannot be fused into a kernel epilogue:
//! the primary half of a Ghost module's `ghost2`, whose pre-residual values the cheap operation
//! must read first (see `GhostModule::forward_into`). `ghost_kernels::elementwise::add` is
//! out-of-place and cannot alias its output with an input view.

use ghost_kernels::{TensorView, TensorViewMut};

/// `x += r` element-wise (shapes checked by the caller). A plain pass over pixels: deterministic
/// and independent of the thread count.
pub(crate) fn add_inplace(x: &mut TensorViewMut<'_>, r: &TensorView<'_>) {
    debug_assert_eq!(x.shape(), r.shape());
    for p in 0..x.layout().pixels() {
        for (v, &a) in x.pixel_mut(p).iter_mut().zip(r.pixel(p)) {
            *v += a;
        }
    }
}
