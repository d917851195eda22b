//! Convolution weights as the packers read them, with an optional per-output-channel scale.
//!
//! A BatchNorm folds into the conv before it as `w'[o] = w[o] * scale[o]`. Applying that scale
//! while packing, instead of to a folded copy first, lets a loader hand the packers the weights
//! straight from a memory-mapped file: no second copy of every weight is allocated, written and
//! freed at load (the largest part of load time once the file is in the page cache).

use crate::error::{KernelError, Result};

/// `[cout][per_out]` row-major weights (PyTorch's `[cout][cin/groups][kh][kw]`), each output
/// channel's row multiplied by `out_scale[o]` as it is read.
///
/// The product is taken in `f64` and rounded once to `f32`, so packing
/// `ConvWeights::scaled(w, s)` gives bit for bit the weights of packing `w[o][j] * s[o]` folded
/// the same way beforehand.
#[derive(Clone, Copy, Debug)]
pub struct ConvWeights<'a> {
    values: &'a [f32],
    out_scale: Option<&'a [f64]>,
}

impl<'a> ConvWeights<'a> {
    /// Unscaled weights.
    pub fn new(values: &'a [f32]) -> Self {
        ConvWeights {
            values,
            out_scale: None,
        }
    }

    /// Weights whose output channel `o` is multiplied by `out_scale[o]` (one value per output
    /// channel; the packers check the count against theirs).
    pub fn scaled(values: &'a [f32], out_scale: &'a [f64]) -> Self {
        ConvWeights {
            values,
            out_scale: Some(out_scale),
        }
    }

    /// Number of stored weights (`cout * per_out`).
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether no weights are stored.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Checks `cout * per_out` weights and, when scaled, `cout` scales; `what` names the operand
    /// in the error.
    pub(crate) fn check(&self, what: &'static str, per_out: usize, cout: usize) -> Result<()> {
        let expected = per_out
            .checked_mul(cout)
            .ok_or_else(|| KernelError::param(what, "size overflows"))?;
        if self.values.len() != expected {
            return Err(KernelError::shape(what, expected, self.values.len()));
        }
        if let Some(scale) = self.out_scale {
            if scale.len() != cout {
                return Err(KernelError::shape(
                    "output-channel scale",
                    cout,
                    scale.len(),
                ));
            }
        }
        Ok(())
    }

    /// Weights `j0..j0 + dst.len()` of output channel `o`, scaled, into `dst`. The caller
    /// checked the shape with [`ConvWeights::check`] for this `per_out`.
    #[inline]
    pub(crate) fn read(&self, o: usize, per_out: usize, j0: usize, dst: &mut [f32]) {
        let src = &self.values[o * per_out + j0..o * per_out + j0 + dst.len()];
        match self.out_scale {
            None => dst.copy_from_slice(src),
            Some(scale) => {
                let s = scale[o];
                for (d, &v) in dst.iter_mut().zip(src) {
                    *d = (f64::from(v) * s) as f32;
                }
            }
        }
    }

    /// Weight `j` of output channel `o`, scaled. The caller checked the shape with
    /// [`ConvWeights::check`] for this `per_out`.
    #[inline]
    pub(crate) fn at(&self, o: usize, per_out: usize, j: usize) -> f32 {
        let v = self.values[o * per_out + j];
        match self.out_scale {
            None => v,
            Some(scale) => (f64::from(v) * scale[o]) as f32,
        }
    }
}

impl<'a> From<&'a [f32]> for ConvWeights<'a> {
    fn from(values: &'a [f32]) -> Self {
        ConvWeights::new(values)
    }
}

impl<'a> From<&'a Vec<f32>> for ConvWeights<'a> {
    fn from(values: &'a Vec<f32>) -> Self {
        ConvWeights::new(values)
    }
}

impl<'a, const N: usize> From<&'a [f32; N]> for ConvWeights<'a> {
    fn from(values: &'a [f32; N]) -> Self {
        ConvWeights::new(values)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_multiplies_each_output_row_in_f64() {
        let w = [1.0f32, 2.0, 3.0, 0.1, 0.2, 0.3];
        let s = [2.0f64, 1.0 / 3.0];
        let cw = ConvWeights::scaled(&w, &s);
        cw.check("weights", 3, 2).unwrap();
        assert_eq!(cw.at(0, 3, 2), 6.0);
        assert_eq!(cw.at(1, 3, 1), (0.2f32 as f64 / 3.0) as f32);
        assert_eq!(ConvWeights::new(&w).at(1, 3, 1), 0.2);
    }

    /// Weights folded beforehand, the way a caller without `ConvWeights::scaled` would.
    fn folded(w: &[f32], scale: &[f64]) -> Vec<f32> {
        let per_out = w.len() / scale.len();
        w.iter()
            .enumerate()
            .map(|(j, &v)| (f64::from(v) * scale[j / per_out]) as f32)
            .collect()
    }

    fn scales(seed: u64, cout: usize) -> Vec<f64> {
        crate::testing::values(seed, cout)
            .into_iter()
            .map(|v| f64::from(v) * 3.0 + 0.01)
            .collect()
    }

    /// Every packer applies the scale to the right output channel and packs exactly what the
    /// folded weights pack: odd channel counts, partial last panels, reductions longer than one
    /// packing chunk (128), both dense algorithms.
    #[test]
    fn every_packer_packs_scaled_weights_like_folded_ones() {
        use crate::conv::{ConvAlgorithm, PackedConv};
        use crate::depthwise::PackedDepthwise;
        use crate::geometry::Window;
        use crate::pointwise::PackedPointwise;

        for (cin, cout) in [(1, 1), (3, 17), (130, 19), (300, 33)] {
            let w = crate::testing::values(cin as u64, cin * cout);
            let s = scales(cout as u64, cout);
            let bias = crate::testing::values(7, cout);
            let f = folded(&w, &s);
            assert_eq!(
                PackedPointwise::new(ConvWeights::scaled(&w, &s), Some(&bias), cin, cout).unwrap(),
                PackedPointwise::new(&f, Some(&bias), cin, cout).unwrap(),
                "pointwise {cin}->{cout}"
            );
            let w3 = crate::testing::values(cout as u64, cin * cout * 9);
            let f3 = folded(&w3, &s);
            for (algorithm, stride) in [
                (ConvAlgorithm::Gemm, 1),
                (ConvAlgorithm::Winograd, 1),
                (ConvAlgorithm::WinogradStride2, 2),
            ] {
                let window = Window::square(3, stride, 1);
                let pack = |weights: ConvWeights<'_>| {
                    PackedConv::with_algorithm(weights, None, cin, cout, &window, algorithm)
                        .unwrap()
                };
                assert_eq!(
                    pack(ConvWeights::scaled(&w3, &s)),
                    pack(ConvWeights::new(&f3)),
                    "{algorithm:?} {cin}->{cout}"
                );
            }
            let (kh, kw) = (3, 5);
            let wd = crate::testing::values(11, cout * kh * kw);
            assert_eq!(
                PackedDepthwise::new(ConvWeights::scaled(&wd, &s), None, cout, kh, kw).unwrap(),
                PackedDepthwise::new(&folded(&wd, &s), None, cout, kh, kw).unwrap(),
                "depthwise {cout}"
            );
        }
    }

    #[test]
    fn packers_reject_a_scale_per_wrong_channel_count() {
        let w = [0.5f32; 12];
        let s = [1.0f64; 3];
        assert!(
            crate::pointwise::PackedPointwise::new(ConvWeights::scaled(&w, &s), None, 3, 4)
                .is_err()
        );
        assert!(
            crate::depthwise::PackedDepthwise::new(ConvWeights::scaled(&w, &s), None, 4, 3, 1)
                .is_err()
        );
        assert!(
            crate::conv::PackedConv::new(ConvWeights::scaled(&w, &s), None, 3, 4, 1, 1).is_err()
        );
    }

    #[test]
    fn check_rejects_wrong_counts() {
        let w = [0.0f32; 6];
        assert!(ConvWeights::new(&w).check("weights", 4, 2).is_err());
        assert!(ConvWeights::scaled(&w, &[1.0; 3])
            .check("weights", 3, 2)
            .is_err());
        assert!(ConvWeights::scaled(&w, &[1.0; 2])
            .check("weights", 3, 2)
            .is_ok());
    }
}
