//! The backend table: one [`Backend`] per instruction set, listing every microkernel the kernel
//! families run on it, and the choice of one at start-up ([`backend`]).
//!
//! Each safe entry point (`pointwise`, `depthwise`, `conv2d` ...) checks its operands, then
//! calls the entries of one table: a back end is a value, not a `match` repeated in every
//! family. Adding a back end is one constructor (see `avx2.rs`, `neon.rs`, `portable.rs`, `scalar.rs`)
//! that names its microkernels (`avx512vnni.rs` lists AVX2's kernels compiled with AVX-512 enabled, plus its two GEMM tiles), plus one line in [`Backend::all`]; the conformance suite
//! (`tests/conformance.rs`) then runs every family of it on every CPU that supports it.
//!
//! The tables are `static`s built at compile time (function pointers); [`backend`] reads
//! `GHOST_KERNELS_ISA` and detects the CPU once. See docs/kernels.md for the design.

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod avx512vnni;
#[cfg(target_arch = "aarch64")]
mod neon;
mod portable;
mod scalar;

use std::ops::Range;
use std::sync::OnceLock;

use crate::conv::direct_plan::DirectPlan;
use crate::conv::winograd::Job;
use crate::depthwise::Plan as DepthwisePlan;
use crate::detect_decode::DecodeKernel;
use crate::dfl::DflKernel;
use crate::elementwise::ElementwiseKernel;
use crate::error::Result;
use crate::isa::{select, Isa, ISA_ENV};
use crate::pointwise::small_plan::SmallPlan;
use crate::pointwise::tile::Microkernel;
use crate::pool::{GlobalAvgKernel, MaxPoolKernel};
use crate::resize::Upsample2x;
use crate::softmax::SoftmaxKernel;

/// A kernel over work items `range` (output rows, pixels, tiles ...) of a plan built by a safe
/// entry point.
///
/// # Safety
/// The plan must come from operands its safe entry point checked; concurrent calls receive
/// disjoint ranges; the CPU must support the back end the function was registered in.
pub(crate) type RangeFn<P> = unsafe fn(&P, Range<usize>);

/// [`RangeFn`] over the small-channel pointwise plan (any lifetime).
pub(crate) type PointwiseSmallFn = unsafe fn(&SmallPlan<'_>, Range<usize>);

/// [`RangeFn`] over the direct small-output dense convolution plan (any lifetime).
pub(crate) type ConvDirectFn = unsafe fn(&DirectPlan<'_>, Range<usize>);

/// [`RangeFn`] over a depthwise plan (any lifetime).
pub(crate) type DepthwiseFn = unsafe fn(&DepthwisePlan<'_>, Range<usize>);

/// Winograd's per-thread tile loop: input transform, the GEMMs on `Job::kernel`, output
/// transform and epilogue, on a thread's scratch buffer.
///
/// # Safety
/// As [`RangeFn`]; the buffer holds `Job::buffer_len` floats.
pub(crate) type WinogradFn = unsafe fn(&Job<'_>, Range<usize>, &mut [f32]);

/// Every microkernel of one back end, one field per kernel family.
#[derive(Clone, Copy)]
pub(crate) struct Kernels {
    /// GEMM tile (`MR x 16` over packed panels, fused bias / residual / activation epilogue):
    /// the pointwise convolution, the dense convolution's indirect GEMM and Winograd's 36
    /// GEMMs all run on it.
    pub gemm: Microkernel,
    /// Pointwise convolutions with at most 16 output channels, when this back end has a
    /// dedicated kernel (otherwise they take `gemm`).
    pub pointwise_small: Option<PointwiseSmallFn>,
    /// Dense convolutions with a packed few-channel input and at most 64 outputs (the RGB
    /// stem; limits in `conv::direct_plan`), when this back end has a direct kernel (otherwise
    /// they take `gemm`).
    pub conv_direct: Option<ConvDirectFn>,
    /// Depthwise rows (3x3 / 5x5 interior tiles, edges, any other kernel size).
    pub depthwise_rows: DepthwiseFn,
    /// Depthwise rows of layers with fewer than 8 channels.
    pub depthwise_small: DepthwiseFn,
    /// Winograd F(4x4, 3x3) input/output transforms around `gemm`.
    pub winograd_tiles: WinogradFn,
    /// The stride-2 polyphase Winograd F(4x4, 2x2) transforms around `gemm`.
    pub winograd_s2_tiles: WinogradFn,
    /// Element-wise add, mul, channel scale and the standalone activations.
    pub elementwise: RangeFn<ElementwiseKernel>,
    /// Max pooling.
    pub max_pool: RangeFn<MaxPoolKernel>,
    /// Global average pooling.
    pub global_avg_pool: RangeFn<GlobalAvgKernel>,
    /// Nearest-neighbour 2x upsampling.
    pub upsample: RangeFn<Upsample2x>,
    /// DFL decode (softmax over bins and expectation).
    pub dfl: RangeFn<DflKernel>,
    /// Row softmax.
    pub softmax: RangeFn<SoftmaxKernel>,
    /// Detect's per-level decode (DFL + dist2bbox and the class sigmoid into `output0` rows).
    pub detect_decode: RangeFn<DecodeKernel>,
    /// The INT8 kernels (GEMM tile, depthwise, quantize / dequantize).
    pub quant: crate::quant::QuantKernels,
}

/// The `Lanes`-generic kernels (element-wise, pooling, upsampling, DFL, softmax, Detect decode) of one back
/// end, given its entry wrapper: `$run::<K>` must run `K::run::<V>` for the back end's lanes `V`
/// (inside `#[target_feature]` where the lanes need it).
macro_rules! split_kernels {
    ($run:ident) => {
        (
            $run::<crate::elementwise::ElementwiseKernel>,
            $run::<crate::pool::MaxPoolKernel>,
            $run::<crate::pool::GlobalAvgKernel>,
            $run::<crate::resize::Upsample2x>,
            $run::<crate::dfl::DflKernel>,
            $run::<crate::softmax::SoftmaxKernel>,
            $run::<crate::detect_decode::DecodeKernel>,
        )
    };
}
pub(crate) use split_kernels;

/// One instruction set's microkernels.
pub struct Backend {
    isa: Isa,
    pub(crate) kernels: Kernels,
}

impl std::fmt::Debug for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backend")
            .field("isa", &self.isa)
            .field("families", &self.families())
            .finish()
    }
}

impl Backend {
    /// Every back end compiled into this build, best first (supported by this CPU or not).
    pub fn all() -> &'static [&'static Backend] {
        static ALL: &[&Backend] = &[
            #[cfg(target_arch = "x86_64")]
            &avx512vnni::BACKEND,
            #[cfg(target_arch = "x86_64")]
            &avx2::BACKEND,
            #[cfg(target_arch = "aarch64")]
            &neon::BACKEND,
            &portable::BACKEND,
            &scalar::BACKEND,
        ];
        ALL
    }

    /// The back ends this CPU can run, best first.
    pub fn supported() -> impl Iterator<Item = &'static Backend> {
        Backend::all()
            .iter()
            .copied()
            .filter(|b| b.isa.is_supported())
    }

    /// The table of `isa`; fails with `InvalidParameter` if this build has no such back end or
    /// this CPU cannot run it.
    pub fn get(isa: Isa) -> Result<&'static Backend> {
        Backend::all()
            .iter()
            .copied()
            .find(|b| b.isa == isa)
            .filter(|b| b.isa.is_supported())
            .ok_or_else(|| {
                crate::error::KernelError::param(
                    "isa",
                    format!("{} is not supported by this CPU", isa.name()),
                )
            })
    }

    /// The instruction set.
    pub fn isa(&self) -> Isa {
        self.isa
    }

    /// Name printed in reports (`avx2+fma+avx512vnni`, `avx2+fma`, `neon`, `portable`, `scalar`).
    pub fn label(&self) -> &'static str {
        self.isa.label()
    }

    /// The kernel families this back end registers a microkernel for, with the microkernel's
    /// shape where it has one (`gemm 6x16`): what the conformance suite must cover.
    pub fn families(&self) -> Vec<String> {
        let k = &self.kernels;
        let mut f = vec![format!("gemm {}x16", k.gemm.mr)];
        if k.pointwise_small.is_some() {
            f.push("pointwise-small".into());
        }
        if k.conv_direct.is_some() {
            f.push("conv-direct".into());
        }
        f.extend(
            [
                "depthwise-rows",
                "depthwise-small",
                "winograd-tiles",
                "winograd-s2-tiles",
                "elementwise",
                "max-pool",
                "global-avg-pool",
                "upsample",
                "dfl",
                "softmax",
                "detect-decode",
            ]
            .map(String::from),
        );
        f.push(k.quant.gemm_name.to_string());
        f.extend(["depthwise-i8", "quantize", "dequantize"].map(String::from));
        f
    }
}

/// The back end every kernel runs on, chosen once per process: `GHOST_KERNELS_ISA` when set
/// (a name [`Isa::name`] gives, checked against what this CPU supports), else the best this CPU supports. A bad `GHOST_KERNELS_ISA`
/// cannot be returned from here (the kernels' results do not depend on the choice, and a
/// library must not abort its host), so it is printed once on stderr and the best back end runs;
/// programs that want it fatal call [`from_env`] first, as the `ghost-yolo` CLI does.
pub fn backend() -> &'static Backend {
    static ACTIVE: OnceLock<&'static Backend> = OnceLock::new();
    ACTIVE.get_or_init(|| match from_env() {
        Ok(b) => b,
        Err(e) => {
            let best = Backend::get(Isa::best()).expect("the best ISA is supported");
            eprintln!("warning: {e}; running the {} kernels", best.label());
            best
        }
    })
}

/// The back end `GHOST_KERNELS_ISA` asks for (the best one when unset), or why it cannot run.
pub fn from_env() -> Result<&'static Backend> {
    let requested = std::env::var(ISA_ENV).ok();
    Backend::get(select(requested.as_deref())?)
}
