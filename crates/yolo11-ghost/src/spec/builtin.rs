//! The embedded model YAMLs and the names that select them.

/// Ultralytics' `yolo11.yaml` (scales n/s/m/l/x).
const YOLO11_YAML: &str = include_str!("../../models/yolo11.yaml");
/// YOLO11 with a GhostNet V1 backbone (scales n/s/m/l/x).
const YOLO11_GHOST_YAML: &str = include_str!("../../models/yolo11-ghost.yaml");

const SCALES: [char; 5] = ['n', 's', 'm', 'l', 'x'];

/// Every built-in model name: `yolo11{n,s,m,l,x}` and `yolo11{n,s,m,l,x}-ghost`.
pub fn builtin_model_names() -> Vec<String> {
    let plain = SCALES.iter().map(|s| format!("yolo11{s}"));
    let ghost = SCALES.iter().map(|s| format!("yolo11{s}-ghost"));
    plain.chain(ghost).collect()
}

/// The YAML text behind a built-in model name (the scale letter is applied by the caller), or
/// the unscaled family names `yolo11` / `yolo11-ghost`.
pub fn builtin_yaml(name: &str) -> Option<&'static str> {
    let name = name.strip_suffix(".yaml").unwrap_or(name);
    match name {
        "yolo11" => return Some(YOLO11_YAML),
        "yolo11-ghost" => return Some(YOLO11_GHOST_YAML),
        _ => {}
    }
    let rest = name.strip_prefix("yolo11")?;
    let mut chars = rest.chars();
    let scale = chars.next()?;
    if !SCALES.contains(&scale) {
        return None;
    }
    match chars.as_str() {
        "" => Some(YOLO11_YAML),
        "-ghost" => Some(YOLO11_GHOST_YAML),
        _ => None,
    }
}
