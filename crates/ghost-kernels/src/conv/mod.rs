//! Dense `kh x kw` convolution (groups = 1, any stride, any asymmetric padding) on strided NHWC
//! views, as a GEMM over (ky, kx, cin) that reuses the pointwise microkernels.
//!
//! Weights are packed once ([`PackedConv`]) into the pointwise panel format with the reduction
//! in (ky, kx, cin) order. The driver (`driver.rs`) feeds the microkernel either pointers straight
//! into the input (indirect GEMM, no copy) or, for tiny `cin` such as the RGB stem, im2col rows of
//! a cache block gathered into a reusable [`ConvScratch`].
//!
//! Stride-1 3x3 convolutions with enough channels run as Winograd F(4x4, 3x3) instead, stride-2
//! ones as a polyphase Winograd F(4x4, 2x2) ([`winograd`], chosen by [`ConvAlgorithm::choose`]
//! when packing with [`PackedConv::for_window`]).

#[cfg(target_arch = "x86_64")]
pub(crate) mod direct_avx2;
pub(crate) mod direct_plan;
mod driver;
pub mod naive;
mod scratch;
pub mod winograd;

use std::sync::PoisonError;

use crate::act::Epilogue;
use crate::backend::Backend;
use crate::conv_weights::ConvWeights;
use crate::error::{KernelError, Result};
use crate::geometry::Window;
use crate::isa::{active_isa, Isa};
use crate::parallel::{chunk_plan, Threads};
use crate::pointwise::check_output;
use crate::pointwise::driver::{block_rows, min_rows_per_thread, OutputSide};
use crate::pointwise::pack::{Panels, NR};
use crate::view::{SendPtr, TensorView, TensorViewMut};

use driver::{conv_rows, Geometry};
pub use scratch::ConvScratch;

/// How a dense convolution is computed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConvAlgorithm {
    /// A GEMM over (ky, kx, cin) on indirect, row-tap or im2col rows: any kernel, stride and
    /// padding.
    Gemm,
    /// Winograd F(4x4, 3x3): 3x3 kernels at stride 1 only; 4x fewer multiplies than the GEMM,
    /// a slightly larger rounding error ([`crate::tolerance::winograd_bound`]) and 4x the weight
    /// memory.
    Winograd,
    /// Polyphase Winograd F(4x4, 2x2) (`winograd::stride2`): 3x3 kernels at stride 2 only;
    /// 1.78x fewer multiplies than the GEMM, a slightly larger rounding error
    /// ([`crate::tolerance::winograd_s2_bound`]) and 4x the weight memory.
    WinogradStride2,
}

/// Input channels from which Winograd replaces the GEMM for stride-1 3x3 kernels, whatever the
/// output channels. Measured (criterion `conv`, one thread, 80x80 and 160x160 maps): from 16 input
/// channels the GEMM's indirect rows are 16-float taps and Winograd wins at every output count
/// (1.5-2.3x at 16-64 -> 1-8, ties at 256 -> 4); below 16 the GEMM's row-tap mode (`kw * cin`
/// contiguous floats per tap) wins or ties at every output count up to 24 (4 -> 4: 2x).
pub const WINOGRAD_MIN_CIN: usize = 16;

/// Input channels from which Winograd also replaces the GEMM for stride-1 3x3 kernels below
/// [`WINOGRAD_MIN_CIN`], when `cout <= `[`WINOGRAD_NARROW_MAX_GROWTH`]` * cin`. Measured (bench
/// `narrow_cpu`, CPU time of single calls, one thread, 2026-12-07, docs/kernels.md "Narrow
/// layers"): 8 -> 8, 16, 32 at 20x20 to 160x160 and 12 -> 48 at 80x80 and 160x160 are 1.08-1.40x
/// faster with Winograd (yolo11n's first C3k2, `model.2.m.0.cv2`, 8 -> 16 at 160x160: 1.14x);
/// 8 -> 64 (0.78-0.98x) and 6 -> 12 (0.92x) are not: with few inputs the output transform, which
/// scales with `cout`, outweighs the multiplies saved.
pub const WINOGRAD_NARROW_MIN_CIN: usize = 8;

/// Largest `cout / cin` for Winograd below [`WINOGRAD_MIN_CIN`] inputs (see
/// [`WINOGRAD_NARROW_MIN_CIN`]).
pub const WINOGRAD_NARROW_MAX_GROWTH: usize = 4;

/// Input and output channels from which the stride-2 Winograd replaces the GEMM for stride-2
/// 3x3 kernels. Measured on both x86 back ends (bench `conv_s2_cpu`, one thread, CPU time of
/// single calls, GEMM and Winograd of both back ends interleaved, 5-9 rounds, 2026-12-07,
/// docs/kernels.md "Stride-2 Winograd"): it wins at 64 -> 64 (1.20-1.23x at 160x160 and 80x80)
/// and from there up (1.23-1.51x at 64 -> 128 ... 512 -> 512), ties or loses below (32 -> 64:
/// 0.94-1.04x at 320x320, 0.98-1.03x at 160x160; 32 -> 32 and 48 -> 48 0.92-1.03x; 16 -> 32
/// 0.77-0.87x): the transforms scale with `cin + cout`, the multiplies saved with `cin * cout`.
/// The AVX2 and AVX-512 back ends' speed-ups agree within 0.06 on every shape, so the rule is
/// not a property of the back end.
pub const WINOGRAD_S2_MIN_CHANNELS: usize = 64;

impl ConvAlgorithm {
    /// The faster algorithm for a `cin -> cout` convolution over `window`: Winograd for stride-1
    /// 3x3 kernels with at least [`WINOGRAD_MIN_CIN`] input channels (or at least
    /// [`WINOGRAD_NARROW_MIN_CIN`] and `cout <= `[`WINOGRAD_NARROW_MAX_GROWTH`]` * cin`), the
    /// stride-2 Winograd for stride-2 3x3 kernels with at least [`WINOGRAD_S2_MIN_CHANNELS`]
    /// input and output channels, the GEMM otherwise.
    pub fn choose(cin: usize, cout: usize, window: &Window) -> Self {
        let winograd_channels = cin >= WINOGRAD_MIN_CIN
            || (cin >= WINOGRAD_NARROW_MIN_CIN && cout <= WINOGRAD_NARROW_MAX_GROWTH * cin);
        if winograd::supports(window) && winograd_channels {
            ConvAlgorithm::Winograd
        } else if winograd::supports_stride2(window) && cin.min(cout) >= WINOGRAD_S2_MIN_CHANNELS {
            ConvAlgorithm::WinogradStride2
        } else {
            ConvAlgorithm::Gemm
        }
    }

    /// The Winograd variant of this algorithm, if it is one.
    fn variant(self) -> Option<winograd::Variant> {
        match self {
            ConvAlgorithm::Gemm => None,
            ConvAlgorithm::Winograd => Some(winograd::Variant::Stride1),
            ConvAlgorithm::WinogradStride2 => Some(winograd::Variant::Stride2),
        }
    }
}

/// The packed weights of one algorithm.
#[derive(Debug, Clone, PartialEq)]
enum Packing {
    Gemm(Panels),
    /// Boxed: 36 panel sets, and it keeps every conv layer's size that of the GEMM variant.
    /// Both Winograd variants.
    Winograd(Box<winograd::WinogradWeights>),
}

/// Dense convolution weights and bias, packed once for the microkernels.
#[derive(Debug, Clone, PartialEq)]
pub struct PackedConv {
    cin: usize,
    cout: usize,
    kh: usize,
    kw: usize,
    packing: Packing,
}

impl PackedConv {
    /// Packs `weights` `[cout][cin][kh][kw]` (PyTorch layout) and an optional bias of `cout`
    /// values (`None` = zeros) for the GEMM, which runs any window of this kernel size. The
    /// weights may carry a per-output-channel scale (a folded BatchNorm, see [`ConvWeights`]).
    pub fn new<'w>(
        weights: impl Into<ConvWeights<'w>>,
        bias: Option<&[f32]>,
        cin: usize,
        cout: usize,
        kh: usize,
        kw: usize,
    ) -> Result<Self> {
        let weights = weights.into();
        check_weights(weights, bias, cin, cout, kh, kw)?;
        let taps = kh * kw;
        let per_out = taps * cin;
        // The GEMM reduces tap-major (`k = t * cin + i`); PyTorch stores `[i][t]`. The packer
        // asks for a chunk of each of a panel's 16 output channels in turn, so the panel's rows
        // are read (and scaled) in storage order once, reordered into a buffer, and the chunks
        // copied from there.
        let mut stored = vec![0.0f32; per_out];
        let mut reordered = vec![0.0f32; NR.min(cout) * per_out];
        let mut panel_of = None;
        let panels = Panels::pack(per_out, cout, bias, |o, k0, dst| {
            let panel = o / NR;
            if panel_of != Some(panel) {
                let outs = panel * NR..cout.min(panel * NR + NR);
                for (o, row) in outs.zip(reordered.chunks_exact_mut(per_out)) {
                    weights.read(o, per_out, 0, &mut stored);
                    for (i, taps_of_i) in stored.chunks_exact(taps).enumerate() {
                        for (t, &v) in taps_of_i.iter().enumerate() {
                            row[t * cin + i] = v;
                        }
                    }
                }
                panel_of = Some(panel);
            }
            let row = &reordered[(o % NR) * per_out..][..per_out];
            dst.copy_from_slice(&row[k0..k0 + dst.len()]);
        });
        Ok(PackedConv {
            cin,
            cout,
            kh,
            kw,
            packing: Packing::Gemm(panels),
        })
    }

    /// Packs for the algorithm [`ConvAlgorithm::choose`] picks for `window` (the kernel size is
    /// the window's). The result must then be called with this window's kernel and stride.
    pub fn for_window<'w>(
        weights: impl Into<ConvWeights<'w>>,
        bias: Option<&[f32]>,
        cin: usize,
        cout: usize,
        window: &Window,
    ) -> Result<Self> {
        let algorithm = ConvAlgorithm::choose(cin, cout, window);
        Self::with_algorithm(weights, bias, cin, cout, window, algorithm)
    }

    /// Packs for an explicit algorithm (tests and comparisons). Fails with `InvalidParameter`
    /// if `algorithm` cannot compute `window`.
    pub fn with_algorithm<'w>(
        weights: impl Into<ConvWeights<'w>>,
        bias: Option<&[f32]>,
        cin: usize,
        cout: usize,
        window: &Window,
        algorithm: ConvAlgorithm,
    ) -> Result<Self> {
        let (kh, kw) = (window.kernel_h, window.kernel_w);
        let weights = weights.into();
        match algorithm.variant() {
            None => Self::new(weights, bias, cin, cout, kh, kw),
            Some(variant) => {
                check_winograd_window(variant, window)?;
                check_weights(weights, bias, cin, cout, kh, kw)?;
                Ok(PackedConv {
                    cin,
                    cout,
                    kh,
                    kw,
                    packing: Packing::Winograd(Box::new(winograd::WinogradWeights::new(
                        weights, bias, cin, cout, variant,
                    ))),
                })
            }
        }
    }

    /// The algorithm these weights were packed for.
    pub fn algorithm(&self) -> ConvAlgorithm {
        match &self.packing {
            Packing::Gemm(_) => ConvAlgorithm::Gemm,
            Packing::Winograd(w) => match w.variant {
                winograd::Variant::Stride1 => ConvAlgorithm::Winograd,
                winograd::Variant::Stride2 => ConvAlgorithm::WinogradStride2,
            },
        }
    }

    /// Input channels.
    pub fn cin(&self) -> usize {
        self.cin
    }

    /// Output channels.
    pub fn cout(&self) -> usize {
        self.cout
    }

    /// Kernel `(height, width)`.
    pub fn kernel(&self) -> (usize, usize) {
        (self.kh, self.kw)
    }
}

/// Dense convolution `output = epilogue(conv(input, W) + bias)` on the best instruction set of
/// this CPU. `window` must have the packed kernel size; `output` and the residual (if any) must
/// have shape `(n, oh, ow, cout)` with `(oh, ow) = window.output_size(h, w)`. Only the output's
/// channel range is written; `scratch` is grown on first use and reused afterwards.
pub fn conv2d(
    input: &TensorView<'_>,
    weights: &PackedConv,
    window: &Window,
    epilogue: &Epilogue<'_>,
    output: &mut TensorViewMut<'_>,
    scratch: &mut ConvScratch,
    threads: &Threads,
) -> Result<()> {
    conv2d_with_isa(
        active_isa(),
        input,
        weights,
        window,
        epilogue,
        output,
        scratch,
        threads,
    )
}

/// [`conv2d`] on an explicit instruction set (tests and comparisons). Fails with
/// `InvalidParameter` if this CPU cannot run `isa`.
#[doc(hidden)]
#[allow(clippy::too_many_arguments)]
pub fn conv2d_with_isa(
    isa: Isa,
    input: &TensorView<'_>,
    weights: &PackedConv,
    window: &Window,
    epilogue: &Epilogue<'_>,
    output: &mut TensorViewMut<'_>,
    scratch: &mut ConvScratch,
    threads: &Threads,
) -> Result<()> {
    let backend = Backend::get(isa)?;
    let (cin, cout, kh, kw) = (weights.cin, weights.cout, weights.kh, weights.kw);
    let (oh, ow) = check_conv(input, cin, cout, kh, kw, window, epilogue, output)?;
    let panels = match &weights.packing {
        Packing::Gemm(panels) => panels.view(),
        Packing::Winograd(packed) => {
            check_winograd_window(packed.variant, window)?;
            return winograd::run(
                backend,
                input,
                packed,
                window,
                epilogue,
                output,
                (oh, ow),
                scratch,
                threads,
            );
        }
    };
    let kernel = backend.kernels.gemm;
    let [_, h, w, _] = input.shape();
    let geo = Geometry {
        h,
        w,
        cin,
        oh,
        ow,
        kh,
        kw,
        stride_h: window.stride_h,
        stride_w: window.stride_w,
        pad_top: window.padding.top,
        pad_left: window.padding.left,
        pixel_stride: input.layout().pixel_stride,
    };
    let m = output.layout().pixels();
    if m == 0 {
        return Ok(());
    }
    if let Some(direct_rows) = backend.kernels.conv_direct {
        if direct_plan::applies(&geo, cout) {
            scratch.reserve(0, 0, 0, geo.zeros_len());
            let out = OutputSide {
                out: SendPtr(output.as_mut_ptr()),
                layout: *output.layout(),
                epilogue,
            };
            let plan = direct_plan::DirectPlan {
                panels,
                geo,
                input: input.as_ptr(),
                in_layout: *input.layout(),
                zeros: scratch.zeros.as_ptr(),
                output: output.as_mut_ptr(),
                out_layout: *output.layout(),
                residual: epilogue
                    .residual
                    .map(|r| (r.view.as_ptr(), *r.view.layout())),
                finish: out.finish(),
            };
            let min_rows = min_rows_per_thread(panels.k(), cout, 1);
            threads.for_each_chunk(m, min_rows, 1, |rows| {
                // SAFETY: `check_conv` verified every shape and the views guarantee their
                // buffers; `applies` checked the layer against the kernel's limits (packed input,
                // `cout <= MAX_COUT`, kernel rows and window); the zero row holds zeros_len() zeros;
                // chunks are disjoint output pixel ranges; the back end is supported by this CPU
                // (`Backend::get`).
                unsafe { direct_rows(&plan, rows) }
            });
            return Ok(());
        }
    }
    let mr = kernel.mr;
    let k = panels.k();
    let (taps, seg) = geo.reduction();
    let block = block_rows(taps, seg, mr);
    let min_rows = min_rows_per_thread(k, cout, mr);
    let (per, chunks) = chunk_plan(m, threads.count(), min_rows, mr);
    let (table, cols) = geo.slot_sizes(block, mr);
    scratch.reserve(chunks, table, cols, geo.zeros_len());
    let zeros = scratch.zeros.as_ptr();
    let slots = &scratch.slots[..chunks];
    let out = OutputSide {
        out: SendPtr(output.as_mut_ptr()),
        layout: *output.layout(),
        epilogue,
    };
    let zeros = SendConstPtr(zeros);
    threads.for_each_chunk(chunks, 1, 1, |ids| {
        for id in ids {
            let mut slot = slots[id].lock().unwrap_or_else(PoisonError::into_inner);
            let rows = id * per..((id + 1) * per).min(m);
            // SAFETY: `check_conv` verified every shape and the views guarantee their buffers;
            // the zero row holds >= zeros_len() zeros and the slot the sizes `reserve` was given; chunk
            // `id` owns output pixels `rows` alone; the back end is supported by this CPU.
            unsafe {
                conv_rows(
                    kernel,
                    panels,
                    &geo,
                    input,
                    zeros.get(),
                    &out,
                    &mut slot,
                    block,
                    rows,
                )
            };
        }
    });
    Ok(())
}

/// A read-only pointer shared with worker threads (the zero row).
#[derive(Clone, Copy)]
struct SendConstPtr(*const f32);
// SAFETY: points at an immutable zero row that outlives the parallel section.
unsafe impl Send for SendConstPtr {}
// SAFETY: as above; only read.
unsafe impl Sync for SendConstPtr {}

impl SendConstPtr {
    /// The pointer (a method, so closures capture the wrapper and not its field).
    fn get(self) -> *const f32 {
        self.0
    }
}

/// Fails unless Winograd weights of `variant` can compute `window`.
fn check_winograd_window(variant: winograd::Variant, window: &Window) -> Result<()> {
    if winograd::variant_supports(variant, window) {
        return Ok(());
    }
    let (name, stride) = match variant {
        winograd::Variant::Stride1 => ("Winograd F(4x4, 3x3)", 1),
        winograd::Variant::Stride2 => ("Stride-2 Winograd F(4x4, 2x2)", 2),
    };
    Err(KernelError::param(
        "window",
        format!(
            "{name} weights need a 3x3 kernel at stride {stride}, got {}x{} at stride {}x{}",
            window.kernel_h, window.kernel_w, window.stride_h, window.stride_w
        ),
    ))
}

/// Checks the weights (optionally scaled per output channel) and bias of a `[cout][cin][kh][kw]`
/// convolution.
pub(crate) fn check_weights<'w>(
    weights: impl Into<ConvWeights<'w>>,
    bias: Option<&[f32]>,
    cin: usize,
    cout: usize,
    kh: usize,
    kw: usize,
) -> Result<()> {
    if cin == 0 || cout == 0 || kh == 0 || kw == 0 {
        return Err(KernelError::param(
            "conv shape",
            format!("cin = {cin}, cout = {cout}, kernel {kh}x{kw}: all must be at least 1"),
        ));
    }
    let per_out = cin
        .checked_mul(kh)
        .and_then(|v| v.checked_mul(kw))
        .ok_or_else(|| KernelError::param("weights", "size overflows"))?;
    weights.into().check("weights", per_out, cout)?;
    crate::pointwise::naive::check_bias_len(bias, cout)
}

/// Checks every operand of a convolution; returns the output size.
#[allow(clippy::too_many_arguments)]
pub(crate) fn check_conv(
    input: &TensorView<'_>,
    cin: usize,
    cout: usize,
    kh: usize,
    kw: usize,
    window: &Window,
    epilogue: &Epilogue<'_>,
    output: &TensorViewMut<'_>,
) -> Result<(usize, usize)> {
    if (window.kernel_h, window.kernel_w) != (kh, kw) {
        return Err(KernelError::param(
            "window",
            format!(
                "kernel {}x{} does not match the {kh}x{kw} weights",
                window.kernel_h, window.kernel_w
            ),
        ));
    }
    let [n, h, w, c] = input.shape();
    if c != cin {
        return Err(KernelError::shape(
            "input",
            format!("{cin} channels"),
            format!("{c} channels"),
        ));
    }
    let (oh, ow) = window.output_size(h, w)?;
    check_output(output, [n, oh, ow, cout], epilogue)?;
    Ok((oh, ow))
}
