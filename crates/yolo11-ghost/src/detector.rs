//! The detection pipeline as Ultralytics `predict` runs it: decode -> letterbox -> model ->
//! NMS -> scale_boxes -> [`Detection`]s with class names.
//!
//! [`Detector`] is `Send + Sync`: share one across threads (`Arc<Detector>`); each call borrows a
//! kernel workspace from a small internal pool, so concurrent calls never block on each other
//! for long and never allocate a new workspace in the steady state. For batch work,
//! [`StreamPool`] runs `N` independent streams over one detector (throughput mode).

mod error;
pub(crate) mod load;
mod options;
mod streams;
mod views;
mod warning;

use std::path::Path;
use std::sync::Mutex;

use ghost_kernels::Threads;
use image::{DynamicImage, RgbImage};
use ndarray::{Array3, Array4, ArrayView3, ArrayView4, Axis};

pub use error::DetectError;
/// The per-call kernel context a [`DetectionModel`] runs with (threads + workspace).
pub use ghost_layers::Context;
#[cfg(feature = "default-model")]
pub use load::DEFAULT_WEIGHTS;
pub use load::{WeightsChoice, DEFAULT_MODEL, DEFAULT_SEED, DEFAULT_WEIGHTS_NAME};
pub use options::DetectorOptions;
pub use streams::{Ordered, StreamOptions, StreamPool};
pub use views::{ChannelOrder, PixelView, StageTimes, TimedDetections};
pub use warning::{Warning, WarningKind};

use crate::error::YoloError;
use crate::letterbox::{to_input_tensor, Letterbox, LetterboxGeometry};
use crate::nms::non_max_suppression;
use crate::postprocess::{to_detections, Detection};
use crate::spec::ModelSpec;
use ghost_image::image_io::{load_rgb, to_rgb8_like_opencv};

/// A network the detector can run: `images [N, 3, H, W]` (RGB, 0-1) -> `output0 [N, 4 + nc, A]`
/// (`cx, cy, w, h` in input pixels, then sigmoid class scores), Ultralytics' inference output.
pub trait DetectionModel: Send + Sync + std::fmt::Debug {
    /// Run the network on a batch. `images` height and width are multiples of [`Self::max_stride`].
    fn forward(
        &self,
        images: ArrayView4<'_, f32>,
        ctx: &mut Context,
    ) -> Result<Array3<f32>, YoloError>;

    /// [`Self::forward`] into `out` (reshaped when its shape is not the output's), so that a
    /// caller keeping `out` across calls does not allocate (and the allocator does not map
    /// fresh pages for) the output every pass. The default calls `forward`.
    fn forward_into(
        &self,
        images: ArrayView4<'_, f32>,
        ctx: &mut Context,
        out: &mut Array3<f32>,
    ) -> Result<(), YoloError> {
        *out = self.forward(images, ctx)?;
        Ok(())
    }

    /// The coarsest stride (32 for YOLO11): input sides must be multiples of it.
    fn max_stride(&self) -> usize;

    /// Number of classes (`output0` has `4 + nc` channels).
    fn num_classes(&self) -> usize;
}

/// Letterboxed batch ready for the model, with where each original image went.
#[derive(Debug, Clone)]
pub struct Preprocessed {
    /// `[N, 3, H, W]` model input.
    pub tensor: Array4<f32>,
    /// Per image: original size and placement inside the input.
    pub geometry: Vec<LetterboxGeometry>,
}

/// The `output0` tensor a context keeps between detection calls (a type of its own, so no other
/// per-context state of type `Array3<f32>` is confused with it).
#[derive(Default)]
struct KeptOutput(Array3<f32>);

/// A YOLO detector: a model plus class names and [`DetectorOptions`].
#[derive(Debug)]
pub struct Detector {
    model: Box<dyn DetectionModel>,
    names: Vec<String>,
    options: DetectorOptions,
    imgsz: (usize, usize),
    warnings: Vec<Warning>,
    threads: Threads,
    contexts: Mutex<Vec<Context>>,
    /// The specification, when the detector was built from one (`load*`).
    spec: Option<ModelSpec>,
    /// The image size the weights were trained at (`imgsz` metadata), when known.
    trained_imgsz: Option<usize>,
    /// The quantization scheme of an INT8 weights file (`quantization` metadata).
    quantization: Option<String>,
}

impl Detector {
    /// A detector around any [`DetectionModel`]. `names[i]` names class `i` (missing names print as
    /// `class{i}`). Fails on invalid options; soft problems (imgsz rounded to the stride, class
    /// filters that can never match) are in [`Detector::warnings`].
    pub fn from_model(
        model: Box<dyn DetectionModel>,
        names: Vec<String>,
        options: DetectorOptions,
    ) -> Result<Self, DetectError> {
        let threads = options.thread_pool()?;
        Self::from_model_on(model, names, options, threads)
    }

    /// [`Detector::from_model`] with the thread pool already built (loaders build it first to
    /// pack the weights on it).
    pub(crate) fn from_model_on(
        model: Box<dyn DetectionModel>,
        names: Vec<String>,
        options: DetectorOptions,
        threads: Threads,
    ) -> Result<Self, DetectError> {
        let (imgsz, warnings) = options.validate(model.max_stride(), model.num_classes())?;
        Ok(Self {
            model,
            names,
            options,
            imgsz,
            warnings,
            threads,
            contexts: Mutex::new(Vec::new()),
            spec: None,
            trained_imgsz: None,
            quantization: None,
        })
    }

    /// The quantization scheme when the weights are an INT8 model (`ghost-yolo quantize`'s
    /// `quantization` metadata), else `None` (FP32).
    pub fn quantization(&self) -> Option<&str> {
        self.quantization.as_deref()
    }

    /// The image size the weights were trained at (their `imgsz` metadata), which Ultralytics
    /// uses as the default `imgsz` of `predict` and `val` for a checkpoint.
    pub fn trained_imgsz(&self) -> Option<usize> {
        self.trained_imgsz
    }

    /// The same detector at another inference size (validated and rounded to the stride as at
    /// construction), e.g. the [`Detector::trained_imgsz`] Ultralytics would default to.
    pub fn with_imgsz(mut self, imgsz: (usize, usize)) -> Result<Self, DetectError> {
        let options = DetectorOptions {
            imgsz,
            ..self.options.clone()
        };
        let (rounded, warnings) =
            options.validate(self.model.max_stride(), self.model.num_classes())?;
        self.options = options;
        self.imgsz = rounded;
        // Only the size-rounding warning depends on imgsz; the others (class filters, weights
        // contents) stay as they were.
        let about_size = |w: &Warning| w.kind() == WarningKind::ImageSizeRounded;
        self.warnings.retain(|w| !about_size(w));
        self.warnings
            .extend(warnings.into_iter().filter(about_size));
        Ok(self)
    }

    /// The options as given.
    pub fn options(&self) -> &DetectorOptions {
        &self.options
    }

    /// The target image size actually used (`imgsz` rounded up to the stride).
    pub fn imgsz(&self) -> (usize, usize) {
        self.imgsz
    }

    /// Non-fatal remarks about the options, for the caller to show.
    pub fn warnings(&self) -> &[Warning] {
        &self.warnings
    }

    /// Class names by class id (may be shorter than the class count).
    pub fn class_names(&self) -> &[String] {
        &self.names
    }

    /// Number of classes the model predicts.
    pub fn num_classes(&self) -> usize {
        self.model.num_classes()
    }

    /// The model's coarsest stride.
    pub fn stride(&self) -> usize {
        self.model.max_stride()
    }

    /// The model specification (with the class count of the weights), when built by
    /// [`Detector::load`] / [`Detector::from_weights`].
    pub fn spec(&self) -> Option<&ModelSpec> {
        self.spec.as_ref()
    }

    /// Display name of the model (`yolo11n-ghost`, a YAML stem, or `custom`).
    pub fn model_name(&self) -> &str {
        self.spec.as_ref().map_or("custom", |s| s.name.as_str())
    }

    /// Threads the kernels run on.
    pub fn threads(&self) -> usize {
        self.threads.count()
    }

    /// Detect objects in one image (any pixel format: converted like `cv2.imread`).
    pub fn detect(&self, image: &DynamicImage) -> Result<Vec<Detection>, DetectError> {
        self.detect_rgb(&to_rgb8_like_opencv(image))
    }

    /// Detect objects in an image file (EXIF orientation applied, like `cv2.imread`).
    pub fn detect_path(&self, path: &Path) -> Result<Vec<Detection>, DetectError> {
        self.detect_rgb(&load_rgb(path)?)
    }

    /// Detect objects in an 8-bit RGB image.
    pub fn detect_rgb(&self, image: &RgbImage) -> Result<Vec<Detection>, DetectError> {
        let mut all = self.detect_batch_rgb(std::slice::from_ref(image))?;
        Ok(all.pop().unwrap_or_default())
    }

    /// Detect objects in several images with one forward pass (letterboxed to one input shape:
    /// minimal `rect` padding when they all share a shape, else `imgsz`, as Ultralytics does).
    pub fn detect_batch(
        &self,
        images: &[DynamicImage],
    ) -> Result<Vec<Vec<Detection>>, DetectError> {
        let rgb: Vec<RgbImage> = images.iter().map(to_rgb8_like_opencv).collect();
        self.detect_batch_rgb(&rgb)
    }

    /// [`Detector::detect_batch`] for 8-bit RGB images.
    pub fn detect_batch_rgb(
        &self,
        images: &[RgbImage],
    ) -> Result<Vec<Vec<Detection>>, DetectError> {
        if images.is_empty() {
            return Ok(Vec::new());
        }
        let pre = self.preprocess(images)?;
        let mut ctx = self.pooled_context();
        let result = self.detect_preprocessed(&pre, &mut ctx);
        self.return_context(ctx);
        result
    }

    /// Forward pass and post-processing of a letterboxed batch on `ctx`, the output tensor kept
    /// in `ctx` for the next call.
    pub(crate) fn detect_preprocessed(
        &self,
        pre: &Preprocessed,
        ctx: &mut Context,
    ) -> Result<Vec<Vec<Detection>>, DetectError> {
        let mut output: Box<KeptOutput> = ctx.take_state();
        let result = self
            .forward_into(pre.tensor.view(), ctx, &mut output.0)
            .and_then(|()| {
                let input_hw = (pre.tensor.shape()[2], pre.tensor.shape()[3]);
                self.postprocess(output.0.view(), input_hw, &pre.geometry)
            });
        ctx.put_state(output);
        result
    }

    /// A context from the pool (or a new one on the detector's threads).
    fn pooled_context(&self) -> Context {
        self.contexts
            .lock()
            .ok()
            .and_then(|mut pool| pool.pop())
            .unwrap_or_else(|| self.new_context())
    }

    /// Gives a context back to the pool.
    fn return_context(&self, ctx: Context) {
        if let Ok(mut pool) = self.contexts.lock() {
            pool.push(ctx);
        }
    }

    /// Letterbox a batch into one input tensor.
    pub fn preprocess(&self, images: &[RgbImage]) -> Result<Preprocessed, DetectError> {
        let same_shape = images
            .windows(2)
            .all(|p| p[0].dimensions() == p[1].dimensions());
        let letterbox = Letterbox {
            stride: self.model.max_stride(),
            ..Letterbox::new(self.imgsz.0, self.imgsz.1)
        }
        .minimal_rect(self.options.rect && same_shape);
        let mut boxed = Vec::with_capacity(images.len());
        let mut geometry = Vec::with_capacity(images.len());
        for image in images {
            let (img, g) = letterbox.apply(image)?;
            boxed.push(img);
            geometry.push(g);
        }
        Ok(Preprocessed {
            tensor: to_input_tensor(&boxed)?,
            geometry,
        })
    }

    /// Run the raw network: `images [N, 3, H, W]` -> `output0 [N, 4 + nc, A]`.
    pub fn forward(&self, images: ArrayView4<'_, f32>) -> Result<Array3<f32>, DetectError> {
        let mut ctx = self.pooled_context();
        let result = self.forward_with_context(images, &mut ctx);
        self.return_context(ctx);
        result
    }

    /// A fresh execution context on the detector's threads (for [`Detector::forward_with_context`],
    /// e.g. with profiling enabled).
    pub fn new_context(&self) -> Context {
        Context::new(self.threads.clone())
    }

    /// [`Detector::forward`] with a caller-owned context: its buffers are reused across calls and
    /// its profile records (when enabled) are the caller's to read.
    pub fn forward_with_context(
        &self,
        images: ArrayView4<'_, f32>,
        ctx: &mut Context,
    ) -> Result<Array3<f32>, DetectError> {
        let mut output = Array3::zeros((0, 0, 0));
        self.forward_into(images, ctx, &mut output)?;
        Ok(output)
    }

    /// [`Detector::forward_with_context`] into a caller-kept `out` (reshaped when needed): with
    /// the same `ctx` and `out` across calls on inputs of one size, a pass allocates nothing.
    pub fn forward_into(
        &self,
        images: ArrayView4<'_, f32>,
        ctx: &mut Context,
        out: &mut Array3<f32>,
    ) -> Result<(), DetectError> {
        self.model.forward_into(images, ctx, out)?;
        let expected_channels = 4 + self.model.num_classes();
        let shape = out.shape();
        if shape[0] != images.shape()[0] || shape[1] != expected_channels {
            return Err(DetectError::OutputShape {
                expected: format!("[{}, {expected_channels}, anchors]", images.shape()[0]),
                found: format!("{shape:?}"),
            });
        }
        Ok(())
    }

    /// NMS and `scale_boxes` for every image of a batch output.
    pub fn postprocess(
        &self,
        output: ArrayView3<'_, f32>,
        input_hw: (usize, usize),
        geometry: &[LetterboxGeometry],
    ) -> Result<Vec<Vec<Detection>>, DetectError> {
        let nms = self.options.nms();
        let (channels, anchors) = (output.shape()[1], output.shape()[2]);
        let mut results = Vec::with_capacity(geometry.len());
        for (item, g) in output.axis_iter(Axis(0)).zip(geometry) {
            let item = item.as_standard_layout();
            let flat = item.as_slice().unwrap_or(&[]);
            let raw = non_max_suppression(flat, channels, anchors, &nms)?;
            results.push(to_detections(
                &raw,
                input_hw,
                (g.orig_h, g.orig_w),
                &self.names,
            ));
        }
        Ok(results)
    }
}

/// Class names from a weights file's metadata value `names`: a JSON list (`["person", ...]`,
/// what `tools/export_ultralytics.py` writes) or an Ultralytics-style JSON object
/// (`{"0": "person", ...}`).
pub fn parse_class_names(json: &str) -> Result<Vec<String>, DetectError> {
    let bad = |message: String| DetectError::Metadata {
        key: "names".into(),
        message,
    };
    let value: serde_json::Value =
        serde_json::from_str(json).map_err(|e| bad(format!("not JSON: {e}")))?;
    match value {
        serde_json::Value::Array(items) => items
            .into_iter()
            .enumerate()
            .map(|(i, v)| match v {
                serde_json::Value::String(s) => Ok(s),
                other => Err(bad(format!("entry {i} is {other}, expected a string"))),
            })
            .collect(),
        serde_json::Value::Object(map) => {
            let mut pairs = Vec::with_capacity(map.len());
            for (k, v) in map {
                let id: usize = k
                    .parse()
                    .map_err(|_| bad(format!("key {k:?} is not a class index")))?;
                let name = v
                    .as_str()
                    .ok_or_else(|| bad(format!("class {k} is {v}, expected a string")))?
                    .to_string();
                pairs.push((id, name));
            }
            pairs.sort();
            let mut names = Vec::with_capacity(pairs.len());
            for (expected, (id, name)) in pairs.into_iter().enumerate() {
                if id != expected {
                    return Err(bad(format!("class indices skip {expected}")));
                }
                names.push(name);
            }
            Ok(names)
        }
        other => Err(bad(format!(
            "expected a JSON list of strings, found {other}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_from_list_or_object() {
        assert_eq!(parse_class_names(r#"["a", "b"]"#).unwrap(), vec!["a", "b"]);
        assert_eq!(
            parse_class_names(r#"{"1": "b", "0": "a"}"#).unwrap(),
            vec!["a", "b"]
        );
        assert!(parse_class_names(r#"{"0": "a", "2": "c"}"#).is_err());
        assert!(parse_class_names("[1, 2]").is_err());
        assert!(parse_class_names("nope").is_err());
    }
}
