//! [`QuantizedTensor`]: an activation tensor held as u8 codes with the INT8 input quantization
//! of the convs that read it, so that INT8 convs can share one quantization pass (several convs
//! reading the same tensor) or pass u8 values between them (an INT8 conv writing the next INT8
//! conv's input directly, see [`crate::ConvBnAct::forward_to_u8`]).

use ghost_kernels::quant::{U8View, U8ViewMut};

use crate::context::Context;
use crate::error::{LayerError, Result};
use crate::quant::ActQuant;

/// The u8 buffer of a quantized tensor, kept in the [`Context`] between calls
/// ([`Context::take_state`]: a steady-state forward pass allocates none).
#[derive(Default)]
pub(crate) struct U8Buffer(pub(crate) Vec<u8>);

/// A dense NHWC tensor of u8 codes, `real = (q - zero_point) * scale` with `params`.
pub struct QuantizedTensor {
    buf: Box<U8Buffer>,
    shape: [usize; 4],
    params: ActQuant,
}

impl QuantizedTensor {
    /// A tensor of `shape` whose codes are unspecified until written, its buffer taken from
    /// `ctx`.
    pub(crate) fn alloc(ctx: &mut Context, shape: [usize; 4], params: ActQuant) -> Self {
        let len = shape.iter().product();
        // The smallest kept buffer that holds `len` codes (a new one if none does): taking any
        // buffer would grow small ones for large tensors pass after pass.
        let mut buf: Box<U8Buffer> = ctx
            .take_state_fitting(|b: &U8Buffer| (b.0.capacity() >= len).then_some(b.0.capacity()));
        buf.0.resize(len, 0);
        QuantizedTensor { buf, shape, params }
    }

    /// Shape (NHWC).
    pub fn shape(&self) -> [usize; 4] {
        self.shape
    }

    /// The quantization of its codes.
    pub fn params(&self) -> ActQuant {
        self.params
    }

    /// Its codes.
    pub fn view(&self) -> Result<U8View<'_>> {
        let [n, h, w, c] = self.shape;
        U8View::dense(&self.buf.0, n, h, w, c)
            .map_err(|e| LayerError::kernel("quantized tensor", e))
    }

    /// Its codes, writable.
    pub(crate) fn view_mut(&mut self) -> Result<U8ViewMut<'_>> {
        let [n, h, w, c] = self.shape;
        U8ViewMut::dense(&mut self.buf.0, n, h, w, c)
            .map_err(|e| LayerError::kernel("quantized tensor", e))
    }

    /// Gives the buffer back to `ctx` for the next quantized tensor (dropping it instead only
    /// costs an allocation later).
    pub fn recycle(self, ctx: &mut Context) {
        ctx.put_state(self.buf);
    }
}

impl std::fmt::Debug for QuantizedTensor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QuantizedTensor")
            .field("shape", &self.shape)
            .field("params", &self.params)
            .finish()
    }
}
