//! Argument types and error reporting shared by the subcommands.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use yolo11_ghost::detector::{
    DetectError, Detector, DetectorOptions, WeightsChoice, DEFAULT_MODEL, DEFAULT_SEED,
};
use yolo11_ghost::spec::{builtin_model_names, builtin_yaml, guess_model_scale, ModelSpec};
use yolo11_ghost::YoloError;

/// What a subcommand returns: an exit code, or an error printed as one line.
pub type CliResult = Result<ExitCode, Box<dyn std::error::Error>>;

/// The model and where its weights come from.
#[derive(Debug, Clone, Args)]
pub struct ModelArgs {
    /// Built-in model name (yolo11n ... yolo11x, yolo11n-ghost ... yolo11x-ghost) or a model YAML
    /// path. Default: the model the --weights file was exported from, else yolo11n-ghost.
    #[arg(long, short = 'm', value_name = "NAME|YAML")]
    pub model: Option<String>,

    /// Weights (.safetensors with Ultralytics state_dict names). Without it (and without
    /// --model), the embedded default model; with --model alone, seeded random weights (for
    /// testing and benchmarks only: detections are meaningless).
    #[arg(long, short = 'w', value_name = "FILE")]
    pub weights: Option<PathBuf>,

    /// Global seed of the random weights used when --weights is absent (decimal or 0x hex).
    #[arg(long, value_name = "SEED", value_parser = parse_seed)]
    pub seed: Option<u64>,
}

impl ModelArgs {
    /// The weights choice these arguments describe.
    pub fn weights(&self) -> Result<WeightsChoice, DetectError> {
        match (&self.weights, &self.model, self.seed) {
            (Some(path), _, _) => Ok(WeightsChoice::File(path.clone())),
            #[cfg(feature = "default-model")]
            (None, None, None) => Ok(WeightsChoice::Default),
            #[cfg(not(feature = "default-model"))]
            (None, None, None) => Err(no_default_model()),
            (None, _, seed) => Ok(WeightsChoice::Seeded(seed.unwrap_or(DEFAULT_SEED))),
        }
    }

    /// Build the detector: the named model (seeded weights without --weights, with a warning:
    /// its detections are meaningless), or the one the weights file describes, or the embedded
    /// default model; prints its warnings.
    pub fn detector(&self, options: DetectorOptions) -> Result<Detector, DetectError> {
        let weights = self.weights()?;
        if matches!(weights, WeightsChoice::Seeded(_)) {
            warn("no --weights given: using seeded random weights, detections are meaningless");
        }
        let detector = match (&self.model, &self.weights) {
            (Some(model), _) => Detector::load(model, &weights, options),
            (None, Some(path)) => Detector::from_weights(path, options),
            (None, None) if self.seed.is_some() => Detector::load(DEFAULT_MODEL, &weights, options),
            #[cfg(feature = "default-model")]
            (None, None) => Detector::default_model(options),
            #[cfg(not(feature = "default-model"))]
            (None, None) => Err(no_default_model()),
        }?;
        // imgsz rounded to the stride, NaN / Inf weights, tensors the model does not use ...
        for w in detector.warnings() {
            warn(w);
        }
        Ok(detector)
    }
}

/// Neither --weights nor --model in a build without the embedded default model.
#[cfg(not(feature = "default-model"))]
fn no_default_model() -> DetectError {
    DetectError::InvalidOption {
        option: "weights",
        expected:
            "--weights FILE or --model NAME (this ghost-yolo is built without the default model)"
                .into(),
        found: "neither".into(),
    }
}

/// The model specification for `--model NAME|YAML`, with `nc` overriding the YAML's class count.
pub fn load_spec(model: &str, nc: Option<usize>) -> Result<ModelSpec, YoloError> {
    let Some(nc) = nc else {
        return ModelSpec::from_name(model);
    };
    let is_yaml = model.ends_with(".yaml") || model.ends_with(".yml");
    let path = std::path::Path::new(model);
    let (text, stem) = if is_yaml {
        let text = std::fs::read_to_string(path).map_err(|source| YoloError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("model")
            .to_string();
        (text, stem)
    } else {
        let text = builtin_yaml(model.trim()).ok_or_else(|| YoloError::UnknownModel {
            name: model.to_string(),
            known: builtin_model_names().join(", "),
        })?;
        (text.to_string(), model.trim().to_string())
    };
    let scale = guess_model_scale(&stem).map(String::from);
    let spec = ModelSpec::from_yaml_str(&text, &stem, scale.as_deref(), Some(nc));
    if is_yaml {
        spec.map_err(|e| e.in_file(path))
    } else {
        spec
    }
}

/// A threshold in [0, 1] (`--conf`, `--iou`).
pub fn parse_unit_interval(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a number"))?;
    if (0.0..=1.0).contains(&v) {
        Ok(v)
    } else {
        Err(format!("must be between 0 and 1, found {s}"))
    }
}

/// A thread count >= 1.
pub fn parse_threads(s: &str) -> Result<usize, String> {
    let v: usize = s
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a whole number"))?;
    if v == 0 {
        Err("must be at least 1".into())
    } else {
        Ok(v)
    }
}

/// A count >= 1 (`--runs`).
pub fn parse_positive(s: &str) -> Result<usize, String> {
    parse_threads(s)
}

/// `--imgsz 640` (square) or `--imgsz 640,480` / `640x480` (height, width), like Ultralytics.
pub fn parse_imgsz(s: &str) -> Result<(usize, usize), String> {
    let parts: Vec<&str> = s.split([',', 'x', 'X']).map(str::trim).collect();
    let max = ghost_limits::budget::max_imgsz();
    let num = |p: &str| {
        let v = p.parse::<usize>().map_err(|_| {
            format!("{s:?} is not an image size (use 640 or 640,480 for height,width)")
        })?;
        // Bounded here, before any arithmetic: 100000 asked for tens of GB of activations and
        // 2^64 - 1 wrapped while rounding to the stride.
        if v > max {
            return Err(format!(
                "{s:?}: sides up to {max} (raise GHOST_YOLO_MAX_IMGSZ for more)"
            ));
        }
        Ok(v)
    };
    match parts.as_slice() {
        [side] => {
            let v = num(side)?;
            Ok((v, v))
        }
        [h, w] => Ok((num(h)?, num(w)?)),
        _ => Err(format!(
            "{s:?} is not an image size (use 640 or 640,480 for height,width)"
        )),
    }
}

/// Decimal or `0x`-prefixed hexadecimal u64.
pub fn parse_seed(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let parsed = match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(&hex.replace('_', ""), 16),
        None => t.replace('_', "").parse(),
    };
    parsed.map_err(|_| format!("{s:?} is not a seed (decimal or 0x hex)"))
}

/// `imgsz` rounded up to a multiple of `stride` (Ultralytics `check_imgsz`), with a warning
/// printed when it changes.
pub fn round_imgsz(imgsz: (usize, usize), stride: usize) -> (usize, usize) {
    let round = |x: usize| x.div_ceil(stride).max(1) * stride;
    let rounded = (round(imgsz.0), round(imgsz.1));
    if rounded != imgsz {
        warn(&format!(
            "imgsz={}x{} must be a multiple of max stride {stride}, updating to {}x{}",
            imgsz.0, imgsz.1, rounded.0, rounded.1
        ));
    }
    rounded
}

/// Print a warning line on stderr.
pub fn warn(message: &str) {
    eprintln!("warning: {}", ghost_limits::text::escape_terminal(message));
}

/// An error message flattened to one line, with any control character left in it (ESC, CR,
/// NUL from a file name or class name) shown escaped instead of reaching the terminal.
pub fn one_line(message: &str) -> String {
    message
        .lines()
        .map(|l| ghost_limits::text::escape_terminal(l.trim()).into_owned())
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

/// Help and version go to stdout with exit 0; argument errors become one `error: ...` line on
/// stderr with exit code 2 (clap's usage block and help hint are dropped).
pub fn report_clap_error(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            print!("{e}");
            ExitCode::SUCCESS
        }
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            eprint!("{e}");
            ExitCode::from(2)
        }
        _ => {
            let text = e.to_string();
            let parts: Vec<&str> = text
                .lines()
                .map(str::trim)
                .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more information"))
                .filter(|l| !l.is_empty())
                .collect();
            let line = parts.join(" ");
            let line = line.strip_prefix("error: ").unwrap_or(&line);
            eprintln!("error: {line}");
            ExitCode::from(2)
        }
    }
}

/// Replace Rust's multi-line panic report with one line (a panic is a bug, but the user still
/// deserves a readable message and a non-zero exit code).
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let payload = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown cause".into());
        let place = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!(
            "error: internal error{place}: {} (please report this)",
            one_line(&payload)
        );
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imgsz_forms() {
        assert_eq!(parse_imgsz("640"), Ok((640, 640)));
        assert_eq!(parse_imgsz("640,480"), Ok((640, 480)));
        assert_eq!(parse_imgsz("320x640"), Ok((320, 640)));
        assert!(parse_imgsz("a").is_err());
        assert!(parse_imgsz("1,2,3").is_err());
    }

    #[test]
    fn thresholds_and_threads() {
        assert_eq!(parse_unit_interval("0.5"), Ok(0.5));
        assert!(parse_unit_interval("1.5").is_err());
        assert!(parse_unit_interval("nan").is_err());
        assert!(parse_threads("0").is_err());
        assert_eq!(parse_threads("3"), Ok(3));
        assert_eq!(parse_seed("0x10"), Ok(16));
        assert_eq!(parse_seed("1_000"), Ok(1000));
    }
}
