//! Layers against a naive f64 composition of PyTorch semantics (tests/reference): every kernel
//! path of ConvBnAct, Ghost modules with odd output widths written into strided views, SE,
//! Ghost bottlenecks of every shortcut kind, and the typed errors.

mod reference;

use ghost_kernels::{Activation, AddOrder, NhwcLayout, Residual, TensorViewMut, Threads};
use ghost_layers::{
    Context, ConvBnAct, ConvBnNames, ConvSpec, Cost, GhostBottleneck, GhostBottleneckSpec,
    GhostModule, Layer, LayerError, MemoryWeights, SeededWeights, SqueezeExcite, Tensor,
    WeightSource, WeightsError, EPS_TIMM, EPS_ULTRALYTICS,
};
use reference::{assert_close, Map};

const SEED: u64 = 0x5eed_1a7e;

fn contexts() -> [Context; 2] {
    [
        Context::single_threaded(),
        Context::new(Threads::new(2).unwrap()),
    ]
}

struct ConvCase {
    cin: usize,
    cout: usize,
    k: usize,
    stride: usize,
    groups: usize,
    bias: bool,
    bn: bool,
    act: Activation,
    kernel: &'static str,
}

#[test]
fn conv_bn_act_matches_unfolded_reference_on_every_kernel_path() {
    let cases = [
        ConvCase {
            cin: 5,
            cout: 7,
            k: 1,
            stride: 1,
            groups: 1,
            bias: false,
            bn: true,
            act: Activation::Relu,
            kernel: "pointwise",
        },
        ConvCase {
            cin: 21,
            cout: 19,
            k: 1,
            stride: 1,
            groups: 1,
            bias: true,
            bn: true,
            act: Activation::Silu,
            kernel: "pointwise",
        },
        ConvCase {
            cin: 6,
            cout: 6,
            k: 3,
            stride: 1,
            groups: 6,
            bias: false,
            bn: true,
            act: Activation::Identity,
            kernel: "depthwise",
        },
        ConvCase {
            cin: 12,
            cout: 12,
            k: 5,
            stride: 2,
            groups: 12,
            bias: false,
            bn: true,
            act: Activation::Relu,
            kernel: "depthwise",
        },
        ConvCase {
            cin: 3,
            cout: 8,
            k: 3,
            stride: 2,
            groups: 1,
            bias: false,
            bn: true,
            act: Activation::Relu,
            kernel: "dense",
        },
        ConvCase {
            cin: 4,
            cout: 5,
            k: 3,
            stride: 1,
            groups: 1,
            bias: true,
            bn: false,
            act: Activation::Silu,
            kernel: "dense",
        },
        ConvCase {
            cin: 16,
            cout: 19,
            k: 3,
            stride: 1,
            groups: 1,
            bias: false,
            bn: true,
            act: Activation::Silu,
            kernel: "winograd",
        },
        ConvCase {
            cin: 9,
            cout: 3,
            k: 1,
            stride: 2,
            groups: 1,
            bias: false,
            bn: true,
            act: Activation::HardSigmoid,
            kernel: "dense",
        },
    ];
    let weights = SeededWeights::new(SEED);
    for (ci, case) in cases.iter().enumerate() {
        for eps in [EPS_TIMM, EPS_ULTRALYTICS] {
            let names = if case.bn {
                ConvBnNames::ultralytics(&format!("m.{ci}"))
            } else {
                ConvBnNames::conv_only(format!("m.{ci}.conv"))
            };
            let spec = ConvSpec::new(case.cin, case.cout, case.k)
                .stride(case.stride)
                .groups(case.groups)
                .bias(case.bias)
                .act(case.act);
            let layer = ConvBnAct::load(&weights, &names, spec, eps).unwrap();
            assert_eq!(layer.kernel_kind(), case.kernel, "case {ci}");
            // `load` applies the BatchNorm while packing; folding a copy first must pack the
            // very same layer.
            let folded = ConvBnAct::load_folded(&weights, &names, &spec, eps).unwrap();
            let from_folded = ConvBnAct::from_folded(names.layer_name(), spec, &folded).unwrap();
            let x = reference::input([2, 7, 5, case.cin], ci as u64);
            let xm = Map::from_tensor(&x);
            let w = weights
                .load(&format!("{}.weight", names.conv), &spec.weight_shape())
                .unwrap();
            let b = case.bias.then(|| {
                weights
                    .load(&format!("{}.bias", names.conv), &[case.cout])
                    .unwrap()
            });
            let mut r = reference::conv(
                &xm,
                &w,
                b.as_deref(),
                case.cout,
                case.groups,
                case.k,
                case.stride,
                case.k / 2,
            );
            if let Some(bn) = &names.bn {
                r = reference::batch_norm(
                    &r,
                    &ghost_layers::BatchNorm::load(&weights, bn, case.cout, eps).unwrap(),
                );
            }
            let r = reference::act(&r, case.act);
            let terms = case.cin / case.groups * case.k * case.k + 2;
            for mut ctx in contexts() {
                let out = layer.forward(&mut ctx, &x.view()).unwrap();
                assert_close(&format!("case {ci} eps {eps}"), &out, &r, terms);
                let again = from_folded.forward(&mut ctx, &x.view()).unwrap();
                assert_eq!(
                    out.to_dense_vec(),
                    again.to_dense_vec(),
                    "case {ci} eps {eps}: folded at packing vs before"
                );
            }
        }
    }
}

/// The bound of `assert_close` is tight enough to notice the wrong BatchNorm eps.
#[test]
fn reference_bound_rejects_the_wrong_eps() {
    let weights = SeededWeights::new(SEED);
    let spec = ConvSpec::new(6, 6, 3).groups(6);
    let names = ConvBnNames::ultralytics("eps");
    let layer = ConvBnAct::load(&weights, &names, spec, EPS_ULTRALYTICS).unwrap();
    let x = reference::input([1, 6, 6, 6], 3);
    let wrong = reference::conv_bn_act(
        &weights,
        "eps.conv",
        "eps.bn",
        &Map::from_tensor(&x),
        6,
        6,
        3,
        1,
        1,
        EPS_TIMM,
        Activation::Identity,
    );
    let out = layer
        .forward(&mut Context::single_threaded(), &x.view())
        .unwrap();
    let result = std::panic::catch_unwind(|| assert_close("wrong eps", &out, &wrong, 11));
    assert!(result.is_err(), "eps 1e-3 vs 1e-5 must exceed the bound");
}

/// A fresh buffer of `pixels * stride` NaNs and a view of `c` channels at `offset`, to catch
/// writes outside the view's channel range.
fn nan_buffer(shape: [usize; 4], stride: usize, offset: usize) -> (Vec<f32>, NhwcLayout) {
    let [n, h, w, c] = shape;
    (
        vec![f32::NAN; n * h * w * stride],
        NhwcLayout {
            n,
            h,
            w,
            c,
            pixel_stride: stride,
            channel_offset: offset,
        },
    )
}

fn check_gaps(buffer: &[f32], layout: &NhwcLayout) {
    for (i, v) in buffer.iter().enumerate() {
        let ch = i % layout.pixel_stride;
        let inside = ch >= layout.channel_offset && ch < layout.channel_offset + layout.c;
        assert_eq!(
            inside,
            !v.is_nan(),
            "buffer index {i} (channel slot {ch}) inside = {inside}, value {v}"
        );
    }
}

#[test]
fn ghost_module_with_odd_widths_matches_concat_then_slice() {
    let weights = SeededWeights::new(SEED);
    // (cin, oup, relu): odd oup keeps one channel fewer of the cheap op than it computes.
    for (mi, (cin, oup, relu)) in [
        (5, 7, true),
        (4, 9, false),
        (16, 16, true),
        (3, 1, true),
        (8, 2, false),
    ]
    .into_iter()
    .enumerate()
    {
        let prefix = format!("g{mi}");
        let module = GhostModule::load(&weights, &prefix, cin, oup, relu, EPS_TIMM).unwrap();
        assert_eq!(module.init_channels(), oup.div_ceil(2));
        let x = reference::input([2, 6, 5, cin], 10 + mi as u64);
        let r = reference::ghost_module(
            &weights,
            &prefix,
            &Map::from_tensor(&x),
            oup,
            relu,
            EPS_TIMM,
        );
        // 1x1 over cin, then a 3x3 depthwise over that.
        let terms = cin + 9 + 4;
        for mut ctx in contexts() {
            let dense = module.forward(&mut ctx, &x.view()).unwrap();
            assert_close(&format!("{prefix} dense"), &dense, &r, terms);

            // Into channels [2, 2 + oup) of a wider NaN-filled buffer.
            let (mut buffer, layout) = nan_buffer([2, 6, 5, oup], oup + 5, 2);
            let mut view = TensorViewMut::new(&mut buffer, layout).unwrap();
            module
                .forward_into(&mut ctx, &x.view(), &mut view, None)
                .unwrap();
            check_gaps(&buffer, &layout);
            let strided = Tensor::from_parts(buffer, layout).unwrap();
            assert_eq!(
                strided.to_dense_vec(),
                dense.to_dense_vec(),
                "{prefix}: strided output differs"
            );
        }
    }
}

#[test]
fn ghost_module_fused_residual_equals_separate_add() {
    let weights = SeededWeights::new(SEED);
    let (cin, oup) = (6, 11);
    let module = GhostModule::load(&weights, "res", cin, oup, false, EPS_TIMM).unwrap();
    let x = reference::input([1, 5, 7, cin], 21);
    let residual = reference::input([1, 5, 7, oup], 22);
    let r = reference::add(
        &reference::ghost_module(&weights, "res", &Map::from_tensor(&x), oup, false, EPS_TIMM),
        &Map::from_tensor(&residual),
    );
    let mut ctx = Context::single_threaded();
    let mut out = Tensor::zeros([1, 5, 7, oup]);
    module
        .forward_into(
            &mut ctx,
            &x.view(),
            &mut out.view_mut(),
            Some(&residual.view()),
        )
        .unwrap();
    assert_close("ghost + residual", &out, &r, cin + 9 + 4);
}

#[test]
fn squeeze_excite_matches_reference() {
    let weights = SeededWeights::new(SEED);
    for (channels, ratio, reduced) in [(10, 0.25, 4), (72, 0.25, 20), (30, 0.25, 8)] {
        let prefix = format!("se{channels}");
        let se = SqueezeExcite::load(&weights, &prefix, channels, ratio).unwrap();
        assert_eq!(
            se.reduced_channels(),
            reduced,
            "make_divisible({channels} * {ratio}, 4)"
        );
        let x = reference::input([2, 5, 3, channels], channels as u64);
        let r = reference::squeeze_excite(&weights, &prefix, &Map::from_tensor(&x), reduced);
        for mut ctx in contexts() {
            let mut y = x.clone();
            se.forward_inplace(&mut ctx, &mut y.view_mut()).unwrap();
            assert_close(&prefix, &y, &r, 15 + channels + reduced);
        }
    }
}

/// timm `GhostBottleneck` written out from the reference pieces.
fn bottleneck_reference(
    weights: &dyn WeightSource,
    p: &str,
    x: &Map,
    s: &GhostBottleneckSpec,
    reduced: usize,
) -> Map {
    let pad = (s.dw_kernel - 1) / 2;
    let mut h = reference::ghost_module(weights, &format!("{p}.ghost1"), x, s.mid, true, EPS_TIMM);
    if s.stride > 1 {
        h = reference::conv_bn_act(
            weights,
            &format!("{p}.conv_dw"),
            &format!("{p}.bn_dw"),
            &h,
            s.mid,
            s.mid,
            s.dw_kernel,
            s.stride,
            pad,
            EPS_TIMM,
            Activation::Identity,
        );
    }
    if s.se_ratio > 0.0 {
        h = reference::squeeze_excite(weights, &format!("{p}.se"), &h, reduced);
    }
    let y = reference::ghost_module(weights, &format!("{p}.ghost2"), &h, s.cout, false, EPS_TIMM);
    let shortcut = if s.cin == s.cout && s.stride == 1 {
        x.clone()
    } else {
        let d = reference::conv_bn_act(
            weights,
            &format!("{p}.shortcut.0"),
            &format!("{p}.shortcut.1"),
            x,
            s.cin,
            s.cin,
            s.dw_kernel,
            s.stride,
            pad,
            EPS_TIMM,
            Activation::Identity,
        );
        reference::conv_bn_act(
            weights,
            &format!("{p}.shortcut.2"),
            &format!("{p}.shortcut.3"),
            &d,
            s.cout,
            1,
            1,
            1,
            0,
            EPS_TIMM,
            Activation::Identity,
        )
    };
    reference::add(&y, &shortcut)
}

#[test]
fn ghost_bottleneck_matches_reference_for_every_shortcut_kind() {
    let weights = SeededWeights::new(SEED);
    let specs = [
        // identity shortcut
        (
            GhostBottleneckSpec {
                cin: 8,
                mid: 20,
                cout: 8,
                dw_kernel: 3,
                stride: 1,
                se_ratio: 0.0,
            },
            0,
        ),
        // stride 2, SE, conv shortcut, odd spatial size
        (
            GhostBottleneckSpec {
                cin: 8,
                mid: 22,
                cout: 12,
                dw_kernel: 5,
                stride: 2,
                se_ratio: 0.25,
            },
            8,
        ),
        // stride 1 with a width change: conv shortcut at stride 1
        (
            GhostBottleneckSpec {
                cin: 6,
                mid: 10,
                cout: 10,
                dw_kernel: 3,
                stride: 1,
                se_ratio: 0.25,
            },
            4,
        ),
        // odd widths everywhere
        (
            GhostBottleneckSpec {
                cin: 7,
                mid: 13,
                cout: 9,
                dw_kernel: 3,
                stride: 2,
                se_ratio: 0.0,
            },
            0,
        ),
    ];
    for (bi, (spec, reduced)) in specs.into_iter().enumerate() {
        let prefix = format!("blocks.{bi}.0");
        let block = GhostBottleneck::load(&weights, &prefix, spec, EPS_TIMM).unwrap();
        let x = reference::input([2, 9, 7, spec.cin], 30 + bi as u64);
        let r = bottleneck_reference(&weights, &prefix, &Map::from_tensor(&x), &spec, reduced);
        let terms = spec.cin
            + 9
            + spec.dw_kernel * spec.dw_kernel
            + 2 * spec.mid
            + reduced
            + spec.mid
            + 9
            + 10;
        let mut outputs = Vec::new();
        for mut ctx in contexts() {
            let out = block.forward(&mut ctx, &x.view()).unwrap();
            assert_close(&prefix, &out, &r, terms);
            outputs.push(out);
        }
        assert_eq!(outputs[0], outputs[1], "{prefix}: 1 and 2 threads differ");
        assert_eq!(block.output_shape(x.shape()).unwrap(), r.shape);
    }
}

#[test]
fn residual_epilogue_orders_are_applied() {
    let weights = SeededWeights::new(SEED);
    let layer = ConvBnAct::load(
        &weights,
        &ConvBnNames::ultralytics("r"),
        ConvSpec::new(4, 6, 1).act(Activation::Relu),
        EPS_ULTRALYTICS,
    )
    .unwrap();
    let x = reference::input([1, 3, 3, 4], 40);
    let res = reference::input([1, 3, 3, 6], 41);
    let base = reference::conv_bn_act(
        &weights,
        "r.conv",
        "r.bn",
        &Map::from_tensor(&x),
        6,
        1,
        1,
        1,
        0,
        EPS_ULTRALYTICS,
        Activation::Identity,
    );
    let rm = Map::from_tensor(&res);
    let after = reference::add(&reference::act(&base, Activation::Relu), &rm);
    let before = reference::act(&reference::add(&base, &rm), Activation::Relu);
    let mut ctx = Context::single_threaded();
    for (order, r) in [
        (AddOrder::AfterActivation, after),
        (AddOrder::BeforeActivation, before),
    ] {
        let mut out = Tensor::zeros([1, 3, 3, 6]);
        layer
            .forward_into(
                &mut ctx,
                &x.view(),
                &mut out.view_mut(),
                Some(Residual {
                    view: res.view(),
                    order,
                }),
            )
            .unwrap();
        assert_close(&format!("{order:?}"), &out, &r, 8);
    }
}

#[test]
fn wrong_input_channels_name_the_layer() {
    let weights = SeededWeights::new(SEED);
    let block = GhostBottleneck::load(
        &weights,
        "blocks.1.0",
        GhostBottleneckSpec {
            cin: 8,
            mid: 16,
            cout: 8,
            dw_kernel: 3,
            stride: 1,
            se_ratio: 0.0,
        },
        EPS_TIMM,
    )
    .unwrap();
    let x = Tensor::zeros([1, 4, 4, 7]);
    let err = block
        .forward(&mut Context::single_threaded(), &x.view())
        .unwrap_err();
    match err {
        LayerError::Shape {
            layer,
            operand,
            found,
            ..
        } => {
            assert!(layer.starts_with("blocks.1.0.ghost1"), "{layer}");
            assert_eq!(operand, "input");
            assert_eq!(found, [1, 4, 4, 7]);
        }
        other => panic!("expected a shape error, got {other:?}"),
    }
}

#[test]
fn wrong_output_view_is_an_error() {
    let weights = SeededWeights::new(SEED);
    let layer = ConvBnAct::load(
        &weights,
        &ConvBnNames::ultralytics("o"),
        ConvSpec::new(3, 4, 3).stride(2),
        EPS_TIMM,
    )
    .unwrap();
    let x = Tensor::zeros([1, 5, 5, 3]);
    let mut out = Tensor::zeros([1, 5, 5, 4]);
    let err = layer
        .forward_into(
            &mut Context::single_threaded(),
            &x.view(),
            &mut out.view_mut(),
            None,
        )
        .unwrap_err();
    assert!(
        matches!(
            err,
            LayerError::Shape {
                operand: "output",
                found: [1, 5, 5, 4],
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn unsupported_groups_are_a_config_error() {
    let weights = SeededWeights::new(SEED);
    let err = ConvBnAct::load(
        &weights,
        &ConvBnNames::ultralytics("g"),
        ConvSpec::new(8, 8, 3).groups(2),
        EPS_TIMM,
    )
    .unwrap_err();
    assert!(matches!(err, LayerError::Config { .. }), "{err:?}");
}

#[test]
fn missing_batchnorm_tensor_is_a_weights_error() {
    let mut m = MemoryWeights::new("partial");
    m.insert("c.conv.weight", vec![4, 3, 1, 1], vec![0.1; 12])
        .unwrap();
    m.insert("c.bn.weight", vec![4], vec![1.0; 4]).unwrap();
    m.insert("c.bn.bias", vec![4], vec![0.0; 4]).unwrap();
    m.insert("c.bn.running_mean", vec![4], vec![0.0; 4])
        .unwrap();
    let err = ConvBnAct::load(
        &m,
        &ConvBnNames::ultralytics("c"),
        ConvSpec::new(3, 4, 1),
        EPS_TIMM,
    )
    .unwrap_err();
    assert!(
        matches!(&err, LayerError::Weights(WeightsError::Missing { name, .. }) if name == "c.bn.running_var"),
        "{err:?}"
    );
    // Wrong conv shape: expected vs found.
    let err = ConvBnAct::load(
        &m,
        &ConvBnNames::ultralytics("c"),
        ConvSpec::new(4, 3, 1),
        EPS_TIMM,
    )
    .unwrap_err();
    assert!(
        matches!(&err, LayerError::Weights(WeightsError::Shape { expected, found, .. })
            if expected == &vec![3, 4, 1, 1] && found == &vec![4, 3, 1, 1]),
        "{err:?}"
    );
}

#[test]
fn ghost_module_cost_counts_the_full_cheap_operation() {
    let weights = SeededWeights::new(SEED);
    // oup 7: init 4; PyTorch's cheap op makes 4 channels (one is sliced away).
    let module = GhostModule::load(&weights, "c", 5, 7, true, EPS_TIMM).unwrap();
    let cost = module.cost([1, 6, 5, 5]).unwrap();
    let px = 6 * 5;
    let primary_macs = px * 4 * 5;
    let cheap_macs = px * 4 * 9;
    let bn_ops = 4 * (px * 4) * 2;
    assert_eq!(cost.flops_fused, 2 * (primary_macs + cheap_macs) as u64);
    assert_eq!(cost.flops_trained, cost.flops_fused + 2 * bn_ops as u64);
    assert_eq!(cost.params_trained, (4 * 5 + 2 * 4 + 4 * 9 + 2 * 4) as u64);
    assert_eq!(cost.params_fused, (4 * 5 + 4 + 4 * 9 + 4) as u64);
    let _ = Cost::ZERO;
}

mod random_shapes {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

        /// ConvBnAct over random geometry (every kernel path, odd sizes, k > input) against the
        /// un-folded f64 reference.
        #[test]
        fn conv_bn_act_any_geometry(
            cin in 1usize..20,
            cout in 1usize..20,
            k in prop::sample::select(vec![1usize, 3, 5]),
            stride in 1usize..3,
            depthwise in any::<bool>(),
            n in 1usize..3,
            h in 1usize..10,
            w in 1usize..10,
            act in prop::sample::select(Activation::ALL.to_vec()),
            seed in any::<u64>(),
        ) {
            let cout = if depthwise { cin } else { cout };
            let groups = if depthwise { cin } else { 1 };
            let weights = SeededWeights::new(seed);
            let spec = ConvSpec::new(cin, cout, k).stride(stride).groups(groups).act(act);
            let layer = ConvBnAct::load(&weights, &ConvBnNames::ultralytics("p"), spec, EPS_ULTRALYTICS).unwrap();
            let x = reference::input([n, h, w, cin], seed ^ 1);
            let r = reference::conv_bn_act(&weights, "p.conv", "p.bn", &Map::from_tensor(&x), cout, groups, k, stride, k / 2, EPS_ULTRALYTICS, act);
            let out = layer.forward(&mut Context::single_threaded(), &x.view()).unwrap();
            assert_close("random conv", &out, &r, cin / groups * k * k + 2);
        }

        /// Ghost modules of any width, written into a strided view.
        #[test]
        fn ghost_module_any_width(cin in 1usize..24, oup in 1usize..24, relu in any::<bool>(), h in 1usize..8, w in 1usize..8, seed in any::<u64>()) {
            let weights = SeededWeights::new(seed);
            let module = GhostModule::load(&weights, "gm", cin, oup, relu, EPS_TIMM).unwrap();
            let x = reference::input([1, h, w, cin], seed ^ 2);
            let r = reference::ghost_module(&weights, "gm", &Map::from_tensor(&x), oup, relu, EPS_TIMM);
            let (mut buffer, layout) = nan_buffer([1, h, w, oup], oup + 3, 1);
            let mut view = TensorViewMut::new(&mut buffer, layout).unwrap();
            module.forward_into(&mut Context::single_threaded(), &x.view(), &mut view, None).unwrap();
            check_gaps(&buffer, &layout);
            assert_close("random ghost module", &Tensor::from_parts(buffer, layout).unwrap(), &r, cin + 13);
        }
    }
}
