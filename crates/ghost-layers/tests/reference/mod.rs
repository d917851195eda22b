//! A naive f64 reference for the layer tests: PyTorch semantics written out directly (un-folded
//! BatchNorm, full cheap operation then concat and slice, ...), carrying next to every value an
//! error *magnitude*: the same computation on absolute values. An f32 evaluation of the same
//! graph in any summation order differs from the exact value by at most about
//! `(terms along the longest path) * 2^-24 * magnitude` (Higham's bound for sums of products,
//! applied layer by layer: an input error is scaled by `|w|`, exactly like the magnitude).
#![allow(dead_code)]

use ghost_kernels::Activation;
use ghost_layers::bn::BatchNorm;
use ghost_layers::weights::seeded::uniform01;
use ghost_layers::{Tensor, WeightSource};

/// An NHWC f64 map and its error magnitude.
#[derive(Clone, Debug)]
pub struct Map {
    pub shape: [usize; 4],
    pub val: Vec<f64>,
    pub mag: Vec<f64>,
}

impl Map {
    pub fn zeros(shape: [usize; 4]) -> Map {
        let len = shape.iter().product();
        Map {
            shape,
            val: vec![0.0; len],
            mag: vec![0.0; len],
        }
    }

    pub fn from_tensor(t: &Tensor) -> Map {
        let val: Vec<f64> = t.to_dense_vec().into_iter().map(f64::from).collect();
        Map {
            shape: t.shape(),
            mag: val.iter().map(|v| v.abs()).collect(),
            val,
        }
    }

    pub fn idx(&self, b: usize, y: usize, x: usize, c: usize) -> usize {
        let [_, h, w, ch] = self.shape;
        ((b * h + y) * w + x) * ch + c
    }
}

/// A deterministic input in `[-2, 2)`.
pub fn input(shape: [usize; 4], seed: u64) -> Tensor {
    let len: usize = shape.iter().product();
    let data = (0..len as u64)
        .map(|i| (uniform01(seed, i) * 4.0 - 2.0) as f32)
        .collect();
    Tensor::from_nhwc_vec(shape, data).unwrap()
}

/// PyTorch `Conv2d` with weights `[cout][cin/groups][k][k]`, symmetric padding.
#[allow(clippy::too_many_arguments)]
pub fn conv(
    x: &Map,
    w: &[f32],
    bias: Option<&[f32]>,
    cout: usize,
    groups: usize,
    k: usize,
    stride: usize,
    pad: usize,
) -> Map {
    let [n, h, wd, cin] = x.shape;
    let oh = (h + 2 * pad - k) / stride + 1;
    let ow = (wd + 2 * pad - k) / stride + 1;
    let cin_g = cin / groups;
    let cout_g = cout / groups;
    let mut out = Map::zeros([n, oh, ow, cout]);
    for b in 0..n {
        for oy in 0..oh {
            for ox in 0..ow {
                for o in 0..cout {
                    let g = o / cout_g;
                    let (mut v, mut m) =
                        bias.map_or((0.0, 0.0), |b| (f64::from(b[o]), f64::from(b[o]).abs()));
                    for ky in 0..k {
                        for kx in 0..k {
                            let iy = (oy * stride + ky) as isize - pad as isize;
                            let ix = (ox * stride + kx) as isize - pad as isize;
                            if iy < 0 || ix < 0 || iy >= h as isize || ix >= wd as isize {
                                continue;
                            }
                            for i in 0..cin_g {
                                let wv = f64::from(w[((o * cin_g + i) * k + ky) * k + kx]);
                                let xi = x.idx(b, iy as usize, ix as usize, g * cin_g + i);
                                v += wv * x.val[xi];
                                m += wv.abs() * x.mag[xi];
                            }
                        }
                    }
                    let oi = out.idx(b, oy, ox, o);
                    out.val[oi] = v;
                    out.mag[oi] = m;
                }
            }
        }
    }
    out
}

/// Inference BatchNorm, un-folded.
pub fn batch_norm(x: &Map, bn: &BatchNorm) -> Map {
    let c = x.shape[3];
    let mut out = x.clone();
    for (i, (v, m)) in out.val.iter_mut().zip(out.mag.iter_mut()).enumerate() {
        let ch = i % c;
        let s = f64::from(bn.gamma[ch]) / (f64::from(bn.var[ch]) + bn.eps).sqrt();
        *v = bn.apply_f64(ch, *v);
        *m = s.abs() * *m + (s * f64::from(bn.mean[ch])).abs() + f64::from(bn.beta[ch]).abs();
    }
    out
}

/// An activation; the magnitude follows the slope (<= 1.1) plus, for gates, the value itself.
pub fn act(x: &Map, a: Activation) -> Map {
    let mut out = x.clone();
    for (v, m) in out.val.iter_mut().zip(out.mag.iter_mut()) {
        let y = a.apply_f64(*v);
        *m = match a {
            Activation::HardSigmoid | Activation::Sigmoid => y.abs() + *m / 4.0,
            _ => 1.1 * *m,
        };
        *v = y;
    }
    out
}

/// Channel concat of `a` then `b`, keeping the first `keep` channels.
pub fn concat_slice(a: &Map, b: &Map, keep: usize) -> Map {
    let [n, h, w, ca] = a.shape;
    let cb = b.shape[3];
    let mut out = Map::zeros([n, h, w, keep]);
    for p in 0..n * h * w {
        for c in 0..keep {
            let (v, m) = if c < ca {
                (a.val[p * ca + c], a.mag[p * ca + c])
            } else {
                (b.val[p * cb + c - ca], b.mag[p * cb + c - ca])
            };
            out.val[p * keep + c] = v;
            out.mag[p * keep + c] = m;
        }
    }
    out
}

pub fn add(a: &Map, b: &Map) -> Map {
    assert_eq!(a.shape, b.shape);
    Map {
        shape: a.shape,
        val: a.val.iter().zip(&b.val).map(|(x, y)| x + y).collect(),
        mag: a.mag.iter().zip(&b.mag).map(|(x, y)| x + y).collect(),
    }
}

/// Mean over h, w: `n x 1 x 1 x c`.
pub fn mean_hw(x: &Map) -> Map {
    let [n, h, w, c] = x.shape;
    let mut out = Map::zeros([n, 1, 1, c]);
    for b in 0..n {
        for p in 0..h * w {
            for ch in 0..c {
                out.val[b * c + ch] += x.val[(b * h * w + p) * c + ch] / (h * w) as f64;
                out.mag[b * c + ch] += x.mag[(b * h * w + p) * c + ch] / (h * w) as f64;
            }
        }
    }
    out
}

/// `x * g` with `g` of shape `n x 1 x 1 x c`.
pub fn channel_mul(x: &Map, g: &Map) -> Map {
    let [n, h, w, c] = x.shape;
    let mut out = x.clone();
    for b in 0..n {
        for p in 0..h * w {
            for ch in 0..c {
                let i = (b * h * w + p) * c + ch;
                out.val[i] = x.val[i] * g.val[b * c + ch];
                out.mag[i] = x.mag[i] * g.mag[b * c + ch] * 2.0;
            }
        }
    }
    out
}

/// Conv (no bias) + BatchNorm + activation with the tensors under `conv` / `bn`.
#[allow(clippy::too_many_arguments)]
pub fn conv_bn_act(
    weights: &dyn WeightSource,
    conv_name: &str,
    bn_name: &str,
    x: &Map,
    cout: usize,
    groups: usize,
    k: usize,
    stride: usize,
    pad: usize,
    eps: f64,
    a: Activation,
) -> Map {
    let cin_g = x.shape[3] / groups;
    let w = weights
        .load(&format!("{conv_name}.weight"), &[cout, cin_g, k, k])
        .unwrap();
    let bn = BatchNorm::load(weights, bn_name, cout, eps).unwrap();
    act(
        &batch_norm(&conv(x, &w, None, cout, groups, k, stride, pad), &bn),
        a,
    )
}

/// timm `GhostModule` (ratio 2, dw 3x3) exactly as PyTorch runs it.
pub fn ghost_module(
    weights: &dyn WeightSource,
    prefix: &str,
    x: &Map,
    oup: usize,
    relu: bool,
    eps: f64,
) -> Map {
    let init = oup.div_ceil(2);
    let a = if relu {
        Activation::Relu
    } else {
        Activation::Identity
    };
    let x1 = conv_bn_act(
        weights,
        &format!("{prefix}.primary_conv.0"),
        &format!("{prefix}.primary_conv.1"),
        x,
        init,
        1,
        1,
        1,
        0,
        eps,
        a,
    );
    let x2 = conv_bn_act(
        weights,
        &format!("{prefix}.cheap_operation.0"),
        &format!("{prefix}.cheap_operation.1"),
        &x1,
        init,
        init,
        3,
        1,
        1,
        eps,
        a,
    );
    concat_slice(&x1, &x2, oup)
}

/// timm `SqueezeExcite` with hard-sigmoid gate.
pub fn squeeze_excite(weights: &dyn WeightSource, prefix: &str, x: &Map, reduced: usize) -> Map {
    let c = x.shape[3];
    let wr = weights
        .load(&format!("{prefix}.conv_reduce.weight"), &[reduced, c, 1, 1])
        .unwrap();
    let br = weights
        .load(&format!("{prefix}.conv_reduce.bias"), &[reduced])
        .unwrap();
    let we = weights
        .load(&format!("{prefix}.conv_expand.weight"), &[c, reduced, 1, 1])
        .unwrap();
    let be = weights
        .load(&format!("{prefix}.conv_expand.bias"), &[c])
        .unwrap();
    let pooled = mean_hw(x);
    let s = act(
        &conv(&pooled, &wr, Some(&br), reduced, 1, 1, 1, 0),
        Activation::Relu,
    );
    let g = act(
        &conv(&s, &we, Some(&be), c, 1, 1, 1, 0),
        Activation::HardSigmoid,
    );
    channel_mul(x, &g)
}

/// Asserts `ours` is within `2 * terms * eps_f32 * magnitude` (+ a 1e-6 floor for values that
/// cancel to ~0) of the reference, element by element. Returns the largest error / bound ratio.
pub fn assert_close(what: &str, ours: &Tensor, reference: &Map, terms: usize) -> f64 {
    assert_eq!(ours.shape(), reference.shape, "{what}: shape");
    let got = ours.to_dense_vec();
    let mut worst: f64 = 0.0;
    for (i, ((&o, &r), &m)) in got
        .iter()
        .zip(&reference.val)
        .zip(&reference.mag)
        .enumerate()
    {
        let bound = 2.0 * terms as f64 * f64::from(f32::EPSILON) * m + 1e-6;
        let err = (f64::from(o) - r).abs();
        assert!(
            err <= bound,
            "{what}: element {i}: ours {o} reference {r} error {err:.3e} > bound {bound:.3e}"
        );
        worst = worst.max(err / bound);
    }
    worst
}
