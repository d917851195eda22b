//! Activations and the fused epilogue every producing kernel applies before it stores:
//! `bias -> [residual add] -> activation -> [residual add] -> store`.

use crate::view::TensorView;

/// The element-wise activations the models use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Activation {
    /// `x`
    #[default]
    Identity,
    /// `max(x, 0)`
    Relu,
    /// `x * sigmoid(x)` (Ultralytics' default act).
    Silu,
    /// `relu6(x + 3) / 6` (GhostNet's SE gate, timm `hard_sigmoid`).
    HardSigmoid,
    /// `1 / (1 + exp(-x))`
    Sigmoid,
}

impl Activation {
    /// Every activation, for exhaustive tests.
    pub const ALL: [Activation; 5] = [
        Activation::Identity,
        Activation::Relu,
        Activation::Silu,
        Activation::HardSigmoid,
        Activation::Sigmoid,
    ];

    /// Whether it evaluates `exp` (SiLU, sigmoid): a long dependency chain per vector, which
    /// the epilogues run on several vectors side by side; the others are one or two operations.
    pub fn is_transcendental(self) -> bool {
        matches!(self, Activation::Silu | Activation::Sigmoid)
    }

    /// Reference scalar evaluation in f64 (what the naive kernels use).
    pub fn apply_f64(self, x: f64) -> f64 {
        match self {
            Activation::Identity => x,
            Activation::Relu => x.max(0.0),
            Activation::Silu => x / (1.0 + (-x).exp()),
            Activation::HardSigmoid => (x + 3.0).clamp(0.0, 6.0) / 6.0,
            Activation::Sigmoid => 1.0 / (1.0 + (-x).exp()),
        }
    }

    /// Scalar f32 evaluation, used by kernel tails. Vector paths must agree with it to the
    /// activation tolerance documented in `tolerance`.
    #[inline(always)]
    pub fn apply(self, x: f32) -> f32 {
        match self {
            Activation::Identity => x,
            Activation::Relu => x.max(0.0),
            Activation::Silu => x / (1.0 + (-x).exp()),
            Activation::HardSigmoid => (x + 3.0).clamp(0.0, 6.0) * (1.0 / 6.0),
            Activation::Sigmoid => 1.0 / (1.0 + (-x).exp()),
        }
    }
}

/// Where a fused residual add happens relative to the activation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AddOrder {
    /// `act(acc + bias + r)`
    BeforeActivation,
    /// `act(acc + bias) + r` (YOLO `Bottleneck` shortcut; Ghost bottleneck with identity act).
    AfterActivation,
}

/// A residual tensor added in a kernel's epilogue. Its shape must equal the output's.
#[derive(Clone, Copy, Debug)]
pub struct Residual<'a> {
    /// The tensor to add.
    pub view: TensorView<'a>,
    /// Before or after the activation.
    pub order: AddOrder,
}

/// What a producing kernel does to its accumulators before it stores them (bias is part of the
/// packed weights).
#[derive(Clone, Copy, Default, Debug)]
pub struct Epilogue<'a> {
    /// Activation applied to `acc + bias`.
    pub act: Activation,
    /// Optional residual add.
    pub residual: Option<Residual<'a>>,
}

impl<'a> Epilogue<'a> {
    /// Only an activation.
    pub fn act(act: Activation) -> Self {
        Epilogue {
            act,
            residual: None,
        }
    }

    /// An activation and a residual add.
    pub fn with_residual(act: Activation, view: TensorView<'a>, order: AddOrder) -> Self {
        Epilogue {
            act,
            residual: Some(Residual { view, order }),
        }
    }

    /// Scalar reference of the whole epilogue for one value.
    #[inline(always)]
    pub fn apply_scalar(&self, acc_plus_bias: f32, residual: f32) -> f32 {
        match self.residual.map(|r| r.order) {
            None => self.act.apply(acc_plus_bias),
            Some(AddOrder::BeforeActivation) => self.act.apply(acc_plus_bias + residual),
            Some(AddOrder::AfterActivation) => self.act.apply(acc_plus_bias) + residual,
        }
    }
}
