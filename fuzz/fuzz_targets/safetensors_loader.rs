//! Arbitrary bytes as a `.safetensors` file: opening either fails with a typed `WeightsError` or
//! gives a file whose every tensor loads (or fails typed) in its stored shape and a wrong one.
#![no_main]

use ghost_layers::{SafetensorsFile, WeightSource};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for allow_non_finite in [false, true] {
        let Ok(file) = SafetensorsFile::from_bytes("fuzz", data.to_vec()) else {
            return;
        };
        let file = file.allow_non_finite(allow_non_finite);
        for name in file.names() {
            let shape = file.shape_of(&name).unwrap_or_default();
            let _ = file.load(&name, &shape);
            let _ = file.load(&name, &[1]);
        }
        let _ = file.unused();
        let _ = file.non_finite();
        let _ = file.metadata_value("names");
    }
});
