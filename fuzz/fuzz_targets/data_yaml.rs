//! Arbitrary bytes as a `data.yaml` beside a tiny image folder (written once to a scratch
//! directory): `Dataset::open` either refuses it with a `DatasetError` or lists at most the
//! folder's images, each once, with labels that passed Ultralytics' checks.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use yolo11_ghost::val::Dataset;

fn root() -> &'static PathBuf {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("ghost-fuzz-data-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("images/val")).unwrap();
        std::fs::create_dir_all(dir.join("labels/val")).unwrap();
        for name in ["a", "b"] {
            std::fs::write(dir.join(format!("images/val/{name}.jpg")), b"").unwrap();
        }
        std::fs::write(dir.join("labels/val/a.txt"), "0 0.5 0.5 0.2 0.2\n").unwrap();
        #[cfg(unix)]
        let _ = std::os::unix::fs::symlink(dir.join("images"), dir.join("images/val/loop"));
        dir
    })
}

fuzz_target!(|data: &[u8]| {
    let yaml = root().join("data.yaml");
    std::fs::write(&yaml, data).unwrap();
    if let Ok(ds) = Dataset::open(&yaml, "val") {
        assert!(!ds.names.is_empty());
        let mut images: Vec<_> = ds.samples.iter().map(|s| s.image.clone()).collect();
        images.sort();
        images.dedup();
        assert_eq!(images.len(), ds.samples.len(), "an image listed twice");
        for s in &ds.samples {
            for l in &s.labels {
                assert!(l.class < ds.names.len());
                assert!(l.xywh.iter().all(|v| (0.0..=1.0).contains(v)));
            }
        }
    }
});
