//! INT8 against FP32 on yolo11n-ghost-like shapes, single thread, in one run (the machine is
//! shared: compare numbers from the same run only). Pointwise 320x320x4->6, 160x160x12->3,
//! 80x80x20->10, 80x80x64->64, 40x40x128->128,
//! 20x20x256->256 (SiLU epilogue): FP32 `pointwise`, INT8 `pointwise_i8` (f32 out) and
//! `pointwise_i8_u8` (requantized u8 out); depthwise 3x3 on 160x160x6, 160x160x12, 80x80x24,
//! 80x80x64 and 40x40x128; dense 3x3 40x40x64->64; the INT8 pointwise rows again per INT8 GEMM
//! tile the CPU has (`-avx512vnni`, `-avx2`). Throughput is `2 * MACs` elements, so criterion's
//! rate reads as FLOP/s (FP32) or OP/s (INT8). Results and the peak they are compared with:
//! docs/kernels.md, "INT8".

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ghost_benches::{quick, values};
use ghost_kernels::conv::{conv2d, ConvScratch, PackedConv};
use ghost_kernels::depthwise::{depthwise, PackedDepthwise};
use ghost_kernels::pointwise::{pointwise, PackedPointwise};
use ghost_kernels::quant::{
    conv2d_i8, depthwise_i8, pointwise_i8, pointwise_i8_u8, pointwise_i8_with_isa, I8Output,
    PackedConvI8, PackedDepthwiseI8, PackedPointwiseI8, QuantParams,
};
use ghost_kernels::{Activation, Epilogue, Isa, TensorView, TensorViewMut, Threads, Window};

fn codes(seed: u64, len: usize) -> Vec<u8> {
    values(seed, len)
        .into_iter()
        .map(|v| ((v + 1.0) * 127.9) as u8)
        .collect()
}

fn bench_pointwise(c: &mut Criterion) {
    let (samples, warm_up, measure) = quick();
    let threads = Threads::single();
    let epilogue = Epilogue::act(Activation::Silu);
    let params = QuantParams::from_range(-0.3, 4.0).unwrap();
    // GhostNet's narrow early primary convs (yolo11n-ghost, width 0.25: 4 -> 6 at 320x320,
    // 12 -> 3 at 160x160, 20 -> 10 at 80x80) and three wide ones.
    for (hw, k, n) in [
        (320, 4, 6),
        (160, 12, 3),
        (80, 20, 10),
        (80, 64, 64),
        (40, 128, 128),
        (20, 256, 256),
    ] {
        let m = hw * hw;
        let mut group = c.benchmark_group(format!("int8/pointwise_{hw}x{hw}x{k}->{n}"));
        group
            .sample_size(samples)
            .warm_up_time(warm_up)
            .measurement_time(measure)
            .throughput(Throughput::Elements(2 * (m * k * n) as u64));
        let x = values(1, m * k);
        let xq = codes(1, m * k);
        let w = values(2, n * k);
        let bias = values(3, n);
        let mut out = vec![0.0f32; m * n];
        let mut out_q = vec![0u8; m * n];

        let packed = PackedPointwise::new(&w, Some(&bias), k, n).unwrap();
        let input = TensorView::dense(&x, 1, hw, hw, k).unwrap();
        group.bench_function(BenchmarkId::new("fp32", "silu"), |b| {
            let mut o = TensorViewMut::dense(&mut out, 1, hw, hw, n).unwrap();
            b.iter(|| pointwise(&input, &packed, &epilogue, &mut o, &threads).unwrap())
        });
        let packed = PackedPointwiseI8::new(&w, Some(&bias), k, n).unwrap();
        let input = ghost_kernels::quant::U8View::dense(&xq, 1, hw, hw, k).unwrap();
        group.bench_function(BenchmarkId::new("int8-f32out", "silu"), |b| {
            let mut o = TensorViewMut::dense(&mut out, 1, hw, hw, n).unwrap();
            b.iter(|| pointwise_i8(&input, params, &packed, &epilogue, &mut o, &threads).unwrap())
        });
        group.bench_function(BenchmarkId::new("int8-u8out", "silu"), |b| {
            let mut o = ghost_kernels::quant::U8ViewMut::dense(&mut out_q, 1, hw, hw, n).unwrap();
            b.iter(|| {
                pointwise_i8_u8(&input, params, &packed, &epilogue, &mut o, params, &threads)
                    .unwrap()
            })
        });
        group.bench_function(BenchmarkId::new("int8-f32out", "identity"), |b| {
            let mut o = TensorViewMut::dense(&mut out, 1, hw, hw, n).unwrap();
            let e = Epilogue::default();
            b.iter(|| pointwise_i8(&input, params, &packed, &e, &mut o, &threads).unwrap())
        });
        // The INT8 GEMM tiles side by side where the CPU has both (AVX2 `vpmaddubsw` and
        // AVX-512 VNNI `vpdpbusd`; the rows above run the active back end).
        for isa in [Isa::Avx512Vnni, Isa::Avx2Fma] {
            if !isa.is_supported() {
                continue;
            }
            for (act, e) in [("silu", epilogue), ("identity", Epilogue::default())] {
                let id = BenchmarkId::new(format!("int8-f32out-{}", isa.name()), act);
                group.bench_function(id, |b| {
                    let mut o = TensorViewMut::dense(&mut out, 1, hw, hw, n).unwrap();
                    b.iter(|| {
                        let out = I8Output::F32(&mut o);
                        pointwise_i8_with_isa(isa, &input, params, &packed, &e, out, &threads)
                            .unwrap()
                    })
                });
            }
        }
        group.finish();
    }
}

fn bench_spatial(c: &mut Criterion) {
    let (samples, warm_up, measure) = quick();
    let threads = Threads::single();
    let epilogue = Epilogue::act(Activation::Silu);
    let params = QuantParams::from_range(-0.3, 4.0).unwrap();
    // GhostNet's narrow early cheap operations (6 and 12 channels at 160x160, 24 at 80x80:
    // yolo11n-ghost's width 0.25) and two wider layers.
    for (hw, ch) in [(160, 6), (160, 12), (80, 24), (80, 64), (40, 128)] {
        let m = hw * hw;
        let window = Window::same(3, 1);
        let mut group = c.benchmark_group(format!("int8/depthwise3x3_{hw}x{hw}x{ch}"));
        group
            .sample_size(samples)
            .warm_up_time(warm_up)
            .measurement_time(measure)
            .throughput(Throughput::Elements(2 * (m * ch * 9) as u64));
        let x = values(1, m * ch);
        let xq = codes(1, m * ch);
        let w = values(2, ch * 9);
        let bias = values(3, ch);
        let mut out = vec![0.0f32; m * ch];
        let packed = PackedDepthwise::new(&w, Some(&bias), ch, 3, 3).unwrap();
        let input = TensorView::dense(&x, 1, hw, hw, ch).unwrap();
        group.bench_function(BenchmarkId::new("fp32", "silu"), |b| {
            let mut o = TensorViewMut::dense(&mut out, 1, hw, hw, ch).unwrap();
            b.iter(|| depthwise(&input, &packed, &window, &epilogue, &mut o, &threads).unwrap())
        });
        let packed = PackedDepthwiseI8::new(&w, Some(&bias), ch, 3, 3).unwrap();
        let input = ghost_kernels::quant::U8View::dense(&xq, 1, hw, hw, ch).unwrap();
        group.bench_function(BenchmarkId::new("int8-f32out", "silu"), |b| {
            let mut o = TensorViewMut::dense(&mut out, 1, hw, hw, ch).unwrap();
            b.iter(|| {
                depthwise_i8(
                    &input, params, &packed, &window, &epilogue, &mut o, &threads,
                )
                .unwrap()
            })
        });
        group.finish();
    }
    let (hw, k, n) = (40, 64, 64);
    let m = hw * hw;
    let window = Window::same(3, 1);
    let mut group = c.benchmark_group(format!("int8/conv3x3_{hw}x{hw}x{k}->{n}"));
    group
        .sample_size(samples)
        .warm_up_time(warm_up)
        .measurement_time(measure)
        .throughput(Throughput::Elements(2 * (m * k * n * 9) as u64));
    let x = values(1, m * k);
    let xq = codes(1, m * k);
    let w = values(2, n * k * 9);
    let bias = values(3, n);
    let mut out = vec![0.0f32; m * n];
    let packed = PackedConv::for_window(&w, Some(&bias), k, n, &window).unwrap();
    let input = TensorView::dense(&x, 1, hw, hw, k).unwrap();
    let mut scratch = ConvScratch::default();
    group.bench_function(BenchmarkId::new("fp32", "silu"), |b| {
        let mut o = TensorViewMut::dense(&mut out, 1, hw, hw, n).unwrap();
        b.iter(|| {
            conv2d(
                &input,
                &packed,
                &window,
                &epilogue,
                &mut o,
                &mut scratch,
                &threads,
            )
            .unwrap()
        })
    });
    let packed = PackedConvI8::new(&w, Some(&bias), k, n, 3, 3).unwrap();
    let input = ghost_kernels::quant::U8View::dense(&xq, 1, hw, hw, k).unwrap();
    group.bench_function(BenchmarkId::new("int8-f32out", "silu"), |b| {
        let mut o = TensorViewMut::dense(&mut out, 1, hw, hw, n).unwrap();
        b.iter(|| {
            conv2d_i8(
                &input, params, &packed, &window, &epilogue, &mut o, &threads,
            )
            .unwrap()
        })
    });
    group.finish();
}

/// The quantize pass every INT8 conv runs on its f32 input, on a narrow tensor (6 channels at
/// 160x160): dense, and from a channel slice of a 12-channel tensor (a Ghost module's half).
fn bench_quantize(c: &mut Criterion) {
    use ghost_kernels::quant::{quantize, U8ViewMut};
    use ghost_kernels::NhwcLayout;
    let (samples, warm_up, measure) = quick();
    let threads = Threads::single();
    let params = QuantParams::from_range(-0.3, 4.0).unwrap();
    let (hw, ch) = (160, 6);
    let m = hw * hw;
    let mut group = c.benchmark_group(format!("int8/quantize_{hw}x{hw}x{ch}"));
    group
        .sample_size(samples)
        .warm_up_time(warm_up)
        .measurement_time(measure)
        .throughput(Throughput::Elements((m * ch) as u64));
    let x = values(1, m * 2 * ch);
    let mut q = vec![0u8; m * ch];
    group.bench_function("dense", |b| {
        let input = TensorView::dense(&x[..m * ch], 1, hw, hw, ch).unwrap();
        let mut o = U8ViewMut::dense(&mut q, 1, hw, hw, ch).unwrap();
        b.iter(|| quantize(&input, params, &mut o, &threads).unwrap())
    });
    group.bench_function("channel-slice", |b| {
        let layout = NhwcLayout::dense(1, hw, hw, 2 * ch);
        let whole = TensorView::new(&x, layout).unwrap();
        let input = whole.channels(0, ch).unwrap();
        let mut o = U8ViewMut::dense(&mut q, 1, hw, hw, ch).unwrap();
        b.iter(|| quantize(&input, params, &mut o, &threads).unwrap())
    });
    group.finish();
}

/// The 7-bit `vpmaddubsw` tile against the widened `vpmaddwd` alternative (8-bit weights) on
/// the same operands in L1: the measurement behind `GEMM_WEIGHT_QMAX`.
fn bench_tile_study(c: &mut Criterion) {
    use ghost_kernels::quant::tile_study::TileStudy;
    let (samples, warm_up, measure) = quick();
    for (cin, panels) in [(64, 4), (256, 16)] {
        let study = TileStudy::new(cin, panels);
        if study.run_7bit().is_none() {
            return;
        }
        let mut group = c.benchmark_group(format!("int8/tile_cin{cin}_x{panels}panels"));
        group
            .sample_size(samples)
            .warm_up_time(warm_up)
            .measurement_time(measure)
            .throughput(Throughput::Elements(2 * study.macs()));
        group.bench_function("vpmaddubsw-7bit", |b| b.iter(|| study.run_7bit()));
        group.bench_function("vpmaddwd-widened", |b| b.iter(|| study.run_widened()));
        if study.run_vnni().is_some() {
            group.bench_function("vpdpbusd-vnni", |b| b.iter(|| study.run_vnni()));
        }
        group.finish();
    }
}

criterion_group!(
    benches,
    bench_pointwise,
    bench_spatial,
    bench_quantize,
    bench_tile_study
);
criterion_main!(benches);
