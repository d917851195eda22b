//! The three transforms of Winograd F(4, 2) (Cook-Toom, interpolation points 0, 1, -1, 2 and
//! infinity), the 1-D building block of the stride-2 3x3 path (`stride2.rs`):
//!
//! - weights `G g` (2 taps -> 5 values), once at load, in f64;
//! - inputs `B^T d` (5 -> 5), per tile and 8-channel block, on the crate's 8-lane vector type;
//! - outputs `A^T m` (5 -> 4), likewise.
//!
//! ```text
//!        | 2 -1 -2  1  0 |        |  1/2    0  |
//!        | 0 -2 -1  1  0 |        | -1/2 -1/2  |          | 1  1  1  1  0 |
//! B^T =  | 0  2 -3  1  0 |   G =  | -1/6  1/6  |   A^T =  | 0  1 -1  2  0 |
//!        | 0 -1  0  1  0 |        |  1/6  1/3  |          | 0  1  1  4  0 |
//!        | 0  2 -1 -2  1 |        |   0    1   |          | 0  1 -1  8  1 |
//! ```
//!
//! `A^T [(G g) . (B^T d)]` is the 4-point valid correlation of the 5 inputs `d` with the 2 taps
//! `g` (derived by solving `sum_j A^T[i][j] G[j][k] B^T[j][l] = [l = i + k]` for `B^T` given the
//! Cook-Toom `A^T` and `G`; the tests below check the identity). The points 0, +-1, 2 keep `A^T`
//! and `B^T` integral, so the input and output transforms are exact up to their own roundings;
//! the alternatives 0, +-1, -2 and 0, +-1, +-1/2 have the same growth factor (20, the largest
//! `sum_j |A^T[i][j]| |G[j]|_1 |B^T[j]|_1`).

use crate::lanes::Lanes;

/// `B^T` as a matrix (tests and the error bound's absolute-value transform).
pub const BT: [[f64; 5]; 5] = [
    [2.0, -1.0, -2.0, 1.0, 0.0],
    [0.0, -2.0, -1.0, 1.0, 0.0],
    [0.0, 2.0, -3.0, 1.0, 0.0],
    [0.0, -1.0, 0.0, 1.0, 0.0],
    [0.0, 2.0, -1.0, -2.0, 1.0],
];

/// `G` as a matrix.
pub const G: [[f64; 2]; 5] = [
    [0.5, 0.0],
    [-0.5, -0.5],
    [-1.0 / 6.0, 1.0 / 6.0],
    [1.0 / 6.0, 1.0 / 3.0],
    [0.0, 1.0],
];

/// `A^T` as a matrix.
pub const AT: [[f64; 5]; 4] = [
    [1.0, 1.0, 1.0, 1.0, 0.0],
    [0.0, 1.0, -1.0, 2.0, 0.0],
    [0.0, 1.0, 1.0, 4.0, 0.0],
    [0.0, 1.0, -1.0, 8.0, 1.0],
];

/// `G g` for two taps `[a, b]`, in f64 (multiplies by the reciprocal 1/6, rounded to f32 once
/// by the caller, as the F(4x4, 3x3) weight transform does).
#[inline(always)]
pub fn weight_1d([a, b]: [f64; 2]) -> [f64; 5] {
    const SIXTH: f64 = 1.0 / 6.0;
    [
        a * 0.5,
        -(a + b) * 0.5,
        (b - a) * SIXTH,
        (a + 2.0 * b) * SIXTH,
        b,
    ]
}

/// `B^T d` for one 5-point column (or row) `d`.
#[inline(always)]
pub(crate) unsafe fn input_1d<V: Lanes>(d: [V; 5]) -> [V; 5] {
    let (two, m2) = (V::splat(2.0), V::splat(-2.0));
    // v1, v2 = (d3 - d2) - 2 d1, (d3 - d2) + 2 (d1 - d2); v0 = 2 (d0 - d2) + (d3 - d1).
    let a = V::sub(d[3], d[2]);
    let e = V::sub(d[3], d[1]);
    [
        V::mul_add(two, V::sub(d[0], d[2]), e),
        V::mul_add(m2, d[1], a),
        V::mul_add(two, V::sub(d[1], d[2]), a),
        e,
        V::mul_add(two, V::sub(d[1], d[3]), V::sub(d[4], d[2])),
    ]
}

/// `A^T m` for one 5-point column (or row) `m`.
#[inline(always)]
pub(crate) unsafe fn output_1d<V: Lanes>(m: [V; 5]) -> [V; 4] {
    let s = V::add(m[1], m[2]);
    let d = V::sub(m[1], m[2]);
    [
        V::add(V::add(m[0], s), m[3]),
        V::mul_add(V::splat(2.0), m[3], d),
        V::mul_add(V::splat(4.0), m[3], s),
        V::add(V::mul_add(V::splat(8.0), m[3], d), m[4]),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lanes::{Portable, LANES};

    fn lanes(v: f32) -> Portable {
        // SAFETY: the portable back end needs no CPU feature.
        unsafe { Portable::splat(v) }
    }

    fn first(v: Portable) -> f64 {
        let mut out = [0.0f32; LANES];
        // SAFETY: 8-float buffer.
        unsafe { Portable::store(out.as_mut_ptr(), v) };
        f64::from(out[0])
    }

    /// The factored 1-D transforms equal the matrices they implement.
    #[test]
    fn one_dimensional_forms_match_the_matrices() {
        let d = [0.5f32, -1.25, 2.0, 0.75, -3.0];
        // SAFETY: portable lanes.
        let v = unsafe { input_1d(d.map(lanes)) };
        for (i, row) in BT.iter().enumerate() {
            let want: f64 = row.iter().zip(d).map(|(b, x)| b * f64::from(x)).sum();
            assert!((first(v[i]) - want).abs() < 1e-5, "B^T row {i}");
        }
        // SAFETY: portable lanes.
        let y = unsafe { output_1d(d.map(lanes)) };
        for (i, row) in AT.iter().enumerate() {
            let want: f64 = row.iter().zip(d).map(|(a, x)| a * f64::from(x)).sum();
            assert!((first(y[i]) - want).abs() < 1e-5, "A^T row {i}");
        }
        let g = weight_1d([0.3, -0.7]);
        for (i, row) in G.iter().enumerate() {
            let want = row[0] * 0.3 + row[1] * -0.7;
            assert!((g[i] - want).abs() < 1e-15, "G row {i}");
        }
    }

    /// `A^T [(G g) . (B^T d)]` is the 4-point valid correlation, exactly (in f64 on the
    /// matrices): the identity every stride-2 output rests on.
    #[test]
    #[allow(clippy::needless_range_loop)] // Matrix indices read best explicitly.
    fn matrices_compute_a_correlation() {
        for i in 0..4 {
            for k in 0..2 {
                for l in 0..5 {
                    let s: f64 = (0..5).map(|j| AT[i][j] * G[j][k] * BT[j][l]).sum();
                    let want = if l == i + k { 1.0 } else { 0.0 };
                    assert!((s - want).abs() < 1e-12, "({i},{k},{l}): {s}");
                }
            }
        }
    }
}
