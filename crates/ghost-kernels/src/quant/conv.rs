//! Dense `kh x kw` INT8 convolution (stride, zero padding; the f32 `conv2d` geometry) as an
//! indirect GEMM on the pointwise microkernel: each output pixel's row is its window's input
//! pixels, tap by tap, and a tap in the padding reads a row of input zero points (real 0).

use crate::act::Epilogue;
use crate::backend::Backend;
use crate::error::{KernelError, Result};
use crate::geometry::Window;
use crate::isa::{active_isa, Isa};
use crate::parallel::Threads;
use crate::view::TensorViewMut;

use super::gemm::{flat_consts, GemmPlan, Source, WindowSource, MAX_TAPS, MR};
use super::output::{FinishData, I8Output};
use super::pack::PanelsI8;
use super::params::{quantize_weights_per_channel, QuantParams, GEMM_WEIGHT_QMAX};
use super::pointwise::MIN_MACS_PER_CHUNK;
use super::view::{U8View, U8ViewMut};

/// Dense convolution weights quantized to s8 (symmetric per output channel, like
/// [`super::PackedPointwiseI8`]) and packed tap-major for the indirect GEMM.
#[derive(Clone, Debug, PartialEq)]
pub struct PackedConvI8 {
    panels: PanelsI8,
    kh: usize,
    kw: usize,
}

impl PackedConvI8 {
    /// Quantizes f32 weights `[cout][cin][kh][kw]` (PyTorch layout) with
    /// [`GEMM_WEIGHT_QMAX`] and packs them with an optional bias of `cout` values.
    pub fn new(
        weights: &[f32],
        bias: Option<&[f32]>,
        cin: usize,
        cout: usize,
        kh: usize,
        kw: usize,
    ) -> Result<Self> {
        if cout == 0 {
            return Err(KernelError::param("channels", "cout must be at least 1"));
        }
        let (codes, scales) = quantize_weights_per_channel(weights, cout, GEMM_WEIGHT_QMAX)?;
        Self::from_quantized(&codes, &scales, bias, cin, cout, kh, kw)
    }

    /// Packs already quantized codes `[cout][cin][kh][kw]` in `[-GEMM_WEIGHT_QMAX,
    /// GEMM_WEIGHT_QMAX]` with their `cout` scales.
    pub fn from_quantized(
        codes: &[i8],
        scales: &[f32],
        bias: Option<&[f32]>,
        cin: usize,
        cout: usize,
        kh: usize,
        kw: usize,
    ) -> Result<Self> {
        let taps = kh.checked_mul(kw).filter(|&t| (1..=MAX_TAPS).contains(&t));
        let Some(taps) = taps else {
            return Err(KernelError::param(
                "kernel",
                format!("{kh}x{kw}: an INT8 dense kernel has 1 to {MAX_TAPS} taps"),
            ));
        };
        let panels = PanelsI8::pack(
            codes,
            scales,
            bias,
            cin,
            cout,
            taps,
            GEMM_WEIGHT_QMAX,
            |o, t, i| codes[(o * cin + i) * taps + t],
        )?;
        Ok(PackedConvI8 { panels, kh, kw })
    }

    /// Input channels.
    pub fn cin(&self) -> usize {
        self.panels.cin
    }

    /// Output channels.
    pub fn cout(&self) -> usize {
        self.panels.cout
    }

    /// Kernel `(height, width)`.
    pub fn kernel(&self) -> (usize, usize) {
        (self.kh, self.kw)
    }

    /// The `cout` per-channel weight scales.
    pub fn weight_scales(&self) -> &[f32] {
        &self.panels.scales[..self.panels.cout]
    }
}

/// Dense INT8 convolution with f32 output (see [`super::pointwise_i8`] for the arithmetic).
/// `window` must have the packed kernel size; `output` and the residual have shape
/// `(n, oh, ow, cout)`, `(oh, ow) = window.output_size(h, w)`.
pub fn conv2d_i8(
    input: &U8View<'_>,
    input_params: QuantParams,
    weights: &PackedConvI8,
    window: &Window,
    epilogue: &Epilogue<'_>,
    output: &mut TensorViewMut<'_>,
    threads: &Threads,
) -> Result<()> {
    conv2d_i8_with_isa(
        active_isa(),
        input,
        input_params,
        weights,
        window,
        epilogue,
        I8Output::F32(output),
        threads,
    )
}

/// [`conv2d_i8`] with the result requantized to u8 with `output_params`.
#[allow(clippy::too_many_arguments)]
pub fn conv2d_i8_u8(
    input: &U8View<'_>,
    input_params: QuantParams,
    weights: &PackedConvI8,
    window: &Window,
    epilogue: &Epilogue<'_>,
    output: &mut U8ViewMut<'_>,
    output_params: QuantParams,
    threads: &Threads,
) -> Result<()> {
    conv2d_i8_with_isa(
        active_isa(),
        input,
        input_params,
        weights,
        window,
        epilogue,
        I8Output::U8(output, output_params),
        threads,
    )
}

/// [`conv2d_i8`] / [`conv2d_i8_u8`] on an explicit back end (tests and comparisons).
#[doc(hidden)]
#[allow(clippy::too_many_arguments)]
pub fn conv2d_i8_with_isa(
    isa: Isa,
    input: &U8View<'_>,
    input_params: QuantParams,
    weights: &PackedConvI8,
    window: &Window,
    epilogue: &Epilogue<'_>,
    mut output: I8Output<'_, '_>,
    threads: &Threads,
) -> Result<()> {
    let backend = Backend::get(isa)?;
    let w = &weights.panels;
    if (window.kernel_h, window.kernel_w) != (weights.kh, weights.kw) {
        return Err(KernelError::shape(
            "window",
            format!("{}x{} kernel (the packed weights)", weights.kh, weights.kw),
            format!("{}x{}", window.kernel_h, window.kernel_w),
        ));
    }
    let [n, ih, iw, c] = input.shape();
    if c != w.cin {
        return Err(KernelError::shape(
            "input",
            format!("{} channels", w.cin),
            format!("{c} channels"),
        ));
    }
    let (oh, ow) = window.output_size(ih, iw)?;
    output.check([n, oh, ow, w.cout], epilogue)?;
    let data = FinishData::new(input_params, &w.scales, &w.sums)?;
    let zp_row = vec![input_params.zero_point; w.cin];
    let l = input.layout();
    let finish = data.finish(&w.bias, w.cout, epilogue, &mut output);
    let flat = flat_consts(w, &finish, backend.kernels.quant.flat_finish);
    let plan = GemmPlan {
        weights: w,
        source: Source::Window(WindowSource {
            ptr: input.as_ptr().wrapping_add(l.channel_offset),
            stride: l.pixel_stride,
            ih,
            iw,
            oh,
            ow,
            kh: weights.kh,
            kw: weights.kw,
            sh: window.stride_h,
            sw: window.stride_w,
            pad_top: window.padding.top,
            pad_left: window.padding.left,
            zp_row: zp_row.as_ptr(),
        }),
        kernel: backend.kernels.quant.gemm,
        finish,
        flat: flat.as_ref(),
        narrow: None,
    };
    let entry = backend.kernels.quant.gemm_rows;
    let min_rows = MIN_MACS_PER_CHUNK.div_ceil(w.cin * w.taps * w.cout);
    threads.for_each_chunk(n * oh * ow, min_rows, MR, |rows| {
        // SAFETY: shapes checked (input `cin` channels, output and residual `(n, oh, ow,
        // cout)`); every window position inside the input addresses a pixel of the view, the
        // others the `cin`-byte zero-point row; chunks are disjoint; the back end is supported.
        unsafe { entry(&plan, rows) }
    });
    Ok(())
}
