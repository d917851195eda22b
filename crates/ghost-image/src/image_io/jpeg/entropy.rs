//! Coefficient decoding of one block: sequential (baseline / extended) and the four progressive
//! scan kinds, ported from libjpeg's `jdhuff.c` / `jdphuff.c` (including their handling of
//! corrupt data: out-of-range positions clamp to coefficient 63, values wrap to 16 bits).

use super::bits::BitReader;
use super::huffman::{extend, Huffman};

/// Zigzag position -> natural (row-major) index; positions past 63 (corrupt runs) map to 63.
const NATURAL_ORDER: [usize; 80] = [
    0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20,
    13, 6, 7, 14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59,
    52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63,
    63, 63, 63, 63, 63, 63,
];

/// Natural index of zigzag position `k` (clamped like libjpeg's padded table).
pub fn natural(k: usize) -> usize {
    NATURAL_ORDER[k.min(NATURAL_ORDER.len() - 1)]
}

/// A whole sequential block: DC difference then AC run/size pairs up to EOB.
pub fn decode_sequential(
    reader: &mut BitReader<'_>,
    dc: &Huffman,
    ac: &Huffman,
    dc_pred: &mut i32,
    block: &mut [i16],
) {
    let s = u32::from(dc.decode(reader));
    let diff = extend(reader.bits(s), s);
    *dc_pred = dc_pred.wrapping_add(diff);
    block[0] = *dc_pred as i16;
    let mut k = 1;
    while k < 64 {
        let rs = ac.decode(reader);
        let (r, s) = (usize::from(rs >> 4), u32::from(rs & 15));
        if s != 0 {
            k += r;
            block[natural(k)] = extend(reader.bits(s), s) as i16;
        } else if r == 15 {
            k += 15;
        } else {
            break;
        }
        k += 1;
    }
}

/// Progressive DC, first scan: predicted DC shifted left by `al`.
pub fn decode_dc_first(
    reader: &mut BitReader<'_>,
    dc: &Huffman,
    dc_pred: &mut i32,
    al: u32,
    block: &mut [i16],
) {
    let s = u32::from(dc.decode(reader));
    let diff = extend(reader.bits(s), s);
    *dc_pred = dc_pred.wrapping_add(diff);
    block[0] = (*dc_pred << al) as i16;
}

/// Progressive DC, refinement: one more bit of the DC.
pub fn decode_dc_refine(reader: &mut BitReader<'_>, al: u32, block: &mut [i16]) {
    if reader.bits(1) != 0 {
        block[0] |= (1i32 << al) as i16;
    }
}

/// Progressive AC, first scan over zigzag positions `ss..=se`, with end-of-band runs.
pub fn decode_ac_first(
    reader: &mut BitReader<'_>,
    ac: &Huffman,
    (ss, se): (usize, usize),
    al: u32,
    eobrun: &mut u32,
    block: &mut [i16],
) {
    if *eobrun > 0 {
        *eobrun -= 1;
        return;
    }
    let mut k = ss;
    while k <= se {
        let rs = ac.decode(reader);
        let (r, s) = (u32::from(rs >> 4), u32::from(rs & 15));
        if s != 0 {
            k += r as usize;
            let v = extend(reader.bits(s), s);
            block[natural(k)] = (v << al) as i16;
        } else if r == 15 {
            k += 15;
        } else {
            *eobrun = 1 << r;
            if r != 0 {
                *eobrun += reader.bits(r);
            }
            *eobrun -= 1;
            break;
        }
        k += 1;
    }
}

/// Progressive AC, refinement scan (libjpeg `decode_mcu_AC_refine`).
pub fn decode_ac_refine(
    reader: &mut BitReader<'_>,
    ac: &Huffman,
    (ss, se): (usize, usize),
    al: u32,
    eobrun: &mut u32,
    block: &mut [i16],
) {
    let p1 = (1i32 << al) as i16;
    let m1 = (-1i32 << al) as i16;
    let refine = |reader: &mut BitReader<'_>, coef: &mut i16| {
        if reader.bits(1) != 0 && (*coef & p1) == 0 {
            *coef = if *coef >= 0 {
                coef.wrapping_add(p1)
            } else {
                coef.wrapping_add(m1)
            };
        }
    };
    let mut k = ss;
    if *eobrun == 0 {
        while k <= se {
            let rs = ac.decode(reader);
            let mut r = i32::from(rs >> 4);
            let s = u32::from(rs & 15);
            let mut value = 0i16;
            if s != 0 {
                // s should be 1; libjpeg only warns otherwise.
                value = if reader.bits(1) != 0 { p1 } else { m1 };
            } else if r != 15 {
                *eobrun = 1 << r;
                if r != 0 {
                    *eobrun += reader.bits(r as u32);
                }
                break;
            }
            // Skip `r` zero-history coefficients, refining the non-zero ones passed over.
            while k <= se {
                let coef = &mut block[natural(k)];
                if *coef != 0 {
                    refine(reader, coef);
                } else {
                    r -= 1;
                    if r < 0 {
                        break;
                    }
                }
                k += 1;
            }
            if value != 0 {
                block[natural(k)] = value;
            }
            k += 1;
        }
    }
    if *eobrun > 0 {
        while k <= se {
            let coef = &mut block[natural(k)];
            if *coef != 0 {
                refine(reader, coef);
            }
            k += 1;
        }
        *eobrun -= 1;
    }
}
