//! Arbitrary bytes through `ghost_limits::load_yaml` with small limits: it either refuses the
//! text or returns a tree no deeper and no larger (aliases expanded) than the limits say. A tree
//! that escaped the pre-scan's count (an alias form it missed) fails the assertion.
#![no_main]

use ghost_limits::{load_yaml, YamlLimits};
use libfuzzer_sys::fuzz_target;
use yaml_rust2::Yaml;

const LIMITS: YamlLimits = YamlLimits {
    max_depth: 16,
    max_expanded: 1 << 16,
};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(docs) = load_yaml(text, LIMITS) else {
        return;
    };
    // Iterative walk: (node, depth). Size counts one per node plus scalar bytes, as the limit.
    let mut size = 0u64;
    let mut stack: Vec<(&Yaml, usize)> = docs.iter().map(|d| (d, 0)).collect();
    while let Some((node, depth)) = stack.pop() {
        size += 1;
        match node {
            Yaml::Array(items) => {
                assert!(depth < LIMITS.max_depth, "depth {depth}");
                stack.extend(items.iter().map(|i| (i, depth + 1)));
            }
            Yaml::Hash(map) => {
                assert!(depth < LIMITS.max_depth, "depth {depth}");
                for (k, v) in map {
                    stack.push((k, depth + 1));
                    stack.push((v, depth + 1));
                }
            }
            Yaml::String(s) | Yaml::Real(s) => size += s.len() as u64,
            _ => {}
        }
        assert!(size <= 2 * LIMITS.max_expanded + 16, "expanded size {size}");
    }
});
