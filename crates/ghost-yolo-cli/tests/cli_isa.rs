//! The kernel back end in every report: `info`, `bench` and `profile` print it (`profile` per
//! kernel call), `GHOST_KERNELS_ISA` changes it, and a value the kernels cannot honour is a
//! one-line usage error (exit code 2) before any work.

use std::process::{Command, Output};

use ghost_kernels::Isa;
use serde_json::Value;

mod common;
use common::{stderr, stdout};

/// `ghost-yolo args` with `GHOST_KERNELS_ISA` set to `isa` (`None`: unset).
fn run(isa: Option<&str>, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ghost-yolo"));
    cmd.args(args).env_remove("GHOST_KERNELS_ISA");
    if let Some(isa) = isa {
        cmd.env("GHOST_KERNELS_ISA", isa);
    }
    cmd.output().expect("run ghost-yolo")
}

/// `command` (`bench`, `profile`) for one pass of yolo11n-ghost at 64x64 on one thread, no
/// warm-up, then `extra`.
fn one_small_pass<'a>(command: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let pass = [
        "-m",
        "yolo11n-ghost",
        "--imgsz",
        "64",
        "--runs",
        "1",
        "--warmup",
        "0",
        "--threads",
        "1",
    ];
    [&[command][..], &pass, extra].concat()
}

/// Asserts that the run succeeded and printed the line `isa: {isa}`.
fn assert_reports_isa(o: &Output, isa: &str) {
    assert!(o.status.success(), "{isa}: {}", stderr(o));
    assert!(
        stdout(o).contains(&format!("isa: {isa}\n")),
        "{}",
        stdout(o)
    );
}

#[test]
fn info_and_bench_print_the_best_back_end_by_default() {
    let best = Isa::best().label();
    assert_reports_isa(&run(None, &["info", "-m", "yolo11n-ghost"]), best);
    let o = run(None, &["info", "-m", "yolo11n-ghost", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["isa"], best);
    assert_reports_isa(&run(None, &one_small_pass("bench", &[])), best);
}

#[test]
fn forced_back_end_is_reported() {
    for isa in ["portable", "scalar"] {
        assert_reports_isa(&run(Some(isa), &one_small_pass("bench", &[])), isa);
    }
    // The x86 back ends by name, where this CPU has them: `avx2` must stay reachable (and
    // reported as itself) on a VNNI CPU, whose default is `avx512vnni`.
    for isa in [Isa::Avx512Vnni, Isa::Avx2Fma] {
        if isa.is_supported() {
            let o = run(Some(isa.name()), &one_small_pass("bench", &[]));
            assert_reports_isa(&o, isa.label());
        }
    }
}

#[test]
fn profile_shows_the_back_end_per_kernel_call() {
    let o = run(
        Some("portable"),
        &one_small_pass("profile", &["--top", "5"]),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.lines().next().unwrap().contains("(isa: portable)"),
        "{out}"
    );
    let calls: Vec<&str> = out
        .lines()
        .skip_while(|l| !l.starts_with("slowest "))
        .collect();
    assert!(calls[0].contains(" isa "), "{out}");
    assert_eq!(calls.len(), 6, "{out}");
    for call in &calls[1..] {
        assert_eq!(call.split_whitespace().nth(2), Some("portable"), "{call}");
    }
}

#[test]
fn unusable_back_end_is_a_usage_error() {
    let o = run(Some("naive"), &["info", "-m", "yolo11n-ghost"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.starts_with("error: "), "{err}");
    assert!(
        err.contains("GHOST_KERNELS_ISA") && err.contains("\"naive\""),
        "{err}"
    );
    assert!(
        err.contains("avx512vnni, avx2, neon, portable, scalar"),
        "{err}"
    );
    assert!(stdout(&o).is_empty());
    for isa in [Isa::Avx512Vnni, Isa::Avx2Fma, Isa::Neon] {
        if !isa.is_supported() {
            let o = run(Some(isa.name()), &["info", "-m", "yolo11n-ghost"]);
            assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
            assert!(
                stderr(&o).contains("not supported by this CPU"),
                "{}",
                stderr(&o)
            );
        }
    }
}

/// The kernel `profile` reports for the call `conv` (its `slowest ...` table row).
fn kernel_of<'a>(profile: &'a str, conv: &str) -> Option<&'a str> {
    profile
        .lines()
        .skip_while(|l| !l.starts_with("slowest "))
        .find(|l| l.split_whitespace().next() == Some(conv))
        .and_then(|l| l.split_whitespace().nth(1))
}

#[test]
fn an_int8_file_runs_its_winograd_shaped_convs_fp32_on_avx2_alone() {
    // The file is the same for every CPU; the loader decides (docs/int8.md, "Box branch and
    // Winograd convs in INT8"): Detect's box 3x3 convs and the 16-channel 3x3 convs of
    // model.12's bottleneck are INT8 in the default file, FP32 Winograd on `avx2`, INT8 on
    // `avx512vnni`; the box head (1x1) is INT8 everywhere (docs/int8.md, "Session 14, rule
    // after the new GEMM").
    let dir = std::env::temp_dir().join(format!("ghost-yolo-cli-isa-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("int8.safetensors");
    let data = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/synthetic/data.yaml"
    );
    let file_arg = file.to_str().unwrap();
    let quantize = ["quantize", "--data", data, "--images", "2", "-o", file_arg];
    for (isa, box_conv, note) in [
        (Isa::Avx2Fma, "winograd", true),
        (Isa::Avx512Vnni, "dense-i8", false),
    ] {
        if !isa.is_supported() {
            continue;
        }
        let o = run(Some(isa.name()), &quantize);
        assert!(o.status.success(), "{}", stderr(&o));
        assert_eq!(
            stdout(&o).contains("note: on this CPU"),
            note,
            "{isa:?}: {}",
            stdout(&o)
        );
        let o = run(
            Some(isa.name()),
            &[
                "profile",
                "-w",
                file_arg,
                "--imgsz",
                "64",
                "--runs",
                "1",
                "--warmup",
                "0",
                "--threads",
                "1",
                "--top",
                "500",
            ],
        );
        assert!(o.status.success(), "{}", stderr(&o));
        let out = stdout(&o);
        for level in 0..3 {
            for k in 0..2 {
                let conv = format!("model.19.cv2.{level}.{k}");
                assert_eq!(
                    kernel_of(&out, &conv),
                    Some(box_conv),
                    "{isa:?} {conv}: {out}"
                );
            }
            let head = format!("model.19.cv2.{level}.2");
            assert_eq!(
                kernel_of(&out, &head),
                Some("pointwise-i8"),
                "{isa:?}: {out}"
            );
        }
        for conv in ["model.12.m.0.cv1", "model.12.m.0.cv2"] {
            assert_eq!(
                kernel_of(&out, conv),
                Some(box_conv),
                "{isa:?} {conv}: {out}"
            );
        }
        // A wide 1x1 conv is INT8 on both.
        assert_eq!(
            kernel_of(&out, "model.18.cv1"),
            Some("pointwise-i8"),
            "{out}"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
