//! Weight sources: safetensors loading (dtypes, typed errors, unused names, prefixes) and the
//! seeded generator against the values pinned by tools/seeded_weights.py.

use std::borrow::Cow;
use std::path::PathBuf;

use ghost_layers::weights::seeded::{fnv1a64, generate};
use ghost_layers::{
    MemoryWeights, Prefixed, SafetensorsFile, SeededWeights, WeightSource, WeightsError,
};
use safetensors::tensor::{Dtype, TensorView};

/// Serialises `(name, dtype, shape, little-endian bytes)` tensors into a safetensors file image.
fn file_bytes(tensors: &[(&str, Dtype, Vec<usize>, Vec<u8>)]) -> Vec<u8> {
    let views: Vec<(String, TensorView<'_>)> = tensors
        .iter()
        .map(|(name, dtype, shape, bytes)| {
            (
                name.to_string(),
                TensorView::new(*dtype, shape.clone(), bytes).unwrap(),
            )
        })
        .collect();
    safetensors::serialize(views, None).unwrap()
}

fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn sample_file() -> SafetensorsFile {
    let f16: Vec<u8> = [1.5f32, -2.0, 0.099975586]
        .iter()
        .flat_map(|&v| half::f16::from_f32(v).to_le_bytes())
        .collect();
    let bf16: Vec<u8> = [3.0f32, -0.5]
        .iter()
        .flat_map(|&v| half::bf16::from_f32(v).to_le_bytes())
        .collect();
    let bytes = file_bytes(&[
        (
            "model.0.conv.weight",
            Dtype::F32,
            vec![2, 1, 1, 2],
            f32_bytes(&[1.0, 2.0, 3.0, -4.0]),
        ),
        ("model.0.bn.weight", Dtype::F16, vec![3], f16),
        ("model.0.bn.bias", Dtype::BF16, vec![2], bf16),
        (
            "model.0.bn.num_batches_tracked",
            Dtype::I64,
            vec![],
            0i64.to_le_bytes().to_vec(),
        ),
        (
            "model.1.counts",
            Dtype::I32,
            vec![2],
            [7i32, 8].iter().flat_map(|v| v.to_le_bytes()).collect(),
        ),
        (
            "model.2.bad",
            Dtype::F32,
            vec![3],
            f32_bytes(&[0.0, f32::NAN, 1.0]),
        ),
    ]);
    SafetensorsFile::from_bytes("sample.safetensors", bytes).unwrap()
}

#[test]
fn loads_f32_f16_and_bf16_as_f32() {
    let file = sample_file();
    assert_eq!(
        file.load("model.0.conv.weight", &[2, 1, 1, 2]).unwrap(),
        vec![1.0, 2.0, 3.0, -4.0]
    );
    // 0.099975586 is exactly representable in f16, so the round trip is exact.
    assert_eq!(
        file.load("model.0.bn.weight", &[3]).unwrap(),
        vec![1.5, -2.0, 0.099975586]
    );
    assert_eq!(file.load("model.0.bn.bias", &[2]).unwrap(), vec![3.0, -0.5]);
    assert_eq!(file.shape_of("model.0.conv.weight"), Some(vec![2, 1, 1, 2]));
    assert!(file.contains("model.0.bn.bias") && !file.contains("model.0.bn.running_var"));
}

/// f32 tensors are lent straight from the file's bytes when aligned; converted dtypes and an
/// f32 tensor at an odd address come back as equal owned copies.
#[test]
fn load_cow_borrows_aligned_f32_and_copies_the_rest() {
    let file = sample_file();
    let conv = file.load_cow("model.0.conv.weight", &[2, 1, 1, 2]).unwrap();
    assert!(matches!(conv, Cow::Borrowed(_)), "aligned f32 is borrowed");
    assert_eq!(&conv[..], &[1.0, 2.0, 3.0, -4.0]);
    let f16 = file.load_cow("model.0.bn.weight", &[3]).unwrap();
    assert!(matches!(f16, Cow::Owned(_)));
    assert_eq!(&f16[..], &[1.5, -2.0, 0.099975586]);
    assert!(matches!(
        file.load_cow("model.2.bad", &[3]),
        Err(WeightsError::NonFinite { index: 1, .. })
    ));

    // One more space in the JSON header (valid: the format pads it with spaces) moves the
    // data section to an address that is not a multiple of 4.
    let mut bytes = file_bytes(&[("w", Dtype::F32, vec![3], f32_bytes(&[0.25, -8.0, 3.5]))]);
    let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap());
    bytes[..8].copy_from_slice(&(header_len + 1).to_le_bytes());
    bytes.insert(8 + header_len as usize, b' ');
    let shifted = SafetensorsFile::from_bytes("shifted", bytes).unwrap();
    let w = shifted.load_cow("w", &[3]).unwrap();
    assert!(matches!(w, Cow::Owned(_)), "misaligned f32 is copied");
    assert_eq!(&w[..], &[0.25, -8.0, 3.5]);
    assert_eq!(shifted.load("w", &[3]).unwrap(), vec![0.25, -8.0, 3.5]);
    assert!(
        shifted.unused().is_empty(),
        "load_cow marks the tensor used"
    );
}

/// Tensors longer than the loader's conversion and finite-check chunks (4096 and 1024 values):
/// every stored bit pattern converts exactly as `half`'s scalar conversion does, across chunk
/// boundaries, and the first non-finite value is reported at its true index.
#[test]
fn long_tensors_convert_exactly_and_report_the_first_non_finite_index() {
    let n = 3 * 4096 + 17;
    // Finite 16-bit patterns of both formats (f16 exponent 31 and bf16 exponent 255 are
    // Inf/NaN), subnormals and both signs included.
    let f16_bits: Vec<u16> = (0..n as u32)
        .map(|i| (i.wrapping_mul(40503) % 0x7c00) as u16 | if i % 3 == 0 { 0x8000 } else { 0 })
        .collect();
    let bf16_bits: Vec<u16> = (0..n as u32)
        .map(|i| (i.wrapping_mul(40503) % 0x7f80) as u16 | if i % 5 == 0 { 0x8000 } else { 0 })
        .collect();
    let f32_values: Vec<f32> = (0..n).map(|i| (i as f32 - 6000.0) * 1.0e-3).collect();
    let mut with_nan = f32_values.clone();
    with_nan[5000] = f32::NAN;
    with_nan[9000] = f32::INFINITY;
    let le = |bits: &[u16]| {
        bits.iter()
            .flat_map(|b| b.to_le_bytes())
            .collect::<Vec<u8>>()
    };
    let bytes = file_bytes(&[
        ("a.f16", Dtype::F16, vec![n], le(&f16_bits)),
        ("b.bf16", Dtype::BF16, vec![n], le(&bf16_bits)),
        ("c.f32", Dtype::F32, vec![n], f32_bytes(&f32_values)),
        ("d.bad", Dtype::F32, vec![n], f32_bytes(&with_nan)),
    ]);
    let file = SafetensorsFile::from_bytes("long.safetensors", bytes).unwrap();
    let check = |name: &str, bits: &[u16], to_f32: fn(u16) -> f32| {
        let want: Vec<u32> = bits.iter().map(|&b| to_f32(b).to_bits()).collect();
        let got = file.load(name, &[n]).unwrap();
        let got: Vec<u32> = got.iter().map(|v| v.to_bits()).collect();
        assert_eq!(got, want, "{name}");
    };
    check("a.f16", &f16_bits, |b| half::f16::from_bits(b).to_f32());
    check("b.bf16", &bf16_bits, |b| half::bf16::from_bits(b).to_f32());
    assert_eq!(file.load("c.f32", &[n]).unwrap(), f32_values);
    match file.load("d.bad", &[n]).unwrap_err() {
        WeightsError::NonFinite { index, value, .. } => {
            assert_eq!(index, 5000);
            assert!(value.is_nan());
        }
        other => panic!("expected NonFinite, got {other:?}"),
    }
    let tolerant = SafetensorsFile::from_bytes(
        "long.safetensors",
        file_bytes(&[("d.bad", Dtype::F32, vec![n], f32_bytes(&with_nan))]),
    )
    .unwrap()
    .allow_non_finite(true);
    tolerant.load("d.bad", &[n]).unwrap();
    let report = &tolerant.non_finite()[0];
    assert_eq!((report.index, report.count), (5000, 2));
}

#[test]
fn missing_tensor_names_tensor_and_file() {
    let file = sample_file();
    let err = file.load("model.0.bn.running_var", &[3]).unwrap_err();
    assert!(matches!(&err, WeightsError::Missing { name, origin, .. }
        if name == "model.0.bn.running_var" && origin == "sample.safetensors"));
    let text = err.to_string();
    assert!(
        text.contains("model.0.bn.running_var") && text.contains("sample.safetensors"),
        "{text}"
    );
}

#[test]
fn missing_tensor_suggests_a_prefix() {
    let file = sample_file();
    let err = file.load("conv.weight", &[2, 1, 1, 2]).unwrap_err();
    match err {
        WeightsError::Missing { similar, .. } => {
            assert_eq!(similar.as_deref(), Some("model.0.conv.weight"))
        }
        other => panic!("expected Missing, got {other:?}"),
    }
}

#[test]
fn wrong_shape_reports_expected_and_found() {
    let file = sample_file();
    let err = file.load("model.0.conv.weight", &[2, 2, 1, 1]).unwrap_err();
    match &err {
        WeightsError::Shape {
            name,
            expected,
            found,
            origin,
        } => {
            assert_eq!(name, "model.0.conv.weight");
            assert_eq!(origin, "sample.safetensors");
            assert_eq!(expected, &vec![2, 2, 1, 1]);
            assert_eq!(found, &vec![2, 1, 1, 2]);
        }
        other => panic!("expected Shape, got {other:?}"),
    }
    assert!(err.to_string().contains("[2, 1, 1, 2]"));
}

#[test]
fn integer_tensor_is_a_dtype_error() {
    let file = sample_file();
    let err = file.load("model.1.counts", &[2]).unwrap_err();
    assert!(
        matches!(&err, WeightsError::Dtype { name, found, .. } if name == "model.1.counts" && found == "I32"),
        "{err:?}"
    );
}

#[test]
fn nan_is_rejected_with_its_index() {
    let file = sample_file();
    let err = file.load("model.2.bad", &[3]).unwrap_err();
    assert!(
        matches!(err, WeightsError::NonFinite { ref name, index: 1, value, .. } if name == "model.2.bad" && value.is_nan()),
        "{err:?}"
    );
}

#[test]
fn infinity_is_rejected() {
    let bytes = file_bytes(&[(
        "w",
        Dtype::F32,
        vec![2],
        f32_bytes(&[1.0, f32::NEG_INFINITY]),
    )]);
    let file = SafetensorsFile::from_bytes("inf", bytes).unwrap();
    assert!(matches!(
        file.load("w", &[2]),
        Err(WeightsError::NonFinite { index: 1, .. })
    ));
}

#[test]
fn truncated_file_is_a_format_error() {
    let bytes = file_bytes(&[("w", Dtype::F32, vec![4], f32_bytes(&[1.0, 2.0, 3.0, 4.0]))]);
    for cut in [1, 4, bytes.len() / 2, 7] {
        let short = bytes[..bytes.len() - cut].to_vec();
        let err = SafetensorsFile::from_bytes("short.safetensors", short).unwrap_err();
        assert!(
            matches!(&err, WeightsError::Format { origin, .. } if origin == "short.safetensors"),
            "cut {cut}: {err:?}"
        );
    }
}

#[test]
fn truncated_file_on_disk_is_a_format_error_naming_the_path() {
    let bytes = file_bytes(&[("w", Dtype::F32, vec![4], f32_bytes(&[1.0, 2.0, 3.0, 4.0]))]);
    let path = std::env::temp_dir().join(format!(
        "ghost-layers-truncated-{}.safetensors",
        std::process::id()
    ));
    std::fs::write(&path, &bytes[..bytes.len() - 3]).unwrap();
    let err = SafetensorsFile::open(&path).unwrap_err();
    std::fs::remove_file(&path).unwrap();
    assert!(
        err.to_string().contains(&path.display().to_string()),
        "{err}"
    );
    assert!(matches!(err, WeightsError::Format { .. }));
}

#[test]
fn unreadable_path_is_an_io_error() {
    let path = PathBuf::from("/nonexistent/dir/weights.safetensors");
    let err = SafetensorsFile::open(&path).unwrap_err();
    assert!(matches!(&err, WeightsError::Io { path: p, .. } if *p == path));
}

#[test]
fn file_round_trips_through_disk_mmap() {
    let bytes = file_bytes(&[(
        "a.weight",
        Dtype::F32,
        vec![2, 2],
        f32_bytes(&[1.0, -1.0, 0.5, 2.0]),
    )]);
    let path = std::env::temp_dir().join(format!(
        "ghost-layers-mmap-{}.safetensors",
        std::process::id()
    ));
    std::fs::write(&path, &bytes).unwrap();
    let file = SafetensorsFile::open(&path).unwrap();
    assert_eq!(
        file.load("a.weight", &[2, 2]).unwrap(),
        vec![1.0, -1.0, 0.5, 2.0]
    );
    drop(file);
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn unused_lists_every_float_tensor_never_loaded() {
    let file = sample_file();
    file.load("model.0.conv.weight", &[2, 1, 1, 2]).unwrap();
    // A failed load does not count as used.
    let _ = file.load("model.0.bn.weight", &[4]);
    assert_eq!(
        file.unused(),
        vec![
            "model.0.bn.bias",
            "model.0.bn.weight",
            "model.1.counts",
            "model.2.bad"
        ],
        "num_batches_tracked is bookkeeping and never listed"
    );
}

#[test]
fn prefix_is_prepended_and_errors_use_full_names() {
    let file = sample_file();
    let inner = Prefixed::new(&file, "model.0.");
    assert_eq!(inner.load("conv.weight", &[2, 1, 1, 2]).unwrap()[3], -4.0);
    assert_eq!(inner.shape_of("bn.bias"), Some(vec![2]));
    let err = inner.load("bn.running_mean", &[3]).unwrap_err();
    assert!(
        matches!(&err, WeightsError::Missing { name, .. } if name == "model.0.bn.running_mean")
    );
    // Usage is tracked on the underlying file, under full names.
    assert!(!file.unused().contains(&"model.0.conv.weight".to_string()));
}

#[test]
fn memory_weights_behave_like_a_file() {
    let mut m = MemoryWeights::new("memory");
    m.insert("x.weight", vec![2, 3], vec![0.0; 6]).unwrap();
    assert!(m.insert("bad", vec![2], vec![0.0; 3]).is_err());
    assert!(matches!(
        m.load("x.weight", &[3, 2]),
        Err(WeightsError::Shape { .. })
    ));
    assert_eq!(m.unused(), vec!["x.weight"]);
    m.load("x.weight", &[2, 3]).unwrap();
    assert!(m.unused().is_empty());
}

// ---------------------------------------------------------------------------------------------
// Seeded generator, against fixtures/seeded_weights_check.json (tools/seeded_weights.py).

fn check_json() -> serde_json::Value {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/seeded_weights_check.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn hex_u64(v: &serde_json::Value) -> u64 {
    u64::from_str_radix(v.as_str().unwrap().trim_start_matches("0x"), 16).unwrap()
}

fn shape_of(v: &serde_json::Value) -> Vec<usize> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_u64().unwrap() as usize)
        .collect()
}

#[test]
fn seeded_fnv1a64_matches_python() {
    let json = check_json();
    let table = json["fnv1a64"].as_object().unwrap();
    assert!(table.len() >= 10);
    for (name, hash) in table {
        assert_eq!(fnv1a64(name.as_bytes()), hex_u64(hash), "fnv1a64({name:?})");
    }
}

#[test]
fn seeded_values_are_bit_identical_to_python() {
    let json = check_json();
    let seed = json["global_seed"].as_u64().unwrap();
    assert_eq!(seed, hex_u64(&json["global_seed_hex"]));
    let cases = json["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 10);
    let source = SeededWeights::new(seed);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let shape = shape_of(&case["shape"]);
        let index = case["index"].as_u64().unwrap() as usize;
        let bits = case["f32_bits"].as_u64().unwrap() as u32;
        let values = source.load(name, &shape).unwrap();
        assert_eq!(
            values[index].to_bits(),
            bits,
            "{name}{shape:?}[{index}] ({})",
            case["rule"]
        );
    }
    let first = &json["first_values"];
    let values = generate(
        first["name"].as_str().unwrap(),
        &shape_of(&first["shape"]),
        seed,
    )
    .unwrap();
    let expected: Vec<u32> = first["f32_bits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b.as_u64().unwrap() as u32)
        .collect();
    let got: Vec<u32> = values[..expected.len()]
        .iter()
        .map(|v| v.to_bits())
        .collect();
    assert_eq!(got, expected);
}

#[test]
fn seeded_source_refuses_never_generated_tensors() {
    let source = SeededWeights::new(1);
    assert!(matches!(
        source.load("model.23.dfl.conv.weight", &[1, 16, 1, 1]),
        Err(WeightsError::Missing { .. })
    ));
    assert!(matches!(
        source.load("x.scale", &[4]),
        Err(WeightsError::Unsupported { .. })
    ));
    assert_eq!(source.shape_of("conv.weight"), None);
    assert!(source.contains("conv.weight"));
    // Different seeds give different weights; the same seed the same.
    assert_ne!(
        SeededWeights::new(2).load("conv.weight", &[4, 4]).unwrap(),
        source.load("conv.weight", &[4, 4]).unwrap()
    );
    assert_eq!(
        source.load("conv.weight", &[4, 4]).unwrap(),
        source.load("conv.weight", &[4, 4]).unwrap()
    );
}
