//! GhostNet V1 feature-extractor cost (timm `ghostnet.py` structure, stem to `blocks.9`), as
//! the project's Ultralytics GhostNet module (`tools/ghost_ultralytics.py`) reports it: the SE
//! global pool is an `nn.AdaptiveAvgPool2d(1)` module (thop counts its adds and divides), and
//! `fuse()` folds every GhostNet BatchNorm too, leaving an `nn.Identity` in its place (so the
//! leaf-module count does not change when fused).

use ghost_backbone::config::{STEM_KERNEL, STEM_STRIDE};
use ghost_backbone::{conv_output_len, GhostNetConfig, STAGES};
use ghost_layers::Cost;

use super::tally::{Hw, Tally};

/// A conv + BatchNorm pair of GhostNet (modules: conv, BN, and an activation or Identity
/// module when `act_leaf`).
fn conv_bn(t: &mut Tally, out: [usize; 4], cin: usize, groups: usize, k: usize, act_leaf: bool) {
    t.cost += Cost::conv(out, cin, groups, k, k, false, true);
    let leaves = 2 + usize::from(act_leaf);
    t.leaves += leaves;
    t.fused_leaves += leaves;
}

/// timm `GhostModule(cin, cout, relu)`: primary 1x1 to `ceil(cout / 2)`, cheap 3x3 depthwise.
fn ghost_module(t: &mut Tally, cin: usize, cout: usize, hw: Hw) {
    let init = cout.div_ceil(2);
    conv_bn(t, [1, hw.h, hw.w, init], cin, 1, 1, true);
    conv_bn(t, [1, hw.h, hw.w, init], init, init, 3, true);
}

/// Cost of GhostNet at `width` on an `hw` image, up to `blocks.9` (the stride-32 output).
/// Returns the tally and the four feature sizes (from `ghost-backbone`'s
/// [`GhostNetConfig::feature_shapes`], the sizes the graph runs with).
pub fn ghostnet(width: f64, hw: Hw) -> (Tally, [Hw; 4]) {
    let mut t = Tally::default();
    let conv_out = |hw: Hw, k: usize, s: usize| Hw {
        h: conv_output_len(hw.h, k, s),
        w: conv_output_len(hw.w, k, s),
    };
    let cfg = GhostNetConfig::ultralytics_backbone(width);
    let stem = cfg.stem_channels();
    let mut cur = conv_out(hw, STEM_KERNEL, STEM_STRIDE);
    conv_bn(&mut t, [1, cur.h, cur.w, stem], 3, 1, STEM_KERNEL, true);
    let mut cin = stem;
    for rows in STAGES.iter() {
        for row in rows.iter() {
            let (k, se, s) = (row.kernel, row.se_ratio, row.stride);
            let mid = cfg.channels(row.expand);
            let cout = cfg.channels(row.out);
            ghost_module(&mut t, cin, mid, cur);
            let next = conv_out(cur, k, s);
            if s > 1 {
                conv_bn(&mut t, [1, next.h, next.w, mid], mid, mid, k, false);
            }
            if se > 0.0 {
                let rd = ghost_layers::make_divisible(mid as f64 * se, 4);
                t.cost += Cost::global_avg_pool([1, next.h, next.w, mid]);
                t.cost += Cost::conv([1, 1, 1, rd], mid, 1, 1, 1, true, false);
                t.cost += Cost::conv([1, 1, 1, mid], rd, 1, 1, 1, true, false);
                t.leaves += 5; // avg_pool, conv_reduce, act1, conv_expand, gate
                t.fused_leaves += 5;
            }
            ghost_module(&mut t, mid, cout, next);
            if cin == cout && s == 1 {
                t.leaves += 1; // the empty nn.Sequential shortcut is a leaf module
                t.fused_leaves += 1;
            } else {
                conv_bn(&mut t, [1, next.h, next.w, cin], cin, cin, k, false);
                conv_bn(&mut t, [1, next.h, next.w, cout], cin, 1, 1, false);
            }
            cin = cout;
            cur = next;
        }
    }
    // blocks.9: 1x1 conv 160w -> 960w + BN + ReLU.
    let last = cfg.final_channels();
    conv_bn(&mut t, [1, cur.h, cur.w, last], cin, 1, 1, true);
    let levels = cfg
        .feature_shapes(1, hw.h, hw.w)
        .map(|[_, h, w, _]| Hw { h, w });
    (t, levels)
}
