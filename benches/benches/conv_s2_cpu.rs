//! Stride-2 3x3 convolutions, the GEMM against the polyphase Winograd F(4x4, 2x2), on every x86
//! back end this CPU runs (AVX2 and AVX-512 VNNI have different GEMM tiles), in CPU time of the
//! calling thread (one kernel thread), interleaved round by round: the measurement behind
//! the backends' stride-2 rules (`Backend::winograd_s2_wins`, docs/kernels.md, "Stride-2
//! Winograd"). CPU time, not wall clock, because the machine is shared. Prints every round and
//! the median.
//!
//! ```sh
//! cargo bench -p ghost-benches --bench conv_s2_cpu -- [ROUNDS] [NAME:H:CIN:COUT ...]
//! ```
//! (default: 5 rounds over the stride-2 layers of yolo11n / s / m at 640x640; the GhostNet
//! models' stride-2 dense convs are in the heads and have the same shapes as yolo11's: n-ghost
//! 13 / 16 = n.17 / n.20, s-ghost = s.17 / s.20, m-ghost = m.17 / m.7).

use ghost_benches::values;
use ghost_benches::{cpu_ms_per_call, median, rounds_and_shapes};
use ghost_kernels::conv::{conv2d_with_isa, ConvAlgorithm, ConvScratch, PackedConv};
use ghost_kernels::{
    Activation, Backend, Epilogue, Isa, TensorView, TensorViewMut, Threads, Window,
};

/// The stride-2 3x3 convs of yolo11n, s and m at 640x640 (not the RGB stems, whose 3 inputs
/// are far from Winograd's range): name, input side, cin, cout.
const SHAPES: &[&str] = &[
    "n.1:320:16:32",
    "n.3:160:64:64",
    "n.5:80:128:128",
    "n.7:40:128:256",
    "n.17:80:64:64",
    "n.20:40:128:128",
    "s.1:320:32:64",
    "s.3:160:128:128",
    "s.5:80:256:256",
    "s.7:40:256:512",
    "s.17:80:128:128",
    "s.20:40:256:256",
    "m.1:320:64:128",
    "m.3:160:256:256",
    "m.5:80:512:512",
    "m.7:40:512:512",
    "m.17:80:256:256",
];

fn main() {
    // `cargo bench` passes `--bench`; anything numeric is the round count, `a:b:c:d` a shape.
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (rounds, shapes) = rounds_and_shapes(&args, 5, |a| a.matches(':').count() == 3, SHAPES);
    let threads = Threads::single();
    // The x86 back ends this CPU runs (their FP32 kernels differ only in the GEMM tile).
    let isas: Vec<Isa> = Backend::supported()
        .map(|b| b.isa())
        .filter(|i| matches!(i, Isa::Avx512Vnni | Isa::Avx2Fma))
        .collect();
    let win = Window::same(3, 2);
    let epilogue = Epilogue::act(Activation::Silu);
    for spec in shapes {
        let p: Vec<&str> = spec.split(':').collect();
        let num = |i: usize| p[i].parse::<usize>().expect("NAME:H:CIN:COUT");
        let (name, h, cin, cout) = (p[0], num(1), num(2), num(3));
        let (oh, ow) = win.output_size(h, h).unwrap();
        let x = values(1, h * h * cin);
        let w = values(2, cout * cin * 9);
        let b = values(3, cout);
        let input = TensorView::dense(&x, 1, h, h, cin).unwrap();
        let mut out = vec![0.0f32; oh * ow * cout];
        let pack = |a| PackedConv::with_algorithm(&w, Some(&b), cin, cout, &win, a).unwrap();
        let algorithms = [ConvAlgorithm::Gemm, ConvAlgorithm::WinogradStride2];
        let variants: Vec<(Isa, PackedConv)> = isas
            .iter()
            .flat_map(|&i| algorithms.map(|a| (i, pack(a))))
            .collect();
        let flops = 2.0 * (oh * ow * cin * cout * 9) as f64;
        // About 1 GFLOP per measurement.
        let reps = ((1e9 / flops) as usize).clamp(2, 200);
        let mut ms = vec![vec![]; variants.len()];
        let mut scratch = ConvScratch::new();
        for _ in 0..rounds {
            for ((isa, packed), times) in variants.iter().zip(&mut ms) {
                let mut o = TensorViewMut::dense(&mut out, 1, oh, ow, cout).unwrap();
                let mut run = || {
                    conv2d_with_isa(
                        *isa,
                        &input,
                        packed,
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
        let list = |v: &[f64]| {
            v.iter()
                .map(|t| format!("{t:.3}"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        for (i, isa) in isas.iter().enumerate() {
            let (gt, st) = (&ms[2 * i], &ms[2 * i + 1]);
            let (g, s) = (median(gt), median(st));
            println!(
                "{name} {h}x{h} {cin}->{cout} {}: gemm {g:.3} ms ({:.0} GFLOP/s) [{}] | winograd-s2 {s:.3} ms ({:.0} eff.) [{}] | speed-up {:.2}x",
                isa.name(),
                flops / g / 1e6,
                list(gt),
                flops / s / 1e6,
                list(st),
                g / s
            );
        }
    }
}
