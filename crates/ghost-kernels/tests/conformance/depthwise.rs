//! Depthwise rows (`depthwise-rows`: 3x3 / 5x5 interior tiles at stride 1 and 2, edges, other
//! kernel sizes) and small-channel depthwise (`depthwise-small`, fewer than 8 channels).

use ghost_kernels::depthwise::{depthwise_with_isa, naive, PackedDepthwise};
use ghost_kernels::testing::values;
use ghost_kernels::tolerance::dot_act_bound;
use ghost_kernels::{Activation, AddOrder, Backend, Epilogue, Padding, TensorViewMut, Window};

use crate::check::{assert_within, run_threads, window, Strided};
use crate::{backends, epilogues};

struct Case {
    shape: [usize; 4],
    window: Window,
    act: Activation,
    residual: Option<AddOrder>,
    seed: u64,
}

fn check(b: &Backend, c: &Case) {
    let [n, h, w, ch] = c.shape;
    let win = c.window;
    let (kh, kw) = (win.kernel_h, win.kernel_w);
    let (oh, ow) = win.output_size(h, w).unwrap();
    let what = format!(
        "{} depthwise {:?} {win:?} {:?} {:?}",
        b.label(),
        c.shape,
        c.act,
        c.residual
    );
    let input = Strided::new(c.shape, 1, 2, &values(c.seed, n * h * w * ch));
    let res = Strided::new([n, oh, ow, ch], 1, 1, &values(c.seed ^ 3, n * oh * ow * ch));
    let wts = values(c.seed ^ 1, ch * kh * kw);
    let bias = values(c.seed ^ 2, ch);
    let epilogue = match c.residual {
        None => Epilogue::act(c.act),
        Some(order) => Epilogue::with_residual(c.act, res.view(), order),
    };
    let packed = PackedDepthwise::new(&wts, Some(&bias), ch, kh, kw).unwrap();
    let got = run_threads(&what, [n, oh, ow, ch], |out, threads| {
        depthwise_with_isa(
            b.isa(),
            &input.view(),
            &packed,
            &win,
            &epilogue,
            out,
            threads,
        )
        .unwrap()
    });
    let mut want = vec![0.0f32; n * oh * ow * ch];
    let mut want_view = TensorViewMut::dense(&mut want, n, oh, ow, ch).unwrap();
    naive::depthwise(
        &input.view(),
        &wts,
        Some(&bias),
        &win,
        &epilogue,
        &mut want_view,
    )
    .unwrap();
    let (iv, rv) = (input.view(), res.view());
    assert_within(&what, &got, &want, |i| {
        let (pix, o) = (i / ch, i % ch);
        let (bi, oy, ox) = (pix / (oh * ow), pix / ow % oh, pix % ow);
        // `dot_act_bound` over the kh*kw taps, the bias and a residual (at most kh*kw + 2
        // terms), as for the GEMM; the residual's magnitude as in `gemm.rs`.
        let mut abs_sum = f64::from(bias[o]).abs();
        for ky in 0..kh {
            for kx in 0..kw {
                let iy = (oy * win.stride_h + ky).checked_sub(win.padding.top);
                let ix = (ox * win.stride_w + kx).checked_sub(win.padding.left);
                if let (Some(iy), Some(ix)) = (iy, ix) {
                    if iy < h && ix < w {
                        let x = f64::from(iv.get(bi, iy, ix, o));
                        abs_sum += (x * f64::from(wts[(o * kh + ky) * kw + kx])).abs();
                    }
                }
            }
        }
        let r = f64::from(rv.pixel(pix)[o]).abs();
        let r_mag = match c.residual {
            Some(AddOrder::BeforeActivation) => {
                abs_sum += r;
                0.0
            }
            Some(AddOrder::AfterActivation) => r,
            None => 0.0,
        };
        dot_act_bound(kh * kw + 2, abs_sum, f64::from(want[i]).abs() + 2.0 * r_mag)
    });
}

/// Every kernel shape the tile kernels specialise (3x3, 5x5 at stride 1 and 2) and some they
/// do not (1x1, 7x7, 3x1, no padding, asymmetric padding), on channel counts around the small
/// path (< 8) and the 8-lane blocks, on images from 1x1 (only edges) to wide rows (interior
/// tiles plus leftovers).
#[test]
fn edge_tiles_and_odd_sizes() {
    let windows = [
        window(3, 3, 1, Padding::uniform(1)),
        window(3, 3, 2, Padding::uniform(1)),
        window(5, 5, 1, Padding::uniform(2)),
        window(5, 5, 2, Padding::uniform(2)),
        window(3, 3, 1, Padding::uniform(0)),
        window(1, 1, 1, Padding::uniform(0)),
        window(7, 7, 1, Padding::uniform(3)),
        window(
            3,
            1,
            1,
            Padding {
                top: 1,
                bottom: 1,
                left: 0,
                right: 0,
            },
        ),
        window(
            3,
            3,
            2,
            Padding {
                top: 0,
                left: 0,
                bottom: 1,
                right: 1,
            },
        ),
    ];
    let channels = [1, 3, 7, 8, 9, 17, 33];
    let images = [(1, 1), (3, 5), (7, 23), (12, 17)];
    let epis = epilogues();
    for b in backends() {
        let mut i = 0;
        for win in windows {
            for &ch in &channels {
                for &(h, w) in &images {
                    if win.output_size(h, w).is_err() {
                        continue;
                    }
                    let (act, residual) = epis[i % epis.len()];
                    let seed = i as u64;
                    i += 1;
                    check(
                        b,
                        &Case {
                            shape: [1, h, w, ch],
                            window: win,
                            act,
                            residual,
                            seed,
                        },
                    );
                }
            }
        }
    }
}

/// Every activation with every residual order, on the small-channel and the 8-lane path.
#[test]
fn every_epilogue() {
    for b in backends() {
        for (i, (act, residual)) in epilogues().into_iter().enumerate() {
            for ch in [5, 19] {
                let c = Case {
                    shape: [2, 6, 11, ch],
                    window: window(3, 3, 1, Padding::uniform(1)),
                    act,
                    residual,
                    seed: 50 + i as u64,
                };
                check(b, &c);
            }
        }
    }
}

/// Large enough that two threads split the rows (bitwise equal to one thread).
#[test]
fn two_threads_split_the_work() {
    for b in backends() {
        for (shape, k, stride) in [
            ([4, 48, 48, 4], 3, 1),
            ([1, 40, 40, 32], 3, 1),
            ([1, 40, 40, 24], 5, 2),
        ] {
            let c = Case {
                shape,
                window: window(k, k, stride, Padding::uniform(k / 2)),
                act: Activation::Silu,
                residual: Some(AddOrder::BeforeActivation),
                seed: 9,
            };
            check(b, &c);
        }
    }
}
