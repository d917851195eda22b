//! The CLI's test binaries use the same helpers as yolo11-ghost's (fixture paths, scratch
//! directories, edited weights files) and ghost-video's (whether FFmpeg and the RTSP server are
//! here, the RTSP server itself): one file each, included here by path rather than copied. Each
//! binary uses a subset, hence `dead_code`.
#![allow(dead_code, unused_imports)]

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

#[path = "../../../yolo11-ghost/tests/common/mod.rs"]
mod shared;

#[path = "../../../ghost-video/tests/common/programs.rs"]
mod video_programs;

pub use shared::*;
pub use video_programs::*;

/// The committed clip (fixtures/video/shapes_clip.mp4: 75 frames, 4 objects on known paths).
pub fn clip() -> String {
    repo("fixtures/video/shapes_clip.mp4")
        .to_string_lossy()
        .into_owned()
}

/// Runs `cmd` with stdin closed and its output captured; kills it and fails the test when it
/// takes longer than `limit` (a run that hangs must not hang the suite).
pub fn output_within(cmd: &mut Command, limit: Duration) -> Output {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run ghost-yolo");
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{cmd:?} did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

/// `o`'s standard output, as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// `o`'s standard error, as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `o`'s standard output and then its standard error, as text (for failure messages).
pub fn output_text(o: &Output) -> String {
    format!("{}{}", stdout(o), stderr(o))
}
