//! Helpers shared by the yolo11-ghost and ghost-yolo-cli test binaries (the CLI includes this
//! file by path; each binary uses a subset, hence `dead_code`).
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use safetensors::tensor::{Dtype, TensorView};
use safetensors::SafeTensors;

/// The f32 yolo11n-ghost fixture weights (Ultralytics names, metadata included).
pub const WEIGHTS: &str = "fixtures/yolo/yolo11n-ghost.f32.safetensors";

/// A small valid model YAML (3 classes, five stride-2 convs, Detect on the last three): the
/// base that the hostile-input and limit tests edit into bad ones.
pub const MINI_MODEL_YAML: &str = "nc: 3
backbone:
  - [-1, 1, Conv, [16, 3, 2]]
  - [-1, 1, Conv, [32, 3, 2]]
  - [-1, 1, Conv, [32, 3, 2]]
  - [-1, 1, Conv, [32, 3, 2]]
  - [-1, 1, Conv, [32, 3, 2]]
head:
  - [[2, 3, 4], 1, Detect, [nc]]
";

/// `path` relative to the repository root.
pub fn repo(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path)
}

/// A fresh scratch directory for one test of this binary.
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "ghost-yolo-{}-{}-{name}",
        env!("CARGO_CRATE_NAME"),
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// One tensor of a weights file: name, dtype, shape, little-endian bytes.
pub type RawTensor = (String, Dtype, Vec<usize>, Vec<u8>);

/// [`WEIGHTS`] with `edit` applied to its tensor list (sorted by name), metadata kept, written
/// to `dir/name`.
pub fn edited_weights(dir: &Path, name: &str, edit: impl FnOnce(&mut Vec<RawTensor>)) -> PathBuf {
    let bytes = std::fs::read(repo(WEIGHTS)).unwrap();
    let (_, metadata) = SafeTensors::read_metadata(&bytes).unwrap();
    let file = SafeTensors::deserialize(&bytes).unwrap();
    let mut tensors: Vec<RawTensor> = file
        .tensors()
        .into_iter()
        .map(|(n, t)| (n, t.dtype(), t.shape().to_vec(), t.data().to_vec()))
        .collect();
    tensors.sort_by(|a, b| a.0.cmp(&b.0));
    edit(&mut tensors);
    let views: Vec<(String, TensorView<'_>)> = tensors
        .iter()
        .map(|(n, d, s, b)| (n.clone(), TensorView::new(*d, s.clone(), b).unwrap()))
        .collect();
    let out = safetensors::serialize(views, metadata.metadata().clone()).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, out).unwrap();
    path
}
