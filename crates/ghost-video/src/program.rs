//! Where the `ffmpeg` and `ffprobe` programs are: an explicit path, else the `GHOST_FFMPEG` /
//! `GHOST_FFPROBE` environment variable, else the name itself (looked up on `PATH` when spawned).

use std::ffi::OsString;
use std::path::PathBuf;

/// One of the two FFmpeg programs this crate runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Program {
    /// `ffmpeg`: decodes (and encodes) the frames.
    Ffmpeg,
    /// `ffprobe`: reads a file's or stream's metadata.
    Ffprobe,
}

impl Program {
    /// The program's name (`ffmpeg`, `ffprobe`).
    pub fn name(self) -> &'static str {
        match self {
            Program::Ffmpeg => "ffmpeg",
            Program::Ffprobe => "ffprobe",
        }
    }

    /// The environment variable that overrides where it is.
    pub fn env_var(self) -> &'static str {
        match self {
            Program::Ffmpeg => "GHOST_FFMPEG",
            Program::Ffprobe => "GHOST_FFPROBE",
        }
    }

    /// What to spawn: `explicit` when given, else the environment variable, else the bare name.
    pub fn resolve(self, explicit: Option<&PathBuf>) -> OsString {
        if let Some(path) = explicit {
            return path.clone().into_os_string();
        }
        match std::env::var_os(self.env_var()) {
            Some(v) if !v.is_empty() => v,
            _ => OsString::from(self.name()),
        }
    }
}
