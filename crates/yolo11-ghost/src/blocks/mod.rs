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

use ghost_layers::{Context, TensorView, TensorViewMut, WeightSource};

pub use bottleneck::Bottleneck;
pub use c2f::C2f;
pub use c3::{C3Inner, C3};
pub use conv::Conv;
pub use detect::Detect;
pub use ghost::{GhostBottleneck, GhostConv};
pub use psa::C2psa;
pub use sppf::Sppf;

use crate::error::Result;
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
}
