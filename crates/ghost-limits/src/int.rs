//! Integers from untrusted text, converted with their range checked.
//!
//! Parsing into a wide type and casting down saturates or wraps silently (`-1i64 as usize` is
//! 2^64 - 1); [`parse_in_range`] returns `None` instead, so the caller reports the value.

/// `text` (surrounding whitespace ignored) as an integer in `min..=max`.
pub fn parse_in_range(text: &str, min: u64, max: u64) -> Option<u64> {
    text.trim()
        .parse::<u64>()
        .ok()
        .filter(|v| (min..=max).contains(v))
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
    }
}
