//! Deterministic inputs for kernel tests and benchmarks: this crate's property tests, the
//! `ghost-benches` criterion benches, and anyone property-testing their own layers against the
//! naive references; the property tests' case count, and which implementations they cover.

/// `len` pseudo-random values in [-1, 1) from `seed` (xorshift): the same values on every run
/// and platform, so a failing case reproduces exactly.
pub fn values(seed: u64, len: usize) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

/// Property-test cases: `default`, or the `PROPTEST_CASES` environment variable when set (an
/// explicit `ProptestConfig` otherwise ignores it). `tools/memcheck.sh` lowers it to run the
/// property tests under valgrind, `tools/soak.sh` raises it.
pub fn proptest_cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

/// Every implementation this CPU supports, or those named in `GHOST_KERNELS_TEST_ISAS`
/// (comma-separated [`crate::Isa::name`]s) when set. The aarch64 CI run under emulation
/// (`tools/ci_aarch64.sh`) names `neon` only: the portable and scalar kernels are the same Rust
/// code the x86 run tests, and emulating their f64 references again for each would take most
/// of the time budget.
pub fn test_isas() -> Vec<crate::Isa> {
    use crate::Isa;
    let wanted = std::env::var("GHOST_KERNELS_TEST_ISAS").ok();
    Isa::ALL
        .into_iter()
        .filter(|isa| isa.is_supported())
        .filter(|isa| {
            wanted
                .as_deref()
                .is_none_or(|w| w.split(',').any(|name| name.trim() == isa.name()))
        })
        .collect()
}

/// Whether the tests cover `isa` ([`test_isas`]).
pub fn tests_isa(isa: crate::Isa) -> bool {
    test_isas().contains(&isa)
}
