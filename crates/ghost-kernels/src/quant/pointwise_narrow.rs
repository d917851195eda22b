//! The narrow INT8 pointwise path: 1x1 convolutions with fewer than 16 output channels
//! (GhostNet's primary convs: 4 -> 2, 4 -> 6, 12 -> 4 ... on 320x320 and 160x160 maps) computed
//! straight into the GEMM's flat accumulator row (pixels x channels, [`super::gemm`]'s
//! narrow-output path) without the 4 x 16 tile.
//!
//! With at most 15 outputs the tile leaves most of its 16 columns empty and is called once per 4
//! pixels: on 4 -> 6 at 320x320 the tile and its driver took 21 cycles per pixel, 2.3x the FP32
//! kernel. Here output element `e = p * cout + j` of the flat row is one 32-bit lane: per group
//! of 4 input channels, `vpermt2b` gathers pixel `p`'s 4 input bytes into lane `e` from a
//! 128-byte window of the input, and `vpdpbusd` multiplies them with output `j`'s 4 codes and
//! adds them into the lane: 16 output elements per instruction pair, whatever `cout` is. The
//! byte indices and codes repeat with the period `lcm(cout, 16)` elements (the flat epilogue's
//! period), so they are tabled once per call ([`NarrowTables`]). Sums are exact i32, as every
//! other INT8 kernel.

use super::depthwise_row::period;
use super::pack::{PanelsI8, KG, NR};

/// Bytes of input a vector's gather may address (`vpermt2b`'s two 64-byte registers).
pub(crate) const WINDOW: usize = 128;

/// The per-call tables of the narrow pointwise path (read by the x86-64 kernel only; other
/// back ends have no narrow kernel and never build them).
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
pub(crate) struct NarrowTables {
    /// Output channels (`< 16`).
    pub cout: usize,
    /// Input channels.
    pub cin: usize,
    /// Groups of 4 input channels.
    pub groups: usize,
    /// Input pixel stride, bytes.
    pub stride: usize,
    /// Input pixels of the whole call (bounds the reads).
    pub pixels: usize,
    /// 16-element vectors per period.
    pub vecs: usize,
    /// Pixels per period (`period / cout`).
    pub period_pixels: usize,
    /// Byte offset of each vector's window in a period (its first pixel times the stride),
    /// relative to the period's first pixel.
    pub window_at: Vec<usize>,
    /// `[vec][group][64]` byte indices into the 128-byte window at the vector's first pixel.
    pub index: Vec<u8>,
    /// `[vec][group][64]` codes: lane `l`'s 4 bytes are output `(16 v + l) % cout`'s codes of
    /// the group's 4 input channels (0 past `cin`).
    pub codes: Vec<i8>,
}

impl NarrowTables {
    /// The tables of a one-tap, one-panel GEMM reading `pixels` input pixels `stride` bytes
    /// apart, or `None` when the shape is not narrow (`cout >= 16`, a window) or a vector's
    /// pixels span more than [`WINDOW`] bytes.
    pub fn new(w: &PanelsI8, stride: usize, pixels: usize) -> Option<Self> {
        if w.taps != 1 || w.cout >= NR || pixels == 0 {
            return None;
        }
        let (cin, cout, groups) = (w.cin, w.cout, w.groups);
        let period = period(cout);
        let vecs = period / 16;
        let mut window_at = Vec::with_capacity(vecs);
        let mut index = vec![0u8; vecs * groups * 64];
        let mut codes = vec![0i8; vecs * groups * 64];
        for v in 0..vecs {
            let q0 = 16 * v / cout;
            window_at.push(q0 * stride);
            for g in 0..groups {
                for l in 0..16 {
                    let e = 16 * v + l;
                    let (q, j) = (e / cout, e % cout);
                    for b in 0..KG {
                        let i = KG * g + b;
                        if i >= cin {
                            continue;
                        }
                        let at = (q - q0) * stride + i;
                        if at >= WINDOW {
                            return None;
                        }
                        let slot = (v * groups + g) * 64 + 4 * l + b;
                        index[slot] = at as u8;
                        // Panel 0, tap 0: `[group][col][4]`.
                        codes[slot] = w.codes[(g * NR + j) * KG + b];
                    }
                }
            }
        }
        Some(NarrowTables {
            cout,
            cin,
            groups,
            stride,
            pixels,
            vecs,
            period_pixels: period / cout,
            window_at,
            index,
            codes,
        })
    }

    /// Bytes readable from pixel `p`'s first input byte: through the last pixel's `cin`
    /// channels.
    pub fn readable_from(&self, p: usize) -> usize {
        (self.pixels - p - 1) * self.stride + self.cin
    }
}

/// A narrow pointwise kernel: `acc[e] = sum_i x[p0 + e / cout][i] * w[e % cout][i]` for the
/// `pixels * cout` elements of pixels `p0 .. p0 + pixels` (`x` points at pixel `p0`, `p0 +
/// pixels <= t.pixels`); `acc` entries up to the next multiple of 16 are overwritten.
///
/// # Safety
/// `x` is the first input byte of pixel `p0` of the tables' input (pixel `q` at
/// `x + (q - p0) * stride`, `readable` = `t.readable_from(p0)` bytes valid); `acc` holds
/// `pixels * cout` rounded up to 16 entries; `pixels` is a multiple of `t.period_pixels` or reaches the last
/// pixel; the CPU supports the kernel's instruction set.
pub(crate) type NarrowFn = unsafe fn(&NarrowTables, *const u8, usize, usize, &mut [i32]);

/// A narrow kernel and the run-time check of the instructions it needs beyond its back end's.
#[derive(Clone, Copy)]
pub(crate) struct NarrowKernel {
    pub run: NarrowFn,
    pub supported: fn() -> bool,
}

/// [`NarrowFn`] on AVX-512 VBMI (`vpermt2b`) and VNNI (`vpdpbusd`), zmm registers.
///
/// # Safety
/// As [`NarrowFn`]; the CPU must support AVX-512 F, BW, VBMI and VNNI.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi,avx512vnni")]
pub(crate) unsafe fn narrow_vbmi(
    t: &NarrowTables,
    x: *const u8,
    pixels: usize,
    readable: usize,
    acc: &mut [i32],
) {
    use std::arch::x86_64::*;
    let vectors = (pixels * t.cout).div_ceil(16);
    debug_assert!(acc.len() >= vectors * 16);
    let out = acc.as_mut_ptr();
    let period_bytes = t.period_pixels * t.stride;
    // Whole periods whose every window is readable in full take the loop without bounds
    // checks (all but the last one or two of a call).
    let full_periods = (readable.saturating_sub(WINDOW) / period_bytes)
        .saturating_sub(1)
        .min(vectors / t.vecs);
    // One vector: the window at byte `off`, full or byte-masked (fault-suppressing) to the
    // `readable - off` bytes left.
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512vbmi,avx512vnni")]
    unsafe fn vector(t: &NarrowTables, k: usize, src: *const u8, left: usize) -> __m512i {
        // SAFETY (whole function): `left` bytes are readable at `src` (`left >= 1`); table
        // loads stay inside `[vec][group][64]`.
        unsafe {
            let (lo, hi) = if left >= WINDOW {
                (
                    _mm512_loadu_si512(src.cast()),
                    _mm512_loadu_si512(src.add(64).cast()),
                )
            } else if left > 64 {
                (
                    _mm512_loadu_si512(src.cast()),
                    _mm512_maskz_loadu_epi8(u64::MAX >> (WINDOW - left), src.add(64).cast()),
                )
            } else {
                (
                    _mm512_maskz_loadu_epi8(u64::MAX >> (64 - left), src.cast()),
                    _mm512_setzero_si512(),
                )
            };
            let mut s = _mm512_setzero_si512();
            for g in 0..t.groups {
                let at = (k * t.groups + g) * 64;
                let idx = _mm512_loadu_si512(t.index.as_ptr().add(at).cast());
                let w = _mm512_loadu_si512(t.codes.as_ptr().add(at).cast());
                s = _mm512_dpbusd_epi32(s, _mm512_permutex2var_epi8(lo, idx, hi), w);
            }
            s
        }
    }
    // SAFETY (both loops): every window starts at a pixel below `pixels` (the vector's first
    // element is one of them), so `off < readable`; in the first loop every window of the
    // period ends at least one period before `readable` (`(p + 2) * period_bytes + WINDOW <=
    // readable`); `acc` holds `vectors * 16` entries.
    unsafe {
        let mut v = 0;
        for p in 0..full_periods {
            let src = x.add(p * period_bytes);
            for k in 0..t.vecs {
                let s = vector(t, k, src.add(t.window_at[k]), WINDOW);
                _mm512_storeu_si512(out.add(16 * v).cast(), s);
                v += 1;
            }
        }
        let mut base = full_periods * period_bytes;
        while v < vectors {
            for k in 0..t.vecs {
                if v == vectors {
                    break;
                }
                let off = base + t.window_at[k];
                let s = vector(t, k, x.add(off), readable - off);
                _mm512_storeu_si512(out.add(16 * v).cast(), s);
                v += 1;
            }
            base += period_bytes;
        }
    }
}

/// Whether the CPU has what [`narrow_vbmi`] needs beyond the AVX-512 VNNI back end (AVX-512 BW
/// and VBMI: Ice Lake and later, Zen 4 and later).
#[cfg(target_arch = "x86_64")]
pub(crate) fn vbmi_detected() -> bool {
    std::arch::is_x86_feature_detected!("avx512bw")
        && std::arch::is_x86_feature_detected!("avx512vbmi")
        && std::arch::is_x86_feature_detected!("avx512vnni")
}

/// The AVX-512 VBMI narrow kernel.
#[cfg(target_arch = "x86_64")]
pub(crate) const VBMI: NarrowKernel = NarrowKernel {
    run: narrow_vbmi,
    supported: vbmi_detected,
};
