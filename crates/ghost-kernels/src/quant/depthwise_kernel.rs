//! The INT8 depthwise driver and its per-pixel microkernel contract: for one output pixel, the
//! exact i32 sums `acc[c] = sum_t a[t][c] * w[t][c]` over the `kh x kw` taps (a tap in the
//! padding reads a row of zero points), then the shared epilogue ([`super::epilogue`]).

use std::ops::Range;

use crate::lanes::Lanes;

use super::epilogue::{finish16, Finish};
use super::pack::NR;

/// Packed depthwise weights as the kernels read them: `[tap][cpad]` s16 codes
/// (`cpad = channels` rounded up to 16, zeros past `channels`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct DwWeights<'a> {
    pub codes: &'a [i16],
    pub channels: usize,
    pub cpad: usize,
}

/// A per-pixel microkernel: `acc[c]` for `c < channels` (entries past it are left as they are).
///
/// # Safety
/// `a` holds `taps` pointers each valid for `channels` byte reads; `acc` holds `cpad` entries;
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
pub(crate) unsafe fn depthwise_rows<V: Lanes>(plan: &DwPlan<'_>, rows: Range<usize>) {
    let taps = plan.kh * plan.kw;
    let mut a = vec![std::ptr::null::<u8>(); taps];
    let mut acc = vec![0i32; plan.weights.cpad];
    for row in rows {
        let (b, oy) = (row / plan.oh, row % plan.oh);
        for ox in 0..plan.ow {
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
            // SAFETY: every tap points at a checked input pixel or the zero-point row
            // (`channels` bytes); `acc` holds `cpad`; forwarded CPU contract.
            unsafe { (plan.kernel)(&a, &plan.weights, &mut acc) };
            let p = row * plan.ow + ox;
            for (i, chunk) in acc.chunks_exact(NR).enumerate() {
                if i * NR >= plan.weights.channels {
                    break;
                }
                let chunk: &[i32; NR] = chunk.try_into().expect("16 accumulators");
                // SAFETY: `p` is an output pixel; the channel arrays are padded to `cpad`.
                unsafe { finish16::<V>(&plan.finish, chunk, p, i * NR) };
            }
        }
    }
}
