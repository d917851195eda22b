//! The narrow, high-resolution layers of yolo11n at 640x640 (stem, early stride-2 convs, the first
//! C3k2's pointwise and 3x3 convs), each timed alone in CPU time of the calling thread (one kernel
//! thread), with the algorithm `ConvAlgorithm::choose` picks and SiLU: the measurement behind the
//! narrow-layer changes in docs/kernels.md ("Narrow layers"). CPU time, not wall clock, because
//! the machine is shared. Prints every round and the median; A/B two builds by running their
//! binaries alternately.
//!
//! ```sh
//! cargo bench -p ghost-benches --bench narrow_cpu -- [ROUNDS] [identity | relu] [conv:NAME:H:CIN:COUT:K:S[:ALGORITHM] | pw:NAME:H:CIN:COUT | dw:NAME:H:C:K:S | pw8:... | dw8:... | act:NAME:H:C ...]
//! ```
//!
//! `pw8` / `dw8` are the INT8 kernels on the same shapes, u8 codes in and requantized u8 codes
//! out (`pointwise_i8_u8`, `depthwise_i8_u8`): the call an INT8 layer makes when its producer
//! and reader pass u8, to set against the FP32 kernel's f32 -> f32 call. Rounds are
//! interleaved: each round times every shape once, so FP32 and INT8 of a shape see the same
//! machine load.

use ghost_benches::values;
use ghost_benches::{cpu_ms_per_call, median, rounds_and_shapes};
use ghost_kernels::conv::{conv2d, ConvAlgorithm, ConvScratch, PackedConv};
use ghost_kernels::depthwise::{depthwise, PackedDepthwise};
use ghost_kernels::elementwise::activate_inplace;
use ghost_kernels::pointwise::{pointwise, PackedPointwise};
use ghost_kernels::quant::{
    depthwise_i8_u8, pointwise_i8_u8, PackedDepthwiseI8, PackedPointwiseI8, QuantParams, U8View,
    U8ViewMut,
};
use ghost_kernels::{Activation, Epilogue, TensorView, TensorViewMut, Threads, Window};

/// yolo11n's narrow layers at 640x640: `conv:name:input side:cin:cout:kernel:stride` or
/// `pw:name:side:cin:cout` (also accepted on the command line: `dw:name:side:channels:kernel:
/// stride`, a depthwise conv, and `act:name:side:channels`, the standalone activation in place,
/// whose GFLOP/s count elements).
const SHAPES: &[&str] = &[
    "conv:n.0:640:3:16:3:2",
    "conv:n.1:320:16:32:3:2",
    "pw:n.2.cv1:160:32:32",
    "conv:n.2.m.0.cv1:160:16:8:3:1",
    "conv:n.2.m.0.cv2:160:8:16:3:1",
    "pw:n.2.cv2:160:48:64",
    "conv:n.3:160:64:64:3:2",
    "pw:n.4.cv1:80:64:64",
];

/// One layer, ready to run: its FLOPs and a closure computing it once.
type Layer = (f64, Box<dyn FnMut()>);

fn layer(spec: &str, act: Activation) -> Layer {
    let p: Vec<&str> = spec.split(':').collect();
    let num = |i: usize| p[i].parse::<usize>().expect("a number in the shape spec");
    let epilogue = Epilogue::act(act);
    let threads = Threads::single();
    match p[0] {
        "conv" => {
            let (h, cin, cout, k, s) = (num(2), num(3), num(4), num(5), num(6));
            let win = Window::same(k, s);
            let (oh, ow) = win.output_size(h, h).unwrap();
            let x = values(1, h * h * cin);
            let w = values(2, cout * cin * k * k);
            let b = values(3, cout);
            // An optional 8th field forces the algorithm (`gemm`, `winograd`, `winograd-s2`).
            let packed = match p.get(7) {
                None => PackedConv::for_window(&w, Some(&b), cin, cout, &win),
                Some(&name) => {
                    let algorithm = match name {
                        "gemm" => ConvAlgorithm::Gemm,
                        "winograd" => ConvAlgorithm::Winograd,
                        "winograd-s2" => ConvAlgorithm::WinogradStride2,
                        other => panic!("unknown algorithm {other:?}"),
                    };
                    PackedConv::with_algorithm(&w, Some(&b), cin, cout, &win, algorithm)
                }
            }
            .unwrap();
            let mut out = vec![0.0f32; oh * ow * cout];
            let mut scratch = ConvScratch::new();
            let flops = 2.0 * (oh * ow * cin * cout * k * k) as f64;
            let run = move || {
                let input = TensorView::dense(&x, 1, h, h, cin).unwrap();
                let mut o = TensorViewMut::dense(&mut out, 1, oh, ow, cout).unwrap();
                conv2d(
                    &input,
                    &packed,
                    &win,
                    &epilogue,
                    &mut o,
                    &mut scratch,
                    &threads,
                )
                .unwrap();
            };
            (flops, Box::new(run))
        }
        "pw" => {
            let (h, cin, cout) = (num(2), num(3), num(4));
            let x = values(1, h * h * cin);
            let w = values(2, cout * cin);
            let b = values(3, cout);
            let packed = PackedPointwise::new(&w, Some(&b), cin, cout).unwrap();
            let mut out = vec![0.0f32; h * h * cout];
            let flops = 2.0 * (h * h * cin * cout) as f64;
            let run = move || {
                let input = TensorView::dense(&x, 1, h, h, cin).unwrap();
                let mut o = TensorViewMut::dense(&mut out, 1, h, h, cout).unwrap();
                pointwise(&input, &packed, &epilogue, &mut o, &threads).unwrap();
            };
            (flops, Box::new(run))
        }
        "dw" => {
            let (h, c, k, st) = (num(2), num(3), num(4), num(5));
            let win = Window::same(k, st);
            let (oh, ow) = win.output_size(h, h).unwrap();
            let x = values(1, h * h * c);
            let w = values(2, c * k * k);
            let b = values(3, c);
            let packed = PackedDepthwise::new(&w, Some(&b), c, k, k).unwrap();
            let mut out = vec![0.0f32; oh * ow * c];
            let flops = 2.0 * (oh * ow * c * k * k) as f64;
            let run = move || {
                let input = TensorView::dense(&x, 1, h, h, c).unwrap();
                let mut o = TensorViewMut::dense(&mut out, 1, oh, ow, c).unwrap();
                depthwise(&input, &packed, &win, &epilogue, &mut o, &threads).unwrap();
            };
            (flops, Box::new(run))
        }
        "pw8" => {
            let (h, cin, cout) = (num(2), num(3), num(4));
            let x = codes(1, h * h * cin);
            let w = values(2, cout * cin);
            let b = values(3, cout);
            let packed = PackedPointwiseI8::new(&w, Some(&b), cin, cout).unwrap();
            let (pin, pout) = int8_params();
            let mut out = vec![0u8; h * h * cout];
            let flops = 2.0 * (h * h * cin * cout) as f64;
            let run = move || {
                let input = U8View::dense(&x, 1, h, h, cin).unwrap();
                let mut o = U8ViewMut::dense(&mut out, 1, h, h, cout).unwrap();
                pointwise_i8_u8(&input, pin, &packed, &epilogue, &mut o, pout, &threads).unwrap();
            };
            (flops, Box::new(run))
        }
        "dw8" => {
            let (h, c, k, st) = (num(2), num(3), num(4), num(5));
            let win = Window::same(k, st);
            let (oh, ow) = win.output_size(h, h).unwrap();
            let x = codes(1, h * h * c);
            let w = values(2, c * k * k);
            let b = values(3, c);
            let packed = PackedDepthwiseI8::new(&w, Some(&b), c, k, k).unwrap();
            let (pin, pout) = int8_params();
            let mut out = vec![0u8; oh * ow * c];
            let flops = 2.0 * (oh * ow * c * k * k) as f64;
            let run = move || {
                let input = U8View::dense(&x, 1, h, h, c).unwrap();
                let mut o = U8ViewMut::dense(&mut out, 1, oh, ow, c).unwrap();
                depthwise_i8_u8(
                    &input, pin, &packed, &win, &epilogue, &mut o, pout, &threads,
                )
                .unwrap();
            };
            (flops, Box::new(run))
        }
        "act" => {
            // The standalone activation in place over h x h x c floats; "FLOP" = elements.
            let (h, c) = (num(2), num(3));
            let mut x = values(1, h * h * c);
            let flops = (h * h * c) as f64;
            let run = move || {
                let mut o = TensorViewMut::dense(&mut x, 1, h, h, c).unwrap();
                activate_inplace(&mut o, act, &threads).unwrap();
            };
            (flops, Box::new(run))
        }
        other => panic!("unknown layer kind {other:?} (conv, pw, dw, pw8, dw8 or act)"),
    }
}

/// Deterministic u8 codes spread over 0..=255.
fn codes(seed: u64, len: usize) -> Vec<u8> {
    values(seed, len)
        .into_iter()
        .map(|v| ((v + 1.0) * 127.9) as u8)
        .collect()
}

/// Input and output quantizations of the INT8 shapes: ranges of a ReLU / SiLU map.
fn int8_params() -> (QuantParams, QuantParams) {
    (
        QuantParams::from_range(-0.3, 4.0).unwrap(),
        QuantParams::from_range(-0.3, 6.0).unwrap(),
    )
}

#[allow(clippy::type_complexity)]
fn main() {
    // `cargo bench` passes `--bench`; anything numeric is the round count, `kind:...` a shape.
    let args: Vec<String> = std::env::args().skip(1).collect();
    let is_shape = |a: &str| {
        ["conv:", "pw:", "dw:", "pw8:", "dw8:", "act:"]
            .iter()
            .any(|k| a.starts_with(k))
    };
    let (rounds, shapes) = rounds_and_shapes(&args, 5, is_shape, SHAPES);
    // `identity` drops the SiLU epilogue (to see its share), `relu` takes GhostNet's.
    let act = if args.iter().any(|a| a == "identity") {
        Activation::Identity
    } else if args.iter().any(|a| a == "relu") {
        Activation::Relu
    } else {
        Activation::Silu
    };
    // (spec, FLOPs, calls per measurement, the call)
    let mut layers: Vec<(&str, f64, usize, Box<dyn FnMut()>)> = shapes
        .iter()
        .map(|spec| {
            let (flops, mut run) = layer(spec, act);
            // About 0.5 GFLOP per measurement.
            let reps = ((5e8 / flops) as usize).clamp(2, 200);
            run();
            (*spec, flops, reps, run)
        })
        .collect();
    let mut ms = vec![Vec::new(); layers.len()];
    for _ in 0..rounds {
        for ((_, _, reps, run), times) in layers.iter_mut().zip(&mut ms) {
            times.push(cpu_ms_per_call(*reps, run));
        }
    }
    for ((spec, flops, _, _), times) in layers.iter().zip(&ms) {
        let m = median(times);
        let list: Vec<String> = times.iter().map(|t| format!("{t:.3}")).collect();
        println!(
            "{spec}: {m:.3} ms ({:.1} GFLOP/s) [{}]",
            flops / m / 1e6,
            list.join(" ")
        );
    }
}
