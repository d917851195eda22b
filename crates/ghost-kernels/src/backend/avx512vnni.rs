//! The AVX-512 VNNI back end: the AVX2 + FMA table with the INT8 GEMM tile on `vpdpbusd`, the
//! FP32 GEMM tile on zmm registers with an AVX-512 epilogue (x86-64 CPUs with AVX2, FMA, AVX-512
//! F, VL and VNNI), and AVX2's other FP32 kernels (small-channel pointwise, the direct stem,
//! depthwise, Winograd, element-wise ...) compiled with AVX-512 F and VL enabled: the same
//! operations and bits, with 32 vector registers (the direct stem also takes 24-pixel tiles for
//! at most 8 outputs there).

use super::{split_kernels, Backend, Kernels};
use crate::isa::Isa;
use crate::lanes::run_avx512;

/// The AVX2 + FMA microkernels with the VNNI INT8 GEMM tile, the 8x16 zmm FP32 GEMM tile and the
/// `Lanes` kernels compiled for AVX-512.
pub(super) static BACKEND: Backend = Backend {
    isa: Isa::Avx512Vnni,
    kernels: {
        let (elementwise, max_pool, global_avg_pool, upsample, dfl, softmax, detect_decode) =
            split_kernels!(run_avx512);
        Kernels {
            gemm: crate::pointwise::avx512::KERNEL,
            quant: crate::quant::AVX512_VNNI,
            pointwise_small: Some(crate::pointwise::small::rows_avx512),
            conv_direct: Some(crate::conv::direct_avx2::rows_avx512),
            depthwise_rows: crate::depthwise::avx2::rows_avx512,
            depthwise_small: crate::depthwise::avx2::small_rows_avx512,
            winograd_tiles: crate::conv::winograd::run_tiles_avx512::<crate::conv::winograd::Stride1>,
            winograd_s2_tiles: crate::conv::winograd::run_tiles_avx512::<
                crate::conv::winograd::Stride2,
            >,
            elementwise,
            max_pool,
            global_avg_pool,
            upsample,
            dfl,
            softmax,
            detect_decode,
        }
    },
};
