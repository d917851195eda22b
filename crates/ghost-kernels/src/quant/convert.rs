//! [`quantize`] (f32 view -> u8 view) and [`dequantize`] (u8 -> f32) with per-tensor
//! [`QuantParams`]: ONNX `QuantizeLinear` / `DequantizeLinear` on strided NHWC views,
//! vectorised per back end and split over threads by pixels.

use std::ops::Range;

use crate::backend::Backend;
use crate::error::{KernelError, Result};
use crate::isa::{active_isa, Isa};
use crate::parallel::Threads;
use crate::view::{TensorView, TensorViewMut};

use super::params::QuantParams;
use super::view::{U8View, U8ViewMut};

/// Elements per chunk below which a thread wake-up costs more than it saves.
const MIN_ELEMENTS_PER_CHUNK: usize = 32 * 1024;

/// One conversion: pixel `p` of the f32 side at `f32_ptr + p * f32_stride`, of the u8 side at
/// `u8_ptr + p * u8_stride`, `c` channels each (channel offsets applied).
#[derive(Debug)]
pub(crate) struct ConvertPlan {
    pub f32_ptr: *const f32,
    pub f32_stride: usize,
    pub u8_ptr: *mut u8,
    pub u8_stride: usize,
    pub c: usize,
    pub scale: f32,
    pub zp: u8,
}

// SAFETY: the pointers address buffers borrowed by the safe entry point; threads touch
// disjoint pixels of the written side.
unsafe impl Send for ConvertPlan {}
// SAFETY: as above.
unsafe impl Sync for ConvertPlan {}

/// A conversion kernel over pixels.
///
/// # Safety
/// The plan must come from checked views; concurrent calls get disjoint ranges; the CPU must
/// support the back end.
pub(crate) type ConvertFn = unsafe fn(&ConvertPlan, Range<usize>);

fn check_same_shape(a: [usize; 4], b: [usize; 4]) -> Result<()> {
    if a != b {
        return Err(KernelError::shape(
            "output",
            format!("{a:?} (the input's shape)"),
            format!("{b:?}"),
        ));
    }
    Ok(())
}

/// `output = clamp(round_half_even(input / scale) + zero_point, 0, 255)` (NaN -> 0), on the
/// best back end of this CPU. Shapes must match; `params` must have a finite positive scale.
pub fn quantize(
    input: &TensorView<'_>,
    params: QuantParams,
    output: &mut U8ViewMut<'_>,
    threads: &Threads,
) -> Result<()> {
    quantize_with_isa(active_isa(), input, params, output, threads)
}

/// [`quantize`] on an explicit back end (tests and comparisons).
#[doc(hidden)]
pub fn quantize_with_isa(
    isa: Isa,
    input: &TensorView<'_>,
    params: QuantParams,
    output: &mut U8ViewMut<'_>,
    threads: &Threads,
) -> Result<()> {
    let backend = Backend::get(isa)?;
    params.validate("output params")?;
    check_same_shape(input.shape(), output.shape())?;
    let (il, ol) = (*input.layout(), *output.layout());
    let plan = ConvertPlan {
        f32_ptr: input.as_ptr().wrapping_add(il.channel_offset),
        f32_stride: il.pixel_stride,
        u8_ptr: output.as_mut_ptr().wrapping_add(ol.channel_offset),
        u8_stride: ol.pixel_stride,
        c: il.c,
        scale: params.scale,
        zp: params.zero_point,
    };
    run(backend.kernels.quant.quantize, &plan, il.pixels(), threads);
    Ok(())
}

/// `output = (input - zero_point) * scale`, on the best back end of this CPU.
pub fn dequantize(
    input: &U8View<'_>,
    params: QuantParams,
    output: &mut TensorViewMut<'_>,
    threads: &Threads,
) -> Result<()> {
    dequantize_with_isa(active_isa(), input, params, output, threads)
}

/// [`dequantize`] on an explicit back end (tests and comparisons).
#[doc(hidden)]
pub fn dequantize_with_isa(
    isa: Isa,
    input: &U8View<'_>,
    params: QuantParams,
    output: &mut TensorViewMut<'_>,
    threads: &Threads,
) -> Result<()> {
    let backend = Backend::get(isa)?;
    params.validate("input params")?;
    check_same_shape(input.shape(), output.shape())?;
    let (il, ol) = (*input.layout(), *output.layout());
    let plan = ConvertPlan {
        f32_ptr: output.as_mut_ptr().wrapping_add(ol.channel_offset),
        f32_stride: ol.pixel_stride,
        u8_ptr: input.as_ptr().cast_mut().wrapping_add(il.channel_offset),
        u8_stride: il.pixel_stride,
        c: il.c,
        scale: params.scale,
        zp: params.zero_point,
    };
    run(
        backend.kernels.quant.dequantize,
        &plan,
        il.pixels(),
        threads,
    );
    Ok(())
}

fn run(entry: ConvertFn, plan: &ConvertPlan, pixels: usize, threads: &Threads) {
    if plan.c == 0 {
        return;
    }
    let min = MIN_ELEMENTS_PER_CHUNK.div_ceil(plan.c);
    // Dense on both sides: a chunk of pixels is one flat row, so narrow tensors (GhostNet's
    // 2-24 channels) run whole vectors instead of a short tail per pixel.
    let dense = plan.f32_stride == plan.c && plan.u8_stride == plan.c;
    threads.for_each_chunk(pixels, min, 1, |rows| {
        if dense {
            let flat = ConvertPlan {
                f32_ptr: plan.f32_ptr.wrapping_add(rows.start * plan.c),
                f32_stride: 0,
                u8_ptr: plan.u8_ptr.wrapping_add(rows.start * plan.c),
                u8_stride: 0,
                c: rows.len() * plan.c,
                scale: plan.scale,
                zp: plan.zp,
            };
            // SAFETY: the chunk's pixels are `rows.len() * c` consecutive elements of both
            // dense views; chunks are disjoint; `entry` belongs to a supported back end.
            unsafe { entry(&flat, 0..1) }
        } else {
            // SAFETY: both views were checked to hold `pixels` pixels of `c` channels at their
            // strides; chunks are disjoint; `entry` belongs to a supported back end.
            unsafe { entry(plan, rows) }
        }
    });
}
