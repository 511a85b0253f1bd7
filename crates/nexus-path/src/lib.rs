//! Canonical virtual paths and organization ids, shared by every Nexus layer.
//!
//! Storage, the filesystem service and (later) the permission engine all key objects by
//! the same canonical path string, produced by exactly one function: [`VfsPath::parse`].
//! A path is canonical when it is
//!
//! - absolute and `/`-separated (`/orgs/acme/sales/notes.md`); a single trailing `/` is
//!   accepted and dropped, so `/orgs/acme/` names the same object as `/orgs/acme`;
//! - valid UTF-8 in Unicode Normalization Form C (NFD input is composed, so `cafe\u{301}`
//!   and `café` are one object); case is preserved and significant;
//! - free of empty, `.` and `..` segments (they are rejected, never resolved);
//! - free of control characters (C0, DEL, C1) and invisible format characters
//!   (zero-width, bidirectional overrides, byte-order mark, soft hyphen);
//! - at most [`MAX_SEGMENT_BYTES`] bytes per segment and [`MAX_PATH_BYTES`] bytes in all.
//!
//! INVARIANT: `VfsPath::parse(p.as_str()) == Ok(p)` for every `p: VfsPath` (idempotence), so
//! a canonical path can be stored, sent and parsed again without changing identity.
//!
//! The namespace is organised by tenant: `/` and `/orgs` are fixed directories, `/orgs/<org>`
//! is an organization's root and everything an organization stores lives beneath it. See
//! [`VfsPath::location`] and [`OrgId`].

mod error;
mod org;

use std::fmt;

use unicode_normalization::{IsNormalized, UnicodeNormalization, is_nfc_quick};

pub use error::PathError;
pub use org::{InvalidOrgId, OrgId};

/// Longest accepted segment, in bytes (after normalization), as on common filesystems.
pub const MAX_SEGMENT_BYTES: usize = 255;
/// Longest accepted path, in bytes (after normalization), as Linux's `PATH_MAX`.
pub const MAX_PATH_BYTES: usize = 4096;
/// The directory holding one root directory per organization.
pub const ORGS_ROOT: &str = "/orgs";

/// A canonical, absolute virtual path. Construct with [`VfsPath::parse`].
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct VfsPath(String);

/// Where a path sits in the tenant layout of the namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// `/`
    Root,
    /// `/orgs`
    OrgsRoot,
    /// `/orgs/<org>`: an organization's root directory.
    OrgRoot(OrgId),
    /// Anything beneath `/orgs/<org>/`.
    InOrg(OrgId),
    /// A path outside `/orgs` other than `/` (no tenant owns it).
    Outside,
}

impl Location {
    /// The organization owning the path, if any.
    pub fn org(&self) -> Option<&OrgId> {
        match self {
            Location::OrgRoot(org) | Location::InOrg(org) => Some(org),
            Location::Root | Location::OrgsRoot | Location::Outside => None,
        }
    }

    /// Whether this is one of the fixed directories, `/` and `/orgs`: they exist without
    /// being stored, cannot be created, changed or removed, and every caller sees them
    /// (listing them shows only the organizations the caller may see).
    pub fn is_fixed(&self) -> bool {
        matches!(self, Location::Root | Location::OrgsRoot)
    }
}

impl VfsPath {
    /// The root path `/`.
    pub fn root() -> Self {
        VfsPath("/".to_owned())
    }

    /// Canonicalizes `input`, or says precisely why it is not a valid path.
    pub fn parse(input: &str) -> Result<Self, PathError> {
        if input.is_empty() {
            return Err(PathError::Empty);
        }
        if !input.starts_with('/') {
            return Err(PathError::NotAbsolute {
                path: input.to_owned(),
            });
        }
        // Reject characters before normalizing so that the message names what was typed.
        if let Some(character) = input.chars().find(|c| is_forbidden(*c)) {
            return Err(PathError::ForbiddenCharacter {
                path: input.to_owned(),
                character,
            });
        }
        let normalized: std::borrow::Cow<'_, str> = match is_nfc_quick(input.chars()) {
            IsNormalized::Yes => input.into(),
            IsNormalized::No | IsNormalized::Maybe => input.nfc().collect::<String>().into(),
        };
        let rest = normalized.strip_prefix('/').unwrap_or(&normalized);
        if rest.is_empty() {
            return Ok(Self::root());
        }
        // One trailing slash is accepted (`/orgs/acme/` as typed by people and shells).
        let body = rest.strip_suffix('/').unwrap_or(rest);
        if body.is_empty() {
            return Err(PathError::EmptySegment {
                path: input.to_owned(),
            });
        }
        for segment in body.split('/') {
            match segment {
                "" => {
                    return Err(PathError::EmptySegment {
                        path: input.to_owned(),
                    });
                }
                "." | ".." => {
                    return Err(PathError::DotSegment {
                        path: input.to_owned(),
                        segment: segment.to_owned(),
                    });
                }
                _ if segment.len() > MAX_SEGMENT_BYTES => {
                    return Err(PathError::SegmentTooLong {
                        path: input.to_owned(),
                        bytes: segment.len(),
                    });
                }
                _ => {}
            }
        }
        let canonical = format!("/{body}");
        if canonical.len() > MAX_PATH_BYTES {
            return Err(PathError::TooLong {
                bytes: canonical.len(),
            });
        }
        Ok(VfsPath(canonical))
    }

    /// Canonicalizes raw bytes, rejecting anything that is not UTF-8.
    pub fn parse_bytes(input: &[u8]) -> Result<Self, PathError> {
        let text = std::str::from_utf8(input).map_err(|error| PathError::InvalidUtf8 {
            valid_up_to: error.valid_up_to(),
        })?;
        Self::parse(text)
    }

    /// The canonical text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this is `/`.
    pub fn is_root(&self) -> bool {
        self.0 == "/"
    }

    /// `/orgs`, the directory of every organization.
    pub fn orgs_root() -> Self {
        VfsPath(ORGS_ROOT.to_owned())
    }

    /// Whether this is a fixed directory, `/` or `/orgs` (see [`Location::is_fixed`]).
    pub fn is_fixed(&self) -> bool {
        self.is_root() || self.0 == ORGS_ROOT
    }

    /// The last segment (`""` for `/`).
    pub fn name(&self) -> &str {
        self.0.rsplit_once('/').map_or("", |(_, name)| name)
    }

    /// The parent directory, or `None` for `/`.
    pub fn parent(&self) -> Option<VfsPath> {
        if self.is_root() {
            return None;
        }
        match self.0.rsplit_once('/') {
            Some(("", _)) | None => Some(Self::root()),
            Some((parent, _)) => Some(VfsPath(parent.to_owned())),
        }
    }

    /// The path's ancestors from the parent up to `/`.
    pub fn ancestors(&self) -> impl Iterator<Item = VfsPath> {
        std::iter::successors(self.parent(), VfsPath::parent)
    }

    /// Number of segments (`0` for `/`).
    pub fn depth(&self) -> usize {
        if self.is_root() {
            0
        } else {
            self.0.matches('/').count()
        }
    }

    /// The segments, in order (none for `/`).
    pub fn segments(&self) -> impl Iterator<Item = &str> {
        self.0.split('/').filter(|segment| !segment.is_empty())
    }

    /// Appends one segment, validating it as [`VfsPath::parse`] would.
    pub fn join(&self, name: &str) -> Result<VfsPath, PathError> {
        if name.contains('/') || name.is_empty() {
            return Err(PathError::InvalidName {
                name: name.to_owned(),
            });
        }
        let joined = if self.is_root() {
            format!("/{name}")
        } else {
            format!("{}/{name}", self.0)
        };
        Self::parse(&joined)
    }

    /// Whether `self` is `other` or lies beneath it. `/a` does not contain `/ab`.
    pub fn starts_with(&self, other: &VfsPath) -> bool {
        if other.is_root() {
            return true;
        }
        match self.0.strip_prefix(other.as_str()) {
            Some(rest) => rest.is_empty() || rest.starts_with('/'),
            None => false,
        }
    }

    /// Replaces the prefix `from` (which `self` must start with) by `to`.
    pub fn rebase(&self, from: &VfsPath, to: &VfsPath) -> Option<VfsPath> {
        if !self.starts_with(from) {
            return None;
        }
        let rest = if from.is_root() {
            self.0.get(1..)?
        } else {
            self.0.get(from.0.len()..)?.trim_start_matches('/')
        };
        if rest.is_empty() {
            return Some(to.clone());
        }
        let joined = if to.is_root() {
            format!("/{rest}")
        } else {
            format!("{}/{rest}", to.0)
        };
        // Both parts are canonical; only the combined length can exceed the limit.
        Self::parse(&joined).ok()
    }

    /// Classifies the path within the tenant layout.
    pub fn location(&self) -> Result<Location, InvalidOrgId> {
        let mut segments = self.segments();
        match (segments.next(), segments.next(), segments.next()) {
            (None, _, _) => Ok(Location::Root),
            (Some("orgs"), None, _) => Ok(Location::OrgsRoot),
            (Some("orgs"), Some(org), rest) => {
                let org = OrgId::parse(org)?;
                Ok(if rest.is_none() {
                    Location::OrgRoot(org)
                } else {
                    Location::InOrg(org)
                })
            }
            (Some(_), _, _) => Ok(Location::Outside),
        }
    }

    /// The directory of organization `org`: `/orgs/<org>`.
    pub fn org_root(org: &OrgId) -> VfsPath {
        VfsPath(format!("{ORGS_ROOT}/{}", org.as_str()))
    }
}

/// Characters no path may contain: controls, and invisible format characters that make two
/// different names look identical (spoofing) or reorder how a name is displayed.
fn is_forbidden(character: char) -> bool {
    character.is_control()
        || matches!(
            character,
            '\u{00AD}'
                | '\u{061C}'
                | '\u{180E}'
                | '\u{200B}'..='\u{200F}'
                | '\u{2028}'..='\u{202E}'
                | '\u{2060}'..='\u{2064}'
                | '\u{2066}'..='\u{206F}'
                | '\u{FEFF}'
                | '\u{FFF9}'..='\u{FFFB}'
        )
}

impl fmt::Display for VfsPath {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

impl fmt::Debug for VfsPath {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "VfsPath({:?})", self.0)
    }
}

impl AsRef<str> for VfsPath {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for VfsPath {
    type Err = PathError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        Self::parse(input)
    }
}

#[cfg(test)]
mod tests;
