//! TEMPORARY local check against /tmp/blocks (not committed).
use ghost_layers::{SafetensorsFile, SeededWeights, Threads, WeightSource};
use ndarray::{Array3, Array4};
use yolo11_ghost::info::ModelInfo;
use yolo11_ghost::{ModelSpec, YoloModel};

#[test]
fn blocks() {
    let io = SafetensorsFile::open("/tmp/blocks/blocks.io.safetensors").unwrap();
    for (key, scale, seed) in [("a", "n", 0x5_EEDAu64), ("b", "s", 0x5_EEDB)] {
        let text = std::fs::read_to_string(format!("/tmp/blocks/{key}.yaml")).unwrap();
        let spec = ModelSpec::from_yaml_str(&text, key, Some(scale), None).unwrap();
        let info = ModelInfo::new(&spec, 640, 640).unwrap();
        println!(
            "{key} params {:?}",
            info.layers.iter().map(|l| l.params).collect::<Vec<_>>()
        );
        let w = SeededWeights::new(seed);
        let model = YoloModel::load(&spec, &w).unwrap();
        let s = io.shape_of(&format!("{key}/images")).unwrap();
        let x = Array4::from_shape_vec(
            (s[0], s[1], s[2], s[3]),
            io.load(&format!("{key}/images"), &s).unwrap(),
        )
        .unwrap();
        let s = io.shape_of(&format!("{key}/output0")).unwrap();
        let r = Array3::from_shape_vec(
            (s[0], s[1], s[2]),
            io.load(&format!("{key}/output0"), &s).unwrap(),
        )
        .unwrap();
        let y = model
            .forward_threads(x.view(), &Threads::new(2).unwrap())
            .unwrap();
        let bmax = r
            .slice(ndarray::s![.., 0..4, ..])
            .iter()
            .fold(0f32, |m, v| m.max(v.abs()));
        let berr = y
            .slice(ndarray::s![.., 0..4, ..])
            .iter()
            .zip(r.slice(ndarray::s![.., 0..4, ..]).iter())
            .fold(0f32, |m, (a, b)| m.max((a - b).abs()));
        let serr = y
            .slice(ndarray::s![.., 4.., ..])
            .iter()
            .zip(r.slice(ndarray::s![.., 4.., ..]).iter())
            .fold(0f32, |m, (a, b)| m.max((a - b).abs()));
        println!("{key}: box err {berr:e} of {bmax}, score err {serr:e}");
        assert!(berr <= 1e-3 * bmax && serr <= 1e-3);
    }
}
