//! The check both Winograd test binaries run (`tests/winograd.rs`, stride 1; `tests/winograd_s2.rs`,
//! stride 2): one 3x3 conv through a Winograd packing of `isa` against the f64 naive convolution,
//! element by element within the variant's forward-error bound.

use ghost_kernels::conv::{ConvAlgorithm, ConvScratch, PackedConv};
use ghost_kernels::{Activation, AddOrder, Isa, Padding, TensorView, Window};
use proptest::prelude::*;

use super::{
    any_conv_dims, any_run_options, assert_sentinels, channel_counts, residual_error_terms,
    strided, ConvDims, Operands, RunOptions,
};

/// `(input, weights, cin, cout, padding, oh, ow)` -> per output element, the sum of |terms| of
/// the transforms' evaluation on absolute values.
pub type AbsSums = fn(&TensorView<'_>, &[f32], usize, usize, Padding, usize, usize) -> Vec<f64>;

/// What differs between the Winograd variants under test.
pub struct WinogradVariant {
    /// The packing under test.
    pub algorithm: ConvAlgorithm,
    /// Its stride (both directions).
    pub stride: usize,
    /// Per output element, the sum of |terms| of the transforms' evaluation on absolute values
    /// (`common::winograd_sums`, `common::winograd_s2_sums`): the bound's scale.
    pub abs_sums: AbsSums,
    /// `ghost_kernels::tolerance::winograd_bound` or `winograd_s2_bound`.
    pub bound: fn(usize, f64, f64) -> f64,
}

impl WinogradVariant {
    /// Its 3x3 window with `padding`.
    pub fn window(&self, padding: Padding) -> Window {
        Window {
            kernel_h: 3,
            kernel_w: 3,
            stride_h: self.stride,
            stride_w: self.stride,
            padding,
        }
    }
}

/// One conv: sizes, padding and how it runs.
#[derive(Clone, Debug)]
pub struct Case {
    pub dims: ConvDims,
    pub padding: Padding,
    pub run: RunOptions,
}

/// Random cases up to `max_size` pixels a side, 1-40 channels, paddings 0-2 on each side.
pub fn case(max_size: usize) -> impl Strategy<Value = Case> {
    (
        any_conv_dims(max_size, channel_counts(8, 40)),
        (0usize..3, 0usize..3, 0usize..3, 0usize..3),
        any_run_options(),
    )
        .prop_map(|(dims, (top, left, bottom, right), run)| {
            Case {
                // The padded input must hold one 3x3 window.
                dims: ConvDims {
                    h: dims.h.max(3 - (top + bottom).min(2)),
                    w: dims.w.max(3 - (left + right).min(2)),
                    ..dims
                },
                padding: Padding {
                    top,
                    left,
                    bottom,
                    right,
                },
                run,
            }
        })
}

/// A fixed case: padding 1, SiLU, a residual after it, a bias, seed 11.
pub fn pinned(h: usize, w: usize, cin: usize, cout: usize, threads: usize) -> Case {
    Case {
        dims: ConvDims {
            n: 1,
            h,
            w,
            cin,
            cout,
        },
        padding: Padding::uniform(1),
        run: RunOptions {
            act: Activation::Silu,
            residual: Some(AddOrder::AfterActivation),
            bias: true,
            threads,
            seed: 11,
        },
    }
}

/// Runs `variant`'s path of `isa` on `c` and returns its output buffer (strided, NaN outside
/// the view), after checking it against the naive convolution.
pub fn check_case(
    variant: &WinogradVariant,
    isa: Isa,
    c: &Case,
    scratch: &mut ConvScratch,
) -> Vec<f32> {
    let ConvDims { n, h, w, cin, cout } = c.dims;
    let win = variant.window(c.padding);
    let (oh, ow) = win.output_size(h, w).unwrap();
    let in_layout = strided(n, h, w, cin, 2, 3);
    let out_layout = strided(n, oh, ow, cout, 1, 2);
    let res_layout = strided(n, oh, ow, cout, 0, 1);
    let ops = Operands::new(
        c.run.seed,
        in_layout,
        cout * cin * 9,
        c.run.bias,
        res_layout,
    );
    let (input, res_view, wts, bias) = (ops.input(), ops.residual(), &ops.weights, &ops.bias);
    let packed =
        PackedConv::with_algorithm(wts, ops.bias(), cin, cout, &win, variant.algorithm).unwrap();
    assert_eq!(packed.algorithm(), variant.algorithm);
    let (out_buf, ref_buf) =
        ops.conv_and_reference(isa, &packed, &win, &c.run, &out_layout, scratch);
    assert_sentinels(&out_buf, &out_layout, (isa, c));
    let sums = (variant.abs_sums)(&input, wts, cin, cout, c.padding, oh, ow);
    let out = TensorView::new(&out_buf, out_layout).unwrap();
    for b in 0..n {
        for oy in 0..oh {
            for ox in 0..ow {
                for o in 0..cout {
                    // Tolerance: the variant's bound (forward error of every rounding step, on
                    // the absolute-value evaluation of the transforms) plus |bias|, and a
                    // residual added before the activation as one more term; the activation's
                    // relative error on |reference| + 2|r| as in the GEMM tests.
                    let idx = ((b * oh + oy) * ow + ox) * cout + o;
                    let mut abs_sum =
                        sums[idx] + bias.as_ref().map_or(0.0, |b| f64::from(b[o]).abs());
                    let r = f64::from(res_view.get(b, oy, ox, o));
                    let (r_term, r_mag) = residual_error_terms(c.run.residual, r);
                    abs_sum += r_term;
                    let expected = f64::from(ref_buf[idx]);
                    let got = f64::from(out.get(b, oy, ox, o));
                    let bound = (variant.bound)(cin, abs_sum, expected.abs() + 2.0 * r_mag);
                    assert!(
                        (got - expected).abs() <= bound,
                        "{isa:?} ({b},{oy},{ox},{o}): got {got}, expected {expected}, bound {bound} ({c:?})"
                    );
                }
            }
        }
    }
    out_buf
}
