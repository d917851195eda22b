//! AVX-512 F 8x16 broadcast microkernel (one zmm accumulator per row).
//!
//! Per reduction step: one aligned 64-byte load of the weight row and eight FMAs whose
//! activation operand is an embedded broadcast (`vfmadd231ps zmm, zmm, [mem]{1to16}`), so no
//! separate broadcast instruction: 15 instructions per 256 FLOP (with the loop counter, a weight
//! prefetch and the test for the activation prefetch) where the AVX2 6x16 tile issues 20 per
//! 192. A separate `vbroadcastss zmm`
//! per row was much slower on Zen 4 (66-79 against 93-107 GFLOP/s on the L1-resident shapes of
//! `benches/benches/gemm_tile_cpu.rs`): the embedded form is the one to keep.
//!
//! Written with `asm!`: it was begun for an MSRV of 1.85, where the `avx512*` target features and
//! `_mm512_*` intrinsics are not stable (the MSRV is 1.89 now, set by `wide`), and it pins the
//! embedded-broadcast form and the register use; only zmm16-31 and k1 are used, as clobbers. One
//! assembly block runs the tile's whole reduction block (every tap) with the accumulators in
//! registers, then hands them over in zmm registers to the AVX-512 epilogue
//! ([`super::finish_avx512::finish_rows`]: SiLU and sigmoid on zmm registers, the AVX2
//! epilogue's bits in fewer instructions, see `simd::avx512`). Each output element sees exactly
//! the FMA sequence of the AVX2 tile (start from the bias or the stored partial sum, one FMA per
//! reduction step in order, an epilogue with the same results), so the results are
//! bit-identical to it.

use std::arch::asm;
use std::arch::x86_64::*;

use super::finish_avx512::finish_rows;
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
/// See [`super::tile::KernelFn`]; the CPU must support AVX2, FMA and AVX-512 F and VL.
#[target_feature(enable = "avx2,fma,avx512f,avx512vl")]
unsafe fn strip_8x16(s: &Strip<'_>) {
    let tiles = s.tiles(MR);
    for i in 0..tiles {
        let t = s.tile(i, MR);
        // The first panel of a row block reads the block's activations from L3 or memory
        // (later panels find them in L2): there the tile prefetches the next tile's rows, one
        // cache line per row every 16 reduction steps, as the AVX2 tile does. Without it, 1x1
        // convs whose input streams from memory ran at 0.90-0.93 of the AVX2 tile.
        let next = (s.col == 0 && i + 1 < tiles).then(|| s.tile(i + 1, MR).a);
        // SAFETY: forwarded strip contract; `next` has the layout of `t.a`.
        unsafe { tile_8x16(&t, next) };
    }
}

/// The whole reduction block of one tile in one `asm!`, the accumulators in registers from the
/// set-up to the hand-over: `tile_asm!(bias|buf, operands...)`.
///
/// Registers: accumulators zmm16-23 (row `r` in `zmm{16 + r}`), the weight row in zmm24. Set-up:
/// `bias` copies the one 16-float row at `{init}` to every row, `buf` loads row `r` from floats
/// `16 r ..` of the buffer at `{init}`. Then per tap: the 8 row pointers are read from `{tab}`
/// (8 per tap) and moved to the segment's end (`+ [{prm}]` bytes), `{kk}` runs from `[{prm} + 8]`
/// (`-4 k`) up to 0 bytes against them while `{w}` walks the weight rows (prefetching 16 rows
/// ahead: the first tile of a panel streams them from L2, and Winograd's GEMMs reuse a panel
/// for few tiles), and `[{prm} + 16]` counts the taps down. When `[{prm} + 48]` is set, every
/// 16 steps one cache line of each of the next tile's rows is prefetched (its row pointers at
/// `[{prm} + 24]`, advanced a tap at a time; the line at `[{prm} + 32]` bytes, restarted per tap
/// at `[{prm} + 40]`), with `{init}`, free after the set-up, as the scratch register: all 13
/// allocatable GPRs are taken. Hand-over: row `r` goes to the zmm register `{z<r>}`, which the
/// epilogue reads.
macro_rules! tile_asm {
    (bias, $($operands:tt)*) => {
        tile_asm!(@go [
            "vmovaps zmm16, [{init}]",
            "vmovaps zmm17, zmm16",
            "vmovaps zmm18, zmm16",
            "vmovaps zmm19, zmm16",
            "vmovaps zmm20, zmm16",
            "vmovaps zmm21, zmm16",
            "vmovaps zmm22, zmm16",
            "vmovaps zmm23, zmm16"
        ], $($operands)*)
    };
    (buf, $($operands:tt)*) => {
        tile_asm!(@go [
            "vmovaps zmm16, [{init}]",
            "vmovaps zmm17, [{init} + 64]",
            "vmovaps zmm18, [{init} + 128]",
            "vmovaps zmm19, [{init} + 192]",
            "vmovaps zmm20, [{init} + 256]",
            "vmovaps zmm21, [{init} + 320]",
            "vmovaps zmm22, [{init} + 384]",
            "vmovaps zmm23, [{init} + 448]"
        ], $($operands)*)
    };
    (@go [$($init:literal),*], $($operands:tt)*) => {
        asm!(
            $($init,)*
            "3:",
            "mov {a0}, [{tab}]",
            "mov {a1}, [{tab} + 8]",
            "mov {a2}, [{tab} + 16]",
            "mov {a3}, [{tab} + 24]",
            "mov {a4}, [{tab} + 32]",
            "mov {a5}, [{tab} + 40]",
            "mov {a6}, [{tab} + 48]",
            "mov {a7}, [{tab} + 56]",
            "add {tab}, 64",
            "add {a0}, [{prm}]",
            "add {a1}, [{prm}]",
            "add {a2}, [{prm}]",
            "add {a3}, [{prm}]",
            "add {a4}, [{prm}]",
            "add {a5}, [{prm}]",
            "add {a6}, [{prm}]",
            "add {a7}, [{prm}]",
            "mov {kk}, [{prm} + 8]",
            "mov {init}, [{prm} + 40]",
            "mov [{prm} + 32], {init}",
            ".p2align 6",
            "2:",
            "test {kk}, 63",
            "jnz 4f",
            "cmp qword ptr [{prm} + 48], 0",
            "je 4f",
            "mov {init}, [{prm} + 24]",
            "mov {init}, [{init}]",
            "add {init}, [{prm} + 32]",
            "prefetcht0 [{init}]",
            "mov {init}, [{prm} + 24]",
            "mov {init}, [{init} + 8]",
            "add {init}, [{prm} + 32]",
            "prefetcht0 [{init}]",
            "mov {init}, [{prm} + 24]",
            "mov {init}, [{init} + 16]",
            "add {init}, [{prm} + 32]",
            "prefetcht0 [{init}]",
            "mov {init}, [{prm} + 24]",
            "mov {init}, [{init} + 24]",
            "add {init}, [{prm} + 32]",
            "prefetcht0 [{init}]",
            "mov {init}, [{prm} + 24]",
            "mov {init}, [{init} + 32]",
            "add {init}, [{prm} + 32]",
            "prefetcht0 [{init}]",
            "mov {init}, [{prm} + 24]",
            "mov {init}, [{init} + 40]",
            "add {init}, [{prm} + 32]",
            "prefetcht0 [{init}]",
            "mov {init}, [{prm} + 24]",
            "mov {init}, [{init} + 48]",
            "add {init}, [{prm} + 32]",
            "prefetcht0 [{init}]",
            "mov {init}, [{prm} + 24]",
            "mov {init}, [{init} + 56]",
            "add {init}, [{prm} + 32]",
            "prefetcht0 [{init}]",
            "add qword ptr [{prm} + 32], 64",
            "4:",
            "vmovaps zmm24, [{w}]",
            "prefetcht0 [{w} + 1024]",
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
            "add qword ptr [{prm} + 24], 64",
            "dec qword ptr [{prm} + 16]",
            "jnz 3b",
            "vmovaps {z0}, zmm16",
            "vmovaps {z1}, zmm17",
            "vmovaps {z2}, zmm18",
            "vmovaps {z3}, zmm19",
            "vmovaps {z4}, zmm20",
            "vmovaps {z5}, zmm21",
            "vmovaps {z6}, zmm22",
            "vmovaps {z7}, zmm23",
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
/// See [`super::tile::KernelFn`]; AVX2, FMA and AVX-512 F and VL code.
#[inline]
#[target_feature(enable = "avx2,fma,avx512f,avx512vl")]
unsafe fn tile_8x16(t: &Tile<'_>, next: Option<&[*const f32]>) {
    debug_assert!(t.a.len().is_multiple_of(MR) && t.out.len() == MR && t.k > 0);
    debug_assert_eq!(t.weights.len(), t.a.len() / MR * t.k);
    // Written (by the partial-sum reload below) before it is read, so it is not zeroed on
    // every tile: zeroing it cost up to 10% on short reductions.
    let mut sums = std::mem::MaybeUninit::<Sums>::uninit();
    let buf = sums.as_mut_ptr() as *mut f32;
    let taps = t.a.len() / MR;
    // SAFETY (whole function): the tile contract of `KernelFn`: `a` holds `taps * MR` row
    // pointers, each valid for `a_offset + k` reads (the assembly reads the `k` floats below
    // `row + a_offset + k`), `out[r] + col` for `nr` reads (the masked loads touch no other
    // column); the weights hold `taps * k` rows of 16 floats and the bias row 16, 64-byte
    // aligned (the prefetches past them never fault); `buf` holds `MR * 16` floats, 64-byte
    // aligned; `prm` is this frame's 3-entry array, which the assembly counts down.
    unsafe {
        if t.bias.is_none() {
            // The partial sums of the earlier reduction blocks, `nr` columns of each row
            // (masked zmm loads, zeros above; a masked-off lane never faults), copied to the
            // buffer with zmm stores: the segment's zmm loads of the buffer then forward from
            // stores of the same size (two ymm stores feeding one zmm load do not forward).
            let mask = ((1u32 << t.nr) - 1) as u16;
            asm!(
                "kmovw k1, {mask:e}",
                "mov {p}, [{outs}]",
                "vmovups zmm25 {{k1}} {{z}}, [{p} + {col}]",
                "vmovaps [{buf}], zmm25",
                "mov {p}, [{outs} + 8]",
                "vmovups zmm25 {{k1}} {{z}}, [{p} + {col}]",
                "vmovaps [{buf} + 64], zmm25",
                "mov {p}, [{outs} + 16]",
                "vmovups zmm25 {{k1}} {{z}}, [{p} + {col}]",
                "vmovaps [{buf} + 128], zmm25",
                "mov {p}, [{outs} + 24]",
                "vmovups zmm25 {{k1}} {{z}}, [{p} + {col}]",
                "vmovaps [{buf} + 192], zmm25",
                "mov {p}, [{outs} + 32]",
                "vmovups zmm25 {{k1}} {{z}}, [{p} + {col}]",
                "vmovaps [{buf} + 256], zmm25",
                "mov {p}, [{outs} + 40]",
                "vmovups zmm25 {{k1}} {{z}}, [{p} + {col}]",
                "vmovaps [{buf} + 320], zmm25",
                "mov {p}, [{outs} + 48]",
                "vmovups zmm25 {{k1}} {{z}}, [{p} + {col}]",
                "vmovaps [{buf} + 384], zmm25",
                "mov {p}, [{outs} + 56]",
                "vmovups zmm25 {{k1}} {{z}}, [{p} + {col}]",
                "vmovaps [{buf} + 448], zmm25",
                mask = in(reg) u32::from(mask),
                outs = in(reg) t.out.as_ptr(),
                col = in(reg) t.col * 4,
                buf = in(reg) buf,
                p = out(reg) _,
                out("zmm25") _,
                out("k1") _,
                options(nostack, preserves_flags),
            );
        }
        let w = t.weights.as_ptr() as *const f32;
        let tab = t.a.as_ptr();
        // Bytes from a row pointer to its segment's end, the start index, the taps to run.
        // The next tile's row pointers to prefetch from (this tile's own when there is none,
        // so the table walk stays in bounds; the flag then skips the prefetches).
        let (next_tab, prefetch) = match next {
            Some(n) => (n.as_ptr(), 1),
            None => (t.a.as_ptr(), 0),
        };
        let mut prm: [isize; 7] = [
            // Bytes from a row pointer to its segment's end.
            ((t.a_offset + t.k) * 4) as isize,
            // The start index.
            -((t.k * 4) as isize),
            // Taps left.
            taps as isize,
            // The next tile's row pointers of the current tap.
            next_tab as isize,
            // The next line to prefetch, bytes from a row pointer (reset per tap).
            0,
            // Its start: the segment's first float.
            (t.a_offset * 4) as isize,
            // Whether to prefetch.
            prefetch,
        ];
        let prm = prm.as_mut_ptr();
        let mut c = [_mm512_setzero_ps(); MR];
        macro_rules! run {
            ($init:ident, $from:expr) => {
                tile_asm!(
                    $init,
                    init = inout(reg) $from => _,
                    tab = inout(reg) tab => _,
                    prm = in(reg) prm,
                    w = inout(reg) w => _,
                    kk = out(reg) _,
                    a0 = out(reg) _, a1 = out(reg) _, a2 = out(reg) _, a3 = out(reg) _,
                    a4 = out(reg) _, a5 = out(reg) _, a6 = out(reg) _, a7 = out(reg) _,
                    z0 = out(zmm_reg) c[0], z1 = out(zmm_reg) c[1],
                    z2 = out(zmm_reg) c[2], z3 = out(zmm_reg) c[3],
                    z4 = out(zmm_reg) c[4], z5 = out(zmm_reg) c[5],
                    z6 = out(zmm_reg) c[6], z7 = out(zmm_reg) c[7],
                )
            };
        }
        match t.bias {
            Some(b) => run!(bias, b.0.as_ptr()),
            None => run!(buf, buf as *const f32),
        }
        finish_rows(t, c);
    }
}
