//! The FP32 GEMM tile of two back ends on the same operands, in CPU time of the calling thread
//! (one kernel thread), interleaved round by round: AVX2 + FMA (the 6x16 ymm tile) against
//! AVX-512 (the 8x16 zmm tile of `avx512vnni`). Shapes: an L1-resident pointwise GEMM, the
//! pointwise layers of `ghost_benches::POINTWISE`, dense 3x3 convs on the indirect GEMM and on
//! Winograd (whose GEMM stage is the same tile). CPU time, not wall clock, because the machine
//! is shared. Prints every round (as GFLOP/s) and the median per shape; first checks that both
//! back ends' outputs are bitwise equal.
//!
//! ```sh
//! cargo bench -p ghost-benches --bench gemm_tile_cpu -- [ROUNDS] [FILTER]
//! ```
//! (skips, with a line, on CPUs without AVX-512 VNNI.)

use ghost_benches::{cpu_ms_per_call, median, values, POINTWISE};
use ghost_kernels::conv::{conv2d_with_isa, ConvAlgorithm, ConvScratch, PackedConv};
use ghost_kernels::pointwise::{pointwise_with_isa, PackedPointwise};
use ghost_kernels::{Activation, Epilogue, Isa, TensorView, TensorViewMut, Threads, Window};

const ISAS: [Isa; 2] = [Isa::Avx2Fma, Isa::Avx512Vnni];

/// Times `run(isa, false)` for both back ends, `rounds` times interleaved, about `flops` per
/// call; `run(isa, true)` must also return the output, which must be bitwise equal on both
/// (the zmm tile runs the AVX2 tile's FMA sequence per output element, and its zmm epilogue,
/// `pointwise/finish_avx512.rs`, gives the AVX2 epilogue's bits).
fn compare(
    name: &str,
    flops: f64,
    rounds: usize,
    mut run: impl FnMut(Isa, bool) -> Option<Vec<f32>>,
) {
    let outs = ISAS.map(|isa| run(isa, true).expect("snapshot"));
    let same = outs[0]
        .iter()
        .zip(&outs[1])
        .all(|(a, b)| a.to_bits() == b.to_bits());
    assert!(same, "{name}: the two back ends' outputs differ");
    let reps = ((4e8 / flops) as usize).clamp(2, 20_000);
    let mut ms = [vec![], vec![]];
    for _ in 0..rounds {
        for (isa, times) in ISAS.iter().zip(&mut ms) {
            times.push(cpu_ms_per_call(reps, || {
                run(*isa, false);
            }));
        }
    }
    let (a, z) = (median(&ms[0]), median(&ms[1]));
    let list = |v: &[f64]| {
        v.iter()
            .map(|t| format!("{:.1}", flops / t / 1e6))
            .collect::<Vec<_>>()
            .join(" ")
    };
    println!(
        "{name}: avx2 {:.1} GFLOP/s [{}] | avx512 {:.1} GFLOP/s [{}] | avx2/avx512 time {:.3}",
        flops / a / 1e6,
        list(&ms[0]),
        flops / z / 1e6,
        list(&ms[1]),
        a / z
    );
}

fn pointwise_case(
    name: &str,
    h: usize,
    w: usize,
    k: usize,
    n: usize,
    act: Activation,
    rounds: usize,
) {
    let threads = Threads::single();
    let x = values(1, h * w * k);
    let wt = values(2, n * k);
    let bias = values(3, n);
    let packed = PackedPointwise::new(&wt, Some(&bias), k, n).unwrap();
    let input = TensorView::dense(&x, 1, h, w, k).unwrap();
    let mut out = vec![0.0f32; h * w * n];
    let epilogue = Epilogue::act(act);
    let flops = 2.0 * (h * w * k * n) as f64;
    compare(name, flops, rounds, |isa, snapshot| {
        let mut o = TensorViewMut::dense(&mut out, 1, h, w, n).unwrap();
        pointwise_with_isa(isa, &input, &packed, &epilogue, &mut o, &threads).unwrap();
        snapshot.then(|| out.clone())
    });
}

fn conv_case(
    name: &str,
    h: usize,
    cin: usize,
    cout: usize,
    stride: usize,
    algo: ConvAlgorithm,
    rounds: usize,
) {
    let threads = Threads::single();
    let win = Window::same(3, stride);
    let (oh, ow) = win.output_size(h, h).unwrap();
    let x = values(1, h * h * cin);
    let w = values(2, cout * cin * 9);
    let b = values(3, cout);
    let input = TensorView::dense(&x, 1, h, h, cin).unwrap();
    let mut out = vec![0.0f32; oh * ow * cout];
    let packed = PackedConv::with_algorithm(&w, Some(&b), cin, cout, &win, algo).unwrap();
    let epilogue = Epilogue::act(Activation::Silu);
    let mut scratch = ConvScratch::new();
    let flops = 2.0 * (oh * ow * cin * cout * 9) as f64;
    compare(name, flops, rounds, |isa, snapshot| {
        let mut o = TensorViewMut::dense(&mut out, 1, oh, ow, cout).unwrap();
        conv2d_with_isa(
            isa,
            &input,
            &packed,
            &win,
            &epilogue,
            &mut o,
            &mut scratch,
            &threads,
        )
        .unwrap();
        snapshot.then(|| out.clone())
    });
}

fn main() {
    if !Isa::Avx512Vnni.is_supported() {
        println!("gemm_tile_cpu: this CPU has no AVX-512 VNNI back end; nothing to compare");
        return;
    }
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let rounds = args
        .iter()
        .find_map(|a| a.parse::<usize>().ok())
        .unwrap_or(5);
    let filter = args
        .iter()
        .find(|a| a.parse::<usize>().is_err())
        .cloned()
        .unwrap_or_default();
    let want = |name: &str| name.contains(filter.as_str());
    // L1-resident: 48 pixels x 128 channels in, one 64-output-channel weight slice (32 KiB).
    for (k, n) in [(64, 64), (128, 64), (256, 32)] {
        let name = format!("l1_48px_{k}x{n}");
        if want(&name) {
            pointwise_case(&name, 6, 8, k, n, Activation::Identity, rounds);
        }
    }
    // yolo11m layer 2 (C3k2 at 160x160): its 1x1 convs stream their input from memory.
    for (name, hw, k, n) in [
        ("m_c3k2_p2_cv1_160_128x128", 160, 128, 128),
        ("m_c3k2_p2_cv2_160_192x256", 160, 192, 256),
    ] {
        if want(name) {
            pointwise_case(name, hw, hw, k, n, Activation::Silu, rounds);
        }
    }
    for s in POINTWISE {
        if want(s.name) {
            pointwise_case(s.name, s.h, s.w, s.k, s.n, s.act, rounds);
        }
    }
    for (name, h, cin, cout, stride, algo) in [
        (
            "conv3x3_stem_gemm_640_3x64_s2",
            640,
            3,
            64,
            2,
            ConvAlgorithm::Gemm,
        ),
        (
            "conv3x3_gemm_40_128x128",
            40,
            128,
            128,
            1,
            ConvAlgorithm::Gemm,
        ),
        (
            "conv3x3_winograd_40_256x256",
            40,
            256,
            256,
            1,
            ConvAlgorithm::Winograd,
        ),
        (
            "conv3x3_winograd_80_64x64",
            80,
            64,
            64,
            1,
            ConvAlgorithm::Winograd,
        ),
        (
            "conv3x3_winograd_160_16x16",
            160,
            16,
            16,
            1,
            ConvAlgorithm::Winograd,
        ),
        (
            "conv3x3_winograd_80_32x32",
            80,
            32,
            32,
            1,
            ConvAlgorithm::Winograd,
        ),
        (
            "conv3x3_winograd_40_64x64",
            40,
            64,
            64,
            1,
            ConvAlgorithm::Winograd,
        ),
        (
            "conv3x3_winograd_s2_320_64x128",
            320,
            64,
            128,
            2,
            ConvAlgorithm::WinogradStride2,
        ),
        (
            "conv3x3_winograd_s2_160_128x256",
            160,
            128,
            256,
            2,
            ConvAlgorithm::WinogradStride2,
        ),
    ] {
        if want(name) {
            conv_case(name, h, cin, cout, stride, algo, rounds);
        }
    }
}
