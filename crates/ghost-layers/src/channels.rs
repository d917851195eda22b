//! Channel-count rounding shared by GhostNet (timm / huawei) and its squeeze-excite.

/// timm's `make_divisible(v, divisor)` (huawei's `_make_divisible`, the TF-slim rule): round
/// `v` to the nearest multiple of `divisor` (halves up), at least `divisor`, and never more than
/// 10% below `v`.
///
/// ```text
/// new_v = max(divisor, int(v + divisor / 2) // divisor * divisor)
/// if new_v < 0.9 * v: new_v += divisor
/// ```
pub fn make_divisible(v: f64, divisor: usize) -> usize {
    let d = divisor.max(1);
    // `int()` of a non-negative float truncates; channel counts are never negative.
    let rounded = ((v + d as f64 / 2.0).max(0.0) as usize) / d * d;
    let mut new_v = rounded.max(d);
    if (new_v as f64) < 0.9 * v {
        new_v += d;
    }
    new_v
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reference values printed by timm 1.0.31:
    /// `[(v, timm.layers.make_divisible(v, 4)) for v in ...]`.
    #[test]
    fn matches_timm() {
        let cases = [
            (16.0, 16),
            (4.0, 4),
            (20.8, 20),
            (18.0, 20),
            (4.5, 8),
            (10.0, 12),
            (9.9, 12),
            (1.0, 4),
            (1248.0, 1248),
            (145.6, 144),
            (0.0, 4),
            (7.0, 8),
            (6.0, 8),
            (5.9, 8),
            (14.0, 16),
            (13.9, 16),
        ];
        for (v, expected) in cases {
            assert_eq!(make_divisible(v, 4), expected, "make_divisible({v}, 4)");
        }
    }
}
