//! `predict` end to end with decode, inference and output overlapping on three threads joined by
//! bounded channels: a reader (image decoding, ffmpeg pipes, batching), the caller's thread
//! (inference), and a writer (label files, crops, annotated images and videos through an ffmpeg
//! encode pipe, streamed JSON, and the caller's per-frame callback). Nothing accumulates: at
//! most `queue` batches wait between stages, and the JSON is written as frames finish, so a run
//! that stops keeps every result written so far.

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, Receiver};
use std::time::Instant;

use ghost_image::draw::annotate;
use ghost_limits::text::{display_path, json_path_literal};
use image::{ImageFormat, RgbImage};
use serde_json::json;
use yolo11_ghost::detector::{Context, DetectError, Detector, StreamPool};

use crate::batch::{batches, detect_batch_in, FrameDetections};
use crate::crop::save_crops;
use crate::decoder::DecodeOptions;
use crate::encoder::VideoEncoder;
use crate::frames::{take_all, Frame, FrameError, FrameReader};
use crate::labels::{tracked_label_file, OutputNames};
use crate::source::{Input, InputKind};

/// What to run and write.
#[derive(Debug, Clone, Default)]
pub struct PipelineOptions {
    /// Frames per forward pass (0 is taken as 1).
    pub batch: usize,
    /// Video decoding (`vid_stride`, ffmpeg location).
    pub decode: DecodeOptions,
    /// Batches waiting between stages, at most (0 is taken as 1).
    pub queue: usize,
    /// Write YOLO label files into this directory (`--save-txt`).
    pub save_txt: Option<PathBuf>,
    /// Add the confidence to each label line (`--save-conf`).
    pub save_conf: bool,
    /// Write crops into `DIR/<class name>/` (`--save-crop`).
    pub save_crop: Option<PathBuf>,
    /// Write annotated images and videos (H.264 MP4) into this directory (`--save`).
    pub save: Option<PathBuf>,
    /// Write all detections as JSON to this file, one record per frame.
    pub json: Option<PathBuf>,
}

/// What the writer reports to the caller, in order, on its thread.
#[derive(Debug)]
pub enum Event<'a> {
    /// A frame is done (its outputs written).
    Frame {
        /// The frame and its detections.
        result: &'a FrameDetections,
        /// Inference time per frame (the batch's forward pass and NMS divided by its size).
        inference_ms: f64,
    },
    /// An input or an output failed; the run goes on.
    Failed {
        /// The input or output file, for messages (bytes that are not UTF-8 as `\xNN`).
        location: String,
        /// Why.
        error: String,
    },
    /// Something to tell the user (e.g. a truncated video).
    Warning(String),
}

/// Counts at the end of a run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    /// Frames detected (images count one).
    pub frames: u64,
    /// Inputs or outputs that failed.
    pub failures: u64,
    /// Wall time of the run in seconds.
    pub seconds: f64,
}

enum Stage {
    Batch(Vec<FrameDetections>, f64),
    Failed(String, String),
    Warning(String),
}

/// Run `detector` on `inputs` and write the outputs; `sink` sees every event on the writer
/// thread. Returns when everything is written.
pub fn run_pipeline<F>(
    detector: &Detector,
    inputs: Vec<Input>,
    options: &PipelineOptions,
    sink: F,
) -> Result<Summary, String>
where
    F: FnMut(Event<'_>) + Send,
{
    run_pipeline_with(detector, inputs, options, |_| Ok(()), sink)
}

/// [`run_pipeline`] with `after_detect` run on every frame's detections, in frame order, on the
/// inference thread before the outputs are written: a tracker (`ghost-yolo track`) replaces the
/// detections with its tracks and sets [`FrameDetections::track_ids`], and every output (label
/// files with the ID column, `id:N` labels on the drawings, `track_id` in the JSON) follows. An
/// error fails that frame (reported as [`Event::Failed`]); the run goes on.
pub fn run_pipeline_with<P, F>(
    detector: &Detector,
    inputs: Vec<Input>,
    options: &PipelineOptions,
    after_detect: P,
    sink: F,
) -> Result<Summary, String>
where
    P: FnMut(&mut FrameDetections) -> Result<(), String>,
    F: FnMut(Event<'_>) + Send,
{
    run(detector, None, inputs, options, after_detect, sink)
}

/// [`run_pipeline_with`] with the forward passes on the streams of `pool` (throughput mode,
/// `ghost-yolo detect --streams N`): the batches go from one queue to whichever stream is free,
/// each with its own context and kernel threads over the pool's shared detector, and come back
/// in input order, so `after_detect` (a tracker) and the outputs see the frames of every source
/// in order, exactly as with one stream; the detections are bit-identical.
pub fn run_pipeline_on_streams<P, F>(
    pool: &StreamPool,
    inputs: Vec<Input>,
    options: &PipelineOptions,
    after_detect: P,
    sink: F,
) -> Result<Summary, String>
where
    P: FnMut(&mut FrameDetections) -> Result<(), String>,
    F: FnMut(Event<'_>) + Send,
{
    run(
        pool.detector(),
        Some(pool),
        inputs,
        options,
        after_detect,
        sink,
    )
}

/// One batch after inference: its frames' detections (or the error), inference milliseconds per
/// frame, and its first frame's input for messages; or the input that failed to give frames.
enum Detected {
    Batch {
        result: Result<Vec<FrameDetections>, DetectError>,
        ms_per_frame: f64,
        location: Option<String>,
    },
    Unread(FrameError),
}

/// The forward pass of one decoded batch, on `ctx` when given (a stream's).
fn detect_item(
    detector: &Detector,
    ctx: Option<&mut Context>,
    item: Result<Vec<Frame>, FrameError>,
) -> Detected {
    match item {
        Ok(frames) => {
            let n = frames.len().max(1) as f64;
            let location = frames.first().map(|f| display_path(&f.origin.location));
            let t = Instant::now();
            let result = detect_batch_in(detector, ctx, frames);
            Detected::Batch {
                result,
                ms_per_frame: t.elapsed().as_secs_f64() * 1e3 / n,
                location,
            }
        }
        Err(e) => Detected::Unread(e),
    }
}

fn run<P, F>(
    detector: &Detector,
    pool: Option<&StreamPool>,
    inputs: Vec<Input>,
    options: &PipelineOptions,
    mut after_detect: P,
    sink: F,
) -> Result<Summary, String>
where
    P: FnMut(&mut FrameDetections) -> Result<(), String>,
    F: FnMut(Event<'_>) + Send,
{
    let start = Instant::now();
    let queue = options.queue.max(1);
    let protected: HashSet<PathBuf> = inputs
        .iter()
        .filter(|i| i.kind != InputKind::Stream)
        .filter_map(|i| std::fs::canonicalize(&i.location).ok())
        .collect();
    let locations: Vec<String> = inputs.iter().map(|i| display_path(&i.location)).collect();
    for dir in [&options.save_txt, &options.save_crop, &options.save]
        .into_iter()
        .flatten()
    {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let json = match &options.json {
        Some(path) => Some(JsonStream::create(path, &protected)?),
        None => None,
    };
    let reader = FrameReader::new(inputs, options.decode.clone());
    let warnings = reader.warnings_handle();
    let batch = options.batch.max(1);
    let (batch_tx, batch_rx) = sync_channel(queue);
    let (out_tx, out_rx) = sync_channel::<Stage>(queue);
    std::thread::scope(|scope| -> Result<Summary, String> {
        std::thread::Builder::new()
            .name("decode".into())
            .spawn_scoped(scope, move || {
                for item in batches(reader, batch) {
                    if batch_tx.send(item).is_err() {
                        return;
                    }
                }
            })
            .map_err(|e| format!("cannot start the decode thread: {e}"))?;
        let writer = std::thread::Builder::new()
            .name("write".into())
            .spawn_scoped(scope, move || {
                Writer::new(options, protected, json, sink).run(out_rx)
            })
            .map_err(|e| format!("cannot start the writer thread: {e}"))?;
        // One stream: the forward passes run here, in turn. Several: on the pool's streams,
        // the results back in input order (at most the pool's queue depth of batches in flight).
        let detected: Box<dyn Iterator<Item = Detected> + '_> = match pool {
            None => Box::new(
                batch_rx
                    .into_iter()
                    .map(|item| detect_item(detector, None, item)),
            ),
            Some(pool) => Box::new(
                pool.run(batch_rx, |d: &Detector, ctx: &mut Context, item| {
                    Ok(detect_item(d, Some(ctx), item))
                })
                .map(|r| {
                    // Only a panic or a cancelled job ends here (detect_item returns its errors).
                    r.unwrap_or_else(|e| Detected::Batch {
                        result: Err(e),
                        ms_per_frame: 0.0,
                        location: None,
                    })
                }),
            ),
        };
        for item in detected {
            for w in take_all(&warnings) {
                let _ = out_tx.send(Stage::Warning(w));
            }
            let mut stages = Vec::with_capacity(2);
            match item {
                Detected::Batch {
                    result,
                    ms_per_frame: ms,
                    location,
                } => match result {
                    Ok(mut done) => {
                        let mut failed = Vec::new();
                        done.retain_mut(|r| match after_detect(r) {
                            Ok(()) => true,
                            Err(e) => {
                                let o = &r.frame.origin;
                                let shown = display_path(&o.location);
                                let what = format!("{shown} (frame {}): {e}", o.frame);
                                failed.push(Stage::Failed(shown, what));
                                false
                            }
                        });
                        stages.push(Stage::Batch(done, ms));
                        stages.extend(failed);
                    }
                    Err(e) => {
                        stages.push(Stage::Failed(location.unwrap_or_default(), e.to_string()))
                    }
                },
                Detected::Unread(e) => stages.push(Stage::Failed(
                    failed_location(&e, &locations),
                    e.to_string(),
                )),
            }
            if stages.into_iter().any(|stage| out_tx.send(stage).is_err()) {
                break;
            }
        }
        for w in take_all(&warnings) {
            let _ = out_tx.send(Stage::Warning(w));
        }
        drop(out_tx);
        let (frames, failures) = writer
            .join()
            .map_err(|_| "the writer thread panicked".to_string())??;
        Ok(Summary {
            frames,
            failures,
            seconds: start.elapsed().as_secs_f64(),
        })
    })
}

/// The input an error is about, for the report (the error text names it too).
fn failed_location(error: &FrameError, locations: &[String]) -> String {
    let text = error.to_string();
    locations
        .iter()
        .find(|l| text.contains(l.as_str()))
        .cloned()
        .unwrap_or_default()
}

/// JSON written as frames finish: `[`, one record per frame, `]`, into a temporary file beside the
/// target (created exclusively, so a planted symlink is never followed) that is renamed over it at
/// the end: a run that stops leaves the previous file or none, never half of one, and the
/// temporary file is removed.
struct JsonStream {
    path: PathBuf,
    temp: PathBuf,
    file: Option<std::io::BufWriter<std::fs::File>>,
    first: bool,
}

impl JsonStream {
    fn create(path: &Path, protected: &HashSet<PathBuf>) -> Result<Self, String> {
        guard(path, protected)?;
        let (temp, file) = crate::atomic::create_temp(path)?;
        let mut stream = Self {
            path: path.to_path_buf(),
            temp,
            file: Some(std::io::BufWriter::new(file)),
            first: true,
        };
        stream.write(b"[")?;
        Ok(stream)
    }

    fn write(&mut self, bytes: &[u8]) -> Result<(), String> {
        let file = self.file.as_mut().expect("open until finish");
        file.write_all(bytes)
            .map_err(|e| format!("cannot write --json file {}: {e}", self.path.display()))
    }

    fn record(&mut self, text: &str) -> Result<(), String> {
        let sep = if self.first { "\n  " } else { ",\n  " };
        self.first = false;
        self.write(sep.as_bytes())?;
        self.write(text.as_bytes())
    }

    fn finish(mut self, protected: &HashSet<PathBuf>) -> Result<(), String> {
        let end: &[u8] = if self.first { b"]\n" } else { b"\n]\n" };
        self.write(end)?;
        let fail =
            |e: std::io::Error| format!("cannot write --json file {}: {e}", self.path.display());
        let mut file = self.file.take().expect("open until finish");
        file.flush().map_err(fail)?;
        drop(file);
        guard(&self.path, protected)?;
        crate::atomic::commit(&self.temp, &self.path)
    }
}

impl Drop for JsonStream {
    fn drop(&mut self) {
        // Renamed by finish, or abandoned: either way no temporary file stays behind.
        let _ = std::fs::remove_file(&self.temp);
    }
}

/// Refuse to write over an input (nothing the program writes may destroy an input).
fn guard(target: &Path, protected: &HashSet<PathBuf>) -> Result<(), String> {
    match std::fs::canonicalize(target) {
        Ok(canonical) if protected.contains(&canonical) => Err(format!(
            "{}: refusing to overwrite an input; choose another output directory",
            target.display()
        )),
        _ => Ok(()),
    }
}

struct Writer<'o, F> {
    options: &'o PipelineOptions,
    protected: HashSet<PathBuf>,
    json: Option<JsonStream>,
    sink: F,
    names: OutputNames,
    /// The video being written: its source, the output (for messages), the encoder.
    video: Option<(PathBuf, String, Option<VideoEncoder>)>,
    frames: u64,
    failures: u64,
}

impl<'o, F: FnMut(Event<'_>)> Writer<'o, F> {
    fn new(
        options: &'o PipelineOptions,
        protected: HashSet<PathBuf>,
        json: Option<JsonStream>,
        sink: F,
    ) -> Self {
        Self {
            options,
            protected,
            json,
            sink,
            names: OutputNames::new(),
            video: None,
            frames: 0,
            failures: 0,
        }
    }

    fn fail(&mut self, location: String, error: String) {
        self.failures += 1;
        (self.sink)(Event::Failed { location, error });
    }

    fn run(mut self, stages: Receiver<Stage>) -> Result<(u64, u64), String> {
        for stage in stages {
            match stage {
                Stage::Batch(done, ms) => {
                    for result in done {
                        self.frame(&result);
                        self.frames += 1;
                        (self.sink)(Event::Frame {
                            result: &result,
                            inference_ms: ms,
                        });
                    }
                }
                Stage::Failed(location, error) => self.fail(location, error),
                Stage::Warning(w) => (self.sink)(Event::Warning(w)),
            }
        }
        self.close_video();
        if let Some(json) = self.json.take() {
            json.finish(&self.protected)?;
        }
        Ok((self.frames, self.failures))
    }

    fn close_video(&mut self) {
        if let Some((_, path, Some(encoder))) = self.video.take() {
            if let Err(e) = encoder.finish() {
                self.fail(path, e.to_string());
            }
        }
    }

    /// Every output of one frame; a failed output is reported and the others still written.
    fn frame(&mut self, result: &FrameDetections) {
        let origin = &result.frame.origin;
        let image = &result.frame.image;
        let base = self.names.base(origin);
        let stem = match origin.kind {
            InputKind::Image => base.clone(),
            _ => format!("{base}_{}", origin.frame),
        };
        if let Some(dir) = &self.options.save_txt {
            let target = dir.join(format!("{stem}.txt"));
            let written = guard(&target, &self.protected).and_then(|()| {
                // replace, not append to, a previous run's labels (as Ultralytics)
                match tracked_label_file(
                    &result.detections,
                    result.track_ids.as_deref(),
                    image.width(),
                    image.height(),
                    self.options.save_conf,
                ) {
                    Some(text) => crate::atomic::write_file(&target, text.as_bytes()),
                    // no boxes: no file (Ultralytics), and none left from a previous run
                    None => match std::fs::remove_file(&target) {
                        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                            Err(format!("cannot remove {}: {e}", target.display()))
                        }
                        _ => Ok(()),
                    },
                }
            });
            if let Err(e) = written {
                self.fail(target.display().to_string(), e);
            }
        }
        if let Some(dir) = &self.options.save_crop {
            if let Err(e) = save_crops(dir, &stem, image, &result.detections) {
                self.fail(dir.display().to_string(), e);
            }
        }
        if let Some(dir) = self.options.save.clone() {
            match origin.kind {
                InputKind::Image => self.save_image(&dir, &base, &origin.location, result),
                _ => self.save_video_frame(&dir, &base, result),
            }
        }
        if let Some(json) = &mut self.json {
            if let Err(e) = json.record(&json_record_text(result)) {
                self.fail(display_path(&origin.location), e);
            }
        }
    }

    fn save_image(&mut self, dir: &Path, base: &str, location: &Path, result: &FrameDetections) {
        let ext = location
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase())
            .filter(|e| matches!(e.as_str(), "jpg" | "jpeg" | "png" | "bmp" | "tif" | "tiff"))
            .unwrap_or_else(|| "png".into());
        let target = dir.join(format!("{base}.{ext}"));
        let annotated = annotate(&result.frame.image, &drawn(result));
        if let Err(e) = guard(&target, &self.protected).and_then(|()| save_rgb(&annotated, &target))
        {
            self.fail(target.display().to_string(), e);
        }
    }

    fn save_video_frame(&mut self, dir: &Path, base: &str, result: &FrameDetections) {
        let origin = &result.frame.origin;
        if self
            .video
            .as_ref()
            .is_none_or(|(l, _, _)| *l != origin.location)
        {
            self.close_video();
            let target = dir.join(format!("{base}.mp4"));
            let image = &result.frame.image;
            let encoder = guard(&target, &self.protected).and_then(|()| {
                VideoEncoder::create(
                    &target,
                    image.width(),
                    image.height(),
                    // the source's rate, also with vid_stride (as Ultralytics writes it)
                    origin.fps.unwrap_or(0.0),
                    self.options.decode.ffmpeg.as_ref(),
                )
                .map_err(|e| e.to_string())
            });
            let encoder = match encoder {
                Ok(e) => Some(e),
                Err(e) => {
                    self.fail(target.display().to_string(), e);
                    None
                }
            };
            self.video = Some((
                origin.location.clone(),
                target.display().to_string(),
                encoder,
            ));
        }
        let annotated = annotate(&result.frame.image, &drawn(result));
        if let Some((_, _, slot)) = &mut self.video {
            if let Some(encoder) = slot {
                if let Err(e) = encoder.write(&annotated) {
                    *slot = None; // one error per video, not one per frame
                    self.fail(display_path(&origin.location), e.to_string());
                }
            }
        }
    }
}

/// One frame's `--json` record: its path, detections (with `track_id` when tracked) and, for a
/// video or stream frame, `frame` (Ultralytics' 1-based counter) and `frame_index` (0-based).
///
/// A `Value` holds only UTF-8 text, so a path that is not UTF-8 is here with U+FFFD in place of
/// its bad bytes; [`json_record_text`] writes it exactly.
pub fn json_record(result: &FrameDetections) -> serde_json::Value {
    let origin = &result.frame.origin;
    let detections: Vec<serde_json::Value> = match &result.track_ids {
        None => result.detections.iter().map(|d| d.to_json()).collect(),
        Some(ids) => result
            .detections
            .iter()
            .zip(ids)
            .map(|(d, id)| {
                let mut v = d.to_json();
                if let Some(map) = v.as_object_mut() {
                    map.insert("track_id".into(), json!(id));
                }
                v
            })
            .collect(),
    };
    let mut record = json!({"path": origin.location.to_string_lossy(), "detections": detections});
    if origin.kind != InputKind::Image {
        record["frame"] = json!(origin.frame);
        record["frame_index"] = json!(origin.frame_index);
    }
    record
}

/// [`json_record`] as compact JSON text with the path exactly as the OS names it: the path as
/// `predict --json` writes image paths (`ghost_limits::text::json_path_literal`: bytes that are
/// not UTF-8 as `\udcXX`, Python's `surrogateescape`, so `os.fsencode(json.load(f)[i]["path"])`
/// gives the file's name back byte for byte).
pub fn json_record_text(result: &FrameDetections) -> String {
    let mut value = json_record(result);
    value["path"] = serde_json::Value::Null;
    let text = serde_json::to_string(&value).expect("a JSON value serializes");
    // Quotes inside strings are escaped, so the only `"path":null` is the record's own key.
    let path = json_path_literal(result.frame.origin.location.as_os_str());
    text.replacen("\"path\":null", &format!("\"path\":{path}"), 1)
}

/// What is drawn: the detections, or for tracks Ultralytics' label `id:N name` (the drawing
/// adds the score).
fn drawn(result: &FrameDetections) -> std::borrow::Cow<'_, [yolo11_ghost::postprocess::Detection]> {
    match &result.track_ids {
        None => std::borrow::Cow::Borrowed(&result.detections),
        Some(ids) => std::borrow::Cow::Owned(
            result
                .detections
                .iter()
                .zip(ids)
                .map(|(d, id)| yolo11_ghost::postprocess::Detection {
                    class_name: format!("id:{id} {}", d.class_name),
                    ..d.clone()
                })
                .collect(),
        ),
    }
}

fn save_rgb(image: &RgbImage, target: &Path) -> Result<(), String> {
    let fail = |e: &dyn std::fmt::Display| format!("cannot save {}: {e}", target.display());
    let format = ImageFormat::from_path(target).map_err(|e| fail(&e))?;
    // Encoded in memory (PNG and TIFF need to seek), then written through a temporary file.
    let mut bytes = std::io::Cursor::new(Vec::new());
    if format == ImageFormat::Jpeg {
        let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, 95);
        image.write_with_encoder(encoder).map_err(|e| fail(&e))?;
    } else {
        image.write_to(&mut bytes, format).map_err(|e| fail(&e))?;
    }
    crate::atomic::write_file(target, bytes.get_ref())
}
