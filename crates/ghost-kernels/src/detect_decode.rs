//! Ultralytics `Detect`'s decode of one level in one pass: from the level's NHWC logits (per
//! pixel `4 * bins` box logits, then `nc` class logits) straight into that level's columns of the
//! transposed `output0` item (`[4 + nc][anchors]`):
//! - box rows 0..4: DFL (softmax over the bins and its `arange` expectation, as [`crate::dfl`])
//!   -> `dist2bbox(xywh=True)` around the cell centre `(x + 0.5, y + 0.5)` -> times the stride,
//!   in PyTorch's operation order;
//! - class rows 4..4 + nc: the sigmoid of the logits.
//!
//! The lanes of a vector are 8 neighbouring pixels (anchors), so every output row gets whole
//! 8-anchor stores and the DFL reductions run down the bins (no horizontal reductions): 8
//! pixels' logits are transposed 8 x 8 in registers (`Lanes::transpose8`). A block with fewer
//! than 8 pixels (the level's last) runs the same vector code with zeroed padding lanes and
//! stores only its pixels, so every value is computed the same way whatever the thread split.

use std::ops::Range;

use crate::act::Activation;
use crate::backend::Backend;
use crate::error::{KernelError, Result};
use crate::isa::{active_isa, Isa};
use crate::lanes::{run_split, Lanes, Pixels, SplitKernel, LANES};
use crate::parallel::Threads;
use crate::view::TensorView;

/// Box sides per pixel.
const SIDES: usize = 4;

/// Pixels per work item (4 vectors): 32 pixels' logits (18 KiB at 16 bins and 80 classes)
/// stay in L1 while their class rows are written.
const GROUP: usize = 32;

/// Gathered floats per pixel that fit the on-stack buffer (4 sides x 32 bins; 4 KiB).
const STACK_FLOATS: usize = 128;

/// Fewest pixel groups worth a thread (a group is 32 x (64 exps + 80 sigmoids) at the usual
/// 16 bins and 80 classes).
const MIN_GROUPS: usize = 8;

/// Where one level's decoded values go: the `output0` item `data` holds `4 + nc` rows of
/// `anchors` floats; the level's pixel `p` is column `offset + p` of every row.
#[derive(Debug)]
pub struct DecodeTarget<'a> {
    /// `(4 + nc) * anchors` floats.
    pub data: &'a mut [f32],
    /// Anchors of all levels (the row length).
    pub anchors: usize,
    /// This level's first anchor.
    pub offset: usize,
}

/// Decodes one batch item's level logits (`input`, `[1, h, w, 4 * bins + nc]`, any pixel
/// stride) with level `stride` into `target` (see the module docs).
pub fn detect_decode(
    input: &TensorView,
    bins: usize,
    nc: usize,
    stride: f32,
    target: &mut DecodeTarget,
    threads: &Threads,
) -> Result<()> {
    detect_decode_with_isa(active_isa(), input, bins, nc, stride, target, threads)
}

/// [`detect_decode`] on an explicitly chosen implementation.
#[doc(hidden)]
pub fn detect_decode_with_isa(
    isa: Isa,
    input: &TensorView,
    bins: usize,
    nc: usize,
    stride: f32,
    target: &mut DecodeTarget,
    threads: &Threads,
) -> Result<()> {
    let backend = Backend::get(isa)?;
    check(input, bins, nc, target)?;
    let [_, _, w, _] = input.shape();
    let pixels = input.layout().pixels();
    let kernel = DecodeKernel {
        input: Pixels::of(input),
        output: target.data.as_mut_ptr(),
        anchors: target.anchors,
        offset: target.offset,
        pixels,
        width: w,
        bins,
        nc,
        stride,
    };
    // SAFETY: shapes checked above; `isa` is supported; groups write disjoint columns.
    unsafe {
        run_split(
            backend.kernels.detect_decode,
            threads,
            pixels.div_ceil(GROUP),
            MIN_GROUPS,
            &kernel,
        )
    };
    Ok(())
}

fn check(input: &TensorView, bins: usize, nc: usize, target: &DecodeTarget) -> Result<()> {
    if bins == 0 {
        return Err(KernelError::param("bins", "DFL needs at least 1 bin"));
    }
    let [n, h, w, c] = input.shape();
    if n != 1 {
        return Err(KernelError::shape(
            "input",
            "one batch item".to_string(),
            format!("{n} items"),
        ));
    }
    if Some(c) != (SIDES * bins).checked_add(nc) {
        return Err(KernelError::shape(
            "input",
            format!(
                "{} channels (4 x {bins} bins + {nc} classes)",
                SIDES * bins + nc
            ),
            format!("{c} channels"),
        ));
    }
    let rows = SIDES + nc;
    let fits = target
        .offset
        .checked_add(h * w)
        .is_some_and(|end| end <= target.anchors);
    if !fits {
        return Err(KernelError::shape(
            "output0 columns",
            format!("{} anchors from {}", h * w, target.offset),
            format!("rows of {} anchors", target.anchors),
        ));
    }
    if Some(target.data.len()) != rows.checked_mul(target.anchors) {
        return Err(KernelError::shape(
            "output0",
            format!("{rows} rows x {} anchors", target.anchors),
            format!("{} floats", target.data.len()),
        ));
    }
    Ok(())
}

#[derive(Debug)]
pub(crate) struct DecodeKernel {
    input: Pixels,
    output: *mut f32,
    anchors: usize,
    offset: usize,
    pixels: usize,
    width: usize,
    bins: usize,
    nc: usize,
    stride: f32,
}

// SAFETY: threads of one call read the shared input and write disjoint output columns.
unsafe impl Send for DecodeKernel {}
// SAFETY: as above.
unsafe impl Sync for DecodeKernel {}

impl DecodeKernel {
    /// Copies channels `first .. first + count` of the block's `valid` pixels from `p0` into
    /// `buf[k * 8 + j]` (channel `first + k`, pixel `p0 + j`); lanes of missing pixels are 0.
    /// Eight channels at a time: one (masked) load per pixel, an 8x8 transpose, 8 stores.
    #[inline(always)]
    unsafe fn gather<V: Lanes>(
        &self,
        buf: &mut [f32],
        p0: usize,
        valid: usize,
        first: usize,
        count: usize,
    ) {
        let buf = buf[..count * LANES].as_mut_ptr();
        let zero = V::splat(0.0);
        for k in (0..count).step_by(LANES) {
            let n = (count - k).min(LANES);
            let mut rows = [zero; LANES];
            for (j, row) in rows.iter_mut().enumerate().take(valid) {
                let src = self.input.at(p0 + j).add(first + k);
                *row = if n == LANES {
                    V::load(src)
                } else {
                    V::load_masked(src, V::mask(n))
                };
            }
            let cols = V::transpose8(rows);
            for (i, col) in cols.into_iter().enumerate().take(n) {
                V::store(buf.add((k + i) * LANES), col);
            }
        }
    }

    /// Stores `v` at column `p0` of output row `row` (only the block's `valid` pixels).
    #[inline(always)]
    unsafe fn put<V: Lanes>(&self, row: usize, p0: usize, valid: usize, v: V) {
        let dst = self.output.add(row * self.anchors + self.offset + p0);
        if valid == LANES {
            V::store(dst, v);
        } else {
            V::store_masked(dst, V::mask(valid), v);
        }
    }

    /// DFL of one side from its `bins` gathered vectors at `x`: `sum_i i e_i / sum_i e_i`,
    /// `e_i = exp(x_i - max)`, accumulated in bin order.
    #[inline(always)]
    unsafe fn side<V: Lanes>(&self, x: *const f32) -> V {
        let bins = self.bins;
        if bins == 1 {
            // reg_max = 1: Ultralytics' DFL is the identity.
            return V::load(x);
        }
        let mut max = V::load(x);
        for i in 1..bins {
            max = V::max_fast(max, V::load(x.add(i * LANES)));
        }
        let mut sum = V::splat(0.0);
        let mut weighted = V::splat(0.0);
        for i in 0..bins {
            let e = V::exp(V::sub(V::load(x.add(i * LANES)), max));
            sum = V::add(sum, e);
            weighted = V::mul_add(e, V::splat(i as f32), weighted);
        }
        V::div(weighted, sum)
    }

    /// The box rows of the 8 pixels from `p0` (`valid` of them): DFL, then dist2bbox(xywh) *
    /// stride around the anchor centres.
    #[inline(always)]
    unsafe fn boxes<V: Lanes>(&self, buf: &mut [f32], p0: usize, valid: usize) {
        let bins = self.bins;
        let (mut ax, mut ay) = ([0.0f32; LANES], [0.0f32; LANES]);
        for j in 0..LANES {
            let p = p0 + j;
            ax[j] = (p % self.width) as f32 + 0.5;
            ay[j] = (p / self.width) as f32 + 0.5;
        }
        self.gather::<V>(buf, p0, valid, 0, SIDES * bins);
        // No closures (array::from_fn) around vector code: closures do not inherit the
        // caller's target features, so their lane operations would not inline.
        let b = buf.as_ptr();
        let d = [
            self.side::<V>(b),
            self.side::<V>(b.add(bins * LANES)),
            self.side::<V>(b.add(2 * bins * LANES)),
            self.side::<V>(b.add(3 * bins * LANES)),
        ];
        let (ax, ay) = (V::load(ax.as_ptr()), V::load(ay.as_ptr()));
        let (half, stride) = (V::splat(0.5), V::splat(self.stride));
        let (x1, y1) = (V::sub(ax, d[0]), V::sub(ay, d[1]));
        let (x2, y2) = (V::add(ax, d[2]), V::add(ay, d[3]));
        // (x1 + x2) / 2 * stride: the halving is exact, as PyTorch's division by 2.
        let rows = [
            V::mul(V::mul(V::add(x1, x2), half), stride),
            V::mul(V::mul(V::add(y1, y2), half), stride),
            V::mul(V::sub(x2, x1), stride),
            V::mul(V::sub(y2, y1), stride),
        ];
        for (r, v) in rows.into_iter().enumerate() {
            self.put(r, p0, valid, v);
        }
    }

    /// The sigmoid of classes `k .. k + n` (`n <= 8`) of the 8 pixels from `p0` (`valid` of
    /// them) into their class rows: one (masked) load per pixel, an 8x8 transpose, two
    /// four-vector sigmoids, `n` row stores.
    #[inline(always)]
    unsafe fn classes<V: Lanes>(&self, p0: usize, valid: usize, k: usize, n: usize) {
        let zero = V::splat(0.0);
        let mut rows = [zero; LANES];
        let first = SIDES * self.bins + k;
        for (j, row) in rows.iter_mut().enumerate().take(valid) {
            let src = self.input.at(p0 + j).add(first);
            *row = if n == LANES {
                V::load(src)
            } else {
                V::load_masked(src, V::mask(n))
            };
        }
        let [c0, c1, c2, c3, c4, c5, c6, c7] = V::transpose8(rows);
        let [c0, c1, c2, c3] = V::activate4(Activation::Sigmoid, [c0, c1, c2, c3]);
        let [c4, c5, c6, c7] = V::activate4(Activation::Sigmoid, [c4, c5, c6, c7]);
        for (i, v) in [c0, c1, c2, c3, c4, c5, c6, c7]
            .into_iter()
            .enumerate()
            .take(n)
        {
            self.put(SIDES + k + i, p0, valid, v);
        }
    }

    /// Pixel group `g` (`GROUP` pixels, fewer at the end of the level). The class rows are
    /// written 8 classes x the whole group at a time, so each row receives `GROUP` contiguous
    /// floats (whole cache lines) in a burst: with one 8-pixel block at a time, the ~84 rows'
    /// half-written lines were the kernel's bottleneck.
    #[inline(always)]
    unsafe fn group<V: Lanes>(&self, buf: &mut [f32], g: usize) {
        let start = g * GROUP;
        let end = (start + GROUP).min(self.pixels);
        // The logits were written by the convs long before (megabytes ago): ask for the group
        // after next while this one computes.
        let ahead = start + 2 * GROUP;
        let channels = SIDES * self.bins + self.nc;
        for p in ahead..(ahead + GROUP).min(self.pixels) {
            let px = self.input.at(p);
            for off in (0..channels).step_by(16) {
                V::prefetch(px.add(off));
            }
            V::prefetch(px.add(channels - 1));
        }
        for p0 in (start..end).step_by(LANES) {
            self.boxes::<V>(buf, p0, (end - p0).min(LANES));
        }
        for k in (0..self.nc).step_by(LANES) {
            let n = (self.nc - k).min(LANES);
            for p0 in (start..end).step_by(LANES) {
                self.classes::<V>(p0, (end - p0).min(LANES), k, n);
            }
        }
    }
}

impl SplitKernel for DecodeKernel {
    #[inline(always)]
    unsafe fn run<V: Lanes>(&self, groups: Range<usize>) {
        // A block's box logits, transposed. On the stack up to 32 bins (Ultralytics uses 16),
        // so a forward pass allocates nothing.
        let need = LANES * SIDES * self.bins;
        let mut stack = [0.0f32; LANES * STACK_FLOATS];
        let mut heap = Vec::new();
        let buf = if need <= stack.len() {
            &mut stack[..need]
        } else {
            heap.resize(need, 0.0);
            &mut heap[..]
        };
        for g in groups {
            self.group::<V>(buf, g);
        }
    }
}

/// f64 reference.
pub mod naive {
    use super::{check, DecodeTarget, SIDES};
    use crate::error::Result;
    use crate::view::{TensorView, TensorViewMut};

    /// What `detect_decode` computes, as PyTorch writes it (DFL softmax then the `arange`
    /// expectation, `dist2bbox`, times the stride; sigmoid), in f64.
    pub fn detect_decode(
        input: &TensorView,
        bins: usize,
        nc: usize,
        stride: f32,
        target: &mut DecodeTarget,
    ) -> Result<()> {
        check(input, bins, nc, target)?;
        let [_, h, w, _] = input.shape();
        let mut dist = vec![0.0f32; h * w * SIDES];
        let boxes = input.channels(0, SIDES * bins)?;
        if bins > 1 {
            let mut d = TensorViewMut::dense(&mut dist, 1, h, w, SIDES)?;
            crate::dfl::naive::dfl(&boxes, bins, &mut d)?;
        } else {
            for p in 0..h * w {
                dist[p * SIDES..(p + 1) * SIDES].copy_from_slice(boxes.pixel(p));
            }
        }
        let s = f64::from(stride);
        let at = |row: usize, p: usize| row * target.anchors + target.offset + p;
        for p in 0..h * w {
            let d: Vec<f64> = dist[p * SIDES..(p + 1) * SIDES]
                .iter()
                .map(|&v| f64::from(v))
                .collect();
            let (ax, ay) = ((p % w) as f64 + 0.5, (p / w) as f64 + 0.5);
            let (x1, y1, x2, y2) = (ax - d[0], ay - d[1], ax + d[2], ay + d[3]);
            let rows = [
                (x1 + x2) / 2.0 * s,
                (y1 + y2) / 2.0 * s,
                (x2 - x1) * s,
                (y2 - y1) * s,
            ];
            for (r, v) in rows.into_iter().enumerate() {
                target.data[at(r, p)] = v as f32;
            }
            let px = input.pixel(p);
            for k in 0..nc {
                let x = f64::from(px[SIDES * bins + k]);
                target.data[at(SIDES + k, p)] = (1.0 / (1.0 + (-x).exp())) as f32;
            }
        }
        Ok(())
    }
}
