//! Which instruction set the kernels run on, chosen once at run time.
//!
//! The default build targets baseline x86-64 / aarch64. On x86-64 CPUs with AVX2 and FMA the
//! kernels use hand-written `core::arch` microkernels compiled with `#[target_feature]`; on
//! aarch64 hand-written NEON microkernels (NEON is part of the base architecture, so no
//! detection); elsewhere a portable path written with `wide`.
//! `GHOST_KERNELS_ISA=portable|naive` forces a slower path (for tests and comparisons).

use std::sync::OnceLock;

/// A kernel implementation family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Isa {
    /// x86-64 AVX2 + FMA microkernels.
    Avx2Fma,
    /// aarch64 NEON microkernels (always present on aarch64).
    Neon,
    /// Portable SIMD through `wide`.
    Portable,
    /// Scalar reference kernels (slow; for debugging).
    Naive,
}

impl Isa {
    /// Name as printed by tools and accepted by `GHOST_KERNELS_ISA`.
    pub fn name(self) -> &'static str {
        match self {
            Isa::Avx2Fma => "avx2-fma",
            Isa::Neon => "neon",
            Isa::Portable => "portable",
            Isa::Naive => "naive",
        }
    }

    /// Whether this CPU can run `self`.
    pub fn is_supported(self) -> bool {
        match self {
            Isa::Avx2Fma => avx2_fma_detected(),
            Isa::Neon => cfg!(target_arch = "aarch64"),
            Isa::Portable | Isa::Naive => true,
        }
    }
}

/// Whether the CPU has AVX2 and FMA.
pub fn avx2_fma_detected() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// The best implementation this CPU supports, unless `GHOST_KERNELS_ISA` asks for another.
pub fn active_isa() -> Isa {
    static ACTIVE: OnceLock<Isa> = OnceLock::new();
    *ACTIVE.get_or_init(|| {
        let best = if avx2_fma_detected() {
            Isa::Avx2Fma
        } else if Isa::Neon.is_supported() {
            Isa::Neon
        } else {
            Isa::Portable
        };
        match std::env::var("GHOST_KERNELS_ISA").as_deref() {
            Ok("portable") => Isa::Portable,
            Ok("naive") => Isa::Naive,
            Ok("avx2-fma") if best == Isa::Avx2Fma => Isa::Avx2Fma,
            Ok("neon") if best == Isa::Neon => Isa::Neon,
            _ => best,
        }
    })
}
