//! The `ghost-yolo` binary: argument errors (one line, exit code 2), runtime errors (one line,
//! exit code 1, bad files skipped), the Ultralytics-shaped JSON, annotated images, `info`,
//! `forward` and `bench`.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

mod common;
use common::{repo, scratch, WEIGHTS};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ghost-yolo"))
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("run ghost-yolo")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Every stderr line is a tidy `error:` / `warning:` line, never a panic report.
fn assert_tidy(o: &Output) {
    let err = stderr(o);
    assert!(!err.contains("panicked"), "panic text on stderr:\n{err}");
    assert!(
        !err.contains("RUST_BACKTRACE"),
        "panic text on stderr:\n{err}"
    );
    for line in err.lines().filter(|l| !l.trim().is_empty()) {
        assert!(
            line.starts_with("error: ") || line.starts_with("warning: "),
            "untidy stderr line {line:?} in:\n{err}"
        );
    }
}

fn assert_usage_error(args: &[&str], needle: &str) {
    let o = run(args);
    assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
    assert_tidy(&o);
    let err = stderr(&o);
    assert_eq!(
        err.trim().lines().count(),
        1,
        "{args:?}: not one line:\n{err}"
    );
    assert!(err.contains(needle), "{args:?}: {err:?} lacks {needle:?}");
}

#[test]
fn help_lists_the_subcommands() {
    let o = run(&["--help"]);
    assert!(o.status.success());
    let out = stdout(&o);
    for cmd in ["detect", "info", "forward", "bench"] {
        assert!(out.contains(cmd), "{out}");
    }
    let o = run(&["detect", "--help"]);
    assert!(o.status.success());
    for flag in [
        "--model",
        "--weights",
        "--conf",
        "--iou",
        "--max-det",
        "--agnostic",
        "--classes",
        "--imgsz",
        "--rect",
        "--threads",
        "--json",
        "--save",
    ] {
        assert!(stdout(&o).contains(flag), "detect --help lacks {flag}");
    }
}

#[test]
fn invalid_arguments_are_one_line_usage_errors() {
    let img = repo("fixtures/images/gray_97x131.png");
    let img = img.to_str().unwrap();
    assert_usage_error(&["detect", img, "-m", "yolo11n", "--conf", "1.5"], "--conf");
    assert_usage_error(&["detect", img, "-m", "yolo11n", "--iou", "-0.1"], "--iou");
    assert_usage_error(
        &["detect", img, "-m", "yolo11n", "--conf", "abc"],
        "not a number",
    );
    assert_usage_error(
        &["detect", img, "-m", "yolo11n", "--threads", "0"],
        "at least 1",
    );
    assert_usage_error(
        &["detect", img, "-m", "yolo11n", "--imgsz", "12,x"],
        "image size",
    );
    assert_usage_error(&["detect", img, "-m", "yolo11n", "--bogus"], "--bogus");
    assert_usage_error(&["detect", "-m", "yolo11n"], "IMAGES");
    assert_usage_error(&["bench", "-m", "yolo11n", "--runs", "0"], "at least 1");
    assert_usage_error(&["frobnicate"], "frobnicate");
}

#[test]
fn unknown_model_lists_the_known_ones() {
    let img = repo("fixtures/images/gray_97x131.png");
    for args in [
        vec!["detect", img.to_str().unwrap(), "-m", "yolo11q"],
        vec!["info", "-m", "yolo11q"],
        vec!["info", "-m", "yolo11q", "--nc", "3"],
    ] {
        let o = run(&args);
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        assert_tidy(&o);
        let err = stderr(&o);
        assert!(
            err.contains("yolo11q") && err.contains("yolo11n-ghost"),
            "{err}"
        );
    }
}

#[test]
fn missing_weights_file_is_a_clear_error() {
    let img = repo("fixtures/images/gray_97x131.png");
    let o = run(&[
        "detect",
        img.to_str().unwrap(),
        "-m",
        "yolo11n-ghost",
        "-w",
        "/no/such/w.safetensors",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert_tidy(&o);
    assert!(
        stderr(&o).contains("/no/such/w.safetensors"),
        "{}",
        stderr(&o)
    );
}

/// The JSON records of `detect --json` for the given inputs.
fn detect_json(dir: &Path, inputs: &[&Path], extra: &[&str]) -> (Output, Value) {
    let json = dir.join("out.json");
    let weights = repo(WEIGHTS);
    let mut args = vec!["detect"];
    args.extend(inputs.iter().map(|p| p.to_str().unwrap()));
    // No --model: the weights file names its model (metadata `model_yaml`).
    args.extend([
        "-w",
        weights.to_str().unwrap(),
        "--imgsz",
        "160",
        "--json",
        json.to_str().unwrap(),
    ]);
    args.extend(extra);
    let o = run(&args);
    let text = std::fs::read_to_string(&json).unwrap_or_else(|e| panic!("{e}: {}", stderr(&o)));
    (o, serde_json::from_str(&text).unwrap())
}

#[test]
fn json_has_the_ultralytics_shape_and_values() {
    let dir = scratch("json");
    let images = repo("fixtures/images");
    let (o, records) = detect_json(&dir, &[&images], &["-q"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_tidy(&o);
    let records = records.as_array().unwrap();
    assert_eq!(records.len(), 5, "one record per image in the directory");

    let predict: Value = serde_json::from_str(
        &std::fs::read_to_string(repo("fixtures/yolo/predict_yolo11n-ghost.json")).unwrap(),
    )
    .unwrap();
    for record in records {
        let path = record["path"].as_str().unwrap();
        let name = Path::new(path).file_name().unwrap().to_str().unwrap();
        let reference = predict["images"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["file"].as_str().unwrap().ends_with(name))
            .unwrap();
        let expected = reference["runs"]["160"]["to_json"].as_array().unwrap();
        let found = record["detections"].as_array().unwrap();
        assert_eq!(found.len(), expected.len(), "{name}");
        for (f, e) in found.iter().zip(expected) {
            let keys: Vec<&String> = f.as_object().unwrap().keys().collect();
            assert_eq!(keys, ["box", "class", "confidence", "name"], "{name}: keys");
            assert_eq!(f["name"], e["name"], "{name}");
            assert_eq!(f["class"], e["class"], "{name}");
            // Both sides round to 5 decimals; the pipelines agree to ~6e-5 px and ~2e-7.
            let close = |a: &Value, b: &Value, tol: f64| {
                (a.as_f64().unwrap() - b.as_f64().unwrap()).abs() <= tol
            };
            assert!(
                close(&f["confidence"], &e["confidence"], 2e-5),
                "{name}: {f} vs {e}"
            );
            for k in ["x1", "y1", "x2", "y2"] {
                assert!(
                    close(&f["box"][k], &e["box"][k], 2e-4),
                    "{name}: {f} vs {e}"
                );
            }
        }
    }
}

#[test]
fn bad_files_are_reported_skipped_and_fail_the_run() {
    let dir = scratch("bad");
    let broken = dir.join("broken.png");
    std::fs::write(&broken, b"definitely not a PNG").unwrap();
    let good = repo("fixtures/images/gray_97x131.png");
    let missing = dir.join("missing.jpg");
    let (o, records) = detect_json(&dir, &[&broken, &good, &missing], &[]);
    assert_eq!(o.status.code(), Some(1));
    assert_tidy(&o);
    let err = stderr(&o);
    assert!(err.contains("broken.png"), "{err}");
    assert!(err.contains("missing.jpg"), "{err}");
    assert!(err.contains("2 of 3 inputs failed"), "{err}");
    let records = records.as_array().unwrap();
    assert_eq!(records.len(), 1, "the good image is still processed");
    assert!(records[0]["path"]
        .as_str()
        .unwrap()
        .ends_with("gray_97x131.png"));
    assert!(
        stdout(&o).contains("gray_97x131.png"),
        "table printed for the good image"
    );
}

#[test]
fn save_writes_annotated_copies() {
    let dir = scratch("save");
    let out = dir.join("annotated");
    let png = repo("fixtures/images/rgb_333x250.png");
    let jpg = repo("fixtures/images/shapes_200x150.jpg");
    let (o, _) = detect_json(&dir, &[&png, &jpg], &["--save", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    for (name, original) in [("rgb_333x250.png", &png), ("shapes_200x150.jpg", &jpg)] {
        let saved = image::open(out.join(name))
            .unwrap_or_else(|e| panic!("{name}: {e}"))
            .to_rgb8();
        let source = image::open(original).unwrap().to_rgb8();
        assert_eq!(saved.dimensions(), source.dimensions(), "{name}");
        let changed = saved
            .pixels()
            .zip(source.pixels())
            .filter(|(a, b)| a.0.iter().zip(b.0).any(|(x, y)| x.abs_diff(y) > 40))
            .count();
        assert!(
            changed > 500,
            "{name}: only {changed} pixels changed: no boxes drawn?"
        );
    }
}

#[test]
fn imgsz_not_a_multiple_of_32_is_rounded_with_a_warning() {
    let dir = scratch("imgsz");
    let img = repo("fixtures/images/gray_97x131.png");
    let json = dir.join("o.json");
    let o = run(&[
        "detect",
        img.to_str().unwrap(),
        "-m",
        "yolo11n-ghost",
        "--imgsz",
        "150",
        "--json",
        json.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_tidy(&o);
    assert!(stderr(&o).contains("updating to 160x160"), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("seeded random weights"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn info_prints_the_summary_and_json() {
    let o = run(&["info", "-m", "yolo11n-ghost"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("YOLO11n-ghost summary: "), "{out}");
    assert!(out.contains("1,827,210 parameters"), "{out}");
    let o = run(&[
        "info",
        "-m",
        "yolo11n-ghost",
        "--json",
        "--nc",
        "3",
        "--imgsz",
        "320",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["imgsz"], serde_json::json!([320, 320]));
    assert!(v["layers"].as_array().unwrap().len() > 10);
}

#[test]
fn forward_writes_output0_like_pytorch() {
    let dir = scratch("forward");
    let out = dir.join("out.safetensors");
    let input = repo("fixtures/yolo/yolo11n-ghost.io.safetensors");
    let weights = repo(WEIGHTS);
    let o = run(&[
        "forward",
        "-m",
        "yolo11n-ghost",
        "-w",
        weights.to_str().unwrap(),
        "--input",
        input.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let ours = std::fs::read(&out).unwrap();
    let reference = std::fs::read(&input).unwrap();
    let ours = safetensors::SafeTensors::deserialize(&ours).unwrap();
    let reference = safetensors::SafeTensors::deserialize(&reference).unwrap();
    let (a, b) = (
        ours.tensor("output0").unwrap(),
        reference.tensor("output0").unwrap(),
    );
    assert_eq!(a.shape(), b.shape());
    let f = |d: &[u8]| -> Vec<f32> {
        d.chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect()
    };
    // Boxes reach ~500 px; the fixture's own f32-vs-f64 spread is 6e-5 of 509: 1e-3 absolute
    // bounds a correct f32 forward with margin.
    let max = f(a.data())
        .iter()
        .zip(f(b.data()))
        .map(|(x, y)| (x - y).abs())
        .fold(0f32, f32::max);
    assert!(max <= 1e-3, "max |output0 - PyTorch| = {max}");

    // A file without `images` names what it has.
    let o = run(&[
        "forward",
        "-m",
        "yolo11n-ghost",
        "--input",
        out.to_str().unwrap(),
        "--output",
        dir.join("x.safetensors").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert_tidy(&o);
    assert!(
        stderr(&o).contains("no tensor named \"images\"") && stderr(&o).contains("output0"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn bench_reports_latency_statistics() {
    let o = run(&[
        "bench",
        "-m",
        "yolo11n-ghost",
        "--imgsz",
        "64",
        "--runs",
        "3",
        "--warmup",
        "1",
        "--threads",
        "1",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    for needle in ["median ", " ms, min ", " p90 ", "GFLOP/s", "seeded weights"] {
        assert!(out.contains(needle), "{out}");
    }
}
