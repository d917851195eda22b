//! A weights file whose only content is metadata: arbitrary text as its `model_yaml` and
//! `imgsz` entries (the safetensors header JSON-escapes it), opened as `Detector::from_weights`
//! opens one: header parse -> metadata -> bounded YAML -> `ModelSpec`. Every outcome is `Ok` or
//! a typed error; nothing may allocate beyond the YAML limits.
#![no_main]

use std::collections::HashMap;

use ghost_layers::SafetensorsFile;
use libfuzzer_sys::fuzz_target;
use yolo11_ghost::ModelSpec;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (yaml, imgsz) = text.split_once('\u{0}').unwrap_or((text, "640"));
    let metadata = HashMap::from([
        ("model_yaml".to_string(), yaml.to_string()),
        ("imgsz".to_string(), imgsz.to_string()),
    ]);
    let no_tensors: Vec<(String, safetensors::tensor::TensorView<'_>)> = Vec::new();
    let Ok(bytes) = safetensors::serialize(no_tensors, Some(metadata)) else {
        return;
    };
    let Ok(file) = SafetensorsFile::from_bytes("fuzz.safetensors", bytes) else {
        return;
    };
    if let Some(yaml) = file.metadata_value("model_yaml") {
        let _ = ModelSpec::from_yaml_str(yaml, "fuzz", None, None);
    }
    if let Some(v) = file.metadata_value("imgsz") {
        let _ = ghost_limits::int::parse_in_range(v, 1, 4096);
    }
});
