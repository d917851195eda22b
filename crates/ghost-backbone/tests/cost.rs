//! GhostNet parameter and FLOP counts against Ultralytics' counter (ultralytics-thop 2.2.3, the
//! `thop.profile` that `ultralytics.utils.torch_utils.get_flops` calls) run on timm 1.0.31
//! GhostNets. Reference numbers printed by:
//!
//! ```python
//! import torch, timm
//! from torch import nn
//! from thop.profile import profile
//! for width, (h, w), n in [(1.0, (224, 224), 1), (0.5, (224, 224), 1), (1.3, (256, 192), 1), (0.25, (96, 160), 2)]:
//!     m = timm.models.ghostnet._create_ghostnet("ghostnet_100", width=width, pretrained=False).eval()
//!     im = torch.empty(n, 3, h, w)
//!     ops, params = profile(m, inputs=[im], verbose=False)
//!     # BN folded: BatchNorms count zero; each BN's gamma/beta become one conv bias.
//!     ops_fused, _ = profile(m, inputs=[im], verbose=False, custom_ops={nn.BatchNorm2d: lambda m, x, y: None})
//!     bn_ch = sum(b.num_features for b in m.modules() if isinstance(b, nn.BatchNorm2d))
//!     print(width, h, w, n, int(ops), int(ops_fused), int(params), int(params) - bn_ch)
//! ```
//!
//! FLOPs are 2 x thop's ops (what `get_flops` reports). The counts are exact integers, so the
//! comparison is exact.

use ghost_backbone::{GhostNet, GhostNetConfig};
use ghost_layers::SeededWeights;

struct Expected {
    width: f64,
    input_nhwc: [usize; 4],
    ops: u64,
    ops_fused: u64,
    params: u64,
    params_fused: u64,
}

const CASES: [Expected; 4] = [
    Expected {
        width: 1.0,
        input_nhwc: [1, 224, 224, 3],
        ops: 155_351_280,
        ops_fused: 141_198_512,
        params: 5_182_508,
        params_fused: 5_171_524,
    },
    Expected {
        width: 0.5,
        input_nhwc: [1, 224, 224, 3],
        ops: 49_428_536,
        ops_fused: 42_352_152,
        params: 2_587_292,
        params_fused: 2_581_800,
    },
    Expected {
        width: 1.3,
        input_nhwc: [1, 256, 192, 3],
        ops: 240_517_984,
        ops_fused: 222_542_176,
        params: 7_358_820,
        params_fused: 7_344_552,
    },
    Expected {
        width: 0.25,
        input_nhwc: [2, 96, 160, 3],
        ops: 13_985_760,
        ops_fused: 11_715_840,
        params: 1_776_146,
        params_fused: 1_773_370,
    },
];

#[test]
fn cost_table_matches_thop_exactly() {
    for e in CASES {
        let net = GhostNet::load(
            &SeededWeights::new(1),
            GhostNetConfig::timm(e.width).with_num_classes(1000),
        )
        .unwrap();
        let table = net.cost_table(e.input_nhwc).unwrap();
        let total = table.total();
        let what = format!("width {} input {:?}", e.width, e.input_nhwc);
        assert_eq!(total.flops_trained, 2 * e.ops, "{what}: FLOPs as trained");
        assert_eq!(total.flops_fused, 2 * e.ops_fused, "{what}: FLOPs fused");
        assert_eq!(total.params_trained, e.params, "{what}: params as trained");
        assert_eq!(total.params_fused, e.params_fused, "{what}: params fused");
        // stem + 16 bottlenecks + final conv + pool + conv_head + classifier
        assert_eq!(table.rows.len(), 1 + 16 + 1 + 3, "{what}");
    }
}

#[test]
fn cost_table_prints_one_line_per_layer() {
    let net = GhostNet::load(
        &SeededWeights::new(1),
        GhostNetConfig::timm(1.0).with_num_classes(1000),
    )
    .unwrap();
    let table = net.cost_table([1, 224, 224, 3]).unwrap();
    let text = table.to_string();
    println!("{text}");
    assert_eq!(text.lines().count(), table.rows.len() + 2);
    assert!(text.contains("blocks.6.4") && text.contains("classifier"));
}

/// The project's Ultralytics GhostNet module (`tools/ghost_ultralytics.py`: same structure and
/// names, no classifier head, SE pooling as an `nn.AdaptiveAvgPool2d` module that thop counts),
/// at the YOLO input size. Reference numbers printed by:
///
/// ```python
/// import sys; sys.path.insert(0, "tools")
/// import fixture_common, torch
/// from torch import nn
/// from thop.profile import profile
/// from ghost_ultralytics import GhostNet
/// for width, (h, w), n in [(1.0, (640, 640), 1), (0.25, (640, 640), 1), (0.5, (96, 160), 2)]:
///     m = GhostNet(width).eval()
///     im = torch.empty(n, 3, h, w)
///     ops, params = profile(m, inputs=[im], verbose=False)
///     ops_fused, _ = profile(m, inputs=[im], verbose=False, custom_ops={nn.BatchNorm2d: lambda m, x, y: None})
///     bn_ch = sum(b.num_features for b in m.modules() if isinstance(b, nn.BatchNorm2d))
///     print(width, h, w, n, int(ops), int(ops_fused), int(params), int(params) - bn_ch)
/// ```
#[test]
fn ultralytics_backbone_cost_matches_thop_exactly() {
    let cases = [
        Expected {
            width: 1.0,
            input_nhwc: [1, 640, 640, 3],
            ops: 1_240_677_280,
            ops_fused: 1_125_144_480,
            params: 2_671_428,
            params_fused: 2_660_444,
        },
        Expected {
            width: 0.25,
            input_nhwc: [1, 640, 640, 3],
            ops: 142_647_068,
            ops_fused: 112_381_468,
            params: 186_666,
            params_fused: 183_890,
        },
        Expected {
            width: 0.5,
            input_nhwc: [2, 96, 160, 3],
            ops: 29_766_096,
            ops_fused: 25_433_616,
            params: 690_612,
            params_fused: 685_120,
        },
    ];
    for e in cases {
        let net = GhostNet::load(
            &SeededWeights::new(1),
            GhostNetConfig::ultralytics_backbone(e.width),
        )
        .unwrap();
        let total = net.cost_table_ultralytics(e.input_nhwc).unwrap().total();
        let what = format!("width {} input {:?}", e.width, e.input_nhwc);
        assert_eq!(total.flops_trained, 2 * e.ops, "{what}: FLOPs as trained");
        assert_eq!(total.flops_fused, 2 * e.ops_fused, "{what}: FLOPs fused");
        assert_eq!(total.params_trained, e.params, "{what}: params as trained");
        assert_eq!(total.params_fused, e.params_fused, "{what}: params fused");
    }
}
