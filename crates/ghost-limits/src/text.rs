//! Text that came from files, made safe to print and exact to store.
//!
//! Class names in weights metadata, file names and YAML strings can hold escape sequences
//! (`ESC ]0;title`, `ESC [2J`), carriage returns that overwrite a line, newlines that forge an
//! extra line of a report, NUL, or bidirectional overrides that reorder what is shown.
//! [`escape_terminal`] turns every such character into a visible escape; printable text,
//! including non-ASCII letters, is left alone.
//!
//! File names on Unix are bytes, not necessarily UTF-8. [`display_path`] shows invalid bytes as
//! `\xNN` (for people); [`json_path_literal`] writes a JSON string that round-trips the exact
//! bytes using Python's `surrogateescape` convention (each byte `b` that is not part of valid
//! UTF-8 becomes the lone surrogate `U+DC00 + b`, written `\udcXX`), which is what Python's
//! `os.fsdecode` produces and `os.fsencode` reverses.

use std::borrow::Cow;
use std::ffi::OsStr;
use std::fmt::Write as _;
use std::path::Path;

/// Whether `c` must not reach a terminal raw: C0 controls (incl. ESC, CR, LF, NUL, TAB), DEL,
/// C1 controls (U+0080-U+009F, incl. the 8-bit CSI U+009B), and the bidirectional embedding,
/// override and isolate characters.
fn needs_escape(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// `s` with every control or bidi character replaced by a visible escape (`\n`, `\r`, `\t`,
/// `\0`, `\x1b`, `\u{9b}`, ...). Borrowed when nothing needs escaping.
pub fn escape_terminal(s: &str) -> Cow<'_, str> {
    if !s.chars().any(needs_escape) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        push_escaped(&mut out, c);
    }
    Cow::Owned(out)
}

fn push_escaped(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\0' => out.push_str("\\0"),
        c if (c as u32) < 0x80 && needs_escape(c) => {
            let _ = write!(out, "\\x{:02x}", c as u32);
        }
        c if needs_escape(c) => {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
        c => out.push(c),
    }
}

/// A path for messages and reports: valid UTF-8 escaped as [`escape_terminal`] does, bytes that
/// are not UTF-8 as `\xNN`.
pub fn display_path(path: &Path) -> String {
    display_os(path.as_os_str())
}

/// [`display_path`] for any OS string (a file name).
pub fn display_os(s: &OsStr) -> String {
    let mut out = String::new();
    for chunk in s.as_encoded_bytes().utf8_chunks() {
        for c in chunk.valid().chars() {
            push_escaped(&mut out, c);
        }
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
    out
}

/// A JSON string literal (with its quotes) holding `s` exactly: standard JSON escaping for valid
/// UTF-8, and `\udcXX` (Python's `surrogateescape`) for each byte that is not valid UTF-8.
///
/// Every output is valid JSON text; a parser that keeps lone surrogates (Python's `json`) gets
/// back a string that `os.fsencode` turns into the original bytes. A UTF-8 name is unchanged
/// (`"photo.jpg"`), so only names that could not be written exactly before look different.
pub fn json_path_literal(s: &OsStr) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for chunk in s.as_encoded_bytes().utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                c if (c as u32) < 0x20 || c == '\u{7f}' => {
                    let _ = write!(out, "\\u{:04x}", c as u32);
                }
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            let _ = write!(out, "\\udc{b:02x}");
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_and_bidi_characters_become_visible() {
        assert_eq!(escape_terminal("person"), "person");
        assert!(matches!(escape_terminal("Straße"), Cow::Borrowed(_)));
        assert_eq!(
            escape_terminal("a\x1b]0;pwned\x07b"),
            "a\\x1b]0;pwned\\x07b"
        );
        assert_eq!(escape_terminal("x\x1b[2J"), "x\\x1b[2J");
        assert_eq!(escape_terminal("a\rb\nc\0d\te"), "a\\rb\\nc\\0d\\te");
        assert_eq!(escape_terminal("\u{9b}31m\u{202e}"), "\\u{9b}31m\\u{202e}");
        assert_eq!(escape_terminal("del\x7f"), "del\\x7f");
    }

    #[cfg(unix)]
    #[test]
    fn non_utf8_paths_are_shown_and_stored_exactly() {
        use std::os::unix::ffi::OsStrExt;
        let name = OsStr::from_bytes(b"a\xffb\nc\"d\\.jpg");
        assert_eq!(display_os(name), "a\\xffb\\nc\"d\\.jpg");
        assert_eq!(json_path_literal(name), r#""a\udcffb\nc\"d\\.jpg""#);
        assert_eq!(json_path_literal(OsStr::new("ü.jpg")), "\"ü.jpg\"");
        // A truncated multi-byte sequence: each byte escaped on its own.
        assert_eq!(
            json_path_literal(OsStr::from_bytes(b"\xe2\x82")),
            r#""\udce2\udc82""#
        );
    }
}
