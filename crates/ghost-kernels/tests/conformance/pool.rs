//! `max-pool`, `global-avg-pool` and `upsample` (nearest 2x).

use ghost_kernels::pool::{global_avg_pool_with_isa, max_pool_with_isa, naive};
use ghost_kernels::resize::{self, upsample_nearest_2x_with_isa};
use ghost_kernels::testing::values;
use ghost_kernels::{Backend, Padding, TensorViewMut, Window};

use crate::backends;
use crate::check::{assert_exact, assert_within, run_threads, square_window, Strided};

const SHAPES: [[usize; 4]; 6] = [
    [1, 1, 1, 1],
    [1, 5, 5, 7],
    [2, 6, 7, 8],
    [1, 9, 4, 9],
    [1, 7, 7, 33],
    [1, 64, 64, 16],
];

/// Bitwise equal, or both NaN (a NaN's payload is not specified).
fn assert_same_or_nan(what: &str, got: &[f32], want: &[f32]) {
    let g: Vec<f32> = got
        .iter()
        .map(|v| if v.is_nan() { f32::NAN } else { *v })
        .collect();
    let w: Vec<f32> = want
        .iter()
        .map(|v| if v.is_nan() { f32::NAN } else { *v })
        .collect();
    assert_exact(what, &g, &w);
}

fn max_pool(b: &Backend, shape: [usize; 4], win: Window, seed: u64) {
    let [n, h, w, c] = shape;
    let Ok((oh, ow)) = win.output_size(h, w) else {
        return;
    };
    let mut v = values(seed, n * h * w * c);
    // One NaN (PyTorch's max pooling propagates it; vmaxps / fmax alone would not).
    let at = (seed as usize * 7919) % v.len();
    v[at] = f32::NAN;
    let x = Strided::new(shape, 1, 2, &v);
    let what = format!("{} max_pool {shape:?} {win:?}", b.label());
    let got = run_threads(&what, [n, oh, ow, c], |out, t| {
        max_pool_with_isa(b.isa(), &x.view(), &win, out, t).unwrap()
    });
    let mut want = vec![0.0f32; n * oh * ow * c];
    let mut wv = TensorViewMut::dense(&mut want, n, oh, ow, c).unwrap();
    naive::max_pool(&x.view(), &win, &mut wv).unwrap();
    assert_same_or_nan(&what, &got, &want);
}

#[test]
fn max_pool_windows() {
    let windows = [
        square_window(5, 1, Padding::uniform(2)),
        square_window(3, 1, Padding::uniform(1)),
        square_window(2, 2, Padding::uniform(0)),
        square_window(3, 2, Padding::uniform(1)),
        square_window(
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
    for b in backends() {
        for (i, shape) in SHAPES.into_iter().enumerate() {
            for (j, win) in windows.into_iter().enumerate() {
                max_pool(b, shape, win, (i * 10 + j) as u64);
            }
        }
    }
}

#[test]
fn global_avg_pool() {
    for b in backends() {
        for (i, shape) in SHAPES.into_iter().enumerate() {
            let [n, h, w, c] = shape;
            let v = values(i as u64, n * h * w * c);
            let x = Strided::new(shape, 1, 2, &v);
            let what = format!("{} global_avg_pool {shape:?}", b.label());
            let got = run_threads(&what, [n, 1, 1, c], |out, t| {
                global_avg_pool_with_isa(b.isa(), &x.view(), out, t).unwrap()
            });
            let mut want = vec![0.0f32; n * c];
            let mut wv = TensorViewMut::dense(&mut want, n, 1, 1, c).unwrap();
            naive::global_avg_pool(&x.view(), &mut wv).unwrap();
            assert_within(&what, &got, &want, |k| {
                // Row sums of w terms, then h row sums, then one division: (w + h + 2) roundings
                // on the mean of absolute values, plus the oracle's own rounding to f32.
                let (bi, ch) = (k / c, k % c);
                let abs_mean = (0..h * w)
                    .map(|p| f64::from(v[(bi * h * w + p) * c + ch]).abs())
                    .sum::<f64>()
                    / (h * w) as f64;
                (w + h + 2) as f64 * f64::from(f32::EPSILON) * abs_mean
                    + f64::from(f32::EPSILON) * f64::from(want[k]).abs()
            });
        }
    }
}

#[test]
fn upsample_is_a_copy() {
    for b in backends() {
        for (i, shape) in SHAPES.into_iter().enumerate() {
            let [n, h, w, c] = shape;
            let x = Strided::new(shape, 1, 2, &values(i as u64, n * h * w * c));
            let what = format!("{} upsample {shape:?}", b.label());
            let got = run_threads(&what, [n, 2 * h, 2 * w, c], |out, t| {
                upsample_nearest_2x_with_isa(b.isa(), &x.view(), out, t).unwrap()
            });
            let mut want = vec![0.0f32; 4 * n * h * w * c];
            let mut wv = TensorViewMut::dense(&mut want, n, 2 * h, 2 * w, c).unwrap();
            resize::naive::upsample_nearest_2x(&x.view(), &mut wv).unwrap();
            assert_exact(&what, &got, &want);
        }
    }
}
