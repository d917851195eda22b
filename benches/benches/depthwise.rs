//! Depthwise convolutions on real layer shapes of yolo11m-ghost (`m`, GhostNet width 1.0) and
//! yolo11n-ghost (`n`, width 0.25) at 640x640, single thread, active ISA (plus the portable path
//! and the f64 naive reference on a few shapes).
//!
//! Two groups per shape: `depthwise_flops/*` with `Throughput::Elements(2 * MACs)` (criterion's
//! rate reads as FLOP/s) and `depthwise_bytes/*` with `Throughput::Bytes(minimum traffic)` = one
//! read of the input and one write of the output (GB/s), as XNNPACK's dwconv bench reports.
//!
//! GhostNet cheap operations run as in the model: one buffer of `2m` channels per pixel, the
//! kernel reading channels `[0, m)` and writing `[m, 2m)`. Other layers use dense buffers.
//!
//! Filter: `cargo bench -p ghost-benches --bench depthwise -- depthwise_flops/m_ghost`.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ghost_benches::{quick, values};
use ghost_kernels::depthwise::{depthwise_with_isa, naive, PackedDepthwise};
use ghost_kernels::{
    active_isa, Activation, Epilogue, Isa, NhwcLayout, TensorView, TensorViewMut, Threads, Window,
};

/// One depthwise layer: `hw x hw` input, `c` channels, `k x k` kernel, "same" padding `k / 2`.
#[derive(Clone, Copy, Debug)]
struct DwShape {
    name: &'static str,
    hw: usize,
    c: usize,
    k: usize,
    stride: usize,
    /// GhostNet cheap operation: in and out are the two halves of one buffer.
    ghost: bool,
    act: Activation,
}

impl DwShape {
    fn window(&self) -> Window {
        Window::same(self.k, self.stride)
    }

    fn out_hw(&self) -> usize {
        self.window().output_size(self.hw, self.hw).unwrap().0
    }

    fn macs(&self) -> u64 {
        (self.out_hw().pow(2) * self.c * self.k * self.k) as u64
    }

    /// Minimum memory traffic: read the input once, write the output once.
    fn bytes(&self) -> u64 {
        (4 * self.c * (self.hw.pow(2) + self.out_hw().pow(2))) as u64
    }
}

const fn dw(
    name: &'static str,
    hw: usize,
    c: usize,
    k: usize,
    stride: usize,
    ghost: bool,
    act: Activation,
) -> DwShape {
    DwShape {
        name,
        hw,
        c,
        k,
        stride,
        ghost,
        act,
    }
}

use Activation::{Identity as ID, Relu as RELU, Silu as SILU};

/// Channel counts: GhostNet cfg (k, exp, out, se, s) with init = ceil(oup / 2) per ghost module;
/// YOLO11 Detect `cv3` DWConv on the neck outputs (m: 256/512/512, n: 64/128/256).
const SHAPES: &[DwShape] = &[
    // yolo11m-ghost, GhostNet cheap operations (3x3 s1, ReLU in ghost1, none in ghost2).
    dw("m_ghost_s1_cheap_320_24", 320, 24, 3, 1, true, RELU),
    dw("m_ghost_s2_cheap_160_36", 160, 36, 3, 1, true, RELU),
    dw("m_ghost_s4_cheap_80_60", 80, 60, 3, 1, true, RELU),
    dw("m_ghost_s4_cheap2_80_20", 80, 20, 3, 1, true, ID),
    dw("m_ghost_s6_cheap_40_336", 40, 336, 3, 1, true, RELU),
    dw("m_ghost_s8_cheap_20_480", 20, 480, 3, 1, true, RELU),
    // Bottleneck conv_dw (stride 2, BN, no activation).
    dw("m_ghost_s1_dw_320_48_s2", 320, 48, 3, 2, false, ID),
    dw("m_ghost_s3_dw5_160_72_s2", 160, 72, 5, 2, false, ID),
    dw("m_ghost_s5_dw_80_240_s2", 80, 240, 3, 2, false, ID),
    dw("m_ghost_s7_dw5_40_672_s2", 40, 672, 5, 2, false, ID),
    // 5x5 stride 1 on stage-4 / stage-8 expansion widths (GhostNet V1 itself only runs its 5x5
    // depthwise at stride 2; these measure the 5x5 s1 path at the model's channel counts).
    dw("m_dw5_s1_80_120", 80, 120, 5, 1, false, ID),
    dw("m_dw5_s1_20_960", 20, 960, 5, 1, false, ID),
    // YOLO11 Detect cv3 DWConv 3x3 + BN + SiLU.
    dw("m_detect_p3_dw_80_256", 80, 256, 3, 1, false, SILU),
    dw("m_detect_p4_dw_40_512", 40, 512, 3, 1, false, SILU),
    dw("m_detect_p5_dw_20_512", 20, 512, 3, 1, false, SILU),
    // yolo11n-ghost (width 0.25): tiny channel counts on large maps.
    dw("n_ghost_s0_cheap_320_2", 320, 2, 3, 1, true, RELU),
    dw("n_ghost_s2_cheap_160_10", 160, 10, 3, 1, true, RELU),
    dw("n_ghost_s3_dw5_160_20_s2", 160, 20, 5, 2, false, ID),
    dw("n_detect_p3_dw_80_64", 80, 64, 3, 1, false, SILU),
    dw("n_detect_p5_dw_20_256", 20, 256, 3, 1, false, SILU),
];

/// Shapes that also run the portable path and the naive reference.
fn with_baselines(s: &DwShape) -> bool {
    matches!(s.name, "m_ghost_s4_cheap_80_60" | "m_dw5_s1_80_120")
}

/// Buffers and views for one shape; `run` executes the layer once on `isa`.
struct Layer {
    shape: DwShape,
    buf: Vec<f32>,
    out_buf: Vec<f32>,
    weights: Vec<f32>,
    bias: Vec<f32>,
    packed: PackedDepthwise,
}

impl Layer {
    fn new(shape: DwShape) -> Self {
        let c = shape.c;
        let weights = values(2, c * shape.k * shape.k);
        let bias = values(3, c);
        let packed = PackedDepthwise::new(&weights, Some(&bias), c, shape.k, shape.k).unwrap();
        let per_pixel = if shape.ghost { 2 * c } else { c };
        Layer {
            shape,
            buf: values(1, shape.hw * shape.hw * per_pixel),
            out_buf: vec![0.0; shape.out_hw().pow(2) * c],
            weights,
            bias,
            packed,
        }
    }

    fn run(&mut self, isa: Isa, threads: &Threads) {
        let s = self.shape;
        let epilogue = Epilogue::act(s.act);
        if s.ghost {
            let layout = NhwcLayout::dense(1, s.hw, s.hw, 2 * s.c);
            let full = TensorViewMut::new(&mut self.buf, layout).unwrap();
            let (primary, mut cheap) = full.split_channels(s.c).unwrap();
            depthwise_with_isa(
                isa,
                &primary.as_view(),
                &self.packed,
                &s.window(),
                &epilogue,
                &mut cheap,
                threads,
            )
            .unwrap();
        } else {
            let input = TensorView::dense(&self.buf, 1, s.hw, s.hw, s.c).unwrap();
            let oh = s.out_hw();
            let mut out = TensorViewMut::dense(&mut self.out_buf, 1, oh, oh, s.c).unwrap();
            depthwise_with_isa(
                isa,
                &input,
                &self.packed,
                &s.window(),
                &epilogue,
                &mut out,
                threads,
            )
            .unwrap();
        }
    }

    fn run_naive(&mut self) {
        let s = self.shape;
        let input = TensorView::dense(&self.buf, 1, s.hw, s.hw, s.c).unwrap();
        let oh = s.out_hw();
        let mut out = TensorViewMut::dense(&mut self.out_buf, 1, oh, oh, s.c).unwrap();
        naive::depthwise(
            &input,
            &self.weights,
            Some(&self.bias),
            &s.window(),
            &Epilogue::act(s.act),
            &mut out,
        )
        .unwrap();
    }
}

fn bench(c: &mut Criterion) {
    let (samples, warm_up, measure) = quick();
    let threads = Threads::single();
    let isa = active_isa();
    for (group_name, bytes) in [("depthwise_flops", false), ("depthwise_bytes", true)] {
        for s in SHAPES {
            let mut group = c.benchmark_group(format!("{group_name}/{}", s.name));
            group
                .sample_size(samples)
                .warm_up_time(warm_up)
                .measurement_time(measure)
                .throughput(if bytes {
                    Throughput::Bytes(s.bytes())
                } else {
                    Throughput::Elements(2 * s.macs())
                });
            let mut layer = Layer::new(*s);
            group.bench_function(BenchmarkId::new("ghost", isa.name()), |b| {
                b.iter(|| layer.run(isa, &threads))
            });
            if !bytes && with_baselines(s) {
                group.bench_function(BenchmarkId::new("ghost", "portable"), |b| {
                    b.iter(|| layer.run(Isa::Portable, &threads))
                });
                group.bench_function(BenchmarkId::new("naive-f64", "reference"), |b| {
                    b.iter(|| layer.run_naive())
                });
            }
            group.finish();
        }
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
