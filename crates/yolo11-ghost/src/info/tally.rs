//! Per-module parameter / FLOP / layer-count accounting, from the spec alone (no weights).
//!
//! Costs follow `ghost_layers::Cost` (thop's rules as Ultralytics 8.4 `get_flops` applies them:
//! conv multiply-adds without bias, 4 ops per BatchNorm output, matmuls counted by thop's
//! functional hooks, pools/activations/upsampling free). Layer counts follow
//! `model.info()`: the number of leaf modules in `named_modules()`, where the one SiLU instance
//! every activated `Conv` shares counts once for the whole model, each `act=False` Conv owns an
//! `nn.Identity`, and fusing removes every `Conv`'s BatchNorm.

use ghost_layers::Cost;

use crate::spec::{
    hidden_channels, BottleneckArgs, C2psaArgs, C3k2Args, ConvArgs, CspArgs, DetectArgs,
    GhostBottleneckArgs, GhostConvArgs, SppfArgs,
};

/// Cost and leaf-module counts of a piece of the model.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// Parameters and FLOPs.
    pub cost: Cost,
    /// Leaf modules as trained (BatchNorms separate).
    pub leaves: usize,
    /// Leaf modules once every Ultralytics `Conv`'s BatchNorm is folded away.
    pub fused_leaves: usize,
    /// Whether some Conv uses the shared default SiLU (one extra leaf for the whole model).
    pub uses_default_act: bool,
}

impl std::ops::AddAssign for Tally {
    fn add_assign(&mut self, o: Tally) {
        self.cost += o.cost;
        self.leaves += o.leaves;
        self.fused_leaves += o.fused_leaves;
        self.uses_default_act |= o.uses_default_act;
    }
}

/// A feature map size (batch 1, as `get_flops` profiles).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hw {
    /// Height.
    pub h: usize,
    /// Width.
    pub w: usize,
}

impl Hw {
    fn conv(self, k: usize, s: usize, p: usize) -> Hw {
        let f = |len: usize| (len + 2 * p).saturating_sub(k) / s + 1;
        Hw {
            h: f(self.h),
            w: f(self.w),
        }
    }

    fn pixels(self) -> usize {
        self.h * self.w
    }
}

/// Ultralytics `Conv` (conv without bias + BN + SiLU / Identity); returns its output size.
pub fn conv(t: &mut Tally, a: &ConvArgs, hw: Hw) -> Hw {
    let out = hw.conv(a.k, a.s, a.p);
    t.cost += Cost::conv([1, out.h, out.w, a.c2], a.c1, a.g, a.k, a.k, false, true);
    let identity = usize::from(!a.act);
    t.leaves += 2 + identity;
    t.fused_leaves += 1 + identity;
    t.uses_default_act |= a.act;
    out
}

/// A plain `nn.Conv2d` with bias (Detect's last 1x1 convs).
fn conv2d_bias(t: &mut Tally, c1: usize, c2: usize, hw: Hw) {
    t.cost += Cost::conv([1, hw.h, hw.w, c2], c1, 1, 1, 1, true, false);
    t.leaves += 1;
    t.fused_leaves += 1;
}

fn identity(t: &mut Tally) {
    t.leaves += 1;
    t.fused_leaves += 1;
}

/// `Bottleneck(c1, c2, shortcut, g, k, e)`.
pub fn bottleneck(t: &mut Tally, a: &BottleneckArgs, hw: Hw) -> Hw {
    let c_ = hidden_channels(a.c2, a.e);
    let mid = conv(t, &ConvArgs::new(a.c1, c_, a.k.0, 1, true), hw);
    conv(t, &ConvArgs::new(c_, a.c2, a.k.1, 1, true).groups(a.g), mid)
}

/// `C2f(c1, c2, n, shortcut, g, e)`.
pub fn c2f(t: &mut Tally, a: &CspArgs, hw: Hw) -> Hw {
    let c = hidden_channels(a.c2, a.e);
    conv(t, &ConvArgs::new(a.c1, 2 * c, 1, 1, true), hw);
    for _ in 0..a.n {
        bottleneck(t, &inner_bottleneck(c, a.shortcut, a.g, (3, 3), 1.0), hw);
    }
    conv(t, &ConvArgs::new((2 + a.n) * c, a.c2, 1, 1, true), hw)
}

fn inner_bottleneck(
    c: usize,
    shortcut: bool,
    g: usize,
    k: (usize, usize),
    e: f64,
) -> BottleneckArgs {
    BottleneckArgs {
        c1: c,
        c2: c,
        shortcut,
        g,
        k,
        e,
    }
}

/// `C3(c1, c2, n, shortcut, g, e)` with inner blocks supplied by `inner` (Bottleneck, C3k's
/// kxk Bottleneck, GhostBottleneck).
fn c3_with(t: &mut Tally, a: &CspArgs, hw: Hw, inner: impl Fn(&mut Tally, usize, Hw)) -> Hw {
    let c_ = hidden_channels(a.c2, a.e);
    conv(t, &ConvArgs::new(a.c1, c_, 1, 1, true), hw);
    conv(t, &ConvArgs::new(a.c1, c_, 1, 1, true), hw);
    conv(t, &ConvArgs::new(2 * c_, a.c2, 1, 1, true), hw);
    for _ in 0..a.n {
        inner(t, c_, hw);
    }
    hw
}

/// `C3`.
pub fn c3(t: &mut Tally, a: &CspArgs, hw: Hw) -> Hw {
    let (shortcut, g) = (a.shortcut, a.g);
    c3_with(t, a, hw, |t, c, hw| {
        bottleneck(t, &inner_bottleneck(c, shortcut, g, (1, 3), 1.0), hw);
    })
}

/// `C3k(c1, c2, n, shortcut, g, e=0.5, k=3)`.
pub fn c3k(t: &mut Tally, a: &CspArgs, k: usize, hw: Hw) -> Hw {
    let (shortcut, g) = (a.shortcut, a.g);
    c3_with(t, a, hw, |t, c, hw| {
        bottleneck(t, &inner_bottleneck(c, shortcut, g, (k, k), 1.0), hw);
    })
}

/// `C3Ghost`.
pub fn c3ghost(t: &mut Tally, a: &CspArgs, hw: Hw) -> Hw {
    c3_with(t, a, hw, |t, c, hw| {
        ghost_bottleneck(
            t,
            &GhostBottleneckArgs {
                c1: c,
                c2: c,
                k: 3,
                s: 1,
            },
            hw,
        );
    })
}

/// `C3k2(c1, c2, n, c3k, e, attn, g, shortcut)`.
pub fn c3k2(t: &mut Tally, a: &C3k2Args, hw: Hw) -> Hw {
    let c = hidden_channels(a.c2, a.e);
    conv(t, &ConvArgs::new(a.c1, 2 * c, 1, 1, true), hw);
    for _ in 0..a.n {
        let inner = inner_bottleneck(c, a.shortcut, a.g, (3, 3), 0.5);
        if a.attn {
            bottleneck(t, &inner, hw);
            psa_block(t, c, 0.5, (c / 64).max(1), hw);
        } else if a.c3k {
            let csp = CspArgs {
                c1: c,
                c2: c,
                n: 2,
                shortcut: a.shortcut,
                g: a.g,
                e: 0.5,
            };
            c3k(t, &csp, 3, hw);
        } else {
            bottleneck(t, &inner, hw);
        }
    }
    conv(t, &ConvArgs::new((2 + a.n) * c, a.c2, 1, 1, true), hw)
}

/// `GhostConv(c1, c2, k, s, g, act)`: primary conv to `c2 / 2`, 5x5 depthwise cheap conv.
pub fn ghost_conv(t: &mut Tally, a: &GhostConvArgs, hw: Hw) -> Hw {
    let c_ = a.c2 / 2;
    let out = conv(t, &ConvArgs::new(a.c1, c_, a.k, a.s, a.act).groups(a.g), hw);
    conv(t, &ConvArgs::new(c_, c_, 5, 1, a.act).groups(c_), out);
    out
}

/// Ultralytics `GhostBottleneck(c1, c2, k, s)`.
pub fn ghost_bottleneck(t: &mut Tally, a: &GhostBottleneckArgs, hw: Hw) -> Hw {
    let c_ = a.c2 / 2;
    ghost_conv(
        t,
        &GhostConvArgs {
            c1: a.c1,
            c2: c_,
            k: 1,
            s: 1,
            g: 1,
            act: true,
        },
        hw,
    );
    let out = if a.s == 2 {
        conv(t, &ConvArgs::new(c_, c_, a.k, a.s, false).groups(c_), hw)
    } else {
        identity(t);
        hw
    };
    ghost_conv(
        t,
        &GhostConvArgs {
            c1: c_,
            c2: a.c2,
            k: 1,
            s: 1,
            g: 1,
            act: false,
        },
        out,
    );
    if a.s == 2 {
        conv(
            t,
            &ConvArgs::new(a.c1, a.c1, a.k, a.s, false).groups(a.c1),
            hw,
        );
        conv(t, &ConvArgs::new(a.c1, a.c2, 1, 1, false), out);
    } else {
        identity(t);
    }
    out
}

/// `SPPF(c1, c2, k, n, shortcut)`.
pub fn sppf(t: &mut Tally, a: &SppfArgs, hw: Hw) -> Hw {
    let c_ = a.c1 / 2;
    // With `cv1_act` parse_model replaces cv1's Identity by the shared SiLU.
    conv(t, &ConvArgs::new(a.c1, c_, 1, 1, a.cv1_act), hw);
    conv(t, &ConvArgs::new(c_ * (a.n + 1), a.c2, 1, 1, true), hw);
    identity(t); // the one nn.MaxPool2d, applied n times
    hw
}

/// `Attention(dim, num_heads, attn_ratio)`: qkv/proj/pe convs plus the two attention matmuls.
fn attention(t: &mut Tally, dim: usize, num_heads: usize, attn_ratio: f64, hw: Hw) {
    let head_dim = dim / num_heads;
    let key_dim = hidden_channels(head_dim, attn_ratio);
    let h = dim + 2 * key_dim * num_heads;
    conv(t, &ConvArgs::new(dim, h, 1, 1, false), hw);
    conv(t, &ConvArgs::new(dim, dim, 1, 1, false), hw);
    conv(t, &ConvArgs::new(dim, dim, 3, 1, false).groups(dim), hw);
    // thop's functional matmul rule: output elements x contracted length.
    let n = hw.pixels() as u64;
    let (nh, kd, hd) = (num_heads as u64, key_dim as u64, head_dim as u64);
    let macs = nh * n * n * kd + nh * hd * n * n;
    t.cost += Cost {
        flops_trained: 2 * macs,
        flops_fused: 2 * macs,
        ..Cost::ZERO
    };
}

/// `PSABlock(c, attn_ratio, num_heads)`: attention + FFN (1x1 to 2c, SiLU, 1x1 back).
pub fn psa_block(t: &mut Tally, c: usize, attn_ratio: f64, num_heads: usize, hw: Hw) {
    attention(t, c, num_heads, attn_ratio, hw);
    conv(t, &ConvArgs::new(c, 2 * c, 1, 1, true), hw);
    conv(t, &ConvArgs::new(2 * c, c, 1, 1, false), hw);
}

/// `C2PSA(c1, c2, n, e)`.
pub fn c2psa(t: &mut Tally, a: &C2psaArgs, hw: Hw) -> Hw {
    let c = hidden_channels(a.c1, a.e);
    conv(t, &ConvArgs::new(a.c1, 2 * c, 1, 1, true), hw);
    for _ in 0..a.n {
        psa_block(t, c, 0.5, (c / 64).max(1), hw);
    }
    conv(t, &ConvArgs::new(2 * c, a.c1, 1, 1, true), hw)
}

/// `Detect(nc, reg_max, end2end=False, ch)` on per-level sizes `levels`.
pub fn detect(t: &mut Tally, a: &DetectArgs, levels: &[Hw]) {
    let (c2, c3) = a.hidden();
    for (&x, &hw) in a.ch.iter().zip(levels) {
        conv(t, &ConvArgs::new(x, c2, 3, 1, true), hw);
        conv(t, &ConvArgs::new(c2, c2, 3, 1, true), hw);
        conv2d_bias(t, c2, 4 * a.reg_max, hw);
        if a.legacy {
            conv(t, &ConvArgs::new(x, c3, 3, 1, true), hw);
            conv(t, &ConvArgs::new(c3, c3, 3, 1, true), hw);
        } else {
            conv(t, &ConvArgs::new(x, x, 3, 1, true).groups(x), hw);
            conv(t, &ConvArgs::new(x, c3, 1, 1, true), hw);
            conv(t, &ConvArgs::new(c3, c3, 3, 1, true).groups(c3), hw);
            conv(t, &ConvArgs::new(c3, c3, 1, 1, true), hw);
        }
        conv2d_bias(t, c3, a.nc, hw);
    }
    if a.reg_max > 1 {
        // DFL: a fixed 1x1 conv reg_max -> 1 over (4, anchors); a parameter without gradient,
        // which Ultralytics' parameter count includes.
        let anchors: usize = levels.iter().map(|hw| hw.pixels()).sum();
        t.cost += Cost::conv([1, 4, anchors, 1], a.reg_max, 1, 1, 1, false, false);
        t.leaves += 1;
        t.fused_leaves += 1;
    } else {
        identity(t);
    }
}
