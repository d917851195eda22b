//! Pointwise (1x1) convolutions on real layer shapes, single thread: ghost-kernels (active ISA)
//! against `matrixmultiply::sgemm` on the same M x K x N (which packs both operands on every call
//! and has no epilogue), and the f64 naive reference on the smallest shapes. Throughput is
//! `2 * MACs` elements, so criterion's rate reads as FLOP/s.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ghost_benches::{quick, values, POINTWISE};
use ghost_kernels::pointwise::{naive, pointwise, pointwise_with_isa, PackedPointwise};
use ghost_kernels::{Epilogue, Isa, TensorView, TensorViewMut, Threads};

fn bench(c: &mut Criterion) {
    let (samples, warm_up, measure) = quick();
    let threads = Threads::single();
    for s in POINTWISE {
        let mut group = c.benchmark_group(format!("pointwise/{}", s.name));
        group
            .sample_size(samples)
            .warm_up_time(warm_up)
            .measurement_time(measure)
            .throughput(Throughput::Elements(2 * s.macs()));
        let m = s.m();
        let x = values(1, m * s.k);
        let w = values(2, s.n * s.k);
        let bias = values(3, s.n);
        let packed = PackedPointwise::new(&w, Some(&bias), s.k, s.n).unwrap();
        let input = TensorView::dense(&x, 1, s.h, s.w, s.k).unwrap();
        let mut out = vec![0.0f32; m * s.n];
        let epilogue = Epilogue::act(s.act);
        let act = format!("{:?}", s.act);

        group.bench_function(BenchmarkId::new("ghost", &act), |b| {
            let mut o = TensorViewMut::dense(&mut out, 1, s.h, s.w, s.n).unwrap();
            b.iter(|| pointwise(&input, &packed, &epilogue, &mut o, &threads).unwrap())
        });
        if s.name.starts_with("n_detect") || s.name.starts_with("m_c3k2_p4") {
            group.bench_function(BenchmarkId::new("ghost-portable", &act), |b| {
                let mut o = TensorViewMut::dense(&mut out, 1, s.h, s.w, s.n).unwrap();
                b.iter(|| {
                    pointwise_with_isa(Isa::Portable, &input, &packed, &epilogue, &mut o, &threads)
                        .unwrap()
                })
            });
        }
        // B = W^T: weights are [n][k] row-major, i.e. a k x n matrix with strides (1, k).
        group.bench_function(BenchmarkId::new("matrixmultiply", "no-epilogue"), |b| {
            b.iter(|| {
                // SAFETY: the pointers cover m x k, k x n (transposed view) and m x n floats.
                unsafe {
                    matrixmultiply::sgemm(
                        m,
                        s.k,
                        s.n,
                        1.0,
                        x.as_ptr(),
                        s.k as isize,
                        1,
                        w.as_ptr(),
                        1,
                        s.k as isize,
                        0.0,
                        out.as_mut_ptr(),
                        s.n as isize,
                        1,
                    )
                }
            })
        });
        if s.name.starts_with("n_detect") || s.name.starts_with("m_ghost_s7") {
            group.bench_function(BenchmarkId::new("naive-f64", &act), |b| {
                let mut o = TensorViewMut::dense(&mut out, 1, s.h, s.w, s.n).unwrap();
                b.iter(|| naive::pointwise(&input, &w, Some(&bias), &epilogue, &mut o).unwrap())
            });
        }
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
