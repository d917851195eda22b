//! The conformance suite: every microkernel registered in the backend table
//! (`ghost_kernels::Backend`), on every back end this CPU supports, against the f64 oracles.
//!
//! Like tract's `test_mmm_kernel!`, the cases are not written per kernel: each family's cases
//! run through [`backends`], so a new back end (or a kernel swapped into an existing one) is
//! tested by registering it, and [`coverage::every_registered_family_has_cases`] fails when a
//! family is registered that no case here exercises. What every family is put through:
//! - edge tiles: pixel counts around every back end's row tile (1, 2, 6 and 12 rows) and
//!   channel counts around the 8-lane vectors and 16-wide panels;
//! - K = 1 and odd sizes everywhere, a reduction longer than one cache block (K = 600);
//! - strided input, output and residual views inside NaN-filled buffers (the sentinels must
//!   survive: no write outside the output's channels);
//! - every activation with every residual order (none, before, after the activation);
//! - 1 and 2 threads, bit for bit (cases large enough to be split).
//!
//! Tolerances are the derived ones of `ghost_kernels::tolerance` (each use says why it
//! applies); operations that round once (add, mul, max, copies) are compared bit for bit.

#[path = "../common/mod.rs"]
mod common;

mod check;
mod conv;
mod coverage;
mod cross_isa;
mod decode;
mod depthwise;
mod elementwise;
mod gemm;
mod pool;
mod quant;
mod quant_tile;
mod reduce;
mod special;

use ghost_kernels::{Activation, AddOrder, Backend};

/// The back ends under test: every one this CPU supports, or those of them named in
/// `GHOST_KERNELS_TEST_ISAS` (`ghost_kernels::testing::test_isas`; the aarch64 CI run under
/// emulation names `neon` only).
pub fn backends() -> Vec<&'static Backend> {
    let wanted = ghost_kernels::testing::test_isas();
    let all: Vec<_> = Backend::supported()
        .filter(|b| wanted.contains(&b.isa()))
        .collect();
    assert!(!all.is_empty(), "no back end is supported");
    all
}

/// Every epilogue: each activation alone and with a residual before / after it.
pub fn epilogues() -> Vec<(Activation, Option<AddOrder>)> {
    let mut all = Vec::new();
    for act in Activation::ALL {
        for order in [
            None,
            Some(AddOrder::BeforeActivation),
            Some(AddOrder::AfterActivation),
        ] {
            all.push((act, order));
        }
    }
    all
}
