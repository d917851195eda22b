//! What can go wrong between a video file or stream and its frames.

use std::path::PathBuf;

/// Errors of [`crate::probe()`] and [`crate::VideoDecoder`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VideoError {
    /// `ffmpeg` or `ffprobe` could not be started because it is not installed (or not where
    /// it was said to be).
    #[error(
        "{program} not found (tried {tried:?}): video and streams are decoded by FFmpeg's \
         `{program}` program; install it (Debian/Ubuntu: apt-get install ffmpeg) or set {env_var} \
         to its path"
    )]
    ProgramNotFound {
        /// `ffmpeg` or `ffprobe`.
        program: &'static str,
        /// What was spawned.
        tried: std::ffi::OsString,
        /// The environment variable that points to it.
        env_var: &'static str,
    },
    /// Starting or talking to the program failed for another reason (permissions, pipes).
    #[error("{program} ({input}): {source}")]
    Io {
        /// `ffmpeg` or `ffprobe`.
        program: &'static str,
        /// The file or stream being read.
        input: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The input does not exist (a file path, not a URL).
    #[error("{}: no such file", ghost_limits::text::display_path(path))]
    NotFound {
        /// The path given.
        path: PathBuf,
    },
    /// FFmpeg could not open or read the input at all (not a media file, truncated before any
    /// frame, unreachable stream); `message` is FFmpeg's own.
    #[error("{input}: FFmpeg could not read it: {message}")]
    Unreadable {
        /// The file or stream.
        input: String,
        /// FFmpeg's error output (last lines).
        message: String,
    },
    /// The input has no video stream (e.g. an audio file).
    #[error("{input}: no video stream")]
    NoVideoStream {
        /// The file or stream.
        input: String,
    },
    /// The video stream's codec has no decoder in this FFmpeg.
    #[error("{input}: unsupported video codec {codec:?}: this FFmpeg has no decoder for it{}", if message.is_empty() { String::new() } else { format!(" ({message})") })]
    UnsupportedCodec {
        /// The file or stream.
        input: String,
        /// The codec as ffprobe names it (`none` when it does not know it either).
        codec: String,
        /// FFmpeg's error output (last lines).
        message: String,
    },
    /// ffprobe's answer was not what it documents (a bug or an unexpected FFmpeg version).
    #[error("{input}: unexpected ffprobe output: {message}")]
    Probe {
        /// The file or stream.
        input: String,
        /// What was wrong.
        message: String,
    },
    /// An option is outside its valid range.
    #[error("invalid {option}: expected {expected}, found {found}")]
    InvalidOption {
        /// Option name (`vid_stride`, `queue`).
        option: &'static str,
        /// The valid range.
        expected: &'static str,
        /// The value given.
        found: String,
    },
}
