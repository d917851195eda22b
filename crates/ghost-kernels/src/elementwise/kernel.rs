//! The element-wise kernel body, generic over the vector back end.

use std::ops::Range;

use crate::act::Activation;
use crate::lanes::{each_block, load_opt, store_opt, Lanes, Pixels, SplitKernel};

/// What to compute per element.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Op {
    /// `out = a + b`
    Add,
    /// `out = a * b`
    Mul,
    /// `out = a * b[image]` with `b` one pixel per image.
    Scale { image_pixels: usize },
    /// `out = act(a)` (`a` is `out`).
    Activate(Activation),
}

/// One element-wise pass over pixels (work items are pixels in `n, h, w` order).
#[derive(Debug)]
pub(crate) struct ElementwiseKernel {
    pub op: Op,
    pub a: Pixels,
    pub b: Pixels,
    pub out: Pixels,
    pub c: usize,
}

impl SplitKernel for ElementwiseKernel {
    #[inline(always)]
    unsafe fn run<V: Lanes>(&self, pixels: Range<usize>) {
        let tail = V::mask(self.c % crate::lanes::LANES);
        let c = self.c;
        match self.op {
            Op::Add => {
                for p in pixels {
                    let (a, b, o) = (self.a.at(p), self.b.at(p), self.out.at(p));
                    each_block!(c, tail, |ch, m| {
                        let v = V::add(load_opt(a.add(ch), m), load_opt(b.add(ch), m));
                        store_opt(o.add(ch), m, v);
                    });
                }
            }
            Op::Mul => {
                for p in pixels {
                    let (a, b, o) = (self.a.at(p), self.b.at(p), self.out.at(p));
                    each_block!(c, tail, |ch, m| {
                        let v = V::mul(load_opt(a.add(ch), m), load_opt(b.add(ch), m));
                        store_opt(o.add(ch), m, v);
                    });
                }
            }
            Op::Scale { image_pixels } => {
                for p in pixels {
                    let (a, o) = (self.a.at(p), self.out.at(p));
                    let s = self.b.at(p / image_pixels);
                    each_block!(c, tail, |ch, m| {
                        let v = V::mul(load_opt(a.add(ch), m), load_opt(s.add(ch), m));
                        store_opt(o.add(ch), m, v);
                    });
                }
            }
            Op::Activate(act) => {
                for p in pixels {
                    let o = self.out.at(p);
                    each_block!(c, tail, |ch, m| {
                        let v = V::activate(act, load_opt(o.add(ch), m));
                        store_opt(o.add(ch), m, v);
                    });
                }
            }
        }
    }
}
