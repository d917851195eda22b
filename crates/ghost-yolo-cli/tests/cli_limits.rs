//! Issue 19's "small inputs, unbounded resources" through the binary, each run under a 1 GiB
//! address-space limit (`prlimit --as`, the measure; skipped where `prlimit` is
//! missing) and a timeout: a clean `error:` line and a non-zero exit, never an abort, a signal
//! or a hang. Before the fixes these allocated 3.9-33 GB, overflowed the stack or hung.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::{repo, scratch, MINI_MODEL_YAML as MINI};

/// 1 GiB of address space: the binary itself, its threads' stacks and a model's weights fit;
/// none of the allocations these inputs used to ask for do.
const ADDRESS_SPACE: &str = "--as=1073741824";

fn limited(args: &[&str]) -> Option<Output> {
    if Command::new("prlimit").arg("--version").output().is_err() {
        eprintln!("prlimit not found: skipping the address-space check");
        return None;
    }
    let mut child = Command::new("prlimit")
        .arg(ADDRESS_SPACE)
        .arg(env!("CARGO_BIN_EXE_ghost-yolo"))
        .args(args)
        .env("RAYON_NUM_THREADS", "2")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("{args:?}: no answer within 60 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Some(child.wait_with_output().unwrap())
}

/// Exit `code` with exactly one `error:` line holding `needle`, and no panic or abort.
fn clean_error(o: &Output, code: i32, needle: &str) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(code), "{err}");
    assert!(
        !err.contains("panicked") && !err.contains("memory allocation"),
        "{err}"
    );
    let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "{err}");
    assert!(errors[0].contains(needle), "{err}");
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_string()
}

#[test]
fn hostile_model_yaml_is_refused_within_a_gigabyte() {
    let dir = scratch("yaml");
    let mut laughs = String::from("a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for i in 1..9 {
        let p = i - 1;
        laughs.push_str(&format!(
            "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
        ));
    }
    let cases = [
        ("bomb.yaml", format!("{laughs}{MINI}"), "aliases"),
        (
            "deep.yaml",
            format!("{MINI}x:\n{}y\n", "- ".repeat(30_000)),
            "nested",
        ),
        (
            "inf.yaml",
            format!("depth_multiple: .inf\n{MINI}"),
            "depth_multiple",
        ),
        (
            "huge.yaml",
            format!("width_multiple: 1e12\n{MINI}"),
            "width_multiple",
        ),
        (
            "ratio.yaml",
            MINI.replace(
                "  - [-1, 1, Conv, [32, 3, 2]]\nhead",
                "  - [-1, 1, C2f, [32, False, 1, 1e300]]\nhead",
            ),
            "e",
        ),
        (
            "big.yaml",
            format!("{MINI}#{}\n", "x".repeat(100 << 20)),
            "GHOST_YOLO_MAX_YAML_BYTES",
        ),
    ];
    let image = repo("fixtures/images/shapes/shapes_val_0.jpg");
    let image = image.to_str().unwrap();
    for (name, text, needle) in cases {
        let path = write(&dir, name, &text);
        for command in ["info", "detect"] {
            let args: Vec<&str> = match command {
                "info" => vec!["info", "--model", &path],
                _ => vec!["detect", "--model", &path, image],
            };
            if let Some(o) = limited(&args) {
                clean_error(&o, 1, needle);
            }
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A stride-3 model with a huge conv skipped the parameter guard (64 is not a multiple of 3)
/// and allocated 33 GB.
#[test]
fn the_size_guard_holds_for_a_stride_3_model() {
    let dir = scratch("stride3");
    let path = write(
        &dir,
        "stride3.yaml",
        "nc: 3\nbackbone:\n  - [-1, 1, Conv, [65536, 3, 3]]\n  - [-1, 1, Conv, [65536, 3, 1]]\nhead:\n  - [[1], 1, Detect, [nc]]\n",
    );
    let image = repo("fixtures/images/shapes/shapes_val_0.jpg");
    if let Some(o) = limited(&["detect", "--model", &path, image.to_str().unwrap()]) {
        clean_error(&o, 1, "parameters, more than");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn imgsz_arguments_are_bounded() {
    let image = repo("fixtures/images/shapes/shapes_val_0.jpg");
    for bad in ["100000", "18446744073709551615", "9223372036854775808,640"] {
        if let Some(o) = limited(&["detect", image.to_str().unwrap(), "--imgsz", bad]) {
            clean_error(&o, 2, "GHOST_YOLO_MAX_IMGSZ");
        }
    }
}

#[cfg(unix)]
#[test]
fn forward_refuses_special_files() {
    let dir = scratch("forward");
    let out = dir.join("o.safetensors");
    if let Some(o) = limited(&[
        "forward",
        "--input",
        "/dev/zero",
        "--output",
        out.to_str().unwrap(),
    ]) {
        clean_error(&o, 1, "is a character device");
    }
    assert!(!out.exists());
    std::fs::remove_dir_all(&dir).unwrap();
}
