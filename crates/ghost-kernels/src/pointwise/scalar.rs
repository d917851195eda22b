//! Scalar 1x16 microkernel: the `Isa::Scalar` path of the fast entry points (debugging only). It
//! runs through the same drivers and packed panels as the SIMD kernels, in plain f32.

use super::tile::{Microkernel, Strip, Tile};
use crate::act::AddOrder;

/// The scalar microkernel (one row per tile).
pub(crate) const KERNEL: Microkernel = Microkernel {
    mr: 1,
    run: strip_1x16,
};

/// Computes every 1x16 tile of a strip.
///
/// # Safety
/// See [`super::tile::KernelFn`].
unsafe fn strip_1x16(s: &Strip<'_>) {
    for i in 0..s.tiles(1) {
        // SAFETY: forwarded strip contract.
        unsafe { tile_1x16(&s.tile(i, 1)) };
    }
}

/// Computes one 1x16 tile over one reduction block.
///
/// # Safety
/// See [`super::tile::KernelFn`].
unsafe fn tile_1x16(t: &Tile<'_>) {
    let out = t.out[0];
    let mut acc = match t.bias {
        Some(b) => b.0,
        None => {
            let mut acc = [0.0; 16];
            for (c, a) in acc.iter_mut().enumerate().take(t.nr) {
                // SAFETY: `out[0] + col` is valid for `nr` floats.
                *a = unsafe { *out.add(t.col + c) };
            }
            acc
        }
    };
    let mut weights = t.weights.iter();
    for &row in t.a {
        for kk in 0..t.k {
            let Some(w) = weights.next() else { return };
            // SAFETY: the caller guarantees `row + a_offset` is valid for `k` floats.
            let x = unsafe { *row.add(t.a_offset + kk) };
            for (c, w) in acc.iter_mut().zip(&w.0) {
                *c += x * *w;
            }
        }
    }
    for (c, v) in acc.iter().enumerate().take(t.nr) {
        let v = match t.finish {
            None => *v,
            Some(f) => match f.order {
                None => f.act.apply(*v),
                Some(order) => {
                    // SAFETY: `res[0] + col` is valid for `nr` floats when a residual is fused.
                    let r = unsafe { *t.res[0].add(t.col + c) };
                    match order {
                        AddOrder::BeforeActivation => f.act.apply(*v + r),
                        AddOrder::AfterActivation => f.act.apply(*v) + r,
                    }
                }
            },
        };
        // SAFETY: `out[0] + col` is valid for `nr` floats.
        unsafe { *out.add(t.col + c) = v };
    }
}
