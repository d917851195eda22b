//! Helpers shared by the kernel test binaries (each binary uses a subset, hence `dead_code`).
#![allow(dead_code, unused_imports)]

use ghost_kernels::{
    Activation, AddOrder, Epilogue, NhwcLayout, TensorView, TensorViewMut, Threads,
};
use proptest::prelude::*;

pub mod winograd_sums;

pub use ghost_kernels::testing::{proptest_cases, test_isas};

/// A strided layout: `offset` floats before the channels and `extra` after them in each pixel.
pub fn strided(n: usize, h: usize, w: usize, c: usize, offset: usize, extra: usize) -> NhwcLayout {
    NhwcLayout {
        n,
        h,
        w,
        c,
        pixel_stride: offset + c + extra,
        channel_offset: offset,
    }
}

/// A NaN-filled buffer for `layout` with `data` (dense n*h*w*c) written into its channel range.
pub fn fill(layout: &NhwcLayout, data: &[f32]) -> Vec<f32> {
    let mut buf = vec![f32::NAN; layout.pixels() * layout.pixel_stride];
    let mut view = TensorViewMut::new(&mut buf, *layout).unwrap();
    view.copy_from_dense(data).unwrap();
    buf
}

/// Whether buffer position `i` lies inside `layout`'s channel range.
pub fn inside(layout: &NhwcLayout, i: usize) -> bool {
    let ch = i % layout.pixel_stride;
    ch >= layout.channel_offset && ch < layout.channel_offset + layout.c
}

/// Deterministic pseudo-random values in [-1, 1) (SplitMix64): the inputs of the depthwise,
/// element-wise and pooling tests. (The others use `ghost_kernels::testing::values`, another
/// generator; each file keeps the one it was written with, so its cases stay the same.)
pub fn splitmix_values(seed: u64, len: usize) -> Vec<f32> {
    let mut state = seed;
    (0..len)
        .map(|_| {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            ((z >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

/// A buffer for `layout` whose every float is NaN except the view's elements, set from `values`
/// (dense n*h*w*c order); 3 spare NaN floats after the view's last element show a write past
/// its end.
pub fn sentinel_buffer(layout: &NhwcLayout, values: &[f32]) -> Vec<f32> {
    let mut buf = vec![f32::NAN; layout.required_len() + 3];
    TensorViewMut::new(&mut buf, *layout)
        .unwrap()
        .copy_from_dense(values)
        .unwrap();
    buf
}

/// Asserts every float of `buf` outside `layout`'s elements is still NaN (nothing was written
/// outside the view); `what` (the ISA, the case) goes into the failure message.
pub fn assert_sentinels(buf: &[f32], layout: &NhwcLayout, what: impl std::fmt::Debug) {
    let mut inside = vec![false; buf.len()];
    for p in 0..layout.pixels() {
        let o = layout.pixel_offset(p);
        inside[o..o + layout.c].iter_mut().for_each(|v| *v = true);
    }
    for (i, (&v, &inside)) in buf.iter().zip(&inside).enumerate() {
        assert!(
            inside || v.is_nan(),
            "{what:?}: stray write at float {i}: {v}"
        );
    }
}

/// Whether `a` and `b` are equal bit for bit.
pub fn same_bits(a: &[f32], b: &[f32]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
}

/// Whether `a` and `b` are equal bit for bit, any NaN matching any NaN (a maximum over a window
/// with a NaN is NaN, whichever NaN payload the implementation keeps).
pub fn same_bits_or_both_nan(a: &[f32], b: &[f32]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()))
}

/// One thread, then two: results must not depend on the split.
pub fn one_and_two_threads() -> [Threads; 2] {
    [Threads::single(), Threads::new(2).unwrap()]
}

/// Any activation.
pub fn any_activation() -> impl Strategy<Value = Activation> {
    prop::sample::select(Activation::ALL.to_vec())
}

/// No residual, or one added before or after the activation.
pub fn any_residual_order() -> impl Strategy<Value = Option<AddOrder>> {
    prop_oneof![
        Just(None),
        Just(Some(AddOrder::BeforeActivation)),
        Just(Some(AddOrder::AfterActivation))
    ]
}

/// What a convolution case varies besides its shapes and layouts: the activation, the residual
/// and when it is added, whether there is a bias, the thread count, and the seed of its values.
#[derive(Clone, Copy, Debug)]
pub struct RunOptions {
    pub act: Activation,
    pub residual: Option<AddOrder>,
    pub bias: bool,
    pub threads: usize,
    pub seed: u64,
}

/// Any [`RunOptions`]: every activation and residual order, with and without bias, 1 or 2
/// threads.
pub fn any_run_options() -> impl Strategy<Value = RunOptions> {
    (
        any_activation(),
        any_residual_order(),
        any::<bool>(),
        1usize..=2,
        any::<u64>(),
    )
        .prop_map(|(act, residual, bias, threads, seed)| RunOptions {
            act,
            residual,
            bias,
            threads,
            seed,
        })
}

/// The epilogue of a case: `act`, and `residual` added in `order` when there is one.
pub fn epilogue<'a>(
    act: Activation,
    order: Option<AddOrder>,
    residual: TensorView<'a>,
) -> Epilogue<'a> {
    match order {
        None => Epilogue::act(act),
        Some(order) => Epilogue::with_residual(act, residual, order),
    }
}

/// How a residual value `r` enters a GEMM-style error bound: `(added to the sum of absolute
/// terms, magnitude added after the activation)`. Added before the activation, |r| is one more
/// term of the sum; added after, the activation's relative error applies to |reference| + 2|r|
/// (which bounds |act(acc)|, so cancellation in the final add cannot hide that error).
pub fn residual_error_terms(order: Option<AddOrder>, r: f64) -> (f64, f64) {
    match order {
        None => (0.0, 0.0),
        Some(AddOrder::BeforeActivation) => (r.abs(), 0.0),
        Some(AddOrder::AfterActivation) => (0.0, r.abs()),
    }
}

/// One property test per ISA, each running `$check(isa, &case)` on cases of `$strategy` when
/// the tests cover that ISA (`ghost_kernels::testing::tests_isa`): a failure names the ISA, and
/// each ISA gets its own random cases.
#[macro_export]
macro_rules! proptest_per_isa {
    (cases: $cases:expr, strategy: $strategy:expr, check: $check:expr,
     tests: { $($(#[$meta:meta])* $name:ident => $isa:expr),+ $(,)? }) => {
        proptest! {
            #![proptest_config(ProptestConfig::with_cases($crate::common::proptest_cases($cases)))]
            $(
                $(#[$meta])*
                #[test]
                fn $name(c in $strategy) {
                    if ghost_kernels::testing::tests_isa($isa) {
                        ($check)($isa, &c);
                    }
                }
            )+
        }
    };
}
