//! The measurement behind `GEMM_WEIGHT_QMAX = 64` (docs/kernels.md, "INT8"): the registered
//! 7-bit `vpmaddubsw` GEMM tile against the alternative that keeps 8-bit weights by widening
//! (u8 inputs zero-extended to u16 once per tile, s16 weights, `vpmaddwd` on pairs of input
//! channels). Both compute the same exact 4 x 16 sums over `panels` panels of one tile; the
//! `int8` criterion bench times them on the same data. Not a back end: nothing dispatches to
//! the widened tile. `run_vnni` times the registered AVX-512 VNNI tile on the same operands.

use super::gemm::{TileI8, MR};
use super::pack::{KG, NR};

/// One tile's operands in both layouts (`cin` a multiple of 4, weights in `[-64, 64]`).
#[derive(Debug)]
pub struct TileStudy {
    cin: usize,
    panels: usize,
    /// `MR` rows of `cin` u8 inputs.
    rows: Vec<u8>,
    /// The registered layout, `[panel][group][16][4]` s8.
    packed7: Vec<i8>,
    /// The widened layout, `[panel][pair][16][2]` s16.
    packed16: Vec<i16>,
}

impl TileStudy {
    /// Deterministic operands for `cin` input channels (rounded up to a multiple of 4) and
    /// `panels` panels of 16 output channels.
    pub fn new(cin: usize, panels: usize) -> Self {
        let cin = cin.div_ceil(KG) * KG;
        let v = crate::testing::values(11, MR * cin + panels * NR * cin);
        let rows: Vec<u8> = v[..MR * cin]
            .iter()
            .map(|x| ((x + 1.0) * 127.9) as u8)
            .collect();
        let w: Vec<i8> = v[MR * cin..].iter().map(|x| (x * 64.0) as i8).collect();
        let mut packed7 = vec![0i8; panels * cin * NR];
        let mut packed16 = vec![0i16; panels * cin * NR];
        for p in 0..panels {
            for j in 0..NR {
                for i in 0..cin {
                    let q = w[(p * NR + j) * cin + i];
                    packed7[p * cin * NR + ((i / KG) * NR + j) * KG + i % KG] = q;
                    packed16[p * cin * NR + ((i / 2) * NR + j) * 2 + i % 2] = i16::from(q);
                }
            }
        }
        TileStudy {
            cin,
            panels,
            rows,
            packed7,
            packed16,
        }
    }

    /// Multiply-adds of one run (`MR * cin * 16 * panels`).
    pub fn macs(&self) -> u64 {
        (MR * self.cin * NR * self.panels) as u64
    }

    /// The registered tile (`vpmaddubsw`, 7-bit weights) on every panel; the sums, panel-major.
    /// `None` when this CPU has no AVX2.
    pub fn run_7bit(&self) -> Option<Vec<[[i32; NR]; MR]>> {
        if !crate::Isa::Avx2Fma.is_supported() {
            return None;
        }
        let mut a = [std::ptr::null::<u8>(); super::gemm::MAX_TAPS * MR];
        for (r, p) in a.iter_mut().take(MR).enumerate() {
            *p = self.rows[r * self.cin..].as_ptr();
        }
        let len = self.cin * NR;
        Some(
            (0..self.panels)
                .map(|p| {
                    let tile = TileI8 {
                        a: &a,
                        taps: 1,
                        cin: self.cin,
                        groups: self.cin / KG,
                        panel: &self.packed7[p * len..(p + 1) * len],
                        sums: &[],
                    };
                    let mut acc = [[0; NR]; MR];
                    // SAFETY: each row holds `cin` bytes, the panel `cin * 16`; AVX2 checked.
                    unsafe { super::avx2::gemm_tile(&tile, &mut acc) };
                    acc
                })
                .collect(),
        )
    }

    /// The registered VNNI tile (`vpdpbusd`, same 7-bit packing) on every panel. `None` when
    /// this CPU has no AVX-512 VNNI.
    pub fn run_vnni(&self) -> Option<Vec<[[i32; NR]; MR]>> {
        if !crate::Isa::Avx512Vnni.is_supported() {
            return None;
        }
        Some(self.run_tile(super::vnni::gemm_tile))
    }

    /// `kernel` on every panel; the caller checked the CPU supports it.
    fn run_tile(&self, kernel: super::gemm::GemmI8Fn) -> Vec<[[i32; NR]; MR]> {
        let mut a = [std::ptr::null::<u8>(); super::gemm::MAX_TAPS * MR];
        for (r, p) in a.iter_mut().take(MR).enumerate() {
            *p = self.rows[r * self.cin..].as_ptr();
        }
        let len = self.cin * NR;
        (0..self.panels)
            .map(|p| {
                let tile = TileI8 {
                    a: &a,
                    taps: 1,
                    cin: self.cin,
                    groups: self.cin / KG,
                    panel: &self.packed7[p * len..(p + 1) * len],
                    sums: &[],
                };
                let mut acc = [[0; NR]; MR];
                // SAFETY: each row holds `cin` bytes, the panel `cin * 16`; the caller checked
                // the CPU features.
                unsafe { kernel(&tile, &mut acc) };
                acc
            })
            .collect()
    }

    /// The widened alternative: the rows zero-extended to u16 once, then per panel and pair
    /// of input channels a 32-bit broadcast and two `vpmaddwd`. `None` without AVX2.
    pub fn run_widened(&self) -> Option<Vec<[[i32; NR]; MR]>> {
        if !crate::Isa::Avx2Fma.is_supported() {
            return None;
        }
        // SAFETY: AVX2 checked above; the operands are sized by `new`.
        Some(unsafe { widened(self) })
    }
}

#[target_feature(enable = "avx2,fma")]
unsafe fn widened(s: &TileStudy) -> Vec<[[i32; NR]; MR]> {
    use std::arch::x86_64::*;
    let wide: Vec<u16> = s.rows.iter().map(|&x| u16::from(x)).collect();
    let len = s.cin * NR;
    (0..s.panels)
        .map(|p| {
            let panel = s.packed16[p * len..(p + 1) * len].as_ptr();
            let mut c = [[_mm256_setzero_si256(); 2]; MR];
            for pair in 0..s.cin / 2 {
                // SAFETY: `pair * 32 + 32 <= cin * 16` entries; each widened row holds `cin`.
                unsafe {
                    let w0 = _mm256_loadu_si256(panel.add(pair * 2 * NR).cast());
                    let w1 = _mm256_loadu_si256(panel.add(pair * 2 * NR + NR).cast());
                    for (r, cr) in c.iter_mut().enumerate() {
                        let x = wide.as_ptr().add(r * s.cin + 2 * pair).cast::<i32>();
                        let b = _mm256_set1_epi32(x.read_unaligned());
                        cr[0] = _mm256_add_epi32(cr[0], _mm256_madd_epi16(b, w0));
                        cr[1] = _mm256_add_epi32(cr[1], _mm256_madd_epi16(b, w1));
                    }
                }
            }
            let mut acc = [[0i32; NR]; MR];
            for (row, cr) in acc.iter_mut().zip(&c) {
                // SAFETY: 16 i32 per row.
                unsafe {
                    _mm256_storeu_si256(row.as_mut_ptr().cast(), cr[0]);
                    _mm256_storeu_si256(row.as_mut_ptr().add(8).cast(), cr[1]);
                }
            }
            acc
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tiles (and the VNNI one where the CPU has it) compute the same exact sums (and the
    /// reference's).
    #[test]
    fn both_tiles_agree_with_the_reference() {
        let s = TileStudy::new(64, 3);
        let (Some(a), Some(b)) = (s.run_7bit(), s.run_widened()) else {
            return;
        };
        assert_eq!(a, b);
        if let Some(c) = s.run_vnni() {
            assert_eq!(a, c);
        }
        let v = crate::testing::values(11, MR * s.cin + s.panels * NR * s.cin);
        let w: Vec<i32> = v[MR * s.cin..]
            .iter()
            .map(|x| (x * 64.0) as i8 as i32)
            .collect();
        for (p, tile) in a.iter().enumerate() {
            for (r, row) in tile.iter().enumerate() {
                for (j, &got) in row.iter().enumerate() {
                    let want: i32 = (0..s.cin)
                        .map(|i| i32::from(s.rows[r * s.cin + i]) * w[(p * NR + j) * s.cin + i])
                        .sum();
                    assert_eq!(got, want);
                }
            }
        }
    }
}
