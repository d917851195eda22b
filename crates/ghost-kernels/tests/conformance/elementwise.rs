//! `elementwise`: add, mul, in-place add, channel scale (and in place), and the standalone
//! activations, on strided views with NaN sentinels.

use ghost_kernels::elementwise::{
    activate_inplace_with_isa, add_inplace_with_isa, binary_with_isa,
    channel_scale_inplace_with_isa, channel_scale_with_isa, naive, BinaryOp,
};
use ghost_kernels::testing::values;
use ghost_kernels::tolerance::ACT_REL;
use ghost_kernels::{Activation, Backend, TensorViewMut};

use crate::backends;
use crate::check::{assert_exact, assert_within, run_threads, run_threads_inplace, Strided};

/// Shapes around the 8-lane blocks (1, 7, 8, 9, 17, 33 channels) plus one that two threads
/// split (2 x 64 x 64 x 16 floats: four 32 Ki-float chunks).
const SHAPES: [[usize; 4]; 7] = [
    [1, 1, 1, 1],
    [2, 3, 5, 7],
    [1, 2, 3, 8],
    [2, 3, 1, 9],
    [1, 5, 3, 17],
    [2, 2, 2, 33],
    [2, 64, 64, 16],
];

fn len(shape: [usize; 4]) -> usize {
    shape.iter().product()
}

fn binary_ops(b: &Backend, shape: [usize; 4], seed: u64) {
    let [n, h, w, c] = shape;
    let x = Strided::new(shape, 1, 2, &values(seed, len(shape)));
    let y = Strided::new(shape, 0, 3, &values(seed ^ 1, len(shape)));
    for op in [BinaryOp::Add, BinaryOp::Mul] {
        let what = format!("{} {op:?} {shape:?}", b.label());
        let got = run_threads(&what, shape, |out, t| {
            binary_with_isa(b.isa(), op, &x.view(), &y.view(), out, t).unwrap()
        });
        let mut want = vec![0.0f32; len(shape)];
        let mut wv = TensorViewMut::dense(&mut want, n, h, w, c).unwrap();
        naive::binary(op, &x.view(), &y.view(), &mut wv).unwrap();
        // One rounding per element: exact.
        assert_exact(&what, &got, &want);
        if op == BinaryOp::Add {
            let what = format!("{} add in place {shape:?}", b.label());
            let got = run_threads_inplace(&what, &x, |v, t| {
                add_inplace_with_isa(b.isa(), v, &y.view(), t).unwrap()
            });
            assert_exact(&what, &got, &want);
        }
    }
}

fn channel_scale(b: &Backend, shape: [usize; 4], seed: u64) {
    let [n, h, w, c] = shape;
    let x = Strided::new(shape, 1, 2, &values(seed, len(shape)));
    let s = Strided::new([n, 1, 1, c], 1, 1, &values(seed ^ 5, n * c));
    let what = format!("{} channel_scale {shape:?}", b.label());
    let got = run_threads(&what, shape, |out, t| {
        channel_scale_with_isa(b.isa(), &x.view(), &s.view(), out, t).unwrap()
    });
    let mut want = vec![0.0f32; len(shape)];
    let mut wv = TensorViewMut::dense(&mut want, n, h, w, c).unwrap();
    naive::channel_scale(&x.view(), &s.view(), &mut wv).unwrap();
    assert_exact(&what, &got, &want);
    let what = format!("{} channel_scale in place {shape:?}", b.label());
    let got = run_threads_inplace(&what, &x, |v, t| {
        channel_scale_inplace_with_isa(b.isa(), v, &s.view(), t).unwrap()
    });
    assert_exact(&what, &got, &want);
}

fn activations(b: &Backend, shape: [usize; 4], seed: u64) {
    // Spread over [-12, 12]: both tails of the sigmoids.
    let v: Vec<f32> = values(seed, len(shape)).iter().map(|v| v * 12.0).collect();
    let x = Strided::new(shape, 1, 2, &v);
    for act in Activation::ALL {
        let what = format!("{} activate {act:?} {shape:?}", b.label());
        let got = run_threads_inplace(&what, &x, |view, t| {
            activate_inplace_with_isa(b.isa(), view, act, t).unwrap()
        });
        let want: Vec<f32> = v
            .iter()
            .map(|&x| act.apply_f64(f64::from(x)) as f32)
            .collect();
        // `ACT_REL`: the vector activation's relative error (exp, one division); the f64
        // oracle's rounding to f32 adds half an ulp, inside its margin.
        assert_within(&what, &got, &want, |i| {
            ACT_REL * act.apply_f64(f64::from(v[i])).abs() + 1e-30
        });
    }
}

#[test]
fn binary_ops_are_exact() {
    for b in backends() {
        for (i, shape) in SHAPES.into_iter().enumerate() {
            binary_ops(b, shape, i as u64);
        }
    }
}

#[test]
fn channel_scale_is_exact() {
    for b in backends() {
        for (i, shape) in SHAPES.into_iter().enumerate() {
            channel_scale(b, shape, 20 + i as u64);
        }
    }
}

#[test]
fn every_activation() {
    for b in backends() {
        for (i, shape) in SHAPES.into_iter().enumerate() {
            activations(b, shape, 40 + i as u64);
        }
    }
}
