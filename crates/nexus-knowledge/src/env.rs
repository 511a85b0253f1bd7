//! The thirteen environments and the seed's scoping matrix, as data.

use std::fmt;
use std::str::FromStr;

use crate::key::InvalidKey;

/// One of the seed's environments. Its name is the first part of an item key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Environment {
    User,
    Locker,
    Track,
    Kb,
    Contact,
    Session,
    Context,
    Documents,
    Links,
    Workflow,
    Temp,
    Transcript,
    Chrono,
}

/// How items of an environment are shared beyond their owner (the seed's "Session/Share"
/// column).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sharing {
    /// To a group or role of the organization, never to a session ("Role-based").
    RoleBased,
    /// With a session's members, or directly with users ("Session/Direct").
    SessionOrDirect,
    /// By assigning the item to a user ("Assign").
    Assign,
    /// A group session itself: its members share it ("Group").
    Group,
    /// With a session's members only ("Via session", "Session reminders").
    ViaSession,
    /// Not shared ("No").
    No,
}

/// What the matrix allows in one environment. Every environment has a personal scope and
/// is reachable by the system administrator (the seed's "Personal" and "Admin" columns are
/// ✅ throughout); they are kept as fields so the table reads like the seed's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scoping {
    pub personal: bool,
    /// Whether the organization-wide scope `UNIV` exists here.
    pub universal: bool,
    pub sharing: Sharing,
    pub admin: bool,
}

impl Scoping {
    const fn new(universal: bool, sharing: Sharing) -> Scoping {
        Scoping {
            personal: true,
            universal,
            sharing,
            admin: true,
        }
    }

    /// Whether items may belong to, or be shared with, a session's members.
    pub fn session_sharing(self) -> bool {
        matches!(
            self.sharing,
            Sharing::SessionOrDirect | Sharing::Group | Sharing::ViaSession
        )
    }

    /// Whether items may be shared with named users.
    pub fn direct_sharing(self) -> bool {
        matches!(self.sharing, Sharing::SessionOrDirect | Sharing::Assign)
    }

    /// Whether items may be shared with a group or role of the organization.
    pub fn role_sharing(self) -> bool {
        self.sharing == Sharing::RoleBased
    }
}

impl Environment {
    /// Every environment, in the seed's order.
    pub const ALL: [Environment; 13] = [
        Environment::User,
        Environment::Locker,
        Environment::Track,
        Environment::Kb,
        Environment::Contact,
        Environment::Session,
        Environment::Context,
        Environment::Documents,
        Environment::Links,
        Environment::Workflow,
        Environment::Temp,
        Environment::Transcript,
        Environment::Chrono,
    ];

    /// The name used in keys and paths (`kb`, `track`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Environment::User => "user",
            Environment::Locker => "locker",
            Environment::Track => "track",
            Environment::Kb => "kb",
            Environment::Contact => "contact",
            Environment::Session => "session",
            Environment::Context => "context",
            Environment::Documents => "documents",
            Environment::Links => "links",
            Environment::Workflow => "workflow",
            Environment::Temp => "temp",
            Environment::Transcript => "transcript",
            Environment::Chrono => "chrono",
        }
    }

    /// Whether any member may add items to the organization's universal scope here (else
    /// only organization admins may): the organization's profiles, credentials, session
    /// template and protocols are its admins' to set; its projects, knowledge, contacts,
    /// learnings, documents, resources and recordings are everyone's to add to.
    pub fn members_add_universal(self) -> bool {
        self.scoping().universal
            && !matches!(
                self,
                Environment::User
                    | Environment::Locker
                    | Environment::Session
                    | Environment::Workflow
            )
    }

    /// The seed's scoping matrix, one row per environment. Where the seed's table and the
    /// knowledge-layer contract differ, the contract wins and `docs/knowledge.md` says so:
    /// Track is shared by session and directly (the seed's cell reads "Session").
    pub fn scoping(self) -> Scoping {
        use Sharing::{Assign, Group, No, RoleBased, SessionOrDirect, ViaSession};
        match self {
            Environment::User | Environment::Locker => Scoping::new(true, RoleBased),
            Environment::Track
            | Environment::Kb
            | Environment::Documents
            | Environment::Transcript => Scoping::new(true, SessionOrDirect),
            Environment::Contact => Scoping::new(true, Assign),
            Environment::Session => Scoping::new(true, Group),
            Environment::Context | Environment::Links => Scoping::new(true, ViaSession),
            Environment::Workflow => Scoping::new(true, No),
            Environment::Temp | Environment::Chrono => Scoping::new(false, ViaSession),
        }
    }
}

impl fmt::Display for Environment {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

impl FromStr for Environment {
    type Err = InvalidKey;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Environment::ALL
            .into_iter()
            .find(|env| env.as_str() == text)
            .ok_or_else(|| InvalidKey::UnknownEnvironment(text.chars().take(40).collect()))
    }
}
