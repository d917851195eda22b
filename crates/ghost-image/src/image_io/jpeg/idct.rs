//! libjpeg's accurate integer inverse DCT (`jpeg_idct_islow`, `jidctint.c`): 13-bit fixed-point
//! constants, 2 extra bits between the passes, dequantisation folded into the first pass.
//! Output samples are clamped to 0..=255 after adding 128, as libjpeg-turbo's SIMD versions do
//! (the portable C code wraps instead for out-of-range values, which valid data never produces).

const CONST_BITS: i32 = 13;
const PASS1_BITS: i32 = 2;

const FIX_0_298631336: i32 = 2446;
const FIX_0_390180644: i32 = 3196;
const FIX_0_541196100: i32 = 4433;
const FIX_0_765366865: i32 = 6270;
const FIX_0_899976223: i32 = 7373;
const FIX_1_175875602: i32 = 9633;
const FIX_1_501321110: i32 = 12299;
const FIX_1_847759065: i32 = 15137;
const FIX_1_961570560: i32 = 16069;
const FIX_2_053119869: i32 = 16819;
const FIX_2_562915447: i32 = 20995;
const FIX_3_072711026: i32 = 25172;

/// Rounding right shift (`DESCALE`). Wrapping, like every step here: corrupt coefficients can
/// overflow i32 (C's int arithmetic wraps in practice), and the result is clamped afterwards.
fn descale(x: i32, n: i32) -> i32 {
    x.wrapping_add(1 << (n - 1)) >> n
}

/// One 1-D 8-point IDCT on `v` (already scaled inputs): returns the 8 outputs before descaling,
/// in the order `[0, 1, ..., 7]`, shared by both passes.
fn idct_1d(v: [i32; 8]) -> [i32; 8] {
    // Even part.
    let (z2, z3) = (v[2], v[6]);
    let z1 = z2.wrapping_add(z3).wrapping_mul(FIX_0_541196100);
    let tmp2 = z1.wrapping_add(z3.wrapping_mul(-FIX_1_847759065));
    let tmp3 = z1.wrapping_add(z2.wrapping_mul(FIX_0_765366865));
    let tmp0 = (v[0].wrapping_add(v[4])).wrapping_shl(CONST_BITS as u32);
    let tmp1 = (v[0].wrapping_sub(v[4])).wrapping_shl(CONST_BITS as u32);
    let tmp10 = tmp0.wrapping_add(tmp3);
    let tmp13 = tmp0.wrapping_sub(tmp3);
    let tmp11 = tmp1.wrapping_add(tmp2);
    let tmp12 = tmp1.wrapping_sub(tmp2);

    // Odd part.
    let (mut t0, mut t1, mut t2, mut t3) = (v[7], v[5], v[3], v[1]);
    let z1 = t0.wrapping_add(t3);
    let z2 = t1.wrapping_add(t2);
    let z3 = t0.wrapping_add(t2);
    let z4 = t1.wrapping_add(t3);
    let z5 = z3.wrapping_add(z4).wrapping_mul(FIX_1_175875602);
    t0 = t0.wrapping_mul(FIX_0_298631336);
    t1 = t1.wrapping_mul(FIX_2_053119869);
    t2 = t2.wrapping_mul(FIX_3_072711026);
    t3 = t3.wrapping_mul(FIX_1_501321110);
    let z1 = z1.wrapping_mul(-FIX_0_899976223);
    let z2 = z2.wrapping_mul(-FIX_2_562915447);
    let z3 = z3.wrapping_mul(-FIX_1_961570560).wrapping_add(z5);
    let z4 = z4.wrapping_mul(-FIX_0_390180644).wrapping_add(z5);
    t0 = t0.wrapping_add(z1).wrapping_add(z3);
    t1 = t1.wrapping_add(z2).wrapping_add(z4);
    t2 = t2.wrapping_add(z2).wrapping_add(z3);
    t3 = t3.wrapping_add(z1).wrapping_add(z4);

    [
        tmp10.wrapping_add(t3),
        tmp11.wrapping_add(t2),
        tmp12.wrapping_add(t1),
        tmp13.wrapping_add(t0),
        tmp13.wrapping_sub(t0),
        tmp12.wrapping_sub(t1),
        tmp11.wrapping_sub(t2),
        tmp10.wrapping_sub(t3),
    ]
}

/// Dequantise and inverse-transform one block (natural order) into 8x8 samples at
/// `out[row * stride + col]`.
pub fn idct_islow(coefs: &[i16; 64], quant: &[u16; 64], out: &mut [u8], stride: usize) {
    let mut work = [0i32; 64];
    // Pass 1: columns.
    for col in 0..8 {
        let deq = |row: usize| i32::from(coefs[row * 8 + col]) * i32::from(quant[row * 8 + col]);
        if (1..8).all(|row| coefs[row * 8 + col] == 0) {
            let dc = deq(0).wrapping_shl(PASS1_BITS as u32);
            for row in 0..8 {
                work[row * 8 + col] = dc;
            }
            continue;
        }
        let v = [
            deq(0),
            deq(1),
            deq(2),
            deq(3),
            deq(4),
            deq(5),
            deq(6),
            deq(7),
        ];
        let out = idct_1d(v);
        for row in 0..8 {
            work[row * 8 + col] = descale(out[row], CONST_BITS - PASS1_BITS);
        }
    }
    // Pass 2: rows.
    for row in 0..8 {
        let w = &work[row * 8..row * 8 + 8];
        let line = &mut out[row * stride..row * stride + 8];
        if w[1..].iter().all(|&v| v == 0) {
            let v = clamp_sample(descale(w[0], PASS1_BITS + 3));
            line.fill(v);
            continue;
        }
        let out = idct_1d([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]);
        for (dst, v) in line.iter_mut().zip(out) {
            *dst = clamp_sample(descale(v, CONST_BITS + PASS1_BITS + 3));
        }
    }
}

fn clamp_sample(v: i32) -> u8 {
    (v.clamp(-128, 127) + 128) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    /// f64 reference IDCT: f(x, y) = 1/4 sum C(u) C(v) F(u, v) cos((2x+1)u pi/16) cos((2y+1)v pi/16).
    fn reference(coefs: &[i16; 64]) -> [f64; 64] {
        let c = |u: usize| if u == 0 { 1.0 / 2f64.sqrt() } else { 1.0 };
        let mut out = [0.0; 64];
        for y in 0..8 {
            for x in 0..8 {
                let mut s = 0.0;
                for v in 0..8 {
                    for u in 0..8 {
                        s += c(u)
                            * c(v)
                            * f64::from(coefs[v * 8 + u])
                            * ((2 * x + 1) as f64 * u as f64 * std::f64::consts::PI / 16.0).cos()
                            * ((2 * y + 1) as f64 * v as f64 * std::f64::consts::PI / 16.0).cos();
                    }
                }
                out[y * 8 + x] = s / 4.0 + 128.0;
            }
        }
        out
    }

    #[test]
    fn islow_is_within_one_level_of_the_exact_idct() {
        let quant = [1u16; 64];
        let mut state = 12345u32;
        for _ in 0..200 {
            let mut coefs = [0i16; 64];
            for (i, c) in coefs.iter_mut().enumerate() {
                state = state.wrapping_mul(1_103_515_245).wrapping_add(12345);
                let r = (state >> 16) as i32 % 61 - 30;
                *c = if i == 0 {
                    (r * 8) as i16
                } else {
                    (r / (1 + i as i32 / 8)) as i16
                };
            }
            let mut out = [0u8; 64];
            idct_islow(&coefs, &quant, &mut out, 8);
            let exact = reference(&coefs);
            for (o, e) in out.iter().zip(exact) {
                let e = e.round().clamp(0.0, 255.0);
                assert!((f64::from(*o) - e).abs() <= 1.0, "{o} vs {e}");
            }
        }
    }

    #[test]
    fn dc_only_block_is_flat() {
        let mut coefs = [0i16; 64];
        coefs[0] = 80; // DC 80 * q 2 = 160 -> 160 / 8 = 20 -> 148
        let mut quant = [1u16; 64];
        quant[0] = 2;
        let mut out = [0u8; 64];
        idct_islow(&coefs, &quant, &mut out, 8);
        assert!(out.iter().all(|&v| v == 148));
    }

    /// Corrupt files can carry any i16 coefficient with any u16 quantiser; the fixed-point
    /// passes must wrap (the test profile checks overflow) and still write clamped samples.
    #[test]
    fn arbitrary_coefficients_do_not_overflow() {
        let mut state = 99u64;
        let mut next = || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 33) as u32
        };
        for block in 0..20_000 {
            // Every fourth block is sparse, so the DC-only and zero-row shortcuts are hit too.
            let sparse = block % 4 == 0;
            let coefs: [i16; 64] = std::array::from_fn(|i| {
                let v = next();
                if sparse && i > 0 && v % 8 != 0 {
                    0
                } else {
                    v as i16
                }
            });
            let quant: [u16; 64] = std::array::from_fn(|_| next() as u16);
            let mut out = [0u8; 64];
            idct_islow(&coefs, &quant, &mut out, 8);
            // Whatever wrapped, a DC-only block still decodes to one flat level.
            let mut dc_only = [0i16; 64];
            dc_only[0] = coefs[0];
            idct_islow(&dc_only, &quant, &mut out, 8);
            assert!(out.iter().all(|&v| v == out[0]), "block {block}: {out:?}");
        }
    }
}
