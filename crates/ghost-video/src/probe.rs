//! `ffprobe` on a file or stream: the first video stream's size, frame rate, codec and frame count.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::Deserialize;

use crate::error::VideoError;
use crate::program::Program;

/// What ffprobe reports about the first video stream of an input.
#[derive(Debug, Clone, PartialEq)]
pub struct VideoInfo {
    /// Frame width in pixels.
    pub width: u32,
    /// Frame height in pixels.
    pub height: u32,
    /// Frames per second (`avg_frame_rate`, else `r_frame_rate`; 0 when neither is known).
    pub fps: f64,
    /// Frames in the stream when the container says (`nb_frames`), else estimated from the
    /// duration; `None` for live streams.
    pub frame_count: Option<u64>,
    /// Codec name as FFmpeg spells it (`h264`, `hevc`, `none` when FFmpeg does not know it).
    pub codec: String,
    /// Codec profile (`High`, `Main`, `Constrained Baseline`), when reported.
    pub profile: Option<String>,
    /// The stream's pixel format (`yuv420p`), when known (absent without a decoder).
    pub pix_fmt: Option<String>,
}

#[derive(Deserialize)]
struct ProbeOut {
    #[serde(default)]
    streams: Vec<ProbeStream>,
    format: Option<ProbeFormat>,
}

#[derive(Deserialize)]
struct ProbeStream {
    codec_name: Option<String>,
    profile: Option<String>,
    width: Option<u32>,
    height: Option<u32>,
    pix_fmt: Option<String>,
    avg_frame_rate: Option<String>,
    r_frame_rate: Option<String>,
    nb_frames: Option<String>,
}

#[derive(Deserialize)]
struct ProbeFormat {
    duration: Option<String>,
}

/// `"30000/1001"` -> 29.97; `"0/0"` and garbage -> None.
fn parse_rate(rate: Option<&str>) -> Option<f64> {
    let (n, d) = rate?.split_once('/')?;
    let (n, d) = (n.parse::<f64>().ok()?, d.parse::<f64>().ok()?);
    (n > 0.0 && d > 0.0).then(|| n / d)
}

/// Extra arguments that make FFmpeg read a network stream the way cameras need (RTSP over TCP:
/// no lost packets, no smeared frames).
pub(crate) fn input_args(input: &OsStr) -> Vec<&'static str> {
    let bytes = input.as_encoded_bytes();
    if bytes.starts_with(b"rtsp://") || bytes.starts_with(b"rtsps://") {
        vec!["-rtsp_transport", "tcp"]
    } else {
        Vec::new()
    }
}

/// Whether `input` is a URL (stream) rather than a file path.
pub(crate) fn is_url(input: &OsStr) -> bool {
    input.as_encoded_bytes().windows(3).any(|w| w == b"://")
}

/// `input` for messages: valid UTF-8 as it is (control characters escaped), other bytes as
/// `\xNN`. The input itself is passed to FFmpeg exactly.
pub(crate) fn shown(input: &OsStr) -> String {
    ghost_limits::text::display_os(input)
}

/// The last `n` non-empty lines of FFmpeg's error output, joined with "; ".
pub(crate) fn last_lines(stderr: &str, n: usize) -> String {
    let lines: Vec<&str> = stderr
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    lines[lines.len().saturating_sub(n)..].join("; ")
}

/// Probe `input` (a file path, any bytes the OS allows, or a URL) with `ffprobe` (`ffprobe`
/// overrides where it is).
pub fn probe(input: impl AsRef<OsStr>, ffprobe: Option<&PathBuf>) -> Result<VideoInfo, VideoError> {
    let input = input.as_ref();
    if !is_url(input) && !Path::new(input).exists() {
        return Err(VideoError::NotFound { path: input.into() });
    }
    let program = Program::Ffprobe.resolve(ffprobe);
    let output = Command::new(&program)
        .args(["-v", "error"])
        .args(input_args(input))
        .args(["-select_streams", "v:0", "-show_entries"])
        .arg("stream=codec_name,profile,width,height,pix_fmt,avg_frame_rate,r_frame_rate,nb_frames:format=duration")
        .args(["-of", "json", "-i"])
        .arg(input)
        .stdin(Stdio::null())
        .output()
        .map_err(|source| spawn_error(Program::Ffprobe, program, input, source))?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        return Err(VideoError::Unreadable {
            input: shown(input),
            message: last_lines(&stderr, 3),
        });
    }
    let parsed: ProbeOut =
        serde_json::from_slice(&output.stdout).map_err(|e| VideoError::Probe {
            input: shown(input),
            message: e.to_string(),
        })?;
    let Some(stream) = parsed.streams.into_iter().next() else {
        return Err(VideoError::NoVideoStream {
            input: shown(input),
        });
    };
    let codec = stream.codec_name.unwrap_or_else(|| "none".to_string());
    let (Some(width), Some(height)) = (stream.width, stream.height) else {
        return Err(VideoError::Probe {
            input: shown(input),
            message: format!("video stream ({codec}) without a frame size"),
        });
    };
    let fps = parse_rate(stream.avg_frame_rate.as_deref())
        .or_else(|| parse_rate(stream.r_frame_rate.as_deref()))
        .unwrap_or(0.0);
    let duration = parsed
        .format
        .and_then(|f| f.duration)
        .and_then(|d| d.parse::<f64>().ok());
    let frame_count = stream
        .nb_frames
        .and_then(|n| n.parse::<u64>().ok())
        .filter(|&n| n > 0)
        .or_else(|| {
            duration
                .filter(|d| *d > 0.0 && fps > 0.0)
                .map(|d| (d * fps).round() as u64)
        });
    Ok(VideoInfo {
        width,
        height,
        fps,
        frame_count,
        codec,
        profile: stream.profile,
        pix_fmt: stream.pix_fmt,
    })
}

/// A spawn failure: "not found" names the program and how to get it.
pub(crate) fn spawn_error(
    program: Program,
    tried: std::ffi::OsString,
    input: &OsStr,
    source: std::io::Error,
) -> VideoError {
    if source.kind() == std::io::ErrorKind::NotFound {
        VideoError::ProgramNotFound {
            program: program.name(),
            tried,
            env_var: program.env_var(),
        }
    } else {
        VideoError::Io {
            program: program.name(),
            input: shown(input),
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse_like_ffprobe_writes_them() {
        assert_eq!(parse_rate(Some("25/1")), Some(25.0));
        assert!((parse_rate(Some("30000/1001")).unwrap() - 29.97003).abs() < 1e-5);
        assert_eq!(parse_rate(Some("0/0")), None);
        assert_eq!(parse_rate(Some("abc")), None);
        assert_eq!(parse_rate(None), None);
    }

    #[test]
    fn last_lines_keeps_the_tail() {
        assert_eq!(last_lines("a\n\nb\nc\n", 2), "b; c");
        assert_eq!(last_lines("", 2), "");
    }
}
