//! INT8 inference kernels: u8 asymmetric per-tensor activations, s8 symmetric per-channel
//! weights, exact i32 accumulation, and the FP32 kernels' fused epilogue (bias, residual,
//! activation) applied to the dequantized accumulator, with f32 or requantized u8 output.
//!
//! - [`QuantParams`], [`quantize_weights_per_channel`], [`GEMM_WEIGHT_QMAX`],
//!   [`DEPTHWISE_WEIGHT_QMAX`]: the conventions (one source of truth for the quantizer);
//! - [`U8View`], [`U8ViewMut`]: strided u8 NHWC views (channel slices like the f32 ones);
//! - [`quantize`], [`dequantize`]: f32 <-> u8 conversion;
//! - [`pointwise_i8`], [`conv2d_i8`], [`depthwise_i8`] (f32 out) and their `_u8` variants
//!   (requantized u8 out), on [`PackedPointwiseI8`], [`PackedConvI8`], [`PackedDepthwiseI8`];
//! - [`naive`]: i64 references for the tests.
//!
//! Every back end registers its INT8 microkernels in the backend table
//! ([`crate::backend::Backend`]); see docs/kernels.md ("INT8") for the design and numbers.

#[cfg(target_arch = "x86_64")]
pub(crate) mod avx2;
mod conv;
mod convert;
mod depthwise;
pub(crate) mod depthwise_kernel;
pub(crate) mod depthwise_row;
mod epilogue;
#[cfg(target_arch = "x86_64")]
mod flat_avx512;
pub(crate) mod gemm;
pub mod naive;
#[cfg(target_arch = "aarch64")]
pub(crate) mod neon;
mod output;
mod pack;
mod params;
mod pointwise;
pub(crate) mod pointwise_narrow;
pub(crate) mod scalar;
#[cfg(target_arch = "x86_64")]
#[doc(hidden)]
pub mod tile_study;
mod view;
#[cfg(target_arch = "x86_64")]
pub(crate) mod vnni;
#[cfg(target_arch = "x86_64")]
mod vnni_finish;
#[cfg(target_arch = "x86_64")]
mod vnni_gemm;
#[cfg(target_arch = "x86_64")]
#[doc(hidden)]
pub mod vnni_peak;
#[cfg(target_arch = "x86_64")]
mod vnni_rows;
#[cfg(target_arch = "x86_64")]
mod x86_tile;

use std::ops::Range;

pub use conv::{conv2d_i8, conv2d_i8_u8, conv2d_i8_with_isa, PackedConvI8};
pub use convert::{dequantize, dequantize_with_isa, quantize, quantize_with_isa};
pub use depthwise::{depthwise_i8, depthwise_i8_u8, depthwise_i8_with_isa, PackedDepthwiseI8};
pub use output::I8Output;
pub use params::{
    quantize_weights_per_channel, QuantParams, DEPTHWISE_WEIGHT_QMAX, GEMM_WEIGHT_QMAX,
    MAX_REDUCTION,
};
pub use pointwise::{pointwise_i8, pointwise_i8_u8, pointwise_i8_with_isa, PackedPointwiseI8};
pub use view::{U8View, U8ViewMut};
#[cfg(target_arch = "x86_64")]
#[doc(hidden)]
pub use vnni_gemm::USE_SHARED_DRIVER;

use convert::ConvertFn;
use depthwise_kernel::{DwPixelFn, DwPlan};
use depthwise_row::DwRowFn;
use gemm::{GemmI8Fn, GemmPlan};
use pointwise_narrow::NarrowKernel;

/// The INT8 microkernels of one back end.
#[derive(Clone, Copy)]
pub(crate) struct QuantKernels {
    /// Name of the GEMM microkernel in reports (`gemm-i8 4x16 vpmaddubsw`).
    pub gemm_name: &'static str,
    /// `MR x 16` u8 x s8 tile (pointwise and dense convolutions).
    pub gemm: GemmI8Fn,
    /// The GEMM driver and epilogue instantiated on this back end's lanes.
    pub gemm_rows: unsafe fn(&GemmPlan<'_>, Range<usize>),
    /// Depthwise sums of one output pixel.
    pub depthwise: DwPixelFn,
    /// Depthwise sums of one flattened output row (the row path,
    /// [`depthwise_row`]); `None`: every depthwise call takes the per-pixel path.
    pub depthwise_row: Option<DwRowFn>,
    /// The narrow pointwise kernel (fewer than 16 outputs, [`pointwise_narrow`]) with its
    /// run-time check; `None`: those convs take the tile.
    pub pointwise_narrow: Option<NarrowKernel>,
    /// The flat-row epilogue of the depthwise row path and the narrow-output GEMM, when the
    /// back end has its own; `None`: the drivers' lanes.
    pub flat_finish: Option<depthwise_row::FlatFinishFn>,
    /// The depthwise driver and epilogue on this back end's lanes.
    pub depthwise_rows: unsafe fn(&DwPlan<'_>, Range<usize>),
    /// f32 -> u8.
    pub quantize: ConvertFn,
    /// u8 -> f32.
    pub dequantize: ConvertFn,
}

/// The scalar INT8 kernels with the drivers on scalar lanes (the scalar back end).
pub(crate) const SCALAR: QuantKernels = QuantKernels {
    gemm_name: "gemm-i8 4x16 scalar",
    gemm: scalar::gemm_tile,
    gemm_rows: rows::gemm_scalar,
    depthwise: scalar::depthwise_pixel,
    depthwise_row: Some(depthwise_row::depthwise_row_scalar),
    depthwise_rows: rows::depthwise_scalar,
    pointwise_narrow: None,
    flat_finish: None,
    quantize: scalar::quantize_rows,
    dequantize: scalar::dequantize_rows,
};

/// The scalar INT8 kernels with the drivers' epilogues on portable lanes (the portable back
/// end: its integer kernels are the scalar ones, which the compiler auto-vectorises).
pub(crate) const PORTABLE: QuantKernels = QuantKernels {
    gemm_name: "gemm-i8 4x16 scalar",
    gemm_rows: rows::gemm_portable,
    depthwise_rows: rows::depthwise_portable,
    ..SCALAR
};

/// The AVX2 INT8 kernels (`vpmaddubsw` GEMM tile, widened depthwise, vector conversions).
#[cfg(target_arch = "x86_64")]
pub(crate) const AVX2: QuantKernels = QuantKernels {
    gemm_name: "gemm-i8 4x16 vpmaddubsw",
    gemm: avx2::gemm_tile,
    gemm_rows: avx2::gemm_rows_avx2,
    depthwise: avx2::depthwise_pixel,
    depthwise_row: Some(avx2::depthwise_row),
    depthwise_rows: avx2::depthwise_rows_avx2,
    pointwise_narrow: None,
    flat_finish: None,
    quantize: avx2::quantize_rows,
    dequantize: avx2::dequantize_rows,
};

/// The AVX2 INT8 kernels with the GEMM on AVX-512 VNNI (`vpdpbusd`): the 8 x 32 zmm driver,
/// tile and epilogue of [`vnni_gemm`]; the 4 x 16 ymm tile serves the shared driver's
/// narrow-output path (`cout < 16`); the depthwise row kernel on `vpdpwssd`, and the narrow
/// pointwise kernel on AVX-512 VBMI + VNNI where the CPU has VBMI.
#[cfg(target_arch = "x86_64")]
pub(crate) const AVX512_VNNI: QuantKernels = QuantKernels {
    gemm_name: "gemm-i8 8x32 vpdpbusd",
    gemm: vnni::gemm_tile,
    gemm_rows: vnni_gemm::gemm_rows_vnni,
    depthwise_row: Some(vnni::depthwise_row),
    pointwise_narrow: Some(pointwise_narrow::VBMI),
    flat_finish: Some(flat_avx512::finish_flat_avx512),
    ..AVX2
};

/// The NEON INT8 kernels: the GEMM tile with `SDOT` where the CPU has `dotprod` (run-time
/// check), widening NEON otherwise; `SMLAL` depthwise; vector conversions; the drivers'
/// epilogues on NEON lanes.
#[cfg(target_arch = "aarch64")]
pub(crate) const NEON: QuantKernels = QuantKernels {
    gemm_name: "gemm-i8 4x16 sdot/neon",
    gemm: neon::gemm_tile,
    gemm_rows: neon::gemm_rows_neon,
    depthwise: neon::depthwise_pixel,
    depthwise_row: None,
    depthwise_rows: neon::depthwise_rows_neon,
    pointwise_narrow: None,
    flat_finish: None,
    quantize: neon::quantize_rows,
    dequantize: neon::dequantize_rows,
};

/// The drivers instantiated per lanes type.
mod rows {
    use std::ops::Range;

    use super::depthwise_kernel::{depthwise_rows, DwPlan};
    use super::gemm::{gemm_rows, GemmPlan};
    use crate::lanes::Portable;
    use crate::scalar_lanes::Scalar;

    /// # Safety
    /// As [`gemm_rows`].
    pub(crate) unsafe fn gemm_scalar(plan: &GemmPlan<'_>, rows: Range<usize>) {
        // SAFETY: forwarded contract; scalar lanes need no CPU feature.
        unsafe { gemm_rows::<Scalar>(plan, rows) }
    }

    /// # Safety
    /// As [`gemm_rows`].
    pub(crate) unsafe fn gemm_portable(plan: &GemmPlan<'_>, rows: Range<usize>) {
        // SAFETY: forwarded contract; portable lanes need no CPU feature.
        unsafe { gemm_rows::<Portable>(plan, rows) }
    }

    /// # Safety
    /// As [`depthwise_rows`].
    pub(crate) unsafe fn depthwise_scalar(plan: &DwPlan<'_>, rows: Range<usize>) {
        // SAFETY: forwarded contract.
        unsafe { depthwise_rows::<Scalar>(plan, rows) }
    }

    /// # Safety
    /// As [`depthwise_rows`].
    pub(crate) unsafe fn depthwise_portable(plan: &DwPlan<'_>, rows: Range<usize>) {
        // SAFETY: forwarded contract.
        unsafe { depthwise_rows::<Portable>(plan, rows) }
    }
}
