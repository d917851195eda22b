//! Bounded versions of the issue-19 fuzz targets (`fuzz/fuzz_targets/label_file.rs`,
//! `yaml_limits.rs`), run by `cargo test`: arbitrary and row-shaped label text through
//! Ultralytics' label checks, and alias/nesting-heavy YAML through the bounded loader.

use proptest::prelude::*;
use yolo11_ghost::val::labels::{check_labels, LabelCheck};

fn row() -> impl Strategy<Value = String> {
    let value = prop_oneof![
        (0.0f32..1.0).prop_map(|v| v.to_string()),
        Just("1".to_string()),
        Just("-0.0".to_string()),
        Just("1.0001".to_string()),
        Just("nan".to_string()),
        Just("inf".to_string()),
        (-2.0f32..3.0).prop_map(|v| v.to_string()),
    ];
    (0u8..5, prop::collection::vec(value, 3..9)).prop_map(|(c, v)| format!("{c} {}", v.join(" ")))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(ghost_kernels::testing::proptest_cases(300)))]

    #[test]
    fn label_checks_keep_only_valid_distinct_rows(
        rows in prop::collection::vec(row(), 0..20),
        dup in prop::collection::vec(any::<prop::sample::Index>(), 0..5),
        junk in "\\PC{0,40}",
    ) {
        let mut rows = rows;
        for i in dup {
            if !rows.is_empty() {
                let r = rows[i.index(rows.len())].clone();
                rows.push(r);
            }
        }
        for text in [rows.join("\n"), format!("{}\n{junk}", rows.join("\n"))] {
            if let LabelCheck::Ok { labels, .. } = check_labels(&text, 3) {
                let mut seen = Vec::new();
                for l in &labels {
                    prop_assert!(l.class < 3);
                    prop_assert!(l.xywh.iter().all(|v| (0.0..=1.0).contains(v)), "{l:?}");
                    let key = (l.class, l.xywh.map(|v| (v + 0.0).to_bits()));
                    prop_assert!(!seen.contains(&key), "duplicate kept: {text:?}");
                    seen.push(key);
                }
            }
        }
    }

    #[test]
    fn bounded_yaml_never_builds_beyond_its_limits(
        levels in 1usize..12,
        fan in 1usize..12,
        depth in 1usize..40,
    ) {
        let limits = ghost_limits::YamlLimits { max_depth: 16, max_expanded: 1 << 16 };
        let mut text = String::from("a0: &a0 [x]\n");
        for i in 1..levels {
            let refs = vec![format!("*a{}", i - 1); fan].join(", ");
            text.push_str(&format!("a{i}: &a{i} [{refs}]\n"));
        }
        text.push_str(&format!("deep: {}{}\n", "[".repeat(depth), "]".repeat(depth)));
        let expanded = (fan as f64).powi(levels as i32 - 1);
        match ghost_limits::load_yaml(&text, limits) {
            // Each expanded leaf `x` weighs 2 units (node + byte); with the arrays around the
            // leaves the tree weighs between 2 and 4 units per leaf, plus a little.
            Ok(_) => {
                prop_assert!(depth < 16);
                prop_assert!(2.0 * expanded <= (1 << 16) as f64);
            }
            Err(e) => prop_assert!(depth >= 16 || 4.0 * expanded + 200.0 > (1 << 16) as f64, "{e}"),
        }
    }
}
