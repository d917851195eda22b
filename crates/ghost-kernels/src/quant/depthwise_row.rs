//! The INT8 depthwise row path: a whole output row at a time, channels and pixels flattened.
//!
//! The per-pixel path ([`super::depthwise_kernel`]) calls its microkernel and the epilogue once
//! per output pixel, and below 8 / 16 channels most of its vector lanes are empty: on GhostNet's
//! early layers (2-24 channels on 160x160 and 320x320 maps) that overhead is nearly all the time.
//! Here each input row the window needs is copied once into a scratch row, padded left and right
//! with zero points and split into `stride_w` phases (padded column `x` goes to phase
//! `x % stride_w`, slot `x / stride_w`), as the FP32 small-channel depthwise does. Then for
//! output element `e = ox * c + ch` of a row, tap `(ky, kx)` reads byte `e + (kx / stride_w) * c`
//! of phase `kx % stride_w` of scratch row `ky`: every tap is one contiguous byte row shifted by
//! a constant, whatever the channel count or stride. The weights (and the epilogue's
//! per-channel constants) are tiled over one period of `lcm(c, 16)` elements, so a 16-element
//! vector at `e` (a multiple of 16) meets the weights at `e % period`, contiguous in the tile.
//! The row microkernel ([`DwRowFn`]) sums tap pairs over the flat row; the epilogue finishes the
//! flat row four 8-lane vectors at a time and stores it straight into a dense output, or
//! through a scratch row pixel by pixel into a strided one (a channel slice of a Concat).

use std::ops::Range;

use super::depthwise_kernel::DwPlan;
use super::epilogue::{Finish, Store, StoreU8};
use crate::act::AddOrder;

/// Row microkernel: `acc[e] = sum_p a[2p][e] * w[p][e % period][0] + a[2p + 1][e] *
/// w[p][e % period][1]` for `e < len`.
///
/// # Safety
/// `len` is a multiple of 16 and `acc` holds `len` entries; every tap pointer is valid for
/// `len` byte reads; the tiled codes hold `pairs * period * 2` entries with `period` a multiple
/// of 16; the CPU must support the kernel's instruction set.
pub(crate) type DwRowFn = unsafe fn(&[*const u8], &DwTiled<'_>, usize, &mut [i32]);

/// Depthwise codes tiled over one period: `[pair][period][2]` s16, entry `(p, e, j)` the code
/// of tap `2p + j` of channel `e % channels` (0 past an odd last tap).
#[derive(Clone, Copy, Debug)]
pub(crate) struct DwTiled<'a> {
    pub codes: &'a [i16],
    pub period: usize,
}

/// Elements per tiling period: `lcm(channels, 16)`.
pub(crate) fn period(channels: usize) -> usize {
    let (mut a, mut b) = (channels, 16);
    while b != 0 {
        (a, b) = (b, a % b);
    }
    channels / a * 16
}

/// Largest tiled weight table (s16 entries, `pairs * period * 2`) the row path takes: 64 KiB,
/// so the tile stays in L2 next to the scratch rows. Wider odd channel counts with large kernels
/// use the per-pixel path.
pub(crate) const MAX_TILED_CODES: usize = 32 * 1024;

/// The epilogue's per-channel constants tiled over one period (`lcm(channels, 16)` elements):
/// entry `e` holds channel `e % channels`'s `s_in * s_w`, `bias` and `zp_in * sum_w`. Shared by
/// the depthwise row path and the GEMM's narrow-output path.
pub(crate) struct FlatConsts {
    pub period: usize,
    pub scale: Vec<f32>,
    pub bias: Vec<f32>,
    pub zp_sum: Vec<i32>,
    /// The back end's own flat epilogue ([`FlatFinishFn`]), else the lanes' `finish_flat`.
    pub fast: Option<FlatFinishFn>,
}

/// A back end's flat epilogue: the contract of `finish_flat` (the same results bit for bit).
///
/// # Safety
/// `acc` holds `len` entries; `out` and the residual (when the finish's order is set) hold
/// `len` elements; the CPU supports the function's instruction set.
pub(crate) type FlatFinishFn =
    unsafe fn(&Finish<'_>, &FlatConsts, &[i32], usize, Option<*const f32>, Flat);

impl FlatConsts {
    /// Tiles the first `channels` constants of `finish`; `fast` is the back end's flat
    /// epilogue, if it has one.
    pub fn new(channels: usize, finish: &Finish<'_>, fast: Option<FlatFinishFn>) -> Self {
        let period = period(channels);
        let tile = |v: &[f32]| (0..period).map(|e| v[e % channels]).collect();
        FlatConsts {
            period,
            scale: tile(finish.scale),
            bias: tile(finish.bias),
            zp_sum: (0..period).map(|e| finish.zp_sum[e % channels]).collect(),
            fast,
        }
    }
}

/// The per-call tables of the row path, tiled over one period.
pub(crate) struct RowTables {
    /// `[pair][period][2]`.
    pub codes: Vec<i16>,
    pub consts: FlatConsts,
}

impl RowTables {
    /// Tiles the packed `[pair][cpad][2]` codes and the per-channel constants, or `None` when
    /// the table would exceed [`MAX_TILED_CODES`].
    pub fn new(
        codes: &[i16],
        channels: usize,
        cpad: usize,
        pairs: usize,
        finish: &Finish<'_>,
        fast: Option<FlatFinishFn>,
    ) -> Option<Self> {
        let period = period(channels);
        if pairs * period * 2 > MAX_TILED_CODES {
            return None;
        }
        let mut tiled = vec![0i16; pairs * period * 2];
        for p in 0..pairs {
            for e in 0..period {
                let src = (p * cpad + e % channels) * 2;
                tiled[(p * period + e) * 2..][..2].copy_from_slice(&codes[src..src + 2]);
            }
        }
        Some(RowTables {
            codes: tiled,
            consts: FlatConsts::new(channels, finish, fast),
        })
    }
}

/// What the row path adds to a [`DwPlan`].
pub(crate) struct DwRowPlan<'a> {
    pub kernel: DwRowFn,
    pub tables: &'a RowTables,
    /// The input zero point (padding bytes).
    pub zp: u8,
}

/// Bytes after each scratch phase row: the kernels read whole 16-byte vectors up to 15 bytes
/// past the row's last output element.
const SLACK: usize = 32;

/// Output rows `rows` (counted over `n * oh`) of the plan through the row path, on lanes `V`.
///
/// # Safety
/// As [`super::depthwise_kernel::depthwise_rows`]; `row` was built
/// from its weights and epilogue.
#[inline(always)]
pub(crate) unsafe fn depthwise_rows_flat<V: StoreU8>(
    plan: &DwPlan<'_>,
    row: &DwRowPlan<'_>,
    rows: Range<usize>,
) {
    let c = plan.weights.channels;
    let (kh, kw, sw) = (plan.kh, plan.kw, plan.sw);
    let taps = kh * kw;
    let slots = ((plan.ow - 1) * sw + kw).div_ceil(sw);
    let phase_len = slots * c + SLACK;
    let row_bytes = sw * phase_len;
    let mut scratch = vec![0u8; kh * row_bytes];
    let zp_row = vec![row.zp; row_bytes];
    // Which input row (`b * ih + iy`) each scratch row holds: input row `iy` lives in scratch
    // row `iy % kh`, so the `kh` consecutive rows of one window never collide.
    let mut holds = vec![usize::MAX; kh];
    let len = plan.ow * c;
    let mut acc = vec![0i32; len.next_multiple_of(16)];
    let dense = match plan.finish.store {
        Store::F32 { stride, .. } | Store::U8 { stride, .. } => stride == c,
    };
    let mut tmp_f32 = Vec::new();
    let mut tmp_u8 = Vec::new();
    if !dense {
        match plan.finish.store {
            Store::F32 { .. } => tmp_f32 = vec![0.0f32; len],
            Store::U8 { .. } => tmp_u8 = vec![0u8; len],
        }
    }
    let mut tmp_res = match plan.finish.order {
        Some(_) if plan.finish.res_stride != c => vec![0.0f32; len],
        _ => Vec::new(),
    };
    let mut a = vec![std::ptr::null::<u8>(); taps.div_ceil(2) * 2];
    let tiled = DwTiled {
        codes: &row.tables.codes,
        period: row.tables.consts.period,
    };
    let base = scratch.as_mut_ptr();
    for r in rows {
        let (b, oy) = (r / plan.oh, r % plan.oh);
        for ky in 0..kh {
            let iy = (oy * plan.sh + ky).wrapping_sub(plan.pad_top);
            let src = if iy < plan.ih {
                let slot = iy % kh;
                // SAFETY: slot `slot` of the scratch holds `row_bytes` bytes.
                let dst = unsafe { base.add(slot * row_bytes) };
                if holds[slot] != b * plan.ih + iy {
                    // SAFETY: input row `iy` of image `b` is a row of the checked input view.
                    unsafe { fill_row(plan, row.zp, b, iy, slots, phase_len, dst) };
                    holds[slot] = b * plan.ih + iy;
                }
                dst.cast_const()
            } else {
                zp_row.as_ptr()
            };
            for kx in 0..kw {
                // SAFETY: phase `kx % sw` starts inside the scratch row; the offset
                // `(kx / sw) * c` plus the row's `len` elements stays below `slots * c + 15`.
                a[ky * kw + kx] = unsafe { src.add((kx % sw) * phase_len + (kx / sw) * c) };
            }
        }
        if taps % 2 == 1 {
            a[taps] = a[taps - 1];
        }
        // SAFETY: every tap reads `len` rounded up to 16 bytes inside its phase row (slots
        // cover every window column, SLACK the rounding); `acc` holds that many entries.
        unsafe { (row.kernel)(&a, &tiled, acc.len(), &mut acc) };
        let p0 = r * plan.ow;
        // SAFETY: output pixels `p0 .. p0 + ow` form output row `r`.
        unsafe {
            store_row::<V>(
                &plan.finish,
                &row.tables.consts,
                &acc,
                len,
                p0,
                c,
                &mut tmp_f32,
                &mut tmp_u8,
                &mut tmp_res,
            )
        };
    }
}

/// Copies input row `iy` of image `b` into the scratch row at `dst`: padded column `x` (input
/// column `x - pad_left`, or zero points outside the input) to phase `x % sw`, slot `x / sw`.
///
/// # Safety
/// `dst` holds `sw * phase_len` bytes; `iy < ih`, `b < n` of the plan's input.
#[inline(always)]
unsafe fn fill_row(
    plan: &DwPlan<'_>,
    zp: u8,
    b: usize,
    iy: usize,
    slots: usize,
    phase_len: usize,
    dst: *mut u8,
) {
    let c = plan.weights.channels;
    let src = plan
        .input
        .wrapping_add((b * plan.ih + iy) * plan.iw * plan.in_stride);
    // SAFETY (whole function): input pixels `ix < iw` of the row hold `c` bytes at
    // `in_stride` (a 16-byte read at pixel `ix` ends at or before the row's last channel
    // byte); every write starts inside slot `< slots` of a phase and ends before the phase's
    // `SLACK` bytes do (16-byte copies only when `c <= 16`).
    unsafe {
        if plan.sw == 1 && plan.in_stride == c {
            // One stride phase, dense input: zero points, one copy, zero points.
            let left = plan.pad_left.min(slots);
            let inside = plan.iw.min(slots - left);
            std::ptr::write_bytes(dst, zp, left * c);
            std::ptr::copy_nonoverlapping(src, dst.add(left * c), inside * c);
            std::ptr::write_bytes(
                dst.add((left + inside) * c),
                zp,
                (slots - left - inside) * c,
            );
            return;
        }
        // Phase by phase, slots in increasing order, the padding and the inside as runs (no
        // division or bounds check per pixel). Up to 16 channels, a pixel whose row still
        // holds 16 readable bytes from it is one 16-byte copy: the bytes past `c` land on the
        // next slot, written after it, or in the phase's slack (the stride-2 fill of
        // 12-channel rows was half of such a call).
        let stride = plan.in_stride;
        let (sw, iw, pad) = (plan.sw, plan.iw, plan.pad_left);
        // The last input column a 16-byte copy may start at (the row holds 16 readable bytes
        // from it on), for `c <= 16`.
        let fast_last = if c <= 16 {
            (iw - 1).checked_sub((16 - c).div_ceil(stride))
        } else {
            None
        };
        for ph in 0..sw {
            let base = dst.add(ph * phase_len);
            // Slot `s` holds padded column `s * sw + ph`, input column `s * sw + ph - pad`:
            // slots `[0, first)` lie left of the input, `[first, end)` inside, `[end, slots)`
            // right of it; `[first, fast_end)` are 16-byte copies.
            let first = pad.saturating_sub(ph).div_ceil(sw).min(slots);
            let end = (iw + pad)
                .saturating_sub(ph)
                .div_ceil(sw)
                .clamp(first, slots);
            let fast_end = fast_last
                .and_then(|l| (l + pad).checked_sub(ph))
                .map_or(first, |last_slot| (last_slot / sw + 1).clamp(first, end));
            std::ptr::write_bytes(base, zp, first * c);
            let step = sw * stride;
            // Input column of slot `first` (only dereferenced when `first < end`).
            let mut s = src.wrapping_add((first * sw + ph).wrapping_sub(pad).wrapping_mul(stride));
            let mut d = base.add(first * c);
            for _ in first..fast_end {
                copy_pixel::<u8>(s, d, 16);
                s = s.wrapping_add(step);
                d = d.add(c);
            }
            for _ in fast_end..end {
                copy_pixel(s, d, c);
                s = s.wrapping_add(step);
                d = d.add(c);
            }
            std::ptr::write_bytes(base.add(end * c), zp, (slots - end) * c);
        }
    }
}

/// Finishes the flat row `acc[..len]` and stores it at output pixels `p0 ..`: straight into a
/// dense output, else through `tmp_*` and one copy per pixel.
///
/// # Safety
/// Output pixels `p0 .. p0 + len / c` exist; `acc` holds `len` rounded up to 8 entries; the
/// scratch vectors hold `len` elements when the output is not dense; the CPU supports `V`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(crate) unsafe fn store_row<V: StoreU8>(
    f: &Finish<'_>,
    t: &FlatConsts,
    acc: &[i32],
    len: usize,
    p0: usize,
    c: usize,
    tmp_f32: &mut [f32],
    tmp_u8: &mut [u8],
    tmp_res: &mut [f32],
) {
    // SAFETY (whole function): the destinations hold `len` elements (the dense output row, or
    // the scratch); the per-pixel copies write `c` elements of each output pixel; residual
    // pixels `p0 ..` hold `c` channels at `res_stride`.
    unsafe {
        // The residual as a flat row: in place when dense, else gathered pixel by pixel.
        let res = f.order.map(|_| {
            if f.res_stride == c {
                f.residual.add(p0 * c)
            } else {
                for (i, px) in tmp_res[..len].chunks_exact_mut(c).enumerate() {
                    let src = f.residual.add((p0 + i) * f.res_stride);
                    copy_pixel(src, px.as_mut_ptr(), c);
                }
                tmp_res.as_ptr()
            }
        });
        match f.store {
            Store::F32 { ptr, stride } if stride == c => {
                finish_flat_any::<V>(f, t, acc, len, res, Flat::F32(ptr.add(p0 * stride)));
            }
            Store::F32 { ptr, stride } => {
                finish_flat_any::<V>(f, t, acc, len, res, Flat::F32(tmp_f32.as_mut_ptr()));
                for (i, px) in tmp_f32[..len].chunks_exact(c).enumerate() {
                    copy_pixel(px.as_ptr(), ptr.add((p0 + i) * stride), c);
                }
            }
            Store::U8 {
                ptr,
                stride,
                scale,
                zp,
            } => {
                let dst = if stride == c {
                    ptr.add(p0 * stride)
                } else {
                    tmp_u8.as_mut_ptr()
                };
                finish_flat_any::<V>(f, t, acc, len, res, Flat::U8(dst, scale, zp));
                if stride != c {
                    for (i, px) in tmp_u8[..len].chunks_exact(c).enumerate() {
                        copy_pixel(px.as_ptr(), ptr.add((p0 + i) * stride), c);
                    }
                }
            }
        }
    }
}

/// Copies one pixel's `c` elements. GhostNet's narrow layers have 1-8 channels, where a
/// `memcpy` call per pixel costs more than the copy: those sizes get constant-size copies
/// (inlined moves).
///
/// # Safety
/// As `std::ptr::copy_nonoverlapping(src, dst, c)`.
#[inline(always)]
pub(crate) unsafe fn copy_pixel<T: Copy>(src: *const T, dst: *mut T, c: usize) {
    /// # Safety
    /// As `std::ptr::copy_nonoverlapping(src, dst, N)`.
    #[inline(always)]
    unsafe fn fixed<T: Copy, const N: usize>(src: *const T, dst: *mut T) {
        // SAFETY: forwarded contract.
        unsafe {
            dst.cast::<[T; N]>()
                .write_unaligned(src.cast::<[T; N]>().read_unaligned())
        }
    }
    // SAFETY (all arms): forwarded contract, `N == c`.
    unsafe {
        match c {
            1 => fixed::<T, 1>(src, dst),
            2 => fixed::<T, 2>(src, dst),
            3 => fixed::<T, 3>(src, dst),
            4 => fixed::<T, 4>(src, dst),
            5 => fixed::<T, 5>(src, dst),
            6 => fixed::<T, 6>(src, dst),
            7 => fixed::<T, 7>(src, dst),
            8 => fixed::<T, 8>(src, dst),
            // 9-32 elements (GhostNet's 12-, 20- and 24-channel stride-2 depthwise fills, one
            // pixel per call): two overlapping fixed-size copies instead of a `memcpy` call,
            // which took a quarter of a 12-channel stride-2 call.
            9..=16 => {
                fixed::<T, 8>(src, dst);
                fixed::<T, 8>(src.add(c - 8), dst.add(c - 8));
            }
            17..=32 => {
                fixed::<T, 16>(src, dst);
                fixed::<T, 16>(src.add(c - 16), dst.add(c - 16));
            }
            _ => std::ptr::copy_nonoverlapping(src, dst, c),
        }
    }
}

/// A flat destination of `len` elements.
#[derive(Clone, Copy)]
pub(crate) enum Flat {
    F32(*mut f32),
    U8(*mut u8, f32, u8),
}

/// [`finish_flat`] through the back end's own flat epilogue when it has one.
///
/// # Safety
/// As [`finish_flat`].
#[inline(always)]
unsafe fn finish_flat_any<V: StoreU8>(
    f: &Finish<'_>,
    t: &FlatConsts,
    acc: &[i32],
    len: usize,
    res: Option<*const f32>,
    out: Flat,
) {
    // SAFETY: forwarded contract; a `fast` epilogue is only set on back ends whose CPU check
    // covers its instruction set.
    unsafe {
        match t.fast {
            Some(fast) => fast(f, t, acc, len, res, out),
            None => finish_flat::<V>(f, t, acc, len, res, out),
        }
    }
}

/// `y[e] = act((acc[e] - zp_sum) * scale + bias [+ r[e]]) [+ r[e]]` with the constants of
/// channel `e % c` (the same operations as [`super::epilogue::finish4`]; the residual `res`, a
/// flat row of `len` floats, added where `f.order` says), four vectors at a time.
///
/// # Safety
/// `acc` holds `len` rounded up to 8 entries; `out` and `res` (when `f.order` is set) hold
/// `len` elements; the CPU supports `V`.
#[inline(always)]
unsafe fn finish_flat<V: StoreU8>(
    f: &Finish<'_>,
    t: &FlatConsts,
    acc: &[i32],
    len: usize,
    res: Option<*const f32>,
    out: Flat,
) {
    let period = t.period;
    let (mut e, mut k) = (0, 0);
    // SAFETY (whole loop): `k + 8 <= period` for every table load (period a multiple of 16,
    // `k` a multiple of 8 below it); `acc` holds `e + 8` entries for every vector started
    // below `len`; stores are clipped to `len`.
    unsafe {
        while e < len {
            let count = (len - e).div_ceil(8).min(4);
            let mut y = [V::splat(0.0); 4];
            let mut kk = k;
            for (i, yi) in y.iter_mut().enumerate().take(count) {
                let a: &[i32; 8] = acc[e + 8 * i..][..8].try_into().expect("8");
                let z: &[i32; 8] = t.zp_sum[kk..kk + 8].try_into().expect("8");
                let mut corrected = [0.0f32; 8];
                for ((c, &a), &z) in corrected.iter_mut().zip(a).zip(z) {
                    *c = (a - z) as f32;
                }
                *yi = V::mul_add(
                    V::load(corrected.as_ptr()),
                    V::load(t.scale.as_ptr().add(kk)),
                    V::load(t.bias.as_ptr().add(kk)),
                );
                kk += 8;
                if kk == period {
                    kk = 0;
                }
            }
            let add_residual = |y: &mut [V; 4]| {
                if let Some(r) = res {
                    for (i, yi) in y.iter_mut().enumerate().take(count) {
                        let at = e + 8 * i;
                        let m = V::mask((len - at).min(8));
                        *yi = V::add(*yi, V::load_masked(r.add(at), m));
                    }
                }
            };
            if f.order == Some(AddOrder::BeforeActivation) {
                add_residual(&mut y);
            }
            y = V::activate4(f.act, y);
            if f.order == Some(AddOrder::AfterActivation) {
                add_residual(&mut y);
            }
            for (i, &yi) in y.iter().enumerate().take(count) {
                let at = e + 8 * i;
                let n = (len - at).min(8);
                match out {
                    Flat::F32(dst) if n == 8 => V::store(dst.add(at), yi),
                    Flat::F32(dst) => V::store_masked(dst.add(at), V::mask(n), yi),
                    Flat::U8(dst, scale, zp) => V::store_u8(dst.add(at), yi, scale, zp, n),
                }
            }
            e += 32;
            k = kk;
        }
    }
}

/// [`DwRowFn`] in plain Rust (the scalar and portable back ends; the readable contract).
///
/// # Safety
/// As [`DwRowFn`].
pub(crate) unsafe fn depthwise_row_scalar(
    a: &[*const u8],
    w: &DwTiled<'_>,
    len: usize,
    acc: &mut [i32],
) {
    let period = w.period;
    acc[..len].fill(0);
    for (t, &row) in a.iter().enumerate() {
        // SAFETY: the contract makes each tap pointer valid for `len` reads.
        let x = unsafe { std::slice::from_raw_parts(row, len) };
        let codes = &w.codes[(t / 2) * period * 2..][..period * 2];
        for (chunk_acc, chunk_x) in acc[..len].chunks_mut(period).zip(x.chunks(period)) {
            for ((s, &xi), wi) in chunk_acc
                .iter_mut()
                .zip(chunk_x)
                .zip(codes.iter().skip(t % 2).step_by(2))
            {
                *s += i32::from(xi) * i32::from(*wi);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::period;

    #[test]
    fn period_is_the_least_common_multiple_with_16() {
        for (c, p) in [
            (1, 16),
            (6, 48),
            (12, 48),
            (16, 16),
            (24, 48),
            (33, 528),
            (64, 64),
        ] {
            assert_eq!(period(c), p, "{c} channels");
        }
    }
}
