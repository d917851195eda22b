//! SiLU and sigmoid on special values through the fused GEMM epilogue (`gemm`, a K = 1
//! pointwise convolution whose weight is 1, so each output is its input) and the standalone
//! activation (`elementwise`), on every back end: NaN, the infinities, signed zeros, denormals,
//! the exp clamp's neighbourhood (+-87 .. +-90), +-100 and the largest floats.
//!
//! What each must give (the f64 reference where it is finite):
//! - finite `x`: the f64 value within `ACT_REL` relative plus 1e-30 absolute (the vector `exp`
//!   clamps its argument to [-87.3, 88], so SiLU(-100) is a tiny negative, not -3.7e-42, and
//!   sigmoid(-100) ~6e-39: "0 or tiny", never NaN); SiLU of a negative `x` is negative or -0,
//!   SiLU of `x >= 17` is `x` itself and sigmoid of it 1 (there `exp(-x) < 2^-24`);
//! - NaN: NaN; `+inf`: SiLU `+inf`, sigmoid 1; `-inf`: sigmoid 0, SiLU NaN (PyTorch's
//!   `-inf * sigmoid(-inf)`, the scalar and portable back ends) or `-inf` (the AVX2 and AVX-512
//!   code, whose clamp turns it into `-inf / (1 + e^88)`).

use ghost_kernels::elementwise::activate_inplace_with_isa;
use ghost_kernels::pointwise::{pointwise_with_isa, PackedPointwise};
use ghost_kernels::tolerance::ACT_REL;
use ghost_kernels::{Activation, Backend, Epilogue, TensorView, TensorViewMut, Threads};

use crate::backends;

/// The inputs, both signs of each.
fn specials() -> Vec<f32> {
    let magnitudes = [
        0.0,
        1e-40,
        f32::MIN_POSITIVE,
        1e-8,
        0.5,
        16.5,
        17.0,
        50.0,
        87.0,
        87.336_55,
        87.5,
        88.0,
        88.5,
        89.0,
        90.0,
        100.0,
        1e30,
        f32::MAX,
        f32::INFINITY,
    ];
    let mut xs: Vec<f32> = magnitudes.iter().flat_map(|&m| [m, -m]).collect();
    xs.push(f32::NAN);
    xs
}

fn check(what: &str, act: Activation, x: f32, y: f32) {
    let what = format!("{what} {act:?}({x:e}) = {y:e}");
    if x.is_nan() {
        assert!(y.is_nan(), "{what}: expected NaN");
        return;
    }
    let silu = act == Activation::Silu;
    if x == f32::INFINITY {
        assert_eq!(y, if silu { x } else { 1.0 }, "{what}");
        return;
    }
    if x == f32::NEG_INFINITY {
        if silu {
            assert!(y.is_nan() || y == x, "{what}: expected NaN or -inf");
        } else {
            assert_eq!(y, 0.0, "{what}");
        }
        return;
    }
    assert!(!y.is_nan(), "{what}: NaN");
    let r = act.apply_f64(f64::from(x));
    let err = (f64::from(y) - r).abs();
    assert!(err <= ACT_REL * r.abs() + 1e-30, "{what}: expected {r:e}");
    if silu && x < 0.0 {
        assert!(y.is_sign_negative() || y == 0.0, "{what}: expected <= 0");
    }
    if x >= 17.0 {
        assert_eq!(y, if silu { x } else { 1.0 }, "{what}");
    }
}

/// The GEMM tile's epilogue: a full 16-column panel and a 4-column tail (32 + 4 outputs), each
/// pixel one special value.
fn gemm(b: &Backend, act: Activation) {
    let xs = specials();
    let cout = 36;
    let packed = PackedPointwise::new(&vec![1.0; cout], Some(&vec![0.0; cout]), 1, cout).unwrap();
    let input = TensorView::dense(&xs, 1, 1, xs.len(), 1).unwrap();
    let mut out = vec![0.0f32; xs.len() * cout];
    let mut view = TensorViewMut::dense(&mut out, 1, 1, xs.len(), cout).unwrap();
    let epilogue = Epilogue::act(act);
    pointwise_with_isa(
        b.isa(),
        &input,
        &packed,
        &epilogue,
        &mut view,
        &Threads::single(),
    )
    .unwrap();
    for (p, &x) in xs.iter().enumerate() {
        for o in 0..cout {
            // `0 + 1 * x` is `x` except for -0, which becomes +0.
            let x = if x == 0.0 { 0.0 } else { x };
            check(
                &format!("{} gemm channel {o}", b.label()),
                act,
                x,
                out[p * cout + o],
            );
        }
    }
}

/// The standalone activation (8-lane blocks and a tail).
fn elementwise(b: &Backend, act: Activation) {
    let xs = specials();
    let mut buf = xs.clone();
    let mut view = TensorViewMut::dense(&mut buf, 1, 1, xs.len(), 1).unwrap();
    activate_inplace_with_isa(b.isa(), &mut view, act, &Threads::single()).unwrap();
    for (&x, &y) in xs.iter().zip(&buf) {
        check(&format!("{} elementwise", b.label()), act, x, y);
        if x == 0.0 {
            let half = if act == Activation::Silu { x } else { 0.5 };
            assert_eq!(y.to_bits(), half.to_bits(), "{act:?}({x:e}) = {y:e}");
        }
    }
}

#[test]
fn silu_and_sigmoid_special_values() {
    for b in backends() {
        for act in [Activation::Silu, Activation::Sigmoid] {
            gemm(b, act);
            elementwise(b, act);
        }
    }
}
