//! The AVX-512 VNNI INT8 GEMM driver and tile: 8 rows (output pixels) x 32 columns (two
//! 16-channel panels) on zmm registers, 16 `vpdpbusd` accumulators, the epilogue run from the
//! registers ([`super::vnni_finish`]).
//!
//! Per tap and group of 4 input channels: one 64-byte weight load per panel (16 columns x 4
//! bytes, the packed layout of [`super::pack`] unchanged), one `vpbroadcastd` of the 4 input
//! bytes per row straight from memory, and `8 x 2` `vpdpbusd`. Each broadcast serves two panels
//! and each weight load eight rows, where the shared 4 x 16 ymm tile ([`super::vnni`]) broadcasts
//! from a general register, serves one panel, and re-gathers the rows for every panel. The row
//! pointers are filled once per tile for all panels ([`super::vnni_rows`], no division per
//! tile). An odd last panel runs the same tile with one panel. One-panel calls (`cout < 16`)
//! keep the shared driver's narrow-output path.
//!
//! The sums are the exact i32 dot products (`vpdpbusd` adds four u8 x s8 products in 32 bits
//! without saturation), the same as every other back end's.

use std::arch::x86_64::*;
use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};

use super::gemm::{GemmPlan, Source, MAX_TAPS};
use super::pack::{KG, NR};
use super::vnni_finish::finish_tile;
use super::vnni_rows::{fill_tile, Cursor, RowTable, MR8};
use super::x86_tile::load_group;

/// Bench hook: when set, the VNNI back end runs the shared 4 x 16 driver and tile (the
/// previous design) instead of this one, so `benches/benches/int8_gemm_cpu.rs` can time both
/// in one process, interleaved. Not for production use; off by default.
#[doc(hidden)]
pub static USE_SHARED_DRIVER: AtomicBool = AtomicBool::new(false);

/// One group of 4 input channels: the rows' bytes at `rows[r] + off` (`rem` of them when set)
/// times the 64 weight bytes at each `w[j] + woff`, into `c`.
///
/// # Safety
/// AVX-512 F + VNNI code; the row and weight reads stay inside the caller's operands.
#[inline(always)]
unsafe fn group<const P: usize>(
    c: &mut [[__m512i; P]; MR8],
    rows: &[*const u8; MR8],
    off: usize,
    rem: usize,
    w: &[*const i8; P],
    woff: usize,
) {
    // SAFETY: forwarded contract.
    unsafe {
        let wv: [__m512i; P] = std::array::from_fn(|j| _mm512_loadu_si512(w[j].add(woff).cast()));
        for r in 0..MR8 {
            let x = _mm512_set1_epi32(load_group(rows[r].add(off), rem));
            for j in 0..P {
                c[r][j] = _mm512_dpbusd_epi32(c[r][j], x, wv[j]);
            }
        }
    }
}

/// The `MR8 x 16P` exact sums of one tile: rows from `a` (tap-major), panels at `w`
/// (`taps * groups * 64` bytes each).
///
/// # Safety
/// AVX-512 F + VNNI code; every `a[t * MR8 + r]` valid for `cin` byte reads, every panel for
/// `taps * groups * 64`.
#[inline(always)]
unsafe fn tile<const P: usize>(
    a: &RowTable,
    taps: usize,
    cin: usize,
    groups: usize,
    w: [*const i8; P],
) -> [[__m512i; P]; MR8] {
    let mut c = [[_mm512_setzero_si512(); P]; MR8];
    let (full, rem) = (cin / KG, cin % KG);
    for t in 0..taps {
        let rows: [*const u8; MR8] = std::array::from_fn(|r| a[t * MR8 + r]);
        let wt = t * groups * NR * KG;
        // SAFETY: `full` whole groups and `rem` tail bytes of `cin` per row; the panel holds
        // `groups` 64-byte groups per tap.
        unsafe {
            for g in 0..full {
                group(&mut c, &rows, g * KG, 0, &w, wt + g * NR * KG);
            }
            if rem != 0 {
                group(&mut c, &rows, full * KG, rem, &w, wt + full * NR * KG);
            }
        }
    }
    c
}

/// [`super::QuantKernels::gemm_rows`] on AVX-512 VNNI: output pixels `rows` of the plan in
/// tiles of 8 pixels x 2 panels.
///
/// # Safety
/// As [`super::gemm::gemm_rows`]; the CPU must support AVX2, FMA and AVX-512 F, VL, BW and
/// VNNI.
#[target_feature(enable = "avx2,fma,avx512f,avx512vl,avx512bw,avx512vnni")]
pub(crate) unsafe fn gemm_rows_vnni(plan: &GemmPlan<'_>, rows: Range<usize>) {
    if plan.flat.is_some() || USE_SHARED_DRIVER.load(Ordering::Relaxed) {
        // SAFETY: forwarded contract; AVX2 + FMA are enabled here.
        return unsafe { super::avx2::gemm_rows_avx2(plan, rows) };
    }
    let w = plan.weights;
    let panels = w.panels();
    let mut a: RowTable = [std::ptr::null(); MAX_TAPS * MR8];
    let mut cursor = match plan.source {
        Source::Window(ref s) => Cursor::new(s, rows.start),
        Source::Pointwise { .. } => Cursor::default(),
    };
    let mut start = rows.start;
    while start < rows.end {
        let valid = (rows.end - start).min(MR8);
        fill_tile(&plan.source, &mut cursor, w.taps, start, valid, &mut a);
        let mut p = 0;
        // SAFETY: the rows point at checked input pixels or the zero-point row (`cin` bytes
        // each); panels `p, p + 1 < panels`; pixels `start .. start + valid` are output pixels;
        // forwarded CPU contract.
        unsafe {
            while p + 2 <= panels {
                let ptrs = [w.panel(p).as_ptr(), w.panel(p + 1).as_ptr()];
                let c = tile::<2>(&a, w.taps, w.cin, w.groups, ptrs);
                finish_tile(&plan.finish, c, start, valid, p * NR);
                p += 2;
            }
            if p < panels {
                let c = tile::<1>(&a, w.taps, w.cin, w.groups, [w.panel(p).as_ptr()]);
                finish_tile(&plan.finish, c, start, valid, p * NR);
            }
        }
        start += valid;
    }
}
