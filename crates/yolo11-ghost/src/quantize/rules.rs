//! Which convs stay FP32 in an INT8 model: named groups (`first`, `box`, `box-head`, `cls-out`,
//! `cls`, `psa`, `depthwise`, `winograd`, `narrow`) resolved against the model, or any
//! `state_dict` prefix.
//!
//! These rules decide what the file stores (INT8 codes or FP32 weights), once, possibly on
//! another machine than the one that runs it. What a stored INT8 conv runs on is decided again
//! at load time from the back end ([`ghost_layers::quant::runs_as_int8`]): on AVX2 without VNNI
//! the 3x3 convs that FP32 runs with Winograd run FP32 on their dequantized weights.

use ghost_kernels::conv::ConvAlgorithm;
use ghost_layers::QuantSite;

use crate::spec::{ModelSpec, ModuleSpec};

/// A group of convs kept in FP32.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fp32Rule {
    /// The first conv (the one reading the 3-channel image).
    First,
    /// Detect's box / DFL branch (`cv2.*`).
    Box,
    /// The last conv of Detect's box branch (`cv2.*.2`, the 1x1 conv to the DFL logits): the
    /// branch's 3x3 convs are left to the other rules.
    BoxHead,
    /// The last conv of Detect's class branch (`cv3.*.2`).
    ClsOut,
    /// Detect's whole class branch (`cv3.*`).
    Cls,
    /// The convs of every C2PSA block (attention's qkv, proj and pe, and the FFN).
    Psa,
    /// Every depthwise conv (a speed choice: see docs/int8.md).
    Depthwise,
    /// Every dense conv that FP32 runs with Winograd F(4x4, 3x3) (3x3 stride 1, enough input
    /// channels: [`ConvAlgorithm::choose`]), where INT8's direct kernel is not faster (a speed
    /// choice: see docs/int8.md).
    Winograd,
    /// Every pointwise (1x1) conv with fewer than this many input or output channels (`narrow`
    /// is [`NARROW_CHANNELS`], `narrow:N` another bound), and every dense kxk conv with fewer
    /// than `min(N, NARROW_DENSE_CHANNELS)`: INT8's per-pixel quantize and epilogue overhead
    /// outweighs the integer arithmetic where the dot products are short; a kxk window gives
    /// each input value k^2 times the arithmetic (a speed choice: see docs/int8.md).
    Narrow(usize),
    /// Every conv under a `state_dict` prefix (`model.9`, `model.0.blocks.1`).
    Prefix(String),
}

/// The convs kept FP32 unless told otherwise, the measured choice of `docs/int8.md`: the first
/// conv, and for speed every depthwise conv and every narrow conv (INT8 is slower than FP32
/// there). Detect's box branch, its DFL logits conv included, is stored INT8 (as INT8 it costs
/// nothing measurable on the held-out split and is faster with the VNNI GEMM, docs/int8.md
/// "Session 14, rule after the new GEMM"). The 3x3 convs FP32 runs with Winograd are stored
/// INT8: with VNNI they are faster as INT8; on AVX2 alone the loader runs them FP32
/// ([`ghost_layers::quant::runs_as_int8`]).
pub const DEFAULT_FP32_RULES: &[Fp32Rule] = &[
    Fp32Rule::First,
    Fp32Rule::Depthwise,
    Fp32Rule::Narrow(NARROW_CHANNELS),
];

/// The channel count below which `narrow` keeps a pointwise conv FP32 (measured: docs/int8.md,
/// "Speed rule").
pub const NARROW_CHANNELS: usize = 32;

/// The channel count below which `narrow` keeps a dense kxk conv FP32: 16-channel 3x3 convs
/// (yolo11n-ghost's `model.12.m.0`) are faster as INT8 with the VNNI GEMM (docs/int8.md,
/// "Session 14, rule after the new GEMM"); narrower ones were not measured and stay FP32.
pub const NARROW_DENSE_CHANNELS: usize = 16;

impl std::str::FromStr for Fp32Rule {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "first" => Fp32Rule::First,
            "box" => Fp32Rule::Box,
            "box-head" => Fp32Rule::BoxHead,
            "cls-out" => Fp32Rule::ClsOut,
            "cls" => Fp32Rule::Cls,
            "psa" => Fp32Rule::Psa,
            "depthwise" => Fp32Rule::Depthwise,
            "winograd" => Fp32Rule::Winograd,
            "narrow" => Fp32Rule::Narrow(NARROW_CHANNELS),
            n if n.starts_with("narrow:") => match n["narrow:".len()..].parse::<usize>() {
                Ok(bound) => Fp32Rule::Narrow(bound),
                Err(e) => return Err(format!("`{n}`: expected narrow:N with N a channel count ({e})")),
            },
            p if p.starts_with("model.") => Fp32Rule::Prefix(p.trim_end_matches('.').to_string()),
            other => {
                return Err(format!(
                "`{other}`: expected first, box, box-head, cls-out, cls, psa, depthwise, winograd, narrow[:N] or a tensor prefix model.N..."
            ))
            }
        })
    }
}

/// Whether `conv` is `prefix` or lies under it.
fn under(conv: &str, prefix: &str) -> bool {
    conv == prefix
        || conv
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with('.'))
}

/// A predicate on conv sites: true for the convs `rules` keep FP32 in `spec`.
pub fn matcher(rules: &[Fp32Rule], spec: &ModelSpec) -> impl Fn(&QuantSite) -> bool {
    let detect = spec
        .layers
        .iter()
        .rev()
        .find(|l| matches!(l.module, ModuleSpec::Detect(_)))
        .map(|l| format!("model.{}", l.index));
    let psa: Vec<String> = spec
        .layers
        .iter()
        .filter(|l| matches!(l.module, ModuleSpec::C2psa(_)))
        .map(|l| format!("model.{}", l.index))
        .collect();
    let mut prefixes: Vec<String> = Vec::new();
    let mut cls_out = false;
    let mut box_head = false;
    let mut first = false;
    let mut depthwise = false;
    let mut winograd = false;
    let mut narrow = 0;
    for rule in rules {
        match rule {
            Fp32Rule::First => first = true,
            Fp32Rule::Box => prefixes.extend(detect.iter().map(|d| format!("{d}.cv2"))),
            Fp32Rule::Cls => prefixes.extend(detect.iter().map(|d| format!("{d}.cv3"))),
            Fp32Rule::ClsOut => cls_out = true,
            Fp32Rule::BoxHead => box_head = true,
            Fp32Rule::Psa => prefixes.extend(psa.iter().cloned()),
            Fp32Rule::Depthwise => depthwise = true,
            Fp32Rule::Winograd => winograd = true,
            Fp32Rule::Narrow(bound) => narrow = narrow.max(*bound),
            Fp32Rule::Prefix(p) => prefixes.push(p.clone()),
        }
    }
    // The first conv: GhostNet's stem or the first YAML row's conv.
    let first_conv = ["model.0.conv_stem", "model.0.conv"];
    move |site: &QuantSite| {
        let conv = site.key();
        let spec = &site.spec;
        (depthwise && spec.groups > 1)
            || (winograd
                && spec.groups == 1
                && ConvAlgorithm::choose(spec.cin, spec.cout, &spec.window)
                    == ConvAlgorithm::Winograd)
            || spec.cin.min(spec.cout) < narrow_bound(spec, narrow)
            || (first && first_conv.contains(&conv))
            || prefixes.iter().any(|p| under(conv, p))
            || (cls_out && branch_out(detect.as_deref(), "cv3", conv))
            || (box_head && branch_out(detect.as_deref(), "cv2", conv))
    }
}

/// The channel count below which the `narrow:N` rule keeps `spec` FP32: `N` for a pointwise
/// conv, at most [`NARROW_DENSE_CHANNELS`] for a dense kxk one (depthwise convs are their own
/// group and follow the pointwise bound).
fn narrow_bound(spec: &ghost_layers::ConvSpec, n: usize) -> usize {
    let pointwise = spec.window.kernel_h == 1 && spec.window.kernel_w == 1;
    if pointwise || spec.groups > 1 {
        n
    } else {
        n.min(NARROW_DENSE_CHANNELS)
    }
}

/// Whether `conv` is the last conv of a Detect branch, `{detect}.{branch}.{level}.2`.
fn branch_out(detect: Option<&str>, branch: &str, conv: &str) -> bool {
    detect.is_some_and(|d| {
        conv.strip_prefix(&format!("{d}.{branch}."))
            .is_some_and(|rest| rest.ends_with(".2") && rest.matches('.').count() == 1)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ghost_layers::{ConvBnNames, ConvSpec};

    fn site(conv: &str) -> QuantSite {
        QuantSite {
            names: ConvBnNames::conv_only(conv),
            spec: ConvSpec::new(8, 8, 3),
            eps: 1e-3,
        }
    }

    #[test]
    fn depthwise_rule_reads_the_geometry() {
        let spec = ModelSpec::from_name("yolo11n").unwrap();
        let keep = matcher(&[Fp32Rule::Depthwise], &spec);
        let mut dw = site("model.2.m.0.cv1.conv");
        assert!(!keep(&dw));
        dw.spec = ConvSpec::depthwise(8, 3);
        assert!(keep(&dw));
    }

    #[test]
    fn winograd_rule_follows_the_fp32_algorithm_choice() {
        let spec = ModelSpec::from_name("yolo11n").unwrap();
        let keep = matcher(&[Fp32Rule::Winograd], &spec);
        let mut conv = site("model.2.m.0.cv1.conv");
        conv.spec = ConvSpec::new(64, 64, 3);
        assert!(keep(&conv), "3x3 stride 1, 64 channels: Winograd in FP32");
        conv.spec = ConvSpec::new(8, 64, 3);
        assert!(
            !keep(&conv),
            "below WINOGRAD_MIN_CIN the FP32 path is the GEMM"
        );
        conv.spec = ConvSpec::new(64, 64, 3).stride(2);
        assert!(!keep(&conv), "stride 2: the GEMM in FP32");
        conv.spec = ConvSpec::new(64, 64, 1);
        assert!(!keep(&conv), "pointwise");
        conv.spec = ConvSpec::depthwise(64, 3);
        assert!(!keep(&conv), "depthwise is its own group");
    }

    #[test]
    fn narrow_rule_bounds_either_side() {
        let spec = ModelSpec::from_name("yolo11n").unwrap();
        let keep = matcher(&["narrow:32".parse().unwrap()], &spec);
        let mut conv = site("model.2.cv1.conv");
        for (cin, cout, kept) in [
            (16, 64, true),
            (64, 16, true),
            (32, 32, false),
            (31, 256, true),
        ] {
            conv.spec = ConvSpec::new(cin, cout, 1);
            assert_eq!(keep(&conv), kept, "{cin} -> {cout}");
        }
        // Dense kxk convs: the bound is at most NARROW_DENSE_CHANNELS (16).
        for (cin, cout, kept) in [
            (16, 16, false),
            (15, 64, true),
            (64, 8, true),
            (24, 24, false),
        ] {
            conv.spec = ConvSpec::new(cin, cout, 3);
            assert_eq!(keep(&conv), kept, "3x3 {cin} -> {cout}");
        }
        conv.spec = ConvSpec::new(16, 32, 3).stride(2);
        assert!(!keep(&conv), "3x3 stride 2, 16 -> 32");
        // Depthwise convs follow the pointwise bound.
        conv.spec = ConvSpec::depthwise(24, 3);
        assert!(keep(&conv), "depthwise 24");
        // narrow:N below 16 bounds kxk convs by N.
        let keep8 = matcher(&["narrow:8".parse().unwrap()], &spec);
        conv.spec = ConvSpec::new(8, 8, 3);
        assert!(!keep8(&conv));
        conv.spec = ConvSpec::new(7, 8, 3);
        assert!(keep8(&conv));
        assert_eq!("narrow".parse(), Ok(Fp32Rule::Narrow(NARROW_CHANNELS)));
        assert!("narrow:x".parse::<Fp32Rule>().is_err());
        let none = matcher(&[], &spec);
        conv.spec = ConvSpec::new(4, 4, 1);
        assert!(!none(&conv));
    }

    #[test]
    fn rules_resolve_against_the_model() {
        let spec = ModelSpec::from_name("yolo11n").unwrap();
        let keep = matcher(&[Fp32Rule::First, Fp32Rule::ClsOut, Fp32Rule::Psa], &spec);
        assert!(keep(&site("model.0.conv")));
        assert!(keep(&site("model.23.cv3.1.2")));
        assert!(!keep(&site("model.23.cv3.1.1.conv")));
        assert!(!keep(&site("model.23.cv2.0.2")));
        assert!(keep(&site("model.10.m.0.attn.qkv.conv")));
        assert!(!keep(&site("model.1.conv")));
        let keep = matcher(&["box-head".parse().unwrap()], &spec);
        assert!(keep(&site("model.23.cv2.0.2")) && keep(&site("model.23.cv2.2.2")));
        assert!(!keep(&site("model.23.cv2.0.0.conv")) && !keep(&site("model.23.cv2.1.1.conv")));
        assert!(!keep(&site("model.23.cv3.0.2")) && !keep(&site("model.22.cv2.0.2")));
        let keep = matcher(&[Fp32Rule::Box, "model.1".parse().unwrap()], &spec);
        assert!(keep(&site("model.23.cv2.0.0.conv")) && keep(&site("model.1.conv")));
        assert!(!keep(&site("model.10.cv1.conv")) && !keep(&site("model.0.conv")));
        assert!("bogus".parse::<Fp32Rule>().is_err());
    }
}
