//! Helpers shared by the kernel test binaries.

/// Property-test cases: `default`, or the `PROPTEST_CASES` environment variable when set (an
/// explicit `ProptestConfig` otherwise ignores it). `tools/memcheck.sh` uses it to run the
/// property tests under valgrind with a handful of cases.
pub fn proptest_cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}
