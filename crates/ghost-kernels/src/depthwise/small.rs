//! Depthwise for fewer than 8 channels (yolo11n-ghost's GhostNet at width 0.25 has 2, 3, 6 ...
//! channels on 320x320 and 160x160 maps).
//!
//! One 8-lane vector per pixel would waste most lanes and need masked loads. Instead each input
//! row is copied once into a scratch row where a pixel takes `L = c.next_power_of_two()` floats
//! (zeros in lanes `c..L`) and one vector holds `P = 8 / L` neighbouring pixels. The scratch row
//! is zero-padded left and right (so borders need no special path) and split into `stride`
//! phases (padded column `x` goes to phase `x % stride`, slot `x / stride`), which makes the `P`
//! pixels of an output vector contiguous for every tap, whatever the stride. The weights are
//! packed with lane `l` holding channel `l % L` (see `pack.rs`).
//!
//! Each output pixel sums bias and taps in the same order as the other paths (kernel row, then
//! column); padded taps add `w * 0`, as PyTorch's zero padding does.

use std::ops::Range;

use super::kernel::Plan;
use crate::act::AddOrder;
use crate::lanes::{Lanes, LANES};
use crate::scratch_pool;

/// Scratch geometry shared by every row of one call.
struct Scratch<V: Lanes> {
    /// Mask of the `c` channels.
    channels: V::Mask,
    /// Mask of one scratch pixel's `L` lanes.
    pixel: V::Mask,
    /// Floats per pixel in the scratch (`c.next_power_of_two()`).
    lanes: usize,
    /// Pixels per vector.
    per: usize,
    /// Output vectors per row.
    vectors: usize,
    /// Slots per stride phase.
    slots: usize,
    /// Floats per scratch row.
    row_len: usize,
    data: Vec<f32>,
    /// Which input row (`b * ih + iy`) each of the `kh` scratch rows holds.
    holds: Vec<usize>,
    /// Offset of tap column `kx` in a scratch row (precomputed: it needs a division by the
    /// stride, too slow for the inner loop).
    tap_offset: Vec<usize>,
}

/// Computes output rows `rows` for a layer with fewer than 8 channels.
///
/// # Safety
/// As `kernel::rows`.
#[inline(always)]
pub(crate) unsafe fn rows<V: Lanes, const T: usize>(p: &Plan, rows: Range<usize>) {
    // One instance per channel count: the per-pixel copies and stores (the bulk of the work at
    // these widths) then have constant sizes instead of a size switch per pixel.
    // SAFETY (all arms): forwarded contract.
    unsafe {
        match p.packed.channels() {
            1 => rows_c::<V, T, 1>(p, rows),
            2 => rows_c::<V, T, 2>(p, rows),
            3 => rows_c::<V, T, 3>(p, rows),
            4 => rows_c::<V, T, 4>(p, rows),
            5 => rows_c::<V, T, 5>(p, rows),
            6 => rows_c::<V, T, 6>(p, rows),
            _ => rows_c::<V, T, 7>(p, rows),
        }
    }
}

/// [`rows`] for `C = p.packed.channels()` channels.
///
/// # Safety
/// As `kernel::rows`, and the layer has exactly `C` channels.
#[inline(always)]
unsafe fn rows_c<V: Lanes, const T: usize, const C: usize>(p: &Plan, rows: Range<usize>) {
    debug_assert_eq!(p.packed.channels(), C);
    let c = C;
    let (kh, kw) = (p.packed.kernel_h(), p.packed.kernel_w());
    let lanes = c.next_power_of_two();
    let per = LANES / lanes;
    let vectors = p.ow.div_ceil(per);
    // Padded columns the last vector reads: ((vectors * per - 1) * sw + kw).
    let padded = (vectors * per - 1) * p.sw + kw;
    let slots = padded.div_ceil(p.sw);
    let row_len = p.sw * slots * lanes;
    // A scratch set from the shared pool: the zero padding of the scratch rows must start at zero.
    let mut bufs = scratch_pool::take();
    scratch_pool::refill(&mut bufs.floats, kh * row_len, 0.0);
    scratch_pool::refill(&mut bufs.words, kh, usize::MAX);
    bufs.more_words.clear();
    for kx in 0..kw {
        bufs.more_words
            .push(((kx % p.sw) * slots + kx / p.sw) * lanes);
    }
    let mut s = Scratch::<V> {
        channels: V::mask(c),
        pixel: V::mask(lanes),
        lanes,
        per,
        vectors,
        slots,
        row_len,
        data: std::mem::take(&mut bufs.floats),
        holds: std::mem::take(&mut bufs.words),
        tap_offset: std::mem::take(&mut bufs.more_words),
    };
    let weights = p.packed.block_weights(0);
    let bias = V::load(p.packed.block_bias(0));
    for r in rows {
        let (b, oy) = (r / p.oh, r % p.oh);
        let iy0 = (oy * p.sh) as isize - p.pad_top as isize;
        let ky0 = (-iy0).clamp(0, kh as isize) as usize;
        let ky1 = (p.ih as isize - iy0).clamp(ky0 as isize, kh as isize) as usize;
        for ky in ky0..ky1 {
            let iy = (iy0 + ky as isize) as usize;
            fill_row::<V>(p, &mut s, b, iy);
        }
        let rows_ptr = s.data.as_ptr();
        // Scratch row holding kernel row ky0 (one division per output row, not per tile).
        let slot0 = (iy0 + ky0 as isize) as usize % kh;
        let mut v = 0;
        while v + T <= s.vectors {
            tile::<V, T>(p, &s, rows_ptr, weights, bias, b, oy, slot0, ky0..ky1, v);
            v += T;
        }
        while v < s.vectors {
            tile::<V, 1>(p, &s, rows_ptr, weights, bias, b, oy, slot0, ky0..ky1, v);
            v += 1;
        }
    }
    scratch_pool::put(scratch_pool::Buffers {
        floats: s.data,
        words: s.holds,
        more_words: s.tap_offset,
    });
}

/// Copies input row `iy` of image `b` into its scratch row (`iy % kh`) unless it is there.
#[inline(always)]
unsafe fn fill_row<V: Lanes>(p: &Plan, s: &mut Scratch<V>, b: usize, iy: usize) {
    let kh = s.holds.len();
    let key = b * p.ih + iy;
    let slot = iy % kh;
    if s.holds[slot] == key {
        return;
    }
    s.holds[slot] = key;
    let dst_row = &mut s.data[slot * s.row_len..(slot + 1) * s.row_len];
    dst_row.fill(0.0);
    let dst_row = dst_row.as_mut_ptr();
    let src_row = p.input.add(key * p.iw * p.in_stride);
    // Padded column x = ix + pad_left goes to phase x % sw, slot x / sw (tracked incrementally).
    let (mut phase, mut at) = (p.pad_left % p.sw, p.pad_left / p.sw);
    for ix in 0..p.iw {
        if at >= s.slots {
            break;
        }
        // The masked load reads only the view's c channels and zeroes lanes c..L.
        let x = V::load_masked(src_row.add(ix * p.in_stride), s.channels);
        V::store_masked(dst_row.add((phase * s.slots + at) * s.lanes), s.pixel, x);
        phase += 1;
        if phase == p.sw {
            phase = 0;
            at += 1;
        }
    }
}

/// `T` output vectors (`T * per` pixels) from vector `v0` of output row `oy`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
unsafe fn tile<V: Lanes, const T: usize>(
    p: &Plan,
    s: &Scratch<V>,
    rows_ptr: *const f32,
    weights: *const f32,
    bias: V,
    b: usize,
    oy: usize,
    slot0: usize,
    ky: Range<usize>,
    v0: usize,
) {
    let kh = s.holds.len();
    let kw = p.packed.kernel_w();
    let mut acc = [bias; T];
    let first = v0 * s.per * s.lanes;
    // Scratch row of kernel row ky0, then the next ones cyclically.
    let mut slot = slot0;
    for ky in ky {
        let line = rows_ptr.add(slot * s.row_len + first);
        slot = if slot + 1 == kh { 0 } else { slot + 1 };
        for (kx, &offset) in s.tap_offset.iter().enumerate() {
            let w = V::load(weights.add((ky * kw + kx) * LANES));
            let base = line.add(offset);
            for (t, a) in acc.iter_mut().enumerate() {
                *a = V::mul_add(w, V::load(base.add(t * LANES)), *a);
            }
        }
    }
    for (t, a) in acc.into_iter().enumerate() {
        finish::<V>(p, s, b, oy, (v0 + t) * s.per, a);
    }
}

/// Epilogue and store of the `per` pixels of one vector (pixels past the row end are dropped).
#[inline(always)]
unsafe fn finish<V: Lanes>(p: &Plan, s: &Scratch<V>, b: usize, oy: usize, ox0: usize, acc: V) {
    let count = s.per.min(p.ow - ox0);
    let first = (b * p.oh + oy) * p.ow + ox0;
    let value = match p.order {
        None => V::activate(p.act, acc),
        Some(order) => {
            let mut r = [0.0f32; LANES];
            for i in 0..count {
                // One exact-width copy of the pixel's `c` residual channels into its lanes.
                let src = p.residual.add((first + i) * p.res_stride);
                let x = V::load_masked(src, s.channels);
                V::store_masked(r.as_mut_ptr().add(i * s.lanes), s.channels, x);
            }
            let r = V::load(r.as_ptr());
            match order {
                AddOrder::BeforeActivation => V::activate(p.act, V::add(acc, r)),
                AddOrder::AfterActivation => V::add(V::activate(p.act, acc), r),
            }
        }
    };
    for i in 0..count {
        let dst = p.output.add((first + i) * p.out_stride);
        V::store_masked(dst, s.channels, V::rotate(value, i * s.lanes));
    }
}
