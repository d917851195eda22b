//! # ghost-layers
//!
//! Layers that own weights, for GhostNet and YOLO11 inference on CPU: a convolution with its
//! BatchNorm folded in at load time ([`ConvBnAct`]), the Ghost module, the Ghost bottleneck and
//! squeeze-excite, plus what they are built from: an owned NHWC [`Tensor`], weight sources by
//! PyTorch name ([`weights`]), BatchNorm folding ([`bn`]) and params / FLOPs accounting
//! ([`cost`]).
//!
//! Every layer has
//! - `load(weights, names, config) -> Result<Self>`: reads PyTorch tensors by `state_dict` name,
//!   checks their shapes, folds BatchNorms, prepacks kernels;
//! - `forward_into(ctx, input, output, ...)`: writes into a caller-given [`TensorViewMut`], so a
//!   Ghost module's halves and a YOLO concat's parts are written in place (zero copy);
//! - `forward(ctx, input) -> Tensor`: the same into a new tensor;
//! - `output_shape` and `cost` (the [`Layer`] trait).
//!
//! No `unsafe` here: the memory map of a weights file ([`weights::SafetensorsFile::open`]) is
//! `ghost_kernels::MappedFile`, a safe wrapper.
#![forbid(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations)]

pub mod bn;
mod channels;
mod context;
mod conv;
pub mod cost;
mod error;
mod ghost_bottleneck;
mod ghost_module;
mod kind;
mod layer;
pub mod quant;
mod quantized;
mod squeeze_excite;
mod tensor;
pub mod weights;

pub use bn::{BatchNorm, FoldedConv, OutputFold, EPS_TIMM, EPS_ULTRALYTICS};
pub use channels::make_divisible;
pub use context::{Context, ProfileRecord};
pub use conv::{ConvBnAct, ConvBnNames, ConvInput, ConvSpec};
pub use cost::{Cost, CostRow, CostTable};
pub use error::{LayerError, Result};
pub use ghost_bottleneck::{GhostBottleneck, GhostBottleneckSpec};
pub use ghost_module::GhostModule;
pub use kind::{KernelKind, RecordKind};
pub use layer::Layer;
pub use quant::{ActQuant, ConvQuant, QuantSite, RangeObserver, QUANT_SCHEME};
pub use quantized::QuantizedTensor;
pub use squeeze_excite::SqueezeExcite;
pub use tensor::Tensor;
pub use weights::{
    MemoryWeights, NonFiniteReport, Prefixed, SafetensorsFile, SeededWeights, WeightSource,
    WeightsError,
};

pub use ghost_kernels::{
    flush_denormals, Activation, AddOrder, NhwcLayout, Residual, TensorView, TensorViewMut, Threads,
};

/// The README's examples, compiled and run as doc tests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
