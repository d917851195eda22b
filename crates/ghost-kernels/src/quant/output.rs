//! What the INT8 convolutions share around their kernels: the output choice ([`I8Output`]: f32,
//! or u8 requantized with the next layer's parameters), its shape checks, and the per-call
//! epilogue constants.

use crate::act::Epilogue;
use crate::error::{KernelError, Result};
use crate::view::TensorViewMut;

use super::epilogue::{Finish, Store};
use super::params::QuantParams;
use super::view::U8ViewMut;

/// Where an INT8 convolution writes its result.
#[derive(Debug)]
pub enum I8Output<'o, 'a> {
    /// Dequantized f32 (after bias, residual and activation).
    F32(&'o mut TensorViewMut<'a>),
    /// Requantized to u8 with the given parameters (the next INT8 layer's input), so chains
    /// of INT8 convolutions never materialise f32.
    U8(&'o mut U8ViewMut<'a>, QuantParams),
}

impl I8Output<'_, '_> {
    /// `(n, h, w, c)` of the output.
    pub fn shape(&self) -> [usize; 4] {
        match self {
            I8Output::F32(v) => v.shape(),
            I8Output::U8(v, _) => v.shape(),
        }
    }

    /// Checks the output (and the epilogue's residual) has `shape`, and the output parameters.
    pub(crate) fn check(&self, shape: [usize; 4], epilogue: &Epilogue<'_>) -> Result<()> {
        if let I8Output::U8(_, p) = self {
            p.validate("output params")?;
        }
        if self.shape() != shape {
            return Err(KernelError::shape(
                "output",
                format!("{shape:?}"),
                format!("{:?}", self.shape()),
            ));
        }
        if let Some(r) = &epilogue.residual {
            if r.view.shape() != shape {
                return Err(KernelError::shape(
                    "residual",
                    format!("{shape:?}"),
                    format!("{:?}", r.view.shape()),
                ));
            }
        }
        Ok(())
    }

    fn store(&mut self) -> Store {
        match self {
            I8Output::F32(v) => {
                let l = *v.layout();
                Store::F32 {
                    ptr: v.as_mut_ptr().wrapping_add(l.channel_offset),
                    stride: l.pixel_stride,
                }
            }
            I8Output::U8(v, p) => {
                let l = *v.layout();
                Store::U8 {
                    ptr: v.as_mut_ptr().wrapping_add(l.channel_offset),
                    stride: l.pixel_stride,
                    scale: p.scale,
                    zp: p.zero_point,
                }
            }
        }
    }
}

/// The per-call constants of the epilogue: `s_in * s_w[c]` and `zp_in * sum_w[c]` (padded
/// like the packed arrays).
pub(crate) struct FinishData {
    scale: Vec<f32>,
    zp_sum: Vec<i32>,
}

impl FinishData {
    /// From the input parameters and the packed (padded) weight scales and code sums.
    pub fn new(input: QuantParams, w_scales: &[f32], sums: &[i32]) -> Result<Self> {
        input.validate("input params")?;
        Ok(FinishData {
            scale: w_scales.iter().map(|s| s * input.scale).collect(),
            zp_sum: sums
                .iter()
                .map(|s| s * i32::from(input.zero_point))
                .collect(),
        })
    }

    /// The epilogue of one call writing `output`.
    pub fn finish<'a>(
        &'a self,
        bias: &'a [f32],
        cout: usize,
        epilogue: &Epilogue<'_>,
        output: &mut I8Output<'_, '_>,
    ) -> Finish<'a> {
        let (residual, res_stride) = match &epilogue.residual {
            Some(r) => (
                r.view.as_ptr().wrapping_add(r.view.layout().channel_offset),
                r.view.layout().pixel_stride,
            ),
            None => (std::ptr::null(), 0),
        };
        Finish {
            scale: &self.scale,
            bias,
            zp_sum: &self.zp_sum,
            cout,
            act: epilogue.act,
            residual,
            res_stride,
            order: epilogue.residual.map(|r| r.order),
            store: output.store(),
        }
    }
}
