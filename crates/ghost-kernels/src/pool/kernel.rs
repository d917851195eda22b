//! Pooling kernel bodies, generic over the vector back end.

use std::ops::Range;

use crate::geometry::Window;
use crate::lanes::{each_block, load_opt, store_opt, Lanes, Pixels, SplitKernel, LANES};
use crate::scratch_pool;

/// Max pooling; work items are output rows `b * oh + oy`.
#[derive(Debug)]
pub(crate) struct MaxPoolKernel {
    pub input: Pixels,
    pub output: Pixels,
    pub ih: usize,
    pub iw: usize,
    pub oh: usize,
    pub ow: usize,
    pub c: usize,
    pub window: Window,
}

impl SplitKernel for MaxPoolKernel {
    #[inline(always)]
    unsafe fn run<V: Lanes>(&self, rows: Range<usize>) {
        let win = &self.window;
        let c = self.c;
        let tail = V::mask(c % LANES);
        // Column maxima of one output row's input rows, 8-lane padded per pixel.
        let cp = c.div_ceil(LANES) * LANES;
        let mut bufs = scratch_pool::take();
        scratch_pool::refill(&mut bufs.floats, self.iw * cp, 0.0);
        let cols = &mut bufs.floats;
        let neg_inf = V::splat(f32::NEG_INFINITY);
        for r in rows {
            let (b, oy) = (r / self.oh, r % self.oh);
            let iy0 = (oy * win.stride_h) as isize - win.padding.top as isize;
            let ky0 = (-iy0).clamp(0, win.kernel_h as isize) as usize;
            let ky1 = (self.ih as isize - iy0).clamp(ky0 as isize, win.kernel_h as isize) as usize;
            let row0 = (b * self.ih) as isize + iy0;
            for ix in 0..self.iw {
                let col = cols.as_mut_ptr().add(ix * cp);
                each_block!(c, tail, |ch, m| {
                    let mut acc = neg_inf;
                    for ky in ky0..ky1 {
                        let p = (row0 + ky as isize) as usize * self.iw + ix;
                        acc = V::max_nan(acc, load_opt(self.input.at(p).add(ch), m));
                    }
                    V::store(col.add(ch), acc);
                });
            }
            let out_row = (b * self.oh + oy) * self.ow;
            for ox in 0..self.ow {
                let ix0 = (ox * win.stride_w) as isize - win.padding.left as isize;
                let kx0 = (-ix0).clamp(0, win.kernel_w as isize) as usize;
                let kx1 =
                    (self.iw as isize - ix0).clamp(kx0 as isize, win.kernel_w as isize) as usize;
                let out = self.output.at(out_row + ox);
                each_block!(c, tail, |ch, m| {
                    let mut acc = neg_inf;
                    for kx in kx0..kx1 {
                        let col = cols.as_ptr().add((ix0 + kx as isize) as usize * cp);
                        acc = V::max_nan(acc, V::load(col.add(ch)));
                    }
                    store_opt(out.add(ch), m, acc);
                });
            }
        }
        scratch_pool::put(bufs);
    }
}

/// Global average pooling; work items are `(image, channel block)` pairs `b * blocks + blk`.
#[derive(Debug)]
pub(crate) struct GlobalAvgKernel {
    pub input: Pixels,
    pub output: Pixels,
    pub h: usize,
    pub w: usize,
    pub c: usize,
    pub blocks: usize,
}

impl SplitKernel for GlobalAvgKernel {
    #[inline(always)]
    unsafe fn run<V: Lanes>(&self, items: Range<usize>) {
        let tail_mask = V::mask(self.c % LANES);
        let mask_of = |blk: usize| (blk * LANES + LANES > self.c).then_some(tail_mask);
        let count = V::splat((self.h * self.w) as f32);
        // Per-block running sums of the image (`total`) and of the current row (`row`), 8
        // floats per block, in this thread's reusable buffer.
        let mut bufs = scratch_pool::take();
        let mut item = items.start;
        while item < items.end {
            // The blocks of this chunk that belong to image `b`, summed pixel by pixel.
            let b = item / self.blocks;
            let blocks = item % self.blocks..(items.end - b * self.blocks).min(self.blocks);
            let n = blocks.len() * LANES;
            scratch_pool::refill(&mut bufs.floats, 2 * n, 0.0);
            let (total, row) = bufs.floats.split_at_mut(n);
            let (total, row) = (total.as_mut_ptr(), row.as_mut_ptr());
            for y in 0..self.h {
                for (i, _) in blocks.clone().enumerate() {
                    V::store(row.add(i * LANES), V::splat(0.0));
                }
                for x in 0..self.w {
                    let px = self.input.at((b * self.h + y) * self.w + x);
                    for (i, blk) in blocks.clone().enumerate() {
                        let acc = row.add(i * LANES);
                        let v = load_opt(px.add(blk * LANES), mask_of(blk));
                        V::store(acc, V::add(V::load(acc), v));
                    }
                }
                for (i, _) in blocks.clone().enumerate() {
                    let t = total.add(i * LANES);
                    V::store(t, V::add(V::load(t), V::load(row.add(i * LANES))));
                }
            }
            let out = self.output.at(b);
            for (i, blk) in blocks.clone().enumerate() {
                let t = V::load(total.add(i * LANES));
                store_opt(out.add(blk * LANES), mask_of(blk), V::div(t, count));
            }
            item = b * self.blocks + blocks.end;
        }
        scratch_pool::put(bufs);
    }
}
