//! The YOLO building blocks, loaded from Ultralytics `state_dict` names with every BatchNorm
//! folded, each running into a caller-given output view (a channel slice of a concat buffer
//! when the graph can place it there).

pub mod attention;
pub mod bottleneck;
pub mod c2f;
pub mod c3;
pub mod conv;
pub mod detect;
pub mod ghost;
pub mod psa;
pub mod resample;
pub mod sppf;

use ghost_layers::{
    ActQuant, Context, ConvInput, QuantizedTensor, TensorView, TensorViewMut, WeightSource,
};

pub use bottleneck::Bottleneck;
pub use c2f::C2f;
pub use c3::{C3Inner, C3};
pub use conv::Conv;
pub use detect::Detect;
pub use ghost::{GhostBottleneck, GhostConv};
pub use psa::C2psa;
pub use sppf::Sppf;

use crate::error::{Result, YoloError};
use crate::spec::{CspArgs, ModuleSpec};

/// A single-input, single-output block (one copy of a YAML row's module).
#[derive(Clone, Debug)]
pub enum Block {
    /// `Conv` / `DWConv`.
    Conv(Box<Conv>),
    /// `GhostConv`.
    GhostConv(Box<GhostConv>),
    /// `Bottleneck`.
    Bottleneck(Box<Bottleneck>),
    /// `C2f` / `C3k2`.
    C2f(Box<C2f>),
    /// `C3` / `C3k` / `C3Ghost`.
    C3(Box<C3>),
    /// Ultralytics `GhostBottleneck`.
    GhostBottleneck(Box<GhostBottleneck>),
    /// `SPPF`.
    Sppf(Box<Sppf>),
    /// `C2PSA`.
    C2psa(Box<C2psa>),
}

impl Block {
    /// Loads one copy of a single-input module from `{prefix}.*`; `None` for modules the graph
    /// runs itself (Upsample, Concat, Detect, GhostNet, Index).
    pub fn load(
        weights: &dyn WeightSource,
        prefix: &str,
        module: &ModuleSpec,
    ) -> Result<Option<Block>> {
        let c3 = |a: &CspArgs, inner| C3::load(weights, prefix, a, inner);
        Ok(Some(match module {
            ModuleSpec::Conv(a) | ModuleSpec::DWConv(a) => {
                Block::Conv(Box::new(Conv::load(weights, prefix, a)?))
            }
            ModuleSpec::GhostConv(a) => {
                Block::GhostConv(Box::new(GhostConv::load(weights, prefix, a)?))
            }
            ModuleSpec::Bottleneck(a) => {
                Block::Bottleneck(Box::new(Bottleneck::load(weights, prefix, a)?))
            }
            ModuleSpec::C2f(a) => Block::C2f(Box::new(C2f::load_c2f(weights, prefix, a)?)),
            ModuleSpec::C3k2(a) => Block::C2f(Box::new(C2f::load_c3k2(weights, prefix, a)?)),
            ModuleSpec::C3(a) => Block::C3(Box::new(c3(a, C3Inner::Bottleneck(1, 3))?)),
            ModuleSpec::C3Ghost(a) => Block::C3(Box::new(c3(a, C3Inner::Ghost)?)),
            ModuleSpec::GhostBottleneck(a) => {
                Block::GhostBottleneck(Box::new(GhostBottleneck::load(weights, prefix, a)?))
            }
            ModuleSpec::Sppf(a) => Block::Sppf(Box::new(Sppf::load(weights, prefix, a)?)),
            ModuleSpec::C2psa(a) => Block::C2psa(Box::new(C2psa::load(weights, prefix, a)?)),
            ModuleSpec::Upsample { .. }
            | ModuleSpec::Concat { .. }
            | ModuleSpec::Detect(_)
            | ModuleSpec::GhostNet { .. }
            | ModuleSpec::Index { .. } => return Ok(None),
        }))
    }

    /// Output shape (NHWC) for an input shape.
    pub fn output_shape(&self, input: [usize; 4]) -> Result<[usize; 4]> {
        match self {
            Block::Conv(b) => b.output_shape(input),
            Block::GhostConv(b) => b.output_shape(input),
            Block::Bottleneck(b) => b.output_shape(input),
            Block::C2f(b) => b.output_shape(input),
            Block::C3(b) => b.output_shape(input),
            Block::GhostBottleneck(b) => b.output_shape(input),
            Block::Sppf(b) => b.output_shape(input),
            Block::C2psa(b) => b.output_shape(input),
        }
    }

    /// Runs into `out` (shape [`Block::output_shape`]; may be a channel slice of a wider buffer,
    /// but must not overlap `x`).
    pub fn forward_into(
        &self,
        ctx: &mut Context,
        x: &TensorView<'_>,
        out: &mut TensorViewMut<'_>,
    ) -> Result<()> {
        match self {
            Block::Conv(b) => b.forward_into(ctx, x, out, None),
            Block::GhostConv(b) => b.forward_into(ctx, x, out, None),
            Block::Bottleneck(b) => b.forward_into(ctx, x, out),
            Block::C2f(b) => b.forward_into(ctx, x, out),
            Block::C3(b) => b.forward_into(ctx, x, out),
            Block::GhostBottleneck(b) => b.forward_into(ctx, x, out),
            Block::Sppf(b) => b.forward_into(ctx, x, out),
            Block::C2psa(b) => b.forward_into(ctx, x, out),
        }
    }

    /// The INT8 conv through which this block reads its input, when it is the input's only
    /// reader inside the block (so the block can run on u8 codes with that conv's input
    /// quantization: [`Block::forward_input_into`] with [`ConvInput::U8`]). `None` for blocks
    /// that read their input in f32 somewhere (FP32 convs, shortcuts) or that have no u8 path.
    pub fn u8_reader(&self) -> Option<&Conv> {
        match self {
            Block::Conv(b) => b.input_quant().map(|_| &**b),
            Block::C2f(b) => b.u8_reader(),
            Block::Sppf(b) => b.u8_reader(),
            Block::C2psa(b) => b.u8_reader(),
            Block::GhostConv(_)
            | Block::Bottleneck(_)
            | Block::C3(_)
            | Block::GhostBottleneck(_) => None,
        }
    }

    /// The INT8 conv that writes this block's output with nothing added after it, so that the
    /// block can write u8 codes through its requantizing epilogue ([`Block::forward_to_u8`]).
    pub fn u8_writer(&self) -> Option<&Conv> {
        match self {
            Block::Conv(b) => b.input_quant().map(|_| &**b),
            Block::C2f(b) => b.u8_writer(),
            Block::Sppf(b) => b.u8_writer(),
            Block::C2psa(b) => b.u8_writer(),
            Block::GhostConv(_)
            | Block::Bottleneck(_)
            | Block::C3(_)
            | Block::GhostBottleneck(_) => None,
        }
    }

    /// [`Block::forward_into`] on an f32 input with an optional shared u8 copy (used by the
    /// blocks that have a [`Block::u8_reader`]) or on u8 codes (only those blocks).
    pub fn forward_input_into(
        &self,
        ctx: &mut Context,
        x: ConvInput<'_, '_>,
        out: &mut TensorViewMut<'_>,
    ) -> Result<()> {
        match (self, x) {
            (Block::Conv(b), x) => b.forward_input_into(ctx, x, out, None),
            (Block::C2f(b), x) => b.forward_input_into(ctx, x, out),
            (Block::Sppf(b), x) => b.forward_input_into(ctx, x, out),
            (Block::C2psa(b), x) => b.forward_input_into(ctx, x, out),
            (_, ConvInput::F32(x, _)) => self.forward_into(ctx, x, out),
            (_, ConvInput::U8(_)) => Err(YoloError::config(
                "block",
                "this block reads its input in f32 and cannot run on u8 codes",
            )),
        }
    }

    /// The output as u8 codes quantized with `out`, written by the requantizing epilogue of
    /// [`Block::u8_writer`] (a configuration error for blocks without one).
    pub fn forward_to_u8(
        &self,
        ctx: &mut Context,
        x: ConvInput<'_, '_>,
        out: ActQuant,
    ) -> Result<QuantizedTensor> {
        match self {
            Block::Conv(b) => b.forward_to_u8(ctx, x, out),
            Block::C2f(b) => b.forward_to_u8(ctx, x, out),
            Block::Sppf(b) => b.forward_to_u8(ctx, x, out),
            Block::C2psa(b) => b.forward_to_u8(ctx, x, out),
            Block::GhostConv(_)
            | Block::Bottleneck(_)
            | Block::C3(_)
            | Block::GhostBottleneck(_) => Err(YoloError::config(
                "block",
                "this block has no INT8 output conv and cannot write u8 codes",
            )),
        }
    }
}
