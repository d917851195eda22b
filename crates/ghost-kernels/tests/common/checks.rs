//! Checks shared by the kernel tests: nothing written outside a view, bitwise equality, and
//! errors that name the operand at fault.

use std::fmt::Debug;

use ghost_kernels::{KernelError, NhwcLayout, TensorViewMut};

/// Asserts every float of `buf` outside `layout`'s elements is still NaN (nothing was written
/// outside the view); `what` (the ISA, the case) goes into the failure message.
pub fn assert_sentinels(buf: &[f32], layout: &NhwcLayout, what: impl Debug) {
    let mut inside = vec![false; buf.len()];
    for p in 0..layout.pixels() {
        let o = layout.pixel_offset(p);
        inside[o..o + layout.c].iter_mut().for_each(|v| *v = true);
    }
    for (i, (&v, &inside)) in buf.iter().zip(&inside).enumerate() {
        assert!(
            inside || v.is_nan(),
            "{what:?}: stray write at float {i}: {v}"
        );
    }
}

/// Whether `a` and `b` are equal bit for bit.
pub fn same_bits(a: &[f32], b: &[f32]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
}

/// Whether `a` and `b` are equal bit for bit, any NaN matching any NaN (a maximum over a window
/// with a NaN is NaN, whichever NaN payload the implementation keeps).
pub fn same_bits_or_both_nan(a: &[f32], b: &[f32]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()))
}

/// Runs `f` on a view of `layout` in a NaN buffer with `spare` more NaN floats after the view's
/// last element, asserts that nothing outside the view was written, and returns the view's
/// values (dense).
pub fn run_into_sentinel_view(
    layout: &NhwcLayout,
    spare: usize,
    what: impl Debug,
    f: impl FnOnce(&mut TensorViewMut<'_>),
) -> Vec<f32> {
    let mut buf = vec![f32::NAN; layout.required_len() + spare];
    let mut view = TensorViewMut::new(&mut buf, *layout).unwrap();
    f(&mut view);
    let dense = view.as_view().to_dense();
    assert_sentinels(&buf, layout, what);
    dense
}

/// Runs `f` in place on a copy of `buf` (a view of `layout` with NaN around it), asserts that
/// nothing outside the view was written, and returns the view's values (dense).
pub fn run_in_place_on_copy(
    buf: &[f32],
    layout: &NhwcLayout,
    what: impl Debug,
    f: impl FnOnce(&mut TensorViewMut<'_>),
) -> Vec<f32> {
    let mut copy = buf.to_vec();
    let mut view = TensorViewMut::new(&mut copy, *layout).unwrap();
    f(&mut view);
    let dense = view.as_view().to_dense();
    assert_sentinels(&copy, layout, what);
    dense
}

/// Asserts that `err` is a shape mismatch of `operand` (the error names the tensor at fault).
pub fn assert_shape_mismatch(err: &KernelError, operand: &str) {
    assert!(
        matches!(err, KernelError::ShapeMismatch { operand: o, .. } if *o == operand),
        "expected a shape mismatch of {operand}, got: {err}"
    );
}

/// Asserts that `err` is an invalid value of parameter `name`.
pub fn assert_invalid_parameter(err: &KernelError, name: &str) {
    assert!(
        matches!(err, KernelError::InvalidParameter { name: n, .. } if *n == name),
        "expected an invalid parameter {name}, got: {err}"
    );
}
