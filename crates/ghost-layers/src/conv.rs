//! `ConvBnAct`: a convolution with its BatchNorm folded in and a fused activation.
//!
//! The kernel is chosen once at load from the layer's geometry:
//! - 1x1, stride 1, no padding, groups 1 -> the pointwise GEMM ([`PackedPointwise`]);
//! - groups = cin = cout (depthwise) -> the depthwise kernel ([`PackedDepthwise`]);
//! - groups = 1, anything else -> the dense convolution ([`PackedConv`]).
//!
//! Grouped convolutions with `1 < groups < cin`, and depthwise with a channel multiplier, are not
//! used by GhostNet or YOLO11 and are rejected with a configuration error.
//!
//! Tensor names are flexible ([`ConvBnNames`]): Ultralytics `X.conv.weight` + `X.bn.*`, timm
//! `conv_stem.weight` + `bn1.*`, a `Sequential`'s `primary_conv.0` + `primary_conv.1`, or a plain
//! conv with its own bias (`conv_head`).

use ghost_kernels::conv::{conv2d, ConvAlgorithm, PackedConv};
use ghost_kernels::depthwise::{depthwise, PackedDepthwise};
use ghost_kernels::pointwise::{pointwise, PackedPointwise};
use ghost_kernels::quant::{
    conv2d_i8, conv2d_i8_u8, depthwise_i8, depthwise_i8_u8, pointwise_i8, pointwise_i8_u8,
    quantize, PackedConvI8, PackedDepthwiseI8, PackedPointwiseI8, QuantParams, U8View, U8ViewMut,
};
use ghost_kernels::{
    active_isa, Activation, ConvWeights, Epilogue, Isa, Padding, Residual, TensorView,
    TensorViewMut, Window,
};

use crate::bn::{fold, BatchNorm, FoldedConv};
use crate::context::Context;
use crate::cost::Cost;
use crate::error::{LayerError, Result};
use crate::kind::{KernelKind, RecordKind};
use crate::layer::Layer;
use crate::quant::{quant_error, ActQuant, ConvQuant, QuantSite, QuantWeights};
use crate::quantized::QuantizedTensor;
use crate::tensor::Tensor;
use crate::weights::{join_name, WeightSource};

/// Geometry and activation of a convolution layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvSpec {
    /// Input channels.
    pub cin: usize,
    /// Output channels.
    pub cout: usize,
    /// Kernel size and stride (with padding).
    pub window: Window,
    /// 1 (dense) or `cin` (depthwise, `cout == cin`).
    pub groups: usize,
    /// Whether the conv has its own bias tensor (`{conv}.bias`).
    pub bias: bool,
    /// Activation applied after the (folded) BatchNorm.
    pub act: Activation,
}

impl ConvSpec {
    /// A `k x k` stride-1 conv with Ultralytics / PyTorch "same" padding `k / 2`, groups 1, no
    /// bias, no activation.
    pub fn new(cin: usize, cout: usize, k: usize) -> Self {
        ConvSpec {
            cin,
            cout,
            window: Window::same(k, 1),
            groups: 1,
            bias: false,
            act: Activation::Identity,
        }
    }

    /// A depthwise `k x k` conv on `channels` channels (padding `k / 2`).
    pub fn depthwise(channels: usize, k: usize) -> Self {
        ConvSpec {
            groups: channels,
            ..ConvSpec::new(channels, channels, k)
        }
    }

    /// Sets the stride (both axes), keeping the padding.
    pub fn stride(mut self, s: usize) -> Self {
        self.window.stride_h = s;
        self.window.stride_w = s;
        self
    }

    /// Sets symmetric padding `p` on all sides.
    pub fn padding(mut self, p: usize) -> Self {
        self.window.padding = Padding::uniform(p);
        self
    }

    /// Sets the groups (1 or `cin`).
    pub fn groups(mut self, g: usize) -> Self {
        self.groups = g;
        self
    }

    /// Sets whether the conv has its own bias.
    pub fn bias(mut self, bias: bool) -> Self {
        self.bias = bias;
        self
    }

    /// Sets the activation.
    pub fn act(mut self, act: Activation) -> Self {
        self.act = act;
        self
    }

    /// PyTorch weight shape `[cout, cin / groups, kh, kw]`.
    pub fn weight_shape(&self) -> [usize; 4] {
        [
            self.cout,
            self.cin / self.groups.max(1),
            self.window.kernel_h,
            self.window.kernel_w,
        ]
    }

    fn is_pointwise(&self) -> bool {
        let w = &self.window;
        self.groups == 1
            && w.kernel_h == 1
            && w.kernel_w == 1
            && w.stride_h == 1
            && w.stride_w == 1
            && w.padding == Padding::default()
    }

    fn validate(&self, name: &str) -> Result<()> {
        let bad = |reason: String| Err(LayerError::config(name, reason));
        if self.cin == 0 || self.cout == 0 {
            return bad(format!(
                "cin = {} and cout = {} must be at least 1",
                self.cin, self.cout
            ));
        }
        if self.groups != 1 && !(self.groups == self.cin && self.cout == self.cin) {
            return bad(format!(
                "groups = {} with cin = {}, cout = {}: only dense (groups 1) and depthwise \
                 (groups = cin = cout) convolutions are supported",
                self.groups, self.cin, self.cout
            ));
        }
        // Rejects zero kernels / strides and padding >= kernel.
        self.window
            .output_size(self.window.kernel_h, self.window.kernel_w)
            .map_err(|e| LayerError::config(name, e.to_string()))?;
        Ok(())
    }
}

/// Where a conv's weights and its BatchNorm live in the `state_dict`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConvBnNames {
    /// Prefix of the conv tensors (`{conv}.weight`, `{conv}.bias`).
    pub conv: String,
    /// Prefix of the BatchNorm tensors (`{bn}.weight`, `.bias`, `.running_mean`, `.running_var`),
    /// or `None` for a conv without BatchNorm.
    pub bn: Option<String>,
}

impl ConvBnNames {
    /// Explicit conv and BatchNorm prefixes (timm stem: `new("conv_stem", "bn1")`).
    pub fn new(conv: impl Into<String>, bn: impl Into<String>) -> Self {
        ConvBnNames {
            conv: conv.into(),
            bn: Some(bn.into()),
        }
    }

    /// Ultralytics `Conv`: `{prefix}.conv` + `{prefix}.bn`.
    pub fn ultralytics(prefix: &str) -> Self {
        Self::new(join_name(prefix, "conv"), join_name(prefix, "bn"))
    }

    /// timm `ConvBnAct`: `{prefix}.conv` + `{prefix}.bn1`.
    pub fn timm(prefix: &str) -> Self {
        Self::new(join_name(prefix, "conv"), join_name(prefix, "bn1"))
    }

    /// An `nn.Sequential(conv, bn, ...)`: `{prefix}.{conv_index}` + `{prefix}.{conv_index + 1}`.
    pub fn sequential(prefix: &str, conv_index: usize) -> Self {
        Self::new(
            join_name(prefix, &conv_index.to_string()),
            join_name(prefix, &(conv_index + 1).to_string()),
        )
    }

    /// The layer's display name: the dotted prefix shared by the conv and BatchNorm names
    /// (`model.3` for `model.3.conv` + `model.3.bn`), else the conv name (`conv_stem`).
    pub fn layer_name(&self) -> String {
        let Some(bn) = &self.bn else {
            return self.conv.clone();
        };
        let shared: Vec<&str> = self
            .conv
            .split('.')
            .zip(bn.split('.'))
            .take_while(|(a, b)| a == b)
            .map(|(a, _)| a)
            .collect();
        if shared.is_empty() {
            self.conv.clone()
        } else {
            shared.join(".")
        }
    }

    /// A conv with no BatchNorm (its bias, if any, is `{conv}.bias`).
    pub fn conv_only(conv: impl Into<String>) -> Self {
        ConvBnNames {
            conv: conv.into(),
            bn: None,
        }
    }
}

/// The prepacked kernel of a conv layer.
#[derive(Clone, Debug)]
enum Packed {
    Pointwise(PackedPointwise),
    Depthwise(PackedDepthwise),
    Dense(PackedConv),
    // Boxed: the INT8 packs are larger than the FP32 ones, and every FP32 layer would carry
    // their size.
    PointwiseI8(Box<PackedPointwiseI8>),
    DepthwiseI8(Box<PackedDepthwiseI8>),
    DenseI8(Box<PackedConvI8>),
}

/// What an INT8-capable conv call reads: an f32 tensor (with, optionally, its u8 copy made by
/// [`ConvBnAct::quantize_input`]) or u8 codes.
#[derive(Clone, Copy, Debug)]
pub enum ConvInput<'a, 'v> {
    /// An f32 tensor and, optionally, its shared u8 copy.
    F32(&'a TensorView<'v>, Option<&'a QuantizedTensor>),
    /// u8 codes (with the reading conv's input quantization).
    U8(&'a QuantizedTensor),
}

impl ConvInput<'_, '_> {
    /// Shape (NHWC).
    pub fn shape(&self) -> [usize; 4] {
        match self {
            ConvInput::F32(x, _) => x.shape(),
            ConvInput::U8(q) => q.shape(),
        }
    }
}

/// The input of [`ConvBnAct::run`].
enum Source<'a, 'v> {
    F32(&'a TensorView<'v>, Option<&'a QuantizedTensor>),
    U8(&'a QuantizedTensor),
}

/// The output of [`ConvBnAct::run`]: f32, or u8 codes with their quantization.
enum Dest<'a, 'v> {
    F32(&'a mut TensorViewMut<'v>),
    U8(&'a mut U8ViewMut<'v>, ActQuant),
}

/// The f32 input of an FP32 conv.
fn f32_input<'a, 'v>(conv: &ConvBnAct, input: &'a Source<'a, 'v>) -> Result<&'a TensorView<'v>> {
    match input {
        Source::F32(x, _) => Ok(x),
        Source::U8(_) => Err(LayerError::config(
            &conv.name,
            "an FP32 conv cannot read u8 codes",
        )),
    }
}

/// A convolution with folded BatchNorm and fused activation.
#[derive(Clone, Debug)]
pub struct ConvBnAct {
    name: String,
    spec: ConvSpec,
    has_bn: bool,
    packed: Packed,
    /// Where the weights are stored (for calibration), when loaded by name (boxed: read only
    /// while calibrating).
    site: Option<Box<QuantSite>>,
    /// The INT8 model's quantization of this conv's input, when its weights were int8.
    input_quant: Option<ActQuant>,
}

impl ConvBnAct {
    /// Loads the conv (and BatchNorm, if `names.bn` is set) from `weights`, folds the BatchNorm
    /// with `eps`, and prepacks the kernel.
    pub fn load(
        weights: &dyn WeightSource,
        names: &ConvBnNames,
        spec: ConvSpec,
        eps: f64,
    ) -> Result<Self> {
        spec.validate(&names.layer_name())?;
        if weights.is_int8(&join_name(&names.conv, "weight")) {
            let (folded, quant) = Self::load_folded_quant(weights, names, &spec, eps)?;
            let mut layer = Self::from_folded_quant(names.layer_name(), spec, &folded, quant)?;
            layer.has_bn = names.bn.is_some();
            return Ok(layer);
        }
        // The weights stay where the source keeps them (borrowed from a mapped file): the
        // BatchNorm scale is applied as they are packed, so no folded copy is made.
        let weight = weights.load_cow(&join_name(&names.conv, "weight"), &spec.weight_shape())?;
        let (bias, bn) = Self::load_bias_and_bn(weights, names, &spec, eps)?;
        let (scale, bias) = match bn {
            Some(bn) => {
                let fold = bn.output_fold(bias.as_deref())?;
                (Some(fold.scale), fold.bias)
            }
            None => (None, bias.unwrap_or_else(|| vec![0.0; spec.cout])),
        };
        let packed_weights = match &scale {
            Some(scale) => ConvWeights::scaled(&weight, scale),
            None => ConvWeights::new(&weight),
        };
        let mut layer = Self::pack(names.layer_name(), spec, packed_weights, &bias)?;
        layer.has_bn = names.bn.is_some();
        layer.site = Some(Box::new(QuantSite::new(weights, names, spec, eps)));
        Ok(layer)
    }

    /// [`ConvBnAct::load_folded`] plus what INT8 needs to know of the conv: where it is stored
    /// and, for a quantized file (int8 `{conv}.weight`), its input quantization. A quantized
    /// conv's weights come back dequantized (`q * scale[o]`, exact in f32 for the products the
    /// kernels compute) with the stored folded bias.
    pub fn load_folded_quant(
        weights: &dyn WeightSource,
        names: &ConvBnNames,
        spec: &ConvSpec,
        eps: f64,
    ) -> Result<(FoldedConv, ConvQuant)> {
        spec.validate(&names.layer_name())?;
        let site = QuantSite::new(weights, names, *spec, eps);
        if !weights.is_int8(&join_name(&names.conv, "weight")) {
            let folded = Self::load_folded(weights, names, spec, eps)?;
            return Ok((folded, ConvQuant { site, int8: None }));
        }
        let cout = spec.cout;
        let weight_name = join_name(&names.conv, "weight");
        let q = weights.load_i8(&weight_name, &spec.weight_shape())?;
        let scale_name = join_name(&names.conv, "weight_scale");
        let scales = weights.load(&scale_name, &[cout])?;
        if let Some((o, s)) = scales
            .iter()
            .enumerate()
            .find(|(_, s)| !(s.is_normal() && **s > 0.0))
        {
            return Err(quant_error(
                weights,
                &scale_name,
                format!(
                    "scale of output channel {o} is {s}, expected a finite positive normal number"
                ),
            )
            .into());
        }
        let bias_name = join_name(&names.conv, "bias");
        let bias = weights.load(&bias_name, &[cout])?;
        if let Some((o, b)) = bias.iter().enumerate().find(|(_, b)| !b.is_finite()) {
            return Err(quant_error(
                weights,
                &bias_name,
                format!("bias of output channel {o} is {b}"),
            )
            .into());
        }
        let qmax = crate::quant::weight_qmax(spec);
        if let Some((i, v)) = q
            .iter()
            .enumerate()
            .find(|(_, v)| v.unsigned_abs() > qmax.unsigned_abs())
        {
            return Err(quant_error(
                weights,
                &weight_name,
                format!(
                    "code {v} at flat index {i} is outside -{qmax}..={qmax}, the range the \
                     INT8 kernels take for this conv"
                ),
            )
            .into());
        }
        let input = ActQuant::load(weights, &names.conv)?;
        let per = q.len() / cout;
        let weight = q
            .chunks_exact(per.max(1))
            .zip(&scales)
            .flat_map(|(row, &s)| row.iter().map(move |&v| f32::from(v) * s))
            .collect();
        Ok((
            FoldedConv { weight, bias },
            ConvQuant {
                site,
                int8: Some((input, QuantWeights { codes: q, scales })),
            },
        ))
    }

    /// [`ConvBnAct::from_folded`] for weights from [`ConvBnAct::load_folded_quant`] (or a
    /// transform of them, as the split of a 1x1 conv by input channel, applied to the codes
    /// too): calibration records its input range under `quant.site`, and with `quant.int8` it
    /// runs on the INT8 kernels with the stored codes (the bias is `folded.bias`) unless the
    /// active back end runs this shape faster in FP32 ([`crate::quant::runs_as_int8`]): then it
    /// is an FP32 conv on `folded.weight`, which must be the dequantized codes (as
    /// [`ConvBnAct::load_folded_quant`] returns them).
    pub fn from_folded_quant(
        name: impl Into<String>,
        spec: ConvSpec,
        folded: &FoldedConv,
        quant: ConvQuant,
    ) -> Result<Self> {
        Self::from_folded_quant_on(active_isa(), name, spec, folded, quant)
    }

    /// [`ConvBnAct::from_folded_quant`] choosing for back end `isa` instead of the active one
    /// (tests: the choice for a CPU this one is not).
    #[doc(hidden)]
    pub fn from_folded_quant_on(
        isa: Isa,
        name: impl Into<String>,
        spec: ConvSpec,
        folded: &FoldedConv,
        quant: ConvQuant,
    ) -> Result<Self> {
        let name = name.into();
        let int8 = quant
            .int8
            .filter(|_| crate::quant::runs_as_int8(&spec, isa));
        let mut layer = match int8 {
            None => Self::from_folded(name, spec, folded)?,
            Some((input, w)) => {
                spec.validate(&name)?;
                let mut layer = Self::pack_i8(name, spec, &w, &folded.bias)?;
                layer.input_quant = Some(input);
                layer
            }
        };
        layer.site = Some(Box::new(quant.site));
        Ok(layer)
    }

    /// Packs stored INT8 codes for the INT8 kernel that runs `spec`.
    fn pack_i8(name: String, spec: ConvSpec, w: &QuantWeights, bias: &[f32]) -> Result<Self> {
        let b = Some(bias);
        let (codes, scales) = (&w.codes[..], &w.scales[..]);
        let kernel_err = |e| LayerError::kernel(name.clone(), e);
        let (kh, kw) = (spec.window.kernel_h, spec.window.kernel_w);
        let packed = if spec.is_pointwise() {
            Packed::PointwiseI8(Box::new(
                PackedPointwiseI8::from_quantized(codes, scales, b, spec.cin, spec.cout)
                    .map_err(kernel_err)?,
            ))
        } else if spec.groups > 1 {
            Packed::DepthwiseI8(Box::new(
                PackedDepthwiseI8::from_quantized(codes, scales, b, spec.cin, kh, kw)
                    .map_err(kernel_err)?,
            ))
        } else {
            Packed::DenseI8(Box::new(
                PackedConvI8::from_quantized(codes, scales, b, spec.cin, spec.cout, kh, kw)
                    .map_err(kernel_err)?,
            ))
        };
        Ok(ConvBnAct {
            name,
            spec,
            has_bn: false,
            packed,
            site: None,
            input_quant: None,
        })
    }

    /// The input quantization when the conv runs as INT8.
    pub fn input_quant(&self) -> Option<ActQuant> {
        self.input_quant
    }

    /// The conv's weights (`[cout][cin/groups][kh][kw]`) and bias with the BatchNorm (if
    /// `names.bn` is set) folded with `eps`, unpacked: what [`ConvBnAct::load`] packs, for callers
    /// that transform the weights first (e.g. split them by input channel).
    pub fn load_folded(
        weights: &dyn WeightSource,
        names: &ConvBnNames,
        spec: &ConvSpec,
        eps: f64,
    ) -> Result<FoldedConv> {
        spec.validate(&names.layer_name())?;
        let weight = weights.load(&join_name(&names.conv, "weight"), &spec.weight_shape())?;
        let (bias, bn) = Self::load_bias_and_bn(weights, names, spec, eps)?;
        Ok(match bn {
            Some(bn) => fold(weight, bias.as_deref(), &bn)?,
            None => FoldedConv {
                weight,
                bias: bias.unwrap_or_else(|| vec![0.0; spec.cout]),
            },
        })
    }

    /// The conv's own bias (when `spec.bias`) and its BatchNorm (when `names.bn` is set).
    fn load_bias_and_bn(
        weights: &dyn WeightSource,
        names: &ConvBnNames,
        spec: &ConvSpec,
        eps: f64,
    ) -> Result<(Option<Vec<f32>>, Option<BatchNorm>)> {
        let bias = if spec.bias {
            Some(weights.load(&join_name(&names.conv, "bias"), &[spec.cout])?)
        } else {
            None
        };
        let bn = match &names.bn {
            Some(prefix) => Some(BatchNorm::load(weights, prefix, spec.cout, eps)?),
            None => None,
        };
        Ok((bias, bn))
    }

    /// Builds the layer from already-folded weights (`[cout][cin/groups][kh][kw]`) and bias.
    /// `spec.bias` only matters for parameter counting; the bias is always applied. The cost
    /// assumes no BatchNorm.
    pub fn from_folded(
        name: impl Into<String>,
        spec: ConvSpec,
        folded: &FoldedConv,
    ) -> Result<Self> {
        let name = name.into();
        spec.validate(&name)?;
        let expected: usize = spec.weight_shape().iter().product();
        if folded.weight.len() != expected || folded.bias.len() != spec.cout {
            return Err(LayerError::config(
                &name,
                format!(
                    "folded weights hold {} + {} floats, expected {expected} + {} for {:?}",
                    folded.weight.len(),
                    folded.bias.len(),
                    spec.cout,
                    spec.weight_shape()
                ),
            ));
        }
        Self::pack(name, spec, ConvWeights::new(&folded.weight), &folded.bias)
    }

    /// Packs the weights for the kernel that runs `spec` (checked by the caller).
    fn pack(name: String, spec: ConvSpec, w: ConvWeights<'_>, bias: &[f32]) -> Result<Self> {
        let b = Some(bias);
        let kernel_err = |e| LayerError::kernel(name.clone(), e);
        let packed = if spec.is_pointwise() {
            Packed::Pointwise(PackedPointwise::new(w, b, spec.cin, spec.cout).map_err(kernel_err)?)
        } else if spec.groups > 1 {
            // validate() allows groups > 1 only as groups = cin = cout.
            Packed::Depthwise(
                PackedDepthwise::new(w, b, spec.cin, spec.window.kernel_h, spec.window.kernel_w)
                    .map_err(kernel_err)?,
            )
        } else {
            // Winograd F(4x4, 3x3) for stride-1 3x3 layers with enough channels, else the GEMM.
            Packed::Dense(
                PackedConv::for_window(w, b, spec.cin, spec.cout, &spec.window)
                    .map_err(kernel_err)?,
            )
        };
        Ok(ConvBnAct {
            name,
            spec,
            has_bn: false,
            packed,
            site: None,
            input_quant: None,
        })
    }

    /// The layer's geometry and activation.
    pub fn spec(&self) -> &ConvSpec {
        &self.spec
    }

    /// Which kernel runs the layer.
    pub fn kernel_kind(&self) -> KernelKind {
        match &self.packed {
            Packed::Pointwise(_) => KernelKind::Pointwise,
            Packed::Depthwise(_) => KernelKind::Depthwise,
            Packed::Dense(p) => match p.algorithm() {
                ConvAlgorithm::Gemm => KernelKind::Dense,
                ConvAlgorithm::Winograd => KernelKind::Winograd,
            },
            Packed::PointwiseI8(_) => KernelKind::PointwiseI8,
            Packed::DepthwiseI8(_) => KernelKind::DepthwiseI8,
            Packed::DenseI8(_) => KernelKind::DenseI8,
        }
    }

    /// Checks `input` and returns the output shape.
    fn checked_output_shape(&self, input: [usize; 4]) -> Result<[usize; 4]> {
        let [n, h, w, c] = input;
        if c != self.spec.cin {
            return Err(LayerError::Shape {
                layer: self.name.clone(),
                operand: "input",
                expected: format!("c = {}", self.spec.cin),
                found: input,
            });
        }
        let (oh, ow) = self
            .spec
            .window
            .output_size(h, w)
            .map_err(|e| LayerError::kernel(self.name.clone(), e))?;
        Ok([n, oh, ow, self.spec.cout])
    }

    /// Runs the layer into `output` (shape [`Layer::output_shape`]), optionally adding
    /// `residual` (same shape) in the kernel's epilogue before or after the activation.
    pub fn forward_into(
        &self,
        ctx: &mut Context,
        input: &TensorView<'_>,
        output: &mut TensorViewMut<'_>,
        residual: Option<Residual<'_>>,
    ) -> Result<()> {
        self.run(ctx, Source::F32(input, None), Dest::F32(output), residual)
    }

    /// Whether an INT8 conv can read `other`'s quantized input: both are INT8 with the same
    /// input quantization (two convs reading one tensor are calibrated on the same values, so
    /// they get the same parameters).
    pub fn shares_input_quant(&self, other: &ConvBnAct) -> bool {
        self.input_quant.is_some() && self.input_quant == other.input_quant
    }

    /// `input` quantized with this conv's input quantization, for every INT8 conv that reads
    /// `input` with the same quantization ([`ConvBnAct::forward_shared_into`]): one quantization
    /// pass instead of one per reader. `None` for an FP32 conv.
    pub fn quantize_input(
        &self,
        ctx: &mut Context,
        input: &TensorView<'_>,
    ) -> Result<Option<QuantizedTensor>> {
        let Some(q) = self.input_quant else {
            return Ok(None);
        };
        ctx.count_quantize_pass();
        let mut t = QuantizedTensor::alloc(ctx, input.shape(), q);
        let done = t.view_mut().and_then(|mut v| {
            quantize(input, q.params(), &mut v, ctx.threads())
                .map_err(|e| LayerError::kernel(self.name.clone(), e))
        });
        match done {
            Ok(()) => Ok(Some(t)),
            Err(e) => {
                t.recycle(ctx);
                Err(e)
            }
        }
    }

    /// [`ConvBnAct::forward_into`] reading `shared`, the u8 copy of `input` made by
    /// [`ConvBnAct::quantize_input`] (of this conv or another reader of `input`), instead of
    /// quantizing `input` again. `shared` is used only when it has this conv's input
    /// quantization and `input`'s shape; otherwise (an FP32 conv, other parameters) the conv
    /// runs as `forward_into`. The caller guarantees that `shared` holds `input`'s values.
    pub fn forward_shared_into(
        &self,
        ctx: &mut Context,
        input: &TensorView<'_>,
        shared: Option<&QuantizedTensor>,
        output: &mut TensorViewMut<'_>,
        residual: Option<Residual<'_>>,
    ) -> Result<()> {
        let shared =
            shared.filter(|q| Some(q.params()) == self.input_quant && q.shape() == input.shape());
        self.run(ctx, Source::F32(input, shared), Dest::F32(output), residual)
    }

    /// Runs an INT8 conv and writes its output as u8 codes quantized with `out` (the input
    /// quantization of the INT8 conv that reads them: [`ConvBnAct::forward_u8_into`]), through
    /// the kernels' requantizing epilogue: the f32 output, its write and the next conv's
    /// quantization pass are skipped. The codes are those of quantizing the f32 output with
    /// `out` (the same rounding, half to even, and clamping). `input` is f32 (with an optional
    /// shared u8 copy, as [`ConvBnAct::forward_shared_into`]) or already u8. An FP32 conv is a
    /// configuration error. Not for calibration: the range observer sees only f32 inputs.
    pub fn forward_to_u8(
        &self,
        ctx: &mut Context,
        input: ConvInput<'_, '_>,
        out: ActQuant,
        residual: Option<Residual<'_>>,
    ) -> Result<QuantizedTensor> {
        if self.input_quant.is_none() {
            return Err(LayerError::config(
                &self.name,
                "an FP32 conv cannot write u8 codes (only INT8 convs have a requantizing epilogue)",
            ));
        }
        let shape = self.checked_output_shape(input.shape())?;
        let mut t = QuantizedTensor::alloc(ctx, shape, out);
        let source = match input {
            ConvInput::F32(x, shared) => Source::F32(
                x,
                shared.filter(|q| Some(q.params()) == self.input_quant && q.shape() == x.shape()),
            ),
            ConvInput::U8(q) => Source::U8(q),
        };
        let done = t
            .view_mut()
            .and_then(|mut v| self.run(ctx, source, Dest::U8(&mut v, out), residual));
        match done {
            Ok(()) => Ok(t),
            Err(e) => {
                t.recycle(ctx);
                Err(e)
            }
        }
    }

    /// Runs an INT8 conv on u8 codes (made by [`ConvBnAct::forward_to_u8`] or
    /// [`ConvBnAct::quantize_input`]) into the f32 `output`. The codes must carry exactly this
    /// conv's input quantization (else a configuration error: they would be read on the wrong
    /// scale).
    pub fn forward_u8_into(
        &self,
        ctx: &mut Context,
        input: &QuantizedTensor,
        output: &mut TensorViewMut<'_>,
        residual: Option<Residual<'_>>,
    ) -> Result<()> {
        self.run(ctx, Source::U8(input), Dest::F32(output), residual)
    }

    /// Checks that u8 codes `input` are on this conv's input scale: an INT8 conv whose input
    /// quantization is exactly `input`'s (f32 inputs need no check: the conv quantizes them
    /// with its own).
    fn check_u8_input(&self, input: &QuantizedTensor) -> Result<()> {
        match self.input_quant {
            Some(q) if q == input.params() => Ok(()),
            Some(q) => Err(LayerError::config(
                &self.name,
                format!(
                    "u8 input quantized with {:?}, but this conv reads {q:?}",
                    input.params()
                ),
            )),
            None => Err(LayerError::config(
                &self.name,
                "an FP32 conv cannot read u8 codes",
            )),
        }
    }

    /// The one forward path: checks the shapes, observes f32 inputs (calibration), quantizes
    /// an f32 input of an INT8 conv unless a shared copy is given, runs the kernel into an f32
    /// or u8 output and records the call.
    fn run(
        &self,
        ctx: &mut Context,
        input: Source<'_, '_>,
        mut output: Dest<'_, '_>,
        residual: Option<Residual<'_>>,
    ) -> Result<()> {
        let in_shape = match &input {
            Source::F32(x, _) => x.shape(),
            Source::U8(q) => {
                self.check_u8_input(q)?;
                q.shape()
            }
        };
        let expected = self.checked_output_shape(in_shape)?;
        let out_shape = match &output {
            Dest::F32(o) => o.shape(),
            Dest::U8(o, _) => o.shape(),
        };
        if out_shape != expected {
            return Err(LayerError::Shape {
                layer: self.name.clone(),
                operand: "output",
                expected: format!("{expected:?}"),
                found: out_shape,
            });
        }
        if let Some(r) = &residual {
            if r.view.shape() != expected {
                return Err(LayerError::Shape {
                    layer: self.name.clone(),
                    operand: "residual",
                    expected: format!("{expected:?}"),
                    found: r.view.shape(),
                });
            }
        }
        if let Source::F32(x, _) = &input {
            ctx.observe(self.site.as_deref(), x);
        }
        let timer = ctx.start_timer();
        let residual_len = residual.as_ref().map_or(0, |r| r.view.layout().elements());
        let epilogue = Epilogue {
            act: self.spec.act,
            residual,
        };
        // An INT8 conv reading f32 with no shared u8 copy quantizes its input here.
        let own = match (&input, self.input_quant) {
            (Source::F32(x, None), Some(_)) => self.quantize_input(ctx, x)?,
            _ => None,
        };
        let u8_input = match &input {
            Source::U8(q) => Some(*q),
            Source::F32(_, shared) => own.as_ref().or(*shared),
        };
        let result = self.run_kernel(ctx, &input, u8_input, &epilogue, &mut output);
        if let Some(t) = own {
            t.recycle(ctx);
        }
        result?;
        if timer.is_some() {
            let s = &self.spec;
            let flops = Cost::conv(
                expected,
                s.cin,
                s.groups,
                s.window.kernel_h,
                s.window.kernel_w,
                s.bias,
                false,
            )
            .flops_fused;
            let weights = s.weight_shape().iter().product::<usize>() + s.cout;
            let out_elements = expected.iter().product::<usize>();
            let floats = in_shape.iter().product::<usize>() + out_elements + residual_len + weights;
            ctx.record(
                timer,
                &self.name,
                RecordKind::Kernel(self.kernel_kind()),
                flops,
                4 * floats as u64,
            );
        }
        Ok(())
    }

    /// The kernel call of [`ConvBnAct::run`]: FP32 kernels read the f32 input, INT8 kernels
    /// `u8_input` (the quantized input), into `output`.
    fn run_kernel(
        &self,
        ctx: &mut Context,
        input: &Source<'_, '_>,
        u8_input: Option<&QuantizedTensor>,
        epilogue: &Epilogue<'_>,
        output: &mut Dest<'_, '_>,
    ) -> Result<()> {
        let (threads, scratch) = ctx.parts();
        let win = &self.spec.window;
        let err = |e| LayerError::kernel(self.name.clone(), e);
        let int8 = || -> Result<(U8View<'_>, QuantParams)> {
            match (u8_input, self.input_quant) {
                (Some(q), Some(p)) => Ok((q.view()?, p.params())),
                _ => Err(LayerError::config(
                    &self.name,
                    "an INT8 conv ran without its input quantization",
                )),
            }
        };
        match (&self.packed, output) {
            (Packed::Pointwise(p), Dest::F32(o)) => {
                pointwise(f32_input(self, input)?, p, epilogue, o, threads).map_err(err)
            }
            (Packed::Depthwise(p), Dest::F32(o)) => {
                depthwise(f32_input(self, input)?, p, win, epilogue, o, threads).map_err(err)
            }
            (Packed::Dense(p), Dest::F32(o)) => conv2d(
                f32_input(self, input)?,
                p,
                win,
                epilogue,
                o,
                scratch,
                threads,
            )
            .map_err(err),
            (Packed::Pointwise(_) | Packed::Depthwise(_) | Packed::Dense(_), Dest::U8(..)) => Err(
                LayerError::config(&self.name, "an FP32 conv cannot write u8 codes"),
            ),
            (Packed::PointwiseI8(p), Dest::F32(o)) => {
                let (v, params) = int8()?;
                pointwise_i8(&v, params, p, epilogue, o, threads).map_err(err)
            }
            (Packed::PointwiseI8(p), Dest::U8(o, out)) => {
                let (v, params) = int8()?;
                pointwise_i8_u8(&v, params, p, epilogue, o, out.params(), threads).map_err(err)
            }
            (Packed::DepthwiseI8(p), Dest::F32(o)) => {
                let (v, params) = int8()?;
                depthwise_i8(&v, params, p, win, epilogue, o, threads).map_err(err)
            }
            (Packed::DepthwiseI8(p), Dest::U8(o, out)) => {
                let (v, params) = int8()?;
                depthwise_i8_u8(&v, params, p, win, epilogue, o, out.params(), threads).map_err(err)
            }
            (Packed::DenseI8(p), Dest::F32(o)) => {
                let (v, params) = int8()?;
                conv2d_i8(&v, params, p, win, epilogue, o, threads).map_err(err)
            }
            (Packed::DenseI8(p), Dest::U8(o, out)) => {
                let (v, params) = int8()?;
                conv2d_i8_u8(&v, params, p, win, epilogue, o, out.params(), threads).map_err(err)
            }
        }
    }

    /// Runs the layer into a new dense tensor.
    pub fn forward(&self, ctx: &mut Context, input: &TensorView<'_>) -> Result<Tensor> {
        let mut out = ctx.alloc(self.checked_output_shape(input.shape())?);
        self.forward_into(ctx, input, &mut out.view_mut(), None)?;
        Ok(out)
    }
}

impl Layer for ConvBnAct {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> &'static str {
        "ConvBnAct"
    }

    fn output_shape(&self, input: [usize; 4]) -> Result<[usize; 4]> {
        self.checked_output_shape(input)
    }

    fn cost(&self, input: [usize; 4]) -> Result<Cost> {
        let out = self.checked_output_shape(input)?;
        let s = &self.spec;
        Ok(Cost::conv(
            out,
            s.cin,
            s.groups,
            s.window.kernel_h,
            s.window.kernel_w,
            s.bias,
            self.has_bn,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layer_names_use_the_shared_prefix() {
        assert_eq!(ConvBnNames::ultralytics("model.3").layer_name(), "model.3");
        assert_eq!(ConvBnNames::timm("blocks.9.0").layer_name(), "blocks.9.0");
        assert_eq!(
            ConvBnNames::sequential("b.ghost1.primary_conv", 0).layer_name(),
            "b.ghost1.primary_conv"
        );
        assert_eq!(
            ConvBnNames::new("conv_stem", "bn1").layer_name(),
            "conv_stem"
        );
        assert_eq!(
            ConvBnNames::conv_only("conv_head").layer_name(),
            "conv_head"
        );
    }

    #[test]
    fn kernel_choice_follows_geometry() {
        assert!(ConvSpec::new(4, 8, 1).is_pointwise());
        assert!(!ConvSpec::new(4, 8, 1).stride(2).is_pointwise());
        assert!(!ConvSpec::depthwise(4, 3).is_pointwise());
        assert!(ConvSpec::new(4, 8, 3).groups(2).validate("x").is_err());
        assert!(ConvSpec::new(4, 8, 3).groups(4).validate("x").is_err());
        assert!(ConvSpec::depthwise(4, 3).validate("x").is_ok());
        assert!(ConvSpec::new(0, 8, 3).validate("x").is_err());
        assert!(ConvSpec::new(4, 8, 3).padding(3).validate("x").is_err());
    }
}
