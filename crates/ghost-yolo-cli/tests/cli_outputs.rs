//! Issue 19 through the `ghost-yolo` binary, each run under a timeout: outputs never destroy an
//! input (data loss), special files never block (FIFO, /dev/zero), file names stay exact in
//! JSON and saved names, and text from files never reaches the terminal raw (terminal
//! injection). Each assertion fails on the code before the fix.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use safetensors::SafeTensors;

mod common;
use common::{output_within, repo, scratch};

/// The embedded default model's weights (6 shape classes).
const SHAPES_WEIGHTS: &str = "crates/yolo11-ghost/assets/yolo11n-ghost-shapes.safetensors";
const SHAPES_IMAGE: &str = "fixtures/images/shapes/shapes_val_0.jpg";

/// Runs the binary with `args`; killed (and the test failed) after 120 s.
fn run(args: &[&std::ffi::OsStr]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ghost-yolo"));
    cmd.args(args);
    output_within(&mut cmd, Duration::from_secs(120))
}

fn os(s: &str) -> &std::ffi::OsStr {
    std::ffi::OsStr::new(s)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn weights_args(w: &Path) -> Vec<&std::ffi::OsStr> {
    vec![os("--weights"), w.as_os_str()]
}

/// `detect IMAGE --save DIR` where DIR holds IMAGE replaced the photo with its annotated copy;
/// `--json` naming an input overwrote it.
#[test]
fn outputs_never_replace_inputs() {
    let dir = scratch("no-clobber");
    let photo = dir.join("photo.jpg");
    std::fs::copy(repo(SHAPES_IMAGE), &photo).unwrap();
    let original = std::fs::read(&photo).unwrap();
    let weights = repo(SHAPES_WEIGHTS);
    let mut args = vec![os("detect"), photo.as_os_str(), os("-q")];
    args.extend(weights_args(&weights));

    // --save into the input's own directory: it exists, so the output goes to DIR2.
    let mut save = args.clone();
    save.extend([os("--save"), dir.as_os_str()]);
    let o = run(&save);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(std::fs::read(&photo).unwrap(), original, "input rewritten");
    let dir2 = PathBuf::from(format!("{}2", dir.display()));
    assert!(dir2.join("photo.jpg").is_file(), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("writing"), "{}", text(&o.stderr));
    std::fs::remove_dir_all(&dir2).unwrap();

    // --exist-ok: the same directory, but the input is still never overwritten.
    let mut reuse = save.clone();
    reuse.push(os("--exist-ok"));
    let o = run(&reuse);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("is one of this command's inputs"),
        "{}",
        text(&o.stderr)
    );
    assert_eq!(std::fs::read(&photo).unwrap(), original, "input rewritten");

    // --json naming the input: a free name instead; with --exist-ok, refused.
    let mut json = args.clone();
    json.extend([os("--json"), photo.as_os_str()]);
    let o = run(&json);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(std::fs::read(&photo).unwrap(), original, "input rewritten");
    let records: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("photo2.jpg")).unwrap()).unwrap();
    assert_eq!(records.as_array().unwrap().len(), 1);
    json.push(os("--exist-ok"));
    let o = run(&json);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    assert_eq!(std::fs::read(&photo).unwrap(), original, "input rewritten");
    // The weights are inputs too.
    let mut over_weights = args.clone();
    let weights_copy = dir.join("w.safetensors");
    std::fs::copy(&weights, &weights_copy).unwrap();
    let weights_bytes = std::fs::read(&weights_copy).unwrap();
    over_weights.truncate(3);
    over_weights.extend([
        os("--weights"),
        weights_copy.as_os_str(),
        os("--json"),
        weights_copy.as_os_str(),
        os("--exist-ok"),
    ]);
    let o = run(&over_weights);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    assert_eq!(std::fs::read(&weights_copy).unwrap(), weights_bytes);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A symlink planted under an output's name made `--save` write through it, outside the
/// output directory.
#[cfg(unix)]
#[test]
fn outputs_never_follow_a_planted_symlink() {
    let dir = scratch("symlink");
    let photo = dir.join("photo.jpg");
    std::fs::copy(repo(SHAPES_IMAGE), &photo).unwrap();
    let victim = dir.join("victim.txt");
    std::fs::write(&victim, b"precious").unwrap();
    let out = dir.join("out");
    std::fs::create_dir(&out).unwrap();
    std::os::unix::fs::symlink(&victim, out.join("photo.jpg")).unwrap();
    let weights = repo(SHAPES_WEIGHTS);
    let mut args = vec![os("detect"), photo.as_os_str(), os("-q")];
    args.extend(weights_args(&weights));
    args.extend([os("--save"), out.as_os_str(), os("--exist-ok")]);
    let o = run(&args);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("symlink"), "{}", text(&o.stderr));
    assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
    // No temporary file left behind either.
    let left: Vec<_> = std::fs::read_dir(&out).unwrap().collect();
    assert_eq!(left.len(), 1, "{left:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A FIFO given as image or weights blocked forever; /dev/zero was read until memory ran out.
#[cfg(unix)]
#[test]
fn special_files_are_one_error_line_and_never_block() {
    let dir = scratch("special");
    let fifo = dir.join("frame.jpg");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let weights = repo(SHAPES_WEIGHTS);
    let mut args = vec![os("detect"), fifo.as_os_str()];
    args.extend(weights_args(&weights));
    let start = Instant::now();
    let o = run(&args);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("FIFO"), "{}", text(&o.stderr));
    assert!(start.elapsed() < Duration::from_secs(60));
    let photo = repo(SHAPES_IMAGE);
    for weights in [fifo.as_os_str(), os("/dev/zero")] {
        let o = run(&[os("detect"), photo.as_os_str(), os("--weights"), weights]);
        assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
        let err = text(&o.stderr);
        assert!(err.contains("not a regular file"), "{err}");
        assert_eq!(
            err.lines().filter(|l| l.starts_with("error:")).count(),
            1,
            "{err}"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Non-UTF-8 names came out as U+FFFD in JSON and as `image.jpg` when saved; a newline in a
/// name forged an extra line of the report.
#[cfg(unix)]
#[test]
fn file_names_are_exact_in_json_and_saved_names_and_escaped_on_the_terminal() {
    use std::os::unix::ffi::OsStrExt;
    let dir = scratch("names");
    let odd = dir.join(std::ffi::OsStr::from_bytes(
        b"shape\xff\nimage 9 of 9 forged.jpg",
    ));
    std::fs::copy(repo(SHAPES_IMAGE), &odd).unwrap();
    let out = dir.join("out");
    let json = dir.join("o.json");
    let weights = repo(SHAPES_WEIGHTS);
    let mut args = vec![os("detect"), odd.as_os_str()];
    args.extend(weights_args(&weights));
    args.extend([
        os("--save"),
        out.as_os_str(),
        os("--json"),
        json.as_os_str(),
    ]);
    let o = run(&args);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let stdout = text(&o.stdout);
    assert_eq!(
        stdout.lines().filter(|l| l.starts_with("image ")).count(),
        1,
        "a forged report line:\n{stdout}"
    );
    assert!(
        stdout.contains("shape\\xff\\nimage 9 of 9 forged.jpg"),
        "{stdout}"
    );
    // JSON: valid, and the exact bytes under Python's surrogateescape convention.
    let raw = std::fs::read_to_string(&json).unwrap();
    assert!(
        raw.contains(r#"shape\udcff\nimage 9 of 9 forged.jpg""#),
        "{raw}"
    );
    let records: serde_json::Value = serde_json::from_str(&raw.replace("\\udcff", "\\u00ff"))
        .expect("valid JSON apart from the lone surrogate serde_json refuses to decode");
    assert_eq!(records.as_array().unwrap().len(), 1);
    // Saved under the same bytes.
    let saved = out.join(std::ffi::OsStr::from_bytes(
        b"shape\xff\nimage 9 of 9 forged.jpg",
    ));
    assert!(
        saved.is_file(),
        "{:?}",
        std::fs::read_dir(&out).unwrap().collect::<Vec<_>>()
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Class names from weights metadata with escape sequences, CR, LF or NUL reached the
/// terminal raw.
#[test]
fn class_names_never_reach_the_terminal_raw() {
    let dir = scratch("names-esc");
    let bytes = std::fs::read(repo(SHAPES_WEIGHTS)).unwrap();
    let (_, meta) = SafeTensors::read_metadata(&bytes).unwrap();
    let mut metadata: HashMap<String, String> = meta.metadata().clone().unwrap();
    let evil: Vec<String> = (0..6)
        .map(|i| format!("c{i}\u{1b}]0;pwned\u{7}\u{1b}[2J\r\nfake\0"))
        .collect();
    metadata.insert("names".into(), serde_json::to_string(&evil).unwrap());
    let file = SafeTensors::deserialize(&bytes).unwrap();
    let out = safetensors::serialize(file.tensors(), Some(metadata)).unwrap();
    let weights = dir.join("evil.safetensors");
    std::fs::write(&weights, out).unwrap();
    let photo = repo(SHAPES_IMAGE);
    let o = run(&[
        os("detect"),
        photo.as_os_str(),
        os("--weights"),
        weights.as_os_str(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let stdout = text(&o.stdout);
    assert!(
        stdout.contains("pwned"),
        "some class was detected and named:\n{stdout}"
    );
    for raw in ['\u{1b}', '\r', '\0', '\u{7}'] {
        assert!(
            !stdout.contains(raw),
            "{raw:?} reached the terminal:\n{stdout:?}"
        );
        assert!(!text(&o.stderr).contains(raw), "{raw:?} on stderr");
    }
    assert!(
        stdout.contains("\\x1b]0;pwned\\x07\\x1b[2J\\r\\nfake\\0"),
        "{stdout}"
    );
    assert!(
        !stdout.lines().any(|l| l.starts_with("fake")),
        "a forged line:\n{stdout}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
