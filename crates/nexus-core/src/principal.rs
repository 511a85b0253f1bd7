//! Who is acting, and for which organization.

use std::fmt;

use nexus_path::OrgId;

/// An acting identity.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Principal {
    /// The operator of the data directory (local CLI) or the server itself.
    System,
    /// A human, by stable id or handle.
    User(String),
    /// An AI agent.
    Agent(String),
}

/// Why a string is not a principal.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid principal `{input}`: use `user:<id>`, `agent:<id>` or `system`")]
pub struct InvalidPrincipal {
    pub input: String,
}

impl Principal {
    /// Parses `system`, `user:<id>` or `agent:<id>`; ids are non-empty and printable
    /// without whitespace.
    pub fn parse(input: &str) -> Result<Self, InvalidPrincipal> {
        let invalid = || InvalidPrincipal {
            input: input.chars().take(200).collect(),
        };
        if input == "system" {
            return Ok(Principal::System);
        }
        let (kind, id) = input.split_once(':').ok_or_else(invalid)?;
        let valid_id = !id.is_empty()
            && id.len() <= 256
            && id.chars().all(|c| !c.is_whitespace() && !c.is_control());
        if !valid_id {
            return Err(invalid());
        }
        match kind {
            "user" => Ok(Principal::User(id.to_owned())),
            "agent" => Ok(Principal::Agent(id.to_owned())),
            _ => Err(invalid()),
        }
    }
}

impl fmt::Display for Principal {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Principal::System => formatter.write_str("system"),
            Principal::User(id) => write!(formatter, "user:{id}"),
            Principal::Agent(id) => write!(formatter, "agent:{id}"),
        }
    }
}

impl std::str::FromStr for Principal {
    type Err = InvalidPrincipal;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        Self::parse(input)
    }
}

/// The organization a call acts within.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tenant {
    /// Every organization (the operator, or the server acting for itself).
    System,
    /// Exactly one organization: paths of any other are invisible.
    Org(OrgId),
}

/// The acting principal and organization, passed to every operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallContext {
    pub principal: Principal,
    pub tenant: Tenant,
    /// How to name the principal to people (`user:alice@acme.com` for a user whose stable
    /// id is in `principal`); see `Fs::context`.
    pub name: Option<String>,
    /// Where the call came from, for the audit log (set by network front ends).
    pub origin: Option<std::sync::Arc<Origin>>,
    /// For an agent acting on behalf of a user (a delegation): that user. Every decision is
    /// then made for both, and allows only what both may do (see `authz`).
    pub on_behalf_of: Option<Principal>,
}

/// The request a call serves: what the audit log records besides the principal.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Origin {
    pub request_id: String,
    /// The client's address.
    pub client: Option<String>,
    /// The client's `User-Agent`.
    pub user_agent: Option<String>,
}

impl CallContext {
    /// The operator acting across all organizations.
    pub fn system() -> Self {
        CallContext {
            principal: Principal::System,
            tenant: Tenant::System,
            name: None,
            origin: None,
            on_behalf_of: None,
        }
    }

    /// `principal` acting within organization `org`.
    pub fn in_org(principal: Principal, org: OrgId) -> Self {
        CallContext {
            principal,
            tenant: Tenant::Org(org),
            name: None,
            origin: None,
            on_behalf_of: None,
        }
    }

    /// The principal as people know it (its handle when known).
    pub fn name(&self) -> String {
        self.name
            .clone()
            .unwrap_or_else(|| self.principal.to_string())
    }

    /// Whether this call may touch paths of `org`.
    pub fn covers(&self, org: &OrgId) -> bool {
        match &self.tenant {
            Tenant::System => true,
            Tenant::Org(own) => own == org,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn principals_round_trip() {
        for text in [
            "system",
            "user:alice@acme.com",
            "agent:sales_bot_001",
            "user:u_z1p5",
        ] {
            let principal = Principal::parse(text).unwrap();
            assert_eq!(principal.to_string(), text);
        }
        for bad in [
            "",
            "alice",
            "user:",
            "robot:x",
            "user:a b",
            "user:a\nb",
            "System",
        ] {
            assert!(Principal::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            Principal::parse("bob").unwrap_err().to_string(),
            "invalid principal `bob`: use `user:<id>`, `agent:<id>` or `system`"
        );
    }

    #[test]
    fn tenants_cover_only_their_org() {
        let acme = OrgId::parse("acme").unwrap();
        let other = OrgId::parse("other").unwrap();
        let context = CallContext::in_org(Principal::User("alice".into()), acme.clone());
        assert!(context.covers(&acme));
        assert!(!context.covers(&other));
        assert!(CallContext::system().covers(&other));
    }
}
