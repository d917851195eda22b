//! Arbitrary text as an Ultralytics model YAML: parse -> `ModelSpec` -> layer table at 64x64 ->
//! (models up to 3M parameters) seeded weights -> one forward pass. Everything is `Ok` or a
//! typed `YoloError`; the parameter cap keeps a case from allocating gigabytes of weights.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ndarray::Array4;
use yolo11_ghost::info::ModelInfo;
use yolo11_ghost::{ModelSpec, YoloModel};

const MAX_PARAMS: u64 = 3_000_000;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(spec) = ModelSpec::from_yaml_str(text, "fuzz.yaml", None, None) else {
        return;
    };
    let Ok(info) = ModelInfo::new(&spec, 64, 64) else {
        return;
    };
    // Parameters bound the weights, GFLOPs the activations and im2col scratch of a forward.
    if info.params > MAX_PARAMS || info.gflops > 1.0 {
        return;
    }
    let weights = ghost_layers::SeededWeights::new(5);
    if let Ok(model) = YoloModel::load(&spec, &weights) {
        let side = model.max_stride().clamp(32, 64);
        let input = Array4::<f32>::from_elem((1, 3, side, side), 0.5);
        let mut ctx = ghost_layers::Context::new(ghost_kernels::Threads::single());
        let _ = model.forward(input.view(), &mut ctx);
    }
});
