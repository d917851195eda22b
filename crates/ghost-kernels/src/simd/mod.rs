//! Vector math shared by every kernel family: exp, sigmoid, SiLU, hard-sigmoid and the fused
//! epilogue on one vector of 8 accumulators.
//!
//! `avx2` holds `#[inline(always)]` helpers over `__m256`, meant to be inlined into functions
//! compiled with `#[target_feature(enable = "avx2,fma")]`; `avx512` the SiLU and sigmoid
//! over `__m512` for the AVX-512 back end (same bits, fewer instructions); `portable` holds the same over
//! `wide::f32x8`; `neon` the AVX2 algorithms over `float32x4_t` on aarch64.

#[cfg(target_arch = "x86_64")]
pub mod avx2;
#[cfg(target_arch = "x86_64")]
pub mod avx512;
#[cfg(target_arch = "aarch64")]
pub mod neon;
pub mod portable;
