//! `ghost-yolo track` on video files and a live RTSP stream, as `yolo track` runs on them:
//! - on the committed clip (fixtures/video/shapes_clip.mp4, 75 frames, 4 objects), the IDs in the
//!   label files (`--save-txt`, the ID as the last column, as Ultralytics' `Results.save_txt`) and
//!   in the JSON (`frame`, `track_id`) equal Ultralytics' `yolo track` on every frame
//!   (fixtures/tracking/shapes_clip_tracks.json, made by tools/make_track_clip_fixture.py), so 0 ID
//!   switches (track_clip.rs checks that fixture against the clip's true paths); the annotated MP4
//!   has every frame;
//! - two videos in one run: IDs restart at 1 with the second (the tracker is reset between
//!   videos), so both get the same IDs;
//! - the clip served over RTSP by GStreamer's RTSP server on loopback (tools/rtsp_serve.py): the
//!   stream's frames get the file's IDs (the server sends the file's H.264 as it is, so decoding is
//!   exact). The stream ends with the file (75 frames): a bounded run, killed after 300 s at most.
//!
//! Needs ffmpeg (and GStreamer's RTSP server for the stream): skipped with a message without them,
//! unless GHOST_REQUIRE_FFMPEG=1 / GHOST_REQUIRE_RTSP=1 (tools/ci_video.sh sets both).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

mod common;
use common::{clip, have_ffmpeg, have_rtsp_server, output_text, output_within, repo, RtspServer};

use ghost_video::VideoDecoder;
use serde_json::Value;

/// Runs the binary; killed (and the test failed) after 300 s.
fn ghost_yolo(args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ghost-yolo"));
    cmd.args(args).args(["--threads", "2", "-q"]);
    output_within(&mut cmd, Duration::from_secs(300))
}

/// Ultralytics' `yolo track` on the clip: per frame, (track ID, class) in its order.
fn reference_ids() -> Vec<Vec<(u64, u64)>> {
    let fixture: Value = serde_json::from_str(
        &std::fs::read_to_string(repo("fixtures/tracking/shapes_clip_tracks.json")).unwrap(),
    )
    .unwrap();
    fixture["frames"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            f["results"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| (r[0].as_u64().unwrap(), r[6].as_u64().unwrap()))
                .collect()
        })
        .collect()
}

/// Per JSON record: (`frame`, [(track_id, class)]) in the order written.
fn json_ids(path: &Path) -> Vec<(u64, Vec<(u64, u64)>)> {
    let records: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    records
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let ids = r["detections"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| {
                    (
                        d["track_id"].as_u64().unwrap(),
                        d["class"].as_u64().unwrap(),
                    )
                })
                .collect();
            (r["frame"].as_u64().unwrap(), ids)
        })
        .collect()
}

#[test]
fn track_on_the_clip_gives_ultralytics_ids_in_labels_json_and_video() {
    if !have_ffmpeg("track_on_the_clip_gives_ultralytics_ids_in_labels_json_and_video") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let o = |p: &str| dir.path().join(p).to_string_lossy().into_owned();
    let out = ghost_yolo(&[
        "track",
        &clip(),
        "--save-txt",
        "--save-conf",
        "--save",
        &o("annotated"),
        "--json",
        &o("tracks.json"),
    ]);
    assert!(out.status.success(), "{}", output_text(&out));
    let want = reference_ids();
    assert_eq!(want.len(), 75);

    // Label files: `cls x y w h conf id`, the ID last (Ultralytics' save_txt for tracks).
    for (f, want) in want.iter().enumerate() {
        let path = PathBuf::from(o("annotated/labels")).join(format!("shapes_clip_{}.txt", f + 1));
        let got: Vec<(u64, u64)> = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .lines()
            .map(|l| {
                let cols: Vec<&str> = l.split(' ').collect();
                assert_eq!(cols.len(), 7, "{l}");
                (cols[6].parse().unwrap(), cols[0].parse().unwrap())
            })
            .collect();
        assert_eq!(&got, want, "frame {}", f + 1);
    }
    // JSON: one record per frame, `frame` 1..=75 (Ultralytics' counter), track_id per box.
    let records = json_ids(Path::new(&o("tracks.json")));
    assert_eq!(records.len(), 75);
    for (f, ((frame, got), want)) in records.iter().zip(&want).enumerate() {
        assert_eq!(*frame, f as u64 + 1);
        assert_eq!(got, want, "frame {frame}");
    }
    // The annotated video: H.264, every frame, the source's rate.
    let video = VideoDecoder::open(o("annotated/shapes_clip.mp4"), Default::default()).unwrap();
    assert_eq!(
        (video.info().codec.as_str(), video.info().fps),
        ("h264", 25.0)
    );
    assert_eq!(video.count(), 75);
}

#[test]
fn ids_restart_with_each_video() {
    if !have_ffmpeg("ids_restart_with_each_video") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let second = dir.path().join("again.mp4");
    std::fs::copy(clip(), &second).unwrap();
    let json = dir.path().join("tracks.json");
    let out = ghost_yolo(&[
        "track",
        &clip(),
        second.to_str().unwrap(),
        "--vid-stride",
        "5",
        "--json",
        json.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", output_text(&out));
    let records = json_ids(&json);
    assert_eq!(records.len(), 30, "15 frames of each video");
    let (first, again) = records.split_at(15);
    // IDs 1..=4 on the first video's first frame, and the same again on the second's: a tracker
    // carried over would give the second video's objects new IDs (or the first's, matched by
    // position from frame 75 to frame 5).
    let mut ids: Vec<u64> = first[0].1.iter().map(|p| p.0).collect();
    ids.sort();
    assert_eq!(ids, [1, 2, 3, 4]);
    assert_eq!(first, again);
}

/// `--save-txt` and `--save-crop` are Ultralytics' booleans: they write into the run directory,
/// `runs/detect/track` by default (`--project`/`--name` change it), the next free name
/// (`track2`) when it exists unless `--exist-ok`, and `--save DIR` when given.
#[test]
fn save_txt_and_save_crop_write_into_the_run_directory() {
    if !have_ffmpeg("save_txt_and_save_crop_write_into_the_run_directory") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let run_in = |extra: &[&str]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ghost-yolo"));
        cmd.current_dir(dir.path())
            .args([
                "track",
                &clip(),
                "--vid-stride",
                "25",
                "--threads",
                "2",
                "-q",
            ])
            .args(extra);
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "{}", output_text(&out));
        out
    };
    let labels = |run: &str| -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir.path().join(run).join("labels"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    run_in(&["--save-txt", "--save-crop"]);
    // Frames 1, 26, 51: the objects move too far in 25 frames to be matched, so only frame 1
    // has confirmed tracks (its lines end with the ID); the later frames start new, unconfirmed
    // tracks and keep their raw detections without IDs, as Ultralytics' tracker callback does.
    let want = labels("runs/detect/track");
    assert_eq!(
        want,
        [
            "shapes_clip_1.txt",
            "shapes_clip_2.txt",
            "shapes_clip_3.txt"
        ]
    );
    let fields = |name: &str| -> Vec<usize> {
        std::fs::read_to_string(dir.path().join("runs/detect/track/labels").join(name))
            .unwrap()
            .lines()
            .map(|l| l.split(' ').count())
            .collect()
    };
    let (first, later) = (fields("shapes_clip_1.txt"), fields("shapes_clip_2.txt"));
    assert!(
        !first.is_empty() && first.iter().all(|&n| n == 6),
        "{first:?}"
    );
    assert!(
        !later.is_empty() && later.iter().all(|&n| n == 5),
        "{later:?}"
    );
    assert!(dir
        .path()
        .join("runs/detect/track/crops/star/shapes_clip_1.jpg")
        .is_file());
    // the run directory exists: the next free name, as Ultralytics' increment_path
    let out = run_in(&["--save-txt"]);
    assert_eq!(labels("runs/detect/track2"), want);
    assert!(
        output_text(&out).contains("track2"),
        "{}",
        output_text(&out)
    );
    // --exist-ok: the same directory again
    run_in(&["--save-txt", "--exist-ok"]);
    assert!(!dir.path().join("runs/detect/track3").exists());
    // --project / --name
    run_in(&["--save-txt", "--project", "out", "--name", "exp"]);
    assert_eq!(labels("out/exp"), want);
    // the old `--save-txt DIR` form: DIR is now a source (a clear error), nothing written there
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ghost-yolo"));
    let out = cmd
        .current_dir(dir.path())
        .args([
            "track",
            &clip(),
            "--save-txt",
            "old_labels",
            "--vid-stride",
            "25",
            "-q",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", output_text(&out));
    assert!(
        output_text(&out).contains("old_labels"),
        "{}",
        output_text(&out)
    );
    assert!(!dir.path().join("old_labels").exists());
}

#[test]
fn track_on_an_rtsp_stream_gives_the_files_ids() {
    if !have_rtsp_server("track_on_an_rtsp_stream_gives_the_files_ids") {
        return;
    }
    let server = RtspServer::start(&clip());
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("stream.json");
    let labels = dir.path().join("stream/labels");
    let out = ghost_yolo(&[
        "track",
        &server.url,
        "--json",
        json.to_str().unwrap(),
        "--save-txt",
        "--project",
        dir.path().to_str().unwrap(),
        "--name",
        "stream",
    ]);
    drop(server);
    assert!(out.status.success(), "{}", output_text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("video 1/1 (frame 1/"), "{stdout}");
    let records = json_ids(&json);
    // The server sends the whole file; at least 20 frames must arrive (a loaded machine may
    // lose the end of the stream, never its start).
    assert!(records.len() >= 20, "{} frames", records.len());
    let want = reference_ids();
    for (f, (frame, got)) in records.iter().enumerate() {
        assert_eq!(*frame, f as u64 + 1);
        assert_eq!(got, &want[f], "stream frame {frame}");
    }
    let label_files = std::fs::read_dir(&labels).unwrap().count();
    assert_eq!(label_files, records.len());
}
