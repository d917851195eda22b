//! Integers from untrusted text and floats, converted with their range checked.
//!
//! `as` casts saturate or wrap silently (`1e300 as usize` is `usize::MAX`, `-1i64 as usize`
//! is 2^64 - 1); these helpers return `None` instead, so the caller reports the value.

/// `text` (surrounding whitespace ignored) as an integer in `min..=max`.
pub fn parse_in_range(text: &str, min: u64, max: u64) -> Option<u64> {
    text.trim()
        .parse::<u64>()
        .ok()
        .filter(|v| (min..=max).contains(v))
}

/// `value` as a `usize` in `min..=max`.
pub fn i64_in_range(value: i64, min: usize, max: usize) -> Option<usize> {
    usize::try_from(value)
        .ok()
        .filter(|v| (min..=max).contains(v))
}

/// A finite float in `(0, max]`: multipliers and ratios. NaN, infinities, zero, negatives and
/// values above `max` give `None`.
pub fn positive_finite(value: f64, max: f64) -> Option<f64> {
    (value.is_finite() && value > 0.0 && value <= max).then_some(value)
}

/// The product of `factors`, `None` on overflow.
pub fn checked_product(factors: &[usize]) -> Option<usize> {
    factors
        .iter()
        .try_fold(1usize, |acc, &f| acc.checked_mul(f))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_and_overflow() {
        assert_eq!(parse_in_range(" 640 ", 1, 1 << 16), Some(640));
        assert_eq!(parse_in_range("9223372036854775808", 1, 1 << 16), None);
        assert_eq!(parse_in_range("100000", 1, 1 << 16), None);
        assert_eq!(parse_in_range("-1", 0, 10), None);
        assert_eq!(parse_in_range("0", 1, 10), None);
        assert_eq!(i64_in_range(-1, 0, 10), None);
        assert_eq!(i64_in_range(10, 0, 10), Some(10));
        assert_eq!(positive_finite(f64::INFINITY, 100.0), None);
        assert_eq!(positive_finite(f64::NAN, 100.0), None);
        assert_eq!(positive_finite(1e12, 100.0), None);
        assert_eq!(positive_finite(0.0, 100.0), None);
        assert_eq!(positive_finite(0.25, 100.0), Some(0.25));
        assert_eq!(checked_product(&[1 << 40, 1 << 30]), None);
        assert_eq!(checked_product(&[3, 640, 640]), Some(1_228_800));
    }
}
