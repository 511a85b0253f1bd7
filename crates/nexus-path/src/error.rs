use std::fmt;

/// Why a path was rejected. Every variant names the offending input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    #[error("invalid path: the path is empty")]
    Empty,
    #[error(
        "invalid path `{}`: it must be absolute (start with `/`)",
        Escaped(path)
    )]
    NotAbsolute { path: String },
    #[error(
        "invalid path `{}`: it contains an empty segment (`//`)",
        Escaped(path)
    )]
    EmptySegment { path: String },
    #[error(
        "invalid path `{}`: `{segment}` segments are not allowed",
        Escaped(path)
    )]
    DotSegment { path: String, segment: String },
    #[error(
        "invalid path `{}`: it contains the forbidden character U+{:04X}",
        Escaped(path),
        u32::from(*character)
    )]
    ForbiddenCharacter { path: String, character: char },
    #[error(
        "invalid path `{}`: a segment is {bytes} bytes long (the limit is {max})",
        Escaped(path),
        max = crate::MAX_SEGMENT_BYTES
    )]
    SegmentTooLong { path: String, bytes: usize },
    #[error("invalid path: it is {bytes} bytes long (the limit is {max})", max = crate::MAX_PATH_BYTES)]
    TooLong { bytes: usize },
    #[error("invalid path: it is not valid UTF-8 (after byte {valid_up_to})")]
    InvalidUtf8 { valid_up_to: usize },
    #[error(
        "invalid name `{}`: a name is one non-empty segment without `/`",
        Escaped(name)
    )]
    InvalidName { name: String },
}

impl PathError {
    /// A stable, machine-readable reason, for error bodies and golden tests.
    pub fn reason(&self) -> &'static str {
        match self {
            PathError::Empty => "empty",
            PathError::NotAbsolute { .. } => "not_absolute",
            PathError::EmptySegment { .. } => "empty_segment",
            PathError::DotSegment { .. } => "dot_segment",
            PathError::ForbiddenCharacter { .. } => "forbidden_character",
            PathError::SegmentTooLong { .. } => "segment_too_long",
            PathError::TooLong { .. } => "too_long",
            PathError::InvalidUtf8 { .. } => "invalid_utf8",
            PathError::InvalidName { .. } => "invalid_name",
        }
    }
}

/// Displays user input with control characters escaped and long input shortened, so an error
/// message never carries raw terminal escapes or kilobytes of junk.
pub(crate) struct Escaped<'a>(pub(crate) &'a str);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        const SHOWN: usize = 120;
        for (shown, character) in self.0.chars().enumerate() {
            if shown == SHOWN {
                return formatter.write_str("…");
            }
            if character.is_control() || crate::is_forbidden(character) {
                write!(formatter, "{}", character.escape_unicode())?;
            } else {
                fmt::Write::write_char(formatter, character)?;
            }
        }
        Ok(())
    }
}
