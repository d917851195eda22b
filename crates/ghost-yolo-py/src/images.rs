//! Image helpers for `Results`: draw detections (`plot`), write an image (`save`), read one like
//! `cv2.imread`. Arrays are `H x W x 3` uint8 in BGR order, as OpenCV and Ultralytics keep them.

use std::path::PathBuf;

use ghost_image::draw::annotate as draw_annotations;
use ghost_image::image_io::load_rgb;
use image::{ImageFormat, RgbImage};
use ndarray::Array3;
use numpy::{IntoPyArray, PyArray3, PyReadonlyArray2, PyReadonlyArray3, PyUntypedArrayMethods};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use yolo11_ghost::postprocess::{class_name, Detection};

use crate::errors::{guarded, py_err, GhostYoloError};
use crate::model::rgb_to_bgr_array;

/// A BGR array as an RGB image (one copy; drawing and encoding work on RGB).
fn bgr_to_rgb(image: &PyReadonlyArray3<'_, u8>) -> PyResult<RgbImage> {
    let shape = image.shape();
    if shape[2] != 3 {
        return Err(PyValueError::new_err(format!(
            "expected an HxWx3 uint8 array, found shape {shape:?}"
        )));
    }
    let view = image.as_array();
    let mut rgb = Vec::with_capacity(shape[0] * shape[1] * 3);
    for pixel in view.rows() {
        rgb.extend_from_slice(&[pixel[2], pixel[1], pixel[0]]);
    }
    let (w, h) = (
        u32::try_from(shape[1]).map_err(|_| PyValueError::new_err("image too wide"))?,
        u32::try_from(shape[0]).map_err(|_| PyValueError::new_err("image too tall"))?,
    );
    RgbImage::from_raw(w, h, rgb).ok_or_else(|| PyValueError::new_err("image buffer size"))
}

/// Draw `boxes` (`N x 6`: x1, y1, x2, y2, conf, cls) on a copy of `image` (BGR) with
/// Ultralytics' colours and labels; returns the annotated BGR array. `labels`, when given, is
/// each box's label in place of its class name (tracks: `id:3 circle`); colours stay by class.
#[pyfunction]
#[pyo3(signature = (image, boxes, names, labels=None))]
pub fn annotate<'py>(
    py: Python<'py>,
    image: PyReadonlyArray3<'py, u8>,
    boxes: PyReadonlyArray2<'py, f32>,
    names: Vec<String>,
    labels: Option<Vec<String>>,
) -> PyResult<Bound<'py, PyArray3<u8>>> {
    let rgb = bgr_to_rgb(&image)?;
    let boxes = boxes.as_array();
    if boxes.ncols() != 6 {
        return Err(PyValueError::new_err(format!(
            "boxes: expected N x 6 (x1, y1, x2, y2, conf, cls), found {:?}",
            boxes.shape()
        )));
    }
    if let Some(labels) = &labels {
        if labels.len() != boxes.nrows() {
            return Err(PyValueError::new_err(format!(
                "labels: expected one per box ({}), found {}",
                boxes.nrows(),
                labels.len()
            )));
        }
    }
    let detections: Vec<Detection> = boxes
        .rows()
        .into_iter()
        .enumerate()
        .map(|(i, r)| {
            let class_id = r[5].max(0.0) as usize;
            Detection {
                x1: r[0],
                y1: r[1],
                x2: r[2],
                y2: r[3],
                confidence: r[4],
                class_id,
                class_name: match &labels {
                    Some(l) => l[i].clone(),
                    None => class_name(&names, class_id),
                },
            }
        })
        .collect();
    let out =
        py.detach(|| guarded(|| Ok(rgb_to_bgr_array(&draw_annotations(&rgb, &detections)))))?;
    Ok(out.into_pyarray(py))
}

/// Write a BGR array to `path` in the format its extension names (JPEG at quality 95, like
/// `cv2.imwrite` and `ghost-yolo detect --save`).
#[pyfunction]
pub fn save_image(py: Python<'_>, image: PyReadonlyArray3<'_, u8>, path: PathBuf) -> PyResult<()> {
    let rgb = bgr_to_rgb(&image)?;
    let format = ImageFormat::from_path(&path)
        .map_err(|e| PyValueError::new_err(format!("cannot save {}: {e}", path.display())))?;
    py.detach(|| {
        guarded(|| {
            let fail = |e: &dyn std::fmt::Display| {
                GhostYoloError::new_err(format!("cannot save {}: {e}", path.display()))
            };
            if format == ImageFormat::Jpeg {
                let file = std::fs::File::create(&path).map_err(|e| fail(&e))?;
                let mut writer = std::io::BufWriter::new(file);
                let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut writer, 95);
                rgb.write_with_encoder(encoder).map_err(|e| fail(&e))
            } else {
                rgb.save_with_format(&path, format).map_err(|e| fail(&e))
            }
        })
    })
}

/// Read an image file like `cv2.imread` (EXIF orientation applied) as a BGR array.
#[pyfunction]
pub fn read_image(py: Python<'_>, path: PathBuf) -> PyResult<Bound<'_, PyArray3<u8>>> {
    let bgr: Array3<u8> =
        py.detach(|| guarded(|| Ok(rgb_to_bgr_array(&load_rgb(&path).map_err(py_err)?))))?;
    Ok(bgr.into_pyarray(py))
}
