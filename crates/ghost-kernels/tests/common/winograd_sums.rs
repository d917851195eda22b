//! The absolute-value evaluation of Winograd F(4x4, 3x3) that `tolerance::winograd_bound`
//! scales (shared by the Winograd property tests and the conformance suite).

// Matrix arithmetic reads best with explicit indices.
#![allow(clippy::needless_range_loop)]

use ghost_kernels::conv::winograd::transform::{AT, BT, G};
use ghost_kernels::{Padding, TensorView};

/// `|A^T| ((|G| |g| |G^T|) . (|B^T| |d| |B|)) |A|` summed over input channels, for every output
/// pixel and channel: the absolute-value evaluation `winograd_bound` scales. Indexed like a
/// dense `(n, oh, ow, cout)` tensor.
#[allow(clippy::too_many_arguments)]
pub fn transformed_abs_sums(
    input: &TensorView<'_>,
    wts: &[f32],
    cin: usize,
    cout: usize,
    padding: Padding,
    oh: usize,
    ow: usize,
) -> Vec<f64> {
    let [n, h, w, _] = input.shape();
    // |U| per (o, i): |G| |g| |G^T|.
    let mut abs_u = vec![0.0f64; cout * cin * 36];
    for oi in 0..cout * cin {
        let g = &wts[oi * 9..oi * 9 + 9];
        for a in 0..6 {
            for b in 0..6 {
                let mut s = 0.0;
                for k in 0..3 {
                    for l in 0..3 {
                        s += G[a][k].abs() * f64::from(g[k * 3 + l]).abs() * G[b][l].abs();
                    }
                }
                abs_u[oi * 36 + a * 6 + b] = s;
            }
        }
    }
    let (th, tw) = (oh.div_ceil(4), ow.div_ceil(4));
    let mut sums = vec![0.0f64; n * oh * ow * cout];
    for b in 0..n {
        for ty in 0..th {
            for tx in 0..tw {
                // |V| per input channel: |B^T| |d| |B| of the tile's 6x6 window (zero padding).
                let mut abs_v = vec![0.0f64; cin * 36];
                for i in 0..cin {
                    let mut d = [[0.0f64; 6]; 6];
                    for (k, row) in d.iter_mut().enumerate() {
                        for (l, v) in row.iter_mut().enumerate() {
                            let iy = (ty * 4 + k).checked_sub(padding.top);
                            let ix = (tx * 4 + l).checked_sub(padding.left);
                            if let (Some(iy), Some(ix)) = (iy, ix) {
                                if iy < h && ix < w {
                                    *v = f64::from(input.get(b, iy, ix, i)).abs();
                                }
                            }
                        }
                    }
                    for a in 0..6 {
                        for e in 0..6 {
                            let mut s = 0.0;
                            for k in 0..6 {
                                for l in 0..6 {
                                    s += BT[a][k].abs() * d[k][l] * BT[e][l].abs();
                                }
                            }
                            abs_v[i * 36 + a * 6 + e] = s;
                        }
                    }
                }
                for o in 0..cout {
                    let mut p = [0.0f64; 36];
                    for i in 0..cin {
                        for (xi, v) in p.iter_mut().enumerate() {
                            *v += abs_u[(o * cin + i) * 36 + xi] * abs_v[i * 36 + xi];
                        }
                    }
                    for r in 0..4 {
                        for s in 0..4 {
                            let (oy, ox) = (ty * 4 + r, tx * 4 + s);
                            if oy >= oh || ox >= ow {
                                continue;
                            }
                            let mut total = 0.0;
                            for a in 0..6 {
                                for e in 0..6 {
                                    total += AT[r][a].abs() * p[a * 6 + e] * AT[s][e].abs();
                                }
                            }
                            sums[((b * oh + oy) * ow + ox) * cout + o] = total;
                        }
                    }
                }
            }
        }
    }
    sums
}
