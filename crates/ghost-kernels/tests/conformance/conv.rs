//! Dense convolution: the indirect GEMM on the `gemm` tile, Winograd F(4x4, 3x3)
//! (`winograd-tiles`: input and output transforms around the `gemm` tile) and the stride-2
//! polyphase Winograd F(4x4, 2x2) (`winograd-s2-tiles`, likewise) and the direct small-input
//! kernel (`conv-direct`: packed few-channel inputs, at most 64 outputs, e.g. the RGB stem).

use ghost_kernels::conv::{conv2d_with_isa, naive, ConvAlgorithm, ConvScratch, PackedConv};
use ghost_kernels::testing::values;
use ghost_kernels::tolerance::{dot_act_bound, winograd_bound, winograd_s2_bound};
use ghost_kernels::{Activation, AddOrder, Backend, Epilogue, Padding, TensorViewMut, Window};

use crate::check::{assert_within, run_threads, square_window, Strided};
use crate::common::winograd_s2_sums::transformed_abs_sums_s2;
use crate::common::winograd_sums::transformed_abs_sums;
use crate::{backends, epilogues};

struct Case {
    shape: [usize; 4],
    cout: usize,
    window: Window,
    algorithm: ConvAlgorithm,
    act: Activation,
    residual: Option<AddOrder>,
    seed: u64,
    /// A packed input (pixel stride = cin), which small-cin convs need for the row-tap GEMM
    /// mode and the direct kernel; otherwise strided with NaN gaps (the im2col mode).
    packed_input: bool,
}

fn check(b: &Backend, c: &Case) {
    let [n, h, w, cin] = c.shape;
    let (cout, win) = (c.cout, c.window);
    let (kh, kw) = (win.kernel_h, win.kernel_w);
    let (oh, ow) = win.output_size(h, w).unwrap();
    let what = format!(
        "{} conv {:?} {:?} -> {cout} {win:?} {:?} {:?}",
        b.label(),
        c.algorithm,
        c.shape,
        c.act,
        c.residual
    );
    let (gap_before, gap_after) = if c.packed_input { (0, 0) } else { (1, 2) };
    let input = Strided::new(
        c.shape,
        gap_before,
        gap_after,
        &values(c.seed, n * h * w * cin),
    );
    let res = Strided::new(
        [n, oh, ow, cout],
        1,
        1,
        &values(c.seed ^ 3, n * oh * ow * cout),
    );
    let wts = values(c.seed ^ 1, cout * cin * kh * kw);
    let bias = values(c.seed ^ 2, cout);
    let epilogue = match c.residual {
        None => Epilogue::act(c.act),
        Some(order) => Epilogue::with_residual(c.act, res.view(), order),
    };
    let packed =
        PackedConv::with_algorithm(&wts, Some(&bias), cin, cout, &win, c.algorithm).unwrap();
    let mut scratch = ConvScratch::new();
    let got = run_threads(&what, [n, oh, ow, cout], |out, threads| {
        let iv = input.view();
        conv2d_with_isa(
            b.isa(),
            &iv,
            &packed,
            &win,
            &epilogue,
            out,
            &mut scratch,
            threads,
        )
        .unwrap()
    });
    let mut want = vec![0.0f32; n * oh * ow * cout];
    let mut want_view = TensorViewMut::dense(&mut want, n, oh, ow, cout).unwrap();
    let iv = input.view();
    naive::conv2d(
        &iv,
        &wts,
        Some(&bias),
        cin,
        cout,
        &win,
        &epilogue,
        &mut want_view,
    )
    .unwrap();
    let winograd = match c.algorithm {
        ConvAlgorithm::Gemm => None,
        ConvAlgorithm::Winograd => Some((
            transformed_abs_sums(&iv, &wts, cin, cout, win.padding, oh, ow),
            winograd_bound as fn(usize, f64, f64) -> f64,
        )),
        ConvAlgorithm::WinogradStride2 => Some((
            transformed_abs_sums_s2(&iv, &wts, cin, cout, win.padding, oh, ow),
            winograd_s2_bound as fn(usize, f64, f64) -> f64,
        )),
    };
    let rv = res.view();
    assert_within(&what, &got, &want, |i| {
        let (pix, o) = (i / cout, i % cout);
        let (bi, oy, ox) = (pix / (oh * ow), pix / ow % oh, pix % ow);
        let r = f64::from(rv.pixel(pix)[o]).abs();
        let (before, r_mag) = match c.residual {
            Some(AddOrder::BeforeActivation) => (r, 0.0),
            Some(AddOrder::AfterActivation) => (0.0, r),
            None => (0.0, 0.0),
        };
        let reference = f64::from(want[i]).abs() + 2.0 * r_mag;
        let bias_abs = f64::from(bias[o]).abs();
        match &winograd {
            // `winograd_bound` / `winograd_s2_bound`: every rounding step of the transforms and
            // the cin-term GEMM, on the transforms' absolute-value evaluation, plus |bias| and a
            // residual added before the activation.
            Some((sums, bound)) => bound(cin, sums[i] + bias_abs + before, reference),
            // `dot_act_bound` over the kh*kw*cin products, the bias and the residual.
            None => {
                let mut abs_sum = bias_abs + before;
                for ky in 0..kh {
                    for kx in 0..kw {
                        let iy = (oy * win.stride_h + ky).checked_sub(win.padding.top);
                        let ix = (ox * win.stride_w + kx).checked_sub(win.padding.left);
                        let (Some(iy), Some(ix)) = (iy, ix) else {
                            continue;
                        };
                        if iy >= h || ix >= w {
                            continue;
                        }
                        for k in 0..cin {
                            let wt = wts[((o * cin + k) * kh + ky) * kw + kx];
                            abs_sum += (f64::from(iv.get(bi, iy, ix, k)) * f64::from(wt)).abs();
                        }
                    }
                }
                dot_act_bound(kh * kw * cin + 2, abs_sum, reference)
            }
        }
    });
}

/// The GEMM driver (3x3 at stride 1 and 2, 1x1, 5x5, no padding) and both Winograd variants
/// (3x3 at stride 1 and 2, symmetric and asymmetric padding, partial 4x4 tiles) on channel
/// counts around the vector and panel widths, K = 1 included.
#[test]
fn edge_tiles_and_odd_sizes() {
    let gemm = [
        square_window(3, 1, Padding::uniform(1)),
        square_window(3, 2, Padding::uniform(1)),
        square_window(1, 1, Padding::uniform(0)),
        square_window(5, 1, Padding::uniform(2)),
        square_window(3, 1, Padding::uniform(0)),
    ];
    let wino = [
        square_window(3, 1, Padding::uniform(1)),
        square_window(
            3,
            1,
            Padding {
                top: 0,
                left: 1,
                bottom: 1,
                right: 0,
            },
        ),
        square_window(3, 1, Padding::uniform(0)),
    ];
    let wino_s2 = [
        square_window(3, 2, Padding::uniform(1)),
        square_window(
            3,
            2,
            Padding {
                top: 0,
                left: 1,
                bottom: 1,
                right: 0,
            },
        ),
        square_window(3, 2, Padding::uniform(0)),
    ];
    let cases = gemm
        .iter()
        .map(|w| (*w, ConvAlgorithm::Gemm))
        .chain(wino.iter().map(|w| (*w, ConvAlgorithm::Winograd)))
        .chain(wino_s2.iter().map(|w| (*w, ConvAlgorithm::WinogradStride2)));
    let cases: Vec<_> = cases.collect();
    let epis = epilogues();
    for b in backends() {
        let mut i = 0;
        for &(win, algorithm) in &cases {
            for cin in [1, 3, 9, 16] {
                for cout in [1, 8, 17, 33] {
                    for (h, w) in [(1, 1), (5, 7), (9, 10), (18, 11)] {
                        if win.output_size(h, w).is_err() {
                            continue;
                        }
                        let (act, residual) = epis[i % epis.len()];
                        let seed = i as u64;
                        i += 1;
                        let c = Case {
                            shape: [1, h, w, cin],
                            cout,
                            window: win,
                            algorithm,
                            act,
                            residual,
                            seed,
                            packed_input: false,
                        };
                        check(b, &c);
                    }
                }
            }
        }
    }
}

/// Every activation with every residual order, through every algorithm.
#[test]
fn every_epilogue() {
    for b in backends() {
        for (i, (act, residual)) in epilogues().into_iter().enumerate() {
            for (algorithm, stride) in [
                (ConvAlgorithm::Gemm, 1),
                (ConvAlgorithm::Winograd, 1),
                (ConvAlgorithm::WinogradStride2, 2),
            ] {
                let c = Case {
                    shape: [1, 6, 9, 5],
                    cout: 11,
                    window: square_window(3, stride, Padding::uniform(1)),
                    algorithm,
                    act,
                    residual,
                    seed: 70 + i as u64,
                    packed_input: false,
                };
                check(b, &c);
            }
        }
    }
}

/// Large enough that two threads split the pixels / tiles (bitwise equal to one thread).
#[test]
fn two_threads_split_the_work() {
    for b in backends() {
        for (cin, algorithm, stride) in [
            (8, ConvAlgorithm::Gemm, 1),
            (16, ConvAlgorithm::Winograd, 1),
            (16, ConvAlgorithm::WinogradStride2, 2),
        ] {
            let c = Case {
                shape: [2, 40 * stride, 40 * stride, cin],
                cout: 17,
                window: square_window(3, stride, Padding::uniform(1)),
                algorithm,
                act: Activation::Silu,
                residual: Some(AddOrder::AfterActivation),
                seed: 13,
                packed_input: false,
            };
            check(b, &c);
        }
    }
}

/// Every window x `cins` x `couts` x image size that has an output, on packed inputs through the
/// GEMM path, each epilogue in turn and the batch alternating 1 / 2; seeds from `seed`.
fn packed_gemm_sweep(
    b: &Backend,
    windows: &[Window],
    cins: &[usize],
    couts: &[usize],
    sizes: &[(usize, usize)],
    seed: u64,
) {
    let epis = epilogues();
    let mut i = 0;
    for &win in windows {
        for &cin in cins {
            for &cout in couts {
                for &(h, w) in sizes {
                    if win.output_size(h, w).is_err() {
                        continue;
                    }
                    let (act, residual) = epis[i % epis.len()];
                    i += 1;
                    check(
                        b,
                        &Case {
                            shape: [1 + i % 2, h, w, cin],
                            cout,
                            window: win,
                            algorithm: ConvAlgorithm::Gemm,
                            act,
                            residual,
                            seed: seed + i as u64,
                            packed_input: true,
                        },
                    );
                }
            }
        }
    }
}

/// Packed inputs of 16-32 channels, which the GEMM reads as row taps (`kw * cin` contiguous
/// floats per kernel row) instead of indirect rows (yolo11n `model.1`, 16 -> 32 at stride 2):
/// stride 1 and 2, asymmetric padding, border-only and odd images, outputs around the panel
/// width, every epilogue in turn; 33 channels (indirect again) next to them.
#[test]
fn packed_row_taps_up_to_32_channels() {
    let windows = [
        square_window(3, 2, Padding::uniform(1)),
        square_window(3, 1, Padding::uniform(1)),
        square_window(
            3,
            2,
            Padding {
                top: 0,
                left: 2,
                bottom: 1,
                right: 0,
            },
        ),
        square_window(5, 2, Padding::uniform(2)),
    ];
    for b in backends() {
        packed_gemm_sweep(
            b,
            &windows,
            &[16, 24, 32, 33],
            &[1, 17, 32],
            &[(1, 1), (7, 13), (16, 17)],
            700,
        );
        // yolo11n's model.1 shape, small: two threads split the pixels mid-row.
        check(
            b,
            &Case {
                shape: [1, 31, 45, 16],
                cout: 32,
                window: square_window(3, 2, Padding::uniform(1)),
                algorithm: ConvAlgorithm::Gemm,
                act: Activation::Silu,
                residual: None,
                seed: 41,
                packed_input: true,
            },
        );
    }
}

/// Packed few-channel inputs with at most 64 outputs (the direct kernel where a back end has
/// one, the GEMM's row taps otherwise): the stem's 3x3 stride 2, other kernel shapes and
/// asymmetric paddings, stride 3, border-only images, every epilogue in turn, output counts
/// around the 8-lane vectors and 16-output panels (the direct kernel runs panel by panel), and
/// next to them shapes just outside the direct kernel's limits (65 outputs, a 36-float window, 5
/// kernel rows).
#[test]
fn packed_small_output() {
    let windows = [
        square_window(3, 2, Padding::uniform(1)),
        square_window(3, 1, Padding::uniform(1)),
        square_window(3, 2, Padding::uniform(0)),
        square_window(
            3,
            2,
            Padding {
                top: 0,
                left: 2,
                bottom: 1,
                right: 0,
            },
        ),
        Window {
            kernel_h: 1,
            kernel_w: 3,
            stride_h: 1,
            stride_w: 2,
            padding: Padding {
                top: 0,
                left: 1,
                bottom: 0,
                right: 1,
            },
        },
        Window {
            kernel_h: 2,
            kernel_w: 1,
            stride_h: 2,
            stride_w: 1,
            padding: Padding::uniform(0),
        },
        square_window(5, 1, Padding::uniform(2)),
        square_window(3, 3, Padding::uniform(1)),
    ];
    for b in backends() {
        packed_gemm_sweep(
            b,
            &windows,
            &[1, 3, 4],
            &[1, 3, 4, 5, 8, 9, 16, 17, 31, 64, 65],
            &[(1, 1), (2, 3), (7, 13), (16, 17)],
            300,
        );
        // Large enough for two threads to split the pixels (bitwise equal to one thread), split
        // mid-row between the threads, with the stems' output counts (4, 16, 32, 64).
        for (shape, cout, residual) in [
            ([2, 64, 66, 3], 16, Some(AddOrder::BeforeActivation)),
            ([1, 9, 301, 3], 4, None),
            ([1, 9, 301, 3], 32, Some(AddOrder::AfterActivation)),
            ([2, 7, 129, 3], 64, None),
        ] {
            check(
                b,
                &Case {
                    shape,
                    cout,
                    window: square_window(3, 2, Padding::uniform(1)),
                    algorithm: ConvAlgorithm::Gemm,
                    act: Activation::Silu,
                    residual,
                    seed: 17 + cout as u64,
                    packed_input: true,
                },
            );
        }
    }
}
