//! GhostNet V1 configuration: the stage table, width scaling and BatchNorm eps.

use ghost_layers::{make_divisible, EPS_TIMM, EPS_ULTRALYTICS};

/// One bottleneck row of the GhostNet table: `(k, exp, out, se_ratio, stride)` as in timm /
/// huawei `cfgs` (channel counts at width 1.0).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BlockCfg {
    /// Depthwise kernel size (stride-2 conv and shortcut).
    pub kernel: usize,
    /// Expanded channels at width 1.0.
    pub expand: usize,
    /// Output channels at width 1.0.
    pub out: usize,
    /// Squeeze-excite ratio (0 = none).
    pub se_ratio: f64,
    /// Stride of the block.
    pub stride: usize,
}

const fn row(kernel: usize, expand: usize, out: usize, se_ratio: f64, stride: usize) -> BlockCfg {
    BlockCfg {
        kernel,
        expand,
        out,
        se_ratio,
        stride,
    }
}

/// GhostNet V1's nine bottleneck stages (`blocks.0` .. `blocks.8`); `blocks.9` is the final
/// 1x1 ConvBnAct to `make_divisible(960 * width, 4)` channels.
pub const STAGES: [&[BlockCfg]; 9] = [
    &[row(3, 16, 16, 0.0, 1)],
    &[row(3, 48, 24, 0.0, 2)],
    &[row(3, 72, 24, 0.0, 1)],
    &[row(5, 72, 40, 0.25, 2)],
    &[row(5, 120, 40, 0.25, 1)],
    &[row(3, 240, 80, 0.0, 2)],
    &[
        row(3, 200, 80, 0.0, 1),
        row(3, 184, 80, 0.0, 1),
        row(3, 184, 80, 0.0, 1),
        row(3, 480, 112, 0.25, 1),
        row(3, 672, 112, 0.25, 1),
    ],
    &[row(5, 672, 160, 0.25, 2)],
    &[
        row(5, 960, 160, 0.0, 1),
        row(5, 960, 160, 0.25, 1),
        row(5, 960, 160, 0.0, 1),
        row(5, 960, 160, 0.25, 1),
    ],
];

/// Stem output channels at width 1.0.
pub const STEM_CHANNELS: usize = 16;
/// Hidden width of the classifier head (`conv_head`), never scaled by width.
pub const HEAD_CHANNELS: usize = 1280;
/// Input channels (RGB).
pub const IN_CHANNELS: usize = 3;
/// Output strides of the four feature maps.
pub const FEATURE_STRIDES: [usize; 4] = [4, 8, 16, 32];

/// How to build a GhostNet.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GhostNetConfig {
    /// Width multiplier (timm `width`: 1.0 for ghostnet_100, 0.5, 1.3 ...).
    pub width: f64,
    /// BatchNorm eps: 1e-5 for timm / huawei models, 1e-3 inside Ultralytics models.
    pub eps: f64,
    /// Whether to load the classifier head (`conv_head`, `classifier`). A detector backbone
    /// does not.
    pub classifier: bool,
    /// Number of classes. `None`: taken from the stored shape of `classifier.weight` (a source
    /// without stored shapes, such as seeded weights, then needs it set).
    pub num_classes: Option<usize>,
}

impl GhostNetConfig {
    /// A timm / huawei ImageNet-style classifier at `width` (eps 1e-5, classes from the weights).
    pub fn timm(width: f64) -> Self {
        GhostNetConfig {
            width,
            eps: EPS_TIMM,
            classifier: true,
            num_classes: None,
        }
    }

    /// A feature backbone inside an Ultralytics model (eps 1e-3, no classifier head).
    pub fn ultralytics_backbone(width: f64) -> Self {
        GhostNetConfig {
            width,
            eps: EPS_ULTRALYTICS,
            classifier: false,
            num_classes: None,
        }
    }

    /// Sets the BatchNorm eps.
    pub fn with_eps(mut self, eps: f64) -> Self {
        self.eps = eps;
        self
    }

    /// Sets the number of classes (and enables the classifier head).
    pub fn with_num_classes(mut self, num_classes: usize) -> Self {
        self.classifier = true;
        self.num_classes = Some(num_classes);
        self
    }

    /// Channels of width-1.0 count `c` at this width: `make_divisible(c * width, 4)`.
    pub fn channels(&self, c: usize) -> usize {
        make_divisible(c as f64 * self.width, 4)
    }

    /// Stem output channels.
    pub fn stem_channels(&self) -> usize {
        self.channels(STEM_CHANNELS)
    }

    /// Channels of the final 1x1 conv (`blocks.9`), the stride-32 feature and the pooled width.
    pub fn final_channels(&self) -> usize {
        let last = STAGES[STAGES.len() - 1];
        self.channels(last[last.len() - 1].expand)
    }

    /// Channels of the four feature maps (strides 4, 8, 16, 32).
    pub fn feature_channels(&self) -> [usize; 4] {
        let taps = feature_stages();
        let out_of = |stage: usize| {
            if stage == STAGES.len() {
                self.final_channels()
            } else {
                let rows = STAGES[stage];
                self.channels(rows[rows.len() - 1].out)
            }
        };
        taps.map(out_of)
    }

    /// NHWC shapes of the four feature maps (strides 4, 8, 16, 32) of an `n x h x w` input:
    /// the stem and every bottleneck row of [`STAGES`] applied with [`conv_output_len`] (the
    /// final 1x1 conv keeps the size). The detector's graph, its layer table and its memory
    /// plan all take GhostNet's shapes from here.
    pub fn feature_shapes(&self, n: usize, h: usize, w: usize) -> [[usize; 4]; 4] {
        let channels = self.feature_channels();
        let taps = feature_stages();
        let mut hw = (
            conv_output_len(h, STEM_KERNEL, STEM_STRIDE),
            conv_output_len(w, STEM_KERNEL, STEM_STRIDE),
        );
        let mut shapes = [[0; 4]; 4];
        for (stage, rows) in STAGES.iter().enumerate() {
            for row in rows.iter() {
                hw = (
                    conv_output_len(hw.0, row.kernel, row.stride),
                    conv_output_len(hw.1, row.kernel, row.stride),
                );
            }
            if let Some(k) = taps.iter().position(|&t| t == stage) {
                shapes[k] = [n, hw.0, hw.1, channels[k]];
            }
        }
        // The stride-32 map is the final 1x1 conv's output (stage index STAGES.len()).
        shapes[3] = [n, hw.0, hw.1, channels[3]];
        shapes
    }
}

/// Stem conv kernel (3x3, stride 2).
pub const STEM_KERNEL: usize = 3;
/// Stem conv stride.
pub const STEM_STRIDE: usize = 2;

/// Output length along one axis of a GhostNet conv with kernel `kernel`, stride `stride` and
/// padding `kernel / 2` (every GhostNet conv pads so): `(len + 2 * (kernel / 2) - kernel) /
/// stride + 1`, which for the odd kernels of GhostNet is `ceil(len / stride)`. 0 for an empty
/// axis.
pub fn conv_output_len(len: usize, kernel: usize, stride: usize) -> usize {
    if len == 0 {
        return 0;
    }
    (len + 2 * (kernel / 2) - kernel) / stride + 1
}

/// The `blocks` index whose output is each feature map: the LAST stage at each output stride
/// (stride 4, 8, 16), and the final 1x1 conv stage for stride 32. Derived from the table: a stage
/// is a tap when the next stage starts with stride 2. For GhostNet V1: `[2, 4, 6, 9]`.
pub fn feature_stages() -> [usize; 4] {
    let mut taps = [0; 4];
    let mut stride = 2; // after the stem
    let mut found = 0;
    for (i, rows) in STAGES.iter().enumerate() {
        stride *= rows.iter().map(|r| r.stride).product::<usize>();
        let next_downsamples = STAGES.get(i + 1).is_some_and(|next| next[0].stride > 1);
        if next_downsamples && stride >= FEATURE_STRIDES[0] && found < 3 {
            taps[found] = i;
            found += 1;
        }
    }
    taps[3] = STAGES.len();
    taps
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feature_shapes_halve_rounding_up() {
        // Each stride-2 conv maps len to ceil(len / 2): 4, 8, 16, 32 with rounding up.
        let cfg = GhostNetConfig::ultralytics_backbone(0.25);
        let c = cfg.feature_channels();
        assert_eq!(
            cfg.feature_shapes(2, 640, 97),
            [
                [2, 160, 25, c[0]],
                [2, 80, 13, c[1]],
                [2, 40, 7, c[2]],
                [2, 20, 4, c[3]]
            ]
        );
        assert_eq!(cfg.feature_shapes(1, 1, 1)[3], [1, 1, 1, c[3]]);
        assert_eq!(conv_output_len(0, 3, 2), 0);
        assert_eq!(conv_output_len(7, 5, 2), 4);
    }

    #[test]
    fn taps_are_the_last_block_at_each_stride() {
        assert_eq!(feature_stages(), [2, 4, 6, 9]);
    }

    /// Channel counts from fixtures/README.md (timm 1.0.31 models at each width).
    #[test]
    fn feature_channels_match_timm() {
        assert_eq!(
            GhostNetConfig::timm(1.0).feature_channels(),
            [24, 40, 112, 960]
        );
        assert_eq!(
            GhostNetConfig::timm(0.5).feature_channels(),
            [12, 20, 56, 480]
        );
        assert_eq!(
            GhostNetConfig::timm(1.3).feature_channels(),
            [32, 52, 144, 1248]
        );
        assert_eq!(GhostNetConfig::timm(1.3).stem_channels(), 20);
    }
}
