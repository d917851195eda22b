//! The NEON back end (aarch64, where NEON is part of the base architecture).

use super::{split_kernels, Backend, Kernels};
use crate::isa::Isa;
use crate::lanes::{run_neon, Neon};

/// Every NEON microkernel.
pub(super) static BACKEND: Backend = {
    let (elementwise, max_pool, global_avg_pool, upsample, dfl, softmax, detect_decode) =
        split_kernels!(run_neon);
    Backend {
        isa: Isa::Neon,
        kernels: Kernels {
            gemm: crate::pointwise::neon::KERNEL,
            pointwise_small: Some(crate::pointwise::small_neon::rows),
            conv_direct: None,
            depthwise_rows: crate::depthwise::neon::rows,
            depthwise_small: crate::depthwise::neon::small_rows,
            winograd_tiles: crate::conv::winograd::run_tiles::<Neon, crate::conv::winograd::Stride1>,
            winograd_s2_tiles: crate::conv::winograd::run_tiles::<
                Neon,
                crate::conv::winograd::Stride2,
            >,
            elementwise,
            max_pool,
            global_avg_pool,
            upsample,
            dfl,
            softmax,
            detect_decode,
            quant: crate::quant::NEON,
        },
    }
};
