//! Pointwise (1x1) convolution: a GEMM with M = pixels, K = input channels, N = output channels.
//!
//! Weights are prepacked once into 16-channel panels with the bias in front ([`PackedPointwise`]).
//! Activations are read in place through the input's pixel stride (never packed), and the
//! fused epilogue (`bias -> [residual] -> activation -> [residual]`) writes straight into the
//! output's channel range, so a pointwise conv can fill one half of a Ghost module's buffer or
//! one slice of a YOLO concat.
//!
//! Implementations: an AVX2+FMA 6x16 microkernel (12x8 on panels with at most 8 valid channels),
//! an AVX-512 8x16 one (`avx512`, zmm registers through `asm!`, the `avx512vnni` back end's)
//! plus a direct small-channel kernel for `cout <= 16`, a portable `wide` 2x16 microkernel and a
//! scalar 1x16 one, all behind the same driver (which the dense convolution shares), each
//! registered in its back end's table ([`mod@crate::backend`]); [`naive`] is the f64 reference the
//! tests compare against. The back end is chosen at start-up ([`active_isa`]);
//! [`pointwise_with_isa`] forces one (tests, benches).

#[cfg(target_arch = "x86_64")]
pub(crate) mod avx2;
#[cfg(target_arch = "x86_64")]
pub(crate) mod avx512;
pub(crate) mod driver;
#[cfg(target_arch = "x86_64")]
pub(crate) mod finish_avx512;
pub mod naive;
#[cfg(target_arch = "aarch64")]
pub(crate) mod neon;
pub(crate) mod pack;
pub(crate) mod portable;
pub(crate) mod row_buf;
pub(crate) mod scalar;
#[cfg(target_arch = "x86_64")]
pub(crate) mod small;
#[cfg(target_arch = "aarch64")]
pub(crate) mod small_neon;
pub(crate) mod small_plan;
pub(crate) mod tile;

use crate::act::Epilogue;
use crate::backend::Backend;
use crate::conv_weights::ConvWeights;
use crate::error::{KernelError, Result};
use crate::isa::{active_isa, Isa};
use crate::parallel::Threads;
use crate::view::{SendPtr, TensorView, TensorViewMut};

use driver::{min_rows_per_thread, pointwise_rows, OutputSide};
use pack::Panels;

/// Pointwise weights and bias, packed once for the microkernels.
#[derive(Debug, Clone, PartialEq)]
pub struct PackedPointwise {
    cin: usize,
    cout: usize,
    panels: Panels,
}

impl PackedPointwise {
    /// Packs `weights` `[cout][cin]` row-major (PyTorch `[cout, cin, 1, 1]`) and an optional bias
    /// of `cout` values (`None` = zeros).
    /// The weights may carry a per-output-channel scale (a folded BatchNorm, see
    /// [`ConvWeights`]).
    pub fn new<'w>(
        weights: impl Into<ConvWeights<'w>>,
        bias: Option<&[f32]>,
        cin: usize,
        cout: usize,
    ) -> Result<Self> {
        let mut packed = PackedPointwise {
            cin: 0,
            cout: 0,
            panels: Panels::pack(0, 0, None, |_, _, _| {}),
        };
        packed.repack(weights, bias, cin, cout)?;
        Ok(packed)
    }

    /// Packs new weights into this value's storage, allocating nothing when it already held at
    /// least as many (operands packed on every call, e.g. attention's keys and values). Same
    /// arguments and checks as [`PackedPointwise::new`]; on error `self` is unchanged.
    pub fn repack<'w>(
        &mut self,
        weights: impl Into<ConvWeights<'w>>,
        bias: Option<&[f32]>,
        cin: usize,
        cout: usize,
    ) -> Result<()> {
        if cin == 0 || cout == 0 {
            return Err(KernelError::param(
                "channels",
                format!("cin = {cin} and cout = {cout} must both be at least 1"),
            ));
        }
        let weights = weights.into();
        weights.check("weights", cin, cout)?;
        naive::check_bias_len(bias, cout)?;
        self.panels
            .repack(cin, cout, bias, |o, i0, dst| weights.read(o, cin, i0, dst));
        (self.cin, self.cout) = (cin, cout);
        Ok(())
    }

    /// Input channels.
    pub fn cin(&self) -> usize {
        self.cin
    }

    /// Output channels.
    pub fn cout(&self) -> usize {
        self.cout
    }
}

/// Pointwise convolution `output = epilogue(input x W^T + bias)` on strided NHWC views, on the
/// best instruction set of this CPU ([`active_isa`]).
///
/// `input` has `cin` channels, `output` and the residual (if any) the shape
/// `(n, h, w, cout)` of the input's pixels. Only the output's channel range is written.
pub fn pointwise(
    input: &TensorView<'_>,
    weights: &PackedPointwise,
    epilogue: &Epilogue<'_>,
    output: &mut TensorViewMut<'_>,
    threads: &Threads,
) -> Result<()> {
    pointwise_with_isa(active_isa(), input, weights, epilogue, output, threads)
}

/// [`pointwise`] on an explicit instruction set (tests and comparisons). Fails with
/// `InvalidParameter` if this CPU cannot run `isa`.
#[doc(hidden)]
pub fn pointwise_with_isa(
    isa: Isa,
    input: &TensorView<'_>,
    weights: &PackedPointwise,
    epilogue: &Epilogue<'_>,
    output: &mut TensorViewMut<'_>,
    threads: &Threads,
) -> Result<()> {
    let backend = Backend::get(isa)?;
    check_io(input, weights.cin, weights.cout, epilogue, output)?;
    let kernel = backend.kernels.gemm;
    let m = output.layout().pixels();
    let out = OutputSide {
        out: SendPtr(output.as_mut_ptr()),
        layout: *output.layout(),
        epilogue,
    };
    if let Some(small_rows) = backend.kernels.pointwise_small {
        if small_plan::applies(weights.cout) {
            let in_layout = input.layout();
            let out_layout = *output.layout();
            let (residual, res_stride) = match &epilogue.residual {
                Some(r) => (
                    r.view.as_ptr().wrapping_add(r.view.layout().channel_offset),
                    r.view.layout().pixel_stride,
                ),
                None => (std::ptr::null(), 0),
            };
            let plan = small_plan::SmallPlan {
                panels: weights.panels.view(),
                input: input.as_ptr().wrapping_add(in_layout.channel_offset),
                in_stride: in_layout.pixel_stride,
                output: output.as_mut_ptr().wrapping_add(out_layout.channel_offset),
                out_stride: out_layout.pixel_stride,
                residual,
                res_stride,
                finish: out.finish(),
            };
            let min_rows = min_rows_per_thread(weights.cin, weights.cout, 1);
            threads.for_each_chunk(m, min_rows, 1, |rows| {
                // SAFETY: `check_io` verified the shapes (input `cin` channels, output and
                // residual `cout <= 16` channels, same pixels) and the views guarantee their
                // buffers hold every pixel; chunks are disjoint pixel ranges; the back end is
                // supported by this CPU (`Backend::get`).
                unsafe { small_rows(&plan, rows) }
            });
            return Ok(());
        }
    }
    let min_rows = min_rows_per_thread(weights.cin, weights.cout, kernel.mr);
    threads.for_each_chunk(m, min_rows, kernel.mr, |rows| {
        // SAFETY: `check_io` verified that input, output and residual have the same pixels and
        // the right channel counts, and the views guarantee their buffers hold every pixel;
        // chunks are disjoint pixel ranges, so no two threads write the same element; the
        // back end is supported by this CPU (`Backend::get`).
        unsafe { pointwise_rows(kernel, weights.panels.view(), input, &out, rows) }
    });
    Ok(())
}

/// Checks the operands of a pointwise-shaped kernel: input channels, output shape = input
/// pixels x `cout`, residual shape = output shape.
pub(crate) fn check_io(
    input: &TensorView<'_>,
    cin: usize,
    cout: usize,
    epilogue: &Epilogue<'_>,
    output: &TensorViewMut<'_>,
) -> Result<()> {
    let [n, h, w, c] = input.shape();
    if c != cin {
        return Err(KernelError::shape(
            "input",
            format!("{cin} channels"),
            format!("{c} channels"),
        ));
    }
    check_output(output, [n, h, w, cout], epilogue)
}

/// Checks the output has `shape` and the residual (if any) matches it.
pub(crate) fn check_output(
    output: &TensorViewMut<'_>,
    shape: [usize; 4],
    epilogue: &Epilogue<'_>,
) -> Result<()> {
    if output.shape() != shape {
        return Err(KernelError::shape(
            "output",
            format!("{shape:?}"),
            format!("{:?}", output.shape()),
        ));
    }
    if let Some(r) = &epilogue.residual {
        if r.view.shape() != shape {
            return Err(KernelError::shape(
                "residual",
                format!("{shape:?}"),
                format!("{:?}", r.view.shape()),
            ));
        }
    }
    Ok(())
}
