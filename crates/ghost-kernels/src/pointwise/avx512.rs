//! AVX-512 F 8x16 broadcast microkernel (one zmm accumulator per row).
//!
//! Per reduction step: one aligned 64-byte load of the weight row and eight FMAs whose
//! activation operand is an embedded broadcast (`vfmadd231ps zmm, zmm, [mem]{1to16}`), so no
//! separate broadcast instruction: 9 instructions + loop overhead per 256 FLOP where the AVX2
//! 6x16 tile needs 20 per 192. The registers are zmm16-31 only, which VEX (AVX2) and legacy SSE
//! code never touch, so the AVX2 code around it sees no dirty upper state.
//!
//! Written with `asm!` because the `avx512*` target features and `_mm512_*` intrinsics are not
//! stable at the workspace's MSRV (1.85). The assembly keeps the accumulators in registers over
//! one tap segment; between segments and for the epilogue they go through a 64-byte-aligned
//! stack buffer, from which the AVX2 epilogue ([`super::avx2::finish_rows`]) reads them. Each
//! output element sees exactly the FMA sequence of the AVX2 tile (start from the bias or the
//! stored partial sum, one FMA per reduction step in order, same epilogue), so the results are
//! bit-identical to it.

use std::arch::asm;
use std::arch::x86_64::*;

use super::avx2::finish_rows;
use super::small::load_n;
use super::tile::{Microkernel, Strip, Tile};

/// Rows per tile.
pub(crate) const MR: usize = 8;

/// The 8x16 microkernel.
pub(crate) const KERNEL: Microkernel = Microkernel {
    mr: MR,
    run: strip_8x16,
};

/// The raw sums of one tile, row `r` at floats `16 r .. 16 r + 16` (64-byte aligned for
/// `vmovaps`).
#[repr(C, align(64))]
struct Sums([f32; MR * 16]);

/// Computes every 8x16 tile of a strip.
///
/// # Safety
/// See [`super::tile::KernelFn`]; the CPU must support AVX2, FMA and AVX-512 F.
#[target_feature(enable = "avx2,fma")]
unsafe fn strip_8x16(s: &Strip<'_>) {
    for i in 0..s.tiles(MR) {
        // SAFETY: forwarded strip contract.
        unsafe { tile_8x16(&s.tile(i, MR)) };
    }
}

/// The FMA loop of one tap segment between an accumulator set-up and a hand-over:
/// `segment!(init bias|buf, exit ymm|buf, operands...)`. Registers: accumulators zmm16-23 (row
/// `r` in `zmm{16 + r}`), the weight row in zmm24; `{w}` walks the weight rows, `{kk}` runs from
/// `-4 k` up to 0 bytes against the row pointers `{a0}`..`{a7}` placed at the segment's end.
/// Set-ups: `bias` copies the one 16-float row at `{init}` to every row, `buf` loads row `r`
/// from floats `16 r ..` of the buffer at `{init}`. Hand-overs: `buf` stores row `r` to floats
/// `16 r ..` of the buffer at `{buf}`, `ymm` moves it to the ymm registers `{l<r>}` (columns
/// 0-7) and `{h<r>}` (8-15) the AVX2 epilogue reads. zmm16-31 are registers VEX (AVX2) and SSE
/// code never touches, so the code around sees no dirty upper state.
macro_rules! segment {
    (init bias, $($rest:tt)*) => {
        segment!(@init [
                "vmovaps zmm16, [{init}]",
                "vmovaps zmm17, zmm16",
                "vmovaps zmm18, zmm16",
                "vmovaps zmm19, zmm16",
                "vmovaps zmm20, zmm16",
                "vmovaps zmm21, zmm16",
                "vmovaps zmm22, zmm16",
                "vmovaps zmm23, zmm16"
            ], $($rest)*)
    };
    (init buf, $($rest:tt)*) => {
        segment!(@init [
                "vmovaps zmm16, [{init}]",
                "vmovaps zmm17, [{init} + 64]",
                "vmovaps zmm18, [{init} + 128]",
                "vmovaps zmm19, [{init} + 192]",
                "vmovaps zmm20, [{init} + 256]",
                "vmovaps zmm21, [{init} + 320]",
                "vmovaps zmm22, [{init} + 384]",
                "vmovaps zmm23, [{init} + 448]"
            ], $($rest)*)
    };
    (@init [$($init:literal),*], exit buf, $($operands:tt)*) => {
        segment!(@go [$($init),*], [
                "vmovaps [{buf}], zmm16",
                "vmovaps [{buf} + 64], zmm17",
                "vmovaps [{buf} + 128], zmm18",
                "vmovaps [{buf} + 192], zmm19",
                "vmovaps [{buf} + 256], zmm20",
                "vmovaps [{buf} + 320], zmm21",
                "vmovaps [{buf} + 384], zmm22",
                "vmovaps [{buf} + 448], zmm23"
            ], $($operands)*)
    };
    (@init [$($init:literal),*], exit ymm, $($operands:tt)*) => {
        segment!(@go [$($init),*], [
                "vmovaps {l0}, ymm16",
                "vextractf64x4 {h0}, zmm16, 1",
                "vmovaps {l1}, ymm17",
                "vextractf64x4 {h1}, zmm17, 1",
                "vmovaps {l2}, ymm18",
                "vextractf64x4 {h2}, zmm18, 1",
                "vmovaps {l3}, ymm19",
                "vextractf64x4 {h3}, zmm19, 1",
                "vmovaps {l4}, ymm20",
                "vextractf64x4 {h4}, zmm20, 1",
                "vmovaps {l5}, ymm21",
                "vextractf64x4 {h5}, zmm21, 1",
                "vmovaps {l6}, ymm22",
                "vextractf64x4 {h6}, zmm22, 1",
                "vmovaps {l7}, ymm23",
                "vextractf64x4 {h7}, zmm23, 1"
            ], $($operands)*)
    };
    (@go [$($init:literal),*], [$($exit:literal),*], $($operands:tt)*) => {
        asm!(
            $($init,)*
            ".p2align 6",
            "2:",
            "vmovaps zmm24, [{w}]",
            "add {w}, 64",
            "vfmadd231ps zmm16, zmm24, dword ptr [{a0} + {kk}]{{1to16}}",
            "vfmadd231ps zmm17, zmm24, dword ptr [{a1} + {kk}]{{1to16}}",
            "vfmadd231ps zmm18, zmm24, dword ptr [{a2} + {kk}]{{1to16}}",
            "vfmadd231ps zmm19, zmm24, dword ptr [{a3} + {kk}]{{1to16}}",
            "vfmadd231ps zmm20, zmm24, dword ptr [{a4} + {kk}]{{1to16}}",
            "vfmadd231ps zmm21, zmm24, dword ptr [{a5} + {kk}]{{1to16}}",
            "vfmadd231ps zmm22, zmm24, dword ptr [{a6} + {kk}]{{1to16}}",
            "vfmadd231ps zmm23, zmm24, dword ptr [{a7} + {kk}]{{1to16}}",
            "add {kk}, 4",
            "jnz 2b",
            $($exit,)*
            $($operands)*
            out("zmm16") _, out("zmm17") _, out("zmm18") _, out("zmm19") _,
            out("zmm20") _, out("zmm21") _, out("zmm22") _, out("zmm23") _,
            out("zmm24") _,
            options(nostack),
        )
    };
}

/// One 8x16 tile over one reduction block.
///
/// # Safety
/// See [`super::tile::KernelFn`]; AVX2+FMA code, AVX-512 F + VL CPU.
#[inline]
#[target_feature(enable = "avx2,fma")]
unsafe fn tile_8x16(t: &Tile<'_>) {
    debug_assert!(t.a.len() % MR == 0 && t.out.len() == MR && t.k > 0);
    debug_assert_eq!(t.weights.len(), t.a.len() / MR * t.k);
    // Written before it is read (by the partial-sum reload below or the first tap's
    // hand-over), so it is not zeroed on every tile.
    let mut sums = std::mem::MaybeUninit::<Sums>::uninit();
    let buf = sums.as_mut_ptr() as *mut f32;
    let taps = t.a.len() / MR;
    // SAFETY (whole function): the tile contract of `KernelFn`: every row pointer is valid for
    // `a_offset + k` reads, `out[r] + col` for `nr` reads; the weights hold `taps * k` rows of
    // 16 floats and the bias row 16, 64-byte aligned; `buf` holds `MR * 16` floats, 64-byte
    // aligned. The assembly reads `k` floats below each end pointer and `k` weight rows.
    unsafe {
        if t.bias.is_none() {
            for r in 0..MR {
                let p = t.out[r].add(t.col);
                let (lo, hi) = if t.nr == 16 {
                    (_mm256_loadu_ps(p), _mm256_loadu_ps(p.add(8)))
                } else if t.nr > 8 {
                    (_mm256_loadu_ps(p), load_n(p.add(8), t.nr - 8))
                } else {
                    (load_n(p, t.nr), _mm256_setzero_ps())
                };
                _mm256_store_ps(buf.add(16 * r), lo);
                _mm256_store_ps(buf.add(16 * r + 8), hi);
            }
        }
        let mut w = t.weights.as_ptr() as *const f32;
        let end = t.a_offset + t.k;
        let neg = -((t.k * 4) as isize);
        let mut c = [[_mm256_setzero_ps(); 2]; MR];
        for (tap, rows) in t.a.chunks_exact(MR).enumerate() {
            // Row pointers at the end of the segment, walked with one negative byte index.
            let a: [*const f32; MR] = std::array::from_fn(|r| rows[r].wrapping_add(end));
            let from_bias = tap == 0 && t.bias.is_some();
            let init = match t.bias {
                Some(b) if tap == 0 => b.0.as_ptr(),
                _ => buf as *const f32,
            };
            macro_rules! ymm_out {
                ($init:ident) => {
                    segment!(
                        init $init,
                        exit ymm,
                        init = in(reg) init,
                        w = inout(reg) w,
                        kk = inout(reg) neg => _,
                        a0 = in(reg) a[0], a1 = in(reg) a[1], a2 = in(reg) a[2], a3 = in(reg) a[3],
                        a4 = in(reg) a[4], a5 = in(reg) a[5], a6 = in(reg) a[6], a7 = in(reg) a[7],
                        l0 = out(ymm_reg) c[0][0], h0 = out(ymm_reg) c[0][1],
                        l1 = out(ymm_reg) c[1][0], h1 = out(ymm_reg) c[1][1],
                        l2 = out(ymm_reg) c[2][0], h2 = out(ymm_reg) c[2][1],
                        l3 = out(ymm_reg) c[3][0], h3 = out(ymm_reg) c[3][1],
                        l4 = out(ymm_reg) c[4][0], h4 = out(ymm_reg) c[4][1],
                        l5 = out(ymm_reg) c[5][0], h5 = out(ymm_reg) c[5][1],
                        l6 = out(ymm_reg) c[6][0], h6 = out(ymm_reg) c[6][1],
                        l7 = out(ymm_reg) c[7][0], h7 = out(ymm_reg) c[7][1],
                    )
                };
            }
            macro_rules! buf_out {
                ($init:ident) => {
                    segment!(
                        init $init,
                        exit buf,
                        init = in(reg) init,
                        buf = in(reg) buf,
                        w = inout(reg) w,
                        kk = inout(reg) neg => _,
                        a0 = in(reg) a[0], a1 = in(reg) a[1], a2 = in(reg) a[2], a3 = in(reg) a[3],
                        a4 = in(reg) a[4], a5 = in(reg) a[5], a6 = in(reg) a[6], a7 = in(reg) a[7],
                    )
                };
            }
            let last = tap + 1 == taps;
            match (from_bias, last) {
                (true, true) => ymm_out!(bias),
                (false, true) => ymm_out!(buf),
                (true, false) => buf_out!(bias),
                (false, false) => buf_out!(buf),
            }
        }
        finish_rows(t, c);
    }
}
