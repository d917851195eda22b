//! The `vpdpbusd` throughput of this core, for the INT8 GEMM bench's "% of peak"
//! (`benches/benches/int8_gemm_cpu.rs`): a register-only loop of independent `vpdpbusd` (16
//! accumulator chains, no loads), on zmm or on ymm registers. Not a kernel: nothing dispatches
//! here.

use std::arch::x86_64::*;

/// Runs `iters` x 16 `vpdpbusd` on zmm (`wide`) or ymm registers and returns the multiply-adds
/// done (64 or 32 per instruction), or `None` when this CPU has no AVX-512 VNNI. The sums are
/// returned through `std::hint::black_box` so the loop is not optimised away.
pub fn vnni_peak_macs(iters: u64, wide: bool) -> Option<u64> {
    if !crate::Isa::Avx512Vnni.is_supported() {
        return None;
    }
    // SAFETY: AVX-512 F, VL and VNNI checked above (the back end's detection).
    unsafe {
        if wide {
            zmm(iters);
        } else {
            ymm(iters);
        }
    }
    Some(iters * 16 * if wide { 64 } else { 32 })
}

#[target_feature(enable = "avx512f,avx512vl,avx512vnni")]
unsafe fn zmm(iters: u64) {
    let x = _mm512_set1_epi32(std::hint::black_box(0x0102_0304));
    let w = _mm512_set1_epi32(std::hint::black_box(0x0101_0101));
    let mut c = [_mm512_setzero_si512(); 16];
    for _ in 0..iters {
        for v in &mut c {
            *v = _mm512_dpbusd_epi32(*v, x, w);
        }
    }
    std::hint::black_box(c);
}

#[target_feature(enable = "avx512f,avx512vl,avx512vnni")]
unsafe fn ymm(iters: u64) {
    let x = _mm256_set1_epi32(std::hint::black_box(0x0102_0304));
    let w = _mm256_set1_epi32(std::hint::black_box(0x0101_0101));
    let mut c = [_mm256_setzero_si256(); 16];
    for _ in 0..iters {
        for v in &mut c {
            *v = _mm256_dpbusd_epi32(*v, x, w);
        }
    }
    std::hint::black_box(c);
}
