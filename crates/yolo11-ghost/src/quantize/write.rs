//! Writing the quantized tensors as a safetensors file, without ever touching an input: the
//! file is written next to the destination under a temporary name and renamed over it.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use safetensors::tensor::{Dtype, TensorView};

use super::tensors::OutTensor;
use super::QuantizeError;

/// Writes `tensors` with `metadata` to `path` (replacing it atomically).
pub fn write_safetensors(
    path: &Path,
    tensors: &BTreeMap<String, OutTensor>,
    metadata: HashMap<String, String>,
) -> Result<(), QuantizeError> {
    let bytes: Vec<(&str, Dtype, &[usize], Vec<u8>)> = tensors
        .iter()
        .map(|(name, t)| match t {
            OutTensor::F32 { shape, values } => (
                name.as_str(),
                Dtype::F32,
                shape.as_slice(),
                values.iter().flat_map(|v| v.to_le_bytes()).collect(),
            ),
            OutTensor::I8 { shape, values } => (
                name.as_str(),
                Dtype::I8,
                shape.as_slice(),
                values.iter().map(|&v| v as u8).collect(),
            ),
        })
        .collect();
    let views = bytes
        .iter()
        .map(|(name, dtype, shape, data)| {
            TensorView::new(*dtype, shape.to_vec(), data).map(|v| (*name, v))
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| QuantizeError::Write {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
    let serialized =
        safetensors::serialize(views, Some(metadata)).map_err(|e| QuantizeError::Write {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
    let tmp = path.with_file_name(format!(
        ".{}.tmp-{}",
        path.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        std::process::id()
    ));
    let io = |source| QuantizeError::Io {
        path: path.to_path_buf(),
        source,
    };
    std::fs::write(&tmp, serialized).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io(e)
    })
}
