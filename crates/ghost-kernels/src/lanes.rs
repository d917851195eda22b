//! One 8-lane f32 vector interface over the two SIMD back ends, so that each kernel body is
//! written once (generic over [`Lanes`]) and instantiated twice: inside an
//! `#[target_feature(enable = "avx2,fma")]` entry point with [`Avx2`], and in plain code with
//! [`Portable`] (`wide::f32x8`, whose instruction set is fixed at compile time).
//!
//! Every method is `#[inline(always)]` so that it melts into the calling kernel, and `unsafe`
//! because the AVX2 versions are only sound on a CPU with AVX2 + FMA (the caller's
//! `#[target_feature]` entry point is what the dispatcher checks) and the load/store versions
//! dereference raw pointers.
//!
//! Masked loads and stores touch exactly the first `n` lanes' addresses: kernels use them on
//! channel tails so they never read or write channels outside their view (another view of the
//! same buffer may own them, possibly on another thread).

use crate::act::Activation;

/// Lanes per vector.
pub(crate) const LANES: usize = 8;

/// An 8-lane f32 vector type. See the module docs for the safety contract.
pub(crate) trait Lanes: Copy {
    /// A "first `n` lanes" mask in the back end's native form.
    type Mask: Copy;

    /// Mask of the first `n` lanes (`n <= 8`).
    unsafe fn mask(n: usize) -> Self::Mask;
    unsafe fn splat(v: f32) -> Self;
    /// Unaligned load of 8 floats.
    unsafe fn load(p: *const f32) -> Self;
    /// Loads the masked lanes, zero elsewhere, touching only the masked addresses.
    unsafe fn load_masked(p: *const f32, m: Self::Mask) -> Self;
    /// Unaligned store of 8 floats.
    unsafe fn store(p: *mut f32, v: Self);
    /// Stores the masked lanes only.
    unsafe fn store_masked(p: *mut f32, m: Self::Mask, v: Self);
    /// `a * b + c` (fused on AVX2; on the portable path fused only if `wide` was compiled with FMA).
    unsafe fn mul_add(a: Self, b: Self, c: Self) -> Self;
    unsafe fn add(a: Self, b: Self) -> Self;
    unsafe fn sub(a: Self, b: Self) -> Self;
    unsafe fn mul(a: Self, b: Self) -> Self;
    unsafe fn div(a: Self, b: Self) -> Self;
    /// Lane-wise maximum that returns NaN when either input is NaN (PyTorch `max_pool2d`).
    unsafe fn max_nan(a: Self, b: Self) -> Self;
    /// Lane-wise maximum, NaN handling unspecified (for softmax row maxima).
    unsafe fn max_fast(a: Self, b: Self) -> Self;
    /// Horizontal maximum (NaN handling unspecified).
    unsafe fn reduce_max(v: Self) -> f32;
    /// Horizontal sum.
    unsafe fn reduce_add(v: Self) -> f32;
    /// `e^v`.
    unsafe fn exp(v: Self) -> Self;
    /// Hints the cache line holding `p` into L1 (any address: a prefetch never faults).
    unsafe fn prefetch(p: *const f32);
    /// Lane `j` of the result is lane `(j + k) % 8` of `v`.
    unsafe fn rotate(v: Self, k: usize) -> Self;
    /// The activation on every lane.
    unsafe fn activate(act: Activation, v: Self) -> Self;
    /// The activation on four vectors, lane for lane what [`Lanes::activate`] gives; the AVX2
    /// back end runs SiLU and sigmoid on the four side by side (`simd::avx2::exp_n`).
    unsafe fn activate4(act: Activation, v: [Self; 4]) -> [Self; 4];
    /// The 8x8 transpose: lane `j` of result `i` is lane `i` of `v[j]`. This default goes
    /// through memory; AVX2 shuffles in registers.
    #[inline(always)]
    unsafe fn transpose8(v: [Self; 8]) -> [Self; 8] {
        let mut m = [[0.0f32; LANES]; LANES];
        for (row, x) in m.iter_mut().zip(v) {
            Self::store(row.as_mut_ptr(), x);
        }
        let mut t = [[0.0f32; LANES]; LANES];
        for (i, row) in t.iter_mut().enumerate() {
            for (j, x) in row.iter_mut().enumerate() {
                *x = m[j][i];
            }
        }
        [
            Self::load(t[0].as_ptr()),
            Self::load(t[1].as_ptr()),
            Self::load(t[2].as_ptr()),
            Self::load(t[3].as_ptr()),
            Self::load(t[4].as_ptr()),
            Self::load(t[5].as_ptr()),
            Self::load(t[6].as_ptr()),
            Self::load(t[7].as_ptr()),
        ]
    }
}

#[cfg(target_arch = "x86_64")]
pub(crate) use x86::Avx2;

#[cfg(target_arch = "aarch64")]
mod neon;
#[cfg(target_arch = "aarch64")]
pub(crate) use neon::Neon;

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::Lanes;
    use crate::act::Activation;
    use std::arch::x86_64::*;

    /// AVX2 + FMA back end (only valid inside `#[target_feature(enable = "avx2,fma")]` code).
    #[derive(Clone, Copy, Debug)]
    pub(crate) struct Avx2(pub __m256);

    /// The first `n` lanes. Masked loads and stores are split into 4 + 2 + 1 lane pieces of
    /// plain loads/stores: AMD cores run `vmaskmovps` stores microcoded (over 10 cycles each),
    /// and its loads measured slow in the small-channel depthwise row copy.
    #[derive(Clone, Copy, Debug)]
    pub(crate) struct Avx2Mask {
        n: usize,
    }

    impl Lanes for Avx2 {
        type Mask = Avx2Mask;

        #[inline(always)]
        unsafe fn mask(n: usize) -> Avx2Mask {
            Avx2Mask { n: n.min(8) }
        }
        #[inline(always)]
        unsafe fn splat(v: f32) -> Self {
            Avx2(_mm256_set1_ps(v))
        }
        #[inline(always)]
        unsafe fn load(p: *const f32) -> Self {
            Avx2(_mm256_loadu_ps(p))
        }
        #[inline(always)]
        unsafe fn load_masked(p: *const f32, m: Avx2Mask) -> Self {
            // Plain 128/64/32-bit loads: `vmaskmovps` loads measured as the hot spot of the
            // small-channel depthwise row copy on Zen 3.
            Avx2(crate::pointwise::small::load_n(p, m.n))
        }
        #[inline(always)]
        unsafe fn store(p: *mut f32, v: Self) {
            _mm256_storeu_ps(p, v.0)
        }
        #[inline(always)]
        unsafe fn store_masked(p: *mut f32, m: Avx2Mask, v: Self) {
            // Plain 256/128/64/32-bit stores instead of `vmaskmovps` (slow on Zen 3).
            crate::pointwise::small::store_n(p, v.0, m.n)
        }
        #[inline(always)]
        unsafe fn mul_add(a: Self, b: Self, c: Self) -> Self {
            Avx2(_mm256_fmadd_ps(a.0, b.0, c.0))
        }
        #[inline(always)]
        unsafe fn add(a: Self, b: Self) -> Self {
            Avx2(_mm256_add_ps(a.0, b.0))
        }
        #[inline(always)]
        unsafe fn sub(a: Self, b: Self) -> Self {
            Avx2(_mm256_sub_ps(a.0, b.0))
        }
        #[inline(always)]
        unsafe fn mul(a: Self, b: Self) -> Self {
            Avx2(_mm256_mul_ps(a.0, b.0))
        }
        #[inline(always)]
        unsafe fn div(a: Self, b: Self) -> Self {
            Avx2(_mm256_div_ps(a.0, b.0))
        }
        #[inline(always)]
        unsafe fn max_nan(a: Self, b: Self) -> Self {
            // vmaxps returns its second operand when either is NaN: that propagates a NaN `b`;
            // the blend keeps a NaN `a`.
            let m = _mm256_max_ps(a.0, b.0);
            Avx2(_mm256_blendv_ps(
                m,
                a.0,
                _mm256_cmp_ps::<_CMP_UNORD_Q>(a.0, a.0),
            ))
        }
        #[inline(always)]
        unsafe fn max_fast(a: Self, b: Self) -> Self {
            Avx2(_mm256_max_ps(a.0, b.0))
        }
        #[inline(always)]
        unsafe fn reduce_max(v: Self) -> f32 {
            let m = _mm_max_ps(_mm256_castps256_ps128(v.0), _mm256_extractf128_ps::<1>(v.0));
            let m = _mm_max_ps(m, _mm_movehl_ps(m, m));
            let m = _mm_max_ss(m, _mm_shuffle_ps::<0b01>(m, m));
            _mm_cvtss_f32(m)
        }
        #[inline(always)]
        unsafe fn reduce_add(v: Self) -> f32 {
            let s = _mm_add_ps(_mm256_castps256_ps128(v.0), _mm256_extractf128_ps::<1>(v.0));
            let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
            let s = _mm_add_ss(s, _mm_shuffle_ps::<0b01>(s, s));
            _mm_cvtss_f32(s)
        }
        #[inline(always)]
        unsafe fn exp(v: Self) -> Self {
            Avx2(crate::simd::avx2::exp(v.0))
        }
        #[inline(always)]
        unsafe fn prefetch(p: *const f32) {
            _mm_prefetch::<_MM_HINT_T0>(p.cast())
        }
        #[inline(always)]
        unsafe fn rotate(v: Self, k: usize) -> Self {
            let lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
            let index = _mm256_and_si256(
                _mm256_add_epi32(lane, _mm256_set1_epi32(k as i32)),
                _mm256_set1_epi32(7),
            );
            Avx2(_mm256_permutevar8x32_ps(v.0, index))
        }
        #[inline(always)]
        unsafe fn activate(act: Activation, v: Self) -> Self {
            Avx2(crate::simd::avx2::activate(act, v.0))
        }
        #[inline(always)]
        unsafe fn activate4(act: Activation, v: [Self; 4]) -> [Self; 4] {
            let [a, b, c, d] = v;
            let [a, b, c, d] = crate::simd::avx2::activate_n(act, [a.0, b.0, c.0, d.0]);
            [Avx2(a), Avx2(b), Avx2(c), Avx2(d)]
        }
        #[inline(always)]
        unsafe fn transpose8(v: [Self; 8]) -> [Self; 8] {
            // Pairs of rows interleaved, then pairs of pairs, then the 128-bit halves swapped
            // across: 24 shuffles, no memory.
            let [Avx2(r0), Avx2(r1), Avx2(r2), Avx2(r3), Avx2(r4), Avx2(r5), Avx2(r6), Avx2(r7)] =
                v;
            let (t0, t1) = (_mm256_unpacklo_ps(r0, r1), _mm256_unpackhi_ps(r0, r1));
            let (t2, t3) = (_mm256_unpacklo_ps(r2, r3), _mm256_unpackhi_ps(r2, r3));
            let (t4, t5) = (_mm256_unpacklo_ps(r4, r5), _mm256_unpackhi_ps(r4, r5));
            let (t6, t7) = (_mm256_unpacklo_ps(r6, r7), _mm256_unpackhi_ps(r6, r7));
            let u0 = _mm256_shuffle_ps::<0x44>(t0, t2);
            let u1 = _mm256_shuffle_ps::<0xEE>(t0, t2);
            let u2 = _mm256_shuffle_ps::<0x44>(t1, t3);
            let u3 = _mm256_shuffle_ps::<0xEE>(t1, t3);
            let u4 = _mm256_shuffle_ps::<0x44>(t4, t6);
            let u5 = _mm256_shuffle_ps::<0xEE>(t4, t6);
            let u6 = _mm256_shuffle_ps::<0x44>(t5, t7);
            let u7 = _mm256_shuffle_ps::<0xEE>(t5, t7);
            [
                Avx2(_mm256_permute2f128_ps::<0x20>(u0, u4)),
                Avx2(_mm256_permute2f128_ps::<0x20>(u1, u5)),
                Avx2(_mm256_permute2f128_ps::<0x20>(u2, u6)),
                Avx2(_mm256_permute2f128_ps::<0x20>(u3, u7)),
                Avx2(_mm256_permute2f128_ps::<0x31>(u0, u4)),
                Avx2(_mm256_permute2f128_ps::<0x31>(u1, u5)),
                Avx2(_mm256_permute2f128_ps::<0x31>(u2, u6)),
                Avx2(_mm256_permute2f128_ps::<0x31>(u3, u7)),
            ]
        }
    }
}

/// Portable back end over `wide::f32x8`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Portable(pub wide::f32x8);

impl Lanes for Portable {
    type Mask = usize;

    #[inline(always)]
    unsafe fn mask(n: usize) -> usize {
        n.min(LANES)
    }
    #[inline(always)]
    unsafe fn splat(v: f32) -> Self {
        Portable(wide::f32x8::splat(v))
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        Portable(wide::f32x8::new(p.cast::<[f32; LANES]>().read_unaligned()))
    }
    #[inline(always)]
    unsafe fn load_masked(p: *const f32, n: usize) -> Self {
        let mut a = [0.0f32; LANES];
        std::ptr::copy_nonoverlapping(p, a.as_mut_ptr(), n);
        Portable(wide::f32x8::new(a))
    }
    #[inline(always)]
    unsafe fn store(p: *mut f32, v: Self) {
        p.cast::<[f32; LANES]>().write_unaligned(v.0.to_array())
    }
    #[inline(always)]
    unsafe fn store_masked(p: *mut f32, n: usize, v: Self) {
        let a = v.0.to_array();
        std::ptr::copy_nonoverlapping(a.as_ptr(), p, n);
    }
    #[inline(always)]
    unsafe fn mul_add(a: Self, b: Self, c: Self) -> Self {
        Portable(a.0.mul_add(b.0, c.0))
    }
    #[inline(always)]
    unsafe fn add(a: Self, b: Self) -> Self {
        Portable(a.0 + b.0)
    }
    #[inline(always)]
    unsafe fn sub(a: Self, b: Self) -> Self {
        Portable(a.0 - b.0)
    }
    #[inline(always)]
    unsafe fn mul(a: Self, b: Self) -> Self {
        Portable(a.0 * b.0)
    }
    #[inline(always)]
    unsafe fn div(a: Self, b: Self) -> Self {
        Portable(a.0 / b.0)
    }
    #[inline(always)]
    unsafe fn max_nan(a: Self, b: Self) -> Self {
        let either_nan = a.0.is_nan() | b.0.is_nan();
        Portable(either_nan.select(a.0 + b.0, a.0.fast_max(b.0)))
    }
    #[inline(always)]
    unsafe fn max_fast(a: Self, b: Self) -> Self {
        Portable(a.0.fast_max(b.0))
    }
    #[inline(always)]
    unsafe fn reduce_max(v: Self) -> f32 {
        let a = v.0.to_array();
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
        // Same pairing as the AVX2 version: (lo + hi) halves, then pairs, then the last two.
        let a = v.0.to_array();
        let s = [a[0] + a[4], a[1] + a[5], a[2] + a[6], a[3] + a[7]];
        (s[0] + s[2]) + (s[1] + s[3])
    }
    #[inline(always)]
    unsafe fn exp(v: Self) -> Self {
        Portable(crate::simd::portable::exp(v.0))
    }
    #[inline(always)]
    unsafe fn rotate(v: Self, k: usize) -> Self {
        let a = v.0.to_array();
        Portable(wide::f32x8::new(std::array::from_fn(|j| {
            a[(j + k) % LANES]
        })))
    }
    #[inline(always)]
    unsafe fn prefetch(p: *const f32) {
        // SSE's prefetch is part of the x86-64 baseline.
        #[cfg(target_arch = "x86_64")]
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p.cast());
        #[cfg(not(target_arch = "x86_64"))]
        let _ = p;
    }
    #[inline(always)]
    unsafe fn activate(act: Activation, v: Self) -> Self {
        Portable(crate::simd::portable::activate(act, v.0))
    }
    #[inline(always)]
    unsafe fn activate4(act: Activation, v: [Self; 4]) -> [Self; 4] {
        let mut v = v;
        for x in &mut v {
            // SAFETY: portable code, no CPU requirement.
            *x = unsafe { Self::activate(act, *x) };
        }
        v
    }
}

/// A kernel whose work is numbered `0..total` (rows, pixels ...) and whose body is generic over
/// the vector back end. [`run_split`] instantiates it for the chosen ISA and splits the numbers
/// over threads.
pub(crate) trait SplitKernel: Sync {
    /// Processes items `range`.
    ///
    /// # Safety
    /// `V` must be supported by the CPU; the kernel's pointers must have been checked by its safe
    /// entry point; concurrent calls receive disjoint ranges.
    unsafe fn run<V: Lanes>(&self, range: std::ops::Range<usize>);
}

/// Runs a kernel on AVX2 lanes (the AVX2 back end's entry for it).
///
/// # Safety
/// As [`SplitKernel::run`]; the CPU must support AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
pub(crate) unsafe fn run_avx2<K: SplitKernel>(kernel: &K, range: std::ops::Range<usize>) {
    // SAFETY: forwarded contract; this function's target features make the AVX2 lanes valid.
    unsafe { kernel.run::<Avx2>(range) }
}

/// Runs a kernel on AVX2 lanes compiled with AVX-512 F and VL enabled (the AVX-512 back end's
/// entry for it): the same operations as [`run_avx2`], so the same bits, but the compiler may
/// use 32 vector registers (EVEX encodings), which the SiLU and sigmoid chains need to run
/// without spills.
///
/// # Safety
/// As [`SplitKernel::run`]; the CPU must support AVX2, FMA and AVX-512 F and VL.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma,avx512f,avx512vl")]
pub(crate) unsafe fn run_avx512<K: SplitKernel>(kernel: &K, range: std::ops::Range<usize>) {
    // SAFETY: forwarded contract; this function's target features make the AVX2 lanes valid.
    unsafe { kernel.run::<Avx2>(range) }
}

/// Runs a kernel on NEON lanes (the NEON back end's entry for it).
///
/// # Safety
/// As [`SplitKernel::run`]; NEON is part of the aarch64 base architecture, so no CPU check.
#[cfg(target_arch = "aarch64")]
pub(crate) unsafe fn run_neon<K: SplitKernel>(kernel: &K, range: std::ops::Range<usize>) {
    // SAFETY: forwarded contract.
    unsafe { kernel.run::<Neon>(range) }
}

/// Runs a kernel on portable lanes (the portable back end's entry for it).
///
/// # Safety
/// As [`SplitKernel::run`]; the portable lanes need no CPU feature.
pub(crate) unsafe fn run_portable<K: SplitKernel>(kernel: &K, range: std::ops::Range<usize>) {
    // SAFETY: forwarded contract.
    unsafe { kernel.run::<Portable>(range) }
}

/// Runs `kernel` over `0..total` through `entry` (one of a back end's registered kernels),
/// split into chunks of at least `min_chunk` items over `threads`.
///
/// # Safety
/// The kernel's pointers must have been checked by its safe entry point, and `entry` must come
/// from a back end this CPU supports ([`crate::backend::Backend::get`] checks it).
pub(crate) unsafe fn run_split<K: SplitKernel>(
    entry: crate::backend::RangeFn<K>,
    threads: &crate::parallel::Threads,
    total: usize,
    min_chunk: usize,
    kernel: &K,
) {
    threads.for_each_chunk(total, min_chunk, 1, |range| {
        // SAFETY: the caller's contract; chunks are disjoint.
        unsafe { entry(kernel, range) }
    });
}

/// Where pixel `p` of a strided view starts (channel 0 of the view), shareable across the
/// threads of one kernel call. Built only from checked views.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Pixels {
    base: *mut f32,
    stride: usize,
}

// SAFETY: threads of one kernel call read shared inputs and write disjoint pixels of the output.
unsafe impl Send for Pixels {}
// SAFETY: as above.
unsafe impl Sync for Pixels {}

impl Pixels {
    /// Pixels of a read-only view (never written through).
    pub(crate) fn of(view: &crate::view::TensorView) -> Self {
        let l = view.layout();
        Pixels {
            base: view.as_ptr().wrapping_add(l.channel_offset).cast_mut(),
            stride: l.pixel_stride,
        }
    }

    /// Pixels of a mutable view.
    pub(crate) fn of_mut(view: &mut crate::view::TensorViewMut) -> Self {
        let l = *view.layout();
        Pixels {
            base: view.as_mut_ptr().wrapping_add(l.channel_offset),
            stride: l.pixel_stride,
        }
    }

    /// Channel 0 of pixel `p`.
    ///
    /// # Safety
    /// `p` must be a pixel of the view this was built from.
    #[inline(always)]
    pub(crate) unsafe fn at(&self, p: usize) -> *mut f32 {
        self.base.add(p * self.stride)
    }
}

/// Runs `$body` for each channel block of a `$c`-channel pixel, with `$ch` the block's first
/// channel and `$m` its `Option<Mask>`: full 8-lane blocks (`None`), then one masked tail block
/// (`Some($tail)`, `$tail = V::mask($c % 8)`). Tails are masked rather than overlapped so that
/// in-place kernels never process a channel twice.
///
/// A macro rather than a function taking a closure: a closure is a separate function that does
/// not inherit the caller's `#[target_feature]`, so its intrinsics would not inline.
macro_rules! each_block {
    ($c:expr, $tail:expr, |$ch:ident, $m:ident| $body:block) => {{
        let c: usize = $c;
        let full = c / $crate::lanes::LANES * $crate::lanes::LANES;
        let mut $ch = 0usize;
        while $ch < full {
            let $m = None;
            $body
            $ch += $crate::lanes::LANES;
        }
        if $ch < c {
            let $m = Some($tail);
            $body
        }
    }};
}
pub(crate) use each_block;

/// Loads a full vector, or the lanes of `tail`.
#[inline(always)]
pub(crate) unsafe fn load_opt<V: Lanes>(p: *const f32, tail: Option<V::Mask>) -> V {
    match tail {
        None => V::load(p),
        Some(m) => V::load_masked(p, m),
    }
}

/// Stores a full vector, or the lanes of `tail`.
#[inline(always)]
pub(crate) unsafe fn store_opt<V: Lanes>(p: *mut f32, tail: Option<V::Mask>, v: V) {
    match tail {
        None => V::store(p, v),
        Some(m) => V::store_masked(p, m, v),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Masked loads and stores touch exactly the first `n` lanes, for every `n`.
    unsafe fn check_masked<V: Lanes>() {
        let src: Vec<f32> = (0..LANES).map(|i| i as f32 + 1.0).collect();
        for n in 0..=LANES {
            let m = V::mask(n);
            let v = V::load_masked(src.as_ptr(), m);
            let mut dst = [f32::NAN; LANES + 1];
            V::store_masked(dst.as_mut_ptr(), m, v);
            for (i, &d) in dst.iter().enumerate() {
                if i < n {
                    assert_eq!(d, src[i], "n={n} lane {i}");
                } else {
                    assert!(d.is_nan(), "n={n}: lane {i} written");
                }
            }
            let mut full = [f32::NAN; LANES];
            V::store(full.as_mut_ptr(), v);
            assert!(
                full[n..].iter().all(|&x| x == 0.0),
                "n={n}: masked load must zero the rest"
            );
        }
    }

    #[test]
    fn masked_access_touches_only_the_mask() {
        // SAFETY: buffers hold at least 8 floats; AVX2 only when detected.
        unsafe {
            check_masked::<Portable>();
            check_masked::<crate::scalar_lanes::Scalar>();
            #[cfg(target_arch = "x86_64")]
            if crate::isa::avx2_fma_detected() {
                avx2_check();
            }
            #[cfg(target_arch = "aarch64")]
            check_masked::<Neon>();
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn avx2_check() {
        // SAFETY: the caller checked AVX2 + FMA.
        unsafe { check_masked::<Avx2>() }
    }

    unsafe fn check_rotate<V: Lanes>() {
        let src: Vec<f32> = (0..LANES).map(|i| i as f32).collect();
        let v = V::load(src.as_ptr());
        let mut out = [0.0f32; LANES];
        V::store(out.as_mut_ptr(), V::rotate(v, 3));
        assert_eq!(out, [3.0, 4.0, 5.0, 6.0, 7.0, 0.0, 1.0, 2.0]);
    }

    #[test]
    fn rotate_moves_lanes_down() {
        // SAFETY: 8-float buffers.
        unsafe {
            check_rotate::<Portable>();
            #[cfg(target_arch = "aarch64")]
            check_rotate::<Neon>();
        }
    }

    /// The horizontal reductions pair lanes as the AVX2 back end does (sums of values whose
    /// rounding depends on the order would differ otherwise).
    #[cfg(target_arch = "aarch64")]
    #[test]
    fn neon_reductions_pair_like_avx2() {
        let src = [1.0f32, 1e8, -1e8, 3.0, 0.5, -7.0, 2.25, 1e-3];
        // SAFETY: 8-float buffers.
        unsafe {
            let (n, p) = (Neon::load(src.as_ptr()), Portable::load(src.as_ptr()));
            assert_eq!(
                Neon::reduce_add(n).to_bits(),
                Portable::reduce_add(p).to_bits()
            );
            assert_eq!(Neon::reduce_max(n), Portable::reduce_max(p));
        }
    }
}
