//! # ghost-kernels
//!
//! Hand-written CPU kernels for lightweight convolutional detectors, on f32 NHWC data held in
//! strided views ([`TensorView`], [`TensorViewMut`]) so that concatenations and Ghost modules are
//! written in place.
//!
//! Every kernel family registers its microkernels in one table per instruction set
//! ([`backend::Backend`]: AVX2+FMA, portable `wide`, scalar f32), and one table is chosen at
//! start-up ([`backend::backend`], `GHOST_KERNELS_ISA` to force one). [`quant`] holds the INT8
//! kernels (u8 activations, s8 per-channel weights, exact i32 sums, the same fused epilogue).
//! The f64 references in the `naive` modules are not a back end: the property and conformance
//! tests compare against them.
//! The safe entry points check every shape, length and stride before any `unsafe` code runs and
//! return a typed [`KernelError`].
#![warn(missing_docs, missing_debug_implementations)]

mod act;
pub mod backend;
pub mod conv;
mod conv_weights;
pub mod depthwise;
pub mod detect_decode;
pub mod dfl;
pub mod elementwise;
mod error;
pub mod fpenv;
mod geometry;
mod isa;
mod lanes;
mod mapped_file;
mod parallel;
pub mod pointwise;
pub mod pool;
pub mod quant;
pub mod resize;
mod scalar_lanes;
mod scratch_pool;
mod simd;
pub mod softmax;
mod team;
#[doc(hidden)]
pub mod testing;
pub mod tolerance;
mod view;

pub use act::{Activation, AddOrder, Epilogue, Residual};
pub use backend::{backend, Backend};
pub use conv_weights::ConvWeights;
pub use error::{KernelError, Result};
pub use fpenv::{flush_denormals, DenormalGuard};
pub use geometry::{Padding, Window};
pub use isa::{active_isa, Isa};
pub use mapped_file::MappedFile;
pub use parallel::Threads;
pub use view::{NhwcLayout, StridedView, StridedViewMut, TensorView, TensorViewMut, ViewElement};

/// The README's examples, compiled and run as doc tests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
