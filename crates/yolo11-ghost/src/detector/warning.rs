//! Non-fatal remarks a detector makes about its options and weights, typed by what they are
//! about so that code can act on them (e.g. replace the image-size remark when the size
//! changes) without matching message text.

use std::borrow::Borrow;
use std::fmt;
use std::ops::Deref;

/// What a [`Warning`] is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum WarningKind {
    /// `imgsz` was not a multiple of the model stride and was rounded up.
    ImageSizeRounded,
    /// A `classes` filter names classes the model does not have.
    UnknownClasses,
    /// A weights tensor holds NaN or infinite values.
    NonFiniteWeights,
    /// The weights file holds tensors the model never asked for.
    UnusedTensors,
    /// A metadata entry of the weights file is unusable (out of range, not a number) and was
    /// ignored.
    MetadataIgnored,
}

/// A non-fatal remark: its kind and the message shown to the user. It reads as its message
/// (`Deref<Target = str>`, `Display`), so `detector.warnings().join("\n")` works.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Warning {
    kind: WarningKind,
    message: String,
}

impl Warning {
    /// A warning of `kind` saying `message`.
    pub fn new(kind: WarningKind, message: impl Into<String>) -> Warning {
        Warning {
            kind,
            message: message.into(),
        }
    }

    /// What it is about.
    pub fn kind(&self) -> WarningKind {
        self.kind
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl Deref for Warning {
    type Target = str;

    fn deref(&self) -> &str {
        &self.message
    }
}

impl Borrow<str> for Warning {
    fn borrow(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_as_its_message() {
        let w = [
            Warning::new(WarningKind::UnusedTensors, "a"),
            Warning::new(WarningKind::ImageSizeRounded, "b"),
        ];
        assert_eq!(w.join("\n"), "a\nb");
        assert!(w[1].contains('b'));
        assert_eq!(w[1].kind(), WarningKind::ImageSizeRounded);
        assert_eq!(w[0].to_string(), "a");
    }
}
