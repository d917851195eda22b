//! The portable back end: `wide::f32x8` kernels (SSE2 on baseline x86-64, NEON on aarch64),
//! for CPUs without a hand-written back end.

use super::{split_kernels, Backend, Kernels};
use crate::isa::Isa;
use crate::lanes::{run_portable, Portable};

/// Every portable microkernel.
pub(super) static BACKEND: Backend = {
    let (elementwise, max_pool, global_avg_pool, upsample, dfl, softmax, detect_decode) =
        split_kernels!(run_portable);
    Backend {
        isa: Isa::Portable,
        kernels: Kernels {
            gemm: crate::pointwise::portable::KERNEL,
            pointwise_small: None,
            conv_direct: None,
            depthwise_rows: crate::depthwise::portable::rows,
            depthwise_small: crate::depthwise::portable::small_rows,
            winograd_tiles: crate::conv::winograd::run_tiles::<
                Portable,
                crate::conv::winograd::Stride1,
            >,
            winograd_s2_tiles: crate::conv::winograd::run_tiles::<
                Portable,
                crate::conv::winograd::Stride2,
            >,
            elementwise,
            max_pool,
            global_avg_pool,
            upsample,
            dfl,
            softmax,
            detect_decode,
            quant: crate::quant::PORTABLE,
        },
    }
};
