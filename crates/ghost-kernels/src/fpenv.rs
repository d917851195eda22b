//! The floating-point environment kernels run in: denormals flushed to zero.
//!
//! A subnormal operand makes an x86 FMA take a microcode assist: a layer whose activations decay
//! into the subnormal range (random weights, dead channels of a trained model) can run many times
//! slower than its FLOPs say (see docs/kernels.md#measurements-behind-code-decisions). Model
//! forward passes therefore run with the SSE control register's FTZ (results flushed to zero) and
//! DAZ (operands read as zero) bits set, as OpenVINO does by default and ONNX Runtime offers as an
//! option. The only numerical effect is on values below 1.2e-38 in magnitude, far beneath any
//! tolerance that matters for detection.
//!
//! On aarch64 the same role is played by FPCR's FZ bit (bit 24), which flushes both subnormal
//! operands and results of the scalar and NEON arithmetic to zero (Arm ARM, "Flushing denormalized
//! numbers to zero"). Arm cores handle subnormals with far smaller penalties than x86's assists,
//! but setting FZ keeps both back ends' results equal on such inputs.
//!
//! [`flush_denormals`] sets the bits on the calling thread for the lifetime of its guard;
//! [`Threads`](crate::Threads) pool workers set them once when they start.

/// Restores the calling thread's previous floating-point control state when dropped.
#[derive(Debug)]
#[must_use = "denormals are flushed only while the guard lives"]
pub struct DenormalGuard {
    #[cfg(target_arch = "x86_64")]
    saved: u32,
    #[cfg(target_arch = "aarch64")]
    saved: u64,
}

/// FPCR.FZ: flush subnormal inputs and outputs to zero.
#[cfg(target_arch = "aarch64")]
const FPCR_FZ: u64 = 1 << 24;

#[cfg(target_arch = "aarch64")]
fn read_fpcr() -> u64 {
    let value: u64;
    // SAFETY: `mrs` of FPCR is allowed at EL0 and only copies the register into a general
    // register; no memory is touched.
    unsafe {
        std::arch::asm!("mrs {}, fpcr", out(reg) value, options(nomem, nostack, preserves_flags));
    }
    value
}

#[cfg(target_arch = "aarch64")]
fn write_fpcr(value: u64) {
    // SAFETY: `msr` to FPCR is allowed at EL0. Callers only pass a value read from FPCR with at
    // most the FZ bit changed, so rounding mode and trap enables stay as they were (no trap is
    // enabled). Not `nomem`: the compiler must not move floating-point work across the write.
    unsafe {
        std::arch::asm!("msr fpcr, {}", in(reg) value, options(nostack, preserves_flags));
    }
}

/// FTZ (bit 15) and DAZ (bit 6) of MXCSR.
#[cfg(target_arch = "x86_64")]
const FTZ_DAZ: u32 = (1 << 15) | (1 << 6);

#[cfg(target_arch = "x86_64")]
fn read_mxcsr() -> u32 {
    let mut value: u32 = 0;
    // SAFETY: `stmxcsr` stores the 32-bit MXCSR register into the given, valid, aligned local;
    // it has no other effect. SSE is part of the x86-64 baseline.
    unsafe {
        std::arch::asm!("stmxcsr [{}]", in(reg) &mut value, options(nostack, preserves_flags));
    }
    value
}

#[cfg(target_arch = "x86_64")]
fn write_mxcsr(value: u32) {
    // SAFETY: `ldmxcsr` loads MXCSR from a valid local. Callers only pass a value read from
    // MXCSR with at most the FTZ/DAZ bits changed (both defined on every x86-64 CPU), so no
    // reserved bit is set and no exception is unmasked.
    unsafe {
        std::arch::asm!("ldmxcsr [{}]", in(reg) &value, options(nostack, readonly, preserves_flags));
    }
}

/// Flushes denormals to zero on the calling thread until the guard is dropped (a no-op off
/// x86-64 and aarch64).
pub fn flush_denormals() -> DenormalGuard {
    #[cfg(target_arch = "x86_64")]
    {
        let saved = read_mxcsr();
        write_mxcsr(saved | FTZ_DAZ);
        DenormalGuard { saved }
    }
    #[cfg(target_arch = "aarch64")]
    {
        let saved = read_fpcr();
        write_fpcr(saved | FPCR_FZ);
        DenormalGuard { saved }
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    DenormalGuard {}
}

impl Drop for DenormalGuard {
    fn drop(&mut self) {
        #[cfg(target_arch = "x86_64")]
        write_mxcsr(self.saved);
        #[cfg(target_arch = "aarch64")]
        write_fpcr(self.saved);
    }
}

/// Sets FTZ/DAZ (FPCR.FZ on aarch64) for the rest of the calling thread's life (kernel pool
/// workers).
pub(crate) fn flush_denormals_forever() {
    #[cfg(target_arch = "x86_64")]
    write_mxcsr(read_mxcsr() | FTZ_DAZ);
    #[cfg(target_arch = "aarch64")]
    write_fpcr(read_fpcr() | FPCR_FZ);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn denormals_flush_inside_the_guard_only() {
        let tiny = std::hint::black_box(f32::MIN_POSITIVE);
        let half = std::hint::black_box(0.5f32);
        assert!((tiny * half) > 0.0, "subnormal result without the guard");
        {
            let _guard = flush_denormals();
            #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
            assert_eq!(std::hint::black_box(tiny) * std::hint::black_box(half), 0.0);
        }
        assert!(
            std::hint::black_box(tiny) * std::hint::black_box(half) > 0.0,
            "state restored"
        );
    }
}
