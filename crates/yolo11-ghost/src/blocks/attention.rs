//! Ultralytics `Attention` (the self-attention inside PSABlock / C2PSA).
//!
//! `qkv` (1x1, no act) gives per head `h` the channels `[q (key_dim) | k (key_dim) | v (head_dim)]`
//! at offset `h * (2 key_dim + head_dim)`; per batch item and head
//! `attn = softmax((q * scale)^T k)` over the `N = H*W` pixels, `x = v attn^T + pe(v)` with `pe` a
//! 3x3 depthwise conv on `v` laid out as a `(B, C, H, W)` image (channel `h * head_dim + d`), and
//! the result goes through `proj` (1x1, no act). `scale = key_dim ** -0.5`.
//!
//! Both matrix products run on the pointwise GEMM kernel with the activation-side operand packed
//! per call: `S = Q K^T` is a 1x1 "conv" of the `N x key_dim` queries with `N` output channels
//! (weights = the keys, pre-multiplied by `scale`), and `O = S V` one of the `N x N` scores with
//! `head_dim` output channels (weights = `V^T`). Results are bitwise identical for any thread
//! count, like every pointwise call.

use ghost_kernels::pointwise::{pointwise, PackedPointwise};
use ghost_kernels::softmax::softmax_rows;
use ghost_kernels::{Epilogue, KernelError};
use ghost_layers::{Context, KernelKind, RecordKind, TensorView, TensorViewMut, WeightSource};

use super::conv::Conv;
use crate::error::{Result, YoloError};
use crate::spec::{hidden_channels, ConvArgs};

/// The attention core's per-call buffers, kept in the [`Context`] between calls
/// ([`Context::take_state`]) so that a steady-state forward pass allocates nothing.
#[derive(Debug, Default)]
struct AttentionScratch {
    scores: Vec<f32>,
    keys: Vec<f32>,
    values_t: Vec<f32>,
    packed_k: Option<PackedPointwise>,
    packed_v: Option<PackedPointwise>,
}

/// Packs `weights` into `slot`, reusing its storage when it holds an earlier packing.
fn pack_into<'a>(
    slot: &'a mut Option<PackedPointwise>,
    weights: &[f32],
    cin: usize,
    cout: usize,
) -> std::result::Result<&'a PackedPointwise, KernelError> {
    match slot {
        Some(p) => p.repack(weights, None, cin, cout)?,
        None => *slot = Some(PackedPointwise::new(weights, None, cin, cout)?),
    }
    Ok(slot.as_ref().expect("just packed"))
}

/// A loaded `Attention(dim, num_heads, attn_ratio)`.
#[derive(Clone, Debug)]
pub struct Attention {
    qkv: Conv,
    proj: Conv,
    pe: Conv,
    num_heads: usize,
    key_dim: usize,
    head_dim: usize,
    scale: f32,
    name: String,
}

fn kernel_err(layer: &str) -> impl Fn(KernelError) -> YoloError + '_ {
    move |source| YoloError::kernel(layer, source)
}

impl Attention {
    /// Loads `{prefix}.qkv`, `{prefix}.proj`, `{prefix}.pe`.
    pub fn load(
        weights: &dyn WeightSource,
        prefix: &str,
        dim: usize,
        num_heads: usize,
        attn_ratio: f64,
    ) -> Result<Attention> {
        let head_dim = dim / num_heads;
        if head_dim * num_heads != dim || head_dim == 0 {
            return Err(YoloError::config(
                prefix,
                format!("attention dim {dim} is not divisible by {num_heads} heads"),
            ));
        }
        let key_dim = hidden_channels(head_dim, attn_ratio);
        if key_dim == 0 {
            return Err(YoloError::config(
                prefix,
                format!("attention key_dim is 0 (head_dim {head_dim} x ratio {attn_ratio})"),
            ));
        }
        let h = dim + 2 * key_dim * num_heads;
        Ok(Attention {
            qkv: Conv::load(
                weights,
                &format!("{prefix}.qkv"),
                &ConvArgs::new(dim, h, 1, 1, false),
            )?,
            proj: Conv::load(
                weights,
                &format!("{prefix}.proj"),
                &ConvArgs::new(dim, dim, 1, 1, false),
            )?,
            pe: Conv::load(
                weights,
                &format!("{prefix}.pe"),
                &ConvArgs::new(dim, dim, 3, 1, false).groups(dim),
            )?,
            num_heads,
            key_dim,
            head_dim,
            scale: (key_dim as f64).powf(-0.5) as f32,
            name: prefix.to_string(),
        })
    }

    /// Profiles one of a head's two matrix products (`m x k` times `k x n` on the pointwise
    /// GEMM) as a pointwise kernel call named `{prefix}.{what}[head]`, so that `ghost-yolo
    /// profile` counts them with the GEMM and not in the layer's "other" time. Nothing
    /// (no name is built) when not profiling.
    #[allow(clippy::too_many_arguments)]
    fn record_product(
        &self,
        ctx: &mut Context,
        timer: Option<std::time::Instant>,
        what: &str,
        head: usize,
        m: usize,
        k: usize,
        n: usize,
    ) {
        if timer.is_some() {
            let name = format!("{}.{what}[{head}]", self.name);
            let floats = m * k + k * n + m * n;
            ctx.record(
                timer,
                &name,
                RecordKind::Kernel(KernelKind::Pointwise),
                2 * (m * k * n) as u64,
                4 * floats as u64,
            );
        }
    }

    /// Computes `proj(v attn^T + pe(v)) + residual` into `out` (`residual` = the PSABlock
    /// shortcut, `None` without it).
    pub fn forward_into(
        &self,
        ctx: &mut Context,
        x: &TensorView<'_>,
        out: &mut TensorViewMut<'_>,
        residual: Option<TensorView<'_>>,
    ) -> Result<()> {
        let [n, h, w, dim] = x.shape();
        let (nh, kd, hd) = (self.num_heads, self.key_dim, self.head_dim);
        let per_head = 2 * kd + hd;
        let pixels = h * w;
        let qkv = self.qkv.forward(ctx, x)?;
        let err = kernel_err(&self.name);

        // v as a (B, C, H, W) image, channel h * head_dim + d: gathered from the qkv pixels.
        let mut v = ctx.alloc([n, h, w, dim]);
        {
            let src = qkv.view();
            let mut dst = v.view_mut();
            for p in 0..n * pixels {
                let s = src.pixel(p);
                let d = dst.pixel_mut(p);
                for head in 0..nh {
                    d[head * hd..(head + 1) * hd]
                        .copy_from_slice(&s[head * per_head + 2 * kd..(head + 1) * per_head]);
                }
            }
        }

        let mut core = ctx.alloc([n, h, w, dim]);
        let mut state: Box<AttentionScratch> = ctx.take_state();
        let AttentionScratch {
            scores,
            keys,
            values_t,
            packed_k,
            packed_v,
        } = &mut *state;
        // Every element is written before it is read (keys and values per head, scores by
        // the first product), so stale contents from an earlier call do not matter.
        scores.resize(pixels * pixels, 0.0);
        keys.resize(pixels * kd, 0.0);
        values_t.resize(hd * pixels, 0.0);
        for b in 0..n {
            let qkv_b = qkv.view().batch_item(b).map_err(&err)?;
            for head in 0..nh {
                let base = head * per_head;
                // Keys [N][key_dim], scaled (PyTorch scales q; the product is the same up to rounding).
                for j in 0..pixels {
                    let px = qkv_b.pixel(j);
                    for (dst, &k) in keys[j * kd..(j + 1) * kd]
                        .iter_mut()
                        .zip(&px[base + kd..base + 2 * kd])
                    {
                        *dst = k * self.scale;
                    }
                    for d in 0..hd {
                        values_t[d * pixels + j] = px[base + 2 * kd + d];
                    }
                }
                let packed_k = pack_into(packed_k, keys, kd, pixels).map_err(&err)?;
                let q = qkv_b.channels(base, kd).map_err(&err)?;
                let timer = ctx.start_timer();
                {
                    let mut s = TensorViewMut::dense(scores, 1, h, w, pixels).map_err(&err)?;
                    pointwise(&q, packed_k, &Epilogue::default(), &mut s, ctx.threads())
                        .map_err(&err)?;
                }
                self.record_product(ctx, timer, "qk", head, pixels, kd, pixels);
                softmax_rows(scores, pixels, ctx.threads()).map_err(&err)?;
                let packed_v = pack_into(packed_v, values_t, pixels, hd).map_err(&err)?;
                let mut core_all = core.view_mut();
                let mut core_b = core_all.batch_item_mut(b).map_err(&err)?;
                let mut core_bh = core_b.channels_mut(head * hd, hd).map_err(&err)?;
                let s = TensorView::dense(scores, 1, h, w, pixels).map_err(&err)?;
                let timer = ctx.start_timer();
                pointwise(
                    &s,
                    packed_v,
                    &Epilogue::default(),
                    &mut core_bh,
                    ctx.threads(),
                )
                .map_err(&err)?;
                self.record_product(ctx, timer, "sv", head, pixels, pixels, hd);
            }
        }
        ctx.put_state(state);
        ctx.recycle(qkv);

        // x = core + pe(v), then proj(x) + residual.
        let mut sum = ctx.alloc([n, h, w, dim]);
        self.pe
            .forward_into(ctx, &v.view(), &mut sum.view_mut(), Some(core.view()))?;
        ctx.recycle(v);
        ctx.recycle(core);
        self.proj.forward_into(ctx, &sum.view(), out, residual)?;
        ctx.recycle(sum);
        Ok(())
    }
}
