//! The AVX2 + FMA back end (x86-64 CPUs with both features).

use super::{split_kernels, Backend, Kernels};
use crate::isa::Isa;
use crate::lanes::run_avx2;

/// Every AVX2 + FMA microkernel.
pub(super) static BACKEND: Backend = Backend {
    isa: Isa::Avx2Fma,
    kernels: KERNELS,
};

/// The AVX2 + FMA table (the AVX-512 VNNI back end lists the same kernels, compiled with
/// AVX-512 enabled, plus its own GEMM tiles).
pub(super) const KERNELS: Kernels = {
    let (elementwise, max_pool, global_avg_pool, upsample, dfl, softmax, detect_decode) =
        split_kernels!(run_avx2);
    Kernels {
        gemm: crate::pointwise::avx2::KERNEL,
        pointwise_small: Some(crate::pointwise::small::rows),
        conv_direct: Some(crate::conv::direct_avx2::rows),
        depthwise_rows: crate::depthwise::avx2::rows,
        depthwise_small: crate::depthwise::avx2::small_rows,
        winograd_tiles: crate::conv::winograd::run_tiles_avx2::<crate::conv::winograd::Stride1>,
        winograd_s2_tiles: crate::conv::winograd::run_tiles_avx2::<crate::conv::winograd::Stride2>,
        elementwise,
        max_pool,
        global_avg_pool,
        upsample,
        dfl,
        softmax,
        detect_decode,
        quant: crate::quant::AVX2,
    }
};
