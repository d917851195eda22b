//! Hostile weights files: every malformed or surprising `.safetensors` file is a typed
//! `WeightsError` naming the file (and the tensor, when one is involved), never a panic. Files are
//! written to a scratch directory at run time so the on-disk (memory-mapped) path is exercised.
//! Also a bounded property test: arbitrary bytes and mutations of a valid file never panic.

use std::path::{Path, PathBuf};

use ghost_layers::{SafetensorsFile, WeightSource, WeightsError};
use proptest::prelude::*;
use safetensors::tensor::{Dtype, TensorView};

/// A fresh scratch directory for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "ghost-hostile-weights-{}-{name}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// A valid file: two f32 tensors, one f64, one i64 bookkeeping scalar.
fn valid_file() -> Vec<u8> {
    let w = f32_bytes(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    let b = f32_bytes(&[0.5, -0.5]);
    let d: Vec<u8> = [1.0f64, 2.0].iter().flat_map(|x| x.to_le_bytes()).collect();
    let n = 7i64.to_le_bytes().to_vec();
    let views = vec![
        (
            "conv.weight",
            TensorView::new(Dtype::F32, vec![2, 3, 1, 1], &w).unwrap(),
        ),
        (
            "conv.bias",
            TensorView::new(Dtype::F32, vec![2], &b).unwrap(),
        ),
        ("double", TensorView::new(Dtype::F64, vec![2], &d).unwrap()),
        (
            "bn.num_batches_tracked",
            TensorView::new(Dtype::I64, vec![], &n).unwrap(),
        ),
    ];
    safetensors::serialize(views, None).unwrap()
}

/// A file image from a raw JSON header and a data section.
fn raw_file(header: &str, data: &[u8]) -> Vec<u8> {
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(header.as_bytes());
    bytes.extend_from_slice(data);
    bytes
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// Opening `bytes` from disk fails with a `Format` error naming the file whose reason contains
/// `needle`.
fn assert_format_error(dir: &Path, name: &str, bytes: &[u8], needle: &str) {
    let path = write(dir, name, bytes);
    let err = SafetensorsFile::open(&path).unwrap_err();
    match &err {
        WeightsError::Format { origin, reason } => {
            assert!(origin.ends_with(name), "{name}: origin {origin}");
            assert!(
                reason.to_lowercase().contains(&needle.to_lowercase()),
                "{name}: reason {reason:?} lacks {needle:?}"
            );
        }
        other => panic!("{name}: expected a Format error, got {other:?}"),
    }
    let text = err.to_string();
    assert!(text.contains(name) && !text.contains('\n'), "{text}");
    // The in-memory constructor agrees.
    assert!(matches!(
        SafetensorsFile::from_bytes(name, bytes.to_vec()).unwrap_err(),
        WeightsError::Format { .. }
    ));
}

#[test]
fn empty_file_is_a_format_error() {
    let dir = scratch("empty");
    assert_format_error(&dir, "empty.safetensors", &[], "header");
}

#[test]
fn file_shorter_than_the_header_length_field() {
    let dir = scratch("short");
    assert_format_error(&dir, "four.safetensors", &[1, 0, 0, 0], "header");
    assert_format_error(&dir, "seven.safetensors", &[2, 0, 0, 0, 0, 0, 0], "header");
}

#[test]
fn header_length_beyond_the_file() {
    let dir = scratch("beyond");
    let mut bytes = 1000u64.to_le_bytes().to_vec();
    bytes.extend_from_slice(b"{}");
    assert_format_error(&dir, "beyond.safetensors", &bytes, "header");
}

#[test]
fn absurd_header_lengths() {
    let dir = scratch("absurd");
    for (i, len) in [u64::MAX, 1 << 40, 200_000_000, (1 << 32) + 2]
        .into_iter()
        .enumerate()
    {
        let mut bytes = len.to_le_bytes().to_vec();
        bytes.extend_from_slice(b"{}");
        assert_format_error(&dir, &format!("absurd{i}.safetensors"), &bytes, "header");
    }
}

#[test]
fn invalid_json_headers() {
    let dir = scratch("json");
    for (i, header) in [
        "{not json",
        "[1, 2, 3]",
        r#"{"t": {"dtype": "F32", "shape": [1]}}"#,
        r#"{"t": {"dtype": "F99", "shape": [1], "data_offsets": [0, 4]}}"#,
        r#"{"t": {"dtype": "F32", "shape": "x", "data_offsets": [0, 4]}}"#,
    ]
    .into_iter()
    .enumerate()
    {
        assert_format_error(
            &dir,
            &format!("json{i}.safetensors"),
            &raw_file(header, &[0; 4]),
            "header",
        );
    }
    // Not UTF-8.
    let mut bytes = 4u64.to_le_bytes().to_vec();
    bytes.extend_from_slice(&[0xff, 0xfe, 0xfd, 0xfc]);
    assert_format_error(&dir, "utf8.safetensors", &bytes, "header");
}

#[test]
fn offsets_that_do_not_tile_the_data() {
    let dir = scratch("offsets");
    // Data section shorter than the offsets claim.
    let header = r#"{"t": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}"#;
    let path = write(&dir, "truncated.safetensors", &raw_file(header, &[0; 8]));
    assert!(matches!(
        SafetensorsFile::open(&path).unwrap_err(),
        WeightsError::Format { .. }
    ));
    // Size disagreeing with shape x dtype.
    let header = r#"{"t": {"dtype": "F32", "shape": [3], "data_offsets": [0, 16]}}"#;
    let path = write(&dir, "size.safetensors", &raw_file(header, &[0; 16]));
    assert!(matches!(
        SafetensorsFile::open(&path).unwrap_err(),
        WeightsError::Format { .. }
    ));
    // A shape whose element count overflows.
    let header =
        r#"{"t": {"dtype": "F32", "shape": [4294967296, 4294967296, 16], "data_offsets": [0, 4]}}"#;
    let path = write(&dir, "overflow.safetensors", &raw_file(header, &[0; 4]));
    assert!(matches!(
        SafetensorsFile::open(&path).unwrap_err(),
        WeightsError::Format { .. }
    ));
    // Trailing garbage after the last tensor.
    let mut bytes = valid_file();
    bytes.extend_from_slice(&[1, 2, 3, 4]);
    let path = write(&dir, "trailing.safetensors", &bytes);
    assert!(matches!(
        SafetensorsFile::open(&path).unwrap_err(),
        WeightsError::Format { .. }
    ));
}

#[test]
fn unsupported_dtype_names_the_tensor_and_dtype() {
    let dir = scratch("dtype");
    let path = write(&dir, "w.safetensors", &valid_file());
    let file = SafetensorsFile::open(&path).unwrap();
    let err = file.load("double", &[2]).unwrap_err();
    match &err {
        WeightsError::Dtype {
            origin,
            name,
            found,
        } => {
            assert!(origin.ends_with("w.safetensors"));
            assert_eq!((name.as_str(), found.as_str()), ("double", "F64"));
        }
        other => panic!("expected Dtype, got {other:?}"),
    }
    assert!(err.to_string().contains("F32, F16 or BF16"), "{err}");
    assert!(matches!(
        file.load("bn.num_batches_tracked", &[]).unwrap_err(),
        WeightsError::Dtype { .. }
    ));
}

#[test]
fn wrong_shape_and_missing_tensor_name_the_tensor() {
    let dir = scratch("shape");
    let path = write(&dir, "w.safetensors", &valid_file());
    let file = SafetensorsFile::open(&path).unwrap();
    let err = file.load("conv.weight", &[3, 2, 1, 1]).unwrap_err();
    assert!(
        matches!(&err, WeightsError::Shape { name, expected, found, .. }
            if name == "conv.weight" && expected == &[3, 2, 1, 1] && found == &[2, 3, 1, 1]),
        "{err:?}"
    );
    let err = file.load("conv.running_var", &[2]).unwrap_err();
    assert!(
        matches!(&err, WeightsError::Missing { name, origin, .. }
            if name == "conv.running_var" && origin.ends_with("w.safetensors")),
        "{err:?}"
    );
}

fn non_finite_file() -> Vec<u8> {
    let good = f32_bytes(&[1.0, 2.0]);
    let bad = f32_bytes(&[0.0, f32::INFINITY, f32::NAN, 1.0, f32::NEG_INFINITY]);
    let half: Vec<u8> = [1.0f32, f32::NAN]
        .iter()
        .flat_map(|&v| half::f16::from_f32(v).to_le_bytes())
        .collect();
    safetensors::serialize(
        vec![
            ("good", TensorView::new(Dtype::F32, vec![2], &good).unwrap()),
            ("bad", TensorView::new(Dtype::F32, vec![5], &bad).unwrap()),
            (
                "bad_half",
                TensorView::new(Dtype::F16, vec![2], &half).unwrap(),
            ),
        ],
        None,
    )
    .unwrap()
}

#[test]
fn non_finite_values_are_refused_by_default() {
    let file = SafetensorsFile::from_bytes("nan.safetensors", non_finite_file()).unwrap();
    let err = file.load("bad", &[5]).unwrap_err();
    assert!(
        matches!(&err, WeightsError::NonFinite { name, index: 1, value, .. }
            if name == "bad" && value.is_infinite()),
        "{err:?}"
    );
    assert!(file.non_finite().is_empty());
}

#[test]
fn non_finite_values_are_reported_when_allowed() {
    let file = SafetensorsFile::from_bytes("nan.safetensors", non_finite_file())
        .unwrap()
        .allow_non_finite(true);
    assert_eq!(file.load("good", &[2]).unwrap(), vec![1.0, 2.0]);
    let bad = file.load("bad", &[5]).unwrap();
    assert!(bad[2].is_nan() && bad[4] == f32::NEG_INFINITY);
    let half = file.load("bad_half", &[2]).unwrap();
    assert!(half[1].is_nan());
    let reports = file.non_finite();
    assert_eq!(reports.len(), 2, "{reports:?}");
    let (bad_half, bad) = (&reports[1], &reports[0]);
    assert_eq!((bad.name.as_str(), bad.count, bad.index), ("bad", 3, 1));
    assert_eq!(
        (bad_half.name.as_str(), bad_half.count, bad_half.index),
        ("bad_half", 1, 1)
    );
    let text = bad.to_string();
    assert!(
        text.contains("nan.safetensors") && text.contains("`bad`") && text.contains("3 non-finite"),
        "{text}"
    );
}

#[test]
fn extra_tensors_are_reported_as_unused() {
    let file = SafetensorsFile::from_bytes("w.safetensors", valid_file()).unwrap();
    file.load("conv.weight", &[2, 3, 1, 1]).unwrap();
    // num_batches_tracked is bookkeeping, never "unused".
    assert_eq!(
        file.unused(),
        vec!["conv.bias".to_string(), "double".to_string()]
    );
}

/// Loads every tensor of a file that opened, in every dtype it claims: must never panic.
fn exercise(file: &SafetensorsFile) {
    for name in file.names() {
        let shape = file.shape_of(&name).unwrap_or_default();
        let _ = file.load(&name, &shape);
        let _ = file.load(&name, &[1]);
    }
    let _ = file.unused();
    let _ = file.metadata_value("names");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(ghost_kernels::testing::proptest_cases(256)))]

    /// Arbitrary bytes (with a plausible header length half of the time).
    #[test]
    fn arbitrary_bytes_never_panic(
        body in proptest::collection::vec(any::<u8>(), 0..512),
        header_len in proptest::option::of(0u64..600),
    ) {
        let mut bytes = header_len.map(|n| n.to_le_bytes().to_vec()).unwrap_or_default();
        bytes.extend_from_slice(&body);
        if let Ok(file) = SafetensorsFile::from_bytes("fuzz", bytes) {
            exercise(&file);
        }
    }

    /// A valid file with a few bytes overwritten, inserted or cut off.
    #[test]
    fn mutated_valid_files_never_panic(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in proptest::option::of(any::<prop::sample::Index>()),
    ) {
        let mut bytes = valid_file();
        for (at, byte) in edits {
            let i = at.index(bytes.len());
            bytes[i] = byte;
        }
        if let Some(cut) = cut {
            bytes.truncate(cut.index(bytes.len() + 1));
        }
        if let Ok(file) = SafetensorsFile::from_bytes("fuzz", bytes) {
            exercise(&file);
        }
    }

    /// Hand-made headers with arbitrary dtypes, shapes and offsets.
    #[test]
    fn arbitrary_headers_never_panic(
        dtype in prop::sample::select(vec!["F32", "F16", "BF16", "F64", "I8", "U8", "BOOL", "I64", "F8_E4M3", "F4"]),
        shape in proptest::collection::vec(prop_oneof![0usize..5, Just(usize::MAX), Just(1usize << 33)], 0..4),
        start in prop_oneof![0usize..64, Just(usize::MAX)],
        end in prop_oneof![0usize..64, Just(usize::MAX)],
        data_len in 0usize..64,
    ) {
        let shape: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
        let header = format!(
            r#"{{"t": {{"dtype": "{dtype}", "shape": [{}], "data_offsets": [{start}, {end}]}}}}"#,
            shape.join(", ")
        );
        if let Ok(file) = SafetensorsFile::from_bytes("fuzz", raw_file(&header, &vec![0x3f; data_len])) {
            exercise(&file);
        }
    }
}
