//! Tensors held in memory as a [`WeightSource`] (tests, programmatically built models, tensors
//! computed by a converter).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use super::{check_finite, similar_names, WeightSource, WeightsError};

/// Named f32 tensors in memory.
#[derive(Debug, Default)]
pub struct MemoryWeights {
    origin: String,
    tensors: BTreeMap<String, (Vec<usize>, Vec<f32>)>,
    requested: Mutex<BTreeSet<String>>,
}

impl MemoryWeights {
    /// An empty store called `origin` in error messages.
    pub fn new(origin: impl Into<String>) -> Self {
        MemoryWeights {
            origin: origin.into(),
            ..Default::default()
        }
    }

    /// Adds (or replaces) a tensor; fails if `values` does not hold `prod(shape)` floats.
    pub fn insert(
        &mut self,
        name: impl Into<String>,
        shape: Vec<usize>,
        values: Vec<f32>,
    ) -> Result<(), WeightsError> {
        let name = name.into();
        let numel: usize = shape.iter().product();
        if numel != values.len() {
            return Err(WeightsError::Shape {
                origin: self.origin.clone(),
                name,
                expected: shape,
                found: vec![values.len()],
            });
        }
        self.tensors.insert(name, (shape, values));
        Ok(())
    }

    /// Copies every tensor of `source` named in `names` (with their stored shapes).
    pub fn copy_from(
        &mut self,
        source: &dyn WeightSource,
        names: &[(String, Vec<usize>)],
    ) -> Result<(), WeightsError> {
        for (name, shape) in names {
            let values = source.load(name, shape)?;
            self.tensors.insert(name.clone(), (shape.clone(), values));
        }
        Ok(())
    }

    /// Every tensor name, sorted.
    pub fn names(&self) -> Vec<String> {
        self.tensors.keys().cloned().collect()
    }
}

impl WeightSource for MemoryWeights {
    fn origin(&self) -> String {
        self.origin.clone()
    }

    fn shape_of(&self, name: &str) -> Option<Vec<usize>> {
        self.tensors.get(name).map(|(s, _)| s.clone())
    }

    fn contains(&self, name: &str) -> bool {
        self.tensors.contains_key(name)
    }

    fn load(&self, name: &str, shape: &[usize]) -> Result<Vec<f32>, WeightsError> {
        let (stored, values) = self
            .tensors
            .get(name)
            .ok_or_else(|| WeightsError::Missing {
                origin: self.origin.clone(),
                name: name.to_string(),
                similar: similar_names(name, self.tensors.keys().map(String::as_str)),
            })?;
        if stored != shape {
            return Err(WeightsError::Shape {
                origin: self.origin.clone(),
                name: name.to_string(),
                expected: shape.to_vec(),
                found: stored.clone(),
            });
        }
        check_finite(&self.origin, name, values)?;
        self.requested
            .lock()
            .expect("the requested-names lock is never held across a panic")
            .insert(name.to_string());
        Ok(values.clone())
    }

    fn unused(&self) -> Vec<String> {
        let requested = self
            .requested
            .lock()
            .expect("the requested-names lock is never held across a panic");
        self.tensors
            .keys()
            .filter(|n| !requested.contains(*n) && !n.ends_with("num_batches_tracked"))
            .cloned()
            .collect()
    }
}
