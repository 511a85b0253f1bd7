//! Principals and API keys: who is acting, the registry of users and agents, and keys
//! created for a principal, stored hashed, shown once, revocable at once.

use nexus_path::{OrgId, VfsPath};
use nexus_rebac::{Operation, Relationship, RelationshipFilter, RelationshipUpdate};
use nexus_store::{Mutation, PrincipalRecord, Timestamp};

use super::orgs::LOCK_MARK;
use super::{Accounts, Fs};
use crate::accounts::{
    ApiKeyInfo, NewApiKey, PrincipalInfo, PrincipalKind, Registry, is_stable_agent_id,
    validate_agent_name, validate_handle,
};
use crate::error::FsError;
use crate::principal::{CallContext, Principal};
use nexus_api::{AccountChange, MemberStatus, Whoami};

/// A delegation as shown, from its key.
fn delegation_of(record: &nexus_store::ApiKeyRecord) -> nexus_api::Delegation {
    nexus_api::Delegation {
        id: record.id.clone(),
        agent: record.principal.clone(),
        user: record.on_behalf_of.clone().unwrap_or_default(),
        description: record.description.clone(),
        created_at: crate::format_timestamp(record.created_at),
        expires_at: record
            .expires_at
            .map(crate::format_timestamp)
            .unwrap_or_default(),
        revoked: record.revoked_at.is_some(),
    }
}

impl Accounts<'_> {
    /// Refuses credentials management to an agent acting on a user's behalf: a delegation
    /// cannot outlive itself by minting keys or other delegations.
    fn refuse_delegated(context: &CallContext, what: &'static str) -> Result<(), FsError> {
        if context.on_behalf_of.is_some() {
            return Err(FsError::PermissionDenied {
                principal: context.name(),
                permission: what,
                path: VfsPath::root(),
            });
        }
        Ok(())
    }

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
    pub async fn create_key(
        self,
        context: &CallContext,
        principal: &str,
        description: &str,
    ) -> Result<NewApiKey, FsError> {
        Self::refuse_delegated(context, "create keys while acting on behalf of a user")?;
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
        let (record, secret) = Registry::new_key(&owner, description);
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
    pub async fn import_key(
        self,
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
        let (mut record, _) = Registry::new_key(&owner, description);
        record.hash = crate::accounts::hash_secret(secret);
        self.store_key(record).await
    }

    /// The principal a key is for (`system`, or a registered user or agent named by handle
    /// or stable id), by stable id.
    fn key_owner(self, principal: &str) -> Result<Principal, FsError> {
        match Principal::parse(principal).map_err(|error| FsError::invalid(error.to_string()))? {
            Principal::User(text) => Ok(Principal::User(self.user_for(&text, None)?)),
            Principal::Agent(text) => Ok(Principal::Agent(self.agent_for(&text, None)?)),
            Principal::System => Ok(Principal::System),
        }
    }

    /// Stores a key, then makes it usable; returns its id.
    async fn store_key(self, record: nexus_store::ApiKeyRecord) -> Result<String, FsError> {
        self.store
            .apply(Mutation::CreateApiKey {
                key: record.clone(),
            })
            .await?;
        let id = record.id.clone();
        self.registry.commit_key(record);
        Ok(id)
    }

    /// Revokes a key: refused from the next request on.
    pub async fn revoke_key(self, context: &CallContext, id: &str) -> Result<(), FsError> {
        let missing = || FsError::Missing {
            message: format!(
                "there is no API key `{}`",
                id.chars().take(80).collect::<String>()
            ),
        };
        Self::refuse_delegated(context, "revoke keys while acting on behalf of a user")?;
        let key = self.registry.key(id).ok_or_else(missing)?;
        let owner = Principal::parse(&key.principal).map_err(|_| missing())?;
        let granted_by_caller = key.on_behalf_of.as_deref() == Some(&context.principal.to_string());
        if !granted_by_caller && Self::require_self_or_system(context, &owner).is_err() {
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
        self.registry.commit_revocation(id, at);
        Ok(())
    }

    /// Lets `agent` act on behalf of the caller (a user) for `ttl_secs`: a key acting as
    /// the agent for the caller, with the intersection of their permissions. The agent must
    /// belong to one of the caller's organizations; to anyone else no other agent exists.
    pub async fn create_delegation(
        self,
        context: &CallContext,
        agent: &str,
        ttl_secs: u64,
        description: &str,
    ) -> Result<nexus_api::NewDelegation, FsError> {
        Self::refuse_delegated(context, "delegate while acting on behalf of a user")?;
        let Principal::User(user_id) = &context.principal else {
            return Err(FsError::invalid(
                "only a user delegates: an agent acts on behalf of the user who grants it",
            ));
        };
        if description.len() > 200 || description.chars().any(char::is_control) {
            return Err(FsError::invalid(
                "a description is at most 200 characters without control characters",
            ));
        }
        let name = agent.strip_prefix("agent:").unwrap_or(agent);
        let unknown = || FsError::Missing {
            message: format!(
                "there is no agent `{}` in your organizations",
                name.chars().take(80).collect::<String>()
            ),
        };
        let agent_id = self.registry.agent_id(name).ok_or_else(unknown)?;
        let agent_subject = nexus_rebac::SubjectRef::object("agent", agent_id.clone());
        let user_subject = nexus_rebac::SubjectRef::object("user", user_id.clone());
        let mut shared = false;
        for org in self.files().store_org_ids().await? {
            if self.authz.is_member(&agent_subject, &org)?
                && self.authz.is_member(&user_subject, &org)?
            {
                shared = true;
                break;
            }
        }
        if !shared {
            return Err(unknown());
        }
        let agent = Principal::Agent(agent_id);
        let (mut record, secret) = Registry::new_key(&agent, description);
        record.on_behalf_of = Some(context.principal.to_string());
        let ttl_micros = i64::try_from(ttl_secs.saturating_mul(1_000_000)).unwrap_or(i64::MAX);
        record.expires_at = Some(Timestamp(record.created_at.0.saturating_add(ttl_micros)));
        let delegation = delegation_of(&record);
        self.store_key(record).await?;
        Ok(nexus_api::NewDelegation { delegation, secret })
    }

    /// The delegations the caller may see: those it granted (a user), those granted to it
    /// (an agent), or all (the system).
    pub fn delegations(self, context: &CallContext) -> Vec<nexus_api::Delegation> {
        let own = context.principal.to_string();
        self.registry
            .key_records()
            .into_iter()
            .filter_map(|record| {
                let user = record.on_behalf_of.as_deref()?;
                let visible = context.principal == Principal::System
                    || (context.on_behalf_of.is_none() && (user == own || record.principal == own));
                visible.then(|| delegation_of(&record))
            })
            .collect()
    }

    /// Ends a delegation now: the user who granted it, the agent, or the system.
    pub async fn revoke_delegation(self, context: &CallContext, id: &str) -> Result<(), FsError> {
        let is_delegation = self
            .registry
            .key(id)
            .is_some_and(|key| key.on_behalf_of.is_some());
        if !is_delegation {
            return Err(FsError::Missing {
                message: format!(
                    "there is no delegation `{}`",
                    id.chars().take(80).collect::<String>()
                ),
            });
        }
        self.revoke_key(context, id).await
    }

    /// Keys the caller may see: all for the system, else its own (none while acting on a
    /// user's behalf).
    pub fn keys(self, context: &CallContext) -> Vec<ApiKeyInfo> {
        if context.on_behalf_of.is_some() {
            return Vec::new();
        }
        let own = context.principal.to_string();
        self.registry
            .keys()
            .into_iter()
            .filter(|key| context.principal == Principal::System || key.principal == own)
            .collect()
    }

    /// Every registered user and agent (system administrators only).
    pub fn users(self, context: &CallContext) -> Result<Vec<PrincipalInfo>, FsError> {
        Fs::require_system(context, "listing every user")?;
        Ok(self.registry.list())
    }

    /// Who the caller is, and the organizations it reaches.
    pub async fn whoami(self, context: &CallContext) -> Result<Whoami, FsError> {
        let orgs = self
            .orgs()
            .list(context)
            .await?
            .into_iter()
            .map(|record| record.org_id)
            .collect();
        let (kind, id, handle) = match &context.principal {
            Principal::System => ("system", "system".to_owned(), None),
            Principal::User(id) => ("user", id.clone(), self.registry.handle("user", id)),
            Principal::Agent(id) => ("agent", id.clone(), self.registry.handle("agent", id)),
        };
        Ok(Whoami {
            kind: kind.to_owned(),
            id,
            handle,
            orgs,
            on_behalf_of: context
                .on_behalf_of
                .as_ref()
                .map(|user| self.display_subject(&user.to_string())),
        })
    }

    /// The stable id of the agent named `text` (name or id). An unknown name is registered
    /// into `pending` when given; an unknown id is always an error.
    pub(crate) fn agent_for(
        self,
        text: &str,
        pending: Option<&mut Vec<PrincipalRecord>>,
    ) -> Result<String, FsError> {
        self.principal_for(PrincipalKind::Agent, text, pending)
    }

    /// The stable id of the user named `text` (handle or id). An unknown handle is
    /// registered into `pending` when given; an unknown id is always an error.
    pub(crate) fn user_for(
        self,
        text: &str,
        pending: Option<&mut Vec<PrincipalRecord>>,
    ) -> Result<String, FsError> {
        self.principal_for(PrincipalKind::User, text, pending)
    }

    fn principal_for(
        self,
        kind: PrincipalKind,
        text: &str,
        pending: Option<&mut Vec<PrincipalRecord>>,
    ) -> Result<String, FsError> {
        let what = kind.as_str();
        if let Some(id) = self.registry.id_of(kind, text) {
            return Ok(id);
        }
        if kind.is_stable_id(text) {
            return Err(FsError::invalid(format!(
                "there is no {what} with id `{text}`"
            )));
        }
        match kind {
            PrincipalKind::User => validate_handle(text)?,
            PrincipalKind::Agent => validate_agent_name(text)?,
        }
        let Some(pending) = pending else {
            return Err(FsError::invalid(format!("there is no {what} `{text}`")));
        };
        if let Some(record) = pending
            .iter()
            .find(|record| record.kind == what && record.handle == text)
        {
            return Ok(record.id.clone());
        }
        let record = self.registry.new_principal_where(kind, text, |id| {
            pending.iter().any(|record| record.id == id) || self.named_in_relationships(kind, id)
        })?;
        let id = record.id.clone();
        pending.push(record);
        Ok(id)
    }

    /// Whether a stored relationship names `kind:id` as its subject: such an id is never
    /// given to a new principal, who would otherwise inherit what it was granted (data from
    /// before registration was required).
    fn named_in_relationships(self, kind: PrincipalKind, id: &str) -> bool {
        let filter = RelationshipFilter {
            subject_type: Some(kind.as_str().to_owned()),
            subject_id: Some(id.to_owned()),
            ..RelationshipFilter::default()
        };
        !self
            .authz
            .engine()
            .read(&filter, None, 1, i64::MIN)
            .is_empty()
    }

    /// Registers users still named by handle in stored relationships (data written before
    /// stable ids) and renames them to their new ids, in one revision.
    pub(crate) async fn adopt_unregistered_users(self) -> Result<(), FsError> {
        let filter = RelationshipFilter {
            subject_type: Some("user".to_owned()),
            ..RelationshipFilter::default()
        };
        let named_by_handle: Vec<Relationship> = self
            .authz
            .engine()
            .read(&filter, None, usize::MAX, i64::MIN)
            .into_iter()
            .filter(|relationship| {
                let id = &relationship.subject.object.object_id;
                !relationship.subject.is_wildcard()
                    && self.registry.user_id(id).as_deref() != Some(id.as_str())
            })
            .collect();
        if named_by_handle.is_empty() {
            return Ok(());
        }
        let _registering = self.registry.registering.lock().await;
        let mut pending = Vec::new();
        // Each handle is resolved once, with the new ids in a set: many users can be adopted
        // at once without searching the pending registrations for each relationship.
        let mut ids: std::collections::HashMap<String, Option<String>> =
            std::collections::HashMap::new();
        let mut pending_ids: std::collections::HashSet<String> = std::collections::HashSet::new();
        let mut updates = Vec::new();
        for relationship in named_by_handle {
            let handle = relationship.subject.object.object_id.clone();
            let id = if let Some(id) = ids.get(&handle) {
                id.clone()
            } else {
                let id = self.adopt_handle(&handle, &mut pending, &mut pending_ids);
                ids.insert(handle, id.clone());
                id
            };
            let Some(id) = id else {
                tracing::warn!(%relationship, "relationship names a user that cannot be registered; left as is");
                continue;
            };
            updates.extend(renamed_subject(relationship, id));
        }
        let mutations = registrations(&pending);
        self.commit.write_renames(updates, mutations).await?;
        tracing::info!(users = pending.len(), "registered users named by handle");
        self.registry.commit(&pending);
        Ok(())
    }

    /// Gives stable ids to agents registered before agents had them (their name was their
    /// id) and to agents named in stored relationships but never registered, and renames
    /// those relationships' subjects to the new ids, in one revision. Their names stay their
    /// handles, so everything that named them by name still does; API keys follow.
    pub(crate) async fn give_agents_stable_ids(self) -> Result<(), FsError> {
        let legacy = self.registry.agents_without_stable_ids();
        let filter = RelationshipFilter {
            subject_type: Some("agent".to_owned()),
            ..RelationshipFilter::default()
        };
        let named_by_name: Vec<Relationship> = self
            .authz
            .engine()
            .read(&filter, None, usize::MAX, i64::MIN)
            .into_iter()
            .filter(|relationship| {
                let id = &relationship.subject.object.object_id;
                !relationship.subject.is_wildcard() && !is_stable_agent_id(id)
            })
            .collect();
        if legacy.is_empty() && named_by_name.is_empty() {
            return Ok(());
        }
        let _registering = self.registry.registering.lock().await;
        let mut taken: std::collections::HashSet<String> = std::collections::HashSet::new();
        let mut assigned: std::collections::HashMap<String, String> =
            std::collections::HashMap::new();
        let mut mutations = Vec::new();
        for name in legacy {
            let record = self
                .registry
                .new_principal_where(PrincipalKind::Agent, &name, |id| {
                    taken.contains(id) || self.named_in_relationships(PrincipalKind::Agent, id)
                })?;
            taken.insert(record.id.clone());
            mutations.push(Mutation::AssignStableId {
                kind: "agent".to_owned(),
                handle: name.clone(),
                id: record.id.clone(),
            });
            assigned.insert(name, record.id);
        }
        let mut pending: Vec<PrincipalRecord> = Vec::new();
        let mut updates = Vec::new();
        for relationship in named_by_name {
            let name = relationship.subject.object.object_id.clone();
            let id = if let Some(id) = assigned.get(&name) {
                id.clone()
            } else if let Some(id) = self.registry.agent_id(&name) {
                id
            } else if validate_agent_name(&name).is_ok() {
                let record =
                    self.registry
                        .new_principal_where(PrincipalKind::Agent, &name, |id| {
                            taken.contains(id)
                                || self.named_in_relationships(PrincipalKind::Agent, id)
                        })?;
                taken.insert(record.id.clone());
                assigned.insert(name, record.id.clone());
                let id = record.id.clone();
                pending.push(record);
                id
            } else {
                tracing::warn!(%relationship, "relationship names an agent that cannot be registered; left as is");
                continue;
            };
            updates.extend(renamed_subject(relationship, id));
        }
        let given = mutations.len();
        mutations.extend(registrations(&pending));
        self.commit.write_renames(updates, mutations).await?;
        tracing::info!(agents = given + pending.len(), "gave agents stable ids");
        self.registry.commit(&pending);
        for (name, id) in &assigned {
            if !pending.iter().any(|record| &record.id == id) {
                self.registry
                    .commit_stable_id(PrincipalKind::Agent, name, id);
            }
        }
        Ok(())
    }

    /// The stable id for a user named `handle` in stored relationships: registered already,
    /// or registered now into `pending` (`None` if the text cannot name a user).
    fn adopt_handle(
        self,
        handle: &str,
        pending: &mut Vec<nexus_store::PrincipalRecord>,
        pending_ids: &mut std::collections::HashSet<String>,
    ) -> Option<String> {
        if let Some(id) = self.registry.user_id(handle) {
            return Some(id);
        }
        if crate::accounts::is_stable_user_id(handle)
            || crate::accounts::validate_handle(handle).is_err()
        {
            return None;
        }
        let record = self
            .registry
            .new_principal_where(PrincipalKind::User, handle, |id| {
                pending_ids.contains(id) || self.named_in_relationships(PrincipalKind::User, id)
            })
            .ok()?;
        pending_ids.insert(record.id.clone());
        let id = record.id.clone();
        pending.push(record);
        Some(id)
    }
}

/// The updates moving `relationship` to the same subject under its stable id `id`.
fn renamed_subject(relationship: Relationship, id: String) -> [RelationshipUpdate; 2] {
    let mut renamed = relationship.clone();
    renamed.subject.object.object_id = id;
    [
        RelationshipUpdate {
            operation: Operation::Delete,
            relationship,
        },
        RelationshipUpdate {
            operation: Operation::Touch,
            relationship: renamed,
        },
    ]
}

/// The mutations registering `pending` principals, committed with what needed them.
pub(crate) fn registrations(
    pending: &[nexus_store::PrincipalRecord],
) -> Vec<nexus_store::Mutation> {
    pending
        .iter()
        .map(|principal| nexus_store::Mutation::RegisterPrincipal {
            principal: principal.clone(),
        })
        .collect()
}

impl Accounts<'_> {
    /// Locks a user's account (system administrators): in every organization where the
    /// user is an active member, the membership is suspended, which ends all access there
    /// at once; `unlock` restores exactly those. The account, its keys and its data stay.
    pub async fn lock(self, context: &CallContext, user: &str) -> Result<AccountChange, FsError> {
        Fs::require_system(context, "locking an account")?;
        self.set_locked(context, user, true).await
    }

    /// Emergency lockout (system administrators): from the next request on, every credential
    /// of the user stops working — tokens issued before now are refused (their `iat` is
    /// before the lockout; a token without `iat` is refused too), every API key is revoked —
    /// and the account is locked as by [`Accounts::lock`]. `unlock` restores the memberships
    /// only: revoked keys stay revoked and old tokens stay void.
    pub async fn lockout(
        self,
        context: &CallContext,
        user: &str,
    ) -> Result<AccountChange, FsError> {
        Fs::require_system(context, "locking out an account")?;
        let id = self.known_user(user)?;
        let at = Timestamp::now();
        self.store
            .apply(Mutation::SetLockout {
                kind: "user".to_owned(),
                id: id.clone(),
                at,
            })
            .await?;
        self.registry.commit_lockout("user", &id, at);
        let subject = format!("user:{id}");
        let mut revoked_keys = 0;
        for key in self.registry.keys() {
            let delegated = key.on_behalf_of.as_deref() == Some(subject.as_str());
            if (key.principal == subject || delegated) && !key.revoked {
                self.revoke_key(context, &key.id).await?;
                revoked_keys += 1;
            }
        }
        let mut change = self.set_locked(context, &id, true).await?;
        change.revoked_keys = revoked_keys;
        tracing::info!(target: "nexus::audit", user = %id, revoked_keys, "account locked out");
        Ok(change)
    }

    /// Unlocks an account locked by [`Accounts::lock`].
    pub async fn unlock(self, context: &CallContext, user: &str) -> Result<AccountChange, FsError> {
        Fs::require_system(context, "unlocking an account")?;
        self.set_locked(context, user, false).await
    }

    async fn set_locked(
        self,
        context: &CallContext,
        user: &str,
        lock: bool,
    ) -> Result<AccountChange, FsError> {
        let id = self.known_user(user)?;
        let mut orgs = Vec::new();
        for org in self.files().store_org_ids().await? {
            let changed = self
                .orgs()
                .change_member(context, &org, &id, |member| {
                    let marked =
                        member.extra.get(LOCK_MARK) == Some(&serde_json::Value::Bool(true));
                    if lock && member.status == MemberStatus::Active {
                        member.status = MemberStatus::Suspended;
                        member
                            .extra
                            .insert(LOCK_MARK.to_owned(), serde_json::Value::Bool(true));
                        true
                    } else if !lock && marked {
                        member.status = MemberStatus::Active;
                        member.extra.remove(LOCK_MARK);
                        true
                    } else {
                        false
                    }
                })
                .await;
            match changed {
                Ok(Some(_)) => orgs.push(org.to_string()),
                // Not a member, or an organization without a record (no membership to
                // suspend).
                Ok(None) | Err(FsError::Missing { .. }) => {}
                Err(error) => return Err(error),
            }
        }
        tracing::info!(target: "nexus::audit", user = %id, lock, "account {}", if lock { "locked" } else { "unlocked" });
        Ok(AccountChange {
            user: id,
            orgs,
            locked: lock,
            revoked_keys: 0,
            removed_items: 0,
        })
    }

    /// Deletes a user's account (system administrators): removed from every organization
    /// (with every grant there), every API key revoked, and the user's personal knowledge
    /// items removed. The stable id stays registered, so it is never given to anyone else;
    /// items the user created in organization-wide or session scopes stay with the
    /// organization.
    pub async fn delete_user(
        self,
        context: &CallContext,
        user: &str,
    ) -> Result<AccountChange, FsError> {
        Fs::require_system(context, "deleting an account")?;
        let id = self.known_user(user)?;
        let mut orgs = Vec::new();
        let mut removed_items = 0;
        for org in self.files().store_org_ids().await? {
            match self.orgs().remove_member(context, org.as_str(), &id).await {
                Ok(_) => orgs.push(org.to_string()),
                Err(FsError::Missing { .. }) => {}
                Err(error) => return Err(error),
            }
            removed_items += self.remove_personal_items(&org, &id).await?;
        }
        let subject = format!("user:{id}");
        let mut revoked_keys = 0;
        for key in self.registry.keys() {
            let delegated = key.on_behalf_of.as_deref() == Some(subject.as_str());
            if (key.principal == subject || delegated) && !key.revoked {
                self.revoke_key(context, &key.id).await?;
                revoked_keys += 1;
            }
        }
        tracing::info!(target: "nexus::audit", user = %id, revoked_keys, removed_items, "account deleted");
        Ok(AccountChange {
            user: id,
            orgs,
            locked: false,
            revoked_keys,
            removed_items,
        })
    }

    /// Removes the personal scope folders of `user` in every environment of `org`; returns
    /// how many files went.
    async fn remove_personal_items(self, org: &OrgId, user: &str) -> Result<u64, FsError> {
        let mut removed = 0;
        let scope = nexus_knowledge::Scope::User(user.to_owned());
        for env in nexus_knowledge::Environment::ALL {
            let folder = super::knowledge::scope_folder(org, env, &scope)?;
            if self.store.node(&folder).await?.is_none() {
                continue;
            }
            let remove = Mutation::Remove {
                org: org.clone(),
                path: folder.clone(),
                recursive: true,
                if_match: None,
                author: "system".to_owned(),
                at: Timestamp::now(),
            };
            let applied = self
                .commit
                .rekey_subtree(&folder, None, &[], vec![remove])
                .await?;
            removed += applied.first().map_or(0, |applied| applied.removed);
        }
        Ok(removed)
    }

    /// The stable id of a registered user named by handle or id.
    fn known_user(self, user: &str) -> Result<String, FsError> {
        self.registry.user_id(user).ok_or_else(|| FsError::Missing {
            message: format!(
                "there is no user `{}`",
                user.chars().take(80).collect::<String>()
            ),
        })
    }
}
