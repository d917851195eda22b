//! AVX2 + FMA vector math over `__m256`.
//!
//! Every function is `#[inline(always)]` and `unsafe`: it must only be called from code compiled
//! with `#[target_feature(enable = "avx2,fma")]` (where it inlines and inherits the features)
//! after the caller has checked that the CPU has AVX2 and FMA (`crate::isa`).

use core::arch::x86_64::*;

use crate::act::Activation;

/// `exp(x)`, Cephes-style: `x = n ln2 + r`, `|r| <= ln2 / 2`, degree-6 polynomial for `e^r`,
/// `2^n` built in the exponent bits. Relative error <= 2 ulp on `[-87.3, 88]`; inputs are clamped to
/// that range (so `exp` of very negative inputs returns ~1.2e-38 instead of a denormal and very
/// large inputs return ~1.65e38 instead of overflowing: both are irrelevant to every use here,
/// which is `1 / (1 + exp(-x))`).
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[inline(always)]
pub unsafe fn exp(x: __m256) -> __m256 {
    // SAFETY: forwarded contract.
    unsafe { exp_n([x])[0] }
}

/// `1.5 * 2^23 + 127`, see [`exp_n`].
const EXP_MAGIC: f32 = 12_583_039.0;

/// `q(r) = (e^r - 1) / r` on `|r| <= ln2 / 2`, degree 5, highest power first: mpmath's
/// Chebyshev fit rounded to f32 (`tools/fit_exp_poly.py`, which also checks `exp` and SiLU in
/// emulated f32: 0.65 and 1.17 eps at most over 50 000 points of [-87, 88]).
const EXP_POLY: [f32; 6] = [
    1.393_365e-3,
    8.369_155e-3,
    4.166_646_7e-2,
    0.166_665_05,
    0.5,
    1.0,
];

/// [`exp`] of `N` vectors, each step issued for all `N` before the next. One vector's exp is a
/// chain of ~20 dependent operations; interleaving independent chains lets the out-of-order core
/// overlap them (the epilogues call this with `N = 4`, which made SiLU faster: see
/// docs/kernels.md#measurements-behind-code-decisions). Every lane gets exactly the operations
/// of the one-vector version.
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[inline(always)]
pub unsafe fn exp_n<const N: usize>(x: [__m256; N]) -> [__m256; N] {
    // SAFETY (whole function): AVX2+FMA intrinsics on registers only.
    unsafe {
        let (lo, hi) = (_mm256_set1_ps(-87.336_54), _mm256_set1_ps(88.0));
        let mut x = x;
        for v in &mut x {
            *v = _mm256_min_ps(hi, _mm256_max_ps(lo, *v));
        }
        // n = round(x log2 e) by the "magic number" trick: adding 1.5 * 2^23 leaves the integer
        // nearest to x log2 e in the low mantissa bits (one FMA instead of a multiply, a round
        // and a convert). The constant also carries the exponent bias, so those bits shifted up
        // by 23 are 2^n: n + 127 is in [1, 254] for the clamped x, and the 1.5's mantissa bit
        // (bit 22) is shifted out.
        let magic = _mm256_set1_ps(EXP_MAGIC);
        let log2e = _mm256_set1_ps(std::f32::consts::LOG2_E);
        let mut t = x;
        for t in &mut t {
            *t = _mm256_fmadd_ps(*t, log2e, magic);
        }
        let mut n = t;
        for n in &mut n {
            *n = _mm256_sub_ps(*n, magic);
        }
        // Two-step Cody-Waite reduction: ln2 = 0.693359375 - 2.12194440e-4 (the first part is
        // exact in 9 bits, so n * hi is exact for |n| <= 127).
        let mut r = x;
        for (r, n) in r.iter_mut().zip(&n) {
            *r = _mm256_fnmadd_ps(*n, _mm256_set1_ps(0.693_359_4), *r);
        }
        for (r, n) in r.iter_mut().zip(&n) {
            *r = _mm256_fnmadd_ps(*n, _mm256_set1_ps(-2.121_944_4e-4), *r);
        }
        // e^r = 1 + r q(r), q of degree 5 in Horner form: six FMAs (the Taylor-style
        // `1 + r + r^2 p(r)` with p of degree 5 took five FMAs, a multiply, an FMA and an add
        // for the same accuracy). Coefficients: `tools/fit_exp_poly.py`.
        let mut p = [_mm256_set1_ps(EXP_POLY[0]); N];
        for c in &EXP_POLY[1..] {
            for (p, r) in p.iter_mut().zip(&r) {
                *p = _mm256_fmadd_ps(*p, *r, _mm256_set1_ps(*c));
            }
        }
        let mut out = p;
        for ((o, r), t) in out.iter_mut().zip(&r).zip(&t) {
            let e_r = _mm256_fmadd_ps(*o, *r, _mm256_set1_ps(1.0));
            let pow2n = _mm256_castsi256_ps(_mm256_slli_epi32::<23>(_mm256_castps_si256(*t)));
            *o = _mm256_mul_ps(e_r, pow2n);
        }
        out
    }
}

/// `1 / (1 + exp(-x))`.
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[inline(always)]
pub unsafe fn sigmoid(x: __m256) -> __m256 {
    // SAFETY: forwarded contract.
    unsafe { sigmoid_n([x])[0] }
}

/// `0 - x` on every vector (the SiLU and sigmoid argument, as the one-vector versions always
/// computed it).
///
/// # Safety
/// The CPU must support AVX.
#[inline(always)]
unsafe fn negate<const N: usize>(mut x: [__m256; N]) -> [__m256; N] {
    for v in &mut x {
        // SAFETY: forwarded contract.
        *v = unsafe { _mm256_sub_ps(_mm256_setzero_ps(), *v) };
    }
    x
}

/// [`sigmoid`] of `N` interleaved vectors (see [`exp_n`]).
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[inline(always)]
pub unsafe fn sigmoid_n<const N: usize>(x: [__m256; N]) -> [__m256; N] {
    // SAFETY: forwarded contract.
    unsafe {
        let one = _mm256_set1_ps(1.0);
        let mut out = exp_n(negate(x));
        for o in &mut out {
            *o = _mm256_div_ps(one, _mm256_add_ps(one, *o));
        }
        out
    }
}

/// `x / (1 + exp(-x))` (SiLU, one division).
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[inline(always)]
pub unsafe fn silu(x: __m256) -> __m256 {
    // SAFETY: forwarded contract.
    unsafe { silu_n([x])[0] }
}

/// [`silu`] of `N` interleaved vectors (see [`exp_n`]).
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[inline(always)]
pub unsafe fn silu_n<const N: usize>(x: [__m256; N]) -> [__m256; N] {
    // SAFETY: forwarded contract.
    unsafe {
        let one = _mm256_set1_ps(1.0);
        let e = exp_n(negate(x));
        let mut out = x;
        for (o, e) in out.iter_mut().zip(e) {
            *o = _mm256_div_ps(*o, _mm256_add_ps(one, e));
        }
        out
    }
}

/// `relu6(x + 3) / 6`, in the same operation order as [`Activation::apply`].
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[inline(always)]
pub unsafe fn hard_sigmoid(x: __m256) -> __m256 {
    let t = _mm256_add_ps(x, _mm256_set1_ps(3.0));
    let t = _mm256_min_ps(_mm256_max_ps(t, _mm256_setzero_ps()), _mm256_set1_ps(6.0));
    _mm256_mul_ps(t, _mm256_set1_ps(1.0 / 6.0))
}

/// `max(x, 0)`.
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[inline(always)]
pub unsafe fn relu(x: __m256) -> __m256 {
    _mm256_max_ps(x, _mm256_setzero_ps())
}

/// Applies `act` to `N` vectors, interleaved where that pays (SiLU, sigmoid: see [`exp_n`]).
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[inline(always)]
pub unsafe fn activate_n<const N: usize>(act: Activation, x: [__m256; N]) -> [__m256; N] {
    // SAFETY (all arms): forwarded contract.
    unsafe {
        match act {
            Activation::Identity => x,
            Activation::Silu => silu_n(x),
            Activation::Sigmoid => sigmoid_n(x),
            Activation::Relu | Activation::HardSigmoid => {
                let mut x = x;
                for v in &mut x {
                    *v = activate(act, *v);
                }
                x
            }
        }
    }
}

/// Applies `act` to 8 lanes.
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[inline(always)]
pub unsafe fn activate(act: Activation, x: __m256) -> __m256 {
    match act {
        Activation::Identity => x,
        Activation::Relu => relu(x),
        Activation::Silu => silu(x),
        Activation::HardSigmoid => hard_sigmoid(x),
        Activation::Sigmoid => sigmoid(x),
    }
}

/// Applies `act` to every element of `data` with the vector code (tails through a padded
/// temporary, so every element sees the same math). Used by tests and by simple in-place kernels.
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
#[cfg(test)]
pub unsafe fn activate_slice(act: Activation, data: &mut [f32]) {
    let mut chunks = data.chunks_exact_mut(8);
    for chunk in &mut chunks {
        // SAFETY: chunk has exactly 8 floats; unaligned load/store.
        unsafe {
            let v = _mm256_loadu_ps(chunk.as_ptr());
            _mm256_storeu_ps(chunk.as_mut_ptr(), activate(act, v));
        }
    }
    let tail = chunks.into_remainder();
    if !tail.is_empty() {
        let mut buf = [0.0f32; 8];
        buf[..tail.len()].copy_from_slice(tail);
        // SAFETY: buf has 8 floats.
        unsafe {
            let v = _mm256_loadu_ps(buf.as_ptr());
            _mm256_storeu_ps(buf.as_mut_ptr(), activate(act, v));
        }
        tail.copy_from_slice(&buf[..tail.len()]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid() -> Vec<f32> {
        let mut xs: Vec<f32> = (-2000..=2000).map(|i| i as f32 * 0.01).collect();
        xs.extend([
            -100.0, -88.0, -87.0, -50.0, 50.0, 87.0, 88.0, 100.0, 0.0, -0.0, 1e-8, -1e-8,
        ]);
        xs
    }

    #[test]
    fn vector_activations_match_f64() {
        if !crate::isa::avx2_fma_detected() {
            return;
        }
        for act in Activation::ALL {
            let xs = grid();
            let mut ys = xs.clone();
            // SAFETY: AVX2+FMA detected above.
            unsafe { activate_slice(act, &mut ys) };
            for (&x, &y) in xs.iter().zip(&ys) {
                let r = act.apply_f64(x as f64);
                let err = (y as f64 - r).abs();
                let bound = crate::tolerance::ACT_REL * r.abs() + 1e-30;
                assert!(
                    err <= bound,
                    "{act:?}({x}) = {y}, expected {r} (err {err:e} > {bound:e})"
                );
            }
        }
    }

    #[test]
    fn exp_is_accurate() {
        if !crate::isa::avx2_fma_detected() {
            return;
        }
        let xs: Vec<f32> = (-870..=880).map(|i| i as f32 * 0.1).collect();
        for chunk in xs.chunks(8) {
            let mut buf = [0.0f32; 8];
            buf[..chunk.len()].copy_from_slice(chunk);
            let mut out = [0.0f32; 8];
            // SAFETY: AVX2+FMA detected above; buffers hold 8 floats.
            unsafe {
                _mm256_storeu_ps(out.as_mut_ptr(), exp(_mm256_loadu_ps(buf.as_ptr())));
            }
            for (&x, &y) in chunk.iter().zip(&out) {
                let r = (x as f64).exp();
                assert!(
                    ((y as f64 - r) / r).abs() <= 3.0 * f32::EPSILON as f64,
                    "exp({x}) = {y} vs {r}"
                );
            }
        }
    }
}
