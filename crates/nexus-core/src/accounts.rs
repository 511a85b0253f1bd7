//! Principals and API keys.
//!
//! Every user has a **stable id** `u_XXXX` and every agent one of the form `a_XXXX` (four
//! random lowercase base-36 characters, never reused, never changed), and each has a unique
//! **handle**: a user's is typically an email, an agent's is its name (`agent_sales_001`).
//! Every interface accepts either form; relationships and everything else stored name
//! principals by stable id only, so a handle can never be confused with someone else's id.
//!
//! The registry is loaded once and kept in memory; a registration becomes visible only after
//! it is durable (it is committed with whatever needed it, in one transaction).

use std::collections::HashMap;

use nexus_store::{AccountsSnapshot, ApiKeyRecord, PrincipalRecord, Timestamp};
use parking_lot::RwLock;
use rand::RngExt;

use crate::error::FsError;
use crate::principal::Principal;

/// The knowledge layer's name for the universal scope: never a user id or handle.
pub const RESERVED_UNIVERSAL: &str = "UNIV";

/// Words that name no user or agent (any case): the operator, the universal scope, the
/// wildcard and the unauthenticated caller.
pub const RESERVED_NAMES: [&str; 4] = ["system", RESERVED_UNIVERSAL, "*", "anonymous"];

/// Whether `name` is reserved (compared without regard to ASCII case).
pub fn is_reserved_name(name: &str) -> bool {
    RESERVED_NAMES
        .iter()
        .any(|reserved| reserved.eq_ignore_ascii_case(name))
}

/// Prefix of every API key secret (so leaked keys are recognisable).
pub const API_KEY_PREFIX: &str = "nx_";

const ID_ALPHABET: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";

/// The two kinds of principal with stable ids, and their id prefixes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrincipalKind {
    /// A person: `u_XXXX`.
    User,
    /// An AI agent: `a_XXXX`.
    Agent,
}

impl PrincipalKind {
    /// `user` or `agent`, as subjects and stored records name the kind.
    pub fn as_str(self) -> &'static str {
        match self {
            PrincipalKind::User => "user",
            PrincipalKind::Agent => "agent",
        }
    }

    /// The kind named `user` or `agent`.
    pub fn parse(text: &str) -> Option<PrincipalKind> {
        match text {
            "user" => Some(PrincipalKind::User),
            "agent" => Some(PrincipalKind::Agent),
            _ => None,
        }
    }

    fn prefix(self) -> &'static str {
        match self {
            PrincipalKind::User => "u_",
            PrincipalKind::Agent => "a_",
        }
    }

    /// Whether `text` has the form of a stable id of this kind (the prefix and four of
    /// `[0-9a-z]`).
    pub fn is_stable_id(self, text: &str) -> bool {
        let bytes = text.as_bytes();
        bytes.len() == 6
            && text.starts_with(self.prefix())
            && bytes
                .iter()
                .skip(2)
                .all(|byte| byte.is_ascii_digit() || byte.is_ascii_lowercase())
    }
}

/// Whether `text` has the form of a stable user id (`u_` and four of `[0-9a-z]`).
pub fn is_stable_user_id(text: &str) -> bool {
    PrincipalKind::User.is_stable_id(text)
}

/// Whether `text` has the form of a stable agent id (`a_` and four of `[0-9a-z]`).
pub fn is_stable_agent_id(text: &str) -> bool {
    PrincipalKind::Agent.is_stable_id(text)
}

/// Whether `text` has the form of any stable principal id.
fn is_any_stable_id(text: &str) -> bool {
    is_stable_user_id(text) || is_stable_agent_id(text)
}

/// Checks a user handle: 1–254 characters of `[A-Za-z0-9._%+@-]`, starting with a letter
/// or digit, not of a stable-id form and not reserved. Compared byte for byte (no case
/// folding, no Unicode look-alikes).
pub fn validate_handle(handle: &str) -> Result<(), FsError> {
    let well_formed = !handle.is_empty()
        && handle.len() <= 254
        && handle
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric())
        && handle
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._%+@-".contains(&b));
    if !well_formed {
        return Err(FsError::invalid(format!(
            "invalid user handle `{}`: use 1-254 characters of letters, digits and `._%+@-`, starting with a letter or digit",
            handle.chars().take(80).collect::<String>()
        )));
    }
    if is_any_stable_id(handle) {
        return Err(FsError::invalid(format!(
            "`{handle}` has the form of a stable id (`u_XXXX`, `a_XXXX`) and cannot be a handle"
        )));
    }
    if is_reserved_name(handle) {
        return Err(FsError::invalid(format!(
            "`{handle}` is reserved and cannot name a user"
        )));
    }
    Ok(())
}

/// Checks an agent's name (its handle): 1–128 characters of `[A-Za-z0-9._-]`, starting with
/// a letter or digit, not of a stable-id form and not reserved.
pub fn validate_agent_name(name: &str) -> Result<(), FsError> {
    let well_formed = !name.is_empty()
        && name.len() <= 128
        && name
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if is_reserved_name(name) {
        return Err(FsError::invalid(format!(
            "`{name}` is reserved and cannot name an agent"
        )));
    }
    if !well_formed {
        return Err(FsError::invalid(format!(
            "invalid agent name `{}`: use 1-128 characters of letters, digits and `._-`, starting with a letter or digit",
            name.chars().take(80).collect::<String>()
        )));
    }
    if is_any_stable_id(name) {
        return Err(FsError::invalid(format!(
            "`{name}` has the form of a stable id (`u_XXXX`, `a_XXXX`) and cannot be an agent's name"
        )));
    }
    Ok(())
}

/// Checks text naming an agent: its stable id `a_XXXX` or a valid name.
pub fn validate_agent_ref(text: &str) -> Result<(), FsError> {
    if is_stable_agent_id(text) {
        Ok(())
    } else {
        validate_agent_name(text)
    }
}

pub use nexus_api::{ApiKeyInfo, NewApiKey, PrincipalInfo};

#[derive(Debug, Default)]
struct State {
    /// (kind, id) → handle.
    handles: HashMap<(String, String), String>,
    /// (kind, handle) → id.
    ids: HashMap<(String, String), String>,
    created: HashMap<(String, String), Timestamp>,
    /// Secret hash → key.
    keys: HashMap<String, ApiKeyRecord>,
    /// (kind, id) → when the principal was locked out.
    lockouts: HashMap<(String, String), Timestamp>,
}

/// The in-memory registry of principals and API keys.
#[derive(Debug, Default)]
pub struct Registry {
    state: RwLock<State>,
    /// Serializes registrations so two callers never pick the same new id.
    pub(crate) registering: tokio::sync::Mutex<()>,
}

/// How many stable ids of one kind there are (the prefix and four base-36 characters).
pub const STABLE_ID_SPACE: u32 = 36 * 36 * 36 * 36;

/// The stable id of `kind` with index `index` (below [`STABLE_ID_SPACE`]).
fn stable_id_at(kind: PrincipalKind, mut index: u32) -> String {
    let mut id = String::from(kind.prefix());
    let mut digits = [b'0'; 4];
    for digit in digits.iter_mut().rev() {
        let position = usize::try_from(index % 36).unwrap_or(0);
        *digit = ID_ALPHABET.get(position).copied().unwrap_or(b'0');
        index /= 36;
    }
    id.extend(digits.iter().map(|&byte| char::from(byte)));
    id
}

/// A random stable id of `kind` for which `taken` is false: random draws while the space is
/// sparse, then every id in turn from a random start, so the search ends and fails only
/// when no id is free.
fn fresh_id(
    kind: PrincipalKind,
    taken: impl Fn(&str) -> bool,
    rng: &mut impl rand::Rng,
) -> Option<String> {
    for _ in 0..64 {
        let id = stable_id_at(kind, rng.random_range(0..STABLE_ID_SPACE));
        if !taken(&id) {
            return Some(id);
        }
    }
    let start = rng.random_range(0..STABLE_ID_SPACE);
    (0..STABLE_ID_SPACE)
        .map(|offset| stable_id_at(kind, (start + offset) % STABLE_ID_SPACE))
        .find(|id| !taken(id))
}

/// The hash under which a key secret is stored.
/// Who an API key acts as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyHolder {
    pub principal: Principal,
    /// For a delegation: the user the agent acts for.
    pub on_behalf_of: Option<Principal>,
}

pub fn hash_secret(secret: &str) -> String {
    blake3::hash(secret.as_bytes()).to_hex().to_string()
}

impl Registry {
    /// The registry as stored.
    pub fn load(snapshot: AccountsSnapshot) -> Registry {
        let accounts = Registry::default();
        {
            let mut state = accounts.state.write();
            for principal in snapshot.principals {
                state.insert(&principal);
            }
            for key in snapshot.api_keys {
                state.keys.insert(key.hash.clone(), key);
            }
            for (kind, id, at) in snapshot.lockouts {
                state.lockouts.insert((kind, id), at);
            }
        }
        accounts
    }

    /// Replaces everything with `snapshot` (a node sharing its store with others learns
    /// their account changes this way).
    ///
    /// The snapshot may predate what this node put in force meanwhile (it commits, then
    /// updates the registry): keys it created, revocations and lockouts, principals it
    /// registered. The store never deletes any of these and only ever makes a revocation or
    /// lockout later, so they are kept: a reload never revives a revoked key.
    pub(crate) fn reload(&self, snapshot: AccountsSnapshot) {
        let loaded = Registry::load(snapshot);
        let mut fresh = std::mem::take(&mut *loaded.state.write());
        let mut state = self.state.write();
        for (hash, key) in &state.keys {
            match fresh.keys.get_mut(hash) {
                None => {
                    fresh.keys.insert(hash.clone(), key.clone());
                }
                Some(stored) => {
                    if stored.revoked_at.is_none() {
                        stored.revoked_at = key.revoked_at;
                    }
                }
            }
        }
        for (who, at) in &state.lockouts {
            let kept = fresh.lockouts.entry(who.clone()).or_insert(*at);
            *kept = (*kept).max(*at);
        }
        let registered: Vec<PrincipalRecord> = state
            .handles
            .iter()
            .filter(|((kind, id), handle)| {
                !fresh.handles.contains_key(&(kind.clone(), id.clone()))
                    && !fresh.ids.contains_key(&(kind.clone(), (*handle).clone()))
            })
            .map(|((kind, id), handle)| PrincipalRecord {
                kind: kind.clone(),
                id: id.clone(),
                handle: handle.clone(),
                created_at: state
                    .created
                    .get(&(kind.clone(), id.clone()))
                    .copied()
                    .unwrap_or(Timestamp(0)),
            })
            .collect();
        for record in &registered {
            fresh.insert(record);
        }
        *state = fresh;
    }

    /// The stable id of a registered principal of `kind`, given its id or handle. (An agent
    /// registered before agents had stable ids is found by its name until it gets one.)
    pub fn id_of(&self, kind: PrincipalKind, text: &str) -> Option<String> {
        let state = self.state.read();
        let key = (kind.as_str().to_owned(), text.to_owned());
        if kind.is_stable_id(text) && state.handles.contains_key(&key) {
            return Some(text.to_owned());
        }
        state.ids.get(&key).cloned()
    }

    /// The stable id of a registered user, given its id or handle.
    pub fn user_id(&self, text: &str) -> Option<String> {
        self.id_of(PrincipalKind::User, text)
    }

    /// The stable id of a registered agent, given its id or name.
    pub fn agent_id(&self, text: &str) -> Option<String> {
        self.id_of(PrincipalKind::Agent, text)
    }

    /// Whether an agent is registered (by id or name).
    pub fn agent_known(&self, text: &str) -> bool {
        self.agent_id(text).is_some()
    }

    /// The handle of a principal (`None` if unregistered).
    pub fn handle(&self, kind: &str, id: &str) -> Option<String> {
        self.state
            .read()
            .handles
            .get(&(kind.to_owned(), id.to_owned()))
            .cloned()
    }

    /// A subject (`user:<id>`, `agent:<id>`...) with a stable id replaced by the handle, for
    /// people.
    pub fn display_subject(&self, subject: &str) -> String {
        for kind in ["user", "agent"] {
            if let Some(id) = subject
                .strip_prefix(kind)
                .and_then(|rest| rest.strip_prefix(':'))
                && let Some(handle) = self.handle(kind, id)
            {
                return format!("{kind}:{handle}");
            }
        }
        subject.to_owned()
    }

    /// A record registering a new principal of `kind` named `handle` with a fresh random
    /// stable id, with the ids registered but not yet committed answered by `pending`. Call
    /// with `registering` held, and [`Registry::commit`] it once durable. Refused
    /// (`conflict`) only when every stable id is taken.
    pub(crate) fn new_principal_where(
        &self,
        kind: PrincipalKind,
        handle: &str,
        pending: impl Fn(&str) -> bool,
    ) -> Result<PrincipalRecord, FsError> {
        let state = self.state.read();
        let taken = |id: &str| {
            state
                .handles
                .contains_key(&(kind.as_str().to_owned(), id.to_owned()))
                || pending(id)
        };
        let id = fresh_id(kind, taken, &mut rand::rng()).ok_or_else(|| FsError::Conflict {
            message: format!(
                "cannot register `{handle}`: every one of the {STABLE_ID_SPACE} stable {} ids is taken",
                kind.as_str()
            ),
        })?;
        Ok(PrincipalRecord {
            kind: kind.as_str().to_owned(),
            id,
            handle: handle.to_owned(),
            created_at: Timestamp::now(),
        })
    }

    /// Makes durable registrations visible.
    pub(crate) fn commit(&self, records: &[PrincipalRecord]) {
        let mut state = self.state.write();
        for record in records {
            state.insert(record);
        }
    }

    /// Agents registered before agents had stable ids (their name is their id), by name.
    pub(crate) fn agents_without_stable_ids(&self) -> Vec<String> {
        let state = self.state.read();
        let mut names: Vec<String> = state
            .handles
            .iter()
            .filter(|((kind, id), handle)| {
                kind == "agent" && id == *handle && !is_stable_agent_id(id)
            })
            .map(|(_, handle)| handle.clone())
            .collect();
        names.sort_unstable();
        names
    }

    /// Makes a durable [`nexus_store::Mutation::AssignStableId`] visible: the principal
    /// registered as `handle` is `id` from now on, and so are its keys.
    pub(crate) fn commit_stable_id(&self, kind: PrincipalKind, handle: &str, id: &str) {
        let mut state = self.state.write();
        let kind_text = kind.as_str().to_owned();
        let old = (kind_text.clone(), handle.to_owned());
        let new = (kind_text.clone(), id.to_owned());
        if state.handles.remove(&old).is_none() {
            return;
        }
        state.handles.insert(new.clone(), handle.to_owned());
        state.ids.insert(old.clone(), id.to_owned());
        if let Some(created) = state.created.remove(&old) {
            state.created.insert(new, created);
        }
        let (before, after) = (format!("{kind_text}:{handle}"), format!("{kind_text}:{id}"));
        for key in state.keys.values_mut() {
            if key.principal == before {
                key.principal.clone_from(&after);
            }
            if key.on_behalf_of.as_deref() == Some(before.as_str()) {
                key.on_behalf_of = Some(after.clone());
            }
        }
    }

    /// When `principal` was last locked out (credentials issued before then are void).
    pub fn locked_out_at(&self, principal: &Principal) -> Option<Timestamp> {
        let key = match principal {
            Principal::User(id) => ("user".to_owned(), id.clone()),
            Principal::Agent(id) => ("agent".to_owned(), id.clone()),
            Principal::System => return None,
        };
        self.state.read().lockouts.get(&key).copied()
    }

    /// Makes a durable lockout visible.
    pub(crate) fn commit_lockout(&self, kind: &str, id: &str, at: Timestamp) {
        let mut state = self.state.write();
        let slot = state
            .lockouts
            .entry((kind.to_owned(), id.to_owned()))
            .or_insert(at);
        *slot = (*slot).max(at);
    }

    /// Every registered principal, by kind then handle.
    pub fn list(&self) -> Vec<PrincipalInfo> {
        let state = self.state.read();
        let mut all: Vec<PrincipalInfo> = state
            .handles
            .iter()
            .map(|((kind, id), handle)| PrincipalInfo {
                kind: kind.clone(),
                id: id.clone(),
                handle: handle.clone(),
                created_at: crate::format_timestamp(
                    state
                        .created
                        .get(&(kind.clone(), id.clone()))
                        .copied()
                        .unwrap_or_default(),
                ),
            })
            .collect();
        all.sort_by(|a, b| (&a.kind, &a.handle).cmp(&(&b.kind, &b.handle)));
        all
    }

    /// A new key for `principal` (not yet stored) and its secret.
    pub(crate) fn new_key(principal: &Principal, description: &str) -> (ApiKeyRecord, String) {
        let mut rng = rand::rng();
        let mut secret_bytes = [0u8; 32];
        rng.fill(&mut secret_bytes);
        let mut id_bytes = [0u8; 8];
        rng.fill(&mut id_bytes);
        let secret = format!("{API_KEY_PREFIX}{}", hex::encode(secret_bytes));
        let record = ApiKeyRecord {
            id: format!("key_{}", hex::encode(id_bytes)),
            hash: hash_secret(&secret),
            principal: principal.to_string(),
            description: description.to_owned(),
            created_at: Timestamp::now(),
            revoked_at: None,
            on_behalf_of: None,
            expires_at: None,
        };
        (record, secret)
    }

    pub(crate) fn commit_key(&self, key: ApiKeyRecord) {
        self.state.write().keys.insert(key.hash.clone(), key);
    }

    pub(crate) fn commit_revocation(&self, id: &str, at: Timestamp) {
        let mut state = self.state.write();
        for key in state.keys.values_mut() {
            if key.id == id && key.revoked_at.is_none() {
                key.revoked_at = Some(at);
            }
        }
    }

    /// The key with this id.
    pub fn key(&self, id: &str) -> Option<ApiKeyRecord> {
        self.state
            .read()
            .keys
            .values()
            .find(|key| key.id == id)
            .cloned()
    }

    /// Every key (revoked ones too), oldest first.
    pub fn keys(&self) -> Vec<ApiKeyInfo> {
        let state = self.state.read();
        let mut keys: Vec<&ApiKeyRecord> = state.keys.values().collect();
        keys.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        keys.into_iter()
            .map(|key| ApiKeyInfo {
                id: key.id.clone(),
                principal: key.principal.clone(),
                description: key.description.clone(),
                created_at: crate::format_timestamp(key.created_at),
                revoked: key.revoked_at.is_some(),
                on_behalf_of: key.on_behalf_of.clone(),
                expires_at: key.expires_at.map(crate::format_timestamp),
            })
            .collect()
    }

    /// Every key record, oldest first.
    pub fn key_records(&self) -> Vec<ApiKeyRecord> {
        let state = self.state.read();
        let mut keys: Vec<ApiKeyRecord> = state.keys.values().cloned().collect();
        keys.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        keys
    }

    /// Who a key secret acts as (and for whom, for a delegation); `None` for unknown,
    /// revoked or expired keys, and for a delegation whose user was locked out since.
    pub fn authenticate_key(&self, secret: &str) -> Option<KeyHolder> {
        if !secret.starts_with(API_KEY_PREFIX) || secret.len() > 200 {
            return None;
        }
        let hash = hash_secret(secret);
        let key = self.state.read().keys.get(&hash)?.clone();
        if key.revoked_at.is_some() || key.expires_at.is_some_and(|at| at <= Timestamp::now()) {
            return None;
        }
        let on_behalf_of = match &key.on_behalf_of {
            None => None,
            Some(text) => {
                let user = Principal::parse(text).ok()?;
                if self
                    .locked_out_at(&user)
                    .is_some_and(|at| at >= key.created_at)
                {
                    return None;
                }
                Some(user)
            }
        };
        Some(KeyHolder {
            principal: Principal::parse(&key.principal).ok()?,
            on_behalf_of,
        })
    }
}

impl State {
    fn insert(&mut self, record: &PrincipalRecord) {
        self.handles.insert(
            (record.kind.clone(), record.id.clone()),
            record.handle.clone(),
        );
        self.ids.insert(
            (record.kind.clone(), record.handle.clone()),
            record.id.clone(),
        );
        self.created
            .insert((record.kind.clone(), record.id.clone()), record.created_at);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_ids_and_handles_never_overlap() {
        assert!(is_stable_user_id("u_a1z9"));
        for not_id in ["u_A1z9", "u_a1z", "u_a1z90", "x_a1z9", "u-a1z9", "u_a1_9"] {
            assert!(!is_stable_user_id(not_id), "{not_id}");
        }
        validate_handle("alice@acme.com").unwrap();
        validate_handle("Alice.Smith+x@acme.com").unwrap();
        for bad in [
            "",
            "u_ab12",
            "UNIV",
            "univ",
            "system",
            "SYSTEM",
            "anonymous",
            "a b",
            "mıke@example.org",
            "@acme",
            "a:b",
            "a/b",
        ] {
            assert!(validate_handle(bad).is_err(), "{bad}");
        }
        assert!(validate_handle("a_ab12").is_err());
        validate_agent_name("agent_sales_001").unwrap();
        for bad in ["bad agent", "UNIV", "system", "a_ab12", "u_ab12", ""] {
            assert!(validate_agent_name(bad).is_err(), "{bad}");
        }
        validate_agent_ref("a_ab12").unwrap();
        validate_agent_ref("agent_sales_001").unwrap();
        assert!(is_stable_agent_id("a_0z9k") && !is_stable_agent_id("u_0z9k"));
    }

    #[test]
    fn the_id_search_ends_finding_the_last_free_id_or_nothing() {
        let mut rng = rand::rng();
        let user = PrincipalKind::User;
        assert_eq!(stable_id_at(user, 0), "u_0000");
        assert_eq!(stable_id_at(user, STABLE_ID_SPACE - 1), "u_zzzz");
        assert_eq!(stable_id_at(PrincipalKind::Agent, 0), "a_0000");
        assert!(
            (0..STABLE_ID_SPACE)
                .step_by(9973)
                .all(|index| is_stable_user_id(&stable_id_at(user, index))
                    && is_stable_agent_id(&stable_id_at(PrincipalKind::Agent, index)))
        );
        // One free id left: found (after the random draws miss it).
        let found = fresh_id(user, |id| id != "u_k3x9", &mut rng);
        assert_eq!(found.as_deref(), Some("u_k3x9"));
        // None left: the search ends without one.
        assert_eq!(fresh_id(user, |_| true, &mut rng), None);
    }

    #[test]
    fn new_ids_are_fresh_and_of_the_stable_form() {
        let accounts = Registry::default();
        let mut pending = Vec::new();
        for n in 0..2000 {
            let record = accounts
                .new_principal_where(PrincipalKind::User, &format!("user{n}@x.org"), |id| {
                    pending
                        .iter()
                        .any(|record: &PrincipalRecord| record.id == id)
                })
                .unwrap();
            assert!(is_stable_user_id(&record.id), "{}", record.id);
            pending.push(record);
        }
        let mut ids: Vec<&str> = pending.iter().map(|record| record.id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), 2000);
        accounts.commit(&pending);
        let first = pending.first().unwrap();
        assert_eq!(accounts.user_id(&first.handle), Some(first.id.clone()));
        assert_eq!(accounts.user_id(&first.id), Some(first.id.clone()));
        assert_eq!(
            accounts.user_id("u_zzzz").is_some(),
            pending.iter().any(|r| r.id == "u_zzzz")
        );
    }

    #[test]
    fn agents_are_found_by_name_or_id_and_keep_their_keys_when_given_a_stable_id() {
        let legacy = PrincipalRecord {
            kind: "agent".to_owned(),
            id: "sales-bot".to_owned(),
            handle: "sales-bot".to_owned(),
            created_at: Timestamp(7),
        };
        let accounts = Registry::load(AccountsSnapshot {
            principals: vec![legacy],
            api_keys: Vec::new(),
            lockouts: Vec::new(),
        });
        let (key, secret) = Registry::new_key(&Principal::Agent("sales-bot".into()), "bot");
        accounts.commit_key(key);
        assert_eq!(accounts.agents_without_stable_ids(), ["sales-bot"]);
        assert_eq!(accounts.agent_id("sales-bot").as_deref(), Some("sales-bot"));
        let fresh = accounts
            .new_principal_where(PrincipalKind::Agent, "sales-bot", |_| false)
            .unwrap();
        assert!(is_stable_agent_id(&fresh.id), "{}", fresh.id);
        accounts.commit_stable_id(PrincipalKind::Agent, "sales-bot", &fresh.id);
        assert!(accounts.agents_without_stable_ids().is_empty());
        assert_eq!(accounts.agent_id("sales-bot"), Some(fresh.id.clone()));
        assert_eq!(accounts.agent_id(&fresh.id), Some(fresh.id.clone()));
        // Users and agents never answer for each other.
        assert_eq!(accounts.user_id(&fresh.id), None);
        assert_eq!(accounts.user_id("sales-bot"), None);
        assert_eq!(
            accounts.display_subject(&format!("agent:{}", fresh.id)),
            "agent:sales-bot"
        );
        assert_eq!(
            accounts
                .authenticate_key(&secret)
                .map(|holder| holder.principal),
            Some(Principal::Agent(fresh.id.clone()))
        );
        let listed = accounts.list();
        assert_eq!(listed.len(), 1);
        assert_eq!(
            (listed[0].id.as_str(), listed[0].handle.as_str()),
            (fresh.id.as_str(), "sales-bot")
        );
        assert_eq!(listed[0].created_at, crate::format_timestamp(Timestamp(7)));
    }

    #[test]
    fn keys_authenticate_until_revoked_and_are_stored_hashed() {
        let accounts = Registry::default();
        let principal = Principal::User("u_ab12".into());
        let (record, secret) = Registry::new_key(&principal, "test");
        assert!(!record.hash.contains(&secret) && record.hash != secret);
        assert_eq!(
            accounts
                .authenticate_key(&secret)
                .map(|holder| holder.principal),
            None
        );
        accounts.commit_key(record.clone());
        assert_eq!(
            accounts
                .authenticate_key(&secret)
                .map(|holder| holder.principal),
            Some(principal)
        );
        assert_eq!(
            accounts
                .authenticate_key(&format!("{secret}x"))
                .map(|holder| holder.principal),
            None
        );
        accounts.commit_revocation(&record.id, Timestamp::now());
        assert_eq!(
            accounts
                .authenticate_key(&secret)
                .map(|holder| holder.principal),
            None
        );
    }
}
