//! Which instruction set the kernels run on: the names of the back ends, CPU detection, and the
//! `GHOST_KERNELS_ISA` override.
//!
//! The default build targets baseline x86-64 / aarch64. On x86-64 CPUs with AVX2 and FMA the
//! kernels use hand-written `core::arch` microkernels compiled with `#[target_feature]`; on
//! aarch64 hand-written NEON microkernels (NEON is part of the base architecture, so no
//! detection); elsewhere a portable path written with `wide`. CPUs that also have AVX-512
//! F + VL + VNNI (Zen 4, Ice Lake, Cascade Lake and later) get the same kernels with the INT8
//! GEMM tile on `vpdpbusd` ([`Isa::Avx512Vnni`], chosen first).
//! The microkernels of each instruction set are listed in one table, [`crate::backend::Backend`];
//! [`crate::backend::backend`] picks one at start-up.
//!
//! `GHOST_KERNELS_ISA=avx512vnni|avx2|neon|portable|scalar` forces a back end (tests and comparisons). An
//! unknown value, or one this CPU cannot run, is an error from [`select`]; the kernels, which
//! have no way to return it, print it once on stderr and run on the best back end instead (see
//! [`crate::backend::backend`]); the `ghost-yolo` CLI refuses to start with it.

use crate::error::{KernelError, Result};

/// The environment variable that forces a back end.
pub const ISA_ENV: &str = "GHOST_KERNELS_ISA";

/// A kernel implementation family (one back end of [`crate::backend::Backend`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Isa {
    /// x86-64 AVX2 + FMA microkernels with the INT8 GEMM tile on AVX-512 VNNI (`vpdpbusd`) and
    /// the FP32 GEMM tile on zmm registers (8x16); needs AVX2, FMA, AVX-512 F, VL and VNNI. Its
    /// other FP32 kernels are [`Isa::Avx2Fma`]'s.
    Avx512Vnni,
    /// x86-64 AVX2 + FMA microkernels.
    Avx2Fma,
    /// aarch64 NEON microkernels (always present on aarch64).
    Neon,
    /// Portable SIMD through `wide`.
    Portable,
    /// Scalar f32 microkernels (slow; for debugging and as a second opinion in tests). The f64
    /// oracles (`naive` modules) are not a back end: tests call them directly.
    Scalar,
}

impl Isa {
    /// Every back end this crate knows, best first (whether or not this build or CPU has it).
    pub const ALL: [Isa; 5] = [
        Isa::Avx512Vnni,
        Isa::Avx2Fma,
        Isa::Neon,
        Isa::Portable,
        Isa::Scalar,
    ];

    /// Name accepted by `GHOST_KERNELS_ISA`.
    pub fn name(self) -> &'static str {
        match self {
            Isa::Avx512Vnni => "avx512vnni",
            Isa::Avx2Fma => "avx2",
            Isa::Neon => "neon",
            Isa::Portable => "portable",
            Isa::Scalar => "scalar",
        }
    }

    /// Name printed in reports (`isa: avx2+fma`).
    pub fn label(self) -> &'static str {
        match self {
            Isa::Avx512Vnni => "avx2+fma+avx512vnni",
            Isa::Avx2Fma => "avx2+fma",
            Isa::Neon => "neon",
            Isa::Portable => "portable",
            Isa::Scalar => "scalar",
        }
    }

    /// The back end called `name` ([`Isa::name`], or its report label), if any.
    pub fn from_name(name: &str) -> Option<Isa> {
        let name = name.trim();
        Isa::ALL
            .into_iter()
            .find(|i| name.eq_ignore_ascii_case(i.name()) || name.eq_ignore_ascii_case(i.label()))
    }

    /// Whether this CPU can run `self`.
    pub fn is_supported(self) -> bool {
        match self {
            Isa::Avx512Vnni => avx512_vnni_detected(),
            Isa::Avx2Fma => avx2_fma_detected(),
            Isa::Neon => cfg!(target_arch = "aarch64"),
            Isa::Portable | Isa::Scalar => true,
        }
    }

    /// The best back end this CPU supports.
    pub fn best() -> Isa {
        Isa::ALL
            .into_iter()
            .find(|i| i.is_supported())
            .unwrap_or(Isa::Portable)
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

/// Whether the CPU has AVX2, FMA, AVX-512 F, AVX-512 VL and AVX-512 VNNI (the
/// [`Isa::Avx512Vnni`] back end). AVX-VNNI alone (the VEX form some client CPUs have without
/// AVX-512) does not count: that back end's tile uses the EVEX `vpdpbusd`.
pub fn avx512_vnni_detected() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        avx2_fma_detected()
            && std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512vl")
            && std::arch::is_x86_feature_detected!("avx512vnni")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// The back end asked for by `requested` (the value of `GHOST_KERNELS_ISA`; `None` or blank:
/// the best one this CPU supports). Fails on a name no back end has, or on a back end this CPU
/// cannot run.
pub fn select(requested: Option<&str>) -> Result<Isa> {
    let Some(name) = requested.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(Isa::best());
    };
    let known: Vec<&str> = Isa::ALL.iter().map(|i| i.name()).collect();
    let isa = Isa::from_name(name).ok_or_else(|| {
        KernelError::param(
            ISA_ENV,
            format!(
                "unknown back end {name:?}; expected one of {}",
                known.join(", ")
            ),
        )
    })?;
    if !isa.is_supported() {
        return Err(KernelError::param(
            ISA_ENV,
            format!("{} is not supported by this CPU", isa.name()),
        ));
    }
    Ok(isa)
}

/// The back end the kernels run on ([`crate::backend::backend`]'s ISA).
pub fn active_isa() -> Isa {
    crate::backend::backend().isa()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn select_reads_names_and_refuses_unknown_ones() {
        assert_eq!(select(None).unwrap(), Isa::best());
        assert_eq!(select(Some("  ")).unwrap(), Isa::best());
        assert_eq!(select(Some("scalar")).unwrap(), Isa::Scalar);
        assert_eq!(select(Some("Portable")).unwrap(), Isa::Portable);
        let err = select(Some("naive")).unwrap_err().to_string();
        assert!(
            err.contains("GHOST_KERNELS_ISA") && err.contains("naive"),
            "{err}"
        );
        assert!(
            err.contains("avx512vnni, avx2, neon, portable, scalar"),
            "{err}"
        );
        match select(Some("neon")) {
            Ok(i) => assert!(cfg!(target_arch = "aarch64") && i == Isa::Neon),
            Err(e) => {
                assert!(!cfg!(target_arch = "aarch64") && e.to_string().contains("not supported"))
            }
        }
        match select(Some("avx2+fma")) {
            Ok(i) => assert!(avx2_fma_detected() && i == Isa::Avx2Fma),
            Err(e) => assert!(!avx2_fma_detected() && e.to_string().contains("not supported")),
        }
        match select(Some("avx512vnni")) {
            Ok(i) => assert!(avx512_vnni_detected() && i == Isa::Avx512Vnni),
            Err(e) => assert!(!avx512_vnni_detected() && e.to_string().contains("not supported")),
        }
        // VNNI implies AVX2 + FMA, and wins over it when present.
        assert!(!avx512_vnni_detected() || avx2_fma_detected());
        if avx512_vnni_detected() {
            assert_eq!(Isa::best(), Isa::Avx512Vnni);
        } else if avx2_fma_detected() {
            assert_eq!(Isa::best(), Isa::Avx2Fma);
        }
    }
}
