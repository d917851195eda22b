//! Helpers shared by the kernel test binaries (each binary uses a subset, hence `dead_code`).
#![allow(dead_code, unused_imports)]

use ghost_kernels::{NhwcLayout, TensorViewMut};

pub mod winograd_sums;

pub use ghost_kernels::testing::proptest_cases;

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
