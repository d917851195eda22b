//! Weight panels for the GEMM microkernels, packed once at load time.
//!
//! The `K x N` weight matrix (K = reduction length, N = output channels) is cut into panels of
//! [`NR`] = 16 output channels. Each panel is stored as `1 + K` rows of 16 floats: the bias row
//! (the microkernel's initial accumulator, XNNPACK style) followed by the K weight rows in
//! reduction order. Columns past N in the last panel are zero, so the microkernel always runs the
//! full 16-wide math and only the store is partial. Rows are 64-byte aligned (one cache line per
//! row, never split across two lines).

/// Output channels per panel (two AVX2 vectors).
pub(crate) const NR: usize = 16;

/// One 16-float panel row, aligned to a cache line.
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(C, align(64))]
pub(crate) struct PanelRow(pub(crate) [f32; NR]);

/// Prepacked `[bias | K x 16]` panels covering `n` output channels.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Panels {
    k: usize,
    n: usize,
    rows: Vec<PanelRow>,
}

impl Panels {
    /// Packs panels from a weight accessor `weight(out_channel, k_index)` and an optional bias.
    pub(crate) fn pack(
        k: usize,
        n: usize,
        bias: Option<&[f32]>,
        weight: impl Fn(usize, usize) -> f32,
    ) -> Self {
        let mut panels = Panels {
            k,
            n,
            rows: Vec::new(),
        };
        panels.repack(k, n, bias, weight);
        panels
    }

    /// [`Panels::pack`] into this value's storage: allocates nothing when it already holds at
    /// least as many panel rows (operands packed per call, such as attention's keys).
    pub(crate) fn repack(
        &mut self,
        k: usize,
        n: usize,
        bias: Option<&[f32]>,
        weight: impl Fn(usize, usize) -> f32,
    ) {
        let panels = n.div_ceil(NR);
        self.k = k;
        self.n = n;
        let rows = &mut self.rows;
        rows.clear();
        rows.resize(panels * (k + 1), PanelRow([0.0; NR]));
        for (p, panel) in rows.chunks_exact_mut(k + 1).enumerate() {
            let cols = (n - p * NR).min(NR);
            for c in 0..cols {
                let o = p * NR + c;
                panel[0].0[c] = bias.map_or(0.0, |b| b[o]);
                for (kk, row) in panel[1..].iter_mut().enumerate() {
                    row.0[c] = weight(o, kk);
                }
            }
        }
    }

    /// Zero panels (zero bias) for a `k x n` weight matrix, to be filled with [`Panels::set`]:
    /// for packers that produce the weights in their own order (the Winograd transform writes
    /// 36 matrices at once) without a temporary copy.
    pub(crate) fn zeroed(k: usize, n: usize) -> Self {
        Panels {
            k,
            n,
            rows: vec![PanelRow([0.0; NR]); n.div_ceil(NR) * (k + 1)],
        }
    }

    /// Sets weight `(out_channel o, k_index kk)` (`o < n`, `kk < k`).
    #[inline]
    pub(crate) fn set(&mut self, o: usize, kk: usize, value: f32) {
        self.rows[(o / NR) * (self.k + 1) + 1 + kk].0[o % NR] = value;
    }

    /// Reduction length.
    pub(crate) fn k(&self) -> usize {
        self.k
    }

    /// Output channels.
    pub(crate) fn n(&self) -> usize {
        self.n
    }

    /// Number of 16-wide panels.
    pub(crate) fn panel_count(&self) -> usize {
        self.n.div_ceil(NR)
    }

    /// Panel `j`: `1 + k` rows of 16 floats (bias row first).
    pub(crate) fn panel(&self, j: usize) -> &[PanelRow] {
        &self.rows[j * (self.k + 1)..(j + 1) * (self.k + 1)]
    }

    /// Weight `(out_channel, k_index)` read back from the panels.
    #[cfg(test)]
    pub(crate) fn weight(&self, o: usize, kk: usize) -> f32 {
        self.panel(o / NR)[1 + kk].0[o % NR]
    }

    /// Bias of output channel `o`.
    #[cfg(test)]
    pub(crate) fn bias(&self, o: usize) -> f32 {
        self.panel(o / NR)[0].0[o % NR]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panels_round_trip_and_zero_pad() {
        let (k, n) = (3, 19);
        let w: Vec<f32> = (0..k * n).map(|v| v as f32 + 1.0).collect();
        let bias: Vec<f32> = (0..n).map(|v| -(v as f32)).collect();
        let p = Panels::pack(k, n, Some(&bias), |o, kk| w[o * k + kk]);
        assert_eq!(p.panel_count(), 2);
        for o in 0..n {
            assert_eq!(p.bias(o), bias[o]);
            for kk in 0..k {
                assert_eq!(p.weight(o, kk), w[o * k + kk]);
            }
        }
        let mut q = Panels::zeroed(k, n);
        for o in 0..n {
            for kk in 0..k {
                q.set(o, kk, w[o * k + kk]);
            }
        }
        let unbiased = Panels::pack(k, n, None, |o, kk| w[o * k + kk]);
        assert_eq!(q, unbiased, "zeroed + set packs like pack without a bias");
        let last = p.panel(1);
        for row in last {
            assert!(row.0[n - NR..].iter().all(|&v| v == 0.0));
        }
        assert_eq!(last.as_ptr() as usize % 64, 0);
    }
}
