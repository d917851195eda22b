//! GhostNet V1 against timm 1.0.31 (fixtures/ghostnet, made by tools/make_ghostnet_fixtures.py):
//! logits and the four feature maps, at two BatchNorm eps values, batch 1 and 2, 1 and 2 threads.
//!
//! Tolerance: `max |ours - torch| / max |torch| <= 1e-4` per output. Both sides compute in f32
//! with different summation orders (our GEMM tiles and folded BatchNorms vs PyTorch's own
//! kernels and separate BN). A length-k f32 reduction carries a relative error up to ~k * 2^-24 in
//! the worst case and ~sqrt(k) * 2^-24 typically; the longest reductions here are 9 * 960 (dense
//! 3x3 equivalents) and 1280 (classifier), chained through ~20 layers whose errors add roughly
//! in quadrature. That gives a typical relative error around 1e-6..1e-5 of the output's scale,
//! which the manifest's `f32_vs_f64_max_abs` confirms for torch itself (e.g. 9e-6 of 19.6 for
//! logits). 1e-4 leaves an order of magnitude of margin over that, while staying far below what a
//! real bug produces: the wrong BatchNorm eps alone moves the outputs by 0.03..2 (the manifest's
//! `eps_sensitivity_max_abs`, i.e. 1e-2..1e-1 relative), and this test asserts that too.

use std::path::PathBuf;

use ghost_backbone::{GhostNet, GhostNetConfig};
use ghost_kernels::Threads;
use ghost_layers::{Context, SafetensorsFile, SeededWeights, Tensor, WeightSource};
use ndarray::{Array4, ArrayD, IxDyn};

/// See the module comment.
const REL_TOL: f64 = 1e-4;

const INPUTS: [(&str, [usize; 4]); 2] =
    [("x1_64x64", [1, 3, 64, 64]), ("x2_96x128", [2, 3, 96, 128])];
const EPS: [(&str, f64); 2] = [("eps1e-5", 1e-5), ("eps1e-3", 1e-3)];
const FEATURES: [&str; 4] = ["feat_s4", "feat_s8", "feat_s16", "feat_s32"];

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/ghostnet")
}

fn manifest_model(key: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(fixtures().join("manifest.json"))
        .expect("fixtures/ghostnet/manifest.json");
    let manifest: serde_json::Value = serde_json::from_str(&text).expect("manifest is JSON");
    manifest["models"]
        .as_array()
        .expect("models list")
        .iter()
        .find(|m| m["key"] == key)
        .unwrap_or_else(|| panic!("model {key} not in the manifest"))
        .clone()
}

/// Reads an f32 tensor of any rank from a safetensors file (through our own loader).
fn read(file: &SafetensorsFile, name: &str) -> ArrayD<f32> {
    let shape = file
        .shape_of(name)
        .unwrap_or_else(|| panic!("{name} missing in {}", file.origin()));
    let values = file.load(name, &shape).unwrap();
    ArrayD::from_shape_vec(IxDyn(&shape), values).unwrap()
}

fn input(inputs: &SafetensorsFile, name: &str, shape: [usize; 4]) -> Tensor {
    let a = read(inputs, name);
    assert_eq!(a.shape(), shape);
    let a: Array4<f32> = a.into_dimensionality().unwrap();
    Tensor::from_nchw(a.view())
}

/// `max |ours - reference| / max |reference|`, after checking the shapes agree.
fn rel_error(what: &str, ours: &ArrayD<f32>, reference: &ArrayD<f32>) -> f64 {
    assert_eq!(ours.shape(), reference.shape(), "{what}: shape");
    let scale = reference
        .iter()
        .fold(0.0f64, |m, &v| m.max(f64::from(v).abs()));
    assert!(scale > 0.0, "{what}: reference is all zeros");
    let diff = ours.iter().zip(reference).fold(0.0f64, |m, (&a, &b)| {
        m.max((f64::from(a) - f64::from(b)).abs())
    });
    diff / scale
}

/// The model's outputs as NCHW arrays keyed like the fixture (`logits` is [n, classes]).
fn outputs(net: &GhostNet, threads: usize, x: &Tensor) -> Vec<(&'static str, ArrayD<f32>)> {
    let mut ctx = Context::new(Threads::new(threads).unwrap());
    let out = net.forward(&mut ctx, &x.view()).unwrap();
    let logits = out.logits.expect("classifier head");
    let [n, _, _, classes] = logits.shape();
    let mut result = vec![(
        "logits",
        ArrayD::from_shape_vec(IxDyn(&[n, classes]), logits.to_dense_vec()).unwrap(),
    )];
    for (name, f) in FEATURES.iter().zip(&out.features) {
        result.push((name, f.to_nchw().into_dyn()));
    }
    result
}

fn check_model(key: &str, weights: &dyn WeightSource, num_classes: Option<usize>) {
    let meta = manifest_model(key);
    let width = meta["width"].as_f64().unwrap();
    let classes = meta["num_classes"].as_u64().map(|n| n as usize);
    let reference =
        SafetensorsFile::open(fixtures().join(format!("{key}.outputs.safetensors"))).unwrap();
    check_against(key, &reference, "", width, weights, num_classes, classes);
}

/// Runs every (eps, input, threads) combination of a GhostNet at `width` against the outputs
/// stored under `{prefix}{eps}/{input}/{output}` in `reference`.
fn check_against(
    label: &str,
    reference: &SafetensorsFile,
    prefix: &str,
    width: f64,
    weights: &dyn WeightSource,
    num_classes: Option<usize>,
    expected_classes: Option<usize>,
) {
    let inputs = SafetensorsFile::open(fixtures().join("inputs.safetensors")).unwrap();
    let mut worst: Vec<(String, f64)> = Vec::new();
    for (eps_key, eps) in EPS {
        let mut config = GhostNetConfig::timm(width).with_eps(eps);
        config.num_classes = num_classes;
        let net = GhostNet::load(weights, config).unwrap();
        assert_eq!(net.num_classes(), expected_classes);
        for (input_key, shape) in INPUTS {
            let x = input(&inputs, input_key, shape);
            let single = outputs(&net, 1, &x);
            let double = outputs(&net, 2, &x);
            for ((name, ours), (_, ours2)) in single.iter().zip(&double) {
                let what = format!("{label} {eps_key}/{input_key}/{name}");
                assert!(
                    ours.iter()
                        .zip(ours2)
                        .all(|(a, b)| a.to_bits() == b.to_bits()),
                    "{what}: 1 and 2 threads differ"
                );
                let expected = read(reference, &format!("{prefix}{eps_key}/{input_key}/{name}"));
                let err = rel_error(&what, ours, &expected);
                assert!(
                    err <= REL_TOL,
                    "{what}: relative error {err:.3e} > {REL_TOL:e}"
                );
                // The other eps's reference must be clearly rejected at this tolerance, or the
                // test could not tell a wrong eps from a right one.
                let other_eps = if eps_key == "eps1e-5" {
                    "eps1e-3"
                } else {
                    "eps1e-5"
                };
                let other = read(
                    reference,
                    &format!("{prefix}{other_eps}/{input_key}/{name}"),
                );
                let err_other = rel_error(&what, ours, &other);
                assert!(
                    err_other > 10.0 * REL_TOL,
                    "{what}: indistinguishable from {other_eps} ({err_other:.3e})"
                );
                worst.push((what, err));
            }
        }
    }
    for (what, err) in &worst {
        println!("{what}: max|ours - torch| / max|torch| = {err:.2e}");
    }
    let unused = weights.unused();
    assert!(
        unused.is_empty(),
        "{label}: tensors never loaded: {unused:?}"
    );
}

#[test]
fn ghostnet_100_f16_file_matches_timm() {
    let weights = SafetensorsFile::open(fixtures().join("ghostnet_100.f16.safetensors")).unwrap();
    check_model("ghostnet_100", &weights, None);
}

#[test]
fn ghostnet_050_bf16_file_matches_timm() {
    let weights = SafetensorsFile::open(fixtures().join("ghostnet_050.bf16.safetensors")).unwrap();
    check_model("ghostnet_050", &weights, None);
}

#[test]
fn ghostnet_050_10_classes_f32_file_matches_timm() {
    let weights =
        SafetensorsFile::open(fixtures().join("ghostnet_050_c10.f32.safetensors")).unwrap();
    check_model("ghostnet_050_c10", &weights, None);
}

#[test]
fn ghostnet_130_seeded_matches_timm() {
    let meta = manifest_model("ghostnet_130");
    let seed = meta["global_seed"].as_u64().unwrap();
    let weights = SeededWeights::new(seed);
    check_model(
        "ghostnet_130",
        &weights,
        Some(meta["num_classes"].as_u64().unwrap() as usize),
    );
}

/// Widths 0.25, 0.75 and 1.1 (channel counts such as 4, 12, 20, 28, 44, 124 that are not
/// multiples of 8), from crates/ghost-backbone/tests/data/make_width_fixtures.py.
#[test]
fn other_widths_seeded_match_timm() {
    let data = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/ghostnet_widths.outputs.safetensors");
    let reference = SafetensorsFile::open(data).unwrap();
    for width in [0.25, 0.75, 1.1] {
        let tag = (width * 100.0f64).round() as u64;
        let weights = SeededWeights::new(0x6057_0000 + tag);
        check_against(
            &format!("width {width}"),
            &reference,
            &format!("w{tag}/"),
            width,
            &weights,
            Some(1000),
            Some(1000),
        );
    }
}
