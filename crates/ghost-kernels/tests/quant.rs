//! INT8 property tests: random shapes, windows, zero points and codes through every back end
//! under test (`ghost_kernels::testing::test_isas`), against the i64 references of
//! `ghost_kernels::quant::naive`. Unit scales, no bias and the identity make the f32 output the
//! corrected i32 sum itself (exact below 2^24, which the shapes here stay under), so the integer
//! results are compared bit for bit; u8 output is compared with the reference's requantization
//! of the same exact sum (both round the same exactly representable value: bit for bit too).

mod common;

use ghost_kernels::quant::{
    conv2d_i8_with_isa, depthwise_i8_with_isa, naive, pointwise_i8_with_isa, I8Output,
    PackedConvI8, PackedDepthwiseI8, PackedPointwiseI8, QuantParams, U8View, U8ViewMut,
    DEPTHWISE_WEIGHT_QMAX, GEMM_WEIGHT_QMAX,
};
use ghost_kernels::testing::test_isas;
use ghost_kernels::{Epilogue, Padding, TensorViewMut, Threads, Window};
use proptest::prelude::*;

#[derive(Debug, Clone)]
struct Case {
    n: usize,
    h: usize,
    w: usize,
    cin: usize,
    cout: usize,
    window: Window,
    zp: u8,
    seed: u64,
    out_zp: u8,
}

fn case() -> impl Strategy<Value = Case> {
    (
        (1usize..3, 1usize..9, 1usize..9, 1usize..40, 1usize..40),
        (1usize..6, 1usize..6, 1usize..3, 1usize..3),
        (0usize..3, 0usize..3),
        (any::<u8>(), any::<u64>(), any::<u8>()),
    )
        .prop_filter_map(
            "window larger than the padded input",
            |((n, h, w, cin, cout), (kh, kw, sh, sw), (pt, pl), (zp, seed, out_zp))| {
                let padding = Padding {
                    top: pt.min(kh - 1),
                    left: pl.min(kw - 1),
                    bottom: (kh - 1) / 2,
                    right: kw / 2,
                };
                let window = Window {
                    kernel_h: kh,
                    kernel_w: kw,
                    stride_h: sh,
                    stride_w: sw,
                    padding,
                };
                window.output_size(h, w).ok().map(|_| Case {
                    n,
                    h,
                    w,
                    cin,
                    cout,
                    window,
                    zp,
                    seed,
                    out_zp,
                })
            },
        )
}

fn bytes(seed: u64, len: usize) -> Vec<u8> {
    ghost_kernels::testing::values(seed, len)
        .into_iter()
        .map(|v| ((v + 1.0) * 127.99) as u8)
        .collect()
}

fn codes(seed: u64, len: usize, qmax: i8) -> Vec<i8> {
    let q = i32::from(qmax);
    bytes(seed, len)
        .into_iter()
        .map(|v| (i32::from(v) * (2 * q + 1) / 256 - q) as i8)
        .collect()
}

enum Family {
    Pointwise,
    Dense,
    Depthwise,
}

fn check(c: &Case, family: Family) {
    let window = match family {
        Family::Pointwise => Window::square(1, 1, 0),
        _ => c.window,
    };
    let cout = match family {
        Family::Depthwise => c.cin,
        _ => c.cout,
    };
    let (oh, ow) = window.output_size(c.h, c.w).unwrap();
    let taps = window.kernel_h * window.kernel_w;
    let x = bytes(c.seed, c.n * c.h * c.w * c.cin);
    let input = U8View::dense(&x, c.n, c.h, c.w, c.cin).unwrap();
    let params = QuantParams::new(1.0, c.zp).unwrap();
    let out_params = QuantParams::new(2.0, c.out_zp).unwrap();
    let epilogue = Epilogue::default();
    let scales = vec![1.0f32; cout];
    let (w, acc) = match family {
        Family::Depthwise => {
            let w = codes(c.seed ^ 1, cout * taps, DEPTHWISE_WEIGHT_QMAX);
            let acc = naive::depthwise_acc(&input, c.zp, &w, &window).unwrap();
            (w, acc)
        }
        _ => {
            let w = codes(c.seed ^ 1, cout * taps * c.cin, GEMM_WEIGHT_QMAX);
            let acc = naive::conv2d_acc(&input, c.zp, &w, cout, &window).unwrap();
            (w, acc)
        }
    };
    let want: Vec<f32> = acc.iter().map(|&a| a as f32).collect();
    let want_q: Vec<u8> = acc
        .iter()
        .map(|&a| naive::requantize(a as f64, out_params))
        .collect();
    let len = c.n * oh * ow * cout;
    for isa in test_isas() {
        for threads in [Threads::single(), Threads::new(2).unwrap()] {
            let mut out = vec![f32::NAN; len];
            let mut out_q = vec![0xA5u8; len];
            for u8_out in [false, true] {
                let mut f = TensorViewMut::dense(&mut out, c.n, oh, ow, cout).unwrap();
                let mut q = U8ViewMut::dense(&mut out_q, c.n, oh, ow, cout).unwrap();
                let output = if u8_out {
                    I8Output::U8(&mut q, out_params)
                } else {
                    I8Output::F32(&mut f)
                };
                match family {
                    Family::Pointwise => {
                        let p = PackedPointwiseI8::from_quantized(&w, &scales, None, c.cin, cout)
                            .unwrap();
                        pointwise_i8_with_isa(isa, &input, params, &p, &epilogue, output, &threads)
                    }
                    Family::Dense => {
                        let p = PackedConvI8::from_quantized(
                            &w,
                            &scales,
                            None,
                            c.cin,
                            cout,
                            window.kernel_h,
                            window.kernel_w,
                        )
                        .unwrap();
                        conv2d_i8_with_isa(
                            isa, &input, params, &p, &window, &epilogue, output, &threads,
                        )
                    }
                    Family::Depthwise => {
                        let p = PackedDepthwiseI8::from_quantized(
                            &w,
                            &scales,
                            None,
                            cout,
                            window.kernel_h,
                            window.kernel_w,
                        )
                        .unwrap();
                        depthwise_i8_with_isa(
                            isa, &input, params, &p, &window, &epilogue, output, &threads,
                        )
                    }
                }
                .unwrap();
            }
            assert_eq!(out, want, "{isa:?} {c:?} f32 (exact sums)");
            assert_eq!(out_q, want_q, "{isa:?} {c:?} u8");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(common::proptest_cases(48)))]

    #[test]
    fn pointwise_i8_is_exact(c in case()) {
        check(&c, Family::Pointwise);
    }

    #[test]
    fn conv2d_i8_is_exact(c in case()) {
        check(&c, Family::Dense);
    }

    #[test]
    fn depthwise_i8_is_exact(c in case()) {
        check(&c, Family::Depthwise);
    }
}

/// A Ghost module in INT8: the cheap depthwise reads the primary half `[0, m)` of one u8
/// buffer and writes the other half `[m, 2m)` (requantized), through `split_channels`; the
/// result equals running it on a separate copy of the primary half, and the primary half is
/// untouched.
#[test]
fn ghost_module_halves_of_one_u8_buffer() {
    let (h, w, m) = (6, 7, 12);
    let window = Window::same(3, 1);
    let primary = bytes(7, h * w * m);
    let mut buf = vec![0u8; h * w * 2 * m];
    for p in 0..h * w {
        buf[p * 2 * m..p * 2 * m + m].copy_from_slice(&primary[p * m..(p + 1) * m]);
    }
    let params = QuantParams::new(0.05, 9).unwrap();
    let out_params = QuantParams::new(0.1, 20).unwrap();
    let dw = PackedDepthwiseI8::new(
        &ghost_kernels::testing::values(8, m * 9),
        Some(&ghost_kernels::testing::values(9, m)),
        m,
        3,
        3,
    )
    .unwrap();
    let epilogue = Epilogue::act(ghost_kernels::Activation::Silu);
    for isa in test_isas() {
        let mut whole = buf.clone();
        let view = U8ViewMut::dense(&mut whole, 1, h, w, 2 * m).unwrap();
        let (left, mut right) = view.split_channels(m).unwrap();
        depthwise_i8_with_isa(
            isa,
            &left.as_view(),
            params,
            &dw,
            &window,
            &epilogue,
            I8Output::U8(&mut right, out_params),
            &Threads::single(),
        )
        .unwrap();
        let mut separate = vec![0u8; h * w * m];
        let mut out = U8ViewMut::dense(&mut separate, 1, h, w, m).unwrap();
        depthwise_i8_with_isa(
            isa,
            &U8View::dense(&primary, 1, h, w, m).unwrap(),
            params,
            &dw,
            &window,
            &epilogue,
            I8Output::U8(&mut out, out_params),
            &Threads::single(),
        )
        .unwrap();
        for p in 0..h * w {
            assert_eq!(
                &whole[p * 2 * m..p * 2 * m + m],
                &primary[p * m..(p + 1) * m]
            );
            assert_eq!(
                &whole[p * 2 * m + m..(p + 1) * 2 * m],
                &separate[p * m..(p + 1) * m],
                "{isa:?} pixel {p}"
            );
        }
    }
}
