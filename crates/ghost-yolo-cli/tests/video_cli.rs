//! `ghost-yolo detect` on videos, globs and lists with `--vid-stride`, `--batch`, `--save-txt`,
//! `--save-conf`, `--save-crop`, `--save` (H.264 MP4) and `--json`. Needs FFmpeg: skipped with a
//! message without it, unless GHOST_REQUIRE_FFMPEG=1 (tools/ci_video.sh).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use ghost_video::{
    detect_frames, expand_sources, label_file, DecodeOptions, FrameReader, VideoDecoder,
};
use yolo11_ghost::detector::{Detector, DetectorOptions};

mod common;
use common::{clip, have_ffmpeg, output_text};

fn ghost_yolo(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ghost-yolo"));
    cmd.args(args).args(["--threads", "2"]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

#[test]
fn detect_on_a_video_writes_labels_crops_video_and_json_per_frame() {
    if !have_ffmpeg("detect_on_a_video_writes_labels_crops_video_and_json_per_frame") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let o = |p: &str| dir.path().join(p).to_string_lossy().into_owned();
    let out = ghost_yolo(
        &[
            "detect",
            &clip(),
            "--vid-stride",
            "5",
            "--batch",
            "2",
            "--save-txt",
            "--save-conf",
            "--save-crop",
            "--save",
            &o("annotated"),
            "--json",
            &o("dets.json"),
            "-q",
        ],
        &[],
    );
    assert!(out.status.success(), "{}", output_text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("video 1/1 (frame 1/15) "), "{stdout}");
    assert!(stdout.contains("(frame 15/15)"), "{stdout}");

    // the label files equal the library's, frame by frame (the format itself is checked against
    // Ultralytics' in ghost-video's predict_outputs test)
    let detector = Detector::default_model(DetectorOptions {
        threads: Some(2),
        ..Default::default()
    })
    .unwrap();
    let t = detector.trained_imgsz().unwrap();
    let detector = detector.with_imgsz((t, t)).unwrap();
    let reader = FrameReader::new(
        expand_sources(&[clip()]).unwrap(),
        DecodeOptions {
            vid_stride: 5,
            ..Default::default()
        },
    );
    let mut n = 0;
    for r in detect_frames(&detector, reader, 1) {
        let r = r.unwrap();
        let f = &r.frame;
        let want = label_file(&r.detections, f.image.width(), f.image.height(), true).unwrap();
        let path = PathBuf::from(o("annotated/labels"))
            .join(format!("shapes_clip_{}.txt", f.origin.frame));
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            want,
            "{}",
            path.display()
        );
        n += 1;
    }
    assert_eq!(n, 15);
    // --save DIR is the run directory: labels/ and crops/ inside it, as Ultralytics' save_dir
    assert_eq!(
        std::fs::read_dir(o("annotated/labels")).unwrap().count(),
        15
    );
    assert!(Path::new(&o("annotated/crops"))
        .join("star/shapes_clip_15.jpg")
        .is_file());
    let video = VideoDecoder::open(o("annotated/shapes_clip.mp4"), Default::default()).unwrap();
    assert_eq!(
        (video.info().codec.as_str(), video.info().fps),
        ("h264", 25.0)
    );
    assert_eq!(video.count(), 15);
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(o("dets.json")).unwrap()).unwrap();
    let frames: Vec<u64> = json
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["frame_index"].as_u64().unwrap())
        .collect();
    assert_eq!(frames, (0..15).map(|k| 5 * k + 4).collect::<Vec<_>>());
}

#[test]
fn quoted_globs_and_txt_lists_are_sources() {
    if !have_ffmpeg("quoted_globs_and_txt_lists_are_sources") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let frames = dir.path().join("f%02d.png");
    let st = Command::new("ffmpeg")
        .args([
            "-v",
            "error",
            "-i",
            &clip(),
            "-frames:v",
            "3",
            frames.to_str().unwrap(),
        ])
        .status()
        .unwrap();
    assert!(st.success());
    let pattern = format!("{}/f*.png", dir.path().display());
    let out = ghost_yolo(&["detect", &pattern, "-q"], &[]);
    assert!(out.status.success(), "{}", output_text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(stdout.matches("image ").count(), 3, "{stdout}");
    assert!(
        stdout.contains("image 3/3 ") && stdout.contains("f03.png"),
        "{stdout}"
    );

    let list = dir.path().join("sources.txt");
    std::fs::write(&list, format!("f02.png\n{}\n", clip())).unwrap();
    let labels = dir.path().join("runs/list/labels");
    let project = dir.path().join("runs");
    let out = ghost_yolo(
        &[
            "detect",
            list.to_str().unwrap(),
            "--vid-stride",
            "25",
            "--save-txt",
            "--project",
            project.to_str().unwrap(),
            "--name",
            "list",
            "-q",
        ],
        &[],
    );
    assert!(out.status.success(), "{}", output_text(&out));
    let mut names: Vec<String> = std::fs::read_dir(&labels)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "f02.txt",
            "shapes_clip_1.txt",
            "shapes_clip_2.txt",
            "shapes_clip_3.txt"
        ]
    );
}

#[test]
fn missing_ffmpeg_truncated_video_and_missing_source_are_reported() {
    if !have_ffmpeg("missing_ffmpeg_truncated_video_and_missing_source_are_reported") {
        return;
    }
    let out = ghost_yolo(
        &["detect", &clip()],
        &[("GHOST_FFPROBE", "/nonexistent/ffprobe")],
    );
    assert_eq!(out.status.code(), Some(1), "{}", output_text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("ffprobe not found") && err.contains("apt-get install ffmpeg"),
        "{err}"
    );

    let dir = tempfile::tempdir().unwrap();
    let mkv = dir.path().join("clip.mkv");
    let st = Command::new("ffmpeg")
        .args([
            "-v",
            "error",
            "-i",
            &clip(),
            "-c",
            "copy",
            mkv.to_str().unwrap(),
        ])
        .status()
        .unwrap();
    assert!(st.success());
    let bytes = std::fs::read(&mkv).unwrap();
    let cut = dir.path().join("cut.mkv");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let json = dir.path().join("cut.json");
    let out = ghost_yolo(
        &[
            "detect",
            cut.to_str().unwrap(),
            "--vid-stride",
            "10",
            "--json",
            json.to_str().unwrap(),
            "-q",
        ],
        &[],
    );
    assert!(
        out.status.success(),
        "a truncated file keeps its frames: {}",
        output_text(&out)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("warning") && err.contains("frames decoded so far are kept"),
        "{err}"
    );
    let records: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert!(
        (1..7).contains(&records.as_array().unwrap().len()),
        "{records}"
    );

    let out = ghost_yolo(
        &[
            "detect",
            &clip(),
            "/nonexistent/x.mp4",
            "--vid-stride",
            "25",
            "-q",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("(frame 3/3)"),
        "the other input still runs"
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("/nonexistent/x.mp4: no such file"),
        "{}",
        output_text(&out)
    );
}

/// A video whose file name is not UTF-8 (Linux allows any byte but `/` and NUL): ffmpeg is
/// handed the name's bytes, and `--json` writes it exactly as image paths are written (bytes
/// that are not UTF-8 as `\udcXX`, Python's surrogateescape), not with U+FFFD, for the file
/// named and for the directory holding it.
#[cfg(unix)]
#[test]
fn a_video_name_that_is_not_utf8_is_decoded_and_written_exactly() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    if !have_ffmpeg("a_video_name_that_is_not_utf8_is_decoded_and_written_exactly") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let videos = dir.path().join("in");
    std::fs::create_dir(&videos).unwrap();
    let video = videos.join(OsStr::from_bytes(b"clip\xff\xfe.mp4"));
    std::fs::copy(clip(), &video).unwrap();
    let want_path = format!(
        r#""path":"{}/clip\udcff\udcfe.mp4""#,
        videos.to_str().unwrap()
    );
    for source in [video.as_os_str(), videos.as_os_str()] {
        let json = dir.path().join("dets.json");
        let out = Command::new(env!("CARGO_BIN_EXE_ghost-yolo"))
            .arg("detect")
            .arg(source)
            .args([
                "--vid-stride",
                "25",
                "--threads",
                "2",
                "-q",
                "--exist-ok",
                "--json",
            ])
            .arg(&json)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", output_text(&out));
        let raw = std::fs::read_to_string(&json).unwrap();
        assert_eq!(raw.matches(&want_path).count(), 3, "{raw}");
        assert!(!raw.contains('\u{fffd}'), "{raw}");
        let records: serde_json::Value = serde_json::from_str(
            &raw.replace("\\udcff", "\\u00ff")
                .replace("\\udcfe", "\\u00fe"),
        )
        .unwrap();
        let frames: Vec<u64> = records
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["frame_index"].as_u64().unwrap())
            .collect();
        assert_eq!(frames, [24, 49, 74]);
    }
}
