//! INT8 GEMM weights packed once for the microkernels (pointwise and dense convolutions).
//!
//! Layout: output channels in panels of [`NR`] = 16; inside a panel, for each tap `t` and each
//! group `g` of 4 consecutive input channels, 16 columns x 4 bytes (`[panel][tap][group][col]
//! [4]`, 64 bytes per group): the AVX2 kernel broadcasts 4 input bytes of one pixel and
//! multiplies them with 32 bytes (8 columns) per `vpmaddubsw`. Input channels past `cin` (the
//! last group) and columns past `cout` are zero. Beside the codes: the per-channel weight
//! scales, the f32 bias and the per-channel code sums (`sum_k w[c][k]`) that fold the input
//! zero point out of the accumulator (`acc - zp * sum_w[c]`), all padded with zeros to whole
//! panels so that the epilogue loads full vectors.

use crate::error::{KernelError, Result};

use super::params::{check_quantized, MAX_REDUCTION};

/// Output channels per panel.
pub(crate) const NR: usize = 16;
/// Input channels per group (one `vpmaddubsw` pair of pairs).
pub(crate) const KG: usize = 4;

/// Packed s8 GEMM weights with their scales, bias and code sums.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct PanelsI8 {
    pub cin: usize,
    pub cout: usize,
    pub taps: usize,
    /// `cin.div_ceil(4)`.
    pub groups: usize,
    /// `[panel][tap][group][16][4]`.
    pub codes: Vec<i8>,
    /// `panels * 16` weight scales (0 past `cout`).
    pub scales: Vec<f32>,
    /// `panels * 16` biases (0 past `cout`, or everywhere without a bias).
    pub bias: Vec<f32>,
    /// `panels * 16` code sums (0 past `cout`).
    pub sums: Vec<i32>,
}

impl PanelsI8 {
    /// Packs `cout` rows of codes, `code(o, t, i)` = weight of output `o`, tap `t`, input `i`,
    /// after checking `codes` (`cout * taps * cin` values in `[-qmax, qmax]`), `scales` and
    /// `bias`.
    #[allow(clippy::too_many_arguments)]
    pub fn pack(
        codes: &[i8],
        scales: &[f32],
        bias: Option<&[f32]>,
        cin: usize,
        cout: usize,
        taps: usize,
        qmax: i8,
        code: impl Fn(usize, usize, usize) -> i8,
    ) -> Result<Self> {
        if cin == 0 || cout == 0 || taps == 0 {
            return Err(KernelError::param(
                "channels",
                format!("cin = {cin}, cout = {cout} and taps = {taps} must all be at least 1"),
            ));
        }
        let per_out = cin
            .checked_mul(taps)
            .filter(|&k| k <= MAX_REDUCTION)
            .ok_or_else(|| {
                KernelError::param(
                    "channels",
                    format!(
                        "reduction cin x taps = {cin} x {taps} exceeds {MAX_REDUCTION} (the i32 \
                         accumulator could overflow)"
                    ),
                )
            })?;
        check_quantized(codes, scales, per_out, cout, qmax)?;
        if let Some(b) = bias {
            if b.len() != cout {
                return Err(KernelError::shape("bias", cout, b.len()));
            }
            if let Some(i) = b.iter().position(|v| !v.is_finite()) {
                return Err(KernelError::param(
                    "bias",
                    format!("bias {i} is {} (not finite)", b[i]),
                ));
            }
        }
        let groups = cin.div_ceil(KG);
        let panels = cout.div_ceil(NR);
        let padded = panels * NR;
        let panel_len = taps * groups * NR * KG;
        let mut packed = vec![0i8; panels * panel_len];
        let mut sums = vec![0i32; padded];
        for (o, sum) in sums.iter_mut().enumerate().take(cout) {
            let (p, j) = (o / NR, o % NR);
            for t in 0..taps {
                for i in 0..cin {
                    let q = code(o, t, i);
                    let (g, b) = (i / KG, i % KG);
                    packed[p * panel_len + ((t * groups + g) * NR + j) * KG + b] = q;
                    *sum += i32::from(q);
                }
            }
        }
        let mut s = vec![0.0f32; padded];
        s[..cout].copy_from_slice(scales);
        let mut b = vec![0.0f32; padded];
        if let Some(bias) = bias {
            b[..cout].copy_from_slice(bias);
        }
        Ok(PanelsI8 {
            cin,
            cout,
            taps,
            groups,
            codes: packed,
            scales: s,
            bias: b,
            sums,
        })
    }

    /// Panels of 16 output channels.
    pub fn panels(&self) -> usize {
        self.cout.div_ceil(NR)
    }

    /// Bytes of one panel.
    pub fn panel_len(&self) -> usize {
        self.taps * self.groups * NR * KG
    }

    /// The codes of panel `p`.
    pub fn panel(&self, p: usize) -> &[i8] {
        &self.codes[p * self.panel_len()..][..self.panel_len()]
    }
}
