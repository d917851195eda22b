//! Portable 2x16 broadcast microkernel over `wide::f32x8`.
//!
//! Same structure as the AVX2 kernel (bias-initialised accumulators, one broadcast per row and
//! reduction step, vector epilogue, partial columns through a stack buffer) with a smaller row
//! tile. On baseline x86-64 an `f32x8` is two SSE registers: 2 rows x 16 columns is 8 registers of
//! accumulators, plus 4 for the weight row and 1 for the broadcast, which fits the 16 xmm
//! registers; a 4x16 tile spills and was slower (see
//! docs/kernels.md#measurements-behind-code-decisions).

use wide::f32x8;

use super::tile::{Finish, Microkernel, Strip, Tile};
use crate::act::AddOrder;
use crate::simd::portable::activate;

/// Rows per tile.
pub(crate) const MR: usize = 2;

/// The 2x16 microkernel.
pub(crate) const KERNEL: Microkernel = Microkernel {
    mr: MR,
    run: strip_2x16,
};

/// Computes every 2x16 tile of a strip.
///
/// # Safety
/// See [`super::tile::KernelFn`].
unsafe fn strip_2x16(s: &Strip<'_>) {
    for i in 0..s.tiles(MR) {
        // SAFETY: forwarded strip contract.
        unsafe { tile_2x16(&s.tile(i, MR)) };
    }
}

#[inline(always)]
fn halves(row: &[f32; 16]) -> [f32x8; 2] {
    let mut lo = [0.0; 8];
    let mut hi = [0.0; 8];
    lo.copy_from_slice(&row[..8]);
    hi.copy_from_slice(&row[8..]);
    [f32x8::new(lo), f32x8::new(hi)]
}

/// Computes one 2x16 tile over one reduction block.
///
/// # Safety
/// See [`super::tile::KernelFn`].
#[inline(always)]
unsafe fn tile_2x16(t: &Tile<'_>) {
    debug_assert!(t.a.len().is_multiple_of(MR) && t.out.len() == MR);
    debug_assert_eq!(t.weights.len(), t.a.len() / MR * t.k);
    let mut acc = [[f32x8::ZERO; 2]; MR];
    for (r, c) in acc.iter_mut().enumerate() {
        *c = match t.bias {
            Some(b) => halves(&b.0),
            // SAFETY: `out[r] + col` is valid for `nr` floats.
            None => halves(&unsafe { load16(t.out[r].add(t.col), t.nr) }),
        };
    }
    let mut weights = t.weights.iter();
    for rows in t.a.chunks_exact(MR) {
        for kk in 0..t.k {
            let Some(row) = weights.next() else { return };
            let [w0, w1] = halves(&row.0);
            for (r, c) in acc.iter_mut().enumerate() {
                // SAFETY: the caller guarantees `rows[r] + a_offset` is valid for `k` floats.
                let x = f32x8::splat(unsafe { *rows[r].add(t.a_offset + kk) });
                c[0] = x.mul_add(w0, c[0]);
                c[1] = x.mul_add(w1, c[1]);
            }
        }
    }
    for (r, v) in acc.iter().enumerate().take(t.mr) {
        let v = match t.finish {
            // SAFETY: `res[r] + col` is valid for `nr` floats when a residual is fused.
            Some(f) => unsafe { finish_row(f, *v, t.res[r], t.col, t.nr) },
            None => *v,
        };
        let mut buf = [0.0f32; 16];
        buf[..8].copy_from_slice(&v[0].to_array());
        buf[8..].copy_from_slice(&v[1].to_array());
        // SAFETY: `out[r] + col` is valid for `nr` floats.
        unsafe { std::ptr::copy_nonoverlapping(buf.as_ptr(), t.out[r].add(t.col), t.nr) };
    }
}

/// The epilogue on one row.
///
/// # Safety
/// `res + col` valid for `nr` floats when a residual is fused.
#[inline(always)]
unsafe fn finish_row(
    f: Finish,
    v: [f32x8; 2],
    res: *const f32,
    col: usize,
    nr: usize,
) -> [f32x8; 2] {
    let [mut v0, mut v1] = v;
    let r = match f.order {
        // SAFETY: forwarded contract.
        Some(_) => halves(&unsafe { load16(res.add(col), nr) }),
        None => [f32x8::ZERO; 2],
    };
    if f.order == Some(AddOrder::BeforeActivation) {
        v0 += r[0];
        v1 += r[1];
    }
    v0 = activate(f.act, v0);
    v1 = activate(f.act, v1);
    if f.order == Some(AddOrder::AfterActivation) {
        v0 += r[0];
        v1 += r[1];
    }
    [v0, v1]
}

/// Copies `nr` floats into a zero-padded 16-float row.
///
/// # Safety
/// `p` valid for `nr` reads.
#[inline(always)]
unsafe fn load16(p: *const f32, nr: usize) -> [f32; 16] {
    let mut buf = [0.0f32; 16];
    // SAFETY: forwarded contract; nr <= 16.
    unsafe { std::ptr::copy_nonoverlapping(p, buf.as_mut_ptr(), nr) };
    buf
}
