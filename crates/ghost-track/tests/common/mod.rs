//! Fixture loading shared by the parity tests.
#![allow(dead_code)]

use std::path::PathBuf;

use serde_json::Value;

pub fn fixture(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/tracking")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The fixture writes each float32 as its shortest decimal string; `str::parse` rounds correctly,
/// so this is the exact float32 (serde_json's number parsing is not correctly rounded by default).
pub fn f32_of(v: &Value) -> f32 {
    let s = v.as_str().expect("float32 written as a string");
    s.parse().unwrap_or_else(|e| panic!("{s:?}: {e}"))
}

pub fn usize_of(v: &Value) -> usize {
    v.as_u64().expect("non-negative integer") as usize
}

pub fn array(v: &Value) -> &Vec<Value> {
    v.as_array().expect("array")
}
