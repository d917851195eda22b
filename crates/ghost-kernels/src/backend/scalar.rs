//! The scalar back end: every kernel body instantiated with plain f32 lanes
//! ([`crate::scalar_lanes::Scalar`]) and the 1x16 scalar GEMM tile. Slow; for debugging and as
//! a third implementation in the tests.

use super::{split_kernels, Backend, Kernels};
use crate::isa::Isa;
use crate::scalar_lanes::{run_scalar, Scalar};

/// Every scalar microkernel.
pub(super) static BACKEND: Backend = {
    let (elementwise, max_pool, global_avg_pool, upsample, dfl, softmax, detect_decode) =
        split_kernels!(run_scalar);
    Backend {
        isa: Isa::Scalar,
        kernels: Kernels {
            gemm: crate::pointwise::scalar::KERNEL,
            pointwise_small: None,
            conv_direct: None,
            depthwise_rows: crate::depthwise::scalar::rows,
            depthwise_small: crate::depthwise::scalar::small_rows,
            winograd_tiles: crate::conv::winograd::run_tiles::<
                Scalar,
                crate::conv::winograd::Stride1,
            >,
            winograd_s2_tiles: crate::conv::winograd::run_tiles::<
                Scalar,
                crate::conv::winograd::Stride2,
            >,
            elementwise,
            max_pool,
            global_avg_pool,
            upsample,
            dfl,
            softmax,
            detect_decode,
            quant: crate::quant::SCALAR,
        },
    }
};
