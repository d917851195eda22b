//! `ghost-yolo track` on an image sequence made from a shipped shapes image shifted by (4, 2) px per
//! frame: the embedded default model finds the shapes on every frame and the tracker must keep
//! their IDs; JSON carries the frame index and `track_id`, the table an `id` column, --save
//! annotated frames; bad tracker settings are usage errors.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use image::RgbImage;
use serde_json::Value;

mod common;
use common::{repo, scratch};

const FRAMES: usize = 8;
const STEP: (f64, f64) = (4.0, 2.0);

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ghost-yolo"))
        .args(args)
        .output()
        .expect("run ghost-yolo")
}

/// Frames `f000.png` ... in `dir`: the shapes image pasted at (4t, 2t) on a grey canvas.
fn make_sequence(dir: &Path) -> PathBuf {
    let frames = dir.join("frames");
    std::fs::create_dir_all(&frames).unwrap();
    let src = image::open(repo("fixtures/images/shapes/shapes_val_0.jpg"))
        .unwrap()
        .to_rgb8();
    for t in 0..FRAMES {
        let mut canvas =
            RgbImage::from_pixel(src.width() + 40, src.height() + 20, image::Rgb([114; 3]));
        image::imageops::replace(&mut canvas, &src, (4 * t) as i64, (2 * t) as i64);
        canvas.save(frames.join(format!("f{t:03}.png"))).unwrap();
    }
    frames
}

#[test]
fn ids_persist_along_a_moving_sequence() {
    let dir = scratch("track_sequence");
    let frames = make_sequence(&dir);
    let json_path = dir.join("tracks.json");
    let saved = dir.join("annotated");
    let o = run(&[
        "track",
        frames.to_str().unwrap(),
        "--json",
        json_path.to_str().unwrap(),
        "--save",
        saved.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(stdout.matches("frame ").count(), FRAMES, "{stdout}");
    assert!(stdout.contains("frame 8/8 "), "{stdout}");
    assert!(
        stdout
            .lines()
            .any(|l| l.trim_start().starts_with("id  class")),
        "{stdout}"
    );

    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&json_path).unwrap()).unwrap();
    let records = doc.as_array().unwrap();
    assert_eq!(records.len(), FRAMES);
    // track ID -> (frame, box centre) for every frame it appears in.
    let mut seen: std::collections::BTreeMap<u64, Vec<(f64, f64, f64)>> = Default::default();
    for (t, r) in records.iter().enumerate() {
        assert_eq!(r["frame"].as_u64(), Some(t as u64));
        assert!(r["path"]
            .as_str()
            .unwrap()
            .ends_with(&format!("f{t:03}.png")));
        for d in r["detections"].as_array().unwrap() {
            let id = d["track_id"].as_u64().expect("track_id");
            let b = &d["box"];
            let c = |k1: &str, k2: &str| (b[k1].as_f64().unwrap() + b[k2].as_f64().unwrap()) / 2.0;
            seen.entry(id)
                .or_default()
                .push((t as f64, c("x1", "x2"), c("y1", "y2")));
        }
    }
    // The shapes the model is sure of (the first frame's confident tracks) are tracked on every
    // frame under the same ID, and each ID's box centre moves with the shift: least-squares slope
    // within 0.75 px/frame of (4, 2) (the detector's boxes jitter by a few px from frame to frame;
    // measured: at most 0.5 px/frame off). A swapped ID would move by the distance between shapes.
    let first: Vec<u64> = records[0]["detections"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["confidence"].as_f64().unwrap() > 0.6)
        .map(|d| d["track_id"].as_u64().unwrap())
        .collect();
    assert!(first.len() >= 3, "confident tracks on frame 0: {first:?}");
    for id in first {
        let path = &seen[&id];
        assert_eq!(path.len(), FRAMES, "ID {id} not on every frame: {path:?}");
        let (vx, vy) = (slope(path, |p| p.1), slope(path, |p| p.2));
        assert!(
            (vx - STEP.0).abs() < 0.75 && (vy - STEP.1).abs() < 0.75,
            "ID {id} moves ({vx:.2}, {vy:.2}) px/frame, expected {STEP:?}: {path:?}"
        );
    }
    for t in 0..FRAMES {
        let img = image::open(saved.join(format!("f{t:03}.png")))
            .unwrap()
            .to_rgb8();
        assert_eq!(img.dimensions(), (360, 292));
    }
}

/// Least-squares slope of `value` over the frame index.
fn slope(points: &[(f64, f64, f64)], value: impl Fn(&(f64, f64, f64)) -> f64) -> f64 {
    let n = points.len() as f64;
    let mt = points.iter().map(|p| p.0).sum::<f64>() / n;
    let mv = points.iter().map(&value).sum::<f64>() / n;
    let cov: f64 = points.iter().map(|p| (p.0 - mt) * (value(p) - mv)).sum();
    let var: f64 = points.iter().map(|p| (p.0 - mt).powi(2)).sum();
    cov / var
}

/// The run-directory options: `--project` / `--name` name it only when `--save DIR` does not,
/// `--save-conf` needs `--save-txt`; both `detect` and `track` (one shared option block).
#[test]
fn run_directory_options_that_contradict_are_usage_errors() {
    for command in ["detect", "track"] {
        for args in [
            &["--save", "out", "--project", "p"][..],
            &["--save", "out", "--name", "n"],
            &["--save-conf"],
        ] {
            let mut all = vec![command, "nothing.png"];
            all.extend(args);
            let o = run(&all);
            let err = String::from_utf8_lossy(&o.stderr);
            assert_eq!(o.status.code(), Some(2), "{all:?}: {err}");
            assert_eq!(err.trim().lines().count(), 1, "{all:?}: {err}");
            assert!(err.starts_with("error: "), "{err}");
        }
    }
}

#[test]
fn bad_tracker_settings_are_usage_errors() {
    for (flag, value) in [
        ("--match-thresh", "2"),
        ("--track-high-thresh", "-0.5"),
        ("--track-buffer", "-1"),
        ("--fuse-score", "maybe"),
    ] {
        let o = run(&["track", "nothing.png", flag, value]);
        assert_eq!(
            o.status.code(),
            Some(2),
            "{flag} {value}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(err.trim().lines().count(), 1, "{flag} {value}: {err}");
        assert!(err.starts_with("error: "), "{err}");
    }
}

#[test]
fn outputs_never_overwrite_the_input_frames() {
    let dir = scratch("track_no_clobber");
    let frames = make_sequence(&dir);
    let before: Vec<Vec<u8>> = (0..FRAMES)
        .map(|t| std::fs::read(frames.join(format!("f{t:03}.png"))).unwrap())
        .collect();
    // --save into the frames' own directory: it exists, so (as with `detect`, Ultralytics'
    // increment_path) the annotated frames go to DIR2 and the frames are untouched.
    let f = frames.to_str().unwrap();
    let saved = PathBuf::from(format!("{f}2"));
    let _ = std::fs::remove_dir_all(&saved); // left by an earlier run
    let o = run(&["track", f, "--save", f, "-q"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for (t, bytes) in before.iter().enumerate() {
        assert_eq!(
            &std::fs::read(frames.join(format!("f{t:03}.png"))).unwrap(),
            bytes,
            "frame {t} changed"
        );
        assert!(
            saved.join(format!("f{t:03}.png")).is_file(),
            "annotated frame {t} not written"
        );
    }
    // With --exist-ok the same directory is used, and writing onto an input frame is refused.
    let o = run(&["track", f, "--save", f, "--exist-ok", "-q"]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("is one of this command's inputs"), "{err}");
    // --json onto an input frame: it exists, so the JSON goes to a free name instead.
    let first = frames.join("f000.png");
    let o = run(&[
        "track",
        first.to_str().unwrap(),
        "--json",
        first.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for (t, bytes) in before.iter().enumerate() {
        assert_eq!(
            &std::fs::read(frames.join(format!("f{t:03}.png"))).unwrap(),
            bytes,
            "frame {t} changed"
        );
    }
}
