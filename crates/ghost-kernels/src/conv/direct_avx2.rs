//! AVX2 + FMA direct kernel for dense convolutions with at most
//! [`super::direct_plan::MAX_COUT`] outputs and few inputs on a packed input (the RGB stems:
//! 3 -> 4 in the GhostNet models, 3 -> 16 / 32 / 64 in yolo11n / s / m; 3x3, stride 2): a tile
//! of `P` consecutive output pixels of one output row reads each kernel row's `kw * cin` floats
//! straight from the input, one pointer per kernel row and a fixed stride between the tile's
//! pixels, instead of the GEMM driver's per-pixel pointer tables; each 16-output weight panel
//! in turn runs over the tile (the window stays in L1). Border pixels gather their window into
//! a local buffer.
//!
//! Per output element the arithmetic is the GEMM path's: the bias, one FMA per (ky, kx, cin) in
//! that order (kernel rows in the vertical padding multiply zeros, as the GEMM's zero row), then
//! the same vector epilogue; so the results are bitwise those of the GEMM path.

use std::arch::x86_64::*;
use std::ops::Range;

use super::direct_plan::{DirectPlan, MAX_KH, MAX_WINDOW};
use crate::act::AddOrder;
use crate::pointwise::pack::NR;
use crate::pointwise::small::{load_n, store_n};
use crate::simd::avx2::activate;

/// Computes output pixels `rows` (the AVX2 back end's `conv_direct` entry).
///
/// # Safety
/// The plan must come from views checked by the safe entry point, for a layer
/// [`super::direct_plan::applies`] accepts; no other thread may write these pixels; the CPU must
/// support AVX2+FMA.
#[target_feature(enable = "avx2,fma")]
pub(crate) unsafe fn rows(p: &DirectPlan<'_>, rows: Range<usize>) {
    // SAFETY: forwarded contract; the target features are enabled on this function.
    unsafe {
        if p.panels.n() <= 8 {
            run::<1, 12>(p, rows)
        } else {
            run::<2, 6>(p, rows)
        }
    }
}

/// [`rows`] compiled with AVX-512 F + VL (the AVX-512 VNNI back end's entry): the same 256-bit
/// code, which may now use 32 registers and FMAs with an embedded broadcast of the input. With at
/// most 8 outputs (the GhostNet stems' 4) the tile takes twice the pixels: 3 -> 4 at 640x640
/// 0.958 ms against AVX2's 1.034 (bench `stem_cpu`, docs/kernels.md "RGB stem"); with more
/// outputs 12 pixels were 1-2% slower than 6, so it keeps 6.
///
/// # Safety
/// As [`rows`]; the CPU must also support AVX-512 F and VL.
#[target_feature(enable = "avx2,fma,avx512f,avx512vl")]
pub(crate) unsafe fn rows_avx512(p: &DirectPlan<'_>, rows: Range<usize>) {
    // SAFETY: forwarded contract; the target features are enabled on this function.
    unsafe {
        if p.panels.n() <= 8 {
            run::<1, 24>(p, rows)
        } else {
            run::<2, 6>(p, rows)
        }
    }
}

#[inline(always)]
unsafe fn run<const NV: usize, const P: usize>(p: &DirectPlan<'_>, rows: Range<usize>) {
    let geo = &p.geo;
    let cin = geo.cin;
    let row_len = geo.kw * cin;
    let ps = p.in_layout.pixel_stride;
    let step = geo.stride_w * ps;
    // Output columns whose window lies inside the image horizontally.
    let lo = geo.pad_left.div_ceil(geo.stride_w);
    let hi = match (geo.w + geo.pad_left).checked_sub(geo.kw) {
        Some(last) => (last / geo.stride_w + 1).min(geo.ow),
        None => 0,
    }
    .max(lo);
    let mut window = [0.0f32; MAX_WINDOW];
    let (mut b, mut oy, mut ox) = geo.decompose(rows.start);
    let mut q = rows.start;
    while q < rows.end {
        // Input offset of pixel (b, iy, 0) under each kernel row of this output row.
        let mut row_of = [None; MAX_KH];
        for (ky, r) in row_of[..geo.kh].iter_mut().enumerate() {
            *r = (oy * geo.stride_h + ky)
                .checked_sub(geo.pad_top)
                .filter(|&iy| iy < geo.h)
                .map(|iy| p.in_layout.index(b, iy, 0, 0));
        }
        let row_end = q + (geo.ow - ox).min(rows.end - q);
        while q < row_end {
            let mut src = [p.zeros; MAX_KH];
            let mut stride = [0usize; MAX_KH];
            if ox >= lo && ox < hi {
                for ky in 0..geo.kh {
                    if let Some(row) = row_of[ky] {
                        // SAFETY: (b, iy, ox * sw - pad_left) is a pixel of the checked input.
                        src[ky] =
                            unsafe { p.input.add(row + (ox * geo.stride_w - geo.pad_left) * ps) };
                        stride[ky] = step;
                    }
                }
                let run = (hi - ox).min(row_end - q);
                if run >= P {
                    // SAFETY: the P pixels' windows lie inside the image (ox + P <= hi).
                    unsafe { panels::<NV, P>(p, q, &src, &stride) };
                    q += P;
                    ox += P;
                    continue;
                }
                // SAFETY: as above for one pixel.
                unsafe { panels::<NV, 1>(p, q, &src, &stride) };
            } else {
                // A border pixel: its window, zeros outside the image, into `window`.
                let x0 = ox * geo.stride_w;
                for ky in 0..geo.kh {
                    for kx in 0..geo.kw {
                        let dst = &mut window[ky * row_len + kx * cin..][..cin];
                        let ix = (x0 + kx).checked_sub(geo.pad_left).filter(|&ix| ix < geo.w);
                        match (row_of[ky], ix) {
                            (Some(row), Some(ix)) => {
                                // SAFETY: (row, ix) is a pixel of the checked input, `cin`
                                // channels.
                                let s = unsafe {
                                    std::slice::from_raw_parts(p.input.add(row + ix * ps), cin)
                                };
                                dst.copy_from_slice(s);
                            }
                            _ => dst.fill(0.0),
                        }
                    }
                    src[ky] = window[ky * row_len..].as_ptr();
                }
                // SAFETY: every kernel row points at `row_len` floats of `window`.
                unsafe { panels::<NV, 1>(p, q, &src, &stride) };
            }
            q += 1;
            ox += 1;
        }
        if ox == geo.ow {
            ox = 0;
            oy += 1;
            if oy == geo.oh {
                oy = 0;
                b += 1;
            }
        }
    }
}

/// [`tile`] for each 16-output panel in turn.
#[inline(always)]
unsafe fn panels<const NV: usize, const P: usize>(
    p: &DirectPlan<'_>,
    q0: usize,
    src: &[*const f32; MAX_KH],
    stride: &[usize; MAX_KH],
) {
    for j in 0..p.panels.panel_count() {
        // SAFETY: forwarded contract; `j` is a panel of the plan.
        unsafe { tile::<NV, P>(p, q0, src, stride, j) };
    }
}

/// Output pixels `q0 .. q0 + P`, output channels `16 * j ..` of panel `j`; kernel row `ky` of
/// pixel `t` reads `src[ky] + t * stride[ky]`. With `NV == 1` the panel must hold at most 8
/// outputs.
#[inline(always)]
unsafe fn tile<const NV: usize, const P: usize>(
    p: &DirectPlan<'_>,
    q0: usize,
    src: &[*const f32; MAX_KH],
    stride: &[usize; MAX_KH],
    j: usize,
) {
    // SAFETY (whole function): the caller guarantees every read (`row_len` floats per kernel row
    // and pixel) and that pixels `q0 .. q0 + P` exist in the output (and residual); panel rows
    // are 64-byte aligned.
    unsafe {
        let panel = p.panels.panel(j);
        // Outputs of this panel, and where they start in a pixel.
        let c0 = NR * j;
        let n = (p.panels.n() - c0).min(NR);
        let row_len = p.geo.kw * p.geo.cin;
        let bias = panel[0].0.as_ptr();
        let mut acc = [[_mm256_setzero_ps(); NV]; P];
        for a in acc.iter_mut() {
            for (v, x) in a.iter_mut().enumerate() {
                *x = _mm256_load_ps(bias.add(8 * v));
            }
        }
        let mut w = panel[1..].as_ptr() as *const f32;
        for ky in 0..p.geo.kh {
            let (s, st) = (src[ky], stride[ky]);
            for kk in 0..row_len {
                let w0 = _mm256_load_ps(w);
                let w1 = if NV == 2 {
                    _mm256_load_ps(w.add(8))
                } else {
                    w0
                };
                w = w.add(NR);
                for (t, a) in acc.iter_mut().enumerate() {
                    let x = _mm256_broadcast_ss(&*s.add(t * st + kk));
                    a[0] = _mm256_fmadd_ps(x, w0, a[0]);
                    if NV == 2 {
                        a[1] = _mm256_fmadd_ps(x, w1, a[1]);
                    }
                }
            }
        }
        for (t, a) in acc.into_iter().enumerate() {
            let q = q0 + t;
            let out = p.output.add(p.out_layout.pixel_offset(q) + c0);
            for (v, mut x) in a.into_iter().enumerate() {
                if 8 * v >= n {
                    // The last panel's second half is past `cout`.
                    break;
                }
                let lanes = (n - 8 * v).min(8);
                if let (Some(order), Some((res, layout))) = (p.finish.order, p.residual) {
                    let r = load_n(res.add(layout.pixel_offset(q) + c0 + 8 * v), lanes);
                    if order == AddOrder::BeforeActivation {
                        x = _mm256_add_ps(x, r);
                    }
                    x = activate(p.finish.act, x);
                    if order == AddOrder::AfterActivation {
                        x = _mm256_add_ps(x, r);
                    }
                } else {
                    x = activate(p.finish.act, x);
                }
                store_n(out.add(8 * v), x, lanes);
            }
        }
    }
}
