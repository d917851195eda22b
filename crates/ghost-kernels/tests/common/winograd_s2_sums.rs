//! The absolute-value evaluation of the stride-2 polyphase Winograd F(4x4, 2x2) that
//! `tolerance::winograd_s2_bound` scales (shared by its property tests and the conformance
//! suite). Written from the phase decomposition (`conv::winograd::stride2`'s table) with the
//! 1-D matrices, independently of the kernel's point numbering.

// Matrix arithmetic reads best with explicit indices.
#![allow(clippy::needless_range_loop)]

use ghost_kernels::conv::winograd::transform_s2::{AT, BT, G};
use ghost_kernels::{Padding, TensorView};

/// One direction of a phase: `true` = F(4, 2) over 5 inputs (taps at offsets 0 and 2 of the
/// 3-tap kernel, even window positions), `false` = the identity over 4 inputs (the tap at
/// offset 1, odd window positions).
type Dir = bool;

/// A matrix as rows.
type Mat = Vec<Vec<f64>>;

/// The absolute 1-D matrices of a direction: (|A^T| 4 x n, |G| n x taps, |B^T| n x n, the
/// first window position and kernel tap; both step by 2).
fn dir_mats(f42: Dir) -> (Mat, Mat, Mat, usize) {
    let abs = |m: &[&[f64]]| -> Mat {
        m.iter()
            .map(|r| r.iter().map(|v| v.abs()).collect())
            .collect()
    };
    if f42 {
        let at: Vec<&[f64]> = AT.iter().map(|r| &r[..]).collect();
        let g: Vec<&[f64]> = G.iter().map(|r| &r[..]).collect();
        let bt: Vec<&[f64]> = BT.iter().map(|r| &r[..]).collect();
        (abs(&at), abs(&g), abs(&bt), 0)
    } else {
        let eye: Mat = (0..4)
            .map(|i| (0..4).map(|j| f64::from(u8::from(i == j))).collect())
            .collect();
        (eye.clone(), vec![vec![1.0]; 4], eye, 1)
    }
}

/// `sum_c sum_phase |A_p^T| ((|G_p| |g_pc| |G_p^T|) . (|B_p^T| |d_pc| |B_p|)) |A_p|` for every
/// output pixel and channel of a stride-2 3x3 convolution, indexed like a dense
/// `(n, oh, ow, cout)` tensor.
#[allow(clippy::too_many_arguments)]
pub fn transformed_abs_sums_s2(
    input: &TensorView<'_>,
    wts: &[f32],
    cin: usize,
    cout: usize,
    padding: Padding,
    oh: usize,
    ow: usize,
) -> Vec<f64> {
    let [n, h, w, _] = input.shape();
    let (th, tw) = (oh.div_ceil(4), ow.div_ceil(4));
    let mut sums = vec![0.0f64; n * oh * ow * cout];
    for (ry, rx) in [(true, true), (true, false), (false, true), (false, false)] {
        let (ay, gy, by, oy_off) = dir_mats(ry);
        let (ax, gx, bx, ox_off) = dir_mats(rx);
        let (ny, nx) = (by.len(), bx.len());
        // The phase's taps: rows ky = oy_off + 2 a, columns kx = ox_off + 2 b.
        let (ty_n, tx_n) = (gy[0].len(), gx[0].len());
        // |U| per (o, i): |G_y| |g| |G_x^T|.
        let mut abs_u = vec![0.0f64; cout * cin * ny * nx];
        for oi in 0..cout * cin {
            for a in 0..ny {
                for e in 0..nx {
                    let mut s = 0.0;
                    for k in 0..ty_n {
                        for l in 0..tx_n {
                            let (ky, kx) = (oy_off + 2 * k, ox_off + 2 * l);
                            s += gy[a][k] * f64::from(wts[oi * 9 + ky * 3 + kx]).abs() * gx[e][l];
                        }
                    }
                    abs_u[(oi * ny + a) * nx + e] = s;
                }
            }
        }
        for b in 0..n {
            for ty in 0..th {
                for tx in 0..tw {
                    let mut abs_v = vec![0.0f64; cin * ny * nx];
                    for i in 0..cin {
                        // The phase's inputs: window rows oy_off + 2 k, columns ox_off + 2 l.
                        let mut d = vec![vec![0.0f64; nx]; ny];
                        for k in 0..ny {
                            for l in 0..nx {
                                let iy = (ty * 8 + oy_off + 2 * k).checked_sub(padding.top);
                                let ix = (tx * 8 + ox_off + 2 * l).checked_sub(padding.left);
                                if let (Some(iy), Some(ix)) = (iy, ix) {
                                    if iy < h && ix < w {
                                        d[k][l] = f64::from(input.get(b, iy, ix, i)).abs();
                                    }
                                }
                            }
                        }
                        for a in 0..ny {
                            for e in 0..nx {
                                let mut s = 0.0;
                                for k in 0..ny {
                                    for l in 0..nx {
                                        s += by[a][k] * d[k][l] * bx[e][l];
                                    }
                                }
                                abs_v[(i * ny + a) * nx + e] = s;
                            }
                        }
                    }
                    for o in 0..cout {
                        let mut p = vec![0.0f64; ny * nx];
                        for i in 0..cin {
                            for (xi, v) in p.iter_mut().enumerate() {
                                *v += abs_u[(o * cin + i) * ny * nx + xi] * abs_v[i * ny * nx + xi];
                            }
                        }
                        for r in 0..4 {
                            for s in 0..4 {
                                let (oy, ox) = (ty * 4 + r, tx * 4 + s);
                                if oy >= oh || ox >= ow {
                                    continue;
                                }
                                let mut total = 0.0;
                                for a in 0..ny {
                                    for e in 0..nx {
                                        total += ay[r][a] * p[a * nx + e] * ax[s][e];
                                    }
                                }
                                sums[((b * oh + oy) * ow + ox) * cout + o] += total;
                            }
                        }
                    }
                }
            }
        }
    }
    sums
}
