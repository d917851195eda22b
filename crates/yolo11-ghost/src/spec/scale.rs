//! Compound scaling: the depth/width/max-channels rules of Ultralytics' `parse_model`.

/// One row of a YAML's `scales` table, `[depth, width, max_channels]`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Scale {
    /// Multiplier on repeat counts.
    pub depth: f64,
    /// Multiplier on output channels.
    pub width: f64,
    /// Channel cap applied before the width multiplier (`None` = unbounded, as when a YAML has
    /// no `scales` table and `parse_model` uses `float("inf")`).
    pub max_channels: Option<f64>,
}

impl Scale {
    /// Output channels for a base-module row: `ceil_to_multiple(min(c2, max_channels) * width, 8)` (Ultralytics `make_divisible`).
    pub fn channels(&self, c2: i64) -> i64 {
        let capped = match self.max_channels {
            Some(max) => (c2 as f64).min(max),
            None => c2 as f64,
        };
        ceil_to_multiple(capped * self.width, 8)
    }

    /// Repeats after the depth gain: `max(round(n * depth), 1) if n > 1 else n`, with Python's
    /// round-half-to-even (`round(2.5) == 2`).
    pub fn repeats(&self, n: i64) -> i64 {
        if n > 1 {
            ((n as f64 * self.depth).round_ties_even() as i64).max(1)
        } else {
            n
        }
    }
}

/// The smallest multiple of `divisor` that is `>= x`: what Ultralytics calls `make_divisible`
/// (not timm's `ghost_layers::make_divisible`, which rounds to the nearest multiple).
pub fn ceil_to_multiple(x: f64, divisor: i64) -> i64 {
    // Saturating: absurd YAML values are refused by the caller, they must not overflow here.
    ((x / divisor as f64).ceil() as i64).saturating_mul(divisor)
}

/// Ultralytics `guess_model_scale`: the letter after the version digits of a `yolo...` name,
/// e.g. `yolo11n` -> `n`, `yolo11m-ghost` -> `m`, `yolov8s` -> `s`
/// (regex `yolo(e-)?[v]?\d+([nslmx])` searched in the file stem).
pub fn guess_model_scale(stem: &str) -> Option<char> {
    let lower = stem;
    let bytes = lower.as_bytes();
    let mut start = 0;
    while let Some(pos) = lower[start..].find("yolo") {
        let mut i = start + pos + 4;
        if lower[i..].starts_with("e-") {
            i += 2;
        }
        if bytes.get(i) == Some(&b'v') {
            i += 1;
        }
        let digits_start = i;
        while bytes.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i > digits_start {
            if let Some(&c) = bytes.get(i) {
                if b"nslmx".contains(&c) {
                    return Some(c as char);
                }
            }
        }
        start += pos + 1;
    }
    None
}

/// Ultralytics' unified YAML name: the scale letter after the version digits is removed,
/// `yolo11n-ghost` -> `yolo11-ghost`, `yolo11m` -> `yolo11` (regex `(\d+)([nslmx])(.+)?$`).
pub fn unify_model_name(stem: &str) -> String {
    let bytes = stem.as_bytes();
    // The regex is anchored at the end but `.+` swallows everything after the letter, so the
    // leftmost digits-run followed by a scale letter wins, as in `re.sub`.
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_digit() {
            let mut j = i;
            while j < bytes.len() && bytes[j].is_ascii_digit() {
                j += 1;
            }
            if j < bytes.len() && b"nslmx".contains(&bytes[j]) {
                return format!("{}{}", &stem[..j], &stem[j + 1..]);
            }
            i = j;
        } else {
            i += 1;
        }
    }
    stem.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn width_rule_matches_parse_model() {
        let n = Scale {
            depth: 0.5,
            width: 0.25,
            max_channels: Some(1024.0),
        };
        assert_eq!(n.channels(64), 16);
        assert_eq!(n.channels(1024), 256);
        let m = Scale {
            depth: 0.5,
            width: 1.0,
            max_channels: Some(512.0),
        };
        assert_eq!(m.channels(1024), 512);
        let x = Scale {
            depth: 1.0,
            width: 1.5,
            max_channels: Some(512.0),
        };
        assert_eq!(x.channels(64), 96);
        assert_eq!(x.channels(1024), 768);
        // ceil, not round: 20 * 0.25 = 5 -> 8
        assert_eq!(n.channels(20), 8);
    }

    #[test]
    fn depth_rule_rounds_half_to_even() {
        let s = Scale {
            depth: 0.5,
            width: 1.0,
            max_channels: None,
        };
        assert_eq!(s.repeats(1), 1);
        assert_eq!(s.repeats(2), 1);
        assert_eq!(s.repeats(3), 2); // round(1.5) == 2
        assert_eq!(s.repeats(5), 2); // round(2.5) == 2
        assert_eq!(s.repeats(7), 4); // round(3.5) == 4
        let tiny = Scale {
            depth: 0.1,
            width: 1.0,
            max_channels: None,
        };
        assert_eq!(tiny.repeats(2), 1); // max(round(0.2), 1)
    }

    #[test]
    fn names() {
        assert_eq!(guess_model_scale("yolo11n"), Some('n'));
        assert_eq!(guess_model_scale("yolo11m-ghost"), Some('m'));
        assert_eq!(guess_model_scale("yolov8x"), Some('x'));
        assert_eq!(guess_model_scale("yolo11-ghost"), None);
        assert_eq!(unify_model_name("yolo11n-ghost"), "yolo11-ghost");
        assert_eq!(unify_model_name("yolo11m"), "yolo11");
        assert_eq!(unify_model_name("yolo11"), "yolo11");
    }
}
