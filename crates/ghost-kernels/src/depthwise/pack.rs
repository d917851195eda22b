//! Depthwise weights prepacked once at load time: channel blocks of 8 lanes, each block's
//! `kh x kw` taps stored tap-major (`[block][ky][kx][lane]`) so a kernel loads one tap of 8
//! channels with one vector load.
//!
//! Channel blocks start at 0, 8, 16, ... When `c` is not a multiple of 8 (GhostNet has 12, 20,
//! 36, 60, 92 ...) and `c > 8`, the last block starts at `c - 8` and overlaps the previous one:
//! the overlapped channels are computed twice by identical instruction sequences and written
//! twice with the same value, so no masked loads or stores are needed. `c < 8` has a single block
//! laid out for `small.rs`: lane `l` holds channel `l % L` (`L = c.next_power_of_two()`, zero when
//! that channel does not exist), because one vector there holds `8 / L` neighbouring pixels.

use crate::conv_weights::ConvWeights;
use crate::error::{KernelError, Result};
use crate::lanes::LANES;

/// Depthwise (channel multiplier 1) weights and bias, packed for the vector kernels.
#[derive(Clone, Debug, PartialEq)]
pub struct PackedDepthwise {
    channels: usize,
    kh: usize,
    kw: usize,
    /// First channel of each 8-lane block.
    block_starts: Vec<usize>,
    /// `[block][ky][kx][lane]`.
    weights: Vec<f32>,
    /// `[block][lane]` (zeros when the layer has no bias).
    bias: Vec<f32>,
}

impl PackedDepthwise {
    /// Packs PyTorch `[channels][1][kh][kw]` weights and an optional `[channels]` bias. The
    /// weights may carry a per-channel scale (a folded BatchNorm, see [`ConvWeights`]).
    pub fn new<'w>(
        weights: impl Into<ConvWeights<'w>>,
        bias: Option<&[f32]>,
        channels: usize,
        kh: usize,
        kw: usize,
    ) -> Result<Self> {
        if channels == 0 {
            return Err(KernelError::param(
                "channels",
                "depthwise needs at least 1 channel",
            ));
        }
        if kh == 0 || kw == 0 {
            return Err(KernelError::param(
                "kernel",
                format!("depthwise kernel {kh}x{kw} must be at least 1x1"),
            ));
        }
        let taps = kh
            .checked_mul(kw)
            .ok_or_else(|| KernelError::param("kernel", "kernel size overflows"))?;
        let expected = channels
            .checked_mul(taps)
            .ok_or_else(|| KernelError::param("channels", "weight count overflows"))?;
        let weights = weights.into();
        if weights.len() != expected {
            return Err(KernelError::shape(
                "depthwise weights",
                format!("[{channels}][1][{kh}][{kw}] = {expected} floats"),
                format!("{} floats", weights.len()),
            ));
        }
        weights.check("depthwise weights", taps, channels)?;
        if let Some(b) = bias {
            if b.len() != channels {
                return Err(KernelError::shape(
                    "depthwise bias",
                    format!("[{channels}]"),
                    format!("[{}]", b.len()),
                ));
            }
        }

        let block_starts = block_starts(channels);
        let mut packed = vec![0.0f32; block_starts.len() * taps * LANES];
        let mut packed_bias = vec![0.0f32; block_starts.len() * LANES];
        // Small layers repeat their channels every `L` lanes; others map lane to channel.
        let lane_channel = |start: usize, lane: usize| -> Option<usize> {
            let ch = if channels < LANES {
                lane % channels.next_power_of_two()
            } else {
                start + lane
            };
            (ch < channels).then_some(ch)
        };
        for (blk, &start) in block_starts.iter().enumerate() {
            for lane in 0..LANES {
                let Some(ch) = lane_channel(start, lane) else {
                    continue;
                };
                for tap in 0..taps {
                    packed[(blk * taps + tap) * LANES + lane] = weights.at(ch, taps, tap);
                }
                if let Some(b) = bias {
                    packed_bias[blk * LANES + lane] = b[ch];
                }
            }
        }
        Ok(PackedDepthwise {
            channels,
            kh,
            kw,
            block_starts,
            weights: packed,
            bias: packed_bias,
        })
    }

    /// Number of channels.
    pub fn channels(&self) -> usize {
        self.channels
    }

    /// Kernel height.
    pub fn kernel_h(&self) -> usize {
        self.kh
    }

    /// Kernel width.
    pub fn kernel_w(&self) -> usize {
        self.kw
    }

    /// The weights back in PyTorch `[c][1][kh][kw]` order and the bias (zeros if none was
    /// given): what the naive reference path consumes.
    pub fn unpack(&self) -> (Vec<f32>, Vec<f32>) {
        let taps = self.kh * self.kw;
        let mut w = vec![0.0f32; self.channels * taps];
        let mut b = vec![0.0f32; self.channels];
        for (blk, &start) in self.block_starts.iter().enumerate() {
            for lane in 0..LANES.min(self.channels - start) {
                let ch = start + lane;
                for tap in 0..taps {
                    w[ch * taps + tap] = self.weights[(blk * taps + tap) * LANES + lane];
                }
                b[ch] = self.bias[blk * LANES + lane];
            }
        }
        (w, b)
    }

    pub(crate) fn block_starts(&self) -> &[usize] {
        &self.block_starts
    }

    /// Whether the layer takes the small-channel path (`channels < 8`).
    pub(crate) fn small(&self) -> bool {
        self.channels < LANES
    }

    /// Packed taps of block `blk`: `kh * kw * 8` floats.
    pub(crate) fn block_weights(&self, blk: usize) -> *const f32 {
        let len = self.kh * self.kw * LANES;
        self.weights[blk * len..(blk + 1) * len].as_ptr()
    }

    /// Packed bias of block `blk`: 8 floats.
    pub(crate) fn block_bias(&self, blk: usize) -> *const f32 {
        self.bias[blk * LANES..(blk + 1) * LANES].as_ptr()
    }
}

/// Block starts for `channels` channels (see the module docs).
fn block_starts(channels: usize) -> Vec<usize> {
    if channels <= LANES {
        return vec![0];
    }
    let mut starts: Vec<usize> = (0..channels / LANES).map(|b| b * LANES).collect();
    if !channels.is_multiple_of(LANES) {
        starts.push(channels - LANES);
    }
    starts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_overlap_only_at_the_tail() {
        assert_eq!(block_starts(1), vec![0]);
        assert_eq!(block_starts(8), vec![0]);
        assert_eq!(block_starts(12), vec![0, 4]);
        assert_eq!(block_starts(16), vec![0, 8]);
        assert_eq!(block_starts(20), vec![0, 8, 12]);
    }

    #[test]
    fn unpack_round_trips() {
        for c in [1, 5, 8, 12, 21] {
            let w: Vec<f32> = (0..c * 6).map(|v| v as f32).collect();
            let b: Vec<f32> = (0..c).map(|v| -(v as f32)).collect();
            let p = PackedDepthwise::new(&w, Some(&b), c, 2, 3).unwrap();
            assert_eq!(p.unpack(), (w, b));
        }
    }

    #[test]
    fn wrong_lengths_are_errors() {
        assert!(matches!(
            PackedDepthwise::new(&[0.0; 17], None, 2, 3, 3),
            Err(KernelError::ShapeMismatch {
                operand: "depthwise weights",
                ..
            })
        ));
        assert!(matches!(
            PackedDepthwise::new(&[0.0; 18], Some(&[0.0; 3]), 2, 3, 3),
            Err(KernelError::ShapeMismatch {
                operand: "depthwise bias",
                ..
            })
        ));
        assert!(PackedDepthwise::new(&[], None, 0, 3, 3).is_err());
        assert!(PackedDepthwise::new(&[], None, 2, 0, 3).is_err());
    }
}
