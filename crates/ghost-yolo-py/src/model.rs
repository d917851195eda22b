//! `ghost_yolo._core.Model`: one loaded [`Detector`], shared by every Python thread that calls it.
//!
//! Options come per call (Ultralytics passes them to `predict`), so one model serves callers with
//! different thresholds, sizes and thread counts: a call with `threads=N` borrows a kernel context
//! of N threads from a small pool kept per N.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;

use ghost_image::image_io::load_rgb;
use ghost_kernels::Threads;
use image::RgbImage;
use ndarray::{Array2, Array3};
use numpy::{IntoPyArray, PyArray2, PyArray3, PyReadonlyArray3, PyUntypedArrayMethods};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use yolo11_ghost::detector::{
    ChannelOrder, Context, Detector, DetectorOptions, PixelView, TimedDetections, WeightsChoice,
    DEFAULT_SEED,
};
use yolo11_ghost::info::ModelInfo;
use yolo11_ghost::postprocess::{class_name, Detection};
use yolo11_ghost::spec::builtin_model_names;
use yolo11_ghost::val::{validate, Dataset, ValOptions};

use crate::errors::{guarded, py_err, GhostYoloError};

/// Per-call prediction options (a dict made by the Python layer, which checked their types).
#[derive(Debug, FromPyObject)]
#[pyo3(from_item_all)]
pub struct PredictOptions {
    conf: f64,
    iou: f64,
    imgsz: Option<(usize, usize)>,
    classes: Option<Vec<usize>>,
    max_det: usize,
    agnostic_nms: bool,
    threads: Option<usize>,
}

/// Detections of one image as Ultralytics' `boxes.data`: rows `x1, y1, x2, y2, conf, cls`.
type Rows = Array2<f32>;
/// Per-image milliseconds: preprocess, inference, postprocess.
type Speed = (f64, f64, f64);

/// A loaded detector (weights packed for the CPU kernels); thread-safe.
#[pyclass(frozen, module = "ghost_yolo._core")]
pub struct Model {
    detector: Detector,
    /// Kernel contexts by thread count, for calls that ask for a thread count.
    contexts: Mutex<HashMap<usize, Vec<Context>>>,
}

impl Model {
    fn new(detector: Detector) -> Self {
        Self {
            detector,
            contexts: Mutex::new(HashMap::new()),
        }
    }

    fn detector_options(&self, o: &PredictOptions) -> DetectorOptions {
        let trained = self.detector.trained_imgsz().map(|s| (s, s));
        DetectorOptions {
            conf: o.conf,
            iou: o.iou,
            max_det: o.max_det,
            agnostic: o.agnostic_nms,
            classes: o.classes.clone(),
            // Ultralytics: a checkpoint predicts at the size it was trained at unless told.
            imgsz: o.imgsz.or(trained).unwrap_or((640, 640)),
            rect: true,
            threads: o.threads,
        }
    }

    /// Run `views` with `options`, on a pooled context of `options.threads` threads when given.
    fn run(&self, views: &[PixelView<'_>], options: &DetectorOptions) -> PyResult<TimedDetections> {
        let Some(n) = options.threads else {
            return self
                .detector
                .detect_views(views, options, None)
                .map_err(py_err);
        };
        if n == 0 {
            return Err(PyValueError::new_err(
                "invalid threads: expected at least 1, found 0",
            ));
        }
        let pooled = self
            .contexts
            .lock()
            .ok()
            .and_then(|mut pool| pool.get_mut(&n).and_then(Vec::pop));
        let mut ctx = match pooled {
            Some(ctx) => ctx,
            None => Context::new(Threads::new(n).map_err(py_err)?),
        };
        let result = self.detector.detect_views(views, options, Some(&mut ctx));
        if let Ok(mut pool) = self.contexts.lock() {
            pool.entry(n).or_default().push(ctx);
        }
        result.map_err(py_err)
    }
}

fn rows(detections: &[Detection]) -> Rows {
    let mut out = Array2::<f32>::zeros((detections.len(), 6));
    for (mut row, d) in out.outer_iter_mut().zip(detections) {
        let v = [d.x1, d.y1, d.x2, d.y2, d.confidence, d.class_id as f32];
        row.iter_mut().zip(v).for_each(|(r, v)| *r = v);
    }
    out
}

/// Stage times of a batch, per image (as Ultralytics reports `speed`).
fn per_image(t: &TimedDetections, n: usize) -> Speed {
    let n = n.max(1) as f64;
    (
        t.times.preprocess_ms / n,
        t.times.inference_ms / n,
        t.times.postprocess_ms / n,
    )
}

/// An RGB image as an `H x W x 3` BGR array (OpenCV's order, what Ultralytics keeps as
/// `orig_img`).
pub fn rgb_to_bgr_array(image: &RgbImage) -> Array3<u8> {
    let (w, h) = (image.width() as usize, image.height() as usize);
    let bgr: Vec<u8> = image
        .as_raw()
        .chunks_exact(3)
        .flat_map(|p| [p[2], p[1], p[0]])
        .collect();
    Array3::from_shape_vec((h, w, 3), bgr).expect("the buffer is sized from the image")
}

fn build(
    py: Python<'_>,
    load: impl FnOnce(DetectorOptions) -> Result<Detector, yolo11_ghost::detector::DetectError> + Send,
    threads: Option<usize>,
) -> PyResult<Model> {
    let options = DetectorOptions {
        threads,
        ..DetectorOptions::default()
    };
    py.detach(|| guarded(|| load(options).map_err(py_err)))
        .map(Model::new)
}

#[pymethods]
impl Model {
    /// The embedded default model (YOLO11n-GhostNet trained on the synthetic shapes, imgsz 320).
    #[staticmethod]
    #[pyo3(signature = (threads=None))]
    fn embedded(py: Python<'_>, threads: Option<usize>) -> PyResult<Model> {
        build(py, Detector::default_model, threads)
    }

    /// A `.safetensors` checkpoint exported by `tools/export_ultralytics.py` (it names its model,
    /// classes and training size).
    #[staticmethod]
    #[pyo3(signature = (path, threads=None))]
    fn from_weights(py: Python<'_>, path: PathBuf, threads: Option<usize>) -> PyResult<Model> {
        build(py, |o| Detector::from_weights(&path, o), threads)
    }

    /// A built-in model name or a model YAML path with seeded random weights (the detections are
    /// meaningless: for benchmarks and tests, as Ultralytics' `YOLO("x.yaml")` is untrained).
    #[staticmethod]
    #[pyo3(signature = (model, seed=None, threads=None))]
    fn from_spec(
        py: Python<'_>,
        model: String,
        seed: Option<u64>,
        threads: Option<usize>,
    ) -> PyResult<Model> {
        let weights = WeightsChoice::Seeded(seed.unwrap_or(DEFAULT_SEED));
        build(py, |o| Detector::load(&model, &weights, o), threads)
    }

    /// Class names by id (`class{i}` where the weights name none).
    #[getter]
    fn names(&self) -> Vec<String> {
        let names = self.detector.class_names();
        (0..self.detector.num_classes())
            .map(|i| class_name(names, i))
            .collect()
    }

    /// The model's name (`yolo11n-ghost`, a YAML stem ...).
    #[getter]
    fn model_name(&self) -> String {
        self.detector.model_name().to_string()
    }

    /// The image size the weights were trained at, when they say.
    #[getter]
    fn trained_imgsz(&self) -> Option<usize> {
        self.detector.trained_imgsz()
    }

    /// The coarsest stride (image sides are rounded up to a multiple of it).
    #[getter]
    fn stride(&self) -> usize {
        self.detector.stride()
    }

    /// Kernel threads of calls that do not ask for a number.
    #[getter]
    fn threads(&self) -> usize {
        self.detector.threads()
    }

    /// Remarks made while loading (NaN weights, unused tensors ...).
    #[getter]
    fn warnings(&self) -> Vec<String> {
        self.detector
            .warnings()
            .iter()
            .map(|w| w.to_string())
            .collect()
    }

    /// `(table, layers, parameters, GFLOPs)`: the `ghost-yolo info` table for `imgsz` (H, W).
    fn info(&self, imgsz: (usize, usize)) -> PyResult<(String, usize, u64, f64)> {
        guarded(|| {
            let spec = self
                .detector
                .spec()
                .ok_or_else(|| GhostYoloError::new_err("this model has no specification"))?;
            let info = ModelInfo::new(spec, imgsz.0, imgsz.1).map_err(py_err)?;
            Ok((info.table(), info.leaf_layers, info.params, info.gflops))
        })
    }

    /// Decode image files (like `cv2.imread`) and detect in one batch. Returns per image its
    /// BGR pixels, its `N x 6` detections, its speed; then the warnings about the options.
    #[allow(clippy::type_complexity)]
    fn detect_paths<'py>(
        &self,
        py: Python<'py>,
        paths: Vec<PathBuf>,
        options: PredictOptions,
    ) -> PyResult<(
        Vec<(Bound<'py, PyArray3<u8>>, Bound<'py, PyArray2<f32>>, Speed)>,
        Vec<String>,
    )> {
        let options = self.detector_options(&options);
        let (images, timed) = py.detach(|| {
            guarded(|| {
                let images = paths
                    .iter()
                    .map(|p| load_rgb(p).map_err(py_err))
                    .collect::<PyResult<Vec<RgbImage>>>()?;
                let views: Vec<PixelView<'_>> = images.iter().map(PixelView::rgb).collect();
                let timed = self.run(&views, &options)?;
                let bgr: Vec<Array3<u8>> = images.iter().map(rgb_to_bgr_array).collect();
                Ok((bgr, timed))
            })
        })?;
        let speed = per_image(&timed, images.len());
        let results = images
            .into_iter()
            .zip(&timed.detections)
            .map(|(img, d)| (img.into_pyarray(py), rows(d).into_pyarray(py), speed))
            .collect();
        Ok((
            results,
            timed.warnings.iter().map(|w| w.to_string()).collect(),
        ))
    }

    /// Detect in `H x W x 3` uint8 arrays (BGR when `bgr`, else RGB) in one batch, reading them
    /// in place when C-contiguous. Returns per image its detections and speed, then the warnings.
    #[allow(clippy::type_complexity)]
    fn detect_arrays<'py>(
        &self,
        py: Python<'py>,
        arrays: Vec<PyReadonlyArray3<'py, u8>>,
        bgr: bool,
        options: PredictOptions,
    ) -> PyResult<(Vec<(Bound<'py, PyArray2<f32>>, Speed)>, Vec<String>)> {
        let options = self.detector_options(&options);
        let order = if bgr {
            ChannelOrder::Bgr
        } else {
            ChannelOrder::Rgb
        };
        // Strided arrays (a crop, a channel flip) are copied once into C order.
        let copies: Vec<Option<Array3<u8>>> = arrays
            .iter()
            .map(|a| {
                a.as_slice()
                    .is_err()
                    .then(|| a.as_array().as_standard_layout().into_owned())
            })
            .collect();
        let mut views = Vec::with_capacity(arrays.len());
        for (i, (a, copy)) in arrays.iter().zip(&copies).enumerate() {
            let shape = a.shape();
            if shape[2] != 3 {
                return Err(PyValueError::new_err(format!(
                    "image {i}: expected an HxWx3 array, found shape {shape:?}"
                )));
            }
            let data = match copy {
                Some(c) => c.as_slice().expect("standard layout"),
                None => a.as_slice().expect("checked contiguous"),
            };
            let view = PixelView::new(data, shape[0], shape[1], order)
                .map_err(|e| PyValueError::new_err(format!("image {i}: {e}")))?;
            views.push(view);
        }
        let timed = py.detach(|| guarded(|| self.run(&views, &options)))?;
        let speed = per_image(&timed, views.len());
        let results = timed
            .detections
            .iter()
            .map(|d| (rows(d).into_pyarray(py), speed))
            .collect();
        Ok((
            results,
            timed.warnings.iter().map(|w| w.to_string()).collect(),
        ))
    }

    /// Ultralytics `val` on a YOLO-format dataset; the report as JSON.
    #[pyo3(signature = (data, split, imgsz, batch, conf, iou, max_det))]
    #[allow(clippy::too_many_arguments)]
    fn val(
        &self,
        py: Python<'_>,
        data: PathBuf,
        split: String,
        imgsz: Option<usize>,
        batch: usize,
        conf: f64,
        iou: f64,
        max_det: usize,
    ) -> PyResult<String> {
        py.detach(|| {
            guarded(|| {
                let dataset = Dataset::open(&data, &split).map_err(py_err)?;
                let stride = self.detector.stride();
                let imgsz = imgsz
                    .or(self.detector.trained_imgsz())
                    .unwrap_or(640)
                    .div_ceil(stride)
                    .max(1)
                    * stride;
                let options = ValOptions {
                    imgsz,
                    batch,
                    conf,
                    iou,
                    max_det,
                };
                let r = validate(&self.detector, &dataset, &options, |_, _| {}).map_err(py_err)?;
                let classes: Vec<serde_json::Value> = r
                    .classes
                    .iter()
                    .map(|c| {
                        serde_json::json!({
                            "class": c.class, "name": c.name, "images": c.images,
                            "instances": c.instances, "precision": c.precision,
                            "recall": c.recall, "map50": c.map50, "map50_95": c.map50_95,
                        })
                    })
                    .collect();
                let doc = serde_json::json!({
                    "imgsz": imgsz, "images": r.images, "instances": r.instances,
                    "precision": r.precision, "recall": r.recall,
                    "map50": r.map50, "map50_95": r.map50_95, "classes": classes,
                    "speed": {"preprocess": r.speed_ms[0], "inference": r.speed_ms[1],
                              "postprocess": r.speed_ms[2]},
                });
                Ok(doc.to_string())
            })
        })
    }
}

/// The built-in model names (`yolo11n` ... `yolo11x-ghost`).
#[pyfunction]
pub fn builtin_models() -> Vec<String> {
    builtin_model_names()
}
