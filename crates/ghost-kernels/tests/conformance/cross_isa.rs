//! The AVX-512 VNNI back end against the AVX2 one, bit for bit, on every FP32 family whose
//! arithmetic it shares: the GEMM tile (8x16 zmm with its own epilogue against 6x16 ymm: the
//! same FMA sequence per output and SiLU / sigmoid with the same bits, `simd::avx512`), and
//! the small-channel pointwise kernel, the direct stem kernel, depthwise, Winograd (stride 1
//! and 2), the element-wise activation and Detect's decode (the AVX2 code compiled with AVX-512
//! enabled). Every epilogue; shapes with partial panels and odd channel counts.
//! Skipped on CPUs without AVX-512 VNNI.

use ghost_kernels::conv::{conv2d_with_isa, ConvAlgorithm, ConvScratch, PackedConv};
use ghost_kernels::depthwise::{depthwise_with_isa, PackedDepthwise};
use ghost_kernels::detect_decode::{detect_decode_with_isa, DecodeTarget};
use ghost_kernels::elementwise::activate_inplace_with_isa;
use ghost_kernels::pointwise::{pointwise_with_isa, PackedPointwise};
use ghost_kernels::testing::values;
use ghost_kernels::{
    Activation, AddOrder, Epilogue, Isa, TensorView, TensorViewMut, Threads, Window,
};

use crate::check::same_bits;
use crate::epilogues;

const ISAS: [Isa; 2] = [Isa::Avx2Fma, Isa::Avx512Vnni];

/// Runs `f` on both back ends (each on a fresh output of `len` floats) and asserts equal bits.
fn both(what: &str, len: usize, mut f: impl FnMut(Isa, &mut [f32])) {
    let outs = ISAS.map(|isa| {
        let mut out = vec![0.0f32; len];
        f(isa, &mut out);
        out
    });
    assert!(
        same_bits(&outs[0], &outs[1]),
        "{what}: AVX2 and AVX-512 outputs differ"
    );
}

/// The case's epilogue: `act`, with `res` added before or after it when `order` says so.
fn epilogue<'a>(act: Activation, order: Option<AddOrder>, res: TensorView<'a>) -> Epilogue<'a> {
    match order {
        None => Epilogue::act(act),
        Some(o) => Epilogue::with_residual(act, res, o),
    }
}

#[test]
fn avx512_matches_avx2_bitwise() {
    if !Isa::Avx512Vnni.is_supported() {
        return;
    }
    let threads = Threads::single();
    // Scaled inputs so that SiLU sees large negative and positive arguments too.
    let scaled =
        |seed: u64, n: usize| -> Vec<f32> { values(seed, n).iter().map(|v| v * 40.0).collect() };
    for (act, order) in epilogues() {
        // Pointwise: partial panels (cout 20, 37), row counts around the 6- and 8-row tiles,
        // and the small-channel kernel (cout <= 16).
        for (h, w, cin, cout) in [
            (3, 5, 7, 20),
            (2, 9, 16, 37),
            (4, 4, 64, 64),
            (3, 5, 9, 12),
            (2, 7, 5, 5),
        ] {
            let x = scaled(1, h * w * cin);
            let r = scaled(2, h * w * cout);
            let input = TensorView::dense(&x, 1, h, w, cin).unwrap();
            let res = TensorView::dense(&r, 1, h, w, cout).unwrap();
            let ep = epilogue(act, order, res);
            let packed =
                PackedPointwise::new(&values(3, cin * cout), Some(&values(4, cout)), cin, cout)
                    .unwrap();
            let what = format!("pointwise {h}x{w} {cin}->{cout} {act:?} {order:?}");
            both(&what, h * w * cout, |isa, out| {
                let mut o = TensorViewMut::dense(out, 1, h, w, cout).unwrap();
                pointwise_with_isa(isa, &input, &packed, &ep, &mut o, &threads).unwrap();
            });
        }
        // Depthwise 3x3 (8+ channels and the small-channel path) and Winograd s1 / s2.
        for (h, c) in [(9, 19), (6, 5)] {
            let x = scaled(5, h * h * c);
            let r = scaled(6, h * h * c);
            let input = TensorView::dense(&x, 1, h, h, c).unwrap();
            let res = TensorView::dense(&r, 1, h, h, c).unwrap();
            let ep = epilogue(act, order, res);
            let win = Window::same(3, 1);
            let packed =
                PackedDepthwise::new(&values(7, c * 9), Some(&values(8, c)), c, 3, 3).unwrap();
            let what = format!("depthwise {h}x{h}x{c} {act:?} {order:?}");
            both(&what, h * h * c, |isa, out| {
                let mut o = TensorViewMut::dense(out, 1, h, h, c).unwrap();
                depthwise_with_isa(isa, &input, &packed, &win, &ep, &mut o, &threads).unwrap();
            });
        }
        for (stride, algo) in [
            (1, ConvAlgorithm::Winograd),
            (2, ConvAlgorithm::WinogradStride2),
        ] {
            let (h, cin, cout) = (13, 11, 21);
            let win = Window::same(3, stride);
            let (oh, ow) = win.output_size(h, h).unwrap();
            let x = scaled(9, h * h * cin);
            let r = scaled(10, oh * ow * cout);
            let input = TensorView::dense(&x, 1, h, h, cin).unwrap();
            let res = TensorView::dense(&r, 1, oh, ow, cout).unwrap();
            let ep = epilogue(act, order, res);
            let w = values(11, cout * cin * 9);
            let packed =
                PackedConv::with_algorithm(&w, Some(&values(12, cout)), cin, cout, &win, algo)
                    .unwrap();
            let what = format!("{algo:?} {h}x{h} {cin}->{cout} {act:?} {order:?}");
            both(&what, oh * ow * cout, |isa, out| {
                let mut o = TensorViewMut::dense(out, 1, oh, ow, cout).unwrap();
                let mut scratch = ConvScratch::new();
                conv2d_with_isa(
                    isa,
                    &input,
                    &packed,
                    &win,
                    &ep,
                    &mut o,
                    &mut scratch,
                    &threads,
                )
                .unwrap();
            });
        }
    }
    // Detect's decode (DFL + dist2bbox + sigmoid into output0 rows): 13 x 11 pixels (a short
    // last block), 16 bins, 83 classes (a partial 8-class chunk).
    let (h, w, bins, nc) = (13, 11, 16, 83);
    let x = scaled(14, h * w * (4 * bins + nc));
    let input = TensorView::dense(&x, 1, h, w, 4 * bins + nc).unwrap();
    both("detect_decode", (4 + nc) * h * w, |isa, out| {
        let mut target = DecodeTarget {
            data: out,
            anchors: h * w,
            offset: 0,
        };
        detect_decode_with_isa(isa, &input, bins, nc, 8.0, &mut target, &threads).unwrap();
    });
    for act in Activation::ALL {
        let x = scaled(13, 3 * 7 * 29);
        both(&format!("activate {act:?}"), x.len(), |isa, out| {
            out.copy_from_slice(&x);
            let mut o = TensorViewMut::dense(out, 1, 3, 7, 29).unwrap();
            activate_inplace_with_isa(isa, &mut o, act, &threads).unwrap();
        });
    }
}

/// The INT8 flat-row paths (the depthwise row path and the narrow-output pointwise GEMM: the
/// VNNI back end's own row kernels, narrow pointwise kernel and AVX-512 flat epilogue) against
/// the AVX2 back end bit for bit: every activation and residual order, f32 and requantized u8
/// output, 2-24 channels, stride 1 and 2, batch 2, tails of every length.
#[test]
fn int8_flat_paths_match_avx2_bitwise() {
    use ghost_kernels::quant::{
        depthwise_i8_with_isa, pointwise_i8_with_isa, I8Output, PackedDepthwiseI8,
        PackedPointwiseI8, QuantParams, U8View, U8ViewMut,
    };
    if !Isa::Avx512Vnni.is_supported() {
        return;
    }
    let threads = Threads::single();
    let codes = |seed: u64, n: usize| -> Vec<u8> {
        values(seed, n)
            .into_iter()
            .map(|v| ((v + 1.0) * 127.99) as u8)
            .collect()
    };
    // Inputs in about [-6.4, 6.35]: SiLU and sigmoid see both tails.
    let pin = QuantParams::new(0.05, 128).unwrap();
    let pout = QuantParams::new(0.03, 90).unwrap();
    for (act, order) in epilogues() {
        // (kind, channels in, channels out, stride)
        for (dw, cin, cout, stride) in [
            (true, 2, 2, 1),
            (true, 6, 6, 1),
            (true, 12, 12, 2),
            (true, 24, 24, 1),
            (false, 4, 2, 1),
            (false, 12, 4, 1),
            (false, 5, 15, 1),
        ] {
            let (n, h, w) = (2, 7, 23);
            let win = Window::same(3, stride);
            let (oh, ow) = if dw {
                win.output_size(h, w).unwrap()
            } else {
                (h, w)
            };
            let x = codes(31 + cin as u64, n * h * w * cin);
            let input = U8View::dense(&x, n, h, w, cin).unwrap();
            let len = n * oh * ow * cout;
            let res: Vec<f32> = values(77, len).iter().map(|v| v * 3.0).collect();
            let res_view = TensorView::dense(&res, n, oh, ow, cout).unwrap();
            let e = epilogue(act, order, res_view);
            let wts = values(5, cout * if dw { 9 } else { cin });
            let bias = values(6, cout);
            let run = |isa: Isa, out: I8Output<'_, '_>| {
                if dw {
                    let p = PackedDepthwiseI8::new(&wts, Some(&bias), cin, 3, 3).unwrap();
                    depthwise_i8_with_isa(isa, &input, pin, &p, &win, &e, out, &threads)
                } else {
                    let p = PackedPointwiseI8::new(&wts, Some(&bias), cin, cout).unwrap();
                    pointwise_i8_with_isa(isa, &input, pin, &p, &e, out, &threads)
                }
                .unwrap()
            };
            let what = format!("{act:?} {order:?} dw {dw} {cin} -> {cout} stride {stride}");
            both(&format!("{what} f32"), len, |isa, out| {
                let mut view = TensorViewMut::dense(out, n, oh, ow, cout).unwrap();
                run(isa, I8Output::F32(&mut view));
            });
            let q = ISAS.map(|isa| {
                let mut out = vec![0u8; len];
                let mut view = U8ViewMut::dense(&mut out, n, oh, ow, cout).unwrap();
                run(isa, I8Output::U8(&mut view, pout));
                out
            });
            assert_eq!(q[0], q[1], "{what} u8: AVX2 and AVX-512 codes differ");
        }
    }
}
