//! The upsample-then-1x1 rewrite of YOLO11's top-down path.
//!
//! The neck upsamples a coarse map `x` (nearest), concatenates it with a finer skip map `s`, and
//! feeds the result to a C3k2 (or C2f) whose first conv `cv1` is 1x1:
//! `cv1(cat(up(x), s)) = act(W_x up(x) + W_s s + b)`. A 1x1 conv commutes with nearest
//! upsampling (`W_x up(x) = up(W_x x)`), so the `x` columns can run at the coarse resolution:
//! `act(up(W_x x) + W_s s + b)`, a quarter of their multiply-adds for a 2x upsample, and the
//! upsample copies `2c` channels instead of `x`'s (fewer on every YOLO11 neck). The sum
//! `up(W_x x)` enters the `W_s` conv's epilogue as a residual added before the activation.
//!
//! Only the exact pattern is rewritten: an upsample read by nothing but a two-input Concat that
//! takes it first, the Concat read by nothing but a single-copy C3k2 / C2f. A forward pass that
//! asks for the upsample's or the Concat's output (intermediate taps) runs the plain path.
//! Results differ from the plain path only in the order of the float additions.

use ghost_layers::{AddOrder, Context, ConvBnAct, Layer, Residual, TensorView, WeightSource};

use crate::blocks::resample::upsample_nearest;
use crate::blocks::Conv;
use crate::error::Result;
use crate::spec::{ConvArgs, ModelSpec, ModuleSpec, Source};

/// Layer indices of one rewritable pattern.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pattern {
    /// The `nn.Upsample` layer.
    pub upsample: usize,
    /// The Concat reading `cat(upsample, skip)`.
    pub concat: usize,
    /// The C3k2 / C2f reading the Concat.
    pub consumer: usize,
    /// The Concat's second input.
    pub skip: Source,
    /// The upsample factor.
    pub factor: usize,
}

impl Pattern {
    /// Every rewritable pattern of `spec`, in layer order.
    pub fn find(spec: &ModelSpec) -> Vec<Pattern> {
        let readers = |i: usize| -> Vec<usize> {
            spec.layers
                .iter()
                .filter(|l| l.inputs.contains(&Source::Layer(i)))
                .map(|l| l.index)
                .collect()
        };
        let mut found = Vec::new();
        for up in &spec.layers {
            let ModuleSpec::Upsample { factor, .. } = up.module else {
                continue;
            };
            let [concat] = readers(up.index)[..] else {
                continue;
            };
            let cat = &spec.layers[concat];
            let skip = match (&cat.module, &cat.inputs[..]) {
                (ModuleSpec::Concat { .. }, &[Source::Layer(first), skip])
                    if first == up.index && skip != Source::Layer(up.index) =>
                {
                    skip
                }
                _ => continue,
            };
            let [consumer] = readers(concat)[..] else {
                continue;
            };
            let block = &spec.layers[consumer];
            let is_csp = matches!(block.module, ModuleSpec::C3k2(_) | ModuleSpec::C2f(_));
            if is_csp && block.copies == 1 && block.inputs == [Source::Layer(concat)] {
                found.push(Pattern {
                    upsample: up.index,
                    concat,
                    consumer,
                    skip,
                    factor,
                });
            }
        }
        found
    }

    /// Whether a forward pass asking for the outputs of `taps` can use the rewrite.
    pub fn applies(&self, taps: &[usize]) -> bool {
        !taps.contains(&self.upsample) && !taps.contains(&self.concat)
    }
}

/// A pattern with the consumer's `cv1` split by input channel.
#[derive(Clone, Debug)]
pub struct UpsampleRewrite {
    pub pattern: Pattern,
    /// `cv1`'s columns of the upsampled channels: no bias, no activation (run coarse).
    low: ConvBnAct,
    /// `cv1`'s columns of the skip channels, with the bias and the activation.
    high: ConvBnAct,
}

impl UpsampleRewrite {
    /// Splits the consumer's `cv1` (`{prefix}.cv1`, `c1 -> c2` with `c1 = x_channels + skip`).
    pub fn load(
        weights: &dyn WeightSource,
        pattern: Pattern,
        prefix: &str,
        (c1, c2): (usize, usize),
        x_channels: usize,
    ) -> Result<UpsampleRewrite> {
        let args = ConvArgs::new(c1, c2, 1, 1, true);
        let (low, high) =
            Conv::load_split_1x1(weights, &format!("{prefix}.cv1"), &args, x_channels)?;
        Ok(UpsampleRewrite { pattern, low, high })
    }

    /// `up(W_x x)`: the coarse product, upsampled into a new tensor of `ctx`'s pool with the
    /// spatial size `(h, w)` of the Concat.
    pub fn upsampled_low(
        &self,
        ctx: &mut Context,
        x: &TensorView<'_>,
        (h, w): (usize, usize),
    ) -> Result<ghost_layers::Tensor> {
        let coarse_shape = self.low.output_shape(x.shape())?;
        let mut coarse = ctx.alloc(coarse_shape);
        self.low
            .forward_into(ctx, x, &mut coarse.view_mut(), None)?;
        let mut fine = ctx.alloc([coarse_shape[0], h, w, coarse_shape[3]]);
        let result = upsample_nearest(
            ctx,
            &coarse.view(),
            self.pattern.factor,
            &mut fine.view_mut(),
        );
        ctx.recycle(coarse);
        result?;
        Ok(fine)
    }

    /// The consumer's `cv1`: `act(W_s s + b + up_low)` into `out`.
    pub fn cv1(
        &self,
        ctx: &mut Context,
        skip: &TensorView<'_>,
        up_low: TensorView<'_>,
        out: &mut ghost_layers::TensorViewMut<'_>,
    ) -> Result<()> {
        let residual = Residual {
            view: up_low,
            order: AddOrder::BeforeActivation,
        };
        Ok(self.high.forward_into(ctx, skip, out, Some(residual))?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both top-down Concats of every YOLO11 scale are found, and nothing else.
    #[test]
    fn finds_the_two_top_down_patterns() {
        for name in [
            "yolo11n",
            "yolo11m",
            "yolo11n-ghost",
            "yolo11m-ghost",
            "yolo11x",
        ] {
            let spec = ModelSpec::from_name(name).unwrap();
            let found = Pattern::find(&spec);
            assert_eq!(found.len(), 2, "{name}: {found:?}");
            for p in &found {
                assert!(matches!(
                    spec.layers[p.upsample].module,
                    ModuleSpec::Upsample { .. }
                ));
                assert_eq!(p.concat, p.upsample + 1, "{name}");
                assert_eq!(p.consumer, p.concat + 1, "{name}");
                assert_eq!(p.factor, 2);
            }
        }
    }

    #[test]
    fn taps_on_the_pattern_disable_it() {
        let spec = ModelSpec::from_name("yolo11n").unwrap();
        let p = Pattern::find(&spec)[0];
        assert!(p.applies(&[]));
        assert!(p.applies(&[p.consumer]));
        assert!(!p.applies(&[p.upsample]));
        assert!(!p.applies(&[3, p.concat]));
    }
}
