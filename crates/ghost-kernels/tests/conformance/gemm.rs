//! The GEMM tile (`gemm`) through the pointwise convolution, and the small-channel pointwise
//! kernel (`pointwise-small`, taken by back ends that register one when `cout <= 16`).

use ghost_kernels::pointwise::{naive, pointwise_with_isa, PackedPointwise};
use ghost_kernels::testing::values;
use ghost_kernels::tolerance::dot_act_bound;
use ghost_kernels::{Activation, AddOrder, Backend, Epilogue, TensorViewMut};

use crate::check::{assert_within, run_threads, Strided};
use crate::{backends, epilogues};

/// One pointwise case: `pixels = (n, h, w)`, `cin -> cout`, an epilogue.
struct Case {
    pixels: [usize; 3],
    cin: usize,
    cout: usize,
    act: Activation,
    residual: Option<AddOrder>,
    seed: u64,
}

fn check(b: &Backend, c: &Case) {
    let [n, h, w] = c.pixels;
    let (cin, cout) = (c.cin, c.cout);
    let what = format!(
        "{} pointwise {n}x{h}x{w} {cin}->{cout} {:?} {:?}",
        b.label(),
        c.act,
        c.residual
    );
    let input = Strided::new([n, h, w, cin], 1, 2, &values(c.seed, n * h * w * cin));
    let res = Strided::new([n, h, w, cout], 1, 1, &values(c.seed ^ 3, n * h * w * cout));
    let wts = values(c.seed ^ 1, cin * cout);
    let bias = values(c.seed ^ 2, cout);
    let epilogue = match c.residual {
        None => Epilogue::act(c.act),
        Some(order) => Epilogue::with_residual(c.act, res.view(), order),
    };
    let packed = PackedPointwise::new(&wts, Some(&bias), cin, cout).unwrap();
    let got = run_threads(&what, [n, h, w, cout], |out, threads| {
        pointwise_with_isa(b.isa(), &input.view(), &packed, &epilogue, out, threads).unwrap()
    });
    let mut want = vec![0.0f32; n * h * w * cout];
    let mut want_view = TensorViewMut::dense(&mut want, n, h, w, cout).unwrap();
    naive::pointwise(&input.view(), &wts, Some(&bias), &epilogue, &mut want_view).unwrap();
    let (iv, rv) = (input.view(), res.view());
    assert_within(&what, &got, &want, |i| {
        let (p, o) = (i / cout, i % cout);
        // `dot_act_bound`: Higham's bound for the (cin + 1)-term dot product with the bias (a
        // residual added before the activation is one more term), times the activation's
        // slope, plus its relative error on |reference| + 2|r| (a residual added after the
        // activation cannot hide the activation's error by cancellation).
        let x = iv.pixel(p);
        let mut abs_sum: f64 = (0..cin)
            .map(|k| (f64::from(wts[o * cin + k]) * f64::from(x[k])).abs())
            .sum::<f64>()
            + f64::from(bias[o]).abs();
        let r = f64::from(rv.pixel(p)[o]).abs();
        let (terms, r_mag) = match c.residual {
            None => (cin + 1, 0.0),
            Some(AddOrder::BeforeActivation) => {
                abs_sum += r;
                (cin + 2, 0.0)
            }
            Some(AddOrder::AfterActivation) => (cin + 1, r),
        };
        dot_act_bound(terms, abs_sum, f64::from(want[i]).abs() + 2.0 * r_mag)
    });
}

/// Pixel counts around every registered row tile (1, 2, 6, 8 rows; 12 for the AVX2 narrow-panel
/// pairing) and output channels around the 8-lane vectors and 16-wide panels (cout <= 16 takes
/// the small-channel kernel where one is registered), with K from 1 up.
#[test]
fn edge_tiles_and_odd_sizes() {
    let pixels = [
        [1, 1, 1],
        [1, 1, 5],
        [1, 2, 3],
        [1, 1, 7],
        [1, 1, 11],
        [1, 3, 4],
        [1, 1, 13],
        [2, 1, 13],
        [1, 1, 8],
        [1, 1, 9],
        [1, 1, 17],
    ];
    let couts = [1, 3, 8, 9, 16, 17, 24, 33];
    let cins = [1, 2, 7, 16, 37];
    let epis = epilogues();
    for b in backends() {
        let mut i = 0;
        for &p in &pixels {
            for &cout in &couts {
                for &cin in &cins {
                    let (act, residual) = epis[i % epis.len()];
                    let seed = i as u64;
                    i += 1;
                    check(
                        b,
                        &Case {
                            pixels: p,
                            cin,
                            cout,
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

/// Every activation with every residual order, on the small-channel and the GEMM path.
#[test]
fn every_epilogue() {
    for b in backends() {
        for (i, (act, residual)) in epilogues().into_iter().enumerate() {
            for cout in [3, 17] {
                let seed = 100 + i as u64;
                check(
                    b,
                    &Case {
                        pixels: [1, 1, 13],
                        cin: 7,
                        cout,
                        act,
                        residual,
                        seed,
                    },
                );
            }
        }
    }
}

/// A reduction longer than one cache block (`KC` = 512 floats): partial sums are stored and
/// reloaded between blocks.
#[test]
fn long_reduction() {
    let epis = epilogues();
    for b in backends() {
        for (i, cout) in [5, 16, 33].into_iter().enumerate() {
            let (act, residual) = epis[(3 * i + 4) % epis.len()];
            check(
                b,
                &Case {
                    pixels: [1, 1, 13],
                    cin: 600,
                    cout,
                    act,
                    residual,
                    seed: 7,
                },
            );
        }
    }
}

/// Large enough that two threads split the pixels (bitwise equal to one thread).
#[test]
fn two_threads_split_the_work() {
    for b in backends() {
        for cout in [12, 40] {
            let c = Case {
                pixels: [2, 32, 32],
                cin: 64,
                cout,
                act: Activation::Silu,
                residual: Some(AddOrder::AfterActivation),
                seed: 11,
            };
            check(b, &c);
        }
    }
}
