//! The operands of a random convolution case (pointwise, dense, Winograd), made from its seed,
//! and the dense convolution run next to its naive reference.

use ghost_kernels::conv::{conv2d_with_isa, naive, ConvScratch, PackedConv};
use ghost_kernels::testing::values;
use ghost_kernels::{Epilogue, Isa, NhwcLayout, TensorView, TensorViewMut, Threads, Window};

use super::{epilogue, fill, RunOptions};

/// A case's input, weights, bias and residual. The input and residual sit in NaN-filled buffers
/// of their (possibly strided) layouts.
pub struct Operands {
    pub in_layout: NhwcLayout,
    pub in_buf: Vec<f32>,
    pub weights: Vec<f32>,
    pub bias: Option<Vec<f32>>,
    pub res_layout: NhwcLayout,
    pub res_buf: Vec<f32>,
}

impl Operands {
    /// From `seed` (`ghost_kernels::testing::values`): the input (`seed`), `weights_len` weights
    /// (`seed ^ 1`), one bias per output channel (`seed ^ 2`) when `bias`, and the residual
    /// (`seed ^ 3`), whose layout `res_layout` has the output's shape.
    pub fn new(
        seed: u64,
        in_layout: NhwcLayout,
        weights_len: usize,
        bias: bool,
        res_layout: NhwcLayout,
    ) -> Self {
        Operands {
            in_buf: fill(&in_layout, &values(seed, in_layout.elements())),
            in_layout,
            weights: values(seed ^ 1, weights_len),
            bias: bias.then(|| values(seed ^ 2, res_layout.c)),
            res_buf: fill(&res_layout, &values(seed ^ 3, res_layout.elements())),
            res_layout,
        }
    }

    pub fn input(&self) -> TensorView<'_> {
        TensorView::new(&self.in_buf, self.in_layout).unwrap()
    }

    pub fn residual(&self) -> TensorView<'_> {
        TensorView::new(&self.res_buf, self.res_layout).unwrap()
    }

    pub fn bias(&self) -> Option<&[f32]> {
        self.bias.as_deref()
    }

    /// `run`'s activation, with this residual added when `run` asks for one.
    pub fn epilogue(&self, run: &RunOptions) -> Epilogue<'_> {
        epilogue(run.act, run.residual, self.residual())
    }

    /// Runs `packed` (made from these weights and bias) through `isa`'s dense-convolution
    /// driver into a NaN-filled buffer of `out_layout`, and the naive reference on the same
    /// operands; returns that buffer (NaN outside the output's channels) and the reference
    /// (dense).
    pub fn conv_and_reference(
        &self,
        isa: Isa,
        packed: &PackedConv,
        window: &Window,
        run: &RunOptions,
        out_layout: &NhwcLayout,
        scratch: &mut ConvScratch,
    ) -> (Vec<f32>, Vec<f32>) {
        let input = self.input();
        let epilogue = self.epilogue(run);
        let threads = Threads::new(run.threads).unwrap();
        let mut out_buf = vec![f32::NAN; out_layout.pixels() * out_layout.pixel_stride];
        let mut out = TensorViewMut::new(&mut out_buf, *out_layout).unwrap();
        conv2d_with_isa(
            isa, &input, packed, window, &epilogue, &mut out, scratch, &threads,
        )
        .unwrap();
        let [n, oh, ow, cout] = [out_layout.n, out_layout.h, out_layout.w, out_layout.c];
        let mut ref_buf = vec![0.0f32; out_layout.elements()];
        let mut reference = TensorViewMut::dense(&mut ref_buf, n, oh, ow, cout).unwrap();
        let cin = self.in_layout.c;
        naive::conv2d(
            &input,
            &self.weights,
            self.bias(),
            cin,
            cout,
            window,
            &epilogue,
            &mut reference,
        )
        .unwrap();
        (out_buf, ref_buf)
    }
}
