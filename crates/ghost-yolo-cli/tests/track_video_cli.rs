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

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use ghost_video::VideoDecoder;
use serde_json::Value;

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path)
}

fn clip() -> String {
    repo("fixtures/video/shapes_clip.mp4")
        .to_string_lossy()
        .into_owned()
}

fn have_ffmpeg(test: &str) -> bool {
    let runs = |p: &str| {
        Command::new(p)
            .arg("-version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    let ok = runs("ffmpeg") && runs("ffprobe");
    if !ok {
        assert!(
            std::env::var("GHOST_REQUIRE_FFMPEG").as_deref() != Ok("1"),
            "{test}: ffmpeg required"
        );
        eprintln!("SKIPPED {test}: ffmpeg not installed (tools/ci_video.sh installs it)");
    }
    ok
}

/// Runs the binary; killed (and the test failed) after 300 s.
fn ghost_yolo(args: &[&str]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ghost-yolo"))
        .args(args)
        .args(["--threads", "2", "-q"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run ghost-yolo");
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(300) {
            let _ = child.kill();
            panic!("ghost-yolo {args:?} did not finish within 300 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
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
    assert!(out.status.success(), "{}", text(&out));
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
    let video = VideoDecoder::open(&o("annotated/shapes_clip.mp4"), Default::default()).unwrap();
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
    assert!(out.status.success(), "{}", text(&out));
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
        assert!(out.status.success(), "{}", text(&out));
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
    assert!(text(&out).contains("track2"), "{}", text(&out));
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
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("old_labels"), "{}", text(&out));
    assert!(!dir.path().join("old_labels").exists());
}

/// The Python with GStreamer's introspection bindings (Debian's python3-gi).
fn python() -> String {
    std::env::var("GHOST_RTSP_PYTHON").unwrap_or_else(|_| {
        if Path::new("/usr/bin/python3").exists() {
            "/usr/bin/python3".into()
        } else {
            "python3".into()
        }
    })
}

fn have_rtsp_server(test: &str) -> bool {
    if !have_ffmpeg(test) {
        return false;
    }
    let probe = "import gi; gi.require_version('GstRtspServer', '1.0'); from gi.repository import GstRtspServer";
    let ok = Command::new(python())
        .args(["-c", probe])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        assert!(
            std::env::var("GHOST_REQUIRE_RTSP").as_deref() != Ok("1"),
            "{test}: GHOST_REQUIRE_RTSP=1 but {} cannot import GstRtspServer",
            python()
        );
        eprintln!("SKIPPED {test}: GStreamer's RTSP server is not installed (tools/ci_video.sh)");
    }
    ok
}

/// tools/rtsp_serve.py serving the clip on loopback; killed and reaped when dropped.
struct Server {
    child: Child,
    url: String,
}

impl Server {
    fn start() -> Server {
        let mut child = Command::new(python())
            .arg(repo("tools/rtsp_serve.py"))
            .arg(clip())
            .stdin(Stdio::piped()) // closing it stops the server even if this process dies
            .stdout(Stdio::piped())
            .spawn()
            .expect("start tools/rtsp_serve.py");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = std::io::BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx.recv_timeout(Duration::from_secs(30)).unwrap_or_default();
        let Some(url) = line.trim().strip_prefix("READY ") else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("rtsp_serve.py did not start: {line:?}");
        };
        Server {
            url: url.to_string(),
            child,
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn track_on_an_rtsp_stream_gives_the_files_ids() {
    if !have_rtsp_server("track_on_an_rtsp_stream_gives_the_files_ids") {
        return;
    }
    let server = Server::start();
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
    assert!(out.status.success(), "{}", text(&out));
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
