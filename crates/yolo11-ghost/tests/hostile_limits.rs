//! Issue 19, "small inputs, unbounded resources" and "special files", through the library:
//! each case here used to allocate gigabytes, overflow the stack, hang, wrap or block, and must
//! now be a typed error, quickly, before anything large is allocated. Each runs under a
//! deadline in its own thread so that a regression fails instead of hanging the suite.

// `.err().expect()`: `expect_err` would print a whole `Detector` (model and weights) on failure.
#![allow(clippy::err_expect)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ghost_image::image_io::{load_rgb, ImageLoadError};
use safetensors::tensor::TensorView;
use safetensors::SafeTensors;
use yolo11_ghost::detector::{DetectError, Detector, DetectorOptions, WeightsChoice};
use yolo11_ghost::error::YoloError;
use yolo11_ghost::spec::ModelSpec;
use yolo11_ghost::val::Dataset;

mod common;
use common::{repo, scratch, MINI_MODEL_YAML as MINI, WEIGHTS};

/// Runs `f` in a thread and fails if it takes longer than `limit` (the thread is left behind:
/// the test process ends with the failure anyway).
fn within<T: Send + 'static>(limit: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .stack_size(8 << 20)
        .spawn(move || {
            let _ = tx.send(f());
        })
        .unwrap();
    rx.recv_timeout(limit)
        .unwrap_or_else(|_| panic!("did not finish within {limit:?}"))
}

const SECONDS: Duration = Duration::from_secs(20);

fn yaml_err(text: String) -> YoloError {
    within(SECONDS, move || {
        ModelSpec::from_yaml_str(&text, "hostile.yaml", None, None).unwrap_err()
    })
}

/// Nine levels of ten aliases: 10^9 scalars once expanded (3.9 GB and an abort before).
fn billion_laughs() -> String {
    let mut s = String::from("a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for i in 1..9 {
        let p = i - 1;
        s.push_str(&format!(
            "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
        ));
    }
    s
}

#[test]
fn model_yaml_alias_bombs_and_deep_nesting_are_refused() {
    let e = yaml_err(format!("{}{MINI}", billion_laughs()));
    assert!(
        matches!(&e, YoloError::Yaml { message, .. } if message.contains("aliases")),
        "{e}"
    );
    // 30,000 nested block sequences overflowed the loader's recursion.
    let e = yaml_err(format!("{MINI}extra:\n{}x\n", "- ".repeat(30_000)));
    assert!(
        matches!(&e, YoloError::Yaml { message, .. } if message.contains("nested more than")),
        "{e}"
    );
    // 100 MB of YAML is refused on its length (it took 3.4 GB to parse).
    let e = yaml_err(format!("{MINI}#{}\n", "x".repeat(2 << 20)));
    assert!(e.to_string().contains("GHOST_YOLO_MAX_YAML_BYTES"), "{e}");
}

#[test]
fn absurd_multiples_and_ratios_are_refused() {
    for bad in [".inf", "1e12", ".nan", "-1", "0"] {
        let e = yaml_err(format!("depth_multiple: {bad}\n{MINI}"));
        assert!(e.to_string().contains("depth_multiple"), "{bad}: {e}");
        let e = yaml_err(format!("width_multiple: {bad}\n{MINI}"));
        assert!(e.to_string().contains("width_multiple"), "{bad}: {e}");
        let e = yaml_err(format!("scales:\n  n: [{bad}, 0.25, 1024]\n{MINI}"));
        assert!(e.to_string().contains("scale"), "{bad}: {e}");
    }
    // An expansion ratio of 1e300 panicked (hidden channels saturated to usize::MAX).
    let with_c2f = MINI.replace(
        "  - [-1, 1, Conv, [32, 3, 2]]\nhead",
        "  - [-1, 1, C2f, [32, False, 1, 1e300]]\nhead",
    );
    assert_ne!(with_c2f, MINI);
    let e = yaml_err(with_c2f);
    assert!(matches!(&e, YoloError::BadArg { .. }), "{e}");
    // Repeats may not exceed the integer limit after the depth gain either.
    let e = yaml_err(format!(
        "depth_multiple: 64\n{}",
        MINI.replace("[-1, 1, Conv, [16, 3, 2]]", "[-1, 65536, Conv, [16, 3, 1]]")
    ));
    assert!(e.to_string().contains("repeats"), "{e}");
}

/// A stride-3 model (64 is not a multiple of 3) with 3 x 2^16 x 2^16 x 9 parameters: the size
/// guard was skipped for it and the load asked for 33+ GB.
#[test]
fn the_model_size_guard_applies_whatever_the_stride() {
    let yaml = "nc: 3
backbone:
  - [-1, 1, Conv, [65536, 3, 3]]
  - [-1, 1, Conv, [65536, 3, 1]]
head:
  - [[1], 1, Detect, [nc]]
";
    let spec = ModelSpec::from_yaml_str(yaml, "stride3.yaml", None, None).unwrap();
    assert_eq!(spec.max_stride(), 3);
    let err = within(SECONDS, move || {
        Detector::load_spec(&spec, &WeightsChoice::Seeded(1), DetectorOptions::default())
            .err()
            .expect("refused")
    });
    assert!(err.to_string().contains("parameters, more than"), "{err}");
}

#[test]
fn imgsz_beyond_the_limit_is_an_option_error_not_an_allocation() {
    let detector = Detector::load(
        "yolo11n-ghost",
        &WeightsChoice::Seeded(1),
        DetectorOptions::default(),
    )
    .unwrap();
    for side in [100_000, usize::MAX, usize::MAX - 10] {
        let err = within(SECONDS, {
            let d = Detector::load(
                "yolo11n-ghost",
                &WeightsChoice::Seeded(1),
                DetectorOptions::default(),
            )
            .unwrap();
            move || d.with_imgsz((side, 640)).err().expect("refused")
        });
        assert!(
            matches!(
                err,
                DetectError::InvalidOption {
                    option: "imgsz",
                    ..
                }
            ),
            "{side}: {err}"
        );
    }
    let err = Detector::load(
        "yolo11n-ghost",
        &WeightsChoice::Seeded(1),
        DetectorOptions {
            imgsz: (640, 100_000),
            ..DetectorOptions::default()
        },
    )
    .err()
    .expect("refused");
    assert!(err.to_string().contains("GHOST_YOLO_MAX_IMGSZ"), "{err}");
    assert_eq!(detector.imgsz(), (640, 640));
}

/// The fixture weights with metadata `key` set to `value`.
fn weights_with_metadata(dir: &Path, key: &str, value: &str) -> PathBuf {
    let bytes = std::fs::read(repo(WEIGHTS)).unwrap();
    let (_, meta) = SafeTensors::read_metadata(&bytes).unwrap();
    let mut metadata: HashMap<String, String> = meta.metadata().clone().unwrap_or_default();
    metadata.insert(key.to_string(), value.to_string());
    let file = SafeTensors::deserialize(&bytes).unwrap();
    let tensors: Vec<(String, TensorView<'_>)> = file.tensors();
    let out = safetensors::serialize(tensors, Some(metadata)).unwrap();
    let path = dir.join(format!("{key}.safetensors"));
    std::fs::write(&path, out).unwrap();
    path
}

#[test]
fn weights_metadata_is_bounded_like_a_file() {
    let dir = scratch("metadata");
    // imgsz metadata out of range: ignored with a warning (the default 640 stays), never
    // allocated or wrapped.
    for bad in ["100000", "9223372036854775808", "-1", "0", "1e9"] {
        let path = weights_with_metadata(&dir, "imgsz", bad);
        let d = within(SECONDS, move || {
            Detector::from_weights(&path, DetectorOptions::default()).unwrap()
        });
        assert_eq!(d.trained_imgsz(), None, "{bad}");
        assert!(
            d.warnings()
                .iter()
                .any(|w| w.contains("ignoring `imgsz` metadata")),
            "{bad}: {:?}",
            d.warnings()
        );
    }
    // A model YAML in the metadata that is an alias bomb.
    let path = weights_with_metadata(&dir, "model_yaml", &format!("{}{MINI}", billion_laughs()));
    let err = within(SECONDS, move || {
        Detector::from_weights(&path, DetectorOptions::default())
            .err()
            .expect("refused")
    });
    assert!(err.to_string().contains("aliases"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[cfg(unix)]
fn mkfifo(path: &Path) {
    let status = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .unwrap();
    assert!(status.success());
}

#[cfg(unix)]
#[test]
fn fifos_and_devices_are_refused_without_blocking_or_reading() {
    let dir = scratch("special");
    let fifo = dir.join("image.jpg");
    mkfifo(&fifo);
    let zero_link = dir.join("zero.png");
    std::os::unix::fs::symlink("/dev/zero", &zero_link).unwrap();
    for path in [fifo.clone(), zero_link.clone(), PathBuf::from("/dev/zero")] {
        let start = Instant::now();
        let shown = path.display().to_string();
        let err = within(SECONDS, move || load_rgb(&path).unwrap_err());
        assert!(matches!(err, ImageLoadError::File(_)), "{shown}: {err}");
        assert!(err.to_string().contains("not a regular file"), "{err}");
        assert!(start.elapsed() < Duration::from_secs(5));
    }
    // As weights.
    let weights_fifo = dir.join("w.safetensors");
    mkfifo(&weights_fifo);
    let err = within(SECONDS, move || {
        Detector::from_weights(&weights_fifo, DetectorOptions::default())
            .err()
            .expect("refused")
    });
    assert!(err.to_string().contains("FIFO"), "{err}");
    // As a model YAML.
    let yaml_fifo = dir.join("m.yaml");
    mkfifo(&yaml_fifo);
    let err = within(SECONDS, move || {
        ModelSpec::from_yaml_path(&yaml_fifo, None).unwrap_err()
    });
    assert!(err.to_string().contains("FIFO"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A `val` dataset whose image folder holds a symlink back to itself: the walk hung, and one
/// loop listed each image many times (mAP50 0.748 -> 0.034, silently). A FIFO label file
/// blocked forever; labels outside [0, 1] were accepted.
#[cfg(unix)]
#[test]
fn dataset_walks_end_count_once_and_skip_corrupt_labels() {
    let dir = scratch("dataset");
    std::fs::create_dir_all(dir.join("images/val/sub")).unwrap();
    std::fs::create_dir_all(dir.join("labels/val/sub")).unwrap();
    for name in ["a", "b", "c", "sub/d"] {
        std::fs::write(dir.join(format!("images/val/{name}.png")), b"").unwrap();
    }
    std::os::unix::fs::symlink(dir.join("images/val"), dir.join("images/val/sub/loop")).unwrap();
    std::fs::write(dir.join("labels/val/a.txt"), "0 0.5 0.5 0.2 0.2\n").unwrap();
    std::fs::write(dir.join("labels/val/b.txt"), "0 0.5 1.5 0.2 0.2\n").unwrap();
    mkfifo(&dir.join("labels/val/c.txt"));
    std::fs::write(
        dir.join("data.yaml"),
        "path: .\nval: images/val\nnames: [thing]\n",
    )
    .unwrap();
    let yaml = dir.join("data.yaml");
    let ds = within(SECONDS, move || Dataset::open(&yaml, "val").unwrap());
    let images: Vec<String> = ds
        .samples
        .iter()
        .map(|s| s.image.strip_prefix(&dir).unwrap().display().to_string())
        .collect();
    assert_eq!(
        images,
        ["images/val/a.png", "images/val/sub/d.png"],
        "{:?}",
        ds.warnings
    );
    let warned = |needle: &str| ds.warnings.iter().any(|w| w.contains(needle));
    assert!(warned(
        "b.png: ignoring corrupt image/label: non-normalized or out of bounds"
    ));
    assert!(warned("c.png: ignoring corrupt image/label") && warned("FIFO"));
    assert!(
        warned("loop: skipped: a directory already walked"),
        "{:?}",
        ds.warnings
    );

    // An alias bomb in data.yaml.
    std::fs::write(
        dir.join("bomb.yaml"),
        format!(
            "{}path: .\nval: images/val\nnames: [thing]\n",
            billion_laughs()
        ),
    )
    .unwrap();
    let bomb = dir.join("bomb.yaml");
    let err = within(SECONDS, move || Dataset::open(&bomb, "val").unwrap_err());
    assert!(err.to_string().contains("aliases"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}
