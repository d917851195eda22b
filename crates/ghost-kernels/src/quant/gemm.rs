//! The INT8 indirect GEMM shared by the pointwise and dense convolutions: the microkernel
//! contract ([`TileI8`]) and the driver that walks output pixels in tiles of [`MR`] rows, runs
//! the back end's microkernel on each 16-channel panel and finishes the accumulators
//! ([`super::epilogue`]).
//!
//! A microkernel computes the exact i32 sums `acc[r][j] = sum_t sum_i a[t][r][i] * w[t][i][j]`
//! for `MR` rows and one panel; row `r`'s input for tap `t` is `cin` bytes at `a[t * MR + r]`
//! (a pixel of the input, or a row of zero points in the padding). Rows past the tile's valid
//! rows repeat a valid pointer; their sums are not stored.

use std::ops::Range;

use super::depthwise_row::{store_row, FlatConsts, FlatFinishFn};
use super::epilogue::{finish_all, Finish, Job, Store, StoreU8};
use super::pack::{PanelsI8, NR};
use super::pointwise_narrow::{NarrowFn, NarrowTables};

/// Rows (output pixels) per microkernel tile, every back end.
pub(crate) const MR: usize = 4;

/// One microkernel call: `MR` rows x one panel.
pub(crate) struct TileI8<'a> {
    /// `taps * MR` row pointers, tap-major.
    pub a: &'a [*const u8; MAX_TAPS_MR],
    /// Taps.
    pub taps: usize,
    /// Bytes per tap and row.
    pub cin: usize,
    /// Groups of 4 input channels per tap (`cin.div_ceil(4)`).
    pub groups: usize,
    /// The panel's codes, `taps * groups * 64` bytes.
    pub panel: &'a [i8],
    /// The panel's 16 per-column code sums (`sum_t sum_i w[t][i][j]`): kernels that offset
    /// their inputs (NEON `SDOT` flips u8 to s8) restore the exact sum with them.
    #[cfg_attr(not(target_arch = "aarch64"), allow(dead_code))]
    pub sums: &'a [i32],
}

/// Most taps of a dense INT8 convolution (kernels up to 7x7; larger ones are refused at
/// packing): the tile's row-pointer table lives on the stack.
pub(crate) const MAX_TAPS: usize = 49;
const MAX_TAPS_MR: usize = MAX_TAPS * MR;

/// A microkernel: writes the tile's `MR x 16` sums into `acc`.
///
/// # Safety
/// Every pointer `a[t * MR + r]` (`t < taps`, `r < MR`) must be valid for `cin` byte reads;
/// the CPU must support the kernel's instruction set.
pub(crate) type GemmI8Fn = unsafe fn(&TileI8<'_>, &mut [[i32; NR]; MR]);

/// Where the rows' inputs come from.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Source {
    /// Pointwise: output pixel `p` reads input pixel `p` at `ptr + p * stride`.
    Pointwise { ptr: *const u8, stride: usize },
    /// Dense `kh x kw` window (indirect GEMM); padding reads `zp_row` (`cin` zero points).
    Window(WindowSource),
}

/// The geometry of a dense convolution's input.
#[derive(Clone, Copy, Debug)]
pub(crate) struct WindowSource {
    pub ptr: *const u8,
    pub stride: usize,
    pub ih: usize,
    pub iw: usize,
    pub oh: usize,
    pub ow: usize,
    pub kh: usize,
    pub kw: usize,
    pub sh: usize,
    pub sw: usize,
    pub pad_top: usize,
    pub pad_left: usize,
    pub zp_row: *const u8,
}

/// Everything a GEMM back-end entry needs.
pub(crate) struct GemmPlan<'a> {
    pub weights: &'a PanelsI8,
    pub source: Source,
    pub kernel: GemmI8Fn,
    pub finish: Finish<'a>,
    /// The narrow-output path ([`flat_consts`]): set for one panel.
    pub flat: Option<&'a FlatConsts>,
    /// The narrow pointwise kernel ([`super::pointwise_narrow`]) that fills the flat path's
    /// sums instead of the tile, when the back end has one and the shape fits it.
    pub narrow: Option<(NarrowFn, &'a NarrowTables)>,
}

/// Output pixels per block of the narrow-output path.
const FLAT_BLOCK: usize = 64;

/// The epilogue constants of the narrow-output path, for calls whose output fits one panel
/// (`cout < 16`): there the per-row epilogue finishes one 8-lane vector
/// per pixel with `cout` of 8 lanes used (2 of 8 for GhostNet's 4 -> 2 convs) and masked
/// stores; the narrow path packs `FLAT_BLOCK` pixels' sums densely (pixels x channels) and
/// finishes them as one flat row, like the depthwise row path.
pub(crate) fn flat_consts(
    weights: &PanelsI8,
    finish: &Finish<'_>,
    fast: Option<FlatFinishFn>,
) -> Option<FlatConsts> {
    (weights.cout < NR).then(|| FlatConsts::new(weights.cout, finish, fast))
}

// SAFETY: the pointers address buffers the safe entry point borrowed for the call; threads
// read shared inputs and write disjoint pixels.
unsafe impl Send for GemmPlan<'_> {}
// SAFETY: as above.
unsafe impl Sync for GemmPlan<'_> {}

/// The row pointers of output pixel `p`, one per tap, into `a[t * MR + r]`.
#[inline(always)]
fn fill_rows(source: &Source, p: usize, r: usize, a: &mut [*const u8; MAX_TAPS_MR]) {
    match *source {
        Source::Pointwise { ptr, stride } => a[r] = ptr.wrapping_add(p * stride),
        Source::Window(w) => {
            let b = p / (w.oh * w.ow);
            let oy = p / w.ow % w.oh;
            let ox = p % w.ow;
            for ky in 0..w.kh {
                let iy = (oy * w.sh + ky).wrapping_sub(w.pad_top);
                for kx in 0..w.kw {
                    let ix = (ox * w.sw + kx).wrapping_sub(w.pad_left);
                    let t = ky * w.kw + kx;
                    a[t * MR + r] = if iy < w.ih && ix < w.iw {
                        w.ptr.wrapping_add(((b * w.ih + iy) * w.iw + ix) * w.stride)
                    } else {
                        w.zp_row
                    };
                }
            }
        }
    }
}

/// Output pixels `rows` of the plan, on lanes `V` (each back end instantiates it inside its
/// target-feature entry).
///
/// # Safety
/// The plan must come from checked operands (see the safe entry points); concurrent calls get
/// disjoint ranges; the CPU must support `V` and `plan.kernel`.
#[inline(always)]
pub(crate) unsafe fn gemm_rows<V: StoreU8>(plan: &GemmPlan<'_>, rows: Range<usize>) {
    if let Some(consts) = plan.flat {
        // SAFETY: forwarded contract; `consts` was built for this one-panel plan.
        return unsafe { gemm_rows_flat::<V>(plan, consts, rows) };
    }
    let w = plan.weights;
    let mut a = [std::ptr::null::<u8>(); MAX_TAPS_MR];
    let mut acc = [[0i32; NR]; MR];
    let mut jobs = [Job::default(); 2 * MR];
    let mut start = rows.start;
    while start < rows.end {
        let valid = (rows.end - start).min(MR);
        for r in 0..MR {
            fill_rows(&plan.source, start + r.min(valid - 1), r, &mut a);
        }
        for p in 0..w.panels() {
            let tile = TileI8 {
                a: &a,
                taps: w.taps,
                cin: w.cin,
                groups: w.groups,
                panel: w.panel(p),
                sums: &w.sums[p * NR..][..NR],
            };
            // SAFETY: the rows point at checked input pixels or the zero-point row (`cin`
            // bytes each); forwarded CPU contract.
            unsafe { (plan.kernel)(&tile, &mut acc) };
            let mut count = 0;
            for (r, acc_row) in acc.iter().enumerate().take(valid) {
                for half in 0..2 {
                    let c0 = p * NR + 8 * half;
                    if c0 < w.cout {
                        jobs[count] = Job {
                            p: start + r,
                            c0,
                            acc: acc_row[8 * half..8 * half + 8].try_into().expect("8"),
                        };
                        count += 1;
                    }
                }
            }
            // SAFETY: pixels `start + r` are output pixels; every `c0 < cout`.
            unsafe { finish_all::<V>(&plan.finish, &jobs[..count]) };
        }
        start += valid;
    }
}

/// [`gemm_rows`] for one panel through the flat epilogue, `FLAT_BLOCK` pixels at a time.
///
/// # Safety
/// As [`gemm_rows`]; the plan has one panel, `consts` its tiled constants.
#[inline(always)]
unsafe fn gemm_rows_flat<V: StoreU8>(plan: &GemmPlan<'_>, consts: &FlatConsts, rows: Range<usize>) {
    let w = plan.weights;
    let cout = w.cout;
    let mut a = [std::ptr::null::<u8>(); MAX_TAPS_MR];
    let mut acc = [[0i32; NR]; MR];
    let mut flat = vec![0i32; FLAT_BLOCK * cout + NR];
    let dense = match plan.finish.store {
        Store::F32 { stride, .. } | Store::U8 { stride, .. } => stride == cout,
    };
    let (mut tmp_f32, mut tmp_u8) = (Vec::new(), Vec::new());
    if !dense {
        match plan.finish.store {
            Store::F32 { .. } => tmp_f32 = vec![0.0f32; FLAT_BLOCK * cout],
            Store::U8 { .. } => tmp_u8 = vec![0u8; FLAT_BLOCK * cout],
        }
    }
    let mut tmp_res = match plan.finish.order {
        Some(_) if plan.finish.res_stride != cout => vec![0.0f32; FLAT_BLOCK * cout],
        _ => Vec::new(),
    };
    let mut start = rows.start;
    while start < rows.end {
        let block = (rows.end - start).min(FLAT_BLOCK);
        let mut done = 0;
        if let (Some((run, t)), Source::Pointwise { ptr, stride }) = (plan.narrow, plan.source) {
            // SAFETY: pixel `start` of the checked input view; the tables were built for it
            // (`t.pixels` pixels `stride` apart); `flat` holds `block * cout + 16` sums; a
            // block is `FLAT_BLOCK` pixels, a multiple of the period's pixels (which divide
            // 16), or ends at the last pixel; forwarded CPU contract.
            unsafe {
                run(
                    t,
                    ptr.wrapping_add(start * stride),
                    block,
                    t.readable_from(start),
                    &mut flat,
                )
            };
            done = block;
        }
        while done < block {
            let valid = (block - done).min(MR);
            for r in 0..MR {
                fill_rows(&plan.source, start + done + r.min(valid - 1), r, &mut a);
            }
            // SAFETY: the rows point at checked input pixels or the zero-point row (`cin`
            // bytes each); forwarded CPU contract.
            let tile = TileI8 {
                a: &a,
                taps: w.taps,
                cin: w.cin,
                groups: w.groups,
                panel: w.panel(0),
                sums: &w.sums[..NR],
            };
            unsafe { (plan.kernel)(&tile, &mut acc) };
            for (r, acc_row) in acc.iter().enumerate().take(valid) {
                // All 16 sums, a fixed-size copy (no `memcpy` call of `cout` entries);
                // the next row overwrites the entries past `cout`.
                flat[(done + r) * cout..][..NR].copy_from_slice(acc_row);
            }
            done += valid;
        }
        // SAFETY: output pixels `start .. start + block` exist; `flat` holds `block * cout`
        // rounded up to 8 sums; the scratch rows hold a block when the output is not dense.
        unsafe {
            store_row::<V>(
                &plan.finish,
                consts,
                &flat,
                block * cout,
                start,
                cout,
                &mut tmp_f32,
                &mut tmp_u8,
                &mut tmp_res,
            )
        };
        start += block;
    }
}
