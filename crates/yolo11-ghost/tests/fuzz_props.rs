//! Bounded property tests mirroring the `cargo fuzz` targets in `fuzz/` (see docs/fuzzing.md):
//! arbitrary and mutated-valid bytes never panic in
//! - image bytes -> decode -> detector (seeded yolo11n-ghost at imgsz 64),
//! - model YAML text -> `ModelSpec` -> layer table -> (small models) seeded weights + forward.
//!
//! A few hundred cases each, fast in release. Every input either works or is a typed error.

use std::io::Cursor;
use std::path::Path;
use std::sync::OnceLock;

use ghost_image::image_io::decode_rgb_limited;
use image::{DynamicImage, ImageBuffer, ImageFormat, Rgb};
use ndarray::Array4;
use proptest::prelude::*;
use yolo11_ghost::detector::{Detector, DetectorOptions, WeightsChoice};
use yolo11_ghost::info::ModelInfo;
use yolo11_ghost::spec::builtin_yaml;
use yolo11_ghost::{ModelSpec, YoloModel};

/// Images above this many pixels are refused (keeps a case fast; the real limit is tested in
/// hostile_inputs.rs).
const FUZZ_MAX_PIXELS: u64 = 1 << 20;
/// Models with more parameters are only parsed and counted, not built.
const FUZZ_MAX_PARAMS: u64 = 3_000_000;

fn detector() -> &'static Detector {
    static DETECTOR: OnceLock<Detector> = OnceLock::new();
    DETECTOR.get_or_init(|| {
        Detector::load(
            "yolo11n-ghost",
            &WeightsChoice::Seeded(11),
            DetectorOptions {
                imgsz: (64, 64),
                threads: Some(1),
                conf: 0.001,
                ..Default::default()
            },
        )
        .unwrap()
    })
}

fn encoded(format: ImageFormat, w: u32, h: u32) -> Vec<u8> {
    let image = DynamicImage::ImageRgb8(ImageBuffer::from_fn(w, h, |x, y| {
        Rgb([(x * 13) as u8, (y * 7) as u8, (x ^ y) as u8])
    }));
    let mut out = Cursor::new(Vec::new());
    image.write_to(&mut out, format).unwrap();
    out.into_inner()
}

/// Seed files for mutation: one per decoder, small.
fn seed_images() -> &'static [Vec<u8>] {
    static SEEDS: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    SEEDS.get_or_init(|| {
        let mut seeds = vec![
            encoded(ImageFormat::Jpeg, 19, 13),
            encoded(ImageFormat::Png, 9, 21),
            encoded(ImageFormat::Bmp, 7, 5),
            encoded(ImageFormat::Gif, 6, 4),
            encoded(ImageFormat::Tiff, 5, 6),
        ];
        // The JPEG flavours of the decoder's parity fixture (progressive, restarts, every
        // subsampling, greyscale, EXIF ...), the small ones.
        let fixture = std::fs::read(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/jpeg/jpeg.safetensors"),
        )
        .unwrap();
        let files = safetensors::SafeTensors::deserialize(&fixture).unwrap();
        let mut jpegs: Vec<(String, Vec<u8>)> = files
            .tensors()
            .into_iter()
            .filter(|(_, t)| t.data().starts_with(&[0xff, 0xd8]) && t.data().len() < 8192)
            .map(|(n, t)| (n, t.data().to_vec()))
            .collect();
        jpegs.sort();
        assert!(jpegs.len() >= 4, "{} small JPEG seeds", jpegs.len());
        seeds.extend(jpegs.into_iter().map(|(_, b)| b));
        seeds
    })
}

/// What the fuzz target does with image bytes.
fn image_to_detections(bytes: &[u8]) {
    if let Ok(rgb) = decode_rgb_limited(bytes, Path::new("fuzz"), FUZZ_MAX_PIXELS) {
        let detections = detector()
            .detect_rgb(&rgb)
            .expect("a decoded image always runs");
        for d in detections {
            assert!(d.x1 <= d.x2 && d.y1 <= d.y2, "{d:?}");
        }
    }
}

/// What the fuzz target does with YAML text.
fn yaml_to_model(text: &str) {
    let Ok(spec) = ModelSpec::from_yaml_str(text, "fuzz.yaml", None, None) else {
        return;
    };
    let Ok(info) = ModelInfo::new(&spec, 64, 64) else {
        return;
    };
    // Parameters bound the weights, GFLOPs the activations and im2col scratch of a forward.
    if info.params > FUZZ_MAX_PARAMS || info.gflops > 1.0 {
        return;
    }
    let weights = ghost_layers::SeededWeights::new(5);
    if let Ok(model) = YoloModel::load(&spec, &weights) {
        let stride = model.max_stride().clamp(1, 64);
        let side = stride.max(32);
        let input = Array4::<f32>::from_elem((1, 3, side, side), 0.5);
        let mut ctx = ghost_layers::Context::new(ghost_kernels::Threads::single());
        let _ = model.forward(input.view(), &mut ctx);
    }
}

fn mutate(
    mut bytes: Vec<u8>,
    edits: &[(prop::sample::Index, u8)],
    cut: Option<prop::sample::Index>,
) -> Vec<u8> {
    for (at, byte) in edits {
        if !bytes.is_empty() {
            let i = at.index(bytes.len());
            bytes[i] = *byte;
        }
    }
    if let Some(cut) = cut {
        bytes.truncate(cut.index(bytes.len() + 1));
    }
    bytes
}

const MINI_YAML: &str = "nc: 3
scales:
  n: [0.50, 0.25, 1024]
backbone:
  - [-1, 1, Conv, [16, 3, 2]]
  - [-1, 1, Conv, [32, 3, 2]]
  - [-1, 1, C3k2, [32, False, 0.25]]
  - [-1, 1, Conv, [64, 3, 2]]
  - [-1, 1, C3k2, [64, True]]
  - [-1, 1, Conv, [64, 3, 2]]
  - [-1, 1, SPPF, [64, 5]]
  - [-1, 1, C2PSA, [64]]
head:
  - [-1, 1, nn.Upsample, [None, 2, nearest]]
  - [[-1, 4], 1, Concat, [1]]
  - [-1, 1, C3k2, [32, False]]
  - [[2, 10, 7], 1, Detect, [nc]]
";

proptest! {
    #![proptest_config(ProptestConfig::with_cases(ghost_kernels::testing::proptest_cases(300)))]

    #[test]
    fn arbitrary_image_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        image_to_detections(&bytes);
    }

    #[test]
    fn mutated_images_never_panic(
        seed in any::<prop::sample::Index>(),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        cut in proptest::option::of(any::<prop::sample::Index>()),
    ) {
        let seeds = seed_images();
        let bytes = mutate(seeds[seed.index(seeds.len())].clone(), &edits, cut);
        image_to_detections(&bytes);
    }

    #[test]
    fn arbitrary_yaml_never_panics(text in "[-\\[\\]a-zA-Z0-9:,. \n]{0,200}") {
        yaml_to_model(&text);
    }

    #[test]
    fn mutated_yaml_never_panics(
        which in 0usize..3,
        edits in proptest::collection::vec(
            (any::<prop::sample::Index>(), prop::sample::select(vec![
                "-1", "0", "99", "-99", "[", "]", ",", ":", " ", "\n", "1e9", "0.0", "nan", "None",
                "True", "Conv", "C3k2", "Detect", "Concat", "GhostNet", "Index", "\"x\"", "4096",
                "[[-1, 2], 1, Concat, [1]]", "''",
            ])),
            1..5,
        ),
    ) {
        let mut text = match which {
            0 => MINI_YAML.to_string(),
            1 => builtin_yaml("yolo11n").unwrap().to_string(),
            _ => builtin_yaml("yolo11n-ghost").unwrap().to_string(),
        };
        for (at, piece) in edits {
            // Replace one "token" (up to the next separator) at a char boundary.
            let chars: Vec<char> = text.chars().collect();
            let i = at.index(chars.len());
            let end = chars[i..]
                .iter()
                .position(|c| matches!(c, ',' | ']' | '\n' | ' '))
                .map_or(chars.len(), |p| i + p.max(1));
            let mut out: String = chars[..i].iter().collect();
            out.push_str(piece);
            out.extend(&chars[end..]);
            text = out;
        }
        yaml_to_model(&text);
    }
}

#[test]
fn the_mini_yaml_builds_and_runs() {
    // The seed of the YAML mutations is itself valid (so mutations explore near-valid models).
    let spec = ModelSpec::from_yaml_str(MINI_YAML, "mini.yaml", Some("n"), None).unwrap();
    let info = ModelInfo::new(&spec, 64, 64).unwrap();
    assert!(info.params < FUZZ_MAX_PARAMS, "{}", info.params);
    yaml_to_model(MINI_YAML);
    for seed in seed_images() {
        assert!(decode_rgb_limited(seed, Path::new("seed"), FUZZ_MAX_PIXELS).is_ok());
    }
}
