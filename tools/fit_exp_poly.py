#!/usr/bin/env python3
"""Coefficients of the AVX2 `exp` polynomial (crates/ghost-kernels/src/simd/avx2.rs, EXP_POLY).

`exp(x) = 2^n * e^r` with `|r| <= ln2 / 2`, and `e^r = 1 + r q(r)`, `q(r) = (e^r - 1) / r` of
degree 5 (a Chebyshev fit by mpmath, rounded to f32). Prints the coefficients, highest power
first, and checks `exp` and SiLU (`x / (1 + exp(-x))`) as the kernel computes them, emulated in
f32 (every operation rounded to f32; an FMA as one rounding of the exact f64 product-sum), against
f64 over 50 000 points of [-87, 88] plus a dense grid: the largest relative errors, in units of
f32::EPSILON, must stay under the unit tests' bounds (3 for `exp`, 8 = ACT_REL for SiLU).

The kernels compute SiLU as `x / fma(e_r, 2^n, 1)` with the negation of `x` folded into the
constants (simd::avx2::exp_parts); that is the same arithmetic as `x / (1 + exp32(-x))` here, bit for
bit, wherever `x >= -88` (the Rust tests check all 2^32 inputs), so these bounds hold for it.

Requires mpmath (tools/requirements.txt pins 1.3.0). Usage: python3 tools/fit_exp_poly.py
"""
import math
import random
import struct

import mpmath as mp

EPS = 1.1920929e-07
MAGIC = 12583039.0  # 1.5 * 2^23 + 127, see exp_n


def f32(x):
    return struct.unpack("f", struct.pack("f", x))[0]


def fma(a, b, c):
    # a * b of two f32 values is exact in f64; one rounding to f32 after the add (the f64 add's
    # own rounding is far below f32's).
    return f32(a * b + c)


def exp32(x, coeffs):
    """The kernel's exp_n on one lane."""
    x = f32(min(88.0, max(f32(-87.33654), x)))
    t = fma(x, f32(math.log2(math.e)), MAGIC)
    n = f32(t - MAGIC)
    r = fma(-n, f32(0.6933594), x)
    r = fma(-n, f32(-2.1219444e-4), r)
    p = coeffs[0]
    for c in coeffs[1:]:
        p = fma(p, r, c)
    e_r = fma(p, r, 1.0)
    bits = struct.unpack("I", struct.pack("f", t))[0]
    pow2n = struct.unpack("f", struct.pack("I", (bits << 23) & 0xFFFFFFFF))[0]
    return f32(e_r * pow2n)


def main():
    mp.mp.dps = 40
    half_ln2 = mp.log(2) / 2
    q = lambda r: mp.expm1(r) / r if abs(r) > mp.mpf("1e-30") else mp.mpf(1)
    poly, _ = mp.chebyfit(q, [-half_ln2 * 1.0001, half_ln2 * 1.0001], 6, error=True)
    coeffs = [f32(float(c)) for c in poly]
    print("EXP_POLY (highest power first):", ", ".join(repr(c) for c in coeffs))
    random.seed(1)
    xs = [i * 0.01 for i in range(-8700, 8800)]
    xs += [random.uniform(-87, 88) for _ in range(50000)]
    xs += [random.uniform(-1, 1) for _ in range(20000)]
    worst_exp = worst_silu = 0.0
    for x in map(f32, xs):
        worst_exp = max(worst_exp, abs(exp32(x, coeffs) - math.exp(x)) / math.exp(x))
        silu = f32(x / f32(1.0 + exp32(f32(-x), coeffs)))
        ref = x / (1 + math.exp(-x))
        if ref != 0:
            worst_silu = max(worst_silu, abs(silu - ref) / abs(ref))
    print(f"exp: max relative error {worst_exp / EPS:.3f} eps; SiLU: {worst_silu / EPS:.3f} eps")
    assert worst_exp < 3 * EPS and worst_silu < 8 * EPS


if __name__ == "__main__":
    main()
