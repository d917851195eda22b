//! `dfl` (softmax over bins and its expectation) and `softmax` (rows).

use ghost_kernels::dfl::{self, dfl_with_isa};
use ghost_kernels::softmax::{self, softmax_rows_with_isa};
use ghost_kernels::testing::values;
use ghost_kernels::{TensorViewMut, Threads};

use crate::backends;
use crate::check::{assert_within, run_threads, same_bits, Strided};

#[test]
fn dfl_bins_and_sizes() {
    for b in backends() {
        for (i, (shape, bins)) in [
            ([1, 1, 1], 1),
            ([1, 3, 5], 3),
            ([2, 2, 3], 8),
            ([1, 4, 7], 16),
            ([1, 3, 3], 17),
            ([2, 40, 40], 16),
        ]
        .into_iter()
        .enumerate()
        {
            let [n, h, w] = shape;
            let c = 4 * bins;
            let spread = 1.0 + 4.0 * i as f32;
            let v: Vec<f32> = values(i as u64, n * h * w * c)
                .iter()
                .map(|x| x * spread)
                .collect();
            let x = Strided::new([n, h, w, c], 1, 2, &v);
            let what = format!("{} dfl {shape:?} bins {bins}", b.label());
            let got = run_threads(&what, [n, h, w, 4], |out, t| {
                dfl_with_isa(b.isa(), &x.view(), bins, out, t).unwrap()
            });
            let mut want = vec![0.0f32; n * h * w * 4];
            let mut wv = TensorViewMut::dense(&mut want, n, h, w, 4).unwrap();
            dfl::naive::dfl(&x.view(), bins, &mut wv).unwrap();
            // As derived in tests/elementwise.rs: exp of arguments within 2 * spread of each
            // other (relative error ~ (2 spread + 4) u per term) and two sums of `bins` terms,
            // weighted by the largest index `bins - 1`.
            let bound = (bins as f64 - 1.0)
                * ((2.0 * f64::from(spread) + 4.0) + 2.0 * (bins as f64 + 1.0))
                * f64::from(f32::EPSILON)
                + 1e-30;
            assert_within(&what, &got, &want, |_| bound);
        }
    }
}

#[test]
fn softmax_row_lengths() {
    for b in backends() {
        for (i, (rows, row_len)) in [(1, 1), (3, 7), (2, 8), (5, 9), (4, 33), (3, 70), (600, 64)]
            .into_iter()
            .enumerate()
        {
            let spread = 1.0 + 5.0 * i as f32;
            let data: Vec<f32> = values(i as u64, rows * row_len)
                .iter()
                .map(|x| x * spread)
                .collect();
            let mut want = data.clone();
            softmax::naive::softmax_rows(&mut want, row_len).unwrap();
            let what = format!("{} softmax {rows}x{row_len}", b.label());
            let mut first: Option<Vec<f32>> = None;
            for t in [Threads::single(), Threads::new(2).unwrap()] {
                let mut got = data.clone();
                softmax_rows_with_isa(b.isa(), &mut got, row_len, &t).unwrap();
                // As derived in tests/elementwise.rs: exp arguments within 2 * spread, a sum of
                // `row_len` terms and a division, relative to the value.
                let range = 2.0 * f64::from(spread);
                assert_within(&what, &got, &want, |k| {
                    f64::from(want[k])
                        * (2.0 * range + row_len as f64 + 12.0)
                        * f64::from(f32::EPSILON)
                        + 1e-30
                });
                match &first {
                    None => first = Some(got),
                    Some(one) => assert!(same_bits(one, &got), "{what}: 1 and 2 threads differ"),
                }
            }
        }
    }
}
