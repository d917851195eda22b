//! Shared by the video tests: the committed clip, its fixtures, and whether FFmpeg is here.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

mod programs;

pub use programs::*;

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/video")
}

pub fn clip() -> String {
    fixtures()
        .join("shapes_clip.mp4")
        .to_string_lossy()
        .into_owned()
}

pub fn decode_fixture() -> serde_json::Value {
    let text = std::fs::read_to_string(fixtures().join("shapes_clip.decode.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

pub fn md5_hex(bytes: &[u8]) -> String {
    use md5::Digest;
    md5::Md5::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Run ffmpeg with `args` (setup of test inputs), panicking with its error output on failure.
pub fn ffmpeg(args: &[&str]) {
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-y"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "ffmpeg {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
