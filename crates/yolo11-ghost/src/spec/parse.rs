//! `parse_model`: raw YAML rows -> resolved layers, following Ultralytics 8.4 `nn/tasks.py`.

use super::module::{DetectArgs, ModuleKind, ModuleSpec};
use super::scale::Scale;
use super::value::ArgValue;
use super::yaml::{LayerFrom, RawModel, RawRow};
use super::{LayerSpec, ModelSpec, Source, GHOSTNET_OUTPUTS};
use crate::error::{Result, YoloError};

/// Scales at which `parse_model` forces `c3k=True` on every C3k2 row.
const C3K_SCALES: [&str; 3] = ["m", "l", "x"];

/// Runs the parse on `raw` at `scale` (a key of its `scales` table, or `None` for the first one /
/// for YAMLs without a table). `nc_override` replaces the YAML's `nc` (e.g. from the weights).
pub fn parse_model(
    raw: &RawModel,
    scale: Option<&str>,
    nc_override: Option<usize>,
    name: &str,
) -> Result<ModelSpec> {
    let (scale_name, scale_rule) = pick_scale(raw, scale)?;
    let nc = match nc_override {
        Some(nc) => nc as i64,
        None => raw.nc.unwrap_or(80),
    };
    if !(1..=super::MAX_INT).contains(&nc) {
        return Err(YoloError::ModelYaml {
            source_name: raw.source_name.clone(),
            message: format!("nc must be between 1 and {}, found {nc}", super::MAX_INT),
        });
    }
    if raw.end2end {
        return Err(YoloError::ModelYaml {
            source_name: raw.source_name.clone(),
            message: "end2end (one-to-one) heads are not supported".into(),
        });
    }

    let mut state = ParseState {
        nc,
        reg_max: raw.reg_max,
        scale: scale_rule,
        scale_name: scale_name.clone(),
        legacy: true,
        ch: Vec::new(),
        layers: Vec::new(),
        input_channels: raw.channels as usize,
    };
    let mut rows = raw.rows.iter().peekable();
    while let Some(row) = rows.next() {
        let kind = ModuleKind::from_yaml_name(&row.module).ok_or_else(|| {
            YoloError::UnsupportedModule {
                row: state.layers.len(),
                module: row.module.clone(),
                supported: ModuleKind::supported_list(),
            }
        })?;
        if kind == ModuleKind::GhostNet {
            state.ghostnet(row)?;
            // Native multi-output form: the next four rows are `[0, 1, Index, [c, k]]`.
            let native = rows.peek().is_some_and(|r| r.module == "Index");
            for level in 0..GHOSTNET_OUTPUTS {
                if native {
                    let Some(index_row) = rows.next().filter(|r| r.module == "Index") else {
                        return Err(YoloError::Row {
                            row: state.layers.len(),
                            module: "Index".into(),
                            message: format!(
                                "a GhostNet row followed by Index rows needs exactly {GHOSTNET_OUTPUTS} of them \
                                 ([0, 1, Index, [channels, k]], k = 0..3)"
                            ),
                        });
                    };
                    state.index_row(index_row)?;
                } else {
                    state.synthetic_index(level);
                }
            }
        } else {
            state.row(kind, row)?;
        }
    }
    let spec = ModelSpec {
        name: name.to_string(),
        source_name: raw.source_name.clone(),
        scale: scale_name,
        scale_rule,
        nc: nc as usize,
        reg_max: raw.reg_max as usize,
        input_channels: raw.channels as usize,
        layers: state.layers,
        raw: raw.clone(),
    };
    spec.validate()?;
    Ok(spec)
}

fn pick_scale(raw: &RawModel, asked: Option<&str>) -> Result<(Option<String>, Scale)> {
    let asked = asked.map(str::to_string).or_else(|| raw.scale.clone());
    if raw.scales.is_empty() {
        // No table: depth_multiple / width_multiple, unbounded channels. The scale letter still
        // matters for the C3k2 rule, as in Ultralytics (it is guessed from the file name there).
        return Ok((
            asked,
            Scale {
                depth: raw.depth_multiple,
                width: raw.width_multiple,
                max_channels: None,
            },
        ));
    }
    let (name, rule) = match asked {
        None => raw.scales[0].clone(),
        Some(s) => raw
            .scales
            .iter()
            .find(|(k, _)| *k == s)
            .cloned()
            .ok_or_else(|| YoloError::UnknownScale {
                source_name: raw.source_name.clone(),
                scale: s.clone(),
                available: raw
                    .scales
                    .iter()
                    .map(|(k, _)| k.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })?,
    };
    Ok((Some(name), rule))
}

struct ParseState {
    nc: i64,
    reg_max: i64,
    scale: Scale,
    scale_name: Option<String>,
    legacy: bool,
    /// Output channels per layer (`parse_model`'s `ch` after the first row).
    ch: Vec<usize>,
    layers: Vec<LayerSpec>,
    input_channels: usize,
}

impl ParseState {
    fn index(&self) -> usize {
        self.layers.len()
    }

    fn row_err(&self, module: &str, message: impl Into<String>) -> YoloError {
        YoloError::Row {
            row: self.index(),
            module: module.to_string(),
            message: message.into(),
        }
    }

    /// Resolves one `from` entry to a source, rejecting forward and out-of-range references.
    fn source(&self, module: &str, f: i64) -> Result<Source> {
        let i = self.index();
        let bad = |reason: String| YoloError::BadFrom {
            row: i,
            module: module.to_string(),
            from: f,
            reason,
        };
        if i == 0 {
            return if f == -1 {
                Ok(Source::Image)
            } else {
                Err(bad(
                    "the first layer can only read the input image (-1)".into()
                ))
            };
        }
        let abs = if f < 0 { i as i64 + f } else { f };
        if f >= i as i64 {
            return Err(bad(format!(
                "layer {f} is not computed before layer {i} (forward reference)"
            )));
        }
        if abs < 0 {
            return Err(bad(format!("only {i} layers precede this one")));
        }
        let abs = abs as usize;
        if matches!(
            self.layers[abs].module,
            ModuleSpec::GhostNet { .. } | ModuleSpec::Detect(_)
        ) {
            return Err(bad(format!(
                "layer {abs} ({}) has no single tensor output{}",
                self.layers[abs].module.kind().yaml_name(),
                if matches!(self.layers[abs].module, ModuleSpec::GhostNet { .. }) {
                    "; read its outputs through layers 1-4"
                } else {
                    ""
                }
            )));
        }
        Ok(Source::Layer(abs))
    }

    fn channels_of(&self, s: Source) -> usize {
        match s {
            Source::Image => self.input_channels,
            Source::Layer(i) => self.ch[i],
        }
    }

    fn single_source(&self, row: &RawRow) -> Result<(Source, i64)> {
        match &row.from {
            LayerFrom::One(f) => Ok((self.source(&row.module, *f)?, *f)),
            LayerFrom::Many(_) => Err(self.row_err(
                &row.module,
                format!(
                    "`from` must be a single index for {}, found {}",
                    row.module, row.from
                ),
            )),
        }
    }

    fn many_sources(&self, row: &RawRow) -> Result<Vec<Source>> {
        match &row.from {
            LayerFrom::Many(list) if !list.is_empty() => {
                list.iter().map(|f| self.source(&row.module, *f)).collect()
            }
            _ => Err(self.row_err(
                &row.module,
                format!(
                    "`from` must be a non-empty list of indices for {}, found {}",
                    row.module, row.from
                ),
            )),
        }
    }

    /// Replaces names of `parse_model` locals by their values (`nc`, `reg_max`).
    fn resolve_names(&self, args: &[ArgValue]) -> Vec<ArgValue> {
        args.iter()
            .map(|a| match a {
                ArgValue::Str(s) if s == "nc" => ArgValue::Int(self.nc),
                ArgValue::Str(s) if s == "reg_max" => ArgValue::Int(self.reg_max),
                other => other.clone(),
            })
            .collect()
    }

    fn push(&mut self, layer: LayerSpec, out_channels: usize) {
        self.ch.push(out_channels);
        self.layers.push(layer);
    }

    fn row(&mut self, kind: ModuleKind, row: &RawRow) -> Result<()> {
        let i = self.index();
        let module = kind.yaml_name();
        if kind == ModuleKind::Index {
            return Err(self.row_err(module, "Index rows must directly follow a GhostNet row"));
        }
        let args = self.resolve_names(&row.args);
        let n = self.scale.repeats(row.repeats);
        // Repeats <= MAX_INT and the depth multiple <= MAX_MULTIPLE keep this finite; the bound
        // keeps the layer count (one copy per repeat) as bounded as every other size.
        if !(1..=super::MAX_INT).contains(&n) {
            return Err(self.row_err(
                module,
                format!(
                    "{} repeats after the depth multiple, more than {}",
                    n,
                    super::MAX_INT
                ),
            ));
        }
        let repeats_shown = n as usize;
        let mut copies = n as usize;
        let (inputs, module_spec, shown_args, c2) = if kind.is_base() {
            let (src, _) = self.single_source(row)?;
            let c1 = self.channels_of(src);
            let c2_raw = args
                .first()
                .and_then(ArgValue::as_int)
                .filter(|c| *c >= 1)
                .ok_or_else(|| YoloError::BadArg {
                    row: i,
                    module: module.to_string(),
                    arg: "c2".into(),
                    expected: "a positive integer (output channels)".into(),
                    found: args
                        .first()
                        .map_or_else(|| "nothing".into(), ArgValue::describe),
                })?;
            let c2 = self.scale.channels(c2_raw);
            if !(1..=super::MAX_INT).contains(&c2) {
                return Err(YoloError::BadArg {
                    row: i,
                    module: module.to_string(),
                    arg: "c2".into(),
                    expected: format!(
                        "1 to {} output channels after width scaling",
                        super::MAX_INT
                    ),
                    found: c2.to_string(),
                });
            }
            let mut full = vec![ArgValue::Int(c1 as i64), ArgValue::Int(c2)];
            full.extend(args.iter().skip(1).cloned());
            if kind.is_repeat() {
                full.insert(2, ArgValue::Int(n));
                copies = 1;
            }
            if kind == ModuleKind::C3k2 {
                self.legacy = false;
                if self
                    .scale_name
                    .as_deref()
                    .is_some_and(|s| C3K_SCALES.contains(&s))
                {
                    // `args[3:4] = [True]`: replaces c3k, or supplies it when the YAML omits it.
                    if full.len() > 3 {
                        full[3] = ArgValue::Bool(true);
                    } else {
                        full.push(ArgValue::Bool(true));
                    }
                }
            }
            let spec = ModuleSpec::from_base_args(kind, i, &full)?;
            if copies > 1 && spec.in_channels() != Some(spec.out_channels()) {
                return Err(self.row_err(
                    module,
                    format!(
                        "{copies} chained copies need input channels == output channels, got {c1} -> {c2}"
                    ),
                ));
            }
            if let ModuleSpec::Bottleneck(b) = &spec {
                if b.k.0 % 2 == 0 || b.k.1 % 2 == 0 {
                    return Err(YoloError::BadArg {
                        row: i,
                        module: module.to_string(),
                        arg: "k".into(),
                        expected: "odd kernel sizes".into(),
                        found: format!("{:?}", b.k),
                    });
                }
            }
            (vec![src], spec, full, c2 as usize)
        } else {
            match kind {
                ModuleKind::Upsample => {
                    let (src, _) = self.single_source(row)?;
                    let c = self.channels_of(src);
                    let factor = upsample_factor(i, &args)?;
                    (
                        vec![src],
                        ModuleSpec::Upsample { c, factor },
                        args.clone(),
                        c,
                    )
                }
                ModuleKind::Concat => {
                    let srcs = self.many_sources(row)?;
                    match args.as_slice() {
                        [] | [ArgValue::Int(1)] => {}
                        _ => {
                            return Err(YoloError::BadArg {
                                row: i,
                                module: module.into(),
                                arg: "dimension".into(),
                                expected: "1 (channel concatenation)".into(),
                                found: super::value::format_args_list(&args),
                            })
                        }
                    }
                    let ch: Vec<usize> = srcs.iter().map(|s| self.channels_of(*s)).collect();
                    let c2 = ch.iter().sum();
                    (srcs, ModuleSpec::Concat { ch }, args.clone(), c2)
                }
                ModuleKind::Detect => {
                    let srcs = self.many_sources(row)?;
                    if matches!(srcs.first(), Some(Source::Image)) {
                        return Err(self.row_err(module, "Detect cannot read the input image"));
                    }
                    let nc = match args.first() {
                        None => 80,
                        Some(v) => {
                            v.as_int()
                                .filter(|c| *c >= 1)
                                .ok_or_else(|| YoloError::BadArg {
                                    row: i,
                                    module: module.into(),
                                    arg: "nc".into(),
                                    expected: "a positive integer or `nc`".into(),
                                    found: v.describe(),
                                })?
                        }
                    };
                    if args.len() > 1 {
                        return Err(self.row_err(module, "Detect takes one argument, [nc]"));
                    }
                    let ch: Vec<usize> = srcs.iter().map(|s| self.channels_of(*s)).collect();
                    let mut shown = vec![ArgValue::Int(nc)];
                    shown.push(ArgValue::Int(self.reg_max));
                    shown.push(ArgValue::None);
                    shown.push(ArgValue::List(
                        ch.iter().map(|&c| ArgValue::Int(c as i64)).collect(),
                    ));
                    let spec = ModuleSpec::Detect(DetectArgs {
                        nc: nc as usize,
                        reg_max: self.reg_max as usize,
                        ch,
                        legacy: self.legacy,
                    });
                    copies = 1;
                    (srcs, spec, shown, 0)
                }
                _ => unreachable!("{kind:?} handled elsewhere"),
            }
        };
        if copies > 1 && !kind.is_base() {
            return Err(self.row_err(
                module,
                format!("{module} cannot be repeated ({} repeats)", row.repeats),
            ));
        }
        let layer = LayerSpec {
            index: i,
            from: row.from.clone(),
            inputs,
            repeats: repeats_shown,
            copies,
            module: module_spec,
            args: shown_args,
        };
        self.push(layer, c2);
        Ok(())
    }

    /// The GhostNet row itself (layer 0).
    fn ghostnet(&mut self, row: &RawRow) -> Result<()> {
        let module = "GhostNet";
        if self.index() != 0 {
            return Err(self.row_err(module, "GhostNet must be the first row of the backbone"));
        }
        if row.from != LayerFrom::One(-1) {
            return Err(YoloError::BadFrom {
                row: 0,
                module: module.into(),
                from: match &row.from {
                    LayerFrom::One(f) => *f,
                    LayerFrom::Many(v) => v.first().copied().unwrap_or(0),
                },
                reason: "GhostNet reads the input image: `from` must be -1".into(),
            });
        }
        if row.repeats != 1 {
            return Err(self.row_err(module, "GhostNet cannot be repeated"));
        }
        if self.input_channels != 3 {
            return Err(self.row_err(
                module,
                format!(
                    "GhostNet takes 3 input channels, the YAML sets channels: {}",
                    self.input_channels
                ),
            ));
        }
        let base_width = match row.args.as_slice() {
            [] => 1.0,
            [w] => w
                .as_float()
                .filter(|w| *w > 0.0 && w.is_finite())
                .ok_or_else(|| YoloError::BadArg {
                    row: 0,
                    module: module.into(),
                    arg: "width".into(),
                    expected: "a positive number".into(),
                    found: w.describe(),
                })?,
            _ => return Err(self.row_err(module, "GhostNet takes one argument, [width]")),
        };
        let width = base_width * self.scale.width;
        // GhostNet's widest layer has 1280 * width channels (its last 1x1 conv is 960 wide at
        // width 1; the cap leaves room for any real width and refuses absurd ones).
        if !(width.is_finite() && width * 1280.0 <= super::MAX_INT as f64) {
            return Err(YoloError::BadArg {
                row: 0,
                module: module.into(),
                arg: "width".into(),
                expected: format!("a width up to {} after scaling", super::MAX_INT / 1280),
                found: width.to_string(),
            });
        }
        let channels = super::ghostnet_channels(width);
        let layer = LayerSpec {
            index: 0,
            from: row.from.clone(),
            inputs: vec![Source::Image],
            repeats: 1,
            copies: 1,
            module: ModuleSpec::GhostNet { width, channels },
            args: vec![ArgValue::Float(width)],
        };
        // `parse_model` gives an unknown module `c2 = ch[f]`; nothing may read it anyway.
        self.push(layer, 0);
        Ok(())
    }

    fn ghostnet_channels(&self) -> [usize; 4] {
        match self.layers[0].module {
            ModuleSpec::GhostNet { channels, .. } => channels,
            _ => unreachable!("layer 0 is GhostNet when Index rows are parsed"),
        }
    }

    /// A synthesized `[0, 1, Index, [channels, level]]` layer (single-row GhostNet form).
    fn synthetic_index(&mut self, level: usize) {
        let channels = self.ghostnet_channels()[level];
        let layer = LayerSpec {
            index: self.index(),
            from: LayerFrom::One(0),
            inputs: vec![Source::Layer(0)],
            repeats: 1,
            copies: 1,
            module: ModuleSpec::Index {
                index: level,
                channels,
            },
            args: vec![ArgValue::Int(level as i64)],
        };
        self.push(layer, channels);
    }

    /// A written `[0, 1, Index, [channels, k]]` row (native multi-output form).
    fn index_row(&mut self, row: &RawRow) -> Result<()> {
        let i = self.index();
        let module = "Index";
        if row.from != LayerFrom::One(0) || row.repeats != 1 {
            return Err(self.row_err(module, format!("expected [0, 1, Index, [channels, k]] after the GhostNet row, found from {} repeats {}", row.from, row.repeats)));
        }
        let args = self.resolve_names(&row.args);
        let bad = |arg: &str, expected: &str, found: Option<&ArgValue>| YoloError::BadArg {
            row: i,
            module: module.into(),
            arg: arg.into(),
            expected: expected.into(),
            found: found.map_or_else(|| "nothing".into(), ArgValue::describe),
        };
        let channels =
            args.first()
                .and_then(ArgValue::as_int)
                .filter(|c| *c >= 1)
                .ok_or_else(|| bad("c2", "a positive integer", args.first()))? as usize;
        let level = match args.get(1) {
            None => 0,
            Some(v) => v
                .as_int()
                .filter(|k| (0..GHOSTNET_OUTPUTS as i64).contains(k))
                .ok_or_else(|| bad("index", "0, 1, 2 or 3", Some(v)))?,
        } as usize;
        if args.len() > 2 {
            return Err(self.row_err(module, "Index takes [channels, k]"));
        }
        let actual = self.ghostnet_channels()[level];
        if channels != actual {
            return Err(bad(
                "c2",
                &format!("{actual} (GhostNet output {level} has {actual} channels at this width)"),
                args.first(),
            ));
        }
        let layer = LayerSpec {
            index: i,
            from: row.from.clone(),
            inputs: vec![Source::Layer(0)],
            repeats: 1,
            copies: 1,
            module: ModuleSpec::Index {
                index: level,
                channels,
            },
            args: vec![ArgValue::Int(level as i64)],
        };
        self.push(layer, channels);
        Ok(())
    }
}

/// `nn.Upsample(size=None, scale_factor, mode="nearest")`: only nearest with an integer factor.
fn upsample_factor(row: usize, args: &[ArgValue]) -> Result<usize> {
    let module = "nn.Upsample";
    let bad = |arg: &str, expected: &str, found: Option<&ArgValue>| YoloError::BadArg {
        row,
        module: module.into(),
        arg: arg.into(),
        expected: expected.into(),
        found: found.map_or_else(|| "nothing".into(), ArgValue::describe),
    };
    if args.len() > 3 {
        return Err(YoloError::Row {
            row,
            module: module.into(),
            message: "takes [size, scale_factor, mode]".into(),
        });
    }
    match args.first() {
        None | Some(ArgValue::None) => {}
        other => return Err(bad("size", "None (only scale_factor is supported)", other)),
    }
    let factor = match args.get(1) {
        Some(v) => match v.as_float() {
            Some(f) if (1.0..=64.0).contains(&f) && f.fract() == 0.0 => f as usize,
            _ => return Err(bad("scale_factor", "an integer from 1 to 64", Some(v))),
        },
        None => return Err(bad("scale_factor", "a positive integer", None)),
    };
    match args.get(2) {
        None => {}
        Some(ArgValue::Str(s)) if s == "nearest" => {}
        other => return Err(bad("mode", "'nearest'", other)),
    }
    Ok(factor)
}
