//! Annotated video out: RGB frames piped to an `ffmpeg` child that encodes H.264 (libx264,
//! yuv420p, x264's defaults: High profile) into an MP4 at the source's frame rate.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::thread::JoinHandle;

use image::RgbImage;

use crate::error::VideoError;
use crate::probe::{last_lines, spawn_error};
use crate::program::Program;

/// Frame rate used when the source does not say (Ultralytics' fallback).
pub const DEFAULT_FPS: f64 = 30.0;

/// An H.264 MP4 being written, to a temporary file beside the target that
/// [`VideoEncoder::finish`] renames into place; dropping without it stops ffmpeg and removes the
/// temporary file (the target is left as it was).
#[derive(Debug)]
pub struct VideoEncoder {
    path: PathBuf,
    /// Where ffmpeg writes until [`VideoEncoder::finish`] renames it to `path` (see `atomic`).
    temp: PathBuf,
    width: u32,
    height: u32,
    child: Child,
    stdin: Option<ChildStdin>,
    stderr: Option<JoinHandle<String>>,
    frames: u64,
}

impl VideoEncoder {
    /// Start writing `path` (replaced if it exists) for `width` x `height` RGB frames at `fps`
    /// (<= 0 or not finite: [`DEFAULT_FPS`]). Odd sizes are padded by one pixel (yuv420p needs
    /// even sides).
    pub fn create(
        path: &Path,
        width: u32,
        height: u32,
        fps: f64,
        ffmpeg: Option<&PathBuf>,
    ) -> Result<Self, VideoError> {
        let fps = if fps.is_finite() && fps > 0.0 {
            fps
        } else {
            DEFAULT_FPS
        };
        let program = Program::Ffmpeg.resolve(ffmpeg);
        let shown = path.display().to_string();
        let (temp, file) =
            crate::atomic::create_temp(path).map_err(|message| VideoError::Unreadable {
                input: shown.clone(),
                message,
            })?;
        drop(file);
        let mut child = Command::new(&program)
            .args(["-nostdin", "-hide_banner", "-v", "error", "-y"])
            .args(["-f", "rawvideo", "-pix_fmt", "rgb24", "-s"])
            .arg(format!("{width}x{height}"))
            .arg("-r")
            .arg(format!("{fps}"))
            .args(["-i", "-", "-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2"])
            .args([
                "-c:v",
                "libx264",
                "-pix_fmt",
                "yuv420p",
                "-movflags",
                "+faststart",
            ])
            // the temporary name has no .mp4 extension: the muxer is named
            .args(["-f", "mp4"])
            .arg(&temp)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|source| {
                let _ = std::fs::remove_file(&temp);
                spawn_error(Program::Ffmpeg, program, path.as_os_str(), source)
            })?;
        let stdin = child.stdin.take();
        let mut pipe = child.stderr.take().expect("stderr was piped");
        let stderr = std::thread::Builder::new()
            .name("ffmpeg-encode-stderr".into())
            .spawn(move || {
                let mut text = String::new();
                let _ = pipe.read_to_string(&mut text);
                text
            })
            .map_err(|source| VideoError::Io {
                program: "ffmpeg",
                input: shown.clone(),
                source,
            })?;
        Ok(Self {
            path: path.to_path_buf(),
            temp,
            width,
            height,
            child,
            stdin,
            stderr: Some(stderr),
            frames: 0,
        })
    }

    /// Frames written so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// Append one frame (same size as at creation).
    pub fn write(&mut self, frame: &RgbImage) -> Result<(), VideoError> {
        if (frame.width(), frame.height()) != (self.width, self.height) {
            return Err(VideoError::InvalidOption {
                option: "frame size",
                expected: "the size the video was created with",
                found: format!(
                    "{}x{} for a {}x{} video",
                    frame.width(),
                    frame.height(),
                    self.width,
                    self.height
                ),
            });
        }
        let stdin = self.stdin.as_mut().expect("open until finish");
        if let Err(source) = stdin.write_all(frame.as_raw()) {
            // ffmpeg died: its own message says why
            let message = self.reap();
            return Err(VideoError::Unreadable {
                input: self.path.display().to_string(),
                message: if message.is_empty() {
                    source.to_string()
                } else {
                    message
                },
            });
        }
        self.frames += 1;
        Ok(())
    }

    fn reap(&mut self) -> String {
        self.stdin = None;
        let _ = self.child.wait();
        let text = self
            .stderr
            .take()
            .and_then(|h| h.join().ok())
            .unwrap_or_default();
        last_lines(&text, 3)
    }

    /// Close the pipe and wait for ffmpeg to write the file.
    pub fn finish(mut self) -> Result<PathBuf, VideoError> {
        self.stdin = None;
        let status = self.child.wait();
        let text = self
            .stderr
            .take()
            .and_then(|h| h.join().ok())
            .unwrap_or_default();
        match status {
            Ok(s) if s.success() => crate::atomic::commit(&self.temp, &self.path)
                .map(|()| self.path.clone())
                .map_err(|message| VideoError::Unreadable {
                    input: self.path.display().to_string(),
                    message,
                }),
            Ok(s) => Err(VideoError::Unreadable {
                input: self.path.display().to_string(),
                message: format!("ffmpeg encoding exited with {s}: {}", last_lines(&text, 3)),
            }),
            Err(source) => Err(VideoError::Io {
                program: "ffmpeg",
                input: self.path.display().to_string(),
                source,
            }),
        }
    }
}

impl Drop for VideoEncoder {
    fn drop(&mut self) {
        if self.stderr.is_some() {
            self.stdin = None;
            let _ = self.child.wait();
            if let Some(h) = self.stderr.take() {
                let _ = h.join();
            }
        }
        // Renamed by a successful finish; otherwise an unfinished file that must not stay.
        let _ = std::fs::remove_file(&self.temp);
    }
}
