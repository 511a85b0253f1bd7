use std::fmt;

use crate::error::Escaped;

/// Longest organization id, in bytes.
pub const MAX_ORG_ID_BYTES: usize = 64;

/// An organization id: the segment after `/orgs/`, also used in blob storage prefixes.
///
/// 1 to 64 ASCII characters from `A-Z a-z 0-9 . _ -`, starting with a letter or digit. Case
/// is significant (`Acme` and `acme` are different organizations).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OrgId(String);

/// Why a string is not an organization id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid organization id `{}`: use 1 to {MAX_ORG_ID_BYTES} characters from `A-Z a-z 0-9 . _ -`, starting with a letter or digit",
    Escaped(.id)
)]
pub struct InvalidOrgId {
    pub id: String,
}

impl OrgId {
    /// Whether `id` is a valid organization id (what [`OrgId::parse`] accepts).
    pub fn is_valid(id: &str) -> bool {
        !id.is_empty()
            && id.len() <= MAX_ORG_ID_BYTES
            && id.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    }

    /// Validates an organization id.
    pub fn parse(id: &str) -> Result<Self, InvalidOrgId> {
        if Self::is_valid(id) {
            Ok(OrgId(id.to_owned()))
        } else {
            Err(InvalidOrgId { id: id.to_owned() })
        }
    }

    /// The id text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for OrgId {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

impl fmt::Debug for OrgId {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "OrgId({:?})", self.0)
    }
}

impl std::str::FromStr for OrgId {
    type Err = InvalidOrgId;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        Self::parse(input)
    }
}
