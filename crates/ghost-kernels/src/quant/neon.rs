//! NEON INT8 microkernels (aarch64).
//!
//! GEMM tile (4 rows x 16 channels) on the shared panel layout (`[tap][group][16 cols][4]`,
//! [`super::pack`]): one 16-byte weight vector holds 4 columns x 4 input channels, exactly the
//! operand of `SDOT` (ARMv8.2 dot product: 4 lanes, each the dot product of 4 s8 pairs).
//!
//! - With `dotprod` (checked at run time, [`gemm_tile`]): `SDOT` by element: per row and 4
//!   groups, one 16-byte load of the inputs, and per group 4 `SDOT`s (16 columns) against the
//!   same 4-byte lane: 64 multiply-adds per instruction-quad. `SDOT` is s8 x s8 while the
//!   activations are u8, so the inputs are flipped to s8 by `x ^ 0x80` (= `x - 128`) and the
//!   exact sum restored at the end as `acc + 128 * sum_w[c]` (the panel's code sums, already
//!   packed for the zero-point term): every operation is exact i32 arithmetic, as the scalar
//!   kernel's. `SDOT` is reached through `asm!` because its intrinsics are not stable yet.
//! - Without it (Cortex-A53/A72 class): the weights widened to s16 (`SXTL`), multiplied by the
//!   widened inputs (`MUL` on s16, exact: `|x w| <= 255 * 127 = 32385 < 32767`) and the
//!   products pair-accumulated into s32 (`SADALP`); the column's two pair sums are folded at
//!   the end (`ADDP`).
//!
//! Depthwise (one output pixel, 8 channels per step): per pair of taps, the two taps' u8
//! inputs zero-extended to s16, the pair's interleaved s16 weights split by `LD2`, and four
//! `SMLAL`s into s32 (exact: `|x w| <= 255 * 127`).
//!
//! Quantize / dequantize: 8 values per step, the scalar definition's operations in the same
//! order (IEEE division `FDIV`, round half to even `FRINTN`, `+ zp`, clamp with `FMAXNM` /
//! `FMINNM`, which return the number for NaN, so NaN -> 0 as the scalar kernel), so every back
//! end gives the same code.
//!
//! Rows are read for exactly `cin` bytes: the tail group (and, with `SDOT`, the tail of the
//! 16-byte blocks) goes through a zero-padded copy; padded weight bytes are zero, so the
//! padding value never reaches a sum.

use std::arch::aarch64::*;
use std::arch::asm;
use std::ops::Range;

use super::convert::ConvertPlan;
use super::depthwise_kernel::{depthwise_rows, DwPlan, DwWeights};
use super::gemm::{gemm_rows, GemmPlan, TileI8, MR};
use super::pack::{KG, NR};
use super::params::quantize_value;
use crate::lanes::Neon;

/// Bytes of one panel group (16 columns x 4 input channels).
const GROUP_BYTES: usize = NR * KG;

/// Whether this CPU has the ARMv8.2 dot product instructions (cached by std).
#[inline]
pub(crate) fn has_dotprod() -> bool {
    std::arch::is_aarch64_feature_detected!("dotprod")
}

/// [`super::gemm::GemmI8Fn`] on NEON: `SDOT` where the CPU has it, widening NEON otherwise.
///
/// # Safety
/// As [`super::gemm::GemmI8Fn`] (NEON is part of the aarch64 base architecture).
pub(crate) unsafe fn gemm_tile(tile: &TileI8<'_>, acc: &mut [[i32; NR]; MR]) {
    if has_dotprod() {
        // SAFETY: forwarded contract; `dotprod` was just detected.
        unsafe { gemm_tile_sdot(tile, acc) }
    } else {
        // SAFETY: forwarded contract.
        unsafe { gemm_tile_widen(tile, acc) }
    }
}

/// The 4 bytes at `p` (`n <= 4` of them, zeros above) as a little-endian u32.
#[inline(always)]
unsafe fn load_group(p: *const u8, n: usize) -> u32 {
    if n == KG {
        // SAFETY: the caller guarantees 4 readable bytes.
        unsafe { p.cast::<u32>().read_unaligned() }
    } else {
        let mut b = [0u8; 4];
        // SAFETY: the caller guarantees `n` readable bytes.
        unsafe { std::ptr::copy_nonoverlapping(p, b.as_mut_ptr(), n) };
        u32::from_le_bytes(b)
    }
}

/// One group of the panel (4 weight vectors at `w`) against lane `L` of each row's inputs:
/// 16 `SDOT`s by element in one `asm!` block, the 16 accumulators tied in place.
///
/// # Safety
/// `w` must address 64 readable bytes; the CPU must support `dotprod`.
#[inline]
#[target_feature(enable = "dotprod")]
unsafe fn sdot_group<const L: i32>(
    c: &mut [[int32x4_t; 4]; MR],
    x: &[int8x16_t; MR],
    w: *const i8,
) {
    // SAFETY: `w` addresses 64 panel bytes (the caller's loop bounds); the asm block only reads
    // and writes vector registers (no memory, stack or flags); `dotprod` is guaranteed by the
    // caller.
    unsafe {
        let wv = [
            vld1q_s8(w),
            vld1q_s8(w.add(16)),
            vld1q_s8(w.add(32)),
            vld1q_s8(w.add(48)),
        ];
        asm!(
            "sdot {c00:v}.4s, {w0:v}.16b, {x0:v}.4b[{l}]",
            "sdot {c01:v}.4s, {w1:v}.16b, {x0:v}.4b[{l}]",
            "sdot {c02:v}.4s, {w2:v}.16b, {x0:v}.4b[{l}]",
            "sdot {c03:v}.4s, {w3:v}.16b, {x0:v}.4b[{l}]",
            "sdot {c10:v}.4s, {w0:v}.16b, {x1:v}.4b[{l}]",
            "sdot {c11:v}.4s, {w1:v}.16b, {x1:v}.4b[{l}]",
            "sdot {c12:v}.4s, {w2:v}.16b, {x1:v}.4b[{l}]",
            "sdot {c13:v}.4s, {w3:v}.16b, {x1:v}.4b[{l}]",
            "sdot {c20:v}.4s, {w0:v}.16b, {x2:v}.4b[{l}]",
            "sdot {c21:v}.4s, {w1:v}.16b, {x2:v}.4b[{l}]",
            "sdot {c22:v}.4s, {w2:v}.16b, {x2:v}.4b[{l}]",
            "sdot {c23:v}.4s, {w3:v}.16b, {x2:v}.4b[{l}]",
            "sdot {c30:v}.4s, {w0:v}.16b, {x3:v}.4b[{l}]",
            "sdot {c31:v}.4s, {w1:v}.16b, {x3:v}.4b[{l}]",
            "sdot {c32:v}.4s, {w2:v}.16b, {x3:v}.4b[{l}]",
            "sdot {c33:v}.4s, {w3:v}.16b, {x3:v}.4b[{l}]",
            c00 = inout(vreg) c[0][0],
            c01 = inout(vreg) c[0][1],
            c02 = inout(vreg) c[0][2],
            c03 = inout(vreg) c[0][3],
            c10 = inout(vreg) c[1][0],
            c11 = inout(vreg) c[1][1],
            c12 = inout(vreg) c[1][2],
            c13 = inout(vreg) c[1][3],
            c20 = inout(vreg) c[2][0],
            c21 = inout(vreg) c[2][1],
            c22 = inout(vreg) c[2][2],
            c23 = inout(vreg) c[2][3],
            c30 = inout(vreg) c[3][0],
            c31 = inout(vreg) c[3][1],
            c32 = inout(vreg) c[3][2],
            c33 = inout(vreg) c[3][3],
            w0 = in(vreg) wv[0],
            w1 = in(vreg) wv[1],
            w2 = in(vreg) wv[2],
            w3 = in(vreg) wv[3],
            x0 = in(vreg) x[0],
            x1 = in(vreg) x[1],
            x2 = in(vreg) x[2],
            x3 = in(vreg) x[3],
            l = const L,
            options(pure, nomem, nostack, preserves_flags)
        );
    }
}

/// The `SDOT` tile.
///
/// # Safety
/// As [`super::gemm::GemmI8Fn`]; the CPU must support `dotprod`.
#[target_feature(enable = "dotprod")]
pub(crate) unsafe fn gemm_tile_sdot(tile: &TileI8<'_>, acc: &mut [[i32; NR]; MR]) {
    debug_assert!(tile.panel.len() >= tile.taps * tile.groups * GROUP_BYTES);
    debug_assert!(tile.sums.len() >= NR);
    let flip = vdupq_n_u8(0x80);
    let mut c = [[vdupq_n_s32(0); 4]; MR];
    let blocks = tile.cin / 16;
    let panel = tile.panel.as_ptr();
    for t in 0..tile.taps {
        let rows: [*const u8; MR] = std::array::from_fn(|r| tile.a[t * MR + r]);
        // SAFETY: each row holds `cin` bytes: `blocks` whole 16-byte loads, then the rest
        // group by group (`load_group` copies a partial tail); the panel holds `taps * groups`
        // groups of 64 bytes and `4 * blocks + rest groups = groups`. The asm loop reads
        // exactly those `blocks * 16` row bytes and `blocks * 256` panel bytes (post-indexed
        // copies of the pointers), writes only registers (scratch vectors as `out`, so they
        // never share a register with `flip` or the accumulators) and the flags (`subs`: not
        // `preserves_flags`), and runs only for `blocks >= 1`; `dotprod` is this function's
        // target feature.
        unsafe {
            let wt = panel.add(t * tile.groups * GROUP_BYTES);
            // The 16-byte blocks: the whole loop in one `asm!` block, so the 16 accumulators
            // stay in place across iterations (as separate per-group blocks, the register
            // allocator left 15 dead accumulator copies in the loop latch: docs/kernels.md,
            // NEON). Per iteration: 4 input loads, 4 flips, 8 weight `LDP`s, 64 `SDOT`s.
            if blocks > 0 {
                asm!(
                    "2:",
                    "ldr {x0:q}, [{p0}], #16",
                    "ldr {x1:q}, [{p1}], #16",
                    "ldr {x2:q}, [{p2}], #16",
                    "ldr {x3:q}, [{p3}], #16",
                    "eor {x0:v}.16b, {x0:v}.16b, {flip:v}.16b",
                    "eor {x1:v}.16b, {x1:v}.16b, {flip:v}.16b",
                    "eor {x2:v}.16b, {x2:v}.16b, {flip:v}.16b",
                    "eor {x3:v}.16b, {x3:v}.16b, {flip:v}.16b",
                    "ldp {w0:q}, {w1:q}, [{w}, #0]",
                    "ldp {w2:q}, {w3:q}, [{w}, #32]",
                    "sdot {c00:v}.4s, {w0:v}.16b, {x0:v}.4b[0]",
                    "sdot {c01:v}.4s, {w1:v}.16b, {x0:v}.4b[0]",
                    "sdot {c02:v}.4s, {w2:v}.16b, {x0:v}.4b[0]",
                    "sdot {c03:v}.4s, {w3:v}.16b, {x0:v}.4b[0]",
                    "sdot {c10:v}.4s, {w0:v}.16b, {x1:v}.4b[0]",
                    "sdot {c11:v}.4s, {w1:v}.16b, {x1:v}.4b[0]",
                    "sdot {c12:v}.4s, {w2:v}.16b, {x1:v}.4b[0]",
                    "sdot {c13:v}.4s, {w3:v}.16b, {x1:v}.4b[0]",
                    "sdot {c20:v}.4s, {w0:v}.16b, {x2:v}.4b[0]",
                    "sdot {c21:v}.4s, {w1:v}.16b, {x2:v}.4b[0]",
                    "sdot {c22:v}.4s, {w2:v}.16b, {x2:v}.4b[0]",
                    "sdot {c23:v}.4s, {w3:v}.16b, {x2:v}.4b[0]",
                    "sdot {c30:v}.4s, {w0:v}.16b, {x3:v}.4b[0]",
                    "sdot {c31:v}.4s, {w1:v}.16b, {x3:v}.4b[0]",
                    "sdot {c32:v}.4s, {w2:v}.16b, {x3:v}.4b[0]",
                    "sdot {c33:v}.4s, {w3:v}.16b, {x3:v}.4b[0]",
                    "ldp {w0:q}, {w1:q}, [{w}, #64]",
                    "ldp {w2:q}, {w3:q}, [{w}, #96]",
                    "sdot {c00:v}.4s, {w0:v}.16b, {x0:v}.4b[1]",
                    "sdot {c01:v}.4s, {w1:v}.16b, {x0:v}.4b[1]",
                    "sdot {c02:v}.4s, {w2:v}.16b, {x0:v}.4b[1]",
                    "sdot {c03:v}.4s, {w3:v}.16b, {x0:v}.4b[1]",
                    "sdot {c10:v}.4s, {w0:v}.16b, {x1:v}.4b[1]",
                    "sdot {c11:v}.4s, {w1:v}.16b, {x1:v}.4b[1]",
                    "sdot {c12:v}.4s, {w2:v}.16b, {x1:v}.4b[1]",
                    "sdot {c13:v}.4s, {w3:v}.16b, {x1:v}.4b[1]",
                    "sdot {c20:v}.4s, {w0:v}.16b, {x2:v}.4b[1]",
                    "sdot {c21:v}.4s, {w1:v}.16b, {x2:v}.4b[1]",
                    "sdot {c22:v}.4s, {w2:v}.16b, {x2:v}.4b[1]",
                    "sdot {c23:v}.4s, {w3:v}.16b, {x2:v}.4b[1]",
                    "sdot {c30:v}.4s, {w0:v}.16b, {x3:v}.4b[1]",
                    "sdot {c31:v}.4s, {w1:v}.16b, {x3:v}.4b[1]",
                    "sdot {c32:v}.4s, {w2:v}.16b, {x3:v}.4b[1]",
                    "sdot {c33:v}.4s, {w3:v}.16b, {x3:v}.4b[1]",
                    "ldp {w0:q}, {w1:q}, [{w}, #128]",
                    "ldp {w2:q}, {w3:q}, [{w}, #160]",
                    "sdot {c00:v}.4s, {w0:v}.16b, {x0:v}.4b[2]",
                    "sdot {c01:v}.4s, {w1:v}.16b, {x0:v}.4b[2]",
                    "sdot {c02:v}.4s, {w2:v}.16b, {x0:v}.4b[2]",
                    "sdot {c03:v}.4s, {w3:v}.16b, {x0:v}.4b[2]",
                    "sdot {c10:v}.4s, {w0:v}.16b, {x1:v}.4b[2]",
                    "sdot {c11:v}.4s, {w1:v}.16b, {x1:v}.4b[2]",
                    "sdot {c12:v}.4s, {w2:v}.16b, {x1:v}.4b[2]",
                    "sdot {c13:v}.4s, {w3:v}.16b, {x1:v}.4b[2]",
                    "sdot {c20:v}.4s, {w0:v}.16b, {x2:v}.4b[2]",
                    "sdot {c21:v}.4s, {w1:v}.16b, {x2:v}.4b[2]",
                    "sdot {c22:v}.4s, {w2:v}.16b, {x2:v}.4b[2]",
                    "sdot {c23:v}.4s, {w3:v}.16b, {x2:v}.4b[2]",
                    "sdot {c30:v}.4s, {w0:v}.16b, {x3:v}.4b[2]",
                    "sdot {c31:v}.4s, {w1:v}.16b, {x3:v}.4b[2]",
                    "sdot {c32:v}.4s, {w2:v}.16b, {x3:v}.4b[2]",
                    "sdot {c33:v}.4s, {w3:v}.16b, {x3:v}.4b[2]",
                    "ldp {w0:q}, {w1:q}, [{w}, #192]",
                    "ldp {w2:q}, {w3:q}, [{w}, #224]",
                    "sdot {c00:v}.4s, {w0:v}.16b, {x0:v}.4b[3]",
                    "sdot {c01:v}.4s, {w1:v}.16b, {x0:v}.4b[3]",
                    "sdot {c02:v}.4s, {w2:v}.16b, {x0:v}.4b[3]",
                    "sdot {c03:v}.4s, {w3:v}.16b, {x0:v}.4b[3]",
                    "sdot {c10:v}.4s, {w0:v}.16b, {x1:v}.4b[3]",
                    "sdot {c11:v}.4s, {w1:v}.16b, {x1:v}.4b[3]",
                    "sdot {c12:v}.4s, {w2:v}.16b, {x1:v}.4b[3]",
                    "sdot {c13:v}.4s, {w3:v}.16b, {x1:v}.4b[3]",
                    "sdot {c20:v}.4s, {w0:v}.16b, {x2:v}.4b[3]",
                    "sdot {c21:v}.4s, {w1:v}.16b, {x2:v}.4b[3]",
                    "sdot {c22:v}.4s, {w2:v}.16b, {x2:v}.4b[3]",
                    "sdot {c23:v}.4s, {w3:v}.16b, {x2:v}.4b[3]",
                    "sdot {c30:v}.4s, {w0:v}.16b, {x3:v}.4b[3]",
                    "sdot {c31:v}.4s, {w1:v}.16b, {x3:v}.4b[3]",
                    "sdot {c32:v}.4s, {w2:v}.16b, {x3:v}.4b[3]",
                    "sdot {c33:v}.4s, {w3:v}.16b, {x3:v}.4b[3]",
                    "add {w}, {w}, #256",
                    "subs {n}, {n}, #1",
                    "b.ne 2b",
                    p0 = inout(reg) rows[0] => _,
                    p1 = inout(reg) rows[1] => _,
                    p2 = inout(reg) rows[2] => _,
                    p3 = inout(reg) rows[3] => _,
                    w = inout(reg) wt => _,
                    n = inout(reg) blocks => _,
                    flip = in(vreg) flip,
                    x0 = out(vreg) _,
                    x1 = out(vreg) _,
                    x2 = out(vreg) _,
                    x3 = out(vreg) _,
                    w0 = out(vreg) _,
                    w1 = out(vreg) _,
                    w2 = out(vreg) _,
                    w3 = out(vreg) _,
                    c00 = inout(vreg) c[0][0],
                    c01 = inout(vreg) c[0][1],
                    c02 = inout(vreg) c[0][2],
                    c03 = inout(vreg) c[0][3],
                    c10 = inout(vreg) c[1][0],
                    c11 = inout(vreg) c[1][1],
                    c12 = inout(vreg) c[1][2],
                    c13 = inout(vreg) c[1][3],
                    c20 = inout(vreg) c[2][0],
                    c21 = inout(vreg) c[2][1],
                    c22 = inout(vreg) c[2][2],
                    c23 = inout(vreg) c[2][3],
                    c30 = inout(vreg) c[3][0],
                    c31 = inout(vreg) c[3][1],
                    c32 = inout(vreg) c[3][2],
                    c33 = inout(vreg) c[3][3],
                    options(nostack, readonly),
                );
            }
            for g in 4 * blocks..tile.groups {
                let n = (tile.cin - g * KG).min(KG);
                let x = rows.map(|p| {
                    let v = load_group(p.add(g * KG), n) ^ 0x8080_8080;
                    vreinterpretq_s8_u32(vdupq_n_u32(v))
                });
                sdot_group::<0>(&mut c, &x, wt.add(g * GROUP_BYTES));
            }
        }
    }
    // sum (x - 128) w + 128 sum_w = sum x w, exact in i32 (|128 sum_w| <= 128 * 127 * 32768).
    // SAFETY: `sums` holds the panel's 16 code sums, each accumulator row 16 i32.
    unsafe {
        let s = tile.sums.as_ptr();
        for (row, cr) in acc.iter_mut().zip(&c) {
            for (q, &v) in cr.iter().enumerate() {
                let fix = vshlq_n_s32::<7>(vld1q_s32(s.add(4 * q)));
                vst1q_s32(row.as_mut_ptr().add(4 * q), vaddq_s32(v, fix));
            }
        }
    }
}

/// The widening tile (no `dotprod`): two rows at a time, 8 accumulators per row, lane pairs
/// `[col 2k: bytes 0+1, 2+3, col 2k+1: bytes 0+1, 2+3]`.
///
/// # Safety
/// As [`super::gemm::GemmI8Fn`].
pub(crate) unsafe fn gemm_tile_widen(tile: &TileI8<'_>, acc: &mut [[i32; NR]; MR]) {
    debug_assert!(tile.panel.len() >= tile.taps * tile.groups * GROUP_BYTES);
    let panel = tile.panel.as_ptr();
    for r0 in (0..MR).step_by(2) {
        let mut c = [[vdupq_n_s32(0); 8]; 2];
        for t in 0..tile.taps {
            let rows = [tile.a[t * MR + r0], tile.a[t * MR + r0 + 1]];
            // SAFETY: each row holds `cin` bytes, read as whole groups and a partial tail
            // (`load_group`); the panel holds `taps * groups` groups of 64 bytes.
            unsafe {
                let wt = panel.add(t * tile.groups * GROUP_BYTES);
                for g in 0..tile.groups {
                    let n = (tile.cin - g * KG).min(KG);
                    let w = wt.add(g * GROUP_BYTES);
                    let mut ws = [vdupq_n_s16(0); 8];
                    for q in 0..4 {
                        let v = vld1q_s8(w.add(16 * q));
                        ws[2 * q] = vmovl_s8(vget_low_s8(v));
                        ws[2 * q + 1] = vmovl_high_s8(v);
                    }
                    for (cr, &p) in c.iter_mut().zip(&rows) {
                        let x = load_group(p.add(g * KG), n);
                        // [x0 x1 x2 x3 x0 x1 x2 x3] as s16 (u8 zero-extended).
                        let xs =
                            vreinterpretq_s16_u16(vmovl_u8(vreinterpret_u8_u32(vdup_n_u32(x))));
                        for k in 0..8 {
                            cr[k] = vpadalq_s16(cr[k], vmulq_s16(ws[k], xs));
                        }
                    }
                }
            }
        }
        for (i, cr) in c.iter().enumerate() {
            let row = &mut acc[r0 + i];
            for q in 0..4 {
                // SAFETY: each accumulator row holds 16 i32.
                unsafe {
                    vst1q_s32(
                        row.as_mut_ptr().add(4 * q),
                        vpaddq_s32(cr[2 * q], cr[2 * q + 1]),
                    )
                };
            }
        }
    }
}

/// The GEMM driver and epilogue on NEON lanes.
///
/// # Safety
/// As [`gemm_rows`].
pub(crate) unsafe fn gemm_rows_neon(plan: &GemmPlan<'_>, rows: Range<usize>) {
    // SAFETY: forwarded contract; NEON is part of the aarch64 base architecture.
    unsafe { gemm_rows::<Neon>(plan, rows) }
}

/// Quantizes pixels `rows` on NEON.
///
/// # Safety
/// As [`super::scalar::quantize_rows`].
pub(crate) unsafe fn quantize_rows(plan: &ConvertPlan, rows: Range<usize>) {
    let scale = vdupq_n_f32(plan.scale);
    let zp = vdupq_n_f32(f32::from(plan.zp));
    let (zero, top) = (vdupq_n_f32(0.0), vdupq_n_f32(255.0));
    let code = |v: float32x4_t| {
        let v = vaddq_f32(vrndnq_f32(vdivq_f32(v, scale)), zp);
        // `maxnm(NaN, 0) = 0`, as the scalar definition; the clamped value is integral.
        vcvtq_u32_f32(vminnmq_f32(vmaxnmq_f32(v, zero), top))
    };
    for p in rows {
        // SAFETY: pixel `p` of both checked views holds `c` elements; the vector steps stay
        // below `c`.
        unsafe {
            let src = plan.f32_ptr.add(p * plan.f32_stride);
            let dst = plan.u8_ptr.add(p * plan.u8_stride);
            let mut j = 0;
            while j + 8 <= plan.c {
                let lo = code(vld1q_f32(src.add(j)));
                let hi = code(vld1q_f32(src.add(j + 4)));
                let h = vcombine_u16(vmovn_u32(lo), vmovn_u32(hi));
                vst1_u8(dst.add(j), vmovn_u16(h));
                j += 8;
            }
            for k in j..plan.c {
                *dst.add(k) = quantize_value(*src.add(k), plan.scale, plan.zp);
            }
        }
    }
}

/// Dequantizes pixels `rows` on NEON.
///
/// # Safety
/// As [`super::scalar::dequantize_rows`].
pub(crate) unsafe fn dequantize_rows(plan: &ConvertPlan, rows: Range<usize>) {
    let scale = vdupq_n_f32(plan.scale);
    let zp = vdupq_n_s32(i32::from(plan.zp));
    let real = |q: uint16x4_t| {
        let v = vsubq_s32(vreinterpretq_s32_u32(vmovl_u16(q)), zp);
        vmulq_f32(vcvtq_f32_s32(v), scale)
    };
    for p in rows {
        // SAFETY: as in `quantize_rows`.
        unsafe {
            let src = plan.u8_ptr.add(p * plan.u8_stride);
            let dst = plan.f32_ptr.cast_mut().add(p * plan.f32_stride);
            let mut j = 0;
            while j + 8 <= plan.c {
                let q = vmovl_u8(vld1_u8(src.add(j)));
                vst1q_f32(dst.add(j), real(vget_low_u16(q)));
                vst1q_f32(dst.add(j + 4), real(vget_high_u16(q)));
                j += 8;
            }
            for k in j..plan.c {
                *dst.add(k) = (i32::from(*src.add(k)) - i32::from(plan.zp)) as f32 * plan.scale;
            }
        }
    }
}

/// [`super::depthwise_kernel::DwPixelFn`] on NEON.
///
/// # Safety
/// As [`super::depthwise_kernel::DwPixelFn`].
pub(crate) unsafe fn depthwise_pixel(a: &[*const u8], w: &DwWeights<'_>, acc: &mut [i32]) {
    let c = w.channels;
    let codes = w.codes.as_ptr();
    let pairs = a.len() / 2;
    debug_assert!(w.codes.len() >= pairs * w.cpad * 2 && acc.len() >= c);
    let mut c0 = 0;
    // SAFETY (whole function): every tap row holds `c` bytes and the codes `pairs * cpad * 2`
    // entries; the vector steps stay below `c` (inputs, codes, acc).
    unsafe {
        while c0 + 8 <= c {
            let (mut lo, mut hi) = (vdupq_n_s32(0), vdupq_n_s32(0));
            for p in 0..pairs {
                let x0 = vreinterpretq_s16_u16(vmovl_u8(vld1_u8(a[2 * p].add(c0))));
                let x1 = vreinterpretq_s16_u16(vmovl_u8(vld1_u8(a[2 * p + 1].add(c0))));
                let wv = vld2q_s16(codes.add((p * w.cpad + c0) * 2));
                lo = vmlal_s16(lo, vget_low_s16(x0), vget_low_s16(wv.0));
                hi = vmlal_high_s16(hi, x0, wv.0);
                lo = vmlal_s16(lo, vget_low_s16(x1), vget_low_s16(wv.1));
                hi = vmlal_high_s16(hi, x1, wv.1);
            }
            vst1q_s32(acc.as_mut_ptr().add(c0), lo);
            vst1q_s32(acc.as_mut_ptr().add(c0 + 4), hi);
            c0 += 8;
        }
        for (ch, out) in acc.iter_mut().enumerate().take(c).skip(c0) {
            let mut s = 0i32;
            for (t, &row) in a.iter().enumerate() {
                let wt = *codes.add(((t / 2) * w.cpad + ch) * 2 + t % 2);
                s += i32::from(*row.add(ch)) * i32::from(wt);
            }
            *out = s;
        }
    }
}

/// The depthwise driver and epilogue on NEON lanes.
///
/// # Safety
/// As [`depthwise_rows`].
pub(crate) unsafe fn depthwise_rows_neon(plan: &DwPlan<'_>, rows: Range<usize>) {
    // SAFETY: forwarded contract; NEON is part of the aarch64 base architecture.
    unsafe { depthwise_rows::<Neon>(plan, rows) }
}
