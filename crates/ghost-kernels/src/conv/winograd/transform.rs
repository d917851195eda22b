//! The three Winograd F(4x4, 3x3) transforms (Lavin & Gray 2016, interpolation points
//! 0, 1, -1, 2, -2 and infinity):
//!
//! - weights `U = G g G^T` (3x3 -> 6x6), once at load, in f64;
//! - input tiles `V = B^T d B` (6x6 -> 6x6), per tile and 8-channel block, on the crate's
//!   8-lane vector type;
//! - output tiles `Y = A^T M A` (6x6 -> 4x4), per tile and 8-channel block, likewise.
//!
//! ```text
//!        | 4  0 -5  0  1  0 |         | 1/4     0     0  |         | 1  1  1  1  1  0 |
//!        | 0 -4 -4  1  1  0 |         | -1/6  -1/6  -1/6 |   A^T = | 0  1 -1  2 -2  0 |
//! B^T =  | 0  4 -4 -1  1  0 |    G =  | -1/6   1/6  -1/6 |         | 0  1  1  4  4  0 |
//!        | 0 -2 -1  2  1  0 |         | 1/24  1/12   1/6 |         | 0  1 -1  8 -8  1 |
//!        | 0  2 -1 -2  1  0 |         | 1/24 -1/12   1/6 |
//!        | 0  4  0 -5  0  1 |         |  0      0     1  |
//! ```
//!
//! Each 2-D transform is the 1-D one applied to the columns, then to the rows. The 1-D forms
//! below share sub-expressions (as in NNPACK and XNNPACK) so a 6-point input transform costs
//! 6 multiply-adds and 6 adds instead of a 6x6 matrix product.

use crate::lanes::Lanes;

/// `B^T` as a matrix (tests and the error bound's absolute-value transform).
pub const BT: [[f64; 6]; 6] = [
    [4.0, 0.0, -5.0, 0.0, 1.0, 0.0],
    [0.0, -4.0, -4.0, 1.0, 1.0, 0.0],
    [0.0, 4.0, -4.0, -1.0, 1.0, 0.0],
    [0.0, -2.0, -1.0, 2.0, 1.0, 0.0],
    [0.0, 2.0, -1.0, -2.0, 1.0, 0.0],
    [0.0, 4.0, 0.0, -5.0, 0.0, 1.0],
];

/// `G` as a matrix.
pub const G: [[f64; 3]; 6] = [
    [1.0 / 4.0, 0.0, 0.0],
    [-1.0 / 6.0, -1.0 / 6.0, -1.0 / 6.0],
    [-1.0 / 6.0, 1.0 / 6.0, -1.0 / 6.0],
    [1.0 / 24.0, 1.0 / 12.0, 1.0 / 6.0],
    [1.0 / 24.0, -1.0 / 12.0, 1.0 / 6.0],
    [0.0, 0.0, 1.0],
];

/// `A^T` as a matrix.
pub const AT: [[f64; 6]; 4] = [
    [1.0, 1.0, 1.0, 1.0, 1.0, 0.0],
    [0.0, 1.0, -1.0, 2.0, -2.0, 0.0],
    [0.0, 1.0, 1.0, 4.0, 4.0, 0.0],
    [0.0, 1.0, -1.0, 8.0, -8.0, 1.0],
];

/// `G x` for one 3-point column (or row) `x`, in f64. Multiplies by the reciprocals instead of
/// dividing (an f64 division costs several multiplies, and the f64 result is rounded to f32
/// once at the end, so the last-bit difference of the reciprocal does not matter).
#[inline(always)]
fn weight_1d([a, b, c]: [f64; 3]) -> [f64; 6] {
    const SIXTH: f64 = 1.0 / 6.0;
    const TWELFTH: f64 = 1.0 / 12.0;
    const TWENTY_FOURTH: f64 = 1.0 / 24.0;
    let (s, d) = (a + c, a * TWENTY_FOURTH + c * SIXTH);
    [
        a * 0.25,
        -(s + b) * SIXTH,
        -(s - b) * SIXTH,
        d + b * TWELFTH,
        d - b * TWELFTH,
        c,
    ]
}

/// `U = G g G^T` for one 3x3 kernel `g` (row-major), in f64 and rounded once to f32
/// ([`weight_tiles`] with one lane).
pub fn weight_tile(g: &[f32; 9]) -> [f32; 36] {
    weight_tiles(&g.map(|v| [v])).map(|[u]| u)
}

/// `U = G g G^T` for `N` kernels at once: `g[t][l]` is tap `t` of kernel `l`, the result
/// `[xi][l]` value `xi` of kernel `l`. Every lane runs the same f64 operations (no fused
/// multiply-adds), so a kernel's result does not depend on `N` or its lane; written over arrays
/// so that the compiler vectorises the lanes (most of a Winograd layer's load time otherwise).
pub fn weight_tiles<const N: usize>(g: &[[f32; N]; 9]) -> [[f32; N]; 36] {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2 (checked just above).
        return unsafe { weight_tiles_avx2(g) };
    }
    weight_tiles_lanes(g)
}

/// [`weight_tiles_lanes`] compiled for AVX2 (4 f64 lanes per vector instead of SSE2's 2).
///
/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn weight_tiles_avx2<const N: usize>(g: &[[f32; N]; 9]) -> [[f32; N]; 36] {
    weight_tiles_lanes(g)
}

#[inline(always)]
fn weight_tiles_lanes<const N: usize>(g: &[[f32; N]; 9]) -> [[f32; N]; 36] {
    let widen = |t: usize| -> [f64; N] { std::array::from_fn(|l| f64::from(g[t][l])) };
    // Columns first: t = G g (6x3), then rows: U = t G^T (6x6).
    let cols: [[[f64; N]; 6]; 3] =
        std::array::from_fn(|j| weight_1d_lanes([widen(j), widen(3 + j), widen(6 + j)]));
    let mut u = [[0.0f32; N]; 36];
    for i in 0..6 {
        let r = weight_1d_lanes([cols[0][i], cols[1][i], cols[2][i]]);
        for (j, x) in r.iter().enumerate() {
            for (v, &x) in u[i * 6 + j].iter_mut().zip(x) {
                *v = x as f32;
            }
        }
    }
    u
}

/// `weight_1d` on `N` lanes.
#[inline(always)]
fn weight_1d_lanes<const N: usize>([a, b, c]: [[f64; N]; 3]) -> [[f64; N]; 6] {
    let mut out = [[0.0f64; N]; 6];
    for l in 0..N {
        let r = weight_1d([a[l], b[l], c[l]]);
        for (o, x) in out.iter_mut().zip(r) {
            o[l] = x;
        }
    }
    out
}

/// `B^T d` for one 6-point column (or row) `d`.
#[inline(always)]
pub(crate) unsafe fn input_1d<V: Lanes>(d: [V; 6]) -> [V; 6] {
    let (m4, m5, two) = (V::splat(-4.0), V::splat(-5.0), V::splat(2.0));
    let four = V::splat(4.0);
    // r1, r2 = (d4 - 4 d2) +- (d3 - 4 d1); r3, r4 = (d4 - d2) +- 2 (d3 - d1).
    let a = V::mul_add(m4, d[2], d[4]);
    let b = V::mul_add(m4, d[1], d[3]);
    let c = V::sub(d[4], d[2]);
    let e = V::mul(two, V::sub(d[3], d[1]));
    [
        V::mul_add(four, d[0], V::mul_add(m5, d[2], d[4])),
        V::add(a, b),
        V::sub(a, b),
        V::add(c, e),
        V::sub(c, e),
        V::mul_add(four, d[1], V::mul_add(m5, d[3], d[5])),
    ]
}

/// `A^T m` for one 6-point column (or row) `m`.
#[inline(always)]
pub(crate) unsafe fn output_1d<V: Lanes>(m: [V; 6]) -> [V; 4] {
    let s12 = V::add(m[1], m[2]);
    let d12 = V::sub(m[1], m[2]);
    let s34 = V::add(m[3], m[4]);
    let d34 = V::sub(m[3], m[4]);
    [
        V::add(V::add(m[0], s12), s34),
        V::mul_add(V::splat(2.0), d34, d12),
        V::mul_add(V::splat(4.0), s34, s12),
        V::add(V::mul_add(V::splat(8.0), d34, d12), m[5]),
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
        let d = [0.5f32, -1.25, 2.0, 0.75, -3.0, 1.5];
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
    }

    /// The factored weight transform equals `G g G^T` with the matrix.
    #[test]
    fn weight_transform_matches_the_matrix() {
        let g: [f32; 9] = [0.3, -0.2, 0.1, 0.5, 1.0, -0.7, 0.25, 0.05, -0.4];
        let u = weight_tile(&g);
        for i in 0..6 {
            for j in 0..6 {
                let mut want = 0.0;
                for k in 0..3 {
                    for l in 0..3 {
                        want += G[i][k] * f64::from(g[k * 3 + l]) * G[j][l];
                    }
                }
                assert!((f64::from(u[i * 6 + j]) - want).abs() <= 1e-7 * want.abs().max(1e-3));
            }
        }
    }

    /// The 16-lane transform gives every lane bitwise what the one-lane transform gives.
    #[test]
    fn lane_transform_is_bitwise_the_scalar_one() {
        let mut g = [[0.0f32; 16]; 9];
        for (t, taps) in g.iter_mut().enumerate() {
            for (l, v) in taps.iter_mut().enumerate() {
                // Mixed signs and magnitudes, a subnormal and a zero among them.
                *v = match (t, l) {
                    (0, 3) => 1.0e-40,
                    (4, 5) => 0.0,
                    _ => ((t * 16 + l) as f32 * 0.731).sin() * 10f32.powi((l % 7) as i32 - 3),
                };
            }
        }
        let u = weight_tiles(&g);
        for l in 0..16 {
            let one = weight_tile(&std::array::from_fn(|t| g[t][l]));
            for xi in 0..36 {
                assert_eq!(u[xi][l].to_bits(), one[xi].to_bits(), "lane {l} value {xi}");
            }
        }
    }

    /// `A^T [(G g G^T) . (B^T d B)] A` is the 4x4 valid correlation of a 6x6 tile `d` with `g`.
    #[test]
    fn transforms_compute_a_correlation() {
        let g: [f32; 9] = [0.3, -0.2, 0.1, 0.5, 1.0, -0.7, 0.25, 0.05, -0.4];
        let d: Vec<f64> = (0..36).map(|i| ((i * 7 % 11) as f64 - 5.0) / 4.0).collect();
        let u = weight_tile(&g);
        let mut v = [[0.0f64; 6]; 6];
        for i in 0..6 {
            for j in 0..6 {
                for k in 0..6 {
                    for l in 0..6 {
                        v[i][j] += BT[i][k] * d[k * 6 + l] * BT[j][l];
                    }
                }
            }
        }
        for y in 0..4 {
            for x in 0..4 {
                let mut got = 0.0;
                for i in 0..6 {
                    for j in 0..6 {
                        got += AT[y][i] * f64::from(u[i * 6 + j]) * v[i][j] * AT[x][j];
                    }
                }
                let want: f64 = (0..9)
                    .map(|t| f64::from(g[t]) * d[(y + t / 3) * 6 + x + t % 3])
                    .sum();
                assert!((got - want).abs() < 1e-5, "({y},{x}): {got} vs {want}");
            }
        }
    }
}
