//! Every kernel family a back end registers has cases in this suite: registering a new family
//! (a new field of the table, listed by `Backend::families`) fails here until it is tested.

use ghost_kernels::{Backend, Isa};

/// The families this suite exercises, and the file that does.
const COVERED: [(&str, &str); 18] = [
    ("gemm", "gemm.rs, conv.rs"),
    ("pointwise-small", "gemm.rs (cout <= 16)"),
    ("conv-direct", "conv.rs (packed_small_output)"),
    ("depthwise-rows", "depthwise.rs"),
    ("depthwise-small", "depthwise.rs (< 8 channels)"),
    ("winograd-tiles", "conv.rs"),
    ("winograd-s2-tiles", "conv.rs"),
    ("elementwise", "elementwise.rs"),
    ("max-pool", "pool.rs"),
    ("global-avg-pool", "pool.rs"),
    ("upsample", "pool.rs"),
    ("dfl", "reduce.rs"),
    ("softmax", "reduce.rs"),
    ("detect-decode", "decode.rs"),
    ("gemm-i8", "quant.rs (pointwise and dense)"),
    ("depthwise-i8", "quant.rs"),
    ("quantize", "quant.rs"),
    ("dequantize", "quant.rs"),
];

#[test]
fn every_registered_family_has_cases() {
    for b in Backend::all() {
        for family in b.families() {
            // "gemm 6x16" -> "gemm".
            let name = family.split(' ').next().unwrap();
            assert!(
                COVERED.iter().any(|(f, _)| *f == name),
                "{} registers {family:?}, which no conformance case covers",
                b.label()
            );
        }
    }
}

/// The suite runs on every back end this CPU supports, and that includes the fastest one the
/// dispatcher would pick, and the portable and scalar ones everywhere.
#[test]
fn suite_covers_the_best_back_end() {
    let supported: Vec<Isa> = Backend::supported().map(|b| b.isa()).collect();
    assert!(supported.contains(&Isa::best()), "{supported:?}");
    assert!(supported.contains(&Isa::Portable) && supported.contains(&Isa::Scalar));
    let names: Vec<&str> = Backend::all().iter().map(|b| b.label()).collect();
    println!("back ends in this build: {names:?}; run here: {supported:?}");
}
