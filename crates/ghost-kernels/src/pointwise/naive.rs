//! Scalar f64 reference for the pointwise convolution: what the property tests compare the fast
//! paths against. Deliberately simple: one output element at a time, straight from the PyTorch
//! weight layout, accumulating in f64.

use crate::act::{AddOrder, Epilogue};
use crate::error::{KernelError, Result};
use crate::view::{TensorView, TensorViewMut};

use super::check_io;

/// Reference pointwise convolution. `weights` is `[cout][cin]` row-major (PyTorch
/// `[cout, cin, 1, 1]`), `cin` = input channels, `cout` = output channels; `bias` has `cout`
/// entries or is `None` (zeros).
pub fn pointwise(
    input: &TensorView<'_>,
    weights: &[f32],
    bias: Option<&[f32]>,
    epilogue: &Epilogue<'_>,
    output: &mut TensorViewMut<'_>,
) -> Result<()> {
    let cin = input.layout().c;
    let cout = output.layout().c;
    check_weights(weights, bias, cin, cout)?;
    check_io(input, cin, cout, epilogue, output)?;
    let [n, h, w, _] = output.shape();
    for b in 0..n {
        for y in 0..h {
            for x in 0..w {
                for o in 0..cout {
                    let mut acc = bias.map_or(0.0, |b| f64::from(b[o]));
                    for i in 0..cin {
                        acc += f64::from(weights[o * cin + i]) * f64::from(input.get(b, y, x, i));
                    }
                    let r = epilogue
                        .residual
                        .map(|r| (r.order, f64::from(r.view.get(b, y, x, o))));
                    output.set(b, y, x, o, finish(epilogue, acc, r) as f32);
                }
            }
        }
    }
    Ok(())
}

/// The epilogue in f64: `act(acc [+ r]) [+ r]`.
pub(crate) fn finish(epilogue: &Epilogue<'_>, acc: f64, residual: Option<(AddOrder, f64)>) -> f64 {
    let act = epilogue.act;
    match residual {
        None => act.apply_f64(acc),
        Some((AddOrder::BeforeActivation, r)) => act.apply_f64(acc + r),
        Some((AddOrder::AfterActivation, r)) => act.apply_f64(acc) + r,
    }
}

/// Checks a `[cout][cin]`-style weight slice of `per_out` floats per output channel and the bias.
pub(crate) fn check_weights_len(
    weights: &[f32],
    bias: Option<&[f32]>,
    per_out: usize,
    cout: usize,
) -> Result<()> {
    let expected = per_out
        .checked_mul(cout)
        .ok_or_else(|| KernelError::param("weights", "size overflows"))?;
    if weights.len() != expected {
        return Err(KernelError::shape("weights", expected, weights.len()));
    }
    check_bias_len(bias, cout)
}

/// Checks an optional bias holds `cout` values.
pub(crate) fn check_bias_len(bias: Option<&[f32]>, cout: usize) -> Result<()> {
    match bias {
        Some(b) if b.len() != cout => Err(KernelError::shape("bias", cout, b.len())),
        _ => Ok(()),
    }
}

fn check_weights(weights: &[f32], bias: Option<&[f32]>, cin: usize, cout: usize) -> Result<()> {
    if cin == 0 || cout == 0 {
        return Err(KernelError::param(
            "channels",
            format!("cin = {cin} and cout = {cout} must both be at least 1"),
        ));
    }
    check_weights_len(weights, bias, cin, cout)
}
