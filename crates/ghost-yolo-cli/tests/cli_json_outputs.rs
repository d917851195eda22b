//! Issue 19 (items 2 and 4) for `track --json` and `val --json`: the JSON goes through the
//! temp-file-and-rename writer (src/output.rs), so it never replaces an input (the dataset YAML,
//! a label file, an input frame), never leaves a half file, fails with one clean line when its
//! directory does not exist, and holds file names exactly (non-UTF-8 bytes as `\udcXX`, as
//! `detect --json`). Each assertion fails when the writer is bypassed (`std::fs::write`).

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

mod common;
use common::{output_within, repo, scratch, stderr};

const SHAPES_IMAGE: &str = "fixtures/images/shapes/shapes_val_0.jpg";

/// Runs the binary with `args`; killed (and the test failed) after 120 s.
fn run(args: &[&OsStr]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ghost-yolo"));
    cmd.args(args).args(["--threads", "2"]);
    output_within(&mut cmd, Duration::from_secs(120))
}

fn os(s: &str) -> &OsStr {
    OsStr::new(s)
}

/// Exit 1 with exactly one `error:` line on stderr.
fn assert_one_error(o: &Output, needle: &str) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("error: ")).collect();
    assert_eq!(errors.len(), 1, "{err}");
    assert!(errors[0].contains(needle), "{err}");
    assert!(!err.contains("internal error"), "{err}");
}

/// A one-image dataset (the shipped synthetic split's first image and its labels) in `dir`.
fn dataset(dir: &Path) -> (PathBuf, PathBuf) {
    for sub in ["images/val", "labels/val"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
    }
    std::fs::copy(
        repo("fixtures/synthetic/images/val/val_00000.jpg"),
        dir.join("images/val/val_00000.jpg"),
    )
    .unwrap();
    let label = dir.join("labels/val/val_00000.txt");
    std::fs::copy(repo("fixtures/synthetic/labels/val/val_00000.txt"), &label).unwrap();
    let yaml = dir.join("data.yaml");
    std::fs::write(
        &yaml,
        "path: .\nval: images/val\nnames:\n  0: circle\n  1: square\n  2: triangle\n  3: star\n  4: cross\n  5: ring\n",
    )
    .unwrap();
    (yaml, label)
}

#[cfg(unix)]
#[test]
fn val_json_never_replaces_an_input_and_keeps_the_data_path_exact() {
    use std::os::unix::ffi::OsStrExt;
    // A dataset directory whose name is not UTF-8.
    let dir = scratch("val").join(OsStr::from_bytes(b"set\xff"));
    let (yaml, label) = dataset(&dir);
    let (yaml_bytes, label_bytes) = (
        std::fs::read(&yaml).unwrap(),
        std::fs::read(&label).unwrap(),
    );
    let val = |json: &Path, exist_ok: bool| {
        let mut args = vec![
            os("val"),
            os("--data"),
            yaml.as_os_str(),
            os("--batch"),
            os("1"),
            os("--json"),
            json.as_os_str(),
        ];
        if exist_ok {
            args.push(os("--exist-ok"));
        }
        run(&args)
    };

    // Onto the dataset YAML or a label file with --exist-ok: refused up front, inputs intact.
    for input in [&yaml, &label] {
        let o = val(input, true);
        assert_one_error(&o, "is one of this command's inputs");
        assert_eq!(std::fs::read(&yaml).unwrap(), yaml_bytes);
        assert_eq!(std::fs::read(&label).unwrap(), label_bytes);
    }
    // Without --exist-ok: the next free name (Ultralytics' increment_path), the YAML intact.
    let o = val(&yaml, false);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(std::fs::read(&yaml).unwrap(), yaml_bytes);
    let raw = std::fs::read_to_string(dir.join("data2.yaml")).unwrap();
    // The data path byte for byte: \xff as \udcff (Python's surrogateescape).
    let want = format!(
        "\"data\": \"{}\"",
        yaml.to_string_lossy().replace('\u{fffd}', "\\udcff")
    );
    assert!(raw.contains(&want), "{want} not in\n{raw}");
    let doc: serde_json::Value = serde_json::from_str(&raw.replace("\\udcff", "\\u00ff")).unwrap();
    assert_eq!(doc["images"], 1);
    assert!(doc["map50"].as_f64().unwrap() > 0.5, "{doc}");

    // A directory that does not exist: one clean error line, no file, no temporary left.
    let missing = dir.join("no/such/dir/metrics.json");
    let o = val(&missing, false);
    assert_one_error(&o, "does not exist");
    assert!(!dir.join("no").exists());
    std::fs::remove_dir_all(dir.parent().unwrap()).unwrap();
}

#[cfg(unix)]
#[test]
fn track_json_on_images_never_replaces_an_input_and_keeps_names_exact() {
    use std::os::unix::ffi::OsStrExt;
    let dir = scratch("track_json");
    let frame = dir.join(OsStr::from_bytes(b"frame\xff.jpg"));
    std::fs::copy(repo(SHAPES_IMAGE), &frame).unwrap();
    let original = std::fs::read(&frame).unwrap();

    // Onto the input frame with --exist-ok: refused before any work, the frame intact.
    let o = run(&[
        os("track"),
        frame.as_os_str(),
        os("--json"),
        frame.as_os_str(),
        os("--exist-ok"),
    ]);
    assert_one_error(&o, "is one of this command's inputs");
    assert_eq!(std::fs::read(&frame).unwrap(), original);

    // Into a directory that does not exist: one clean error line.
    let missing = dir.join("none/tracks.json");
    let o = run(&[
        os("track"),
        frame.as_os_str(),
        os("--json"),
        missing.as_os_str(),
    ]);
    assert_one_error(&o, "does not exist");

    // The frame's name exactly in the JSON, with the frame index and track IDs.
    let json = dir.join("tracks.json");
    let o = run(&[
        os("track"),
        frame.as_os_str(),
        os("--json"),
        json.as_os_str(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let raw = std::fs::read_to_string(&json).unwrap();
    assert!(raw.contains(r#"frame\udcff.jpg""#), "{raw}");
    let records: serde_json::Value =
        serde_json::from_str(&raw.replace("\\udcff", "\\u00ff")).unwrap();
    let record = &records.as_array().unwrap()[0];
    assert_eq!(record["frame"], 0);
    assert!(record["detections"].as_array().unwrap()[0]["track_id"].is_u64());
    let left: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n.as_bytes().starts_with(b"."))
        .collect();
    assert!(left.is_empty(), "temporary files left: {left:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}
