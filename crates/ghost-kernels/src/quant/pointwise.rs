//! Pointwise (1x1) INT8 convolution: u8 input x s8 per-channel weights -> exact i32
//! accumulators -> the fused epilogue, f32 or requantized u8 out.

use crate::act::Epilogue;
use crate::backend::Backend;
use crate::error::{KernelError, Result};
use crate::isa::{active_isa, Isa};
use crate::parallel::Threads;
use crate::view::TensorViewMut;

use super::gemm::{flat_consts, GemmPlan, Source, MR};
use super::output::{FinishData, I8Output};
use super::pack::PanelsI8;
use super::params::{quantize_weights_per_channel, QuantParams, GEMM_WEIGHT_QMAX};
use super::pointwise_narrow::NarrowTables;
use super::view::{U8View, U8ViewMut};

/// Multiply-adds per chunk below which a thread wake-up costs more than it saves.
pub(crate) const MIN_MACS_PER_CHUNK: usize = 64 * 1024;

/// Pointwise weights quantized to s8 (symmetric per output channel, `[-GEMM_WEIGHT_QMAX,
/// GEMM_WEIGHT_QMAX]`) and packed for the INT8 microkernels, with their scales, the f32 bias
/// and the per-channel code sums that fold the input zero point.
#[derive(Clone, Debug, PartialEq)]
pub struct PackedPointwiseI8 {
    pub(crate) panels: PanelsI8,
}

impl PackedPointwiseI8 {
    /// Quantizes f32 weights `[cout][cin]` (PyTorch `[cout, cin, 1, 1]`) with
    /// [`quantize_weights_per_channel`] and [`GEMM_WEIGHT_QMAX`], and packs them with an
    /// optional bias of `cout` values.
    pub fn new(weights: &[f32], bias: Option<&[f32]>, cin: usize, cout: usize) -> Result<Self> {
        if cout == 0 {
            return Err(KernelError::param("channels", "cout must be at least 1"));
        }
        let (codes, scales) = quantize_weights_per_channel(weights, cout, GEMM_WEIGHT_QMAX)?;
        Self::from_quantized(&codes, &scales, bias, cin, cout)
    }

    /// Packs already quantized weights: codes `[cout][cin]` in `[-GEMM_WEIGHT_QMAX,
    /// GEMM_WEIGHT_QMAX]`, `cout` finite positive scales (`real = code * scale[c]`).
    pub fn from_quantized(
        codes: &[i8],
        scales: &[f32],
        bias: Option<&[f32]>,
        cin: usize,
        cout: usize,
    ) -> Result<Self> {
        let panels = PanelsI8::pack(
            codes,
            scales,
            bias,
            cin,
            cout,
            1,
            GEMM_WEIGHT_QMAX,
            |o, _, i| codes[o * cin + i],
        )?;
        Ok(PackedPointwiseI8 { panels })
    }

    /// Input channels.
    pub fn cin(&self) -> usize {
        self.panels.cin
    }

    /// Output channels.
    pub fn cout(&self) -> usize {
        self.panels.cout
    }

    /// The `cout` per-channel weight scales.
    pub fn weight_scales(&self) -> &[f32] {
        &self.panels.scales[..self.panels.cout]
    }
}

/// Pointwise INT8 convolution with f32 output: `output = epilogue((acc - zp_in * sum_w[c]) *
/// s_in * s_w[c] + bias[c])`, `acc = sum_i q_in[i] * q_w[c][i]` exact in i32. `input` has
/// `cin` channels, quantized with `input_params`; `output` (and the residual) the shape
/// `(n, h, w, cout)` of the input's pixels. Only the output's channel range is written.
pub fn pointwise_i8(
    input: &U8View<'_>,
    input_params: QuantParams,
    weights: &PackedPointwiseI8,
    epilogue: &Epilogue<'_>,
    output: &mut TensorViewMut<'_>,
    threads: &Threads,
) -> Result<()> {
    pointwise_i8_with_isa(
        active_isa(),
        input,
        input_params,
        weights,
        epilogue,
        I8Output::F32(output),
        threads,
    )
}

/// [`pointwise_i8`] with the result requantized to u8 with `output_params`.
pub fn pointwise_i8_u8(
    input: &U8View<'_>,
    input_params: QuantParams,
    weights: &PackedPointwiseI8,
    epilogue: &Epilogue<'_>,
    output: &mut U8ViewMut<'_>,
    output_params: QuantParams,
    threads: &Threads,
) -> Result<()> {
    pointwise_i8_with_isa(
        active_isa(),
        input,
        input_params,
        weights,
        epilogue,
        I8Output::U8(output, output_params),
        threads,
    )
}

/// [`pointwise_i8`] / [`pointwise_i8_u8`] on an explicit back end (tests and comparisons).
#[doc(hidden)]
pub fn pointwise_i8_with_isa(
    isa: Isa,
    input: &U8View<'_>,
    input_params: QuantParams,
    weights: &PackedPointwiseI8,
    epilogue: &Epilogue<'_>,
    mut output: I8Output<'_, '_>,
    threads: &Threads,
) -> Result<()> {
    let backend = Backend::get(isa)?;
    let w = &weights.panels;
    let [n, h, wd, c] = input.shape();
    if c != w.cin {
        return Err(KernelError::shape(
            "input",
            format!("{} channels", w.cin),
            format!("{c} channels"),
        ));
    }
    output.check([n, h, wd, w.cout], epilogue)?;
    let data = FinishData::new(input_params, &w.scales, &w.sums)?;
    let l = input.layout();
    let finish = data.finish(&w.bias, w.cout, epilogue, &mut output);
    let flat = flat_consts(w, &finish, backend.kernels.quant.flat_finish);
    let narrow = backend
        .kernels
        .quant
        .pointwise_narrow
        .filter(|k| (k.supported)())
        .and_then(|k| Some((k.run, NarrowTables::new(w, l.pixel_stride, l.pixels())?)));
    let plan = GemmPlan {
        weights: w,
        source: Source::Pointwise {
            ptr: input.as_ptr().wrapping_add(l.channel_offset),
            stride: l.pixel_stride,
        },
        kernel: backend.kernels.quant.gemm,
        finish,
        flat: flat.as_ref(),
        narrow: narrow.as_ref().map(|(run, t)| (*run, t)),
    };
    let entry = backend.kernels.quant.gemm_rows;
    let min_rows = MIN_MACS_PER_CHUNK.div_ceil(w.cin * w.cout);
    threads.for_each_chunk(l.pixels(), min_rows, MR, |rows| {
        // SAFETY: input, output and residual shapes were checked against the weights, the
        // views hold every pixel; chunks are disjoint pixel ranges; the back end is supported.
        unsafe { entry(&plan, rows) }
    });
    Ok(())
}
