//! Principals and API keys: who is acting, the registry of users and agents, and keys
//! created for a principal, stored hashed, shown once, revocable at once.

use nexus_path::VfsPath;
use nexus_store::{Mutation, Timestamp};

use super::Fs;
use crate::accounts::{Accounts, ApiKeyInfo, NewApiKey, PrincipalInfo};
use crate::error::FsError;
use crate::principal::{CallContext, Principal};
use crate::{MemberKind, MemberRecord};
use nexus_api::{Member, Whoami};

impl Fs {
    /// Refuses unless the caller is the system or `owner` itself.
    fn require_self_or_system(context: &CallContext, owner: &Principal) -> Result<(), FsError> {
        if context.principal == Principal::System || &context.principal == owner {
            return Ok(());
        }
        Err(FsError::PermissionDenied {
            principal: context.name(),
            permission: "manage keys of another principal",
            path: VfsPath::root(),
        })
    }

    /// Creates a key acting as `principal` (`system`, `user:<handle or id>`, `agent:<id>`).
    /// The system may create keys for anyone; others only for themselves. A user must be
    /// registered (a member of some organization) first.
    pub async fn create_api_key(
        &self,
        context: &CallContext,
        principal: &str,
        description: &str,
    ) -> Result<NewApiKey, FsError> {
        let owner = if context.principal == Principal::System {
            self.key_owner(principal)?
        } else {
            // Anyone else may only create keys for themselves; whether another principal
            // exists is not their business, so every other name is refused alike.
            match self.key_owner(principal) {
                Ok(owner) if owner == context.principal => owner,
                _ => {
                    return Err(FsError::PermissionDenied {
                        principal: context.name(),
                        permission: "manage keys of another principal",
                        path: VfsPath::root(),
                    });
                }
            }
        };
        if description.len() > 200 || description.chars().any(char::is_control) {
            return Err(FsError::invalid(
                "a key description is at most 200 characters without control characters",
            ));
        }
        let (record, secret) = Accounts::new_key(&owner, description);
        let id = self.store_key(record).await?;
        Ok(NewApiKey {
            id,
            secret,
            name: self.display_subject(&owner.to_string()),
            principal: owner.to_string(),
        })
    }

    /// Stores a key whose secret the operator chose (e.g. `NEXUS_ADMIN_KEY`). The system's
    /// alone; the secret must look like a generated one (`nx_` and at least 32 more
    /// characters).
    pub async fn import_api_key(
        &self,
        context: &CallContext,
        principal: &str,
        description: &str,
        secret: &str,
    ) -> Result<String, FsError> {
        if context.principal != Principal::System {
            return Err(FsError::PermissionDenied {
                principal: context.name(),
                permission: "system",
                path: VfsPath::root(),
            });
        }
        let long_enough = secret
            .strip_prefix(crate::accounts::API_KEY_PREFIX)
            .is_some_and(|rest| {
                rest.len() >= 32
                    && rest.len() <= 128
                    && rest.bytes().all(|b| b.is_ascii_alphanumeric())
            });
        if !long_enough {
            return Err(FsError::invalid(
                "an API key must be `nx_` followed by 32 to 128 letters or digits",
            ));
        }
        let owner = self.key_owner(principal)?;
        let (mut record, _) = Accounts::new_key(&owner, description);
        record.hash = crate::accounts::hash_secret(secret);
        self.store_key(record).await
    }

    /// The principal a key is for (`system`, `user:<handle or id>` of a registered user,
    /// `agent:<id>`), users by stable id.
    fn key_owner(&self, principal: &str) -> Result<Principal, FsError> {
        match Principal::parse(principal).map_err(|error| FsError::invalid(error.to_string()))? {
            Principal::User(text) => Ok(Principal::User(self.user_for(&text, None)?)),
            other => Ok(other),
        }
    }

    /// Stores a key, then makes it usable; returns its id.
    async fn store_key(&self, record: nexus_store::ApiKeyRecord) -> Result<String, FsError> {
        self.store
            .apply(Mutation::CreateApiKey {
                key: record.clone(),
            })
            .await?;
        let id = record.id.clone();
        self.accounts.commit_key(record);
        Ok(id)
    }

    /// Revokes a key: refused from the next request on.
    pub async fn revoke_api_key(&self, context: &CallContext, id: &str) -> Result<(), FsError> {
        let missing = || FsError::Missing {
            message: format!(
                "there is no API key `{}`",
                id.chars().take(80).collect::<String>()
            ),
        };
        let key = self.accounts.key(id).ok_or_else(missing)?;
        let owner = Principal::parse(&key.principal).map_err(|_| missing())?;
        if Self::require_self_or_system(context, &owner).is_err() {
            // Another principal's key is as invisible as a missing one.
            return Err(missing());
        }
        let at = Timestamp::now();
        self.store
            .apply(Mutation::RevokeApiKey {
                id: id.to_owned(),
                at,
            })
            .await?;
        self.accounts.commit_revocation(id, at);
        Ok(())
    }

    /// Keys the caller may see: all for the system, else its own.
    pub fn api_keys(&self, context: &CallContext) -> Vec<ApiKeyInfo> {
        let own = context.principal.to_string();
        self.accounts
            .keys()
            .into_iter()
            .filter(|key| context.principal == Principal::System || key.principal == own)
            .collect()
    }

    /// Refuses unless the caller is the system administrator; `what` names the operation.
    pub fn require_system(context: &CallContext, what: &'static str) -> Result<(), FsError> {
        if context.principal == Principal::System {
            Ok(())
        } else {
            Err(FsError::SystemOnly { what })
        }
    }

    /// Every registered user and agent (system administrators only).
    pub fn users(&self, context: &CallContext) -> Result<Vec<PrincipalInfo>, FsError> {
        Self::require_system(context, "listing every user")?;
        Ok(self.accounts.list())
    }

    /// Who the caller is, and the organizations it reaches.
    pub async fn whoami(&self, context: &CallContext) -> Result<Whoami, FsError> {
        let orgs = self
            .organizations(context)
            .await?
            .into_iter()
            .map(|record| record.org_id)
            .collect();
        let (kind, id, handle) = match &context.principal {
            Principal::System => ("system", "system".to_owned(), None),
            Principal::User(id) => ("user", id.clone(), self.accounts.handle("user", id)),
            Principal::Agent(id) => ("agent", id.clone(), Some(id.clone())),
        };
        Ok(Whoami {
            kind: kind.to_owned(),
            id,
            handle,
            orgs,
        })
    }

    /// A member record as the members API shows it (with a person's stable id).
    pub fn member_view(&self, record: MemberRecord) -> Member {
        let id = if record.kind == MemberKind::Human {
            self.accounts.user_id(&record.user_id)
        } else {
            None
        };
        Member { record, id }
    }
}
