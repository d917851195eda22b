//! Random and pinned cases shared by the convolution tests: activations, residual orders,
//! [`RunOptions`], the epilogue a case asks for, and one property test per ISA.

use ghost_kernels::{Activation, AddOrder, Epilogue, TensorView};
use proptest::prelude::*;

/// The sizes of a convolution case: batch, height, width, input and output channels.
#[derive(Clone, Copy, Debug)]
pub struct ConvDims {
    pub n: usize,
    pub h: usize,
    pub w: usize,
    pub cin: usize,
    pub cout: usize,
}

/// Channel counts: 1, `edge`, 16 and 17 (a full 16-wide panel and one more), or any count up to
/// `max`.
pub fn channel_counts(edge: usize, max: usize) -> impl Strategy<Value = usize> + Clone {
    prop_oneof![Just(1usize), Just(edge), Just(16), Just(17), 1usize..=max]
}

/// Any [`ConvDims`]: batch 1 or 2, height and width up to `max_hw`, channel counts from
/// `channels`.
pub fn any_conv_dims(
    max_hw: usize,
    channels: impl Strategy<Value = usize> + Clone,
) -> impl Strategy<Value = ConvDims> {
    (
        1usize..=2,
        1..=max_hw,
        1..=max_hw,
        channels.clone(),
        channels,
    )
        .prop_map(|(n, h, w, cin, cout)| ConvDims { n, h, w, cin, cout })
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
