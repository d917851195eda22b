//! The outside programs the video tests need: whether FFmpeg and GStreamer's RTSP server are
//! installed (skip with a message, or fail when CI requires them), and the RTSP server started
//! on loopback. Shared with ghost-yolo-cli's tests, which include this file by path: it uses
//! only the standard library, so neither crate needs a dependency for it.
#![allow(dead_code)]

use std::io::BufRead;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// Whether `ffmpeg` and `ffprobe` run. Without them the test is skipped with a message, unless
/// GHOST_REQUIRE_FFMPEG=1 (tools/ci_video.sh sets it after installing FFmpeg): then it fails.
pub fn have_ffmpeg(test: &str) -> bool {
    let runs = |p: &str| {
        Command::new(p)
            .arg("-version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if runs("ffmpeg") && runs("ffprobe") {
        return true;
    }
    assert!(
        std::env::var("GHOST_REQUIRE_FFMPEG").as_deref() != Ok("1"),
        "{test}: GHOST_REQUIRE_FFMPEG=1 but ffmpeg/ffprobe do not run"
    );
    eprintln!("SKIPPED {test}: ffmpeg/ffprobe not installed (apt-get install ffmpeg, or run tools/ci_video.sh)");
    false
}

/// The Python with GStreamer's introspection bindings (Debian's python3-gi lives in the system
/// Python, not in a pyenv or venv one); GHOST_RTSP_PYTHON overrides it.
pub fn rtsp_python() -> String {
    std::env::var("GHOST_RTSP_PYTHON").unwrap_or_else(|_| {
        if Path::new("/usr/bin/python3").exists() {
            "/usr/bin/python3".into()
        } else {
            "python3".into()
        }
    })
}

/// Whether FFmpeg and GStreamer's RTSP server (tools/rtsp_serve.py's imports) are here. Without
/// them the test is skipped with a message, unless GHOST_REQUIRE_RTSP=1 (tools/ci_video.sh sets
/// it after installing them): then it fails.
pub fn have_rtsp_server(test: &str) -> bool {
    if !have_ffmpeg(test) {
        return false;
    }
    let probe = "import gi; gi.require_version('GstRtspServer', '1.0'); from gi.repository import GstRtspServer";
    let ok = Command::new(rtsp_python())
        .args(["-c", probe])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        assert!(
            std::env::var("GHOST_REQUIRE_RTSP").as_deref() != Ok("1"),
            "{test}: GHOST_REQUIRE_RTSP=1 but {} cannot import GstRtspServer",
            rtsp_python()
        );
        eprintln!(
            "SKIPPED {test}: GStreamer's RTSP server is not installed (apt-get install python3-gi \
             gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base gstreamer1.0-plugins-good \
             gstreamer1.0-plugins-bad, or run tools/ci_video.sh)"
        );
    }
    ok
}

/// tools/rtsp_serve.py serving a video file on loopback; stopped (killed and reaped) when
/// dropped.
pub struct RtspServer {
    child: Child,
    /// The stream's `rtsp://127.0.0.1:PORT/...` address.
    pub url: String,
}

impl RtspServer {
    /// Starts the server on `video` and waits (30 s at most) for the address it prints.
    pub fn start(video: &str) -> RtspServer {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tools/rtsp_serve.py");
        let mut child = Command::new(rtsp_python())
            .arg(script)
            .arg(video)
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
        RtspServer {
            url: url.to_string(),
            child,
        }
    }

    /// Stops the server now (a camera going away mid-stream).
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for RtspServer {
    fn drop(&mut self) {
        self.stop();
    }
}
