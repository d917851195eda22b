//! Helpers shared by the kernel test binaries (each binary uses a subset, hence `dead_code`).
#![allow(dead_code, unused_imports)]

use ghost_kernels::{NhwcLayout, TensorViewMut, Threads};

pub mod cases;
pub mod checks;
pub mod operands;
pub mod winograd_check;
pub mod winograd_s2_sums;
pub mod winograd_sums;

pub use cases::*;
pub use checks::*;
pub use ghost_kernels::testing::{proptest_cases, test_isas};
pub use operands::Operands;

/// A strided layout: `offset` floats before the channels and `extra` after them in each pixel.
pub fn strided(n: usize, h: usize, w: usize, c: usize, offset: usize, extra: usize) -> NhwcLayout {
    NhwcLayout {
        n,
        h,
        w,
        c,
        pixel_stride: offset + c + extra,
        channel_offset: offset,
    }
}

/// A NaN-filled buffer for `layout` with `data` (dense n*h*w*c) written into its channel range.
pub fn fill(layout: &NhwcLayout, data: &[f32]) -> Vec<f32> {
    let mut buf = vec![f32::NAN; layout.pixels() * layout.pixel_stride];
    let mut view = TensorViewMut::new(&mut buf, *layout).unwrap();
    view.copy_from_dense(data).unwrap();
    buf
}

/// Whether buffer position `i` lies inside `layout`'s channel range.
pub fn inside(layout: &NhwcLayout, i: usize) -> bool {
    let ch = i % layout.pixel_stride;
    ch >= layout.channel_offset && ch < layout.channel_offset + layout.c
}

/// Deterministic pseudo-random values in [-1, 1) (SplitMix64): the inputs of the depthwise,
/// element-wise and pooling tests. (The others use `ghost_kernels::testing::values`, another
/// generator; each file keeps the one it was written with, so its cases stay the same.)
pub fn splitmix_values(seed: u64, len: usize) -> Vec<f32> {
    let mut state = seed;
    (0..len)
        .map(|_| {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            ((z >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

/// A buffer for `layout` whose every float is NaN except the view's elements, set from `values`
/// (dense n*h*w*c order); 3 spare NaN floats after the view's last element show a write past
/// its end.
pub fn sentinel_buffer(layout: &NhwcLayout, values: &[f32]) -> Vec<f32> {
    let mut buf = vec![f32::NAN; layout.required_len() + 3];
    TensorViewMut::new(&mut buf, *layout)
        .unwrap()
        .copy_from_dense(values)
        .unwrap();
    buf
}

/// One thread, then two: results must not depend on the split.
pub fn one_and_two_threads() -> [Threads; 2] {
    [Threads::single(), Threads::new(2).unwrap()]
}
