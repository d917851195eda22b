//! Dense 3x3 convolutions on real layer shapes, single thread: ghost-kernels (active ISA; the
//! GEMM, and for stride-1 layers also Winograd F(4x4, 3x3), for stride-2 ones the polyphase
//! Winograd F(4x4, 2x2)) against `matrixmultiply::sgemm` on the
//! equivalent im2col GEMM (M = output pixels, K = 9 cin, N = cout; the im2col copy itself is not
//! timed, which flatters the baseline), and the f64 naive reference on the smallest shape.
//! Throughput is the direct convolution's `2 * MACs` elements for every variant, so Winograd's
//! "GFLOP/s" is effective (it performs ~4x fewer multiplies).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ghost_benches::{quick, values, CONV};
use ghost_kernels::conv::{conv2d, naive, winograd, ConvAlgorithm, ConvScratch, PackedConv};
use ghost_kernels::{Epilogue, TensorView, TensorViewMut, Threads, Window};

fn bench(c: &mut Criterion) {
    let (samples, warm_up, measure) = quick();
    let threads = Threads::single();
    for s in CONV {
        let mut group = c.benchmark_group(format!("conv/{}", s.name));
        group
            .sample_size(samples)
            .warm_up_time(warm_up)
            .measurement_time(measure)
            .throughput(Throughput::Elements(2 * s.macs()));
        let (oh, ow) = s.out_hw();
        let window = Window::same(s.k, s.stride);
        let x = values(1, s.h * s.w * s.cin);
        let kk = s.k * s.k * s.cin;
        let w = values(2, s.cout * kk);
        let bias = values(3, s.cout);
        let packed = PackedConv::new(&w, Some(&bias), s.cin, s.cout, s.k, s.k).unwrap();
        let input = TensorView::dense(&x, 1, s.h, s.w, s.cin).unwrap();
        let mut out = vec![0.0f32; oh * ow * s.cout];
        let epilogue = Epilogue::act(s.act);
        let act = format!("{:?}", s.act);
        let mut scratch = ConvScratch::new();

        // The GEMM for every shape; Winograd too where it applies (stride-1 3x3).
        let mut variants = vec![("ghost", packed)];
        if winograd::supports(&window) {
            let algorithm = ConvAlgorithm::Winograd;
            let wino =
                PackedConv::with_algorithm(&w, Some(&bias), s.cin, s.cout, &window, algorithm)
                    .unwrap();
            variants.push(("ghost-winograd", wino));
        }
        if winograd::supports_stride2(&window) {
            let algorithm = ConvAlgorithm::WinogradStride2;
            let wino =
                PackedConv::with_algorithm(&w, Some(&bias), s.cin, s.cout, &window, algorithm)
                    .unwrap();
            variants.push(("ghost-winograd-s2", wino));
        }
        for (id, weights) in &variants {
            group.bench_function(BenchmarkId::new(*id, &act), |b| {
                let mut o = TensorViewMut::dense(&mut out, 1, oh, ow, s.cout).unwrap();
                b.iter(|| {
                    conv2d(
                        &input,
                        weights,
                        &window,
                        &epilogue,
                        &mut o,
                        &mut scratch,
                        &threads,
                    )
                    .unwrap()
                })
            });
        }
        let m = oh * ow;
        let cols = values(4, m * kk);
        group.bench_function(
            BenchmarkId::new("matrixmultiply-gemm-only", "no-epilogue"),
            |b| {
                b.iter(|| {
                    // SAFETY: the pointers cover m x kk, kk x cout (transposed view) and m x cout.
                    unsafe {
                        matrixmultiply::sgemm(
                            m,
                            kk,
                            s.cout,
                            1.0,
                            cols.as_ptr(),
                            kk as isize,
                            1,
                            w.as_ptr(),
                            1,
                            kk as isize,
                            0.0,
                            out.as_mut_ptr(),
                            s.cout as isize,
                            1,
                        )
                    }
                })
            },
        );
        if s.name.starts_with("n_down") {
            group.bench_function(BenchmarkId::new("naive-f64", &act), |b| {
                let mut o = TensorViewMut::dense(&mut out, 1, oh, ow, s.cout).unwrap();
                b.iter(|| {
                    naive::conv2d(
                        &input,
                        &w,
                        Some(&bias),
                        s.cin,
                        s.cout,
                        &window,
                        &epilogue,
                        &mut o,
                    )
                    .unwrap()
                })
            });
        }
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
