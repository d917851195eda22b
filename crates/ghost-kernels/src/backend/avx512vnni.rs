//! The AVX-512 VNNI back end: the AVX2 + FMA table with the INT8 GEMM tile on `vpdpbusd`
//! (x86-64 CPUs with AVX2, FMA, AVX-512 F, VL and VNNI). Its FP32 kernels are AVX2's.

use super::{avx2, Backend, Kernels};
use crate::isa::Isa;

/// The AVX2 + FMA microkernels with the VNNI INT8 GEMM tile.
pub(super) static BACKEND: Backend = Backend {
    isa: Isa::Avx512Vnni,
    kernels: Kernels {
        quant: crate::quant::AVX512_VNNI,
        ..avx2::KERNELS
    },
};
