//! The INT8 depthwise driver and its per-pixel microkernel contract: for one output pixel, the
//! exact i32 sums `acc[c] = sum_t a[t][c] * w[t][c]` over the `kh x kw` taps (a tap in the
//! padding reads a row of zero points), then the shared epilogue ([`super::epilogue`]).

use std::ops::Range;

use super::depthwise_row::{depthwise_rows_flat, DwRowPlan};
use super::epilogue::{finish_all, Finish, Job, StoreU8};

/// Packed depthwise weights as the kernels read them: `[pair][cpad][2]` s16 codes, taps `2p`
/// and `2p + 1` of a channel side by side (`cpad = channels` rounded up to 16, zeros past
/// `channels` and after an odd last tap).
#[derive(Clone, Copy, Debug)]
pub(crate) struct DwWeights<'a> {
    pub codes: &'a [i16],
    pub channels: usize,
    pub cpad: usize,
}

/// A per-pixel microkernel: `acc[c]` for `c < channels` (entries past it are left as they are).
///
/// # Safety
/// `a` holds `2 * pairs` pointers (taps, then a repeat of the last one when `taps` is odd),
/// each valid for `channels` byte reads; `acc` holds `cpad` entries;
/// the CPU must support the kernel's instruction set.
pub(crate) type DwPixelFn = unsafe fn(&[*const u8], &DwWeights<'_>, &mut [i32]);

/// Everything a depthwise back-end entry needs.
pub(crate) struct DwPlan<'a> {
    pub weights: DwWeights<'a>,
    pub input: *const u8,
    pub in_stride: usize,
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
    pub kernel: DwPixelFn,
    pub finish: Finish<'a>,
    /// The row path ([`super::depthwise_row`]) when the back end has one and the tiled
    /// weights are small enough; else the per-pixel path.
    pub row: Option<DwRowPlan<'a>>,
}

// SAFETY: the pointers address buffers the safe entry point borrowed for the call; threads
// read shared inputs and write disjoint output rows.
unsafe impl Send for DwPlan<'_> {}
// SAFETY: as above.
unsafe impl Sync for DwPlan<'_> {}

/// Output rows `rows` (counted over `n * oh`) of the plan, on lanes `V`.
///
/// # Safety
/// The plan must come from checked operands; concurrent calls get disjoint ranges; the CPU must
/// support `V` and `plan.kernel`.
#[inline(always)]
pub(crate) unsafe fn depthwise_rows<V: StoreU8>(plan: &DwPlan<'_>, rows: Range<usize>) {
    if let Some(row) = &plan.row {
        // SAFETY: forwarded contract; `row` was built for this plan.
        return unsafe { depthwise_rows_flat::<V>(plan, row, rows) };
    }
    let taps = plan.kh * plan.kw;
    let mut a = vec![std::ptr::null::<u8>(); taps.div_ceil(2) * 2];
    let mut acc = vec![0i32; plan.weights.cpad];
    let mut jobs = vec![Job::default(); plan.weights.cpad / 8];
    for row in rows {
        let (b, oy) = (row / plan.oh, row % plan.oh);
        // Output rows whose window rows all lie inside the input: along them, consecutive
        // interior pixels' tap pointers differ by one horizontal stride, so they are stepped
        // instead of recomputed with bounds checks.
        let rows_inside =
            oy * plan.sh >= plan.pad_top && oy * plan.sh + plan.kh <= plan.ih + plan.pad_top;
        let step = plan.sw * plan.in_stride;
        let mut prev_interior = false;
        for ox in 0..plan.ow {
            let interior = rows_inside
                && ox * plan.sw >= plan.pad_left
                && ox * plan.sw + plan.kw <= plan.iw + plan.pad_left;
            if interior && prev_interior {
                for p in &mut a[..taps] {
                    *p = p.wrapping_add(step);
                }
            } else {
                for ky in 0..plan.kh {
                    let iy = (oy * plan.sh + ky).wrapping_sub(plan.pad_top);
                    for kx in 0..plan.kw {
                        let ix = (ox * plan.sw + kx).wrapping_sub(plan.pad_left);
                        a[ky * plan.kw + kx] = if iy < plan.ih && ix < plan.iw {
                            plan.input
                                .wrapping_add(((b * plan.ih + iy) * plan.iw + ix) * plan.in_stride)
                        } else {
                            plan.zp_row
                        };
                    }
                }
            }
            prev_interior = interior;
            if taps % 2 == 1 {
                a[taps] = a[taps - 1];
            }
            // SAFETY: every tap points at a checked input pixel or the zero-point row
            // (`channels` bytes); `acc` holds `cpad`; forwarded CPU contract.
            unsafe { (plan.kernel)(&a, &plan.weights, &mut acc) };
            let p = row * plan.ow + ox;
            let count = plan.weights.channels.div_ceil(8);
            for (i, job) in jobs.iter_mut().enumerate().take(count) {
                *job = Job {
                    p,
                    c0: 8 * i,
                    acc: acc[8 * i..8 * i + 8].try_into().expect("8"),
                };
            }
            // SAFETY: `p` is an output pixel; the channel arrays are padded to `cpad`.
            unsafe { finish_all::<V>(&plan.finish, &jobs[..count]) };
        }
    }
}
