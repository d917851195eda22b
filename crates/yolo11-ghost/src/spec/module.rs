//! The modules this engine implements, with their constructor arguments resolved.
//!
//! `parse_model` ends every row by calling the module's Python constructor with a positional
//! argument list; [`ModuleSpec::from_args`] does the same against the constructors' signatures
//! (defaults included), checked in Ultralytics 8.4 `nn/modules/{conv,block,head}.py`.

use super::value::ArgValue;
use crate::error::{Result, YoloError};

/// A module name a YAML row may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ModuleKind {
    /// `Conv`: conv + BN + SiLU.
    Conv,
    /// `DWConv`: Conv with `groups = gcd(c1, c2)`.
    DWConv,
    /// `GhostConv`: Conv to c2/2 then a 5x5 depthwise Conv, concatenated.
    GhostConv,
    /// `Bottleneck`: two Convs and an optional residual.
    Bottleneck,
    /// `C2f`: split, chained Bottlenecks, concat, 1x1.
    C2f,
    /// `C3`: CSP bottleneck with three Convs.
    C3,
    /// `C3k2`: C2f whose inner blocks are Bottleneck, C3k, or Bottleneck + PSABlock.
    C3k2,
    /// `C3Ghost`: C3 with GhostBottlenecks.
    C3Ghost,
    /// Ultralytics' `GhostBottleneck` (not GhostNet's).
    GhostBottleneck,
    /// `SPPF`: 1x1, three chained 5x5 max pools, concat, 1x1.
    Sppf,
    /// `C2PSA`: split, PSABlocks (attention + FFN), concat, 1x1.
    C2psa,
    /// `nn.Upsample` (nearest, integer factor).
    Upsample,
    /// `Concat` along channels.
    Concat,
    /// `Detect`: DFL box branch + class branch, decoded.
    Detect,
    /// GhostNet V1 feature extractor (stride 4/8/16/32 outputs).
    GhostNet,
    /// `Index`: picks one output of a multi-output backbone.
    Index,
}

impl ModuleKind {
    /// Every supported kind, for error messages.
    pub const ALL: [ModuleKind; 16] = [
        ModuleKind::Conv,
        ModuleKind::DWConv,
        ModuleKind::GhostConv,
        ModuleKind::Bottleneck,
        ModuleKind::C2f,
        ModuleKind::C3,
        ModuleKind::C3k2,
        ModuleKind::C3Ghost,
        ModuleKind::GhostBottleneck,
        ModuleKind::Sppf,
        ModuleKind::C2psa,
        ModuleKind::Upsample,
        ModuleKind::Concat,
        ModuleKind::Detect,
        ModuleKind::GhostNet,
        ModuleKind::Index,
    ];

    /// The name used in YAML rows.
    pub fn yaml_name(self) -> &'static str {
        match self {
            ModuleKind::Conv => "Conv",
            ModuleKind::DWConv => "DWConv",
            ModuleKind::GhostConv => "GhostConv",
            ModuleKind::Bottleneck => "Bottleneck",
            ModuleKind::C2f => "C2f",
            ModuleKind::C3 => "C3",
            ModuleKind::C3k2 => "C3k2",
            ModuleKind::C3Ghost => "C3Ghost",
            ModuleKind::GhostBottleneck => "GhostBottleneck",
            ModuleKind::Sppf => "SPPF",
            ModuleKind::C2psa => "C2PSA",
            ModuleKind::Upsample => "nn.Upsample",
            ModuleKind::Concat => "Concat",
            ModuleKind::Detect => "Detect",
            ModuleKind::GhostNet => "GhostNet",
            ModuleKind::Index => "Index",
        }
    }

    /// Looks a YAML module name up (`torch.nn.Upsample` is accepted for `nn.Upsample`).
    pub fn from_yaml_name(name: &str) -> Option<ModuleKind> {
        let name = name.strip_prefix("torch.").unwrap_or(name);
        ModuleKind::ALL.into_iter().find(|k| k.yaml_name() == name)
    }

    /// The Python type path Ultralytics prints in its layer table.
    pub fn python_type(self) -> &'static str {
        match self {
            ModuleKind::Conv => "ultralytics.nn.modules.conv.Conv",
            ModuleKind::DWConv => "ultralytics.nn.modules.conv.DWConv",
            ModuleKind::GhostConv => "ultralytics.nn.modules.conv.GhostConv",
            ModuleKind::Bottleneck => "ultralytics.nn.modules.block.Bottleneck",
            ModuleKind::C2f => "ultralytics.nn.modules.block.C2f",
            ModuleKind::C3 => "ultralytics.nn.modules.block.C3",
            ModuleKind::C3k2 => "ultralytics.nn.modules.block.C3k2",
            ModuleKind::C3Ghost => "ultralytics.nn.modules.block.C3Ghost",
            ModuleKind::GhostBottleneck => "ultralytics.nn.modules.block.GhostBottleneck",
            ModuleKind::Sppf => "ultralytics.nn.modules.block.SPPF",
            ModuleKind::C2psa => "ultralytics.nn.modules.block.C2PSA",
            ModuleKind::Upsample => "torch.nn.modules.upsampling.Upsample",
            ModuleKind::Concat => "ultralytics.nn.modules.conv.Concat",
            ModuleKind::Detect => "ultralytics.nn.modules.head.Detect",
            ModuleKind::GhostNet => "GhostNet",
            ModuleKind::Index => "ultralytics.nn.modules.conv.Index",
        }
    }

    /// Modules whose first argument is an output channel count scaled by width
    /// (`parse_model`'s `base_modules`).
    pub fn is_base(self) -> bool {
        matches!(
            self,
            ModuleKind::Conv
                | ModuleKind::DWConv
                | ModuleKind::GhostConv
                | ModuleKind::Bottleneck
                | ModuleKind::C2f
                | ModuleKind::C3
                | ModuleKind::C3k2
                | ModuleKind::C3Ghost
                | ModuleKind::GhostBottleneck
                | ModuleKind::Sppf
                | ModuleKind::C2psa
        )
    }

    /// Modules that take the repeat count as their third argument (`repeat_modules`).
    pub fn is_repeat(self) -> bool {
        matches!(
            self,
            ModuleKind::C2f
                | ModuleKind::C3
                | ModuleKind::C3k2
                | ModuleKind::C3Ghost
                | ModuleKind::C2psa
        )
    }

    /// Comma-separated list of supported names.
    pub fn supported_list() -> String {
        ModuleKind::ALL.map(|k| k.yaml_name()).join(", ")
    }
}

/// Ultralytics `Conv` / `DWConv` arguments (dilation must be 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvArgs {
    /// Input channels.
    pub c1: usize,
    /// Output channels.
    pub c2: usize,
    /// Square kernel size.
    pub k: usize,
    /// Stride.
    pub s: usize,
    /// Padding (autopad `k // 2` when the YAML gives `None`).
    pub p: usize,
    /// Groups.
    pub g: usize,
    /// SiLU when true, identity when false.
    pub act: bool,
}

impl ConvArgs {
    /// A `Conv(c1, c2, k, s)` with autopad, groups 1, and the given activation.
    pub fn new(c1: usize, c2: usize, k: usize, s: usize, act: bool) -> ConvArgs {
        ConvArgs {
            c1,
            c2,
            k,
            s,
            p: k / 2,
            g: 1,
            act,
        }
    }

    /// The same conv with `groups` set.
    pub fn groups(mut self, g: usize) -> ConvArgs {
        self.g = g;
        self
    }

    /// Output size for an input size along one axis (PyTorch's floor rule).
    pub fn out_len(&self, len: usize) -> Option<usize> {
        (len + 2 * self.p)
            .checked_sub(self.k)
            .map(|v| v / self.s + 1)
    }
}

/// `GhostConv(c1, c2, k, s, g, act)` arguments.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GhostConvArgs {
    /// Input channels.
    pub c1: usize,
    /// Output channels (the primary half is `c2 / 2`).
    pub c2: usize,
    /// Primary conv kernel.
    pub k: usize,
    /// Primary conv stride.
    pub s: usize,
    /// Primary conv groups.
    pub g: usize,
    /// SiLU on both halves.
    pub act: bool,
}

/// `Bottleneck(c1, c2, shortcut, g, k, e)` arguments.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BottleneckArgs {
    /// Input channels.
    pub c1: usize,
    /// Output channels.
    pub c2: usize,
    /// Residual add requested (applied only when `c1 == c2`).
    pub shortcut: bool,
    /// Groups of the second conv.
    pub g: usize,
    /// Kernel sizes of cv1 and cv2.
    pub k: (usize, usize),
    /// Hidden channel ratio.
    pub e: f64,
}

/// Arguments shared by the CSP family `C2f`, `C3`, `C3Ghost`: `(c1, c2, n, shortcut, g, e)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CspArgs {
    /// Input channels.
    pub c1: usize,
    /// Output channels.
    pub c2: usize,
    /// Inner block count.
    pub n: usize,
    /// Residual adds in the inner blocks.
    pub shortcut: bool,
    /// Groups.
    pub g: usize,
    /// Hidden channel ratio.
    pub e: f64,
}

/// `C3k2(c1, c2, n, c3k, e, attn, g, shortcut)` arguments.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct C3k2Args {
    /// Input channels.
    pub c1: usize,
    /// Output channels.
    pub c2: usize,
    /// Inner block count.
    pub n: usize,
    /// Inner blocks are C3k (forced true at scales m/l/x).
    pub c3k: bool,
    /// Hidden channel ratio.
    pub e: f64,
    /// Inner blocks are Bottleneck + PSABlock.
    pub attn: bool,
    /// Groups.
    pub g: usize,
    /// Residual adds in the inner blocks.
    pub shortcut: bool,
}

/// Ultralytics `GhostBottleneck(c1, c2, k, s)` arguments.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GhostBottleneckArgs {
    /// Input channels.
    pub c1: usize,
    /// Output channels.
    pub c2: usize,
    /// Depthwise kernel.
    pub k: usize,
    /// Stride (1 or 2).
    pub s: usize,
}

/// `SPPF(c1, c2, k, n, shortcut)` arguments.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SppfArgs {
    /// Input channels.
    pub c1: usize,
    /// Output channels.
    pub c2: usize,
    /// Pool kernel.
    pub k: usize,
    /// Number of chained pools.
    pub n: usize,
    /// Residual add (only when `c1 == c2`).
    pub shortcut: bool,
    /// `cv1` has SiLU: `parse_model` restores it for rows with at most `[c2, k]` arguments
    /// (legacy YOLOv5..11 rows); newer rows get the unactivated YOLO26 `cv1`.
    pub cv1_act: bool,
}

/// `C2PSA(c1, c2, n, e)` arguments.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct C2psaArgs {
    /// Input = output channels.
    pub c1: usize,
    /// PSABlock count.
    pub n: usize,
    /// Hidden channel ratio.
    pub e: f64,
}

/// `Detect(nc, reg_max, end2end, ch)` arguments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DetectArgs {
    /// Number of classes.
    pub nc: usize,
    /// DFL bins per box side.
    pub reg_max: usize,
    /// Input channels per level.
    pub ch: Vec<usize>,
    /// Legacy (YOLOv8) class branch with dense 3x3 convs; false once any C3k2 row precedes
    /// the head (`parse_model` sets `Detect.legacy`).
    pub legacy: bool,
}

impl DetectArgs {
    /// Hidden widths of the box branch (`c2 = max(16, ch[0] // 4, 4 * reg_max)`) and the class
    /// branch (`c3 = max(ch[0], min(nc, 100))`), as `Detect.__init__` computes them.
    pub fn hidden(&self) -> (usize, usize) {
        let ch0 = self.ch[0];
        (
            16.max(ch0 / 4).max(self.reg_max * 4),
            ch0.max(self.nc.min(100)),
        )
    }
}

/// A module with its constructor arguments resolved.
#[derive(Clone, Debug, PartialEq)]
pub enum ModuleSpec {
    /// `Conv`.
    Conv(ConvArgs),
    /// `DWConv`.
    DWConv(ConvArgs),
    /// `GhostConv`.
    GhostConv(GhostConvArgs),
    /// `Bottleneck`.
    Bottleneck(BottleneckArgs),
    /// `C2f`.
    C2f(CspArgs),
    /// `C3`.
    C3(CspArgs),
    /// `C3k2`.
    C3k2(C3k2Args),
    /// `C3Ghost`.
    C3Ghost(CspArgs),
    /// Ultralytics `GhostBottleneck`.
    GhostBottleneck(GhostBottleneckArgs),
    /// `SPPF`.
    Sppf(SppfArgs),
    /// `C2PSA`.
    C2psa(C2psaArgs),
    /// Nearest upsampling by an integer factor.
    Upsample {
        /// Channels (passed through).
        c: usize,
        /// Scale factor.
        factor: usize,
    },
    /// Channel concatenation of the inputs.
    Concat {
        /// Channels of each input, in order.
        ch: Vec<usize>,
    },
    /// Detection head.
    Detect(DetectArgs),
    /// GhostNet V1 backbone producing `[P2, P3, P4, P5]`.
    GhostNet {
        /// Effective width (YAML width times the scale's width multiple).
        width: f64,
        /// Output channels of the four feature levels.
        channels: [usize; 4],
    },
    /// Picks backbone output `index` (0 = stride 4 ... 3 = stride 32).
    Index {
        /// Output number.
        index: usize,
        /// Its channels.
        channels: usize,
    },
}

/// Positional arguments of one constructor call, read against a Python signature.
pub(crate) struct CallArgs<'a> {
    pub row: usize,
    pub module: &'static str,
    pub args: &'a [ArgValue],
    /// Parameter names in order (for messages and arity checks).
    pub names: &'static [&'static str],
}

impl CallArgs<'_> {
    fn bad(&self, idx: usize, expected: &str) -> YoloError {
        YoloError::BadArg {
            row: self.row,
            module: self.module.to_string(),
            arg: self.names.get(idx).copied().unwrap_or("?").to_string(),
            expected: expected.to_string(),
            found: self
                .args
                .get(idx)
                .map_or_else(|| "nothing".to_string(), ArgValue::describe),
        }
    }

    /// Fails when more arguments were given than the signature has.
    pub fn check_arity(&self) -> Result<()> {
        if self.args.len() > self.names.len() {
            return Err(YoloError::Row {
                row: self.row,
                module: self.module.to_string(),
                message: format!(
                    "takes at most {} arguments ({}), got {}",
                    self.names.len(),
                    self.names.join(", "),
                    self.args.len()
                ),
            });
        }
        Ok(())
    }

    /// A positive integer (channel count, kernel, stride, groups, repeats).
    pub fn positive(&self, idx: usize, default: Option<usize>) -> Result<usize> {
        match self.args.get(idx) {
            None => default.ok_or_else(|| self.bad(idx, "a positive integer")),
            Some(v) => match v.as_int() {
                Some(i) if (1..=super::MAX_INT).contains(&i) => Ok(i as usize),
                _ => Err(self.bad(idx, "a positive integer up to 65536")),
            },
        }
    }

    /// A flag.
    pub fn flag(&self, idx: usize, default: bool) -> Result<bool> {
        match self.args.get(idx) {
            None => Ok(default),
            Some(v) => v.as_bool().ok_or_else(|| self.bad(idx, "True or False")),
        }
    }

    /// An expansion ratio in (0, [`MAX_RATIO`]].
    pub fn ratio(&self, idx: usize, default: f64) -> Result<f64> {
        match self.args.get(idx) {
            None => Ok(default),
            Some(v) => match v.as_float() {
                Some(f) if f > 0.0 && f <= MAX_RATIO => Ok(f),
                _ => Err(self.bad(idx, &format!("a number in (0, {MAX_RATIO}]"))),
            },
        }
    }

    /// Padding: `None` means autopad `k // 2`.
    pub fn padding(&self, idx: usize, k: usize) -> Result<usize> {
        match self.args.get(idx) {
            None | Some(ArgValue::None) => Ok(k / 2),
            Some(v) => match v.as_int() {
                Some(i) if (0..=super::MAX_INT).contains(&i) => Ok(i as usize),
                _ => Err(self.bad(
                    idx,
                    &format!("None or an integer from 0 to {}", super::MAX_INT),
                )),
            },
        }
    }

    /// Must equal `expected` (an argument this engine only supports at its default).
    pub fn require_int(&self, idx: usize, expected: i64, what: &str) -> Result<()> {
        match self.args.get(idx) {
            None => Ok(()),
            Some(v) if v.as_int() == Some(expected) => Ok(()),
            Some(_) => Err(self.bad(idx, what)),
        }
    }

    /// A Bottleneck kernel pair `[k1, k2]` (each square).
    pub fn kernel_pair(&self, idx: usize, default: (usize, usize)) -> Result<(usize, usize)> {
        match self.args.get(idx) {
            None => Ok(default),
            Some(ArgValue::List(items)) if items.len() == 2 => {
                let get = |v: &ArgValue| {
                    v.as_int()
                        .filter(|i| (1..=super::MAX_INT).contains(i))
                        .map(|i| i as usize)
                };
                match (get(&items[0]), get(&items[1])) {
                    (Some(a), Some(b)) => Ok((a, b)),
                    _ => Err(self.bad(idx, "a pair of positive integers [k1, k2]")),
                }
            }
            Some(_) => Err(self.bad(idx, "a pair of positive integers [k1, k2]")),
        }
    }
}

/// The largest expansion ratio (`e`) a module accepts. Ultralytics uses 0.25 to 1; a ratio of
/// 1e300 made `int(c * e)` saturate to `usize::MAX` hidden channels. With at most 2^16 channels
/// times 64, hidden widths stay below 2^22, and the model-size guard refuses what is too big.
pub const MAX_RATIO: f64 = 64.0;

/// Python `int(c * e)`: truncation toward zero.
pub fn hidden_channels(c: usize, e: f64) -> usize {
    (c as f64 * e) as usize
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

impl ModuleSpec {
    /// Builds a base module from the argument list `parse_model` passes to the constructor
    /// (`[c1, c2, (n,) ...]`). `legacy_sppf_act` is whether `parse_model` restored `cv1`'s SiLU.
    pub(crate) fn from_base_args(
        kind: ModuleKind,
        row: usize,
        args: &[ArgValue],
    ) -> Result<ModuleSpec> {
        let module = kind.yaml_name();
        let call = |names: &'static [&'static str]| CallArgs {
            row,
            module,
            args,
            names,
        };
        Ok(match kind {
            ModuleKind::Conv => {
                let a = call(&["c1", "c2", "k", "s", "p", "g", "d", "act"]);
                a.check_arity()?;
                let k = a.positive(2, Some(1))?;
                a.require_int(6, 1, "dilation 1 (dilated convs are not supported)")?;
                let act = match args.get(7) {
                    None => true,
                    Some(v) => v.as_bool().ok_or_else(|| {
                        a.bad(7, "True or False (custom activations are not supported)")
                    })?,
                };
                ModuleSpec::Conv(ConvArgs {
                    c1: a.positive(0, None)?,
                    c2: a.positive(1, None)?,
                    k,
                    s: a.positive(3, Some(1))?,
                    p: a.padding(4, k)?,
                    g: a.positive(5, Some(1))?,
                    act,
                })
            }
            ModuleKind::DWConv => {
                let a = call(&["c1", "c2", "k", "s", "d", "act"]);
                a.check_arity()?;
                let (c1, c2) = (a.positive(0, None)?, a.positive(1, None)?);
                let k = a.positive(2, Some(1))?;
                a.require_int(4, 1, "dilation 1 (dilated convs are not supported)")?;
                ModuleSpec::DWConv(ConvArgs {
                    c1,
                    c2,
                    k,
                    s: a.positive(3, Some(1))?,
                    p: k / 2,
                    g: gcd(c1, c2),
                    act: a.flag(5, true)?,
                })
            }
            ModuleKind::GhostConv => {
                let a = call(&["c1", "c2", "k", "s", "g", "act"]);
                a.check_arity()?;
                ModuleSpec::GhostConv(GhostConvArgs {
                    c1: a.positive(0, None)?,
                    c2: a.positive(1, None)?,
                    k: a.positive(2, Some(1))?,
                    s: a.positive(3, Some(1))?,
                    g: a.positive(4, Some(1))?,
                    act: a.flag(5, true)?,
                })
            }
            ModuleKind::Bottleneck => {
                let a = call(&["c1", "c2", "shortcut", "g", "k", "e"]);
                a.check_arity()?;
                ModuleSpec::Bottleneck(BottleneckArgs {
                    c1: a.positive(0, None)?,
                    c2: a.positive(1, None)?,
                    shortcut: a.flag(2, true)?,
                    g: a.positive(3, Some(1))?,
                    k: a.kernel_pair(4, (3, 3))?,
                    e: a.ratio(5, 0.5)?,
                })
            }
            ModuleKind::C2f | ModuleKind::C3 | ModuleKind::C3Ghost => {
                let a = call(&["c1", "c2", "n", "shortcut", "g", "e"]);
                a.check_arity()?;
                let csp = CspArgs {
                    c1: a.positive(0, None)?,
                    c2: a.positive(1, None)?,
                    n: a.positive(2, Some(1))?,
                    shortcut: a.flag(3, kind != ModuleKind::C2f)?,
                    g: a.positive(4, Some(1))?,
                    e: a.ratio(5, 0.5)?,
                };
                match kind {
                    ModuleKind::C2f => ModuleSpec::C2f(csp),
                    ModuleKind::C3 => ModuleSpec::C3(csp),
                    _ => ModuleSpec::C3Ghost(csp),
                }
            }
            ModuleKind::C3k2 => {
                let a = call(&["c1", "c2", "n", "c3k", "e", "attn", "g", "shortcut"]);
                a.check_arity()?;
                ModuleSpec::C3k2(C3k2Args {
                    c1: a.positive(0, None)?,
                    c2: a.positive(1, None)?,
                    n: a.positive(2, Some(1))?,
                    c3k: a.flag(3, false)?,
                    e: a.ratio(4, 0.5)?,
                    attn: a.flag(5, false)?,
                    g: a.positive(6, Some(1))?,
                    shortcut: a.flag(7, true)?,
                })
            }
            ModuleKind::GhostBottleneck => {
                let a = call(&["c1", "c2", "k", "s"]);
                a.check_arity()?;
                let s = a.positive(3, Some(1))?;
                if s > 2 {
                    return Err(a.bad(3, "stride 1 or 2"));
                }
                ModuleSpec::GhostBottleneck(GhostBottleneckArgs {
                    c1: a.positive(0, None)?,
                    c2: a.positive(1, None)?,
                    k: a.positive(2, Some(3))?,
                    s,
                })
            }
            ModuleKind::Sppf => {
                let a = call(&["c1", "c2", "k", "n", "shortcut"]);
                a.check_arity()?;
                ModuleSpec::Sppf(SppfArgs {
                    c1: a.positive(0, None)?,
                    c2: a.positive(1, None)?,
                    k: a.positive(2, Some(5))?,
                    n: a.positive(3, Some(3))?,
                    shortcut: a.flag(4, false)?,
                    cv1_act: args.len() <= 3,
                })
            }
            ModuleKind::C2psa => {
                let a = call(&["c1", "c2", "n", "e"]);
                a.check_arity()?;
                let (c1, c2) = (a.positive(0, None)?, a.positive(1, None)?);
                if c1 != c2 {
                    return Err(YoloError::Row {
                        row,
                        module: module.to_string(),
                        message: format!(
                            "C2PSA needs input channels == output channels, got {c1} -> {c2}"
                        ),
                    });
                }
                ModuleSpec::C2psa(C2psaArgs {
                    c1,
                    n: a.positive(2, Some(1))?,
                    e: a.ratio(3, 0.5)?,
                })
            }
            _ => unreachable!("from_base_args called for a non-base module"),
        })
    }

    /// The module's kind.
    pub fn kind(&self) -> ModuleKind {
        match self {
            ModuleSpec::Conv(_) => ModuleKind::Conv,
            ModuleSpec::DWConv(_) => ModuleKind::DWConv,
            ModuleSpec::GhostConv(_) => ModuleKind::GhostConv,
            ModuleSpec::Bottleneck(_) => ModuleKind::Bottleneck,
            ModuleSpec::C2f(_) => ModuleKind::C2f,
            ModuleSpec::C3(_) => ModuleKind::C3,
            ModuleSpec::C3k2(_) => ModuleKind::C3k2,
            ModuleSpec::C3Ghost(_) => ModuleKind::C3Ghost,
            ModuleSpec::GhostBottleneck(_) => ModuleKind::GhostBottleneck,
            ModuleSpec::Sppf(_) => ModuleKind::Sppf,
            ModuleSpec::C2psa(_) => ModuleKind::C2psa,
            ModuleSpec::Upsample { .. } => ModuleKind::Upsample,
            ModuleSpec::Concat { .. } => ModuleKind::Concat,
            ModuleSpec::Detect(_) => ModuleKind::Detect,
            ModuleSpec::GhostNet { .. } => ModuleKind::GhostNet,
            ModuleSpec::Index { .. } => ModuleKind::Index,
        }
    }

    /// Input channels of a single-input module.
    pub fn in_channels(&self) -> Option<usize> {
        Some(match self {
            ModuleSpec::Conv(a) | ModuleSpec::DWConv(a) => a.c1,
            ModuleSpec::GhostConv(a) => a.c1,
            ModuleSpec::Bottleneck(a) => a.c1,
            ModuleSpec::C2f(a) | ModuleSpec::C3(a) | ModuleSpec::C3Ghost(a) => a.c1,
            ModuleSpec::C3k2(a) => a.c1,
            ModuleSpec::GhostBottleneck(a) => a.c1,
            ModuleSpec::Sppf(a) => a.c1,
            ModuleSpec::C2psa(a) => a.c1,
            ModuleSpec::Upsample { c, .. } => *c,
            _ => return None,
        })
    }

    /// Output channels of one copy of the module (0 for GhostNet's list and Detect).
    pub fn out_channels(&self) -> usize {
        match self {
            ModuleSpec::Conv(a) | ModuleSpec::DWConv(a) => a.c2,
            ModuleSpec::GhostConv(a) => a.c2,
            ModuleSpec::Bottleneck(a) => a.c2,
            ModuleSpec::C2f(a) | ModuleSpec::C3(a) | ModuleSpec::C3Ghost(a) => a.c2,
            ModuleSpec::C3k2(a) => a.c2,
            ModuleSpec::GhostBottleneck(a) => a.c2,
            ModuleSpec::Sppf(a) => a.c2,
            ModuleSpec::C2psa(a) => a.c1,
            ModuleSpec::Upsample { c, .. } => *c,
            ModuleSpec::Concat { ch } => ch.iter().sum(),
            ModuleSpec::Index { channels, .. } => *channels,
            ModuleSpec::Detect(_) | ModuleSpec::GhostNet { .. } => 0,
        }
    }

    /// Spatial stride of one copy (output pixel = `stride` input pixels); `None` for modules
    /// that enlarge (Upsample) or have several outputs.
    pub fn stride(&self) -> usize {
        match self {
            ModuleSpec::Conv(a) | ModuleSpec::DWConv(a) => a.s,
            ModuleSpec::GhostConv(a) => a.s,
            ModuleSpec::GhostBottleneck(a) => a.s,
            _ => 1,
        }
    }
}
