//! Throughput mode in the CLI: `detect --streams N` prints and writes exactly what the
//! one-stream run does (same table lines in the same order, byte-identical JSON, same errors
//! and exit code), on still images and on the video pipeline; `bench --streams N` and
//! `bench --batch B` report images/s.

use std::ffi::OsStr;
use std::path::Path;
use std::process::{Command, Output, Stdio};

mod common;
use common::{clip, have_ffmpeg, repo, scratch, WEIGHTS};

fn run(args: &[&OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ghost-yolo"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run ghost-yolo")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The report without the per-image time (`, 12.3 ms` ends each summary line), which is the
/// only thing allowed to differ between runs.
fn without_times(stdout: &str) -> String {
    stdout
        .lines()
        .map(|line| {
            match (
                line.starts_with("image ") || line.starts_with("video "),
                line.rfind(", "),
            ) {
                (true, Some(cut)) if line.ends_with(" ms") => &line[..cut],
                _ => line,
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `detect` on `dir` with `extra` arguments, JSON into `json`.
fn detect(dir: &Path, json: &Path, extra: &[&str]) -> Output {
    let mut args: Vec<&OsStr> = vec![OsStr::new("detect"), dir.as_os_str(), OsStr::new("-w")];
    let weights = repo(WEIGHTS);
    args.push(weights.as_os_str());
    for a in ["--imgsz", "160", "--conf", "0.05", "--json"] {
        args.push(OsStr::new(a));
    }
    args.push(json.as_os_str());
    args.extend(extra.iter().map(OsStr::new));
    run(&args)
}

/// Name and bytes of every file in `dir`, sorted by name (at least one, else the run saved
/// nothing and the comparison would be empty).
fn saved_files(dir: &Path) -> Vec<(std::ffi::OsString, Vec<u8>)> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let path = e.unwrap().path();
            (
                path.file_name().unwrap().to_owned(),
                std::fs::read(&path).unwrap(),
            )
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "nothing saved in {}", dir.display());
    files
}

#[test]
fn detect_on_streams_matches_one_stream() {
    let dir = scratch("detect-streams");
    let images = dir.join("images");
    std::fs::create_dir(&images).unwrap();
    let mut count = 0;
    for entry in std::fs::read_dir(repo("fixtures/images")).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            std::fs::copy(&path, images.join(path.file_name().unwrap())).unwrap();
            count += 1;
        }
    }
    // A file that claims to be an image but is not: that item fails, the others go on.
    std::fs::write(images.join("broken.jpg"), b"not a jpeg").unwrap();

    let reference_json = dir.join("one.json");
    let reference_saved = dir.join("saved-one");
    let one = detect(
        &images,
        &reference_json,
        &[
            "--threads",
            "2",
            "--save",
            reference_saved.to_str().unwrap(),
        ],
    );
    assert_eq!(one.status.code(), Some(1), "{}", text(&one.stderr));
    let reference = std::fs::read(&reference_json).unwrap();
    let reference_out = without_times(&text(&one.stdout));
    assert_eq!(
        reference_out.matches("\nimage ").count() + 1,
        count,
        "{reference_out}"
    );
    assert!(
        text(&one.stderr).contains("broken.jpg"),
        "{}",
        text(&one.stderr)
    );
    for streams in ["2", "3"] {
        let json = dir.join(format!("streams{streams}.json"));
        let saved = dir.join(format!("saved-{streams}"));
        let got = detect(
            &images,
            &json,
            &["--streams", streams, "--save", saved.to_str().unwrap()],
        );
        assert_eq!(got.status.code(), Some(1), "{}", text(&got.stderr));
        assert_eq!(
            std::fs::read(&json).unwrap(),
            reference,
            "--streams {streams}: JSON differs from the one-stream run"
        );
        assert_eq!(
            without_times(&text(&got.stdout)),
            reference_out,
            "--streams {streams}: report differs"
        );
        assert_eq!(text(&got.stderr), text(&one.stderr), "--streams {streams}");
        assert_eq!(
            saved_files(&saved),
            saved_files(&reference_saved),
            "--streams {streams}: annotated images differ"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `detect --streams N` on the video pipeline (videos, images among them, `--batch`,
/// `--vid-stride`, label files, JSON): batches run on N streams fed from one queue and come back
/// in order, so every output equals the one-stream run's: the same table lines in the same order
/// (per source, frame by frame), byte-identical JSON and label files. Needs ffmpeg.
#[test]
fn detect_streams_on_the_video_pipeline_matches_one_stream() {
    if !have_ffmpeg("detect_streams_on_the_video_pipeline_matches_one_stream") {
        return;
    }
    let dir = scratch("detect-streams-video");
    // Two videos with an image between them: the order must hold across sources too.
    let second = dir.join("second.mp4");
    std::fs::copy(clip(), &second).unwrap();
    let image = repo("fixtures/images/shapes_200x150.jpg");
    let detect = |streams: &str| {
        let out = dir.join(format!("run{streams}"));
        let o = run(&[
            OsStr::new("detect"),
            OsStr::new(&clip()),
            image.as_os_str(),
            second.as_os_str(),
            OsStr::new("--streams"),
            OsStr::new(streams),
            OsStr::new("--batch"),
            OsStr::new("2"),
            OsStr::new("--vid-stride"),
            OsStr::new("3"),
            OsStr::new("--save-txt"),
            OsStr::new("--save-conf"),
            OsStr::new("--save"),
            out.as_os_str(),
            OsStr::new("--json"),
            out.with_extension("json").as_os_str(),
        ]);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
        let json = std::fs::read(out.with_extension("json")).unwrap();
        let labels = saved_files(&out.join("labels"));
        (o, json, labels)
    };
    let (one, one_json, one_labels) = detect("1");
    // 25 frames of each video and the image.
    assert_eq!(one_labels.len(), 51, "{}", text(&one.stdout));
    let lines = without_times(&text(&one.stdout));
    assert!(lines.starts_with("video 1/3 (frame 1/25) "), "{lines}");
    for streams in ["2", "3"] {
        let (got, json, labels) = detect(streams);
        assert_eq!(
            without_times(&text(&got.stdout)),
            lines,
            "--streams {streams}"
        );
        assert!(json == one_json, "--streams {streams}: JSON differs");
        assert!(
            labels == one_labels,
            "--streams {streams}: label files differ"
        );
        // The last stderr line is the run's wall time and frame rate.
        let errs = |o: &Output| {
            text(&o.stderr)
                .lines()
                .filter(|l| !l.contains("frames/s"))
                .map(String::from)
                .collect::<Vec<_>>()
        };
        assert_eq!(errs(&got), errs(&one), "--streams {streams}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

fn bench(extra: &[&str]) -> String {
    let mut args = vec![
        "bench",
        "-m",
        "yolo11n-ghost",
        "--imgsz",
        "64",
        "--runs",
        "2",
        "--warmup",
        "1",
    ];
    args.extend_from_slice(extra);
    let args: Vec<&OsStr> = args.iter().map(OsStr::new).collect();
    let o = run(&args);
    assert!(o.status.success(), "{}", text(&o.stderr));
    text(&o.stdout)
}

#[test]
fn bench_reports_images_per_second_for_streams_and_batches() {
    let out = bench(&["--streams", "2"]);
    for needle in [
        "2 streams x 1 threads",
        "1 warm-up + 2 runs per stream",
        "median ",
        " p90 ",
        "images/s (4 images in ",
        "  ghost-yolo-stream-",
    ] {
        assert!(out.contains(needle), "{needle:?} missing:\n{out}");
    }
    let out = bench(&["--batch", "3", "--threads", "1"]);
    for needle in [
        "input 3x3x64x64",
        "1 threads",
        "images/s (batch 3 / median)",
    ] {
        assert!(out.contains(needle), "{needle:?} missing:\n{out}");
    }
    let out = bench(&["--streams", "2", "--threads", "2", "--batch", "2"]);
    assert!(
        out.contains("2 streams x 2 threads") && out.contains("images/s (8 images in "),
        "{out}"
    );
}
