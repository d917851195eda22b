//! The RGB stems (3 -> cout, 3x3, stride 2, padding 1, SiLU) on every x86 back end this CPU
//! runs, in CPU time of the calling thread (one kernel thread), interleaved round by round:
//! the direct kernel (`conv_direct`, packed input) of each back end, and for reference the GEMM
//! on the same input with a one-float gap after each pixel (which the direct kernel does not
//! take: the GEMM's im2col mode). Prints every round and the median (docs/kernels.md, "RGB
//! stem").
//!
//! ```sh
//! cargo bench -p ghost-benches --bench stem_cpu -- [ROUNDS] [H:COUT ...]
//! ```
//! (default: 5 rounds over 640x640 with 4, 16, 32 and 64 outputs: the GhostNet models' and
//! yolo11n / s / m's stems).

use ghost_benches::values;
use ghost_benches::{cpu_ms_per_call, median, rounds_and_shapes};
use ghost_kernels::conv::{conv2d_with_isa, ConvScratch, PackedConv};
use ghost_kernels::{
    Activation, Backend, Epilogue, Isa, NhwcLayout, StridedView, TensorView, TensorViewMut,
    Threads, Window,
};

const SHAPES: &[&str] = &["640:4", "640:16", "640:32", "640:64"];

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (rounds, shapes) = rounds_and_shapes(&args, 5, |a| a.matches(':').count() == 1, SHAPES);
    let threads = Threads::single();
    let isas: Vec<Isa> = Backend::supported()
        .map(|b| b.isa())
        .filter(|i| matches!(i, Isa::Avx512Vnni | Isa::Avx2Fma))
        .collect();
    let win = Window::same(3, 2);
    let epilogue = Epilogue::act(Activation::Silu);
    let cin = 3;
    for spec in shapes {
        let p: Vec<&str> = spec.split(':').collect();
        let num = |i: usize| p[i].parse::<usize>().expect("H:COUT");
        let (h, cout) = (num(0), num(1));
        let (oh, ow) = win.output_size(h, h).unwrap();
        let x = values(1, h * h * cin);
        // The same pixels with a gap float after each (the GEMM's im2col mode).
        let mut gapped = vec![0.0f32; h * h * (cin + 1)];
        for (dst, src) in gapped.chunks_exact_mut(cin + 1).zip(x.chunks_exact(cin)) {
            dst[..cin].copy_from_slice(src);
        }
        let w = values(2, cout * cin * 9);
        let b = values(3, cout);
        let packed_in = TensorView::dense(&x, 1, h, h, cin).unwrap();
        let layout = NhwcLayout {
            n: 1,
            h,
            w: h,
            c: cin,
            pixel_stride: cin + 1,
            channel_offset: 0,
        };
        let gapped_in = StridedView::new(&gapped, layout).unwrap();
        let mut out = vec![0.0f32; oh * ow * cout];
        let packed = PackedConv::for_window(&w, Some(&b), cin, cout, &win).unwrap();
        // (label, isa, gapped input?)
        let mut variants: Vec<(String, Isa, bool)> = isas
            .iter()
            .map(|&i| (format!("direct {}", i.name()), i, false))
            .collect();
        variants.push((format!("gemm-im2col {}", isas[0].name()), isas[0], true));
        let flops = 2.0 * (oh * ow * cin * cout * 9) as f64;
        let reps = ((2e8 / flops) as usize).clamp(2, 200);
        let mut ms = vec![vec![]; variants.len()];
        let mut scratch = ConvScratch::new();
        for _ in 0..rounds {
            for ((_, isa, gap), times) in variants.iter().zip(&mut ms) {
                let input = if *gap { &gapped_in } else { &packed_in };
                let mut o = TensorViewMut::dense(&mut out, 1, oh, ow, cout).unwrap();
                let mut run = || {
                    conv2d_with_isa(
                        *isa,
                        input,
                        &packed,
                        &win,
                        &epilogue,
                        &mut o,
                        &mut scratch,
                        &threads,
                    )
                };
                run().unwrap();
                times.push(cpu_ms_per_call(reps, || run().unwrap()));
            }
        }
        for ((label, _, _), t) in variants.iter().zip(&ms) {
            let m = median(t);
            let list: Vec<String> = t.iter().map(|v| format!("{v:.3}")).collect();
            println!(
                "{h}x{h} 3->{cout} {label}: {m:.3} ms ({:.0} GFLOP/s) [{}]",
                flops / m / 1e6,
                list.join(" ")
            );
        }
    }
}
