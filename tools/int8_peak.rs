//! Throughput of the INT8 / FP32 inner-loop instructions on this CPU (docs/kernels.md, "INT8":
//! the peaks the kernels are compared with). 12 independent accumulators, 200 M iterations of:
//! `fma` 12 `vfmadd231ps ymm` (96 FMAs), `vnni` 12 `vpdpbusd ymm` (384 u8 x s8 MACs), `avx2`
//! 8 x (`vpmaddubsw`, `vpmaddwd` with ones, `vpaddd`) (256 MACs, the AVX2 tile's mix).
//! Time it with CPU time, not wall clock (the machine is shared):
//!   rustc -O tools/int8_peak.rs -o /tmp/int8_peak
//!   for k in fma vnni avx2; do perf stat -e task-clock -x, /tmp/int8_peak $k; done
//! ops per second = printed ops / task-clock. x86-64 with AVX2 (+ AVX-512 VNNI for `vnni`).
use std::arch::asm;

const ITERS: u64 = 200_000_000;

fn main() {
    let which = std::env::args().nth(1).unwrap_or_default();
    // SAFETY: register-only instructions on clobbered registers; the caller runs `vnni` only
    // on a CPU with AVX512VL + AVX512-VNNI.
    unsafe {
        match which.as_str() {
            "vnni" => for _ in 0..ITERS { asm!(
                "{{evex}} vpdpbusd ymm0, ymm12, ymm13", "{{evex}} vpdpbusd ymm1, ymm12, ymm13",
                "{{evex}} vpdpbusd ymm2, ymm12, ymm13", "{{evex}} vpdpbusd ymm3, ymm12, ymm13",
                "{{evex}} vpdpbusd ymm4, ymm12, ymm13", "{{evex}} vpdpbusd ymm5, ymm12, ymm13",
                "{{evex}} vpdpbusd ymm6, ymm12, ymm13", "{{evex}} vpdpbusd ymm7, ymm12, ymm13",
                "{{evex}} vpdpbusd ymm8, ymm12, ymm13", "{{evex}} vpdpbusd ymm9, ymm12, ymm13",
                "{{evex}} vpdpbusd ymm10, ymm12, ymm13", "{{evex}} vpdpbusd ymm11, ymm12, ymm13",
                out("ymm0") _, out("ymm1") _, out("ymm2") _, out("ymm3") _, out("ymm4") _,
                out("ymm5") _, out("ymm6") _, out("ymm7") _, out("ymm8") _, out("ymm9") _,
                out("ymm10") _, out("ymm11") _, out("ymm12") _, out("ymm13") _, options(nostack)) },
            "fma" => for _ in 0..ITERS { asm!(
                "vfmadd231ps ymm0, ymm12, ymm13", "vfmadd231ps ymm1, ymm12, ymm13",
                "vfmadd231ps ymm2, ymm12, ymm13", "vfmadd231ps ymm3, ymm12, ymm13",
                "vfmadd231ps ymm4, ymm12, ymm13", "vfmadd231ps ymm5, ymm12, ymm13",
                "vfmadd231ps ymm6, ymm12, ymm13", "vfmadd231ps ymm7, ymm12, ymm13",
                "vfmadd231ps ymm8, ymm12, ymm13", "vfmadd231ps ymm9, ymm12, ymm13",
                "vfmadd231ps ymm10, ymm12, ymm13", "vfmadd231ps ymm11, ymm12, ymm13",
                out("ymm0") _, out("ymm1") _, out("ymm2") _, out("ymm3") _, out("ymm4") _,
                out("ymm5") _, out("ymm6") _, out("ymm7") _, out("ymm8") _, out("ymm9") _,
                out("ymm10") _, out("ymm11") _, out("ymm12") _, out("ymm13") _, options(nostack)) },
            "avx2" => for _ in 0..ITERS { asm!(
                "vpmaddubsw ymm0, ymm12, ymm13", "vpmaddubsw ymm1, ymm12, ymm13",
                "vpmaddubsw ymm2, ymm12, ymm13", "vpmaddubsw ymm3, ymm12, ymm13",
                "vpmaddwd ymm0, ymm0, ymm14", "vpmaddwd ymm1, ymm1, ymm14",
                "vpmaddwd ymm2, ymm2, ymm14", "vpmaddwd ymm3, ymm3, ymm14",
                "vpaddd ymm4, ymm4, ymm0", "vpaddd ymm5, ymm5, ymm1",
                "vpaddd ymm6, ymm6, ymm2", "vpaddd ymm7, ymm7, ymm3",
                "vpmaddubsw ymm8, ymm12, ymm13", "vpmaddubsw ymm9, ymm12, ymm13",
                "vpmaddubsw ymm10, ymm12, ymm13", "vpmaddubsw ymm11, ymm12, ymm13",
                "vpmaddwd ymm8, ymm8, ymm14", "vpmaddwd ymm9, ymm9, ymm14",
                "vpmaddwd ymm10, ymm10, ymm14", "vpmaddwd ymm11, ymm11, ymm14",
                "vpaddd ymm4, ymm4, ymm8", "vpaddd ymm5, ymm5, ymm9",
                "vpaddd ymm6, ymm6, ymm10", "vpaddd ymm7, ymm7, ymm11",
                out("ymm0") _, out("ymm1") _, out("ymm2") _, out("ymm3") _, out("ymm4") _,
                out("ymm5") _, out("ymm6") _, out("ymm7") _, out("ymm8") _, out("ymm9") _,
                out("ymm10") _, out("ymm11") _, out("ymm12") _, out("ymm13") _, out("ymm14") _,
                options(nostack)) },
            _ => {
                eprintln!("usage: int8_peak fma|vnni|avx2");
                std::process::exit(2);
            }
        }
    }
    let per_iter = match which.as_str() {
        "fma" => 12.0 * 8.0 * 2.0,
        "vnni" => 12.0 * 32.0 * 2.0,
        _ => 8.0 * 32.0 * 2.0,
    };
    println!("{which}: {:.3e} ops (FLOP or 2 x MACs)", per_iter * ITERS as f64);
}
