//! Hostile inputs through the `ghost-yolo` binary: every bad weights file, model YAML, image and
//! argument ends in one tidy `error: ...` line (exit 1 for runtime failures, 2 for arguments),
//! warnings are `warning: ...` lines, and a directory of mixed files processes the good ones.
//! Bad files are generated into a scratch directory at run time.

use std::io::Cursor;
use std::process::{Command, Output};

use image::{DynamicImage, ImageBuffer, ImageFormat, Rgb};
use safetensors::tensor::Dtype;
use serde_json::Value;

mod common;
use common::{edited_weights, repo, scratch, MINI_MODEL_YAML as YAML, WEIGHTS};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ghost-yolo"))
        .args(args)
        .output()
        .expect("run ghost-yolo")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Exit `code`, every stderr line an `error:` / `warning:` line, and exactly one `error:` line
/// (the last) containing every needle.
fn assert_one_error(o: &Output, code: i32, needles: &[&str]) -> String {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(code), "{err}");
    assert!(
        !err.contains("panicked") && !err.contains("internal error"),
        "{err}"
    );
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    for line in &lines {
        assert!(
            line.starts_with("error: ") || line.starts_with("warning: "),
            "untidy line {line:?}:\n{err}"
        );
    }
    let errors: Vec<&&str> = lines.iter().filter(|l| l.starts_with("error: ")).collect();
    assert_eq!(errors.len(), 1, "expected one error line:\n{err}");
    for needle in needles {
        assert!(
            errors[0].contains(needle),
            "{:?} lacks {needle:?}",
            errors[0]
        );
    }
    errors[0].to_string()
}

fn gray_image() -> String {
    repo("fixtures/images/gray_97x131.png")
        .to_str()
        .unwrap()
        .to_string()
}

// ---- weights files ----

#[test]
fn malformed_weights_files_are_one_line_errors_naming_the_file() {
    let dir = scratch("weights");
    let mut absurd = u64::MAX.to_le_bytes().to_vec();
    absurd.extend_from_slice(b"{}");
    let mut beyond = 4096u64.to_le_bytes().to_vec();
    beyond.extend_from_slice(b"{\"a\":");
    let mut bad_json = 9u64.to_le_bytes().to_vec();
    bad_json.extend_from_slice(b"{not json");
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty.safetensors", vec![]),
        ("short.safetensors", vec![3, 0, 0]),
        ("absurd.safetensors", absurd),
        ("beyond.safetensors", beyond),
        ("json.safetensors", bad_json),
    ];
    let img = gray_image();
    for (name, bytes) in cases {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        let p = path.to_str().unwrap();
        // With and without --model (without, the file must describe its model).
        for args in [
            vec!["detect", &img, "-w", p],
            vec!["detect", &img, "-m", "yolo11n-ghost", "-w", p],
        ] {
            assert_one_error(&run(&args), 1, &[name, "not a valid safetensors file"]);
        }
    }
}

const TENSOR: &str = "model.6.m.0.attn.qkv.conv.weight";

#[test]
fn weights_disagreeing_with_the_model_name_the_tensor() {
    let dir = scratch("disagree");
    let img = gray_image();
    let missing = edited_weights(&dir, "missing.safetensors", |t| t.retain(|x| x.0 != TENSOR));
    assert_one_error(
        &run(&["detect", &img, "-w", missing.to_str().unwrap()]),
        1,
        &[TENSOR, "missing.safetensors", "missing"],
    );
    let shape = edited_weights(&dir, "shape.safetensors", |t| {
        let x = t.iter_mut().find(|x| x.0 == TENSOR).unwrap();
        x.2.swap(0, 1);
    });
    assert_one_error(
        &run(&["detect", &img, "-w", shape.to_str().unwrap()]),
        1,
        &[TENSOR, "shape.safetensors", "expected"],
    );
    let dtype = edited_weights(&dir, "dtype.safetensors", |t| {
        let x = t.iter_mut().find(|x| x.0 == TENSOR).unwrap();
        x.1 = Dtype::I32;
    });
    assert_one_error(
        &run(&["detect", &img, "-w", dtype.to_str().unwrap()]),
        1,
        &[TENSOR, "I32"],
    );
    // A weights file for another model.
    let other = repo("fixtures/yolo/yolo11n.f16.safetensors");
    assert_one_error(
        &run(&[
            "detect",
            &img,
            "-m",
            "yolo11n-ghost",
            "-w",
            other.to_str().unwrap(),
        ]),
        1,
        &["yolo11n.f16.safetensors", "model.0."],
    );
}

#[test]
fn nan_weights_and_extra_tensors_are_warnings() {
    let dir = scratch("warn");
    let path = edited_weights(&dir, "odd.safetensors", |t| {
        let x = t.iter_mut().find(|x| x.0 == TENSOR).unwrap();
        x.3[8..12].copy_from_slice(&f32::NAN.to_le_bytes());
        t.push((
            "model.42.stray.weight".into(),
            Dtype::F32,
            vec![2],
            [0u8; 8].to_vec(),
        ));
    });
    let o = run(&[
        "detect",
        &gray_image(),
        "-w",
        path.to_str().unwrap(),
        "--imgsz",
        "96",
        "-q",
    ]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    let warnings: Vec<&str> = err.lines().filter(|l| l.starts_with("warning: ")).collect();
    assert_eq!(warnings.len(), err.lines().count(), "only warnings:\n{err}");
    assert!(
        warnings
            .iter()
            .any(|w| w.contains(TENSOR) && w.contains("non-finite") && w.contains("index 2")),
        "{err}"
    );
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("1 tensor(s) not used") && w.contains("model.42.stray.weight")),
        "{err}"
    );
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("gray_97x131.png"),
        "the image was processed"
    );
}

// ---- model YAML ----

#[test]
fn bad_model_yaml_files_are_one_line_errors() {
    let dir = scratch("yaml");
    let good = dir.join("good.yaml");
    std::fs::write(&good, YAML).unwrap();
    let o = run(&["info", "-m", good.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let img = gray_image();
    for (name, text, needles) in [
        (
            "module.yaml",
            YAML.replace("[[2, 3, 4], 1, Detect", "[[2, 3, 4], 1, Frobnicate"),
            vec!["layer 5", "Frobnicate"],
        ),
        (
            "forward.yaml",
            YAML.replace("[[2, 3, 4], 1, Detect", "[[2, 3, 9], 1, Detect"),
            vec!["layer 5", "9"],
        ),
        (
            "from.yaml",
            YAML.replacen("[-1, 1, Conv, [32", "[-7, 1, Conv, [32", 1),
            vec!["layer 1", "-7"],
        ),
        (
            "argtype.yaml",
            YAML.replace("[16, 3, 2]", "[16, [3], 2]"),
            vec!["layer 0", "argument"],
        ),
        (
            "malformed.yaml",
            "nc: 3\nbackbone: [[-1, 1, Conv\n".to_string(),
            vec!["malformed.yaml"],
        ),
        (
            "nomodel.yaml",
            "hello: world\n".to_string(),
            vec!["nomodel.yaml"],
        ),
        (
            "binary.yaml",
            "\u{0}\u{1}\u{2}".to_string(),
            vec!["binary.yaml"],
        ),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        let p = path.to_str().unwrap();
        assert_one_error(&run(&["info", "-m", p]), 1, &needles);
        assert_one_error(&run(&["detect", &img, "-m", p]), 1, &needles);
    }
    assert_one_error(
        &run(&["info", "-m", dir.join("absent.yaml").to_str().unwrap()]),
        1,
        &["absent.yaml"],
    );
}

// ---- images ----

fn encode(image: &DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    image.write_to(&mut out, format).unwrap();
    out.into_inner()
}

/// A baseline JPEG whose SOF0 claims 65535 x 65535 pixels.
fn huge_jpeg() -> Vec<u8> {
    let mut bytes = encode(&DynamicImage::new_rgb8(16, 16), ImageFormat::Jpeg);
    let sof = bytes.windows(2).position(|p| p == [0xff, 0xc0]).unwrap();
    bytes[sof + 5..sof + 9].copy_from_slice(&[0xff; 4]);
    bytes
}

#[test]
fn directory_of_mixed_files_processes_the_good_ones() {
    let dir = scratch("mixed");
    let images = dir.join("images");
    std::fs::create_dir_all(images.join("nested")).unwrap();
    let picture = DynamicImage::ImageRgb8(ImageBuffer::from_fn(50, 40, |x, y| {
        Rgb([x as u8 * 5, y as u8 * 6, 90])
    }));
    let png = encode(&picture, ImageFormat::Png);
    let jpg = encode(&picture, ImageFormat::Jpeg);
    std::fs::write(images.join("a_good.png"), &png).unwrap();
    std::fs::write(images.join("b_good.jpg"), &jpg).unwrap();
    std::fs::write(images.join("c_empty.jpg"), b"").unwrap();
    std::fs::write(images.join("d_truncated.png"), &png[..png.len() / 2]).unwrap();
    std::fs::write(images.join("e_truncated.jpg"), &jpg[..jpg.len() - 10]).unwrap();
    std::fs::write(images.join("f_text.jpg"), b"this is not an image").unwrap();
    std::fs::write(images.join("g_huge.jpg"), huge_jpeg()).unwrap();
    std::fs::write(
        images.join("h_tiny.png"),
        encode(&DynamicImage::new_rgb8(1, 1), ImageFormat::Png),
    )
    .unwrap();
    std::fs::write(images.join("notes.txt"), b"ignored: not an image extension").unwrap();
    let json = dir.join("out.json");
    let o = run(&[
        "detect",
        images.to_str().unwrap(),
        "-w",
        repo(WEIGHTS).to_str().unwrap(),
        "--imgsz",
        "96",
        "-q",
        "--json",
        json.to_str().unwrap(),
    ]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("error: ")).collect();
    assert_eq!(errors.len(), 6, "five bad files and the summary:\n{err}");
    for bad in [
        "c_empty.jpg",
        "d_truncated.png",
        "e_truncated.jpg",
        "f_text.jpg",
        "g_huge.jpg",
    ] {
        assert!(
            errors.iter().any(|l| l.contains(bad)),
            "{bad} not reported:\n{err}"
        );
    }
    assert!(
        errors
            .iter()
            .any(|l| l.contains("g_huge.jpg") && l.contains("too large")),
        "{err}"
    );
    assert_eq!(
        errors.last().unwrap(),
        &"error: 5 of 8 inputs failed",
        "{err}"
    );
    let records: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let paths: Vec<&str> = records
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths.len(), 3, "{paths:?}");
    for (path, good) in paths.iter().zip(["a_good.png", "b_good.jpg", "h_tiny.png"]) {
        assert!(path.ends_with(good), "{paths:?}");
    }
}

#[test]
fn a_single_bad_image_fails_the_run() {
    let dir = scratch("single");
    let path = dir.join("zero.png");
    std::fs::write(&path, b"").unwrap();
    let o = run(&[
        "detect",
        path.to_str().unwrap(),
        "-m",
        "yolo11n-ghost",
        "--imgsz",
        "64",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.lines()
            .any(|l| l.starts_with("error: ") && l.contains("zero.png")),
        "{err}"
    );
    assert!(err.contains("error: 1 of 1 inputs failed"), "{err}");
}

// ---- arguments ----

#[test]
fn out_of_range_arguments_are_usage_errors() {
    let img = gray_image();
    for (args, needle) in [
        (vec!["--conf", "nan"], "--conf"),
        (vec!["--conf", "1.0001"], "--conf"),
        (vec!["--iou", "-1"], "--iou"),
        (vec!["--iou", "inf"], "--iou"),
        (vec!["--threads", "0"], "--threads"),
        (vec!["--threads", "-2"], "--threads"),
        (vec!["--imgsz", "-32"], "--imgsz"),
        (vec!["--imgsz", "640,480,3"], "--imgsz"),
        (vec!["--max-det", "many"], "--max-det"),
        (vec!["--classes", "a"], "--classes"),
    ] {
        let mut full = vec!["detect", img.as_str(), "-m", "yolo11n-ghost"];
        full.extend(&args);
        assert_one_error(&run(&full), 2, &[needle]);
    }
    assert_one_error(
        &run(&["bench", "-m", "yolo11n-ghost", "--threads", "0"]),
        2,
        &["--threads"],
    );
}

#[test]
fn imgsz_is_rounded_up_and_unknown_models_listed() {
    let o = run(&[
        "detect",
        &gray_image(),
        "-m",
        "yolo11n-ghost",
        "--imgsz",
        "33,65",
        "-q",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(
            "warning: imgsz=33x65 must be a multiple of max stride 32, updating to 64x96"
        ),
        "{}",
        stderr(&o)
    );
    let line = assert_one_error(
        &run(&["detect", &gray_image(), "-m", "yolo12n"]),
        1,
        &["yolo12n"],
    );
    for known in ["yolo11n", "yolo11x", "yolo11n-ghost", "yolo11x-ghost"] {
        assert!(line.contains(known), "{line}");
    }
}
