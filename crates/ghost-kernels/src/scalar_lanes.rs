//! The scalar back end of [`Lanes`]: eight plain f32 values, every operation written lane by
//! lane with f32 arithmetic (`a * b + c` unfused, `f32::exp`, [`Activation::apply`]). Every
//! kernel body written over [`Lanes`] instantiated with it is that kernel's f32 scalar
//! microkernel: the `scalar` back end, slow, for debugging and as a third opinion in tests
//! (the f64 oracles in the `naive` modules are not a back end).

use crate::act::Activation;
use crate::lanes::{Lanes, LANES};

/// Eight f32 lanes computed one at a time.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Scalar(pub [f32; LANES]);

impl Scalar {
    #[inline(always)]
    fn map(self, f: impl Fn(f32) -> f32) -> Self {
        Scalar(self.0.map(f))
    }

    #[inline(always)]
    fn zip(self, b: Self, f: impl Fn(f32, f32) -> f32) -> Self {
        Scalar(std::array::from_fn(|i| f(self.0[i], b.0[i])))
    }
}

impl Lanes for Scalar {
    type Mask = usize;

    #[inline(always)]
    unsafe fn mask(n: usize) -> usize {
        n.min(LANES)
    }
    #[inline(always)]
    unsafe fn splat(v: f32) -> Self {
        Scalar([v; LANES])
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        Scalar(p.cast::<[f32; LANES]>().read_unaligned())
    }
    #[inline(always)]
    unsafe fn load_masked(p: *const f32, n: usize) -> Self {
        let mut a = [0.0f32; LANES];
        for (i, x) in a.iter_mut().enumerate().take(n) {
            *x = *p.add(i);
        }
        Scalar(a)
    }
    #[inline(always)]
    unsafe fn store(p: *mut f32, v: Self) {
        p.cast::<[f32; LANES]>().write_unaligned(v.0)
    }
    #[inline(always)]
    unsafe fn store_masked(p: *mut f32, n: usize, v: Self) {
        for (i, x) in v.0.iter().enumerate().take(n) {
            *p.add(i) = *x;
        }
    }
    #[inline(always)]
    unsafe fn mul_add(a: Self, b: Self, c: Self) -> Self {
        Scalar(std::array::from_fn(|i| a.0[i] * b.0[i] + c.0[i]))
    }
    #[inline(always)]
    unsafe fn add(a: Self, b: Self) -> Self {
        a.zip(b, |x, y| x + y)
    }
    #[inline(always)]
    unsafe fn sub(a: Self, b: Self) -> Self {
        a.zip(b, |x, y| x - y)
    }
    #[inline(always)]
    unsafe fn mul(a: Self, b: Self) -> Self {
        a.zip(b, |x, y| x * y)
    }
    #[inline(always)]
    unsafe fn div(a: Self, b: Self) -> Self {
        a.zip(b, |x, y| x / y)
    }
    #[inline(always)]
    unsafe fn max_nan(a: Self, b: Self) -> Self {
        // `f32::max` ignores a NaN operand; PyTorch's max pooling propagates it.
        a.zip(b, |x, y| {
            if x.is_nan() || y.is_nan() {
                x + y
            } else {
                x.max(y)
            }
        })
    }
    #[inline(always)]
    unsafe fn max_fast(a: Self, b: Self) -> Self {
        a.zip(b, f32::max)
    }
    #[inline(always)]
    unsafe fn reduce_max(v: Self) -> f32 {
        let a = v.0;
        let m = [
            a[0].max(a[4]),
            a[1].max(a[5]),
            a[2].max(a[6]),
            a[3].max(a[7]),
        ];
        m[0].max(m[2]).max(m[1].max(m[3]))
    }
    #[inline(always)]
    unsafe fn reduce_add(v: Self) -> f32 {
        // The pairing of the SIMD back ends: halves, then pairs, then the last two.
        let a = v.0;
        let s = [a[0] + a[4], a[1] + a[5], a[2] + a[6], a[3] + a[7]];
        (s[0] + s[2]) + (s[1] + s[3])
    }
    #[inline(always)]
    unsafe fn exp(v: Self) -> Self {
        v.map(f32::exp)
    }
    #[inline(always)]
    unsafe fn prefetch(p: *const f32) {
        let _ = p;
    }
    #[inline(always)]
    unsafe fn rotate(v: Self, k: usize) -> Self {
        Scalar(std::array::from_fn(|j| v.0[(j + k) % LANES]))
    }
    #[inline(always)]
    unsafe fn activate(act: Activation, v: Self) -> Self {
        v.map(|x| act.apply(x))
    }
    #[inline(always)]
    unsafe fn activate4(act: Activation, v: [Self; 4]) -> [Self; 4] {
        v.map(|x| x.map(|x| act.apply(x)))
    }
}

/// Runs a `Lanes`-generic kernel on scalar lanes (the scalar back end's entry for it).
///
/// # Safety
/// As [`crate::lanes::SplitKernel::run`]; scalar lanes need no CPU feature.
pub(crate) unsafe fn run_scalar<K: crate::lanes::SplitKernel>(
    kernel: &K,
    range: std::ops::Range<usize>,
) {
    // SAFETY: forwarded contract.
    unsafe { kernel.run::<Scalar>(range) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_nan_propagates_either_nan() {
        // SAFETY: scalar lanes need no CPU feature.
        unsafe {
            let a = Scalar([f32::NAN, 1.0, 2.0, -1.0, 0.0, 5.0, 6.0, 7.0]);
            let b = Scalar([0.0, f32::NAN, 3.0, -2.0, 0.0, 4.0, 6.0, 8.0]);
            let m = Scalar::max_nan(a, b).0;
            assert!(m[0].is_nan() && m[1].is_nan());
            assert_eq!(&m[2..], &[3.0, -1.0, 0.0, 5.0, 6.0, 8.0]);
        }
    }
}
