//! Shared helpers for the criterion benches: the real layer shapes of yolo11n-ghost and
//! yolo11m-ghost at 640x640 (derived from docs/models.md: GhostNet V1 cfg, YOLO11 head with
//! Ultralytics' channel rules), deterministic inputs and a short measurement config.
//!
//! Every shape is one layer of one model; the name says which (`m` = yolo11m-ghost with GhostNet
//! width 1.0 and YOLO width 1.0 / max 512 channels, `n` = yolo11n-ghost with GhostNet width 0.25
//! and YOLO width 0.25).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::time::Duration;

use ghost_kernels::Activation;

/// A pointwise (1x1) convolution: `h x w` pixels, `k` input and `n` output channels.
#[derive(Clone, Copy, Debug)]
pub struct PointwiseShape {
    /// Bench id: model (`n` / `m`), layer and shape, e.g. `n_detect_p3_box_80_64x64`.
    pub name: &'static str,
    /// Output rows, pixels.
    pub h: usize,
    /// Output columns, pixels.
    pub w: usize,
    /// Input channels (GEMM K).
    pub k: usize,
    /// Output channels (GEMM N).
    pub n: usize,
    /// The layer's activation (GhostNet expand: ReLU, project: none; YOLO Conv: SiLU).
    pub act: Activation,
}

impl PointwiseShape {
    /// Pixels (GEMM M).
    pub fn m(&self) -> usize {
        self.h * self.w
    }

    /// Multiply-accumulates.
    pub fn macs(&self) -> u64 {
        (self.m() * self.k * self.n) as u64
    }
}

const fn pw(name: &'static str, hw: usize, k: usize, n: usize, act: Activation) -> PointwiseShape {
    PointwiseShape {
        name,
        h: hw,
        w: hw,
        k,
        n,
        act,
    }
}

/// Pointwise layers, from the GhostNet backbone (ghost-module primary convs: `init =
/// ceil(out / 2)` channels) to the YOLO head (C3k2 / SPPF / C2PSA / Detect 1x1 convs).
pub const POINTWISE: &[PointwiseShape] = &[
    // GhostNet width 1.0 (m): stage 1 ghost1 16 -> 24 at 320x320 (stride 2 of the stem).
    pw("m_ghost_s1_expand_320_16x24", 320, 16, 24, Activation::Relu),
    // Stage 2 ghost2 (project) 72 -> 12 at 160x160.
    pw(
        "m_ghost_s2_project_160_72x12",
        160,
        72,
        12,
        Activation::Identity,
    ),
    // Stage 5 ghost1 40 -> 120 at 80x80.
    pw("m_ghost_s5_expand_80_40x120", 80, 40, 120, Activation::Relu),
    // Stage 6 (exp 480) ghost1 80 -> 240 at 40x40.
    pw("m_ghost_s6_expand_40_80x240", 40, 80, 240, Activation::Relu),
    // Stage 7 ghost2 672 -> 80 at 20x20.
    pw(
        "m_ghost_s7_project_20_672x80",
        20,
        672,
        80,
        Activation::Identity,
    ),
    // Stage 9 ConvBnAct 160 -> 960 at 20x20.
    pw("m_ghost_s9_conv_20_160x960", 20, 160, 960, Activation::Relu),
    // YOLO m head: C3k2 (layer 12) cv1 after concat 512 + 40 -> 256 at 80x80.
    pw("m_c3k2_p3_cv1_80_552x256", 80, 552, 256, Activation::Silu),
    // C3k2 (layer 12) cv2 3 x 128 -> 256 at 80x80.
    pw("m_c3k2_p3_cv2_80_384x256", 80, 384, 256, Activation::Silu),
    // C3k2 (layer 9) cv1 after concat 512 + 112 -> 512 at 40x40.
    pw("m_c3k2_p4_cv1_40_624x512", 40, 624, 512, Activation::Silu),
    // Detect cv3 1x1 256 -> 256 at 80x80.
    pw("m_detect_p3_cls_80_256x256", 80, 256, 256, Activation::Silu),
    // SPPF cv2 4 x 480 -> 512 at 20x20.
    pw("m_sppf_cv2_20_1920x512", 20, 1920, 512, Activation::Silu),
    // C2PSA qkv 256 -> 512 at 20x20.
    pw("m_c2psa_qkv_20_256x512", 20, 256, 512, Activation::Silu),
    // YOLO n head: C3k2 (layer 12) cv1 after concat 128 + 12 -> 64 at 80x80.
    pw("n_c3k2_p3_cv1_80_140x64", 80, 140, 64, Activation::Silu),
    // Detect box branch 1x1 64 -> 64 at 80x80.
    pw("n_detect_p3_box_80_64x64", 80, 64, 64, Activation::Silu),
];

/// A dense `k x k` convolution with "same" padding (`k / 2`) and stride `stride`.
#[derive(Clone, Copy, Debug)]
pub struct ConvShape {
    /// Bench id: model (`n` / `m`), layer and shape.
    pub name: &'static str,
    /// Input rows, pixels.
    pub h: usize,
    /// Input columns, pixels.
    pub w: usize,
    /// Input channels.
    pub cin: usize,
    /// Output channels.
    pub cout: usize,
    /// Kernel side (`k x k`).
    pub k: usize,
    /// Stride, both directions.
    pub stride: usize,
    /// The layer's activation (GhostNet stem: ReLU; YOLO Conv: SiLU).
    pub act: Activation,
}

impl ConvShape {
    /// Output size.
    pub fn out_hw(&self) -> (usize, usize) {
        let p = self.k / 2;
        (
            (self.h + 2 * p - self.k) / self.stride + 1,
            (self.w + 2 * p - self.k) / self.stride + 1,
        )
    }

    /// Multiply-accumulates.
    pub fn macs(&self) -> u64 {
        let (oh, ow) = self.out_hw();
        (oh * ow * self.cout * self.cin * self.k * self.k) as u64
    }
}

const fn cv(
    name: &'static str,
    hw: usize,
    cin: usize,
    cout: usize,
    stride: usize,
    act: Activation,
) -> ConvShape {
    ConvShape {
        name,
        h: hw,
        w: hw,
        cin,
        cout,
        k: 3,
        stride,
        act,
    }
}

/// Dense 3x3 convolutions (input size given).
pub const CONV: &[ConvShape] = &[
    // GhostNet stem 3 -> 16, s2, 640 -> 320 (width 1.0) and 3 -> 4 (width 0.25).
    cv("m_ghost_stem_640_3x16_s2", 640, 3, 16, 2, Activation::Relu),
    cv("n_ghost_stem_640_3x4_s2", 640, 3, 4, 2, Activation::Relu),
    // Plain YOLO11m first Conv 3 -> 64, s2 at 640 (the layer GhostNet's stem replaces).
    cv("yolo11m_stem_640_3x64_s2", 640, 3, 64, 2, Activation::Silu),
    // C3k bottleneck 3x3 64 -> 64 at 80x80 (m, layer 12).
    cv("m_c3k_p3_80_64x64_s1", 80, 64, 64, 1, Activation::Silu),
    // C3k bottleneck 3x3 128 -> 128 at 40x40 (m, layer 9).
    cv("m_c3k_p4_40_128x128_s1", 40, 128, 128, 1, Activation::Silu),
    // Head downsample Conv 256 -> 256 s2, 80 -> 40 (m, layer 13).
    cv("m_down_p3_80_256x256_s2", 80, 256, 256, 2, Activation::Silu),
    // Head downsample Conv 512 -> 512 s2, 40 -> 20 (m, layer 16).
    cv("m_down_p4_40_512x512_s2", 40, 512, 512, 2, Activation::Silu),
    // Detect box branch first Conv 256 -> 64 at 80x80 and 512 -> 64 at 20x20 (m).
    cv(
        "m_detect_p3_box_80_256x64_s1",
        80,
        256,
        64,
        1,
        Activation::Silu,
    ),
    cv(
        "m_detect_p5_box_20_512x64_s1",
        20,
        512,
        64,
        1,
        Activation::Silu,
    ),
    // Detect box branch second Conv 64 -> 64 at 80x80 (n and m).
    cv(
        "nm_detect_p3_box2_80_64x64_s1",
        80,
        64,
        64,
        1,
        Activation::Silu,
    ),
    // yolo11n C3k2 bottleneck 3x3 convs: 16 -> 16 at 80x80 (layer 4) and 32 -> 32 at 40x40
    // (layer 6): the smallest channel counts Winograd takes.
    cv("n_c3k2_p3_80_16x16_s1", 80, 16, 16, 1, Activation::Silu),
    // yolo11n layer 2's bottleneck (16 -> 8 -> 16 at 160x160): the first runs as Winograd (cin
    // >= 16), the second, 8 input channels, as the GEMM's row taps.
    cv("n_c3k2_p2_160_16x8_s1", 160, 16, 8, 1, Activation::Silu),
    cv("n_c3k2_p2_160_8x16_s1", 160, 8, 16, 1, Activation::Silu),
    cv("n_c3k2_p4_40_32x32_s1", 40, 32, 32, 1, Activation::Silu),
    // Head downsample Conv 64 -> 64 s2, 80 -> 40 (n, layer 13).
    cv("n_down_p3_80_64x64_s2", 80, 64, 64, 2, Activation::Silu),
];

/// Deterministic pseudo-random values in [-1, 1) (the kernel tests' inputs too).
pub use ghost_kernels::testing::values;

/// Short measurement settings, so a whole bench file runs in a few minutes on one core.
pub fn quick() -> (usize, Duration, Duration) {
    (10, Duration::from_millis(300), Duration::from_millis(1500))
}

/// CPU time of the calling thread, in ms: the clock of the `*_cpu` benches, which time single
/// kernel calls on a shared machine where wall clock is noise.
pub fn thread_cpu_ms() -> f64 {
    let ts = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    ts.tv_sec as f64 * 1e3 + ts.tv_nsec as f64 * 1e-6
}

/// Thread CPU time per call of `f`, in ms, over `reps` back-to-back calls (the caller warms up
/// first where it needs to).
pub fn cpu_ms_per_call(reps: usize, mut f: impl FnMut()) -> f64 {
    let t0 = thread_cpu_ms();
    for _ in 0..reps {
        f();
    }
    (thread_cpu_ms() - t0) / reps as f64
}

/// The median of `v` (the upper one of an even count); `v` must not be empty.
pub fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    s[s.len() / 2]
}

/// The command line of the `*_cpu` benches: the first numeric argument is the round count
/// (`default_rounds` without one), every argument `is_shape` accepts is a shape to run (`defaults`
/// without any). `cargo bench` passes `--bench` too, which neither matches.
pub fn rounds_and_shapes<'a>(
    args: &'a [String],
    default_rounds: usize,
    is_shape: impl Fn(&str) -> bool,
    defaults: &[&'a str],
) -> (usize, Vec<&'a str>) {
    let rounds = args
        .iter()
        .find_map(|a| a.parse::<usize>().ok())
        .unwrap_or(default_rounds);
    let shapes: Vec<&str> = args
        .iter()
        .map(String::as_str)
        .filter(|a| is_shape(a))
        .collect();
    if shapes.is_empty() {
        (rounds, defaults.to_vec())
    } else {
        (rounds, shapes)
    }
}
