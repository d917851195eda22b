//! A memory-mapped `.safetensors` file as a [`WeightSource`].
//!
//! The header is parsed (and validated: offsets contiguous, sizes matching shapes and dtypes,
//! data ending exactly at the end of the file) once at open; tensors are read on request,
//! straight from the mapped bytes: f32 tensors are lent in place ([`WeightSource::load_cow`]),
//! f16/bf16 ones converted.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use ghost_kernels::MappedFile;
use half::slice::{HalfBitsSliceExt, HalfFloatSliceExt};
use safetensors::tensor::{Dtype, Metadata, TensorInfo};
use safetensors::SafeTensors;

use super::{check_finite, similar_names, NonFiniteReport, WeightSource, WeightsError};

/// The bytes of the file: mapped from disk, or owned (files built in memory, tests).
enum Bytes {
    Mapped(MappedFile),
    Owned(Vec<u8>),
}

impl Bytes {
    fn as_slice(&self) -> &[u8] {
        match self {
            Bytes::Mapped(m) => m.as_bytes(),
            Bytes::Owned(v) => v,
        }
    }
}

/// A safetensors file opened for loading (memory-mapped; nothing is read until asked for).
pub struct SafetensorsFile {
    origin: String,
    bytes: Bytes,
    /// Offset of the data section (8-byte length + JSON header).
    data_start: usize,
    metadata: Metadata,
    requested: Mutex<BTreeSet<String>>,
    /// Load tensors holding NaN / Inf (recorded in `non_finite`) instead of refusing them.
    allow_non_finite: bool,
    non_finite: Mutex<BTreeMap<String, NonFiniteReport>>,
}

impl std::fmt::Debug for SafetensorsFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SafetensorsFile")
            .field("origin", &self.origin)
            .field("tensors", &self.metadata.tensors().len())
            .finish()
    }
}

impl SafetensorsFile {
    /// Memory-maps and validates `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, WeightsError> {
        let path = path.as_ref();
        let io_err = |source| WeightsError::Io {
            path: PathBuf::from(path),
            source,
        };
        // Regular files only, opened without blocking: a FIFO would block the open forever and a
        // device (`/dev/zero`) cannot be mapped meaningfully. A regular file is mapped, not
        // read, so its size needs no cap here (the header length is bounded by the parser).
        let (file, _) = ghost_limits::open_regular(path)?;
        // Mapped, not read: f32 tensors are lent straight from the map. The file must not be
        // modified while it is open (see `ghost_kernels::MappedFile`).
        let map = MappedFile::open(&file).map_err(io_err)?;
        Self::from_bytes_inner(ghost_limits::text::display_path(path), Bytes::Mapped(map))
    }

    /// Parses a safetensors file held in memory; `origin` names it in errors.
    pub fn from_bytes(origin: impl Into<String>, bytes: Vec<u8>) -> Result<Self, WeightsError> {
        Self::from_bytes_inner(origin.into(), Bytes::Owned(bytes))
    }

    fn from_bytes_inner(origin: String, bytes: Bytes) -> Result<Self, WeightsError> {
        let (header_len, metadata) =
            SafeTensors::read_metadata(bytes.as_slice()).map_err(|e| WeightsError::Format {
                origin: origin.clone(),
                reason: e.to_string(),
            })?;
        Ok(SafetensorsFile {
            origin,
            bytes,
            data_start: 8 + header_len,
            metadata,
            requested: Mutex::new(BTreeSet::new()),
            allow_non_finite: false,
            non_finite: Mutex::new(BTreeMap::new()),
        })
    }

    /// By default a tensor holding NaN or an infinity is refused ([`WeightsError::NonFinite`]).
    /// With `allow`, it loads as stored and is listed by [`SafetensorsFile::non_finite`], so a
    /// caller can warn instead (what `Detector` does: a diverged checkpoint still runs, its
    /// affected outputs are NaN and never pass the confidence threshold).
    pub fn allow_non_finite(mut self, allow: bool) -> Self {
        self.allow_non_finite = allow;
        self
    }

    /// The tensors loaded so far that hold NaN or infinite values (only with
    /// [`SafetensorsFile::allow_non_finite`]; sorted by name).
    pub fn non_finite(&self) -> Vec<NonFiniteReport> {
        self.non_finite
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .cloned()
            .collect()
    }

    /// Every tensor name in the file, sorted.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.metadata.tensors().into_keys().collect();
        names.sort_unstable();
        names
    }

    /// The file's free-form `__metadata__` entry `key`, if any.
    pub fn metadata_value(&self, key: &str) -> Option<&str> {
        self.metadata
            .metadata()
            .as_ref()?
            .get(key)
            .map(String::as_str)
    }

    /// Every `__metadata__` entry (model YAML, class names, imgsz, quantization ...).
    pub fn metadata_entries(&self) -> std::collections::HashMap<String, String> {
        self.metadata.metadata().clone().unwrap_or_default()
    }

    fn info(&self, name: &str) -> Result<&TensorInfo, WeightsError> {
        self.metadata
            .info(name)
            .ok_or_else(|| WeightsError::Missing {
                origin: self.origin.clone(),
                name: name.to_string(),
                similar: similar_names(
                    name,
                    self.metadata
                        .tensors()
                        .keys()
                        .map(String::as_str)
                        .collect::<Vec<_>>()
                        .into_iter(),
                ),
            })
    }
}

impl WeightSource for SafetensorsFile {
    fn origin(&self) -> String {
        self.origin.clone()
    }

    fn shape_of(&self, name: &str) -> Option<Vec<usize>> {
        self.metadata.info(name).map(|i| i.shape.clone())
    }

    fn contains(&self, name: &str) -> bool {
        self.metadata.info(name).is_some()
    }

    fn load(&self, name: &str, shape: &[usize]) -> Result<Vec<f32>, WeightsError> {
        self.load_cow(name, shape).map(Cow::into_owned)
    }

    /// Borrows f32 tensors from the mapped bytes when the host is little-endian and the tensor
    /// is 4-byte aligned in memory (safetensors' own writer aligns the data section to 8
    /// bytes); f16/bf16 and misaligned tensors are converted into an owned copy.
    fn load_cow(&self, name: &str, shape: &[usize]) -> Result<Cow<'_, [f32]>, WeightsError> {
        let info = self.info(name)?;
        if info.shape != shape {
            return Err(WeightsError::Shape {
                origin: self.origin.clone(),
                name: name.to_string(),
                expected: shape.to_vec(),
                found: info.shape.clone(),
            });
        }
        let (start, end) = info.data_offsets;
        // read_metadata checked the offsets tile the data section up to the end of the file.
        let raw = &self.bytes.as_slice()[self.data_start + start..self.data_start + end];
        let borrowed = match info.dtype {
            Dtype::F32 if cfg!(target_endian = "little") => {
                bytemuck::try_cast_slice::<u8, f32>(raw).ok()
            }
            _ => None,
        };
        let values = match borrowed {
            Some(values) => Cow::Borrowed(values),
            None => Cow::Owned(to_f32(info.dtype, raw).ok_or_else(|| WeightsError::Dtype {
                origin: self.origin.clone(),
                name: name.to_string(),
                found: format!("{:?}", info.dtype),
            })?),
        };
        if self.allow_non_finite {
            if let Some(report) = NonFiniteReport::scan(&self.origin, name, &values) {
                self.non_finite
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(name.to_string(), report);
            }
        } else {
            check_finite(&self.origin, name, &values)?;
        }
        self.requested
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(name.to_string());
        Ok(values)
    }

    fn is_int8(&self, name: &str) -> bool {
        self.metadata
            .info(name)
            .is_some_and(|i| i.dtype == Dtype::I8)
    }

    fn load_i8(&self, name: &str, shape: &[usize]) -> Result<Vec<i8>, WeightsError> {
        let info = self.info(name)?;
        if info.shape != shape {
            return Err(WeightsError::Shape {
                origin: self.origin.clone(),
                name: name.to_string(),
                expected: shape.to_vec(),
                found: info.shape.clone(),
            });
        }
        if info.dtype != Dtype::I8 {
            return Err(WeightsError::Quantization {
                origin: self.origin.clone(),
                name: name.to_string(),
                reason: format!("dtype {:?}, expected I8", info.dtype),
            });
        }
        let (start, end) = info.data_offsets;
        // read_metadata checked the offsets tile the data section and match shape x dtype.
        let raw = &self.bytes.as_slice()[self.data_start + start..self.data_start + end];
        self.requested
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(name.to_string());
        Ok(bytemuck::cast_slice::<u8, i8>(raw).to_vec())
    }

    fn unused(&self) -> Vec<String> {
        let requested = self
            .requested
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        self.names()
            .into_iter()
            .filter(|n| !requested.contains(n) && !n.ends_with("num_batches_tracked"))
            .collect()
    }
}

/// Elements converted per step of the 16-bit formats (a stack buffer of bits, 8 KiB).
const HALF_CHUNK: usize = 4096;

/// Little-endian stored values of `dtype` as f32, or `None` for a dtype that is not a float
/// this engine loads. A straight copy for f32 and the vectorised `half` slice conversions
/// (F16C when the CPU has it) for f16 and bf16: element-by-element conversion was a third
/// of a model's load time.
fn to_f32(dtype: Dtype, raw: &[u8]) -> Option<Vec<f32>> {
    let width = match dtype {
        Dtype::F32 => 4,
        Dtype::F16 | Dtype::BF16 => 2,
        _ => return None,
    };
    let mut values = vec![0.0f32; raw.len() / width];
    if dtype == Dtype::F32 {
        bytemuck::cast_slice_mut::<f32, u8>(&mut values).copy_from_slice(raw);
        if cfg!(target_endian = "big") {
            for v in &mut values {
                *v = f32::from_bits(u32::from_le(v.to_bits()));
            }
        }
        return Some(values);
    }
    let mut bits = [0u16; HALF_CHUNK];
    for (dst, src) in values
        .chunks_mut(HALF_CHUNK)
        .zip(raw.chunks(2 * HALF_CHUNK))
    {
        let bits = &mut bits[..dst.len()];
        // The mapped bytes need not be 2-byte aligned: copy them into aligned storage.
        bytemuck::cast_slice_mut::<u16, u8>(bits).copy_from_slice(src);
        if cfg!(target_endian = "big") {
            for b in bits.iter_mut() {
                *b = u16::from_le(*b);
            }
        }
        if dtype == Dtype::F16 {
            bits.reinterpret_cast::<half::f16>()
                .convert_to_f32_slice(dst);
        } else {
            bits.reinterpret_cast::<half::bf16>()
                .convert_to_f32_slice(dst);
        }
    }
    Some(values)
}
