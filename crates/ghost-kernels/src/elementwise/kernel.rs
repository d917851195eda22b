//! The element-wise kernel body, generic over the vector back end.

use std::ops::Range;

use crate::act::Activation;
use crate::lanes::{each_block, load_opt, store_opt, Lanes, Pixels, SplitKernel, LANES};

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
            Op::Activate(act) if act.is_transcendental() => {
                // SiLU / sigmoid: 32 channels at a time through `Lanes::activate4` (four
                // interleaved exp chains), the rest vector by vector.
                let wide = c / (4 * LANES) * (4 * LANES);
                for p in pixels {
                    let o = self.out.at(p);
                    for ch in (0..wide).step_by(4 * LANES) {
                        let v = [
                            V::load(o.add(ch)),
                            V::load(o.add(ch + LANES)),
                            V::load(o.add(ch + 2 * LANES)),
                            V::load(o.add(ch + 3 * LANES)),
                        ];
                        for (j, v) in V::activate4(act, v).into_iter().enumerate() {
                            V::store(o.add(ch + j * LANES), v);
                        }
                    }
                    let o = o.add(wide);
                    each_block!(c - wide, tail, |ch, m| {
                        let v = V::activate(act, load_opt(o.add(ch), m));
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
