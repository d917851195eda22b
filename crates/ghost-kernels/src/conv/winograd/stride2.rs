//! Stride-2 3x3 convolutions as a polyphase Winograd F(4x4, 2x2).
//!
//! Output `y[oy][ox] = sum w[ky][kx] x[2 oy + ky - pad_top][2 ox + kx - pad_left]`. Splitting
//! the taps by parity (`ky = 2a + py`, `kx = 2b + px`) gives four stride-1 convolutions on the
//! four phases of the input, `x_pq[Y][X] = x[2Y + p - pad_top][2X + q - pad_left]`:
//!
//! | phase (rows, cols) | taps                        | kernel | transform per tile    | points |
//! |--------------------|-----------------------------|--------|-----------------------|--------|
//! | (even, even)       | w00 w02 / w20 w22           | 2x2    | F(4,2) x F(4,2)       | 25     |
//! | (even, odd)        | w01 / w21                   | 2x1    | F(4,2) x identity     | 20     |
//! | (odd, even)        | w10 w12                     | 1x2    | identity x F(4,2)     | 20     |
//! | (odd, odd)         | w11                         | 1x1    | identity              | 16     |
//!
//! A 4x4 output tile reads a 9x9 input window (origin `8 ty - pad_top`, `8 tx - pad_left`):
//! its even rows / columns (5) are the F(4,2) inputs, its odd ones (4) the identity's. That is
//! 81 transformed points, each a `cin x cout` GEMM on the same stage as F(4x4, 3x3), so 81
//! multiplies per 4x4 outputs and (cin, cout) pair against the direct GEMM's 144 (1.78x fewer).
//! The space-to-depth formulation (one 2x2 kernel on `4 cin` channels, F(4x4, 2x2) on 25
//! points) needs 100: it multiplies the zero taps of the (odd, odd) phase's missing neighbours.
//!
//! Points are numbered phase by phase (`xi` below); points sharing a weight value (the
//! identity directions) read one of 36 matrices ([`MATRIX_OF`]):
//! - (even, even): `xi = 5 i + j`, matrix `5 i + j` (`G g G^T`, 5x5);
//! - (even, odd): `xi = 25 + 4 i + x`, matrix `25 + i` (`G [w01, w21]`);
//! - (odd, even): `xi = 45 + 5 y + j`, matrix `30 + j` (`G [w10, w12]`);
//! - (odd, odd): `xi = 65 + 4 y + x`, matrix `35` (`w11`).
//!
//! The output is `A^T M_ee A + A^T M_eo + M_oe A + M_oo`, computed as
//! `A^T (M_ee A + M_eo) + (M_oe A + M_oo)`.

// Transform arithmetic reads best with explicit indices.
#![allow(clippy::needless_range_loop)]

use super::driver::{finish_row, Job, Tiles, TILE};
use super::transform_s2::{input_1d, output_1d, weight_1d};
use crate::lanes::{each_block, load_opt, store_opt, Lanes};

/// Transformed points per tile.
pub(crate) const POINTS: usize = 81;
/// Input pixels per tile side (`2 * TILE + 1`).
const WINDOW: usize = 9;
/// First point of each phase.
const EO: usize = 25;
const OE: usize = 45;
const OO: usize = 65;

/// The weight matrix each point reads.
pub(crate) const MATRIX_OF: [u8; POINTS] = {
    let mut m = [0u8; POINTS];
    let mut xi = 0;
    while xi < POINTS {
        m[xi] = if xi < EO {
            xi as u8
        } else if xi < OE {
            (25 + (xi - EO) / 4) as u8
        } else if xi < OO {
            (30 + (xi - OE) % 5) as u8
        } else {
            35
        };
        xi += 1;
    }
    m
};

/// The 36 transformed values of `N` 3x3 kernels (`g[t][l]`: tap `t = 3 ky + kx` of kernel
/// `l`), in f64 and rounded once to f32, in the matrix order of [`MATRIX_OF`]. Every lane runs
/// the same operations, so a kernel's result does not depend on `N` or its lane.
pub(crate) fn weight_tiles<const N: usize>(g: &[[f32; N]; 9]) -> [[f32; N]; 36] {
    let mut u = [[0.0f32; N]; 36];
    for l in 0..N {
        let w = |ky: usize, kx: usize| f64::from(g[ky * 3 + kx][l]);
        // (even, even): columns first (t = G g, 5x2), then rows (U = t G^T, 5x5).
        let c0 = weight_1d([w(0, 0), w(2, 0)]);
        let c1 = weight_1d([w(0, 2), w(2, 2)]);
        for i in 0..5 {
            for (j, v) in weight_1d([c0[i], c1[i]]).into_iter().enumerate() {
                u[i * 5 + j][l] = v as f32;
            }
        }
        let eo = weight_1d([w(0, 1), w(2, 1)]);
        let oe = weight_1d([w(1, 0), w(1, 2)]);
        for k in 0..5 {
            u[25 + k][l] = eo[k] as f32;
            u[30 + k][l] = oe[k] as f32;
        }
        u[35][l] = g[4][l];
    }
    u
}

/// The polyphase F(4x4, 2x2) tiles of stride-2 3x3 convolutions.
pub(crate) struct Stride2;

impl Tiles for Stride2 {
    #[inline(always)]
    unsafe fn input<V: Lanes>(job: &Job<'_>, q: usize, v: *mut f32) {
        // SAFETY: forwarded contract.
        unsafe { input_tile::<V>(job, q, v) }
    }
    #[inline(always)]
    unsafe fn output<V: Lanes>(job: &Job<'_>, q: usize, m: *const f32) {
        // SAFETY: forwarded contract.
        unsafe { output_tile::<V>(job, q, m) }
    }
}

/// Transforms the 9x9 input window of tile `q` into the 81 points of slot `v`.
#[inline(always)]
unsafe fn input_tile<V: Lanes>(job: &Job<'_>, q: usize, v: *mut f32) {
    let cin = job.weights.cin;
    let point_stride = job.v_stride();
    let (b, ty, tx) = job.tile(q);
    let iy0 = (ty * 2 * TILE) as isize - job.pad_top as isize;
    let ix0 = (tx * 2 * TILE) as isize - job.pad_left as isize;
    // Pixel index of each window position, or None in the padding.
    let mut rows = [None; WINDOW];
    let mut cols = [None; WINDOW];
    for k in 0..WINDOW {
        let iy = iy0 + k as isize;
        if iy >= 0 && (iy as usize) < job.h {
            rows[k] = Some((b * job.h + iy as usize) * job.w);
        }
        let ix = ix0 + k as isize;
        if ix >= 0 && (ix as usize) < job.w {
            cols[k] = Some(ix as usize);
        }
    }
    let tail = V::mask(cin % crate::lanes::LANES);
    // Plain loops and `#[inline(always)]` helpers only: closures and `array::map` are not
    // always inlined into the `#[target_feature]` caller, and a vector passed through an
    // out-of-line call costs a store and a load (measured with `perf`: 3.5% of a 128 -> 128 layer's samples
    // in such calls).
    each_block!(cin, tail, |ch, mask| {
        let zero = V::splat(0.0);
        // SAFETY: ch < cin: channels of the slot's row.
        let v = unsafe { v.add(ch) };
        // Columns first. Even columns keep their transformed even rows (`ee`) and raw odd rows
        // (`oe`) for the row pass; odd columns are final: transformed even rows are the
        // (even, odd) points, raw odd rows the (odd, odd) ones.
        let mut ee = [[zero; 5]; 5];
        let mut oe = [[zero; 5]; 4];
        for l in 0..WINDOW {
            let mut even = [zero; 5];
            let mut odd = [zero; 4];
            if let Some(x) = cols[l] {
                for k in 0..WINDOW {
                    if let Some(row) = rows[k] {
                        // SAFETY: (row + x) is a pixel of the checked input; ch + lanes <= cin.
                        let d = unsafe { load_opt::<V>(job.input.at(row + x).add(ch), mask) };
                        if k % 2 == 0 {
                            even[k / 2] = d;
                        } else {
                            odd[k / 2] = d;
                        }
                    }
                }
            }
            // SAFETY: arithmetic only.
            let t = unsafe { input_1d(even) };
            if l % 2 == 0 {
                for i in 0..5 {
                    ee[i][l / 2] = t[i];
                }
                for y in 0..4 {
                    oe[y][l / 2] = odd[y];
                }
            } else {
                let x = l / 2;
                for i in 0..5 {
                    // SAFETY: a point of this slot (see `put`).
                    unsafe { put(v, EO + 4 * i + x, point_stride, mask, t[i]) };
                }
                for y in 0..4 {
                    // SAFETY: as above.
                    unsafe { put(v, OO + 4 * y + x, point_stride, mask, odd[y]) };
                }
            }
        }
        // Then rows, over the even columns.
        for i in 0..5 {
            // SAFETY: arithmetic only.
            let r = unsafe { input_1d(ee[i]) };
            for j in 0..5 {
                // SAFETY: as above.
                unsafe { put(v, 5 * i + j, point_stride, mask, r[j]) };
            }
        }
        for y in 0..4 {
            // SAFETY: arithmetic only.
            let r = unsafe { input_1d(oe[y]) };
            for j in 0..5 {
                // SAFETY: as above.
                unsafe { put(v, OE + 5 * y + j, point_stride, mask, r[j]) };
            }
        }
    });
}

/// Stores `value` as point `xi` of a slot: `v` points at the slot's current channels,
/// points are `point_stride` floats apart.
///
/// # Safety
/// `xi < POINTS`, and the channels of `mask` (all 8 when `None`) lie in the slot's row.
#[inline(always)]
unsafe fn put<V: Lanes>(
    v: *mut f32,
    xi: usize,
    point_stride: usize,
    mask: Option<V::Mask>,
    value: V,
) {
    // SAFETY: forwarded contract.
    unsafe { store_opt(v.add(xi * point_stride), mask, value) }
}

/// Loads point `xi` of a slot (as [`put`]).
///
/// # Safety
/// As [`put`].
#[inline(always)]
unsafe fn get<V: Lanes>(m: *const f32, xi: usize, point_stride: usize, mask: Option<V::Mask>) -> V {
    // SAFETY: forwarded contract.
    unsafe { load_opt::<V>(m.add(xi * point_stride), mask) }
}

/// Transforms the 81 points of slot `m` into the (up to) 4x4 output pixels of tile `q`, adding
/// the bias and applying the epilogue.
#[inline(always)]
unsafe fn output_tile<V: Lanes>(job: &Job<'_>, q: usize, m: *const f32) {
    let cout = job.weights.cout;
    let point_stride = job.m_stride();
    let (b, ty, tx) = job.tile(q);
    let (oy0, ox0) = (ty * TILE, tx * TILE);
    let rows = (job.oh - oy0).min(TILE);
    let cols = (job.ow - ox0).min(TILE);
    let bias = job.weights.bias.as_ptr();
    let tail = V::mask(cout % crate::lanes::LANES);
    each_block!(cout, tail, |ch, mask| {
        let zero = V::splat(0.0);
        // SAFETY: ch < cout: channels of the slot's row.
        let m = unsafe { m.add(ch) };
        // Rows first: t[i] = (M_ee A)[i] + M_eo[i] (5 rows of 4), s[y] = (M_oe A)[y] + M_oo[y].
        let mut t = [[zero; 5]; TILE];
        for i in 0..5 {
            let mut row = [zero; 5];
            for j in 0..5 {
                // SAFETY: a point of this slot, channels ch.. of its cout-float row.
                row[j] = unsafe { get::<V>(m, 5 * i + j, point_stride, mask) };
            }
            // SAFETY: arithmetic only.
            let r = unsafe { output_1d(row) };
            for x in 0..TILE {
                // SAFETY: as above.
                let eo = unsafe { get::<V>(m, EO + 4 * i + x, point_stride, mask) };
                // SAFETY: arithmetic only.
                t[x][i] = unsafe { V::add(r[x], eo) };
            }
        }
        let mut s = [[zero; TILE]; TILE];
        for y in 0..TILE {
            let mut row = [zero; 5];
            for j in 0..5 {
                // SAFETY: as above.
                row[j] = unsafe { get::<V>(m, OE + 5 * y + j, point_stride, mask) };
            }
            // SAFETY: arithmetic only.
            let r = unsafe { output_1d(row) };
            for x in 0..TILE {
                // SAFETY: as above.
                let oo = unsafe { get::<V>(m, OO + 4 * y + x, point_stride, mask) };
                // SAFETY: arithmetic only.
                s[y][x] = unsafe { V::add(r[x], oo) };
            }
        }
        // Then columns: y = A^T t + s.
        for x in 0..TILE {
            // SAFETY: arithmetic only.
            let c = unsafe { output_1d(t[x]) };
            for y in 0..TILE {
                // SAFETY: arithmetic only.
                s[y][x] = unsafe { V::add(c[y], s[y][x]) };
            }
        }
        // SAFETY: the bias holds cout floats.
        let bias = unsafe { load_opt::<V>(bias.add(ch), mask) };
        for r in 0..rows {
            let mut y = s[r];
            for v in &mut y {
                // SAFETY: arithmetic only.
                *v = unsafe { V::add(*v, bias) };
            }
            let pixel = (b * job.oh + oy0 + r) * job.ow + ox0;
            // SAFETY: pixels pixel .. pixel + cols are output pixels of this tile (r < rows).
            unsafe { finish_row::<V>(job, pixel, cols, ch, mask, y) };
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every matrix is read by some point, and the phases' points read their own matrices.
    #[test]
    fn matrix_map_covers_the_36_matrices() {
        let mut seen = [0usize; 36];
        for &m in &MATRIX_OF {
            seen[m as usize] += 1;
        }
        // 25 singles, 5 + 5 read by 4 points each, 1 by 16.
        assert!(seen[..25].iter().all(|&c| c == 1));
        assert!(seen[25..35].iter().all(|&c| c == 4));
        assert_eq!(seen[35], 16);
        assert_eq!(MATRIX_OF[EO + 4 * 2 + 3], 27);
        assert_eq!(MATRIX_OF[OE + 5 * 3 + 1], 31);
    }
}
