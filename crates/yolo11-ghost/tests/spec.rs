//! YAML -> ModelSpec: Ultralytics `parse_model`'s rules and the typed errors for bad rows.
//!
//! Expected per-layer values are copied from Ultralytics 8.4.190's own `parse_model` printout
//! (`DetectionModel("yolo11n.yaml")` etc., with `tools/ghost_ultralytics.py` registered for the
//! ghost models), not from this crate's output.

use yolo11_ghost::info::ModelInfo;
use yolo11_ghost::spec::{builtin_yaml, ArgValue, ModuleSpec, Source};
use yolo11_ghost::{ModelSpec, YoloError};

fn args_of(spec: &ModelSpec, i: usize) -> String {
    yolo11_ghost::spec::format_args_list(&spec.layers[i].args)
}

fn per_layer_params(spec: &ModelSpec) -> Vec<u64> {
    ModelInfo::new(spec, 640, 640)
        .unwrap()
        .layers
        .iter()
        .map(|l| l.params)
        .collect()
}

#[test]
fn yolo11m_rows_match_parse_model_printout() {
    let spec = ModelSpec::from_name("yolo11m").unwrap();
    assert_eq!(spec.layers.len(), 24);
    assert_eq!(spec.scale.as_deref(), Some("m"));
    // c3k forced True at m, e kept, max_channels 512 caps 1024.
    assert_eq!(args_of(&spec, 2), "[128, 256, 1, True, 0.25]");
    assert_eq!(args_of(&spec, 6), "[512, 512, 1, True]");
    assert_eq!(args_of(&spec, 9), "[512, 512, 5]");
    assert_eq!(args_of(&spec, 10), "[512, 512, 1]");
    assert_eq!(args_of(&spec, 11), "[None, 2, 'nearest']");
    assert_eq!(args_of(&spec, 13), "[1024, 512, 1, True]");
    assert_eq!(args_of(&spec, 19), "[768, 512, 1, True]");
    assert_eq!(args_of(&spec, 23), "[80, 16, None, [256, 512, 512]]");
    assert_eq!(spec.layers[12].from.to_string(), "[-1, 6]");
    assert_eq!(
        spec.layers[12].inputs,
        vec![Source::Layer(11), Source::Layer(6)]
    );
    assert_eq!(
        per_layer_params(&spec),
        vec![
            1856, 73984, 111872, 590336, 444928, 2360320, 1380352, 2360320, 1380352, 656896,
            990976, 0, 0, 1642496, 0, 0, 542720, 590336, 0, 1511424, 2360320, 0, 1642496, 1472704
        ]
    );
    let d = spec.detect();
    assert!(
        !d.legacy,
        "C3k2 rows make Detect use the DWConv class branch"
    );
    assert_eq!(spec.detect_strides(), vec![8, 16, 32]);
    assert_eq!(spec.max_stride(), 32);
}

#[test]
fn yolo11n_rows_match_parse_model_printout() {
    let spec = ModelSpec::from_name("yolo11n").unwrap();
    assert_eq!(args_of(&spec, 0), "[3, 16, 3, 2]");
    assert_eq!(args_of(&spec, 2), "[32, 64, 1, False, 0.25]");
    assert_eq!(args_of(&spec, 22), "[384, 256, 1, True]");
    assert_eq!(args_of(&spec, 23), "[80, 16, None, [64, 128, 256]]");
    assert_eq!(
        per_layer_params(&spec),
        vec![
            464, 4672, 6640, 36992, 26080, 147712, 87040, 295424, 346112, 164608, 249728, 0, 0,
            111296, 0, 0, 32096, 36992, 0, 86720, 147712, 0, 378880, 464912
        ]
    );
}

#[test]
fn ghost_models_occupy_indices_0_to_4() {
    let spec = ModelSpec::from_name("yolo11n-ghost").unwrap();
    assert_eq!(spec.layers.len(), 20);
    match &spec.layers[0].module {
        ModuleSpec::GhostNet { width, channels } => {
            assert_eq!(*width, 0.25);
            assert_eq!(*channels, [8, 12, 28, 240]);
        }
        other => panic!("layer 0 is {other:?}"),
    }
    for k in 0..4 {
        assert!(matches!(spec.layers[1 + k].module, ModuleSpec::Index { index, .. } if index == k));
        assert_eq!(spec.layers[1 + k].inputs, vec![Source::Layer(0)]);
    }
    assert_eq!(
        spec.layers[5].inputs,
        vec![Source::Layer(4)],
        "SPPF reads the stride-32 output"
    );
    assert_eq!(
        spec.layers[8].inputs,
        vec![Source::Layer(7), Source::Layer(3)]
    );
    assert_eq!(args_of(&spec, 9), "[284, 128, 1, False]");
    assert_eq!(
        per_layer_params(&spec),
        vec![
            186666, 0, 0, 0, 0, 152432, 249728, 0, 0, 98496, 0, 0, 24672, 36992, 0, 86720, 147712,
            0, 378880, 464912
        ]
    );
    let l = ModelSpec::from_name("yolo11l-ghost").unwrap();
    assert_eq!(
        per_layer_params(&l),
        vec![
            2671428, 0, 0, 0, 0, 1445824, 1455616, 0, 0, 2291712, 0, 0, 635904, 590336, 0, 2365440,
            2360320, 0, 2496512, 1472704
        ]
    );
}

/// The project YAML rewritten into Ultralytics' native multi-output form.
fn native_form(channels: [usize; 4]) -> String {
    let text = builtin_yaml("yolo11-ghost").unwrap();
    let rows: String = (0..4)
        .map(|k| format!("  - [0, 1, Index, [{}, {k}]]\n", channels[k]))
        .collect();
    let marker = "  - [-1, 1, GhostNet, [1.0]]";
    let at = text.find(marker).expect("the GhostNet row");
    let end = at + text[at..].find('\n').unwrap() + 1;
    format!("{}{}{}", &text[..end], rows, &text[end..])
}

#[test]
fn native_index_form_equals_single_row_form() {
    let single =
        ModelSpec::from_yaml_str(builtin_yaml("yolo11-ghost").unwrap(), "g", Some("n"), None)
            .unwrap();
    let native =
        ModelSpec::from_yaml_str(&native_form([8, 12, 28, 240]), "g", Some("n"), None).unwrap();
    assert_eq!(single.layers.len(), native.layers.len());
    for (a, b) in single.layers.iter().zip(&native.layers) {
        assert_eq!(a.module, b.module, "layer {}", a.index);
        assert_eq!(a.inputs, b.inputs, "layer {}", a.index);
    }
    // Written channels that disagree with the backbone are an error naming the row.
    let err =
        ModelSpec::from_yaml_str(&native_form([8, 12, 28, 256]), "g", Some("n"), None).unwrap_err();
    assert!(matches!(err, YoloError::BadArg { row: 4, .. }), "{err}");
}

#[test]
fn scale_selection() {
    let text = builtin_yaml("yolo11").unwrap();
    // Explicit scale; at l, repeats 2 stay 2 (depth 1.0) and c3k is True.
    let l = ModelSpec::from_yaml_str(text, "custom", Some("l"), None).unwrap();
    assert_eq!(l.layers[2].repeats, 2);
    assert!(matches!(l.layers[2].module, ModuleSpec::C3k2(a) if a.n == 2 && a.c3k));
    // No scale: the first row of `scales` (n), as parse_model does.
    let first = ModelSpec::from_yaml_str(text, "custom", None, None).unwrap();
    assert_eq!(first.scale.as_deref(), Some("n"));
    assert!(matches!(first.layers[2].module, ModuleSpec::C3k2(a) if !a.c3k));
    // nc override (from weights).
    let nc3 = ModelSpec::from_yaml_str(text, "custom", Some("s"), Some(3)).unwrap();
    assert_eq!(nc3.nc, 3);
    assert_eq!(nc3.detect().nc, 3);
    // Unknown scale.
    let err = ModelSpec::from_yaml_str(text, "custom", Some("q"), None).unwrap_err();
    assert!(matches!(err, YoloError::UnknownScale { .. }), "{err}");
}

#[test]
fn model_names_and_paths() {
    for name in [
        "yolo11n",
        "yolo11s",
        "yolo11m",
        "yolo11l",
        "yolo11x",
        "yolo11s-ghost",
        "yolo11x-ghost",
    ] {
        let spec = ModelSpec::from_name(name).unwrap();
        assert_eq!(spec.scale.as_deref(), Some(&name[6..7]), "{name}");
    }
    assert!(matches!(
        ModelSpec::from_name("yolo11q").unwrap_err(),
        YoloError::UnknownModel { .. }
    ));
    assert!(matches!(
        ModelSpec::from_name("resnet50").unwrap_err(),
        YoloError::UnknownModel { .. }
    ));
    // A user YAML file: scale guessed from the stem, or given.
    let dir = std::env::temp_dir().join(format!("yolo11-ghost-spec-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("my-yolo11s-ghost.yaml");
    std::fs::write(&path, builtin_yaml("yolo11-ghost").unwrap()).unwrap();
    let guessed = ModelSpec::from_yaml_path(&path, None).unwrap();
    assert_eq!(guessed.scale.as_deref(), Some("s"));
    let given = ModelSpec::from_yaml_path(&path, Some("x")).unwrap();
    assert_eq!(given.scale.as_deref(), Some("x"));
    assert!(matches!(
        ModelSpec::from_yaml_path(dir.join("missing.yaml"), None).unwrap_err(),
        YoloError::Io { .. }
    ));
    std::fs::remove_dir_all(&dir).ok();
}

const MINI_HEADER: &str = "nc: 4\nscales:\n  n: [0.5, 0.25, 1024]\n";

/// A small valid model to mutate in the error tests.
fn mini(backbone: &str, head: &str) -> String {
    format!("{MINI_HEADER}backbone:\n{backbone}head:\n{head}")
}

const MINI_BACKBONE: &str = "  - [-1, 1, Conv, [64, 3, 2]]\n  - [-1, 1, Conv, [128, 3, 2]]\n  - [-1, 1, Conv, [128, 3, 2]]\n";
const MINI_HEAD: &str = "  - [-1, 1, Conv, [128, 3, 2]]\n  - [-1, 1, Conv, [128, 3, 2]]\n  - [[2, 3, 4], 1, Detect, [nc]]\n";

fn parse(text: &str) -> Result<ModelSpec, YoloError> {
    ModelSpec::from_yaml_str(text, "mini", None, None)
}

#[test]
fn mini_model_parses() {
    let spec = parse(&mini(MINI_BACKBONE, MINI_HEAD)).unwrap();
    assert_eq!(spec.nc, 4);
    assert_eq!(spec.detect_strides(), vec![8, 16, 32]);
    let d = spec.detect();
    assert!(d.legacy, "no C3k2 row: the YOLOv8 class branch");
    assert_eq!(d.ch, vec![32, 32, 32]);
}

#[test]
fn unsupported_module_names_its_row() {
    let head = "  - [-1, 1, Conv, [128, 3, 2]]\n  - [-1, 1, RepConv, [128, 3, 2]]\n  - [[2, 3, 4], 1, Detect, [nc]]\n";
    match parse(&mini(MINI_BACKBONE, head)).unwrap_err() {
        YoloError::UnsupportedModule { row, module, .. } => {
            assert_eq!((row, module.as_str()), (4, "RepConv"))
        }
        e => panic!("{e}"),
    }
}

#[test]
fn bad_from_indices_are_typed_errors() {
    // Forward reference.
    let head = "  - [5, 1, Conv, [128, 3, 2]]\n  - [-1, 1, Conv, [128, 3, 2]]\n  - [[2, 3, 4], 1, Detect, [nc]]\n";
    match parse(&mini(MINI_BACKBONE, head)).unwrap_err() {
        YoloError::BadFrom { row, from, .. } => assert_eq!((row, from), (3, 5)),
        e => panic!("{e}"),
    }
    // Out of range (before layer 0).
    let head = "  - [-9, 1, Conv, [128, 3, 2]]\n  - [-1, 1, Conv, [128, 3, 2]]\n  - [[2, 3, 4], 1, Detect, [nc]]\n";
    assert!(matches!(
        parse(&mini(MINI_BACKBONE, head)).unwrap_err(),
        YoloError::BadFrom {
            row: 3,
            from: -9,
            ..
        }
    ));
    // The first layer must read the image.
    let bb = "  - [1, 1, Conv, [64, 3, 2]]\n  - [-1, 1, Conv, [128, 3, 2]]\n  - [-1, 1, Conv, [128, 3, 2]]\n";
    assert!(matches!(
        parse(&mini(bb, MINI_HEAD)).unwrap_err(),
        YoloError::BadFrom { row: 0, .. }
    ));
    // A list where one index is expected.
    let head = "  - [[-1, 1], 1, Conv, [128, 3, 2]]\n  - [-1, 1, Conv, [128, 3, 2]]\n  - [[2, 3, 4], 1, Detect, [nc]]\n";
    assert!(matches!(
        parse(&mini(MINI_BACKBONE, head)).unwrap_err(),
        YoloError::Row { row: 3, .. }
    ));
}

#[test]
fn wrong_argument_types_name_the_argument() {
    let bb = "  - [-1, 1, Conv, [64, 3.5, 2]]\n  - [-1, 1, Conv, [128, 3, 2]]\n  - [-1, 1, Conv, [128, 3, 2]]\n";
    match parse(&mini(bb, MINI_HEAD)).unwrap_err() {
        YoloError::BadArg { row, arg, .. } => assert_eq!((row, arg.as_str()), (0, "k")),
        e => panic!("{e}"),
    }
    let bb = "  - [-1, 1, Conv, [\"wide\", 3, 2]]\n  - [-1, 1, Conv, [128, 3, 2]]\n  - [-1, 1, Conv, [128, 3, 2]]\n";
    assert!(matches!(
        parse(&mini(bb, MINI_HEAD)).unwrap_err(),
        YoloError::BadArg { row: 0, .. }
    ));
    let head = "  - [-1, 1, nn.Upsample, [None, 2, \"bilinear\"]]\n  - [-1, 1, Conv, [128, 3, 2]]\n  - [[2, 3, 4], 1, Detect, [nc]]\n";
    match parse(&mini(MINI_BACKBONE, head)).unwrap_err() {
        YoloError::BadArg { row, arg, .. } => assert_eq!((row, arg.as_str()), (3, "mode")),
        e => panic!("{e}"),
    }
    let head = "  - [-1, 1, Conv, [128, 3, 2, null, 1, 1, 7]]\n  - [-1, 1, Conv, [128, 3, 2]]\n  - [[2, 3, 4], 1, Detect, [nc]]\n";
    assert!(matches!(
        parse(&mini(MINI_BACKBONE, head)).unwrap_err(),
        YoloError::BadArg { row: 3, .. }
    ));
    // Too many arguments.
    let head = "  - [-1, 1, SPPF, [128, 5, 3, False, 9]]\n  - [-1, 1, Conv, [128, 3, 2]]\n  - [[2, 3, 4], 1, Detect, [nc]]\n";
    assert!(matches!(
        parse(&mini(MINI_BACKBONE, head)).unwrap_err(),
        YoloError::Row { row: 3, .. }
    ));
}

#[test]
fn malformed_yaml_and_rows() {
    assert!(matches!(
        parse("nc: [1, 2\nbackbone: ").unwrap_err(),
        YoloError::Yaml { .. }
    ));
    assert!(matches!(
        parse("").unwrap_err(),
        YoloError::ModelYaml { .. }
    ));
    assert!(matches!(
        parse("nc: 3\n").unwrap_err(),
        YoloError::ModelYaml { .. }
    ));
    // A row with three fields.
    let bb = "  - [-1, 1, Conv]\n";
    assert!(matches!(
        parse(&mini(bb, MINI_HEAD)).unwrap_err(),
        YoloError::Row { row: 0, .. }
    ));
    // Repeats 0.
    let bb = "  - [-1, 0, Conv, [64, 3, 2]]\n";
    assert!(matches!(
        parse(&mini(bb, MINI_HEAD)).unwrap_err(),
        YoloError::Row { row: 0, .. }
    ));
}

#[test]
fn graph_rules() {
    // Concat of two different resolutions.
    let head = "  - [[-1, 1], 1, Concat, [1]]\n  - [-1, 1, Conv, [128, 3, 2]]\n  - [[2, 3, 4], 1, Detect, [nc]]\n";
    assert!(matches!(
        parse(&mini(MINI_BACKBONE, head)).unwrap_err(),
        YoloError::Row { row: 3, .. }
    ));
    // Detect not last.
    let head = "  - [[0, 1, 2], 1, Detect, [nc]]\n  - [-1, 1, Conv, [128, 3, 2]]\n";
    assert!(parse(&mini(MINI_BACKBONE, head)).is_err());
    // No Detect at all.
    let head = "  - [-1, 1, Conv, [128, 3, 2]]\n";
    assert!(matches!(
        parse(&mini(MINI_BACKBONE, head)).unwrap_err(),
        YoloError::ModelYaml { .. }
    ));
    // GhostNet anywhere but first.
    let bb = "  - [-1, 1, Conv, [64, 3, 2]]\n  - [-1, 1, GhostNet, [1.0]]\n";
    assert!(parse(&mini(bb, MINI_HEAD)).is_err());
    // Reading GhostNet's list output directly.
    let text = builtin_yaml("yolo11-ghost")
        .unwrap()
        .replace("[-1, 1, SPPF, [1024, 5]]", "[0, 1, SPPF, [1024, 5]]");
    assert!(matches!(
        parse(&text).unwrap_err(),
        YoloError::BadFrom {
            row: 5,
            from: 0,
            ..
        }
    ));
}

#[test]
fn literal_strings_and_names_are_evaluated() {
    // "nc" resolves to the YAML's nc; "None"/"2" strings are literal-evaluated.
    let head = "  - [-1, 1, nn.Upsample, [\"None\", \"2\", nearest]]\n  - [-1, 1, Conv, [128, 3, 2]]\n  - [[2, 3, 4], 1, Detect, [\"nc\"]]\n";
    let text = mini(MINI_BACKBONE, &head.replace("[[2, 3, 4]", "[[2, 2, 4]"));
    let spec = parse(&text).unwrap();
    assert_eq!(spec.layers[3].args[0], ArgValue::None);
    assert!(matches!(
        spec.layers[3].module,
        ModuleSpec::Upsample { factor: 2, .. }
    ));
    assert_eq!(spec.detect().nc, 4);
}
