//! Loading GhostNet the ways a user does: from a timm file, from inside a YOLO checkpoint under a
//! `model.0.` prefix without the classifier head, and with the wrong configuration (typed errors
//! naming the tensor).

use std::path::PathBuf;

use ghost_backbone::{GhostNet, GhostNetConfig};
use ghost_layers::{
    Context, LayerError, MemoryWeights, Prefixed, SafetensorsFile, Tensor, WeightSource,
    WeightsError,
};
use ndarray::{Array4, ArrayD, IxDyn};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/ghostnet")
}

fn c10_file() -> SafetensorsFile {
    SafetensorsFile::open(fixtures().join("ghostnet_050_c10.f32.safetensors")).unwrap()
}

/// Every float tensor of `file`, renamed `{prefix}{name}`, plus one tensor of another layer.
fn yolo_style(file: &SafetensorsFile, prefix: &str) -> MemoryWeights {
    let mut m = MemoryWeights::new("yolo-style checkpoint");
    for name in file.names() {
        if name.ends_with("num_batches_tracked") {
            continue;
        }
        let shape = file.shape_of(&name).unwrap();
        let values = file.load(&name, &shape).unwrap();
        m.insert(format!("{prefix}{name}"), shape, values).unwrap();
    }
    m.insert("model.5.cv1.conv.weight", vec![2, 2, 1, 1], vec![0.0; 4])
        .unwrap();
    m
}

fn read(file: &SafetensorsFile, name: &str) -> ArrayD<f32> {
    let shape = file.shape_of(name).unwrap();
    ArrayD::from_shape_vec(IxDyn(&shape), file.load(name, &shape).unwrap()).unwrap()
}

#[test]
fn backbone_under_a_prefix_matches_timm_features_and_reports_the_unused_head() {
    let weights = yolo_style(&c10_file(), "model.0.");
    let net = GhostNet::load(
        &Prefixed::new(&weights, "model.0"),
        GhostNetConfig::ultralytics_backbone(0.5),
    )
    .unwrap();
    assert_eq!(net.num_classes(), None);
    assert_eq!(net.feature_channels(), [12, 20, 56, 480]);

    let inputs = SafetensorsFile::open(fixtures().join("inputs.safetensors")).unwrap();
    let x: Array4<f32> = read(&inputs, "x2_96x128").into_dimensionality().unwrap();
    let out = net
        .forward(
            &mut Context::single_threaded(),
            &Tensor::from_nchw(x.view()).view(),
        )
        .unwrap();
    assert!(out.logits.is_none());
    let reference =
        SafetensorsFile::open(fixtures().join("ghostnet_050_c10.outputs.safetensors")).unwrap();
    for (name, feature) in ["feat_s4", "feat_s8", "feat_s16", "feat_s32"]
        .iter()
        .zip(&out.features)
    {
        // Ultralytics eps (1e-3); tolerance as in timm_parity.rs.
        let expected = read(&reference, &format!("eps1e-3/x2_96x128/{name}"));
        let ours = feature.to_nchw().into_dyn();
        let scale = expected.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        let err = ours
            .iter()
            .zip(&expected)
            .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
        assert!(err / scale <= 1e-4, "{name}: {}", err / scale);
    }
    assert_eq!(
        weights.unused(),
        vec![
            "model.0.classifier.bias",
            "model.0.classifier.weight",
            "model.0.conv_head.bias",
            "model.0.conv_head.weight",
            "model.5.cv1.conv.weight",
        ]
    );
}

#[test]
fn wrong_width_names_the_first_mismatched_tensor() {
    let err = GhostNet::load(&c10_file(), GhostNetConfig::timm(1.0)).unwrap_err();
    match err {
        LayerError::Weights(WeightsError::Shape {
            name,
            expected,
            found,
            origin,
        }) => {
            assert_eq!(name, "conv_stem.weight");
            assert_eq!(expected, vec![16, 3, 3, 3]);
            assert_eq!(found, vec![8, 3, 3, 3]);
            assert!(origin.ends_with("ghostnet_050_c10.f32.safetensors"));
        }
        other => panic!("expected a shape error, got {other:?}"),
    }
}

#[test]
fn num_classes_comes_from_the_file_and_a_wrong_one_is_an_error() {
    let file = c10_file();
    assert_eq!(
        GhostNet::load(&file, GhostNetConfig::timm(0.5))
            .unwrap()
            .num_classes(),
        Some(10)
    );
    let err = GhostNet::load(&file, GhostNetConfig::timm(0.5).with_num_classes(1000)).unwrap_err();
    assert!(
        matches!(&err, LayerError::Weights(WeightsError::Shape { name, found, .. })
            if name == "classifier.weight" && found == &vec![10, 1280]),
        "{err:?}"
    );
}

#[test]
fn missing_prefix_suggests_the_prefixed_name() {
    let weights = yolo_style(&c10_file(), "model.0.");
    let err = GhostNet::load(&weights, GhostNetConfig::ultralytics_backbone(0.5)).unwrap_err();
    match err {
        LayerError::Weights(WeightsError::Missing { name, similar, .. }) => {
            assert_eq!(name, "conv_stem.weight");
            assert_eq!(similar.as_deref(), Some("model.0.conv_stem.weight"));
        }
        other => panic!("expected a missing tensor, got {other:?}"),
    }
}

#[test]
fn non_rgb_input_is_a_shape_error() {
    let net = GhostNet::load(&c10_file(), GhostNetConfig::timm(0.5)).unwrap();
    let x = Tensor::zeros([1, 32, 32, 4]);
    let err = net
        .forward(&mut Context::single_threaded(), &x.view())
        .unwrap_err();
    assert!(
        matches!(
            err,
            LayerError::Shape {
                operand: "input",
                found: [1, 32, 32, 4],
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn tiny_and_odd_inputs_run() {
    // 1x1 and 33x17 inputs: every stride-2 layer rounds up like PyTorch ((h + 2p - k) / s + 1).
    let net = GhostNet::load(&c10_file(), GhostNetConfig::timm(0.5)).unwrap();
    let mut ctx = Context::single_threaded();
    for (h, w, s32) in [(1, 1, (1, 1)), (33, 17, (2, 1)), (64, 64, (2, 2))] {
        let out = net
            .forward(&mut ctx, &Tensor::zeros([1, h, w, 3]).view())
            .unwrap();
        assert_eq!(out.features[3].shape(), [1, s32.0, s32.1, 480], "{h}x{w}");
        assert!(out.logits.unwrap().all_finite());
    }
}

/// `Context::alloc` hands out recycled buffers without clearing them: every layer must write
/// every element of its output. Poison the pool with NaN buffers of every size the network
/// needs and check the outputs equal a run on a fresh context.
#[test]
fn poisoned_recycled_buffers_never_reach_the_outputs() {
    let net = GhostNet::load(&c10_file(), GhostNetConfig::timm(0.5)).unwrap();
    let x = Tensor::from_nhwc_vec(
        [2, 40, 24, 3],
        (0..2 * 40 * 24 * 3).map(|i| (i % 7) as f32 - 3.0).collect(),
    )
    .unwrap();
    let clean = net
        .forward(&mut Context::single_threaded(), &x.view())
        .unwrap();
    let mut ctx = Context::single_threaded();
    for len in [64, 1 << 10, 1 << 13, 1 << 15, 1 << 17, 1 << 19] {
        ctx.recycle(Tensor::from_nhwc_vec([1, 1, 1, len], vec![f32::NAN; len]).unwrap());
    }
    for _ in 0..2 {
        let out = net.forward(&mut ctx, &x.view()).unwrap();
        assert_eq!(out.logits, clean.logits);
        for (a, b) in out.features.iter().zip(&clean.features) {
            assert!(a.all_finite());
            assert_eq!(a, b);
        }
    }
}
