//! `yolo11_ghost::quantize` on the embedded default model, calibrated on a few images of the
//! shipped shapes split: the file it writes is an ordinary safetensors file (I8 conv weights,
//! F32 scales / zero points / biases, the FP32 file's metadata plus `quantization`) that
//! `Detector::from_weights` loads and runs on the INT8 kernels, finding what the FP32 model
//! finds; and it never overwrites or re-quantizes its input. (Accuracy on the 400-image held-out
//! split is measured in docs/int8.md: mAP50-95 0.7651 vs 0.7654 FP32 with the default rule.)

use std::path::PathBuf;

use ghost_layers::{SafetensorsFile, WeightSource};
use yolo11_ghost::detector::{Detector, DetectorOptions, WeightsChoice};
use yolo11_ghost::quantize::{
    quantize, Fp32Rule, LayerDecision, QuantizeError, QuantizeOptions, NARROW_CHANNELS,
};
use yolo11_ghost::val::Dataset;

fn repo(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path)
}

fn options() -> QuantizeOptions {
    QuantizeOptions {
        images: 8,
        threads: Some(2),
        ..QuantizeOptions::default()
    }
}

fn iou(a: &yolo11_ghost::postprocess::Detection, b: &yolo11_ghost::postprocess::Detection) -> f32 {
    let w = (a.x2.min(b.x2) - a.x1.max(b.x1)).max(0.0);
    let h = (a.y2.min(b.y2) - a.y1.max(b.y1)).max(0.0);
    let inter = w * h;
    inter / ((a.x2 - a.x1) * (a.y2 - a.y1) + (b.x2 - b.x1) * (b.y2 - b.y1) - inter)
}

#[test]
fn the_quantized_default_model_loads_and_detects_what_fp32_detects() {
    let dir = std::env::temp_dir().join(format!("ghost-yolo-quantize-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("default-int8.safetensors");
    let data = Dataset::open(&repo("fixtures/synthetic/data.yaml"), "val").unwrap();
    let report = quantize(None, &WeightsChoice::Default, &data, &out, &options()).unwrap();
    assert_eq!(report.calibration_images, 8);
    assert_eq!(report.imgsz, 320, "the weights' training size");
    let int8: Vec<_> = report.layers.iter().filter(|l| l.int8).collect();
    assert!(int8.len() > 20, "{} INT8 convs", int8.len());
    // The default FP32 groups: the first conv, the last conv of Detect's box branch (the DFL
    // logits), depthwise convs and narrow convs. The convs FP32 runs with the stride-1 Winograd
    // (as `ConvAlgorithm::choose` decides: the box branch's 3x3 convs among them) are stored INT8.
    assert!(report.layers.iter().any(|l| l.depthwise));
    let winograd = |l: &LayerDecision| {
        l.spec.groups == 1
            && matches!(
                ghost_kernels::conv::ConvAlgorithm::choose(l.spec.cin, l.spec.cout, &l.spec.window),
                ghost_kernels::conv::ConvAlgorithm::Winograd
            )
    };
    let narrow = |l: &LayerDecision| l.spec.cin.min(l.spec.cout) < NARROW_CHANNELS;
    assert!(report.layers.iter().any(|l| winograd(l) && l.int8));
    assert!(report
        .layers
        .iter()
        .any(|l| l.conv.starts_with("model.19.cv2.0.0") && l.int8));
    assert!(report
        .layers
        .iter()
        .any(|l| narrow(l) && !l.depthwise && !winograd(l)));
    for l in &report.layers {
        let box_head = l.conv.starts_with("model.19.cv2.") && l.conv.ends_with(".2");
        let fp32 = l.conv == "model.0.conv_stem" || box_head || l.depthwise || narrow(l);
        assert_eq!(l.int8, !fp32, "{}", l.conv);
    }

    // The file: int8 codes, scales, folded bias, input quantization; no BatchNorm left.
    let file = SafetensorsFile::open(&out).unwrap();
    assert!(file
        .metadata_value("quantization")
        .unwrap()
        .contains("int8"));
    assert!(file.metadata_value("model_yaml").is_some() && file.metadata_value("names").is_some());
    // A GhostNet conv with a BatchNorm that the default quantizes (the speed rules keep the
    // narrow early blocks FP32).
    let conv = int8
        .iter()
        .map(|l| l.conv.as_str())
        .find(|c| c.starts_with("model.0.blocks.") && c.ends_with("primary_conv.0"))
        .expect("an INT8 GhostNet primary conv");
    let bn = format!("{}1", conv.strip_suffix('0').unwrap());
    assert!(file.is_int8(&format!("{conv}.weight")));
    for t in ["weight_scale", "bias", "input_scale", "input_zero_point"] {
        assert!(!file.is_int8(&format!("{conv}.{t}")) && file.contains(&format!("{conv}.{t}")));
    }
    assert!(!file.contains(&format!("{bn}.running_var")));
    assert!(!file.is_int8("model.0.conv_stem.weight") && file.contains("model.0.bn1.running_var"));

    // It loads like any weights file and finds the FP32 model's confident objects.
    let opts = || DetectorOptions {
        threads: Some(2),
        ..DetectorOptions::default()
    };
    let fp32 = Detector::default_model(opts()).unwrap();
    let q = Detector::from_weights(&out, opts()).unwrap();
    assert!(q.quantization().is_some() && fp32.quantization().is_none());
    assert!(q.warnings().is_empty(), "{:?}", q.warnings());
    let (mut matched, mut total) = (0, 0);
    for sample in &data.samples[..16] {
        let a = fp32.detect_path(&sample.image).unwrap();
        let b = q.detect_path(&sample.image).unwrap();
        for d in a.iter().filter(|d| d.confidence > 0.5) {
            total += 1;
            if b.iter()
                .any(|e| e.class_id == d.class_id && iou(d, e) > 0.8)
            {
                matched += 1;
            }
        }
    }
    // INT8 costs ~0.4 mAP50-95 points on the held-out split: confident FP32 detections are
    // found again (same class, IoU > 0.8) almost always; a broken scale, zero point or layer
    // order loses most of them.
    assert!(total >= 30, "{total} confident FP32 detections");
    assert!(
        matched * 100 >= total * 95,
        "{matched} of {total} FP32 detections found by INT8"
    );

    // Never over its input, never twice.
    let err = quantize(
        None,
        &WeightsChoice::File(out.clone()),
        &data,
        &out,
        &options(),
    )
    .unwrap_err();
    assert!(matches!(err, QuantizeError::SameFile { .. }), "{err}");
    let err = quantize(
        None,
        &WeightsChoice::File(out.clone()),
        &data,
        &dir.join("again.safetensors"),
        &options(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("already quantized"), "{err}");
    assert!(!dir.join("again.safetensors").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn shared_quantizations_and_u8_between_int8_convs_change_no_output_bit() {
    // Everything but the first conv INT8, so that every place a block shares or skips a
    // quantization pass runs: C3k's cv1 / cv2 (model.18.m.0), PSA's ffn.0 -> ffn.1 (model.6),
    // Detect's box and class branches reading one map, and their INT8 -> INT8 chains.
    // Passes saved per forward pass: model.18's C3k (cv2 reads cv1's copy) 1, model.6's ffn.1
    // 1, and per Detect level: the class branch's first conv reads the box branch's copy (1),
    // cv2.i.1 and cv2.i.2 read u8 from their predecessors (2), cv3.i.0.1, .1.0, .1.1 and .2
    // too (4): 7 per level, 21 for three levels; and in GhostNet, the u8 chains of the
    // bottlenecks: the shortcut's depthwise -> pointwise convs (blocks 1.0, 3.0, 5.0, 6.3,
    // 7.0: 5) and the stride-2 depthwise conv -> ghost2's primary conv where no SE sits between
    // them (blocks 1.0 and 5.0: 2); 30 in all. On AVX2 without VNNI the box branch's 3x3 convs
    // (Winograd-shaped) run FP32: per level only the class chain's 4, and GhostNet's 7: 21.
    shared_vs_own("all", vec![Fp32Rule::First], [30, 21]);
}

#[test]
fn int8_convs_with_fp32_readers_beside_them_share_nothing_with_those() {
    // Mixed readers: C3k's x read by an INT8 cv1 and an FP32 cv2 (no shared copy), and the
    // middle conv of level 1's box branch FP32 (cv2.1.0 writes f32 for it, cv2.1.2 quantizes
    // its f32 input itself). Saved: ffn.1 1, levels 0 and 2 7 each, level 1 5 (the class
    // branch's first conv still shares with cv2.1.0, its chain 4), GhostNet's bottleneck chains
    // 7: 27. On AVX2 without VNNI (box 3x3 convs FP32): ffn.1 1, the class chains 4 per level,
    // GhostNet's 7: 20.
    let rules = ["model.18.m.0.cv2", "model.19.cv2.1.1"].map(|p| Fp32Rule::Prefix(p.to_string()));
    shared_vs_own(
        "mixed",
        [vec![Fp32Rule::First], rules.to_vec()].concat(),
        [27, 20],
    );
}

/// Quantizes the default model keeping `fp32` FP32, runs it with sharing on and off, and
/// checks the outputs are bit-identical and that sharing saved `saved[0]` quantization passes,
/// or `saved[1]` on a back end that runs the Winograd-shaped INT8 convs as FP32
/// (`ghost_layers::quant::runs_as_int8`: AVX2 without VNNI).
fn shared_vs_own(name: &str, fp32: Vec<Fp32Rule>, saved: [u64; 2]) {
    let winograd_shape = ghost_layers::ConvSpec::new(64, 64, 3).padding(1);
    let saved = if ghost_layers::quant::runs_as_int8(&winograd_shape, ghost_kernels::active_isa()) {
        saved[0]
    } else {
        saved[1]
    };
    let dir = std::env::temp_dir().join(format!("ghost-yolo-int8-shared-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join(format!("{name}-int8.safetensors"));
    let data = Dataset::open(&repo("fixtures/synthetic/data.yaml"), "val").unwrap();
    let kept = fp32.len();
    let opts = QuantizeOptions {
        images: 4,
        fp32,
        ..options()
    };
    let report = quantize(None, &WeightsChoice::Default, &data, &out, &opts).unwrap();
    assert_eq!(report.int8_layers() + kept, report.layers.len());
    let det = Detector::from_weights(
        &out,
        DetectorOptions {
            threads: Some(2),
            ..DetectorOptions::default()
        },
    )
    .unwrap();
    // A non-square image-like input (smooth patterns in [0, 1]), batch 2.
    let images = ndarray::Array4::from_shape_fn((2, 3, 224, 320), |(b, c, y, x)| {
        let t = (x as f32 * 0.05 + y as f32 * 0.03 * (c + 1) as f32 + b as f32).sin();
        0.5 + 0.45 * t * ((y / 32 + x / 40) % 3) as f32 / 2.0
    });
    let mut shared = det.new_context();
    let mut own = det.new_context();
    own.set_int8_shared_quantization(false);
    own.enable_profiling();
    let a = det
        .forward_with_context(images.view(), &mut shared)
        .unwrap();
    let b = det.forward_with_context(images.view(), &mut own).unwrap();
    // Bit for bit: the requantizing epilogue computes the code of exactly the f32 value the
    // f32 path writes, with the quantization pass's formula (tests/quant_shared.rs in
    // ghost-layers checks each kernel family), so every INT8 conv reads the same codes.
    assert_eq!(a.shape(), b.shape());
    let differ = a
        .iter()
        .zip(b.iter())
        .filter(|(x, y)| x.to_bits() != y.to_bits())
        .count();
    assert_eq!(differ, 0, "{differ} of {} output values differ", a.len());
    // Without sharing, every INT8 conv call quantizes its own input.
    let int8_calls: Vec<String> = own
        .take_profile()
        .into_iter()
        .filter(|r| r.kind.name().ends_with("-i8"))
        .map(|r| r.name)
        .collect();
    let (passes_shared, passes_own) = (shared.int8_quantize_passes(), own.int8_quantize_passes());
    assert_eq!(passes_own, int8_calls.len() as u64, "{int8_calls:?}");
    assert_eq!(
        passes_own - passes_shared,
        saved,
        "{passes_own} vs {passes_shared}"
    );
}
