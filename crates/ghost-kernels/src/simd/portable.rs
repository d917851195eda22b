//! Portable vector math over `wide::f32x8`.
