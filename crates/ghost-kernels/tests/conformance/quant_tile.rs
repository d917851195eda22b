//! The INT8 GEMM's tile edges on every back end: the AVX-512 VNNI driver's tile of 8 pixels x
//! 32 channels (two 16-channel panels, an odd last panel alone) and the shared 4 x 16 one.
//!
//! - Exact accumulators ([`check_exact`]: unit scales, identity, f32 out, 4 zero points, 1 and
//!   2 threads bit for bit, strided views with sentinels) for cin 1..67 (every `cin % 4`),
//!   cout 1..96 (15, 16, 17, 31, 32, 33, 48, 80, 96 around the panels and panel pairs), pixel
//!   counts 1..37 around the 4- and 8-row tiles; 3x3 stride 1 and 2 with padding on non-square
//!   inputs, batch 2 (the window rows cross image borders and images inside one tile).
//! - The VNNI back end against the AVX2 one bit for bit through every activation and residual
//!   order, f32 and requantized u8 out: its zmm epilogue must give the shared epilogue's bits.

use ghost_kernels::quant::{
    conv2d_i8_with_isa, pointwise_i8_with_isa, I8Output, PackedConvI8, PackedPointwiseI8,
    QuantParams, U8View, U8ViewMut,
};
use ghost_kernels::testing::values;
use ghost_kernels::{Activation, Epilogue, Isa, TensorView, TensorViewMut, Threads, Window};

use crate::backends;
use crate::check::same_bits;
use crate::epilogues;
use crate::quant::{bytes, check_exact, Case, Kind};

const CINS: [usize; 17] = [1, 2, 3, 4, 5, 7, 8, 12, 15, 16, 31, 32, 33, 63, 64, 65, 67];
const COUTS: [usize; 10] = [1, 15, 16, 17, 31, 32, 33, 48, 80, 96];
const PIXELS: [usize; 16] = [1, 2, 3, 7, 8, 9, 15, 16, 17, 23, 24, 25, 31, 32, 33, 37];

/// Every cin x cout pair, each at a pixel count taken round-robin from [`PIXELS`] (so every
/// count meets several channel shapes), plus every pixel count at the shapes that stress the
/// panel pair and the odd panel (cin 65, cout 48 and 80).
#[test]
fn gemm_i8_pointwise_tile_edges_are_exact() {
    let mut seed = 20_000;
    let mut cases = Vec::new();
    for (i, &cin) in CINS.iter().enumerate() {
        for (j, &cout) in COUTS.iter().enumerate() {
            seed += 1;
            let pixels = PIXELS[(i * 7 + j * 3) % PIXELS.len()];
            cases.push((cin, cout, [1, 1, pixels, cin], seed));
        }
    }
    for &pixels in &PIXELS {
        for cout in [48, 80] {
            seed += 1;
            // A one-column plane of as many rows.
            cases.push((65, cout, [1, pixels, 1, 65], seed));
        }
    }
    for b in backends() {
        for &(_, cout, shape, seed) in &cases {
            check_exact(
                b,
                &Case {
                    kind: Kind::Pointwise,
                    shape,
                    cout,
                    act: Activation::Identity,
                    residual: None,
                    seed,
                },
            );
        }
    }
}

/// 3x3 stride 1 and 2 (same padding), non-square inputs, batch 2, cin with every `cin % 4`,
/// cout around the panels and panel pairs.
#[test]
fn gemm_i8_dense_tile_edges_are_exact() {
    let shapes = [(2, 5, 9), (1, 9, 4), (2, 7, 7), (2, 3, 11)];
    let cins = [1, 3, 4, 5, 12, 17, 33, 67];
    let couts = [15, 16, 17, 33, 48, 80];
    let mut seed = 30_000;
    for b in backends() {
        for stride in [1, 2] {
            for (i, &cin) in cins.iter().enumerate() {
                for (k, &(n, h, w)) in shapes.iter().enumerate() {
                    seed += 1;
                    check_exact(
                        b,
                        &Case {
                            kind: Kind::Dense(Window::same(3, stride)),
                            shape: [n, h, w, cin],
                            cout: couts[(i + k * 2 + stride) % couts.len()],
                            act: Activation::Identity,
                            residual: None,
                            seed,
                        },
                    );
                }
            }
        }
    }
}

/// One INT8 GEMM call on `isa`, f32 or u8 out; returns the output's bits.
#[allow(clippy::too_many_arguments)]
fn run_on(
    isa: Isa,
    input: &U8View<'_>,
    win: Option<Window>,
    real: &[f32],
    bias: &[f32],
    cout: usize,
    epilogue: &Epilogue<'_>,
    out_shape: [usize; 4],
    u8_out: bool,
    threads: &Threads,
) -> Vec<u32> {
    let [n, oh, ow, _] = out_shape;
    let cin = input.shape()[3];
    let params = QuantParams::from_range(-0.7, 2.3).unwrap();
    let out_params = QuantParams::from_range(-1.5, 3.0).unwrap();
    let mut f = vec![0.0f32; n * oh * ow * cout];
    let mut q = vec![0u8; n * oh * ow * cout];
    {
        let mut fv = TensorViewMut::dense(&mut f, n, oh, ow, cout).unwrap();
        let mut qv = U8ViewMut::dense(&mut q, n, oh, ow, cout).unwrap();
        let output = if u8_out {
            I8Output::U8(&mut qv, out_params)
        } else {
            I8Output::F32(&mut fv)
        };
        match win {
            None => {
                let p = PackedPointwiseI8::new(real, Some(bias), cin, cout).unwrap();
                pointwise_i8_with_isa(isa, input, params, &p, epilogue, output, threads)
            }
            Some(w) => {
                let p =
                    PackedConvI8::new(real, Some(bias), cin, cout, w.kernel_h, w.kernel_w).unwrap();
                conv2d_i8_with_isa(isa, input, params, &p, &w, epilogue, output, threads)
            }
        }
        .unwrap();
    }
    if u8_out {
        q.into_iter().map(u32::from).collect()
    } else {
        f.into_iter().map(f32::to_bits).collect()
    }
}

/// The VNNI back end's zmm epilogue against the AVX2 back end's shared one, bit for bit: every
/// activation x residual order, f32 and u8 out, pointwise and 3x3 stride 2, partial panels,
/// an odd last panel, tile tails (37 and 33 pixels), the split conv's K = 12.
#[test]
fn gemm_i8_vnni_epilogue_matches_avx2_bitwise() {
    if !Isa::Avx512Vnni.is_supported() {
        eprintln!("skipped: this CPU has no AVX-512 VNNI");
        return;
    }
    let cases: [(Option<Window>, [usize; 4], usize); 4] = [
        (None, [1, 1, 37, 67], 80),
        (None, [2, 3, 11, 12], 48),
        (Some(Window::same(3, 2)), [2, 7, 9, 13], 33),
        (Some(Window::same(3, 1)), [1, 5, 7, 20], 17),
    ];
    let mut seed = 40_000;
    for (win, shape, cout) in cases {
        let [n, h, w, cin] = shape;
        let (oh, ow) = win.map_or((h, w), |win| win.output_size(h, w).unwrap());
        let out_shape = [n, oh, ow, cout];
        let taps = win.map_or(1, |w| w.kernel_h * w.kernel_w);
        seed += 1;
        let x = bytes(seed, n * h * w * cin);
        let input = U8View::dense(&x, n, h, w, cin).unwrap();
        let real = values(seed ^ 1, cout * cin * taps);
        let bias = values(seed ^ 2, cout);
        let mut res = values(seed ^ 3, n * oh * ow * cout);
        res.iter_mut().for_each(|v| *v *= 3.0);
        let res_view = TensorView::dense(&res, n, oh, ow, cout).unwrap();
        for (act, order) in epilogues() {
            let epilogue = match order {
                None => Epilogue::act(act),
                Some(o) => Epilogue::with_residual(act, res_view, o),
            };
            for u8_out in [false, true] {
                for threads in [Threads::single(), Threads::new(2).unwrap()] {
                    let [a, v] = [Isa::Avx2Fma, Isa::Avx512Vnni].map(|isa| {
                        run_on(
                            isa, &input, win, &real, &bias, cout, &epilogue, out_shape, u8_out,
                            &threads,
                        )
                    });
                    let what = format!("{win:?} {shape:?} -> {cout} {act:?} {order:?} u8 {u8_out}");
                    if u8_out {
                        assert_eq!(a, v, "{what}: AVX2 and VNNI codes differ");
                    } else {
                        let fa: Vec<f32> = a.iter().map(|&b| f32::from_bits(b)).collect();
                        let fv: Vec<f32> = v.iter().map(|&b| f32::from_bits(b)).collect();
                        assert!(same_bits(&fa, &fv), "{what}: AVX2 and VNNI outputs differ");
                    }
                }
            }
        }
    }
}
