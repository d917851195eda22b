//! Typed names for what a profile record times: a kernel family or a whole model layer.

use std::fmt;

/// The kernel family a conv layer runs on (chosen at load from its shape).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum KernelKind {
    /// 1x1 conv as a GEMM.
    Pointwise,
    /// Depthwise conv.
    Depthwise,
    /// Dense conv as a GEMM over im2col panels.
    Dense,
    /// Dense 3x3 stride-1 conv as Winograd F(4x4, 3x3).
    Winograd,
    /// INT8 1x1 conv (u8 x s8 GEMM), its input quantization included.
    PointwiseI8,
    /// INT8 depthwise conv, its input quantization included.
    DepthwiseI8,
    /// INT8 dense conv, its input quantization included.
    DenseI8,
}

impl KernelKind {
    /// Its name in tables: `pointwise`, `depthwise`, `dense`, `winograd`, and `-i8` for INT8.
    pub fn name(self) -> &'static str {
        match self {
            KernelKind::Pointwise => "pointwise",
            KernelKind::Depthwise => "depthwise",
            KernelKind::Dense => "dense",
            KernelKind::Winograd => "winograd",
            KernelKind::PointwiseI8 => "pointwise-i8",
            KernelKind::DepthwiseI8 => "depthwise-i8",
            KernelKind::DenseI8 => "dense-i8",
        }
    }
}

impl fmt::Display for KernelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

/// A kind equals its [`KernelKind::name`] (tables of expected kinds read as text).
impl PartialEq<&str> for KernelKind {
    fn eq(&self, other: &&str) -> bool {
        self.name() == *other
    }
}

/// What a [`crate::ProfileRecord`] times.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RecordKind {
    /// One kernel call.
    Kernel(KernelKind),
    /// A whole model layer (its kernel calls are recorded separately, inside it).
    Layer,
}

impl RecordKind {
    /// Its name in tables: the kernel's, or `layer`.
    pub fn name(self) -> &'static str {
        match self {
            RecordKind::Kernel(k) => k.name(),
            RecordKind::Layer => "layer",
        }
    }
}

impl fmt::Display for RecordKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}
