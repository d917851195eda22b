//! Parameter and FLOP accounting, counted the way Ultralytics' `get_flops` (thop) counts.
//!
//! FLOPs are `2 x` thop's operation count, and thop counts (ultralytics-thop 2.2, the version
//! Ultralytics 8.4 uses):
//! - `Conv2d`: `n * cout * oh * ow * (cin / groups) * kh * kw` multiply-adds. **No bias term**.
//! - `BatchNorm2d` (affine): `4 * numel` of its input (thop's "normalise + affine"); a model with
//!   every BN folded has none of these.
//! - `Linear`: `in_features * numel(output)`; the bias is not counted.
//! - `AdaptiveAvgPool2d`: one add per pooled input plus one divide per output.
//! - ReLU, hard-sigmoid, SiLU, max pooling, nearest upsampling, concatenation, slicing, residual
//!   adds, the SE channel multiply and `x.mean()` (timm's SE pooling) count zero.
//!
//! SE convolutions run on the pooled `1 x 1` map, so they cost `cout * cin` each, whatever the
//! image size (an older counter that profiles a 32x32 input and scales by area over-counts them).
//!
//! Parameters come in two flavours: *as trained* (conv weights and biases, BN gamma and beta;
//! running statistics are buffers, not parameters) and *fused* (every BN folded into its conv:
//! BN parameters gone, one bias per output channel added to a bias-less conv).

use std::fmt;
use std::ops::{Add, AddAssign};

/// Parameters and FLOPs of one layer or a whole model, unfused and fused.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Cost {
    /// Parameters with BatchNorms separate (what PyTorch reports for the trained model).
    pub params_trained: u64,
    /// Parameters with every BatchNorm folded into its conv.
    pub params_fused: u64,
    /// FLOPs (2 x thop ops) with BatchNorms counted separately.
    pub flops_trained: u64,
    /// FLOPs (2 x thop ops) with every BatchNorm folded.
    pub flops_fused: u64,
}

impl Cost {
    /// No cost.
    pub const ZERO: Cost = Cost {
        params_trained: 0,
        params_fused: 0,
        flops_trained: 0,
        flops_fused: 0,
    };

    /// A convolution (optionally with its own bias) producing an `n x oh x ow x cout` map, followed
    /// by a BatchNorm when `bn` is true. `macs = n * oh * ow * cout * (cin / groups) * kh * kw`.
    #[allow(clippy::too_many_arguments)]
    pub fn conv(
        out: [usize; 4],
        cin: usize,
        groups: usize,
        kh: usize,
        kw: usize,
        conv_bias: bool,
        bn: bool,
    ) -> Cost {
        let [n, oh, ow, cout] = out.map(|v| v as u64);
        let per_out = product(&[(cin / groups.max(1)) as u64, kh as u64, kw as u64]);
        let weights = product(&[cout, per_out]);
        let out_numel = product(&[n, oh, ow, cout]);
        let macs = product(&[out_numel, per_out]);
        let bias = if conv_bias { cout } else { 0 };
        let bn_params = if bn { product(&[2, cout]) } else { 0 };
        // Fused: a BN adds a bias to a bias-less conv, or merges into the existing one.
        let fused_bias = if conv_bias || bn { cout } else { 0 };
        let bn_ops = if bn { product(&[4, out_numel]) } else { 0 };
        Cost {
            params_trained: weights.saturating_add(bias).saturating_add(bn_params),
            params_fused: weights.saturating_add(fused_bias),
            flops_trained: product(&[2, macs.saturating_add(bn_ops)]),
            flops_fused: product(&[2, macs]),
        }
    }

    /// A `Linear` layer on `batch` rows (thop: `in * numel(out)`, bias not counted).
    pub fn linear(batch: usize, in_features: usize, out_features: usize, bias: bool) -> Cost {
        let (b, i, o) = (batch as u64, in_features as u64, out_features as u64);
        let params = product(&[i, o]).saturating_add(if bias { o } else { 0 });
        let flops = product(&[2, b, i, o]);
        Cost {
            params_trained: params,
            params_fused: params,
            flops_trained: flops,
            flops_fused: flops,
        }
    }

    /// `nn.AdaptiveAvgPool2d(1)` on an `n x h x w x c` input (one add per input, one divide per
    /// output).
    pub fn global_avg_pool(input: [usize; 4]) -> Cost {
        let [n, h, w, c] = input.map(|v| v as u64);
        let ops = product(&[n, h, w, c]).saturating_add(product(&[n, c]));
        Cost {
            flops_trained: product(&[2, ops]),
            flops_fused: product(&[2, ops]),
            ..Cost::ZERO
        }
    }

    /// GFLOPs (1e9 FLOPs) as trained.
    pub fn gflops_trained(&self) -> f64 {
        self.flops_trained as f64 / 1e9
    }

    /// GFLOPs (1e9 FLOPs) with BatchNorms folded.
    pub fn gflops_fused(&self) -> f64 {
        self.flops_fused as f64 / 1e9
    }
}

/// Product saturating at `u64::MAX`: a YAML may describe a model too large to count (its hidden
/// widths are products of capped arguments), and a saturated count is simply refused as too
/// large before anything is allocated.
fn product(factors: &[u64]) -> u64 {
    factors.iter().fold(1u64, |acc, &f| acc.saturating_mul(f))
}

/// Sums saturate at `u64::MAX`, like the products inside each count.
impl Add for Cost {
    type Output = Cost;
    fn add(self, o: Cost) -> Cost {
        Cost {
            params_trained: self.params_trained.saturating_add(o.params_trained),
            params_fused: self.params_fused.saturating_add(o.params_fused),
            flops_trained: self.flops_trained.saturating_add(o.flops_trained),
            flops_fused: self.flops_fused.saturating_add(o.flops_fused),
        }
    }
}

impl AddAssign for Cost {
    fn add_assign(&mut self, o: Cost) {
        *self = *self + o;
    }
}

impl std::iter::Sum for Cost {
    fn sum<I: Iterator<Item = Cost>>(iter: I) -> Cost {
        iter.fold(Cost::ZERO, Add::add)
    }
}

/// One row of a cost table.
#[derive(Clone, Debug, PartialEq)]
pub struct CostRow {
    /// The layer's name (its weight prefix, e.g. `blocks.3.0`).
    pub name: String,
    /// What kind of layer (`ConvBnAct`, `GhostBottleneck`, ...).
    pub kind: String,
    /// Input shape, NHWC.
    pub input: [usize; 4],
    /// Output shape, NHWC.
    pub output: [usize; 4],
    /// Its cost.
    pub cost: Cost,
}

/// A per-layer cost table with totals.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CostTable {
    /// Rows in execution order.
    pub rows: Vec<CostRow>,
}

impl CostTable {
    /// An empty table.
    pub fn new() -> Self {
        CostTable::default()
    }

    /// Appends a row.
    pub fn push(&mut self, row: CostRow) {
        self.rows.push(row);
    }

    /// Appends every row of `other`.
    pub fn extend(&mut self, other: CostTable) {
        self.rows.extend(other.rows);
    }

    /// Sum of every row.
    pub fn total(&self) -> Cost {
        self.rows.iter().map(|r| r.cost).sum()
    }
}

fn fmt_shape(s: &[usize; 4]) -> String {
    format!("{}x{}x{}x{}", s[0], s[1], s[2], s[3])
}

impl fmt::Display for CostTable {
    /// A fixed-width table: name, kind, input and output (NHWC), params (trained / fused) and
    /// MFLOPs (trained / fused), then the totals.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name_w = self
            .rows
            .iter()
            .map(|r| r.name.len())
            .max()
            .unwrap_or(4)
            .max(5);
        let kind_w = self
            .rows
            .iter()
            .map(|r| r.kind.len())
            .max()
            .unwrap_or(4)
            .max(4);
        writeln!(
            f,
            "{:<name_w$}  {:<kind_w$}  {:>16}  {:>16}  {:>10}  {:>10}  {:>10}  {:>10}",
            "layer", "kind", "input nhwc", "output nhwc", "params", "fused", "MFLOPs", "fused"
        )?;
        for r in &self.rows {
            writeln!(
                f,
                "{:<name_w$}  {:<kind_w$}  {:>16}  {:>16}  {:>10}  {:>10}  {:>10.3}  {:>10.3}",
                r.name,
                r.kind,
                fmt_shape(&r.input),
                fmt_shape(&r.output),
                r.cost.params_trained,
                r.cost.params_fused,
                r.cost.flops_trained as f64 / 1e6,
                r.cost.flops_fused as f64 / 1e6,
            )?;
        }
        let t = self.total();
        write!(
            f,
            "{:<name_w$}  {:<kind_w$}  {:>16}  {:>16}  {:>10}  {:>10}  {:>10.3}  {:>10.3}",
            "total",
            "",
            "",
            "",
            t.params_trained,
            t.params_fused,
            t.flops_trained as f64 / 1e6,
            t.flops_fused as f64 / 1e6,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conv_counts_match_thop_rules() {
        // 3x3 conv 16 -> 32 on an 8x8 output, BN after: thop counts 8*8*32*16*9 MACs plus 4 per
        // BN output element.
        let c = Cost::conv([1, 8, 8, 32], 16, 1, 3, 3, false, true);
        assert_eq!(c.flops_fused, 2 * 8 * 8 * 32 * 16 * 9);
        assert_eq!(c.flops_trained, c.flops_fused + 2 * 4 * 8 * 8 * 32);
        assert_eq!(c.params_trained, 32 * 16 * 9 + 2 * 32);
        assert_eq!(c.params_fused, 32 * 16 * 9 + 32);
        // Depthwise: groups = cin = cout.
        let d = Cost::conv([2, 4, 4, 24], 24, 24, 5, 5, false, false);
        assert_eq!(d.flops_fused, 2 * 2 * 4 * 4 * 24 * 25);
        assert_eq!(d.params_fused, 24 * 25);
    }

    #[test]
    fn counts_too_large_for_u64_saturate() {
        // 2^32 channels in and out of a 2^16 x 2^16 kernel: 2^96 weights.
        let big = 1usize << 32;
        let c = Cost::conv([1, 1, 1, big], big, 1, 1 << 16, 1 << 16, true, true);
        assert_eq!(c.params_trained, u64::MAX);
        assert_eq!(c.flops_fused, u64::MAX);
        assert_eq!((c + c).flops_trained, u64::MAX);
        assert_eq!(Cost::linear(big, big, big, true).flops_fused, u64::MAX);
        assert_eq!(
            Cost::global_avg_pool([big, big, big, 1]).flops_fused,
            u64::MAX
        );
        // Small counts are exact, not clamped.
        assert_eq!(Cost::linear(2, 3, 5, true).params_fused, 3 * 5 + 5);
    }

    #[test]
    fn table_totals_and_prints() {
        let mut t = CostTable::new();
        let c = Cost::linear(1, 10, 5, true);
        for name in ["a", "b"] {
            t.push(CostRow {
                name: name.into(),
                kind: "Linear".into(),
                input: [1, 1, 1, 10],
                output: [1, 1, 1, 5],
                cost: c,
            });
        }
        assert_eq!(t.total(), c + c);
        assert_eq!(t.total().params_trained, 110);
        let text = t.to_string();
        assert!(text.lines().count() == 4 && text.contains("total"));
    }
}
