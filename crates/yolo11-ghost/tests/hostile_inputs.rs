//! Hostile inputs through the library: images (empty, truncated, not an image, degenerate sizes,
//! every pixel format, over the pixel limit), weights files that disagree with the model, invalid
//! options, and model YAML problems. Each is a typed error naming the file / tensor / row (or a
//! documented warning), never a panic. Bad files are generated into a scratch directory.

use std::io::Cursor;
use std::path::Path;
use std::sync::OnceLock;

use ghost_image::image_io::{decode_rgb, decode_rgb_limited, load_rgb, ImageLoadError, MAX_PIXELS};
use image::{DynamicImage, ImageBuffer, ImageFormat, Luma, LumaA, Rgb, Rgba};
use safetensors::tensor::Dtype;
use yolo11_ghost::detector::{DetectError, Detector, DetectorOptions, WeightsChoice};
use yolo11_ghost::{ModelSpec, YoloError};

mod common;
use common::{edited_weights, repo, scratch, MINI_MODEL_YAML as YAML, WEIGHTS};

/// yolo11n-ghost with seeded weights at imgsz 64: small and fast, built once.
fn small_detector() -> &'static Detector {
    static DETECTOR: OnceLock<Detector> = OnceLock::new();
    DETECTOR.get_or_init(|| {
        Detector::load(
            "yolo11n-ghost",
            &WeightsChoice::Seeded(7),
            DetectorOptions {
                imgsz: (64, 64),
                threads: Some(1),
                conf: 0.01,
                ..Default::default()
            },
        )
        .unwrap()
    })
}

fn encode(image: &DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    image.write_to(&mut out, format).unwrap();
    out.into_inner()
}

fn gradient(w: u32, h: u32) -> DynamicImage {
    DynamicImage::ImageRgb8(ImageBuffer::from_fn(w, h, |x, y| {
        Rgb([
            (x * 7 % 256) as u8,
            (y * 5 % 256) as u8,
            ((x + y) % 256) as u8,
        ])
    }))
}

fn decode_err(bytes: &[u8], name: &str) -> ImageLoadError {
    decode_rgb(bytes, Path::new(name)).expect_err(name)
}

fn assert_decode_error(bytes: &[u8], name: &str) {
    let err = decode_err(bytes, name);
    assert!(
        matches!(err, ImageLoadError::Decode { .. }),
        "{name}: {err:?}"
    );
    let text = err.to_string();
    assert!(text.contains(name) && !text.contains('\n'), "{text}");
}

#[test]
fn empty_and_non_image_bytes_are_decode_errors() {
    assert_decode_error(b"", "empty.jpg");
    assert_decode_error(b"hello, this is a text file\n", "text.png");
    assert_decode_error(&[0u8; 100], "zeros.bmp");
    // Right magic, nothing else.
    assert_decode_error(&[0xff, 0xd8, 0xff], "magic.jpg");
    assert_decode_error(b"\x89PNG\r\n\x1a\n", "magic.png");
}

#[test]
fn truncated_jpeg_and_png_are_decode_errors() {
    let image = gradient(64, 48);
    for (format, name) in [
        (ImageFormat::Jpeg, "cut.jpg"),
        (ImageFormat::Png, "cut.png"),
    ] {
        let bytes = encode(&image, format);
        assert!(
            decode_rgb(&bytes, Path::new(name)).is_ok(),
            "{name}: the intact file decodes"
        );
        // Cut inside the pixel data or the headers (a PNG cut only inside its final IEND chunk
        // still holds every pixel; a JPEG without its EOI marker is refused, as OpenCV 5 does).
        let mut cuts = vec![bytes.len() / 2, bytes.len() * 3 / 4, 40, 20, 9];
        if format == ImageFormat::Jpeg {
            cuts.push(bytes.len() - 2);
        }
        for keep in cuts {
            let err = decode_err(&bytes[..keep], name);
            assert!(
                matches!(err, ImageLoadError::Decode { .. }),
                "{name}[..{keep}]: {err:?}"
            );
        }
    }
}

#[test]
fn degenerate_sizes_and_every_pixel_format_decode_and_detect() {
    let detector = small_detector();
    let gray8 =
        DynamicImage::ImageLuma8(ImageBuffer::from_fn(31, 17, |x, _| Luma([(x * 8) as u8])));
    let cases: Vec<(&str, DynamicImage, ImageFormat)> = vec![
        ("1x1.png", gradient(1, 1), ImageFormat::Png),
        ("1x10000.png", gradient(1, 10000), ImageFormat::Png),
        ("10000x1.png", gradient(10000, 1), ImageFormat::Png),
        ("1x1.jpg", gradient(1, 1), ImageFormat::Jpeg),
        ("gray.png", gray8.clone(), ImageFormat::Png),
        ("gray.jpg", gray8, ImageFormat::Jpeg),
        (
            "gray_alpha.png",
            DynamicImage::ImageLumaA8(ImageBuffer::from_fn(9, 5, |x, y| {
                LumaA([(x * 20) as u8, (y * 50) as u8])
            })),
            ImageFormat::Png,
        ),
        (
            "rgba.png",
            DynamicImage::ImageRgba8(ImageBuffer::from_fn(13, 11, |x, y| {
                Rgba([x as u8 * 9, y as u8 * 9, 7, 0])
            })),
            ImageFormat::Png,
        ),
        (
            "rgb16.png",
            DynamicImage::ImageRgb16(ImageBuffer::from_fn(12, 7, |x, y| {
                Rgb([x as u16 * 5000, y as u16 * 9000, 0x1234])
            })),
            ImageFormat::Png,
        ),
        (
            "gray16.png",
            DynamicImage::ImageLuma16(ImageBuffer::from_fn(12, 7, |x, _| Luma([x as u16 * 5000]))),
            ImageFormat::Png,
        ),
        (
            "rgba16.png",
            DynamicImage::ImageRgba16(ImageBuffer::from_fn(6, 3, |x, _| {
                Rgba([x as u16 * 9000, 1, 2, 3])
            })),
            ImageFormat::Png,
        ),
        ("small.bmp", gradient(5, 3), ImageFormat::Bmp),
        ("small.gif", gradient(5, 3), ImageFormat::Gif),
        ("small.tiff", gradient(5, 3), ImageFormat::Tiff),
    ];
    for (name, image, format) in cases {
        let bytes = encode(&image, format);
        let rgb = decode_rgb(&bytes, Path::new(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(rgb.dimensions(), (image.width(), image.height()), "{name}");
        // cv2 semantics: 16-bit keeps the high byte, grey is replicated.
        if name == "gray16.png" {
            assert_eq!(rgb.get_pixel(1, 0).0, [(5000u16 >> 8) as u8; 3], "{name}");
        }
        if name == "rgb16.png" {
            assert_eq!(
                rgb.get_pixel(1, 1).0,
                [(5000u16 >> 8) as u8, (9000u16 >> 8) as u8, 0x12],
                "{name}"
            );
        }
        // The detector takes every one of them (thin images keep one pixel after the resize).
        let detections = detector
            .detect_rgb(&rgb)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        for d in &detections {
            assert!(
                d.x1 >= 0.0 && d.x2 <= rgb.width() as f32 && d.y2 <= rgb.height() as f32,
                "{name}: {d:?}"
            );
        }
    }
}

/// CRC-32 (IEEE) for hand-made PNG chunks.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A PNG whose IHDR claims `w x h` RGB pixels, followed by a tiny IDAT and IEND.
fn png_claiming(w: u32, h: u32) -> Vec<u8> {
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut chunk = |kind: &[u8], data: &[u8]| {
        png.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut body = kind.to_vec();
        body.extend_from_slice(data);
        png.extend_from_slice(&body);
        png.extend_from_slice(&crc32(&body).to_be_bytes());
    };
    let mut ihdr = w.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    chunk(b"IHDR", &ihdr);
    chunk(b"IDAT", &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]);
    chunk(b"IEND", &[]);
    png
}

/// A baseline JPEG whose SOF0 claims `w x h` (the image crate and our decoder both read it).
fn jpeg_claiming(w: u16, h: u16) -> Vec<u8> {
    let mut bytes = encode(&gradient(16, 16), ImageFormat::Jpeg);
    let sof = bytes
        .windows(2)
        .position(|p| p == [0xff, 0xc0])
        .expect("baseline SOF0");
    bytes[sof + 5..sof + 7].copy_from_slice(&h.to_be_bytes());
    bytes[sof + 7..sof + 9].copy_from_slice(&w.to_be_bytes());
    bytes
}

#[test]
fn images_over_the_pixel_limit_are_refused_before_decoding() {
    assert_eq!(MAX_PIXELS, 1 << 27, "docs/cli.md documents this limit");
    for (name, bytes, (w, h)) in [
        (
            "huge.png",
            png_claiming(100_000, 100_000),
            (100_000u32, 100_000u32),
        ),
        ("wide.png", png_claiming(1 << 30, 1), (1 << 30, 1)),
        ("huge.jpg", jpeg_claiming(65535, 65535), (65535, 65535)),
    ] {
        let err = decode_err(&bytes, name);
        match &err {
            ImageLoadError::TooLarge {
                path,
                width,
                height,
                limit,
            } => {
                assert_eq!(
                    (path.as_path(), *width, *height, *limit),
                    (Path::new(name), w, h, MAX_PIXELS)
                );
            }
            // The image crate may refuse an absurd side length itself (its own limit check).
            ImageLoadError::Decode { message, .. } if w >= 1 << 30 => {
                assert!(
                    message.to_lowercase().contains("limit"),
                    "{name}: {message}"
                );
            }
            other => panic!("{name}: expected TooLarge, got {other:?}"),
        }
        assert!(err.to_string().contains(name), "{err}");
    }
    // The limit applies to real images too, and just at the limit they decode.
    let bytes = encode(&gradient(40, 30), ImageFormat::Png);
    assert!(matches!(
        decode_rgb_limited(&bytes, Path::new("a.png"), 1199).unwrap_err(),
        ImageLoadError::TooLarge {
            width: 40,
            height: 30,
            limit: 1199,
            ..
        }
    ));
    assert!(decode_rgb_limited(&bytes, Path::new("a.png"), 1200).is_ok());
    let bytes = encode(&gradient(40, 30), ImageFormat::Jpeg);
    assert!(matches!(
        decode_rgb_limited(&bytes, Path::new("a.jpg"), 1199).unwrap_err(),
        ImageLoadError::TooLarge {
            width: 40,
            height: 30,
            ..
        }
    ));
}

#[test]
fn overfull_huffman_table_is_a_decode_error() {
    // Three 1-bit codes cannot exist; the decoder used to index past its lookup table.
    let mut bytes = encode(&gradient(16, 16), ImageFormat::Jpeg);
    let dht = bytes
        .windows(2)
        .position(|p| p == [0xff, 0xc4])
        .expect("a DHT segment");
    let counts = dht + 5; // FF C4, 2 length bytes, class/slot, then 16 code-length counts
    let mut moved = 0;
    for i in (1..16).rev() {
        while bytes[counts + i] > 0 && moved < 3 {
            bytes[counts + i] -= 1;
            moved += 1;
        }
    }
    assert_eq!(moved, 3);
    bytes[counts] += 3;
    let err = decode_err(&bytes, "overfull.jpg");
    assert!(matches!(err, ImageLoadError::Decode { .. }), "{err:?}");
}

#[test]
fn unreadable_paths_are_io_errors() {
    let dir = scratch("io");
    let err = load_rgb(&dir).unwrap_err(); // a directory: refused by kind, before reading
    assert!(matches!(err, ImageLoadError::File(_)), "{err:?}");
    assert!(
        err.to_string()
            .contains("is a directory, not a regular file"),
        "{err}"
    );
    let err = small_detector()
        .detect_path(&dir.join("missing.png"))
        .unwrap_err();
    assert!(
        matches!(err, DetectError::Image(ImageLoadError::Io { .. })),
        "{err:?}"
    );
}

// ---- weights that disagree with the model ----

const HEAD_BIAS: &str = "model.19.cv3.0.2.bias";

fn load_err(path: &Path) -> String {
    let Err(err) = Detector::from_weights(path, DetectorOptions::default()) else {
        panic!("{} loaded", path.display());
    };
    let text = err.to_string();
    assert!(!text.contains('\n'), "{text}");
    text
}

#[test]
fn missing_tensor_names_the_tensor_and_the_file() {
    let dir = scratch("missing");
    let path = edited_weights(&dir, "missing.safetensors", |t| {
        t.retain(|x| x.0 != HEAD_BIAS)
    });
    let text = load_err(&path);
    assert!(
        text.contains(HEAD_BIAS)
            && text.contains("missing.safetensors")
            && text.contains("missing"),
        "{text}"
    );
}

#[test]
fn wrong_shape_names_the_tensor_expected_and_found() {
    let dir = scratch("shape");
    let path = edited_weights(&dir, "shape.safetensors", |t| {
        let x = t.iter_mut().find(|x| x.0 == HEAD_BIAS).unwrap();
        x.2 = vec![x.2[0] / 2, 2];
    });
    let text = load_err(&path);
    assert!(
        text.contains(HEAD_BIAS) && text.contains("shape.safetensors") && text.contains("expected"),
        "{text}"
    );
}

#[test]
fn integer_tensor_is_a_dtype_error() {
    let dir = scratch("dtype");
    let path = edited_weights(&dir, "dtype.safetensors", |t| {
        let x = t.iter_mut().find(|x| x.0 == HEAD_BIAS).unwrap();
        x.1 = Dtype::I32;
    });
    let text = load_err(&path);
    assert!(text.contains(HEAD_BIAS) && text.contains("I32"), "{text}");
}

#[test]
fn nan_and_inf_weights_load_with_a_warning_and_run() {
    let dir = scratch("nan");
    let path = edited_weights(&dir, "nan.safetensors", |t| {
        let x = t.iter_mut().find(|x| x.0 == HEAD_BIAS).unwrap();
        x.3[4..8].copy_from_slice(&f32::NAN.to_le_bytes());
        let y = t
            .iter_mut()
            .find(|x| x.0 == "model.19.cv2.0.2.bias")
            .unwrap();
        y.3[0..4].copy_from_slice(&f32::INFINITY.to_le_bytes());
    });
    let detector = Detector::from_weights(
        &path,
        DetectorOptions {
            imgsz: (96, 96),
            threads: Some(1),
            ..Default::default()
        },
    )
    .unwrap();
    let warnings = detector.warnings().join("\n");
    assert!(
        warnings.contains(HEAD_BIAS) && warnings.contains("index 1"),
        "{warnings}"
    );
    assert!(
        warnings.contains("model.19.cv2.0.2.bias") && warnings.contains("inf"),
        "{warnings}"
    );
    // NaN outputs never pass the threshold: detection still returns (finite) boxes only.
    let image = load_rgb(&repo("fixtures/images/shapes_200x150.jpg")).unwrap();
    for d in detector.detect_rgb(&image).unwrap() {
        assert!(
            d.confidence.is_finite() && d.x1.is_finite() && d.y2.is_finite(),
            "{d:?}"
        );
    }
}

#[test]
fn extra_tensors_are_reported() {
    let dir = scratch("extra");
    let path = edited_weights(&dir, "extra.safetensors", |t| {
        for i in 0..7 {
            t.push((
                format!("model.99.extra{i}.weight"),
                Dtype::F32,
                vec![1],
                1f32.to_le_bytes().to_vec(),
            ));
        }
    });
    let detector = Detector::from_weights(&path, DetectorOptions::default()).unwrap();
    let warnings = detector.warnings().join("\n");
    assert!(
        warnings.contains("7 tensor(s) not used")
            && warnings.contains("model.99.extra0.weight")
            && warnings.contains("and 2 more"),
        "{warnings}"
    );
    // The intact fixture uses every tensor: no warning.
    let clean = Detector::from_weights(&repo(WEIGHTS), DetectorOptions::default()).unwrap();
    assert!(clean.warnings().is_empty(), "{:?}", clean.warnings());
}

#[test]
fn weights_for_another_model_fail_naming_a_tensor() {
    // yolo11n weights asked to be yolo11n-ghost: the first missing GhostNet tensor is named.
    let err = Detector::load(
        "yolo11n-ghost",
        &WeightsChoice::File(repo("fixtures/yolo/yolo11n.f16.safetensors")),
        DetectorOptions::default(),
    )
    .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("yolo11n.f16.safetensors") && text.contains("model.0."),
        "{text}"
    );
}

// ---- options ----

#[test]
fn invalid_options_are_typed_errors() {
    for (options, option) in [
        (
            DetectorOptions {
                conf: 1.5,
                ..Default::default()
            },
            "conf",
        ),
        (
            DetectorOptions {
                conf: -0.01,
                ..Default::default()
            },
            "conf",
        ),
        (
            DetectorOptions {
                iou: f64::NAN,
                ..Default::default()
            },
            "iou",
        ),
        (
            DetectorOptions {
                iou: 2.0,
                ..Default::default()
            },
            "iou",
        ),
        (
            DetectorOptions {
                threads: Some(0),
                ..Default::default()
            },
            "threads",
        ),
    ] {
        match Detector::load("yolo11n-ghost", &WeightsChoice::Seeded(1), options).unwrap_err() {
            DetectError::InvalidOption { option: o, .. } => assert_eq!(o, option),
            other => panic!("{option}: {other:?}"),
        }
    }
    let d = Detector::load(
        "yolo11n-ghost",
        &WeightsChoice::Seeded(1),
        DetectorOptions {
            imgsz: (100, 33),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(d.imgsz(), (128, 64));
    assert!(
        d.warnings()[0].contains("updating to 128x64"),
        "{:?}",
        d.warnings()
    );
}

#[test]
fn unknown_model_lists_the_known_names() {
    match Detector::load(
        "yolo11q",
        &WeightsChoice::Seeded(1),
        DetectorOptions::default(),
    )
    .unwrap_err()
    {
        DetectError::Model(YoloError::UnknownModel { name, known }) => {
            assert_eq!(name, "yolo11q");
            assert!(
                known.contains("yolo11n") && known.contains("yolo11x-ghost"),
                "{known}"
            );
        }
        other => panic!("{other:?}"),
    }
    let err = ModelSpec::from_name("/no/such/model.yaml").unwrap_err();
    assert!(err.to_string().contains("/no/such/model.yaml"), "{err}");
}

// ---- model YAML ----

fn yaml_err(text: &str) -> YoloError {
    ModelSpec::from_yaml_str(text, "bad.yaml", None, None).unwrap_err()
}

#[test]
fn yaml_problems_are_typed_errors_naming_the_row() {
    assert!(ModelSpec::from_yaml_str(YAML, "ok.yaml", None, None).is_ok());
    let e = yaml_err(&YAML.replace(
        "[-1, 1, Conv, [32, 3, 2]]\n  - [-1, 1, Conv, [32, 3, 2]]\nhead",
        "[-1, 1, Conv, [32, 3, 2]]\n  - [-1, 1, Frobnicate, [32]]\nhead",
    ));
    assert!(
        matches!(&e, YoloError::UnsupportedModule { row: 4, module, .. } if module == "Frobnicate"),
        "{e:?}"
    );
    let e = yaml_err(&YAML.replace("[[2, 3, 4], 1, Detect", "[[2, 3, 7], 1, Detect"));
    assert!(
        matches!(
            e,
            YoloError::BadFrom {
                row: 5,
                from: 7,
                ..
            }
        ),
        "{e:?}"
    );
    let e = yaml_err(&YAML.replace("[[2, 3, 4], 1, Detect", "[[2, 3, -40], 1, Detect"));
    assert!(
        matches!(
            e,
            YoloError::BadFrom {
                row: 5,
                from: -40,
                ..
            }
        ),
        "{e:?}"
    );
    let e = yaml_err(&YAML.replace("[16, 3, 2]", "[16, three, 2]"));
    assert!(matches!(&e, YoloError::BadArg { row: 0, .. }), "{e:?}");
    let e = yaml_err(&YAML.replace("[16, 3, 2]", "[-16, 3, 2]"));
    assert!(
        matches!(
            &e,
            YoloError::BadArg { row: 0, .. } | YoloError::Row { row: 0, .. }
        ),
        "{e:?}"
    );
    let e = yaml_err("nc: 3\nbackbone: [[-1, 1, Conv, [16, 3, 2]]\nhead: ]]");
    assert!(
        matches!(&e, YoloError::Yaml { source_name, .. } if source_name.contains("bad.yaml")),
        "{e:?}"
    );
    let e = yaml_err("nc: three\nbackbone: []\nhead: []\n");
    assert!(
        matches!(&e, YoloError::ModelYaml { .. } | YoloError::Yaml { .. }),
        "{e:?}"
    );
    let e = yaml_err("- just\n- a list\n");
    assert!(matches!(&e, YoloError::ModelYaml { .. }), "{e:?}");
    // Absurd sizes are refused as row errors, not attempted (or overflowed).
    let e = yaml_err(&YAML.replace("[16, 3, 2]", "[9223372036854775807, 3, 2]"));
    assert!(
        matches!(&e, YoloError::BadArg { row: 0, arg, .. } if arg == "c2"),
        "{e:?}"
    );
    let e = yaml_err(&YAML.replace("[16, 3, 2]", "[100000, 3, 2]"));
    assert!(
        matches!(&e, YoloError::BadArg { row: 0, arg, .. } if arg == "c2"),
        "{e:?}"
    );
    let e = yaml_err(&YAML.replace("[16, 3, 2]", "[16, 1000000, 2]"));
    assert!(matches!(&e, YoloError::BadArg { row: 0, .. }), "{e:?}");
    let e = yaml_err(&YAML.replace("[16, 3, 2]", "[16, 3, 2, 4611686018427387904]"));
    assert!(
        matches!(&e, YoloError::BadArg { row: 0, arg, .. } if arg == "p"),
        "{e:?}"
    );
    let e = yaml_err(&YAML.replace("nc: 3", "nc: 100000000000"));
    assert!(matches!(&e, YoloError::ModelYaml { .. }), "{e:?}");
    let e = yaml_err(&YAML.replace(
        "[-1, 1, Conv, [16, 3, 2]]",
        "[-1, 1000000000000, Conv, [16, 3, 2]]",
    ));
    assert!(matches!(&e, YoloError::Row { row: 0, .. }), "{e:?}");
    let e = yaml_err(
        &YAML
            .replace(
                "head:\n",
                "head:\n  - [-1, 1, nn.Upsample, [None, 1000000, nearest]]\n",
            )
            .replace("[[2, 3, 4]", "[[2, 3, 5]"),
    );
    assert!(matches!(&e, YoloError::BadArg { row: 5, .. }), "{e:?}");
    // 99 chained stride-2 copies: a stride of 16 * 2^99 is refused, not overflowed.
    let e = yaml_err(&YAML.replace(
        "- [-1, 1, Conv, [32, 3, 2]]\nhead",
        "- [-1, 99, Conv, [32, 3, 2]]\nhead",
    ));
    assert!(
        matches!(&e, YoloError::Row { row: 4, message, .. } if message.contains("stride")),
        "{e:?}"
    );
    // Each stride within the caps; their product passes MAX_STRIDE (2^16) at row 4 (2^17).
    let e = yaml_err(&YAML.replace("[16, 3, 2]", "[16, 3, 8192]"));
    assert!(
        matches!(&e, YoloError::Row { row: 4, message, .. } if message.contains("65536")),
        "{e:?}"
    );
    // Within the per-argument caps but 38 billion parameters: refused before any allocation.
    let huge = YAML.replace(
        "[32, 3, 2]]\n  - [-1, 1, Conv, [32, 3, 2]]\nhead",
        "[65536, 3, 2]]\n  - [-1, 1, Conv, [65536, 3, 2]]\nhead",
    );
    let spec = ModelSpec::from_yaml_str(&huge, "huge.yaml", None, None).unwrap();
    let weights = ghost_layers::SeededWeights::new(1);
    match yolo11_ghost::YoloModel::load(&spec, &weights) {
        // a configuration this engine refuses to build: LayerError::Config, naming the model
        Err(YoloError::Layer(ghost_layers::LayerError::Config { context, reason })) => {
            assert_eq!(context, "model");
            assert!(reason.contains("parameters"), "{reason}")
        }
        Err(other) => panic!("{other:?}"),
        Ok(_) => panic!("a 38G-parameter model was built"),
    }
    for e in [
        yaml_err(&YAML.replace("[16, 3, 2]", "[16, three, 2]")),
        yaml_err(&YAML.replace("[[2, 3, 4], 1, Detect", "[[2, 3, 7], 1, Detect")),
    ] {
        assert!(!e.to_string().contains('\n'), "{e}");
    }
}
