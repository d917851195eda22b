//! AVX2 + FMA vector math (to be inlined into `#[target_feature(enable = "avx2,fma")]` code).
