//! Depthwise `kh x kw` INT8 convolution (channel multiplier 1, any kernel size, any stride,
//! zero padding) with the shared fused epilogue.

use crate::act::Epilogue;
use crate::backend::Backend;
use crate::error::{KernelError, Result};
use crate::geometry::Window;
use crate::isa::{active_isa, Isa};
use crate::parallel::Threads;
use crate::view::TensorViewMut;

use super::depthwise_kernel::{DwPlan, DwWeights};
use super::depthwise_row::{DwRowPlan, RowTables};
use super::output::{FinishData, I8Output};
use super::pack::NR;
use super::params::{
    check_quantized, quantize_weights_per_channel, QuantParams, DEPTHWISE_WEIGHT_QMAX,
    MAX_REDUCTION,
};
use super::pointwise::MIN_MACS_PER_CHUNK;
use super::view::{U8View, U8ViewMut};

/// Depthwise weights quantized to s8 (symmetric per channel, `[-DEPTHWISE_WEIGHT_QMAX,
/// DEPTHWISE_WEIGHT_QMAX]`), stored widened to s16 in tap pairs (`[pair][channel][2]`: taps
/// `2p` and `2p + 1` side by side, a zero weight after an odd last tap; channels padded to 16)
/// so the AVX2 kernel multiplies two taps of 8 channels with one `vpmaddwd`; with scales, bias
/// and code sums.
#[derive(Clone, Debug, PartialEq)]
pub struct PackedDepthwiseI8 {
    channels: usize,
    kh: usize,
    kw: usize,
    cpad: usize,
    codes: Vec<i16>,
    scales: Vec<f32>,
    bias: Vec<f32>,
    sums: Vec<i32>,
}

impl PackedDepthwiseI8 {
    /// Quantizes f32 weights `[channels][1][kh][kw]` with [`DEPTHWISE_WEIGHT_QMAX`] and packs
    /// them with an optional bias of `channels` values.
    pub fn new(
        weights: &[f32],
        bias: Option<&[f32]>,
        channels: usize,
        kh: usize,
        kw: usize,
    ) -> Result<Self> {
        if channels == 0 {
            return Err(KernelError::param("channels", "must be at least 1"));
        }
        let (codes, scales) =
            quantize_weights_per_channel(weights, channels, DEPTHWISE_WEIGHT_QMAX)?;
        Self::from_quantized(&codes, &scales, bias, channels, kh, kw)
    }

    /// Packs already quantized codes `[channels][1][kh][kw]` in `[-DEPTHWISE_WEIGHT_QMAX,
    /// DEPTHWISE_WEIGHT_QMAX]` with their `channels` scales.
    pub fn from_quantized(
        codes: &[i8],
        scales: &[f32],
        bias: Option<&[f32]>,
        channels: usize,
        kh: usize,
        kw: usize,
    ) -> Result<Self> {
        if channels == 0 || kh == 0 || kw == 0 {
            return Err(KernelError::param(
                "channels",
                format!("{channels} channels, {kh}x{kw} kernel: each must be at least 1"),
            ));
        }
        let taps = kh
            .checked_mul(kw)
            .filter(|&t| t <= MAX_REDUCTION)
            .ok_or_else(|| {
                KernelError::param("kernel", format!("{kh}x{kw} exceeds {MAX_REDUCTION} taps"))
            })?;
        check_quantized(codes, scales, taps, channels, DEPTHWISE_WEIGHT_QMAX)?;
        if let Some(b) = bias {
            if b.len() != channels {
                return Err(KernelError::shape("bias", channels, b.len()));
            }
            if let Some(i) = b.iter().position(|v| !v.is_finite()) {
                return Err(KernelError::param(
                    "bias",
                    format!("bias {i} is {} (not finite)", b[i]),
                ));
            }
        }
        let cpad = channels.div_ceil(NR) * NR;
        let pairs = taps.div_ceil(2);
        let mut packed = vec![0i16; pairs * cpad * 2];
        let mut sums = vec![0i32; cpad];
        for c in 0..channels {
            for t in 0..taps {
                let q = codes[c * taps + t];
                packed[((t / 2) * cpad + c) * 2 + t % 2] = i16::from(q);
                sums[c] += i32::from(q);
            }
        }
        let mut s = vec![0.0f32; cpad];
        s[..channels].copy_from_slice(scales);
        let mut b = vec![0.0f32; cpad];
        if let Some(bias) = bias {
            b[..channels].copy_from_slice(bias);
        }
        Ok(PackedDepthwiseI8 {
            channels,
            kh,
            kw,
            cpad,
            codes: packed,
            scales: s,
            bias: b,
            sums,
        })
    }

    /// Channels.
    pub fn channels(&self) -> usize {
        self.channels
    }

    /// Kernel `(height, width)`.
    pub fn kernel(&self) -> (usize, usize) {
        (self.kh, self.kw)
    }

    /// The per-channel weight scales.
    pub fn weight_scales(&self) -> &[f32] {
        &self.scales[..self.channels]
    }
}

/// Depthwise INT8 convolution with f32 output: per channel `c`, `acc = sum_taps q_in * q_w`
/// (a tap in the padding reads the input zero point, i.e. real 0), then the epilogue of
/// [`super::pointwise_i8`]. `output` (and the residual) have shape `(n, oh, ow, c)`.
pub fn depthwise_i8(
    input: &U8View<'_>,
    input_params: QuantParams,
    weights: &PackedDepthwiseI8,
    window: &Window,
    epilogue: &Epilogue<'_>,
    output: &mut TensorViewMut<'_>,
    threads: &Threads,
) -> Result<()> {
    depthwise_i8_with_isa(
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

/// [`depthwise_i8`] with the result requantized to u8 with `output_params`.
#[allow(clippy::too_many_arguments)]
pub fn depthwise_i8_u8(
    input: &U8View<'_>,
    input_params: QuantParams,
    weights: &PackedDepthwiseI8,
    window: &Window,
    epilogue: &Epilogue<'_>,
    output: &mut U8ViewMut<'_>,
    output_params: QuantParams,
    threads: &Threads,
) -> Result<()> {
    depthwise_i8_with_isa(
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

/// [`depthwise_i8`] / [`depthwise_i8_u8`] on an explicit back end (tests and comparisons).
#[doc(hidden)]
#[allow(clippy::too_many_arguments)]
pub fn depthwise_i8_with_isa(
    isa: Isa,
    input: &U8View<'_>,
    input_params: QuantParams,
    weights: &PackedDepthwiseI8,
    window: &Window,
    epilogue: &Epilogue<'_>,
    mut output: I8Output<'_, '_>,
    threads: &Threads,
) -> Result<()> {
    let backend = Backend::get(isa)?;
    if (window.kernel_h, window.kernel_w) != (weights.kh, weights.kw) {
        return Err(KernelError::shape(
            "window",
            format!("{}x{} kernel (the packed weights)", weights.kh, weights.kw),
            format!("{}x{}", window.kernel_h, window.kernel_w),
        ));
    }
    let [n, ih, iw, c] = input.shape();
    if c != weights.channels {
        return Err(KernelError::shape(
            "input",
            format!("{} channels", weights.channels),
            format!("{c} channels"),
        ));
    }
    let (oh, ow) = window.output_size(ih, iw)?;
    output.check([n, oh, ow, c], epilogue)?;
    let data = FinishData::new(input_params, &weights.scales, &weights.sums)?;
    let zp_row = vec![input_params.zero_point; c];
    let finish = data.finish(&weights.bias, c, epilogue, &mut output);
    let quant = &backend.kernels.quant;
    let pairs = (weights.kh * weights.kw).div_ceil(2);
    let tables = quant.depthwise_row.and_then(|_| {
        RowTables::new(
            &weights.codes,
            c,
            weights.cpad,
            pairs,
            &finish,
            quant.flat_finish,
        )
    });
    let l = input.layout();
    let plan = DwPlan {
        weights: DwWeights {
            codes: &weights.codes,
            channels: c,
            cpad: weights.cpad,
        },
        input: input.as_ptr().wrapping_add(l.channel_offset),
        in_stride: l.pixel_stride,
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
        kernel: backend.kernels.quant.depthwise,
        finish,
        row: tables
            .as_ref()
            .zip(quant.depthwise_row)
            .map(|(tables, kernel)| DwRowPlan {
                kernel,
                tables,
                zp: input_params.zero_point,
            }),
    };
    let entry = backend.kernels.quant.depthwise_rows;
    let min_rows = MIN_MACS_PER_CHUNK.div_ceil((ow * c * weights.kh * weights.kw).max(1));
    threads.for_each_chunk(n * oh, min_rows, 1, |rows| {
        // SAFETY: shapes checked; every window position inside the input addresses a pixel of
        // the view, the others the `c`-byte zero-point row; chunks are disjoint output rows;
        // the back end is supported.
        unsafe { entry(&plan, rows) }
    });
    Ok(())
}
