//! [`VideoDecoder`]: frames of a video file or stream, decoded by an `ffmpeg` child process that
//! writes raw frames to a pipe.
//!
//! Three threads: ffmpeg itself (decoding and, for BGR, swscale's conversion, on its own cores),
//! a reader that cuts the pipe into frames and hands them over a bounded channel (`queue` frames:
//! when the consumer is slower, the reader blocks, the pipe fills and ffmpeg waits, so memory stays
//! flat however long the video), and a drain for ffmpeg's error output (so it can never block on a
//! full stderr pipe; its last lines become the error or warning text).

use std::ffi::{OsStr, OsString};
use std::io::Read;
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::thread::JoinHandle;

use crate::error::VideoError;
use crate::frame::{PixelFormat, VideoFrame};
use crate::probe::{input_args, is_url, last_lines, probe, shown, spawn_error, VideoInfo};
use crate::program::Program;

/// How to decode.
#[derive(Debug, Clone)]
pub struct DecodeOptions {
    /// Pixel layout of the frames (default BGR, as `cv2.VideoCapture`).
    pub format: PixelFormat,
    /// Keep every `vid_stride`-th frame, as Ultralytics does (`grab()` that many frames, keep the
    /// last: 0-based source frames `s-1, 2s-1, ...`). At least 1.
    pub vid_stride: u64,
    /// Decoded frames waiting for the consumer, at most (at least 1). Memory is about
    /// `queue + 2` frames plus ffmpeg's own buffers.
    pub queue: usize,
    /// The `ffmpeg` program (default: `GHOST_FFMPEG`, else `ffmpeg` on `PATH`).
    pub ffmpeg: Option<PathBuf>,
    /// The `ffprobe` program (default: `GHOST_FFPROBE`, else `ffprobe` on `PATH`).
    pub ffprobe: Option<PathBuf>,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        Self {
            format: PixelFormat::Bgr24,
            vid_stride: 1,
            queue: 4,
            ffmpeg: None,
            ffprobe: None,
        }
    }
}

/// What the reader thread hands over.
enum Message {
    Frame(VideoFrame),
    /// The pipe ended; `partial` bytes of an incomplete last frame were dropped.
    End {
        partial: usize,
    },
    Failed(std::io::Error),
}

/// An iterator over the frames of one video file or stream.
///
/// Yields `Ok(frame)` for each kept frame, then ends. When FFmpeg fails before the first frame
/// (not a video, unsupported codec, unreachable stream) the one item is the `Err`. When it fails
/// after some frames (a truncated or corrupt file, a stream that stops), the frames decoded so far
/// are yielded and [`VideoDecoder::warnings`] says what happened. Dropping the decoder early stops
/// ffmpeg.
#[derive(Debug)]
pub struct VideoDecoder {
    input: OsString,
    info: VideoInfo,
    options: DecodeOptions,
    child: Child,
    frames: Option<Receiver<Message>>,
    reader: Option<JoinHandle<()>>,
    stderr: Option<JoinHandle<String>>,
    yielded: u64,
    warnings: Vec<String>,
    finished: bool,
}

impl std::fmt::Debug for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Message::Frame(v) => write!(f, "Frame({})", v.index),
            Message::End { partial } => write!(f, "End({partial})"),
            Message::Failed(e) => write!(f, "Failed({e})"),
        }
    }
}

/// Keep the last this many bytes of ffmpeg's error output.
const STDERR_KEEP: usize = 16 * 1024;

impl VideoDecoder {
    /// Probe `input` (a path, any bytes the OS allows, or an `rtsp://`, `http://` ... URL) and
    /// start decoding it.
    pub fn open(input: impl AsRef<OsStr>, options: DecodeOptions) -> Result<Self, VideoError> {
        let input = input.as_ref();
        if options.vid_stride == 0 {
            return Err(VideoError::InvalidOption {
                option: "vid_stride",
                expected: ">= 1",
                found: "0".into(),
            });
        }
        if options.queue == 0 {
            return Err(VideoError::InvalidOption {
                option: "queue",
                expected: ">= 1",
                found: "0".into(),
            });
        }
        let info = probe(input, options.ffprobe.as_ref())?;
        if info.codec == "none" || info.codec == "unknown" {
            return Err(VideoError::UnsupportedCodec {
                input: shown(input),
                codec: info.codec.clone(),
                message: String::new(),
            });
        }
        let program = Program::Ffmpeg.resolve(options.ffmpeg.as_ref());
        let mut child = Command::new(&program)
            .args(["-nostdin", "-hide_banner", "-v", "error"])
            .args(input_args(input))
            .arg("-i")
            .arg(input)
            .args(["-map", "0:v:0", "-an", "-sn", "-dn"])
            // one output frame per decoded frame: no duplicates or drops to hit a frame rate
            .args(["-vsync", "passthrough", "-f", "rawvideo", "-pix_fmt"])
            .arg(options.format.ffmpeg_name())
            .arg("-")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|source| spawn_error(Program::Ffmpeg, program, input, source))?;
        let stdout = child.stdout.take().expect("stdout was piped");
        let mut stderr_pipe = child.stderr.take().expect("stderr was piped");
        let stderr = std::thread::Builder::new()
            .name("ffmpeg-stderr".into())
            .spawn(move || {
                let mut kept = Vec::new();
                let mut buf = [0u8; 4096];
                while let Ok(n) = stderr_pipe.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    kept.extend_from_slice(&buf[..n]);
                    if kept.len() > 2 * STDERR_KEEP {
                        kept.drain(..kept.len() - STDERR_KEEP);
                    }
                }
                String::from_utf8_lossy(&kept).into_owned()
            });
        let (tx, rx) = sync_channel(options.queue);
        let (width, height, format, stride) =
            (info.width, info.height, options.format, options.vid_stride);
        let reader = std::thread::Builder::new()
            .name("ffmpeg-frames".into())
            .spawn(move || read_frames(stdout, tx, width, height, format, stride));
        let (reader, stderr) = match (reader, stderr) {
            (Ok(r), Ok(s)) => (r, s),
            (Err(source), _) | (_, Err(source)) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(VideoError::Io {
                    program: "ffmpeg",
                    input: shown(input),
                    source,
                });
            }
        };
        Ok(Self {
            input: input.into(),
            info,
            options,
            child,
            frames: Some(rx),
            reader: Some(reader),
            stderr: Some(stderr),
            yielded: 0,
            warnings: Vec::new(),
            finished: false,
        })
    }

    /// What ffprobe said about the input.
    pub fn info(&self) -> &VideoInfo {
        &self.info
    }

    /// The input as given (exactly: a file name need not be UTF-8).
    pub fn input(&self) -> &OsStr {
        &self.input
    }

    /// Frames this decoder will yield when the container's frame count is right (Ultralytics'
    /// `frames`: count / vid_stride, rounded down); `None` for live streams.
    pub fn expected_frames(&self) -> Option<u64> {
        self.info.frame_count.map(|n| n / self.options.vid_stride)
    }

    /// Frames yielded so far.
    pub fn frames_yielded(&self) -> u64 {
        self.yielded
    }

    /// Problems met after the first frame (truncated or corrupt data, a stream that stopped),
    /// complete once the iterator has ended.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// The pipe has ended: reap ffmpeg and turn what it said into an error (nothing decoded)
    /// or a warning (some frames decoded).
    fn finish(&mut self, partial: usize, read_error: Option<std::io::Error>) -> Option<VideoError> {
        self.finished = true;
        self.frames = None;
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
        let status = self.child.wait();
        let stderr = self
            .stderr
            .take()
            .and_then(|h| h.join().ok())
            .unwrap_or_default();
        let message = last_lines(&stderr, 3);
        let failed = !matches!(status, Ok(s) if s.success());
        if self.yielded == 0 && (failed || !message.is_empty()) {
            let lower = stderr.to_ascii_lowercase();
            if lower.contains("decoder")
                && (lower.contains("not found") || lower.contains("no decoder"))
            {
                return Some(VideoError::UnsupportedCodec {
                    input: shown(&self.input),
                    codec: self.info.codec.clone(),
                    message,
                });
            }
            return Some(VideoError::Unreadable {
                input: shown(&self.input),
                message: if message.is_empty() {
                    format!("ffmpeg exited with {status:?} before the first frame")
                } else {
                    message
                },
            });
        }
        let mut problems = Vec::new();
        if failed {
            problems.push(match &status {
                Ok(s) => format!("ffmpeg exited with {s}"),
                Err(e) => format!("ffmpeg could not be reaped: {e}"),
            });
        }
        if !message.is_empty() {
            problems.push(format!("FFmpeg said: {message}"));
        }
        if partial > 0 {
            problems.push(format!(
                "{partial} bytes of an incomplete last frame dropped"
            ));
        }
        if let Some(e) = read_error {
            problems.push(format!("reading the frame pipe failed: {e}"));
        }
        // A stream that ends before its announced length (or a live one that ends at all) stopped:
        // FFmpeg sees the server close the connection as a clean end, so say it here.
        if is_url(&self.input) && self.expected_frames().is_none_or(|n| self.yielded < n) {
            problems.push("the stream ended".to_string());
        }
        if !problems.is_empty() {
            self.warnings.push(format!(
                "{}: stopped after {} frame(s), the frames decoded so far are kept: {}",
                shown(&self.input),
                self.yielded,
                problems.join("; ")
            ));
        }
        None
    }
}

impl Iterator for VideoDecoder {
    type Item = Result<VideoFrame, VideoError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.finished {
            return None;
        }
        let message = self.frames.as_ref()?.recv();
        match message {
            Ok(Message::Frame(frame)) => {
                self.yielded += 1;
                Some(Ok(frame))
            }
            Ok(Message::End { partial }) => self.finish(partial, None).map(Err),
            Ok(Message::Failed(e)) => self.finish(0, Some(e)).map(Err),
            Err(_) => self.finish(0, None).map(Err),
        }
    }
}

impl Drop for VideoDecoder {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        // Stop early: close our end (the reader's next send fails), stop ffmpeg (its pipe closes,
        // the reader's read returns), then reap everything.
        self.frames = None;
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
        if let Some(stderr) = self.stderr.take() {
            let _ = stderr.join();
        }
    }
}

/// Read exactly `buf.len()` bytes unless the pipe ends first; returns how many were read.
fn read_full(pipe: &mut ChildStdout, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match pipe.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// The reader thread: cut the pipe into frames, keep every `stride`-th, send them on.
fn read_frames(
    mut pipe: ChildStdout,
    frames: SyncSender<Message>,
    width: u32,
    height: u32,
    format: PixelFormat,
    stride: u64,
) {
    let size = format.frame_bytes(width, height);
    let mut buf = vec![0u8; size];
    let mut index = 0u64;
    loop {
        match read_full(&mut pipe, &mut buf) {
            Ok(n) if n == size => {}
            Ok(partial) => {
                let _ = frames.send(Message::End { partial });
                return;
            }
            Err(e) => {
                let _ = frames.send(Message::Failed(e));
                return;
            }
        }
        if (index + 1).is_multiple_of(stride) {
            let data = std::mem::replace(&mut buf, vec![0u8; size]);
            let frame = VideoFrame {
                index,
                width,
                height,
                format,
                data,
            };
            if frames.send(Message::Frame(frame)).is_err() {
                return; // the decoder was dropped
            }
        }
        index += 1;
    }
}

/// Whether `input` names a network stream (decoded live, no frame count).
pub fn is_stream(input: impl AsRef<OsStr>) -> bool {
    is_url(input.as_ref())
}
