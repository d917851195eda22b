//! The AVX-512 VNNI back end: the AVX2 + FMA table with the INT8 GEMM tile on `vpdpbusd` and the
//! FP32 GEMM tile on zmm registers (x86-64 CPUs with AVX2, FMA, AVX-512 F, VL and VNNI). Its
//! other FP32 kernels are AVX2's (the direct stem kernel compiled with AVX-512 VL enabled).

use super::{avx2, Backend, Kernels};
use crate::isa::Isa;

/// The AVX2 + FMA microkernels with the VNNI INT8 GEMM tile, the 8x16 zmm FP32 GEMM tile and the
/// direct stem kernel's AVX-512 VL build.
pub(super) static BACKEND: Backend = Backend {
    isa: Isa::Avx512Vnni,
    kernels: Kernels {
        gemm: crate::pointwise::avx512::KERNEL,
        quant: crate::quant::AVX512_VNNI,
        conv_direct: Some(crate::conv::direct_avx2::rows_avx512),
        ..avx2::KERNELS
    },
};
