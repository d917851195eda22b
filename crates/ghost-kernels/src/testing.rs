//! Deterministic inputs for kernel tests and benchmarks: this crate's property tests, the
//! `ghost-benches` criterion benches, and anyone property-testing their own layers against the
//! naive references.

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
