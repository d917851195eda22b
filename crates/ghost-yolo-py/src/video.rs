//! `ghost_yolo._core.VideoReader`: the frames of a video file as BGR numpy arrays (what
//! `cv2.VideoCapture.read` returns), decoded by `ghost-video` (the `ffmpeg` program, in its own
//! process, a few frames ahead in a bounded queue).

use std::path::PathBuf;
use std::sync::Mutex;

use ghost_video::{DecodeOptions, PixelFormat, VideoDecoder, VideoError};
use ndarray::Array3;
use numpy::{IntoPyArray, PyArray3};
use pyo3::exceptions::{PyFileNotFoundError, PyValueError};
use pyo3::prelude::*;

use crate::errors::{guarded, GhostYoloError};

/// A video file's frames in order, as `H x W x 3` uint8 BGR arrays; iterate it.
#[pyclass(module = "ghost_yolo._core", frozen)]
pub struct VideoReader {
    /// Behind a mutex: the decoder is read with the GIL released.
    decoder: Mutex<VideoDecoder>,
    frames: Option<u64>,
    fps: f64,
}

/// A decoding error as the Python exception a user expects.
fn video_err(e: VideoError) -> PyErr {
    match e {
        VideoError::NotFound { .. } | VideoError::ProgramNotFound { .. } => {
            PyFileNotFoundError::new_err(e.to_string())
        }
        VideoError::InvalidOption { .. } => PyValueError::new_err(e.to_string()),
        _ => GhostYoloError::new_err(e.to_string()),
    }
}

#[pymethods]
impl VideoReader {
    /// Probe `path` and start decoding it; every `vid_stride`-th frame is kept (Ultralytics'
    /// `vid_stride`).
    #[new]
    #[pyo3(signature = (path, vid_stride=1))]
    fn new(py: Python<'_>, path: PathBuf, vid_stride: u64) -> PyResult<Self> {
        // `path` holds the name exactly (a `str` from `os.fsdecode` comes back to its bytes).
        let options = DecodeOptions {
            format: PixelFormat::Bgr24,
            vid_stride,
            ..DecodeOptions::default()
        };
        let decoder =
            py.detach(|| guarded(|| VideoDecoder::open(&path, options).map_err(video_err)))?;
        Ok(Self {
            frames: decoder.expected_frames(),
            fps: decoder.info().fps,
            decoder: Mutex::new(decoder),
        })
    }

    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    /// The next frame, or `StopIteration` at the end. A file that breaks after some frames ends
    /// early; [`VideoReader::warnings`] says why.
    fn __next__<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyArray3<u8>>>> {
        let next = py.detach(|| {
            guarded(|| {
                let mut decoder = self
                    .decoder
                    .lock()
                    .map_err(|_| GhostYoloError::new_err("the video reader failed earlier"))?;
                match decoder.next() {
                    None => Ok(None),
                    Some(Err(e)) => Err(video_err(e)),
                    Some(Ok(frame)) => {
                        let (h, w) = (frame.height as usize, frame.width as usize);
                        Array3::from_shape_vec((h, w, 3), frame.data)
                            .map(Some)
                            .map_err(|e| GhostYoloError::new_err(format!("frame size: {e}")))
                    }
                }
            })
        })?;
        Ok(next.map(|a| a.into_pyarray(py)))
    }

    /// Frames the file will give when its container says (frame count / `vid_stride`).
    #[getter]
    fn frames(&self) -> Option<u64> {
        self.frames
    }

    /// Frames per second, as ffprobe reads it.
    #[getter]
    fn fps(&self) -> f64 {
        self.fps
    }

    /// Problems met after the first frame (a truncated file ...), complete once iteration ended.
    #[getter]
    fn warnings(&self) -> Vec<String> {
        self.decoder
            .lock()
            .map(|d| d.warnings().to_vec())
            .unwrap_or_default()
    }
}
