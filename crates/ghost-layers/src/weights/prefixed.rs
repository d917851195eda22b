//! A weight source seen through a name prefix: `Prefixed::new(&file, "model.0")` loads
//! `conv_stem.weight` as `model.0.conv_stem.weight`. This is how a timm GhostNet loads from a
//! YOLO checkpoint, and how a block loads its children with relative names.

use std::borrow::Cow;

use super::{join_name, WeightSource, WeightsError};

/// `inner` with `prefix.` prepended to every requested name.
#[derive(Clone, Copy)]
pub struct Prefixed<'a> {
    inner: &'a dyn WeightSource,
    prefix: &'a str,
}

impl std::fmt::Debug for Prefixed<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prefixed")
            .field("origin", &self.inner.origin())
            .field("prefix", &self.prefix)
            .finish()
    }
}

impl<'a> Prefixed<'a> {
    /// Views `inner` under `prefix` (a trailing dot is optional; empty means no prefix).
    pub fn new(inner: &'a dyn WeightSource, prefix: &'a str) -> Self {
        Prefixed { inner, prefix }
    }

    /// The prefix.
    pub fn prefix(&self) -> &str {
        self.prefix
    }

    fn full(&self, name: &str) -> String {
        join_name(self.prefix, name)
    }
}

impl WeightSource for Prefixed<'_> {
    fn origin(&self) -> String {
        self.inner.origin()
    }

    fn shape_of(&self, name: &str) -> Option<Vec<usize>> {
        self.inner.shape_of(&self.full(name))
    }

    fn contains(&self, name: &str) -> bool {
        self.inner.contains(&self.full(name))
    }

    /// Errors name the full (prefixed) tensor name.
    fn load(&self, name: &str, shape: &[usize]) -> Result<Vec<f32>, WeightsError> {
        self.inner.load(&self.full(name), shape)
    }

    fn load_cow(&self, name: &str, shape: &[usize]) -> Result<Cow<'_, [f32]>, WeightsError> {
        self.inner.load_cow(&self.full(name), shape)
    }

    fn full_name(&self, name: &str) -> String {
        self.inner.full_name(&self.full(name))
    }

    fn is_int8(&self, name: &str) -> bool {
        self.inner.is_int8(&self.full(name))
    }

    fn load_i8(&self, name: &str, shape: &[usize]) -> Result<Vec<i8>, WeightsError> {
        self.inner.load_i8(&self.full(name), shape)
    }

    /// Unused names of the whole inner source (full names), not only those under the prefix.
    fn unused(&self) -> Vec<String> {
        self.inner.unused()
    }
}
