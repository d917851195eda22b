//! `yolo11_ghost::quantize` on the embedded default model, calibrated on a few images of the
//! shipped shapes split: the file it writes is an ordinary safetensors file (I8 conv weights,
//! F32 scales / zero points / biases, the FP32 file's metadata plus `quantization`) that
//! `Detector::from_weights` loads and runs on the INT8 kernels, finding what the FP32 model
//! finds; and it never overwrites or re-quantizes its input. (Accuracy on the 400-image held-out
//! split is measured in docs/int8.md: mAP50-95 0.7642 vs 0.7654 FP32 with the default rule.)

use std::path::PathBuf;

use ghost_layers::{SafetensorsFile, WeightSource};
use yolo11_ghost::detector::{Detector, DetectorOptions, WeightsChoice};
use yolo11_ghost::quantize::{
    quantize, Fp32Rule, LayerDecision, QuantizeError, QuantizeOptions, DEFAULT_FP32_RULES,
    NARROW_CHANNELS, NARROW_DENSE_CHANNELS,
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
    // The default FP32 groups: the first conv, depthwise convs and narrow convs (pointwise below
    // NARROW_CHANNELS, dense 3x3 below NARROW_DENSE_CHANNELS). Detect's box branch, its DFL
    // logits conv included, and the convs FP32 runs with the stride-1 Winograd (as
    // `ConvAlgorithm::choose` decides: the box branch's 3x3 convs and the 16-channel
    // `model.12.m.0` among them) are stored INT8.
    assert!(report.layers.iter().any(|l| l.depthwise));
    let winograd = |l: &LayerDecision| {
        l.spec.groups == 1
            && matches!(
                ghost_kernels::conv::ConvAlgorithm::choose(l.spec.cin, l.spec.cout, &l.spec.window),
                ghost_kernels::conv::ConvAlgorithm::Winograd
            )
    };
    let narrow = |l: &LayerDecision| {
        let pointwise = l.spec.window.kernel_h == 1 && l.spec.window.kernel_w == 1;
        let bound = if pointwise || l.spec.groups > 1 {
            NARROW_CHANNELS
        } else {
            NARROW_DENSE_CHANNELS
        };
        l.spec.cin.min(l.spec.cout) < bound
    };
    assert!(report.layers.iter().any(|l| winograd(l) && l.int8));
    assert!(report
        .layers
        .iter()
        .any(|l| l.conv.starts_with("model.19.cv2.0.0") && l.int8));
    // The box head (DFL logits) and the 16-channel 3x3 convs of model.12's bottleneck: INT8.
    for conv in [
        "model.19.cv2.0.2",
        "model.19.cv2.2.2",
        "model.12.m.0.cv1",
        "model.12.m.0.cv2",
    ] {
        let l = report
            .layers
            .iter()
            .find(|l| l.conv.starts_with(conv))
            .unwrap();
        assert!(l.int8, "{conv}");
    }
    assert_eq!(
        int8.len(),
        51,
        "INT8 convs of the default rule (docs/int8.md)"
    );
    assert!(report
        .layers
        .iter()
        .any(|l| narrow(l) && !l.depthwise && !winograd(l)));
    for l in &report.layers {
        let fp32 = l.conv == "model.0.conv_stem" || l.depthwise || narrow(l);
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
    // too (4): 7 per level, 21 for three levels; 23 inside blocks. Across nodes (u8 homes): SPPF
    // writes u8 for C2PSA's cv1 (1), and model.13 / Detect level 0 and model.16 / Detect level
    // 1 read one u8 copy of their shared input (1 each): 26. In GhostNet, the u8 chains of the
    // bottlenecks: the shortcut's depthwise -> pointwise convs (blocks 1.0, 3.0, 5.0, 6.3,
    // 7.0: 5) and the stride-2 depthwise conv -> ghost2's primary conv where no SE sits between
    // them (blocks 1.0 and 5.0: 2): 33 in all. On AVX2 without VNNI the box branch's 3x3 convs
    // (Winograd-shaped) run FP32: per level only the class chain's 4, 14, plus the same 3
    // across nodes (Detect's copy is then made for the class branch) and GhostNet's 7: 24.
    shared_vs_own("all", vec![Fp32Rule::First], [33, 24], 2);
}

#[test]
fn int8_convs_with_fp32_readers_beside_them_share_nothing_with_those() {
    // Mixed readers: C3k's x read by an INT8 cv1 and an FP32 cv2 (no shared copy), and the
    // middle conv of level 1's box branch FP32 (cv2.1.0 writes f32 for it, cv2.1.2 quantizes
    // its f32 input itself). Saved: ffn.1 1, levels 0 and 2 7 each, level 1 5 (the class
    // branch's first conv still shares with cv2.1.0, its chain 4): 20, plus the 3 across nodes
    // of the test above and GhostNet's 7 bottleneck chains: 30. On AVX2 without VNNI (box 3x3
    // convs FP32): ffn.1 1, the class chains 4 per level, 3 across nodes, GhostNet's 7: 23.
    let rules = ["model.18.m.0.cv2", "model.19.cv2.1.1"].map(|p| Fp32Rule::Prefix(p.to_string()));
    shared_vs_own(
        "mixed",
        [vec![Fp32Rule::First], rules.to_vec()].concat(),
        [30, 23],
        2,
    );
}

#[test]
fn u8_homes_of_the_default_rule_change_no_output_bit_at_1_and_2_threads() {
    // The default rule (51 of 136 convs INT8). Inside blocks: model.18's C3k 1, model.6's
    // ffn.1 1, per Detect level cv2.i.1 reads u8 from cv2.i.0 and the box head cv2.i.2 from
    // cv2.i.1 (2; the class branch starts with an FP32 depthwise conv): 8. Across nodes: SPPF's cv2 writes u8 for
    // C2PSA's cv1 (no f32 tensor, 1 pass), model.13 and Detect's cv2.0.0 read one copy of
    // model.12's output, model.16 and cv2.1.0 one of model.15's (1 each): 11. On AVX2 without
    // VNNI (cv2.i.0, cv2.i.1 FP32, so the box head quantizes its f32 input): the C3k and ffn.1
    // (2) and SPPF -> C2PSA (1): 3.
    for threads in [1, 2] {
        shared_vs_own("default", DEFAULT_FP32_RULES.to_vec(), [11, 3], threads);
    }
}

#[test]
fn u8_homes_fall_back_to_f32_where_a_reader_is_fp32() {
    // The default rule with C2PSA's cv1 and model.13 FP32: SPPF's output has an FP32 reader
    // (SPPF writes f32), and model.12's output has one INT8 reader left (Detect's cv2.0.0,
    // which quantizes it itself): only model.15's copy is shared across nodes. Saved: 8 inside
    // blocks + 1 = 9; on AVX2 without VNNI the 2 of the C3k and ffn.1.
    let rules = ["model.6.cv1", "model.13"].map(|p| Fp32Rule::Prefix(p.to_string()));
    shared_vs_own(
        "fallback",
        [DEFAULT_FP32_RULES.to_vec(), rules.to_vec()].concat(),
        [9, 2],
        2,
    );
}

/// Quantizes the default model keeping `fp32` FP32, runs it with sharing on and off, and
/// checks the outputs are bit-identical and that sharing saved `saved[0]` quantization passes,
/// or `saved[1]` on a back end that runs the Winograd-shaped INT8 convs as FP32
/// (`ghost_layers::quant::runs_as_int8`: AVX2 without VNNI).
fn shared_vs_own(name: &str, fp32: Vec<Fp32Rule>, saved: [u64; 2], threads: usize) {
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
    // Single-conv rules (the first conv, one prefix per conv) keep one conv each; the default
    // rule keeps 85 of yolo11n-ghost's 136 convs.
    let kept = if fp32.starts_with(DEFAULT_FP32_RULES) {
        85 + fp32.len() - DEFAULT_FP32_RULES.len()
    } else {
        fp32.len()
    };
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
            threads: Some(threads),
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

#[test]
fn a_tap_on_a_row_held_only_as_u8_runs_the_plain_graph() {
    // With the default rule SPPF's output (row 5) lives only as u8 codes for C2PSA's cv1 (on
    // every back end). Tapping it runs the plain graph, where SPPF writes f32: the tap is
    // there, with SPPF's shape, and equals the tap with sharing off bit for bit (both are the
    // f32 the plain graph computes; sharing inside blocks is exact).
    let dir = std::env::temp_dir().join(format!("ghost-yolo-int8-tap-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("default-int8.safetensors");
    let data = Dataset::open(&repo("fixtures/synthetic/data.yaml"), "val").unwrap();
    let opts = QuantizeOptions {
        images: 2,
        ..options()
    };
    quantize(None, &WeightsChoice::Default, &data, &out, &opts).unwrap();
    let file = SafetensorsFile::open(&out).unwrap();
    let spec = yolo11_ghost::ModelSpec::from_name("yolo11n-ghost").unwrap();
    let model = yolo11_ghost::YoloModel::load(&spec, &file).unwrap();
    let images = ndarray::Array4::from_shape_fn((1, 3, 256, 320), |(_, c, y, x)| {
        ((c * 31 + y * 7 + x * 3) % 97) as f32 / 96.0
    });
    let mut taps = Vec::new();
    for shared in [true, false] {
        let mut ctx = ghost_layers::Context::new(ghost_layers::Threads::single());
        ctx.set_int8_shared_quantization(shared);
        let (_, tapped) = model
            .forward_with_taps(images.view(), &mut ctx, &[5])
            .unwrap();
        assert_eq!(tapped[0].shape(), &[1, 256, 8, 10], "SPPF's output, NCHW");
        taps.push(tapped.into_iter().next().unwrap());
    }
    assert!(
        taps[0]
            .iter()
            .zip(&taps[1])
            .all(|(a, b)| a.to_bits() == b.to_bits()),
        "the tapped SPPF output depends on sharing"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn u8_homes_on_yolo11n_change_no_output_bit() {
    // Another graph shape: YOLO11n (seeded weights, every conv but the first INT8) writes the
    // backbone's C3k2 outputs into Concat buffers, so values with u8 copies can also have a
    // home in a Concat; SPPF -> C2PSA is held as u8 only. Sharing on vs off: no output bit
    // differs, fewer passes with it on, batch 2, non-square, 2 threads.
    let dir = std::env::temp_dir().join(format!("ghost-yolo-int8-y11n-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("yolo11n-int8.safetensors");
    let data = Dataset::open(&repo("fixtures/synthetic/data.yaml"), "val").unwrap();
    let opts = QuantizeOptions {
        images: 2,
        imgsz: Some(320),
        fp32: vec![Fp32Rule::First],
        ..options()
    };
    quantize(
        Some("yolo11n"),
        &WeightsChoice::Seeded(7),
        &data,
        &out,
        &opts,
    )
    .unwrap();
    let det = Detector::load(
        "yolo11n",
        &WeightsChoice::File(out.clone()),
        DetectorOptions {
            threads: Some(2),
            ..DetectorOptions::default()
        },
    )
    .unwrap();
    let images = ndarray::Array4::from_shape_fn((2, 3, 224, 320), |(b, c, y, x)| {
        let t = (x as f32 * 0.05 + y as f32 * 0.03 * (c + 1) as f32 + b as f32).sin();
        0.5 + 0.45 * t
    });
    let mut shared = det.new_context();
    let mut own = det.new_context();
    own.set_int8_shared_quantization(false);
    let a = det
        .forward_with_context(images.view(), &mut shared)
        .unwrap();
    let b = det.forward_with_context(images.view(), &mut own).unwrap();
    assert_eq!(a.shape(), b.shape());
    let differ = a
        .iter()
        .zip(b.iter())
        .filter(|(x, y)| x.to_bits() != y.to_bits())
        .count();
    assert_eq!(differ, 0, "{differ} of {} output values differ", a.len());
    let (on, off) = (shared.int8_quantize_passes(), own.int8_quantize_passes());
    eprintln!("yolo11n INT8: {off} -> {on} quantization passes");
    assert!(on < off, "{off} -> {on}");
    std::fs::remove_dir_all(&dir).unwrap();
}
