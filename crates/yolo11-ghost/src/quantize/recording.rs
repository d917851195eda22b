//! A weight source that keeps a copy of every tensor a model loads: the set of tensors the
//! quantized file is written from (whatever the original file held besides, and whatever
//! source the weights came from: a file, the embedded default model or seeded weights).

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};

use ghost_layers::{WeightSource, WeightsError};

/// One recorded f32 tensor: PyTorch shape and row-major values.
#[derive(Clone, Debug, PartialEq)]
pub struct RecordedTensor {
    /// Shape.
    pub shape: Vec<usize>,
    /// Values.
    pub values: Vec<f32>,
}

/// `inner`, recording every f32 tensor loaded through it. Refuses int8 tensors: a quantized
/// model is not quantized again.
pub struct Recording<'a> {
    inner: &'a dyn WeightSource,
    tensors: Mutex<BTreeMap<String, RecordedTensor>>,
}

impl std::fmt::Debug for Recording<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recording")
            .field("origin", &self.inner.origin())
            .finish()
    }
}

impl<'a> Recording<'a> {
    /// Records what is loaded from `inner`.
    pub fn new(inner: &'a dyn WeightSource) -> Self {
        Recording {
            inner,
            tensors: Mutex::new(BTreeMap::new()),
        }
    }

    /// The tensors loaded so far, by name.
    pub fn into_tensors(self) -> BTreeMap<String, RecordedTensor> {
        self.tensors
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl WeightSource for Recording<'_> {
    fn origin(&self) -> String {
        self.inner.origin()
    }

    fn shape_of(&self, name: &str) -> Option<Vec<usize>> {
        self.inner.shape_of(name)
    }

    fn contains(&self, name: &str) -> bool {
        self.inner.contains(name)
    }

    fn load(&self, name: &str, shape: &[usize]) -> Result<Vec<f32>, WeightsError> {
        let values = self.inner.load(name, shape)?;
        self.tensors
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(
                name.to_string(),
                RecordedTensor {
                    shape: shape.to_vec(),
                    values: values.clone(),
                },
            );
        Ok(values)
    }

    fn full_name(&self, name: &str) -> String {
        self.inner.full_name(name)
    }

    /// Reports int8 tensors as such, so that loading one reaches [`Recording::load_i8`] and
    /// its refusal.
    fn is_int8(&self, name: &str) -> bool {
        self.inner.is_int8(name)
    }

    fn load_i8(&self, name: &str, _shape: &[usize]) -> Result<Vec<i8>, WeightsError> {
        Err(WeightsError::Quantization {
            origin: self.inner.origin(),
            name: name.to_string(),
            reason: "the weights are already quantized (int8); quantize the FP32 weights".into(),
        })
    }

    fn unused(&self) -> Vec<String> {
        self.inner.unused()
    }
}
