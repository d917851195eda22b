//! Weight panels for the GEMM microkernels, packed once at load time.
//!
//! The `K x N` weight matrix (K = reduction length, N = output channels) is cut into panels of
//! [`NR`] = 16 output channels. Each panel is stored as `1 + K` rows of 16 floats: the bias row
//! (the microkernel's initial accumulator, XNNPACK style) followed by the K weight rows in
//! reduction order. Columns past N in the last panel are zero, so the microkernel always runs the
//! full 16-wide math and only the store is partial. Rows are 64-byte aligned (one cache line per
//! row, never split across two lines).

use super::row_buf::RowBuf;

/// Output channels per panel (two AVX2 vectors).
pub(crate) const NR: usize = 16;

/// One 16-float panel row, aligned to a cache line.
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(C, align(64))]
pub(crate) struct PanelRow(pub(crate) [f32; NR]);

// SAFETY: `PanelRow` is `repr(C)` around 16 f32 (64 bytes, exactly its alignment: no padding),
// and every bit pattern, zeros included, is a valid f32 array.
#[allow(unsafe_code)]
unsafe impl bytemuck::Zeroable for PanelRow {}
// SAFETY: as above; `Copy`, `'static`, no padding, no interior pointers.
#[allow(unsafe_code)]
unsafe impl bytemuck::Pod for PanelRow {}

/// Prepacked `[bias | K x 16]` panels covering `n` output channels.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Panels {
    k: usize,
    n: usize,
    rows: RowBuf,
}

/// Borrowed panels: what the GEMM drivers read (from a [`Panels`], or one of the 36 weight
/// matrices a Winograd layer keeps in a single buffer).
#[derive(Clone, Copy, Debug)]
pub(crate) struct PanelsRef<'a> {
    k: usize,
    n: usize,
    rows: &'a [PanelRow],
}

/// Weights of each output channel read per step while packing: a panel's chunk is an 8 KiB stack
/// block (packing also runs per call, for attention's operands, and must not allocate).
const K_CHUNK: usize = 128;

/// Rows of the panels of a `k x n` weight matrix.
pub(crate) fn panel_rows(k: usize, n: usize) -> usize {
    n.div_ceil(NR) * (k + 1)
}

impl Panels {
    /// Packs panels from a weight reader and an optional bias: `weights(o, k0, dst)` writes the
    /// weights `k0..k0 + dst.len()` of output channel `o` into `dst`.
    pub(crate) fn pack(
        k: usize,
        n: usize,
        bias: Option<&[f32]>,
        weights: impl FnMut(usize, usize, &mut [f32]),
    ) -> Self {
        let mut panels = Panels {
            k,
            n,
            rows: RowBuf::zeroed(0),
        };
        panels.repack(k, n, bias, weights);
        panels
    }

    /// [`Panels::pack`] into this value's storage: allocates nothing when it already holds at
    /// least as many panel rows (operands packed per call, such as attention's keys).
    pub(crate) fn repack(
        &mut self,
        k: usize,
        n: usize,
        bias: Option<&[f32]>,
        mut weights: impl FnMut(usize, usize, &mut [f32]),
    ) {
        self.k = k;
        self.n = n;
        self.rows.resize(panel_rows(k, n));
        // A panel is filled a chunk of `k` at a time: each of its output channels reads its
        // weights for the chunk in order (contiguous in PyTorch's layout, and vectorisable when
        // a BatchNorm scale is applied) into one column of a stack block, which is then written
        // out transposed as whole 64-byte rows, in storage order. Every value is written, the
        // padding columns of the last panel included, as the storage may hold an earlier
        // packing.
        let mut block = [[0.0f32; K_CHUNK]; NR];
        for (panel, first) in self.rows.chunks_exact_mut(k + 1).zip((0..n).step_by(NR)) {
            let cols = NR.min(n - first);
            let (bias_row, weight_rows) = panel.split_first_mut().expect("a bias row");
            let mut row = [0.0; NR];
            if let Some(b) = bias {
                row[..cols].copy_from_slice(&b[first..first + cols]);
            }
            *bias_row = PanelRow(row);
            // Only the last panel can be partial; its padding columns stay zero in `block`.
            for column in &mut block[cols..] {
                column.fill(0.0);
            }
            for (k0, rows) in (0..k).step_by(K_CHUNK).zip(weight_rows.chunks_mut(K_CHUNK)) {
                for (c, column) in block[..cols].iter_mut().enumerate() {
                    weights(first + c, k0, &mut column[..rows.len()]);
                }
                for (kk, row) in rows.iter_mut().enumerate() {
                    *row = PanelRow(std::array::from_fn(|c| block[c][kk]));
                }
            }
        }
    }

    /// The panels as the drivers read them.
    pub(crate) fn view(&self) -> PanelsRef<'_> {
        PanelsRef {
            k: self.k,
            n: self.n,
            rows: &self.rows,
        }
    }

    /// Weight `(out_channel, k_index)` read back from the panels.
    #[cfg(test)]
    pub(crate) fn weight(&self, o: usize, kk: usize) -> f32 {
        self.view().panel(o / NR)[1 + kk].0[o % NR]
    }

    /// Bias of output channel `o`.
    #[cfg(test)]
    pub(crate) fn bias(&self, o: usize) -> f32 {
        self.view().panel(o / NR)[0].0[o % NR]
    }
}

impl<'a> PanelsRef<'a> {
    /// Panels over `rows` (`panel_rows(k, n)` of them, in storage order).
    pub(crate) fn new(k: usize, n: usize, rows: &'a [PanelRow]) -> Self {
        debug_assert_eq!(rows.len(), panel_rows(k, n));
        PanelsRef { k, n, rows }
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
    pub(crate) fn panel(&self, j: usize) -> &'a [PanelRow] {
        &self.rows[j * (self.k + 1)..(j + 1) * (self.k + 1)]
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
        let read = |o: usize, k0: usize, dst: &mut [f32]| {
            dst.copy_from_slice(&w[o * k + k0..o * k + k0 + dst.len()])
        };
        let p = Panels::pack(k, n, Some(&bias), read);
        assert_eq!(p.view().panel_count(), 2);
        for o in 0..n {
            assert_eq!(p.bias(o), bias[o]);
            for kk in 0..k {
                assert_eq!(p.weight(o, kk), w[o * k + kk]);
            }
        }
        let mut rows = Vec::new();
        for first in (0..n).step_by(NR) {
            rows.push(PanelRow([0.0; NR]));
            for kk in 0..k {
                let mut row = [0.0; NR];
                for (c, v) in row.iter_mut().enumerate().take(n - first) {
                    *v = w[(first + c) * k + kk];
                }
                rows.push(PanelRow(row));
            }
        }
        let unbiased = Panels::pack(k, n, None, read);
        assert_eq!(
            &rows[..],
            &unbiased.rows[..],
            "rows in storage order pack like pack without a bias"
        );
        let last = p.view().panel(1);
        for row in last {
            assert!(row.0[n - NR..].iter().all(|&v| v == 0.0));
        }
        assert_eq!(last.as_ptr() as usize % 64, 0);
    }
}
