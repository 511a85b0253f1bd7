//! Principals and API keys.
//!
//! Every user has a **stable id** `u_XXXX` (four random lowercase base-36 characters, never
//! reused, never changed) and a unique **handle** (typically an email). Agents are named by
//! their id (`agent_sales_001`), which is also their handle. Every interface accepts either
//! form; relationships and everything else stored name users by stable id only, so a handle
//! can never be confused with someone else's id.
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

/// Whether `text` has the form of a stable user id (`u_` and four of `[0-9a-z]`).
pub fn is_stable_user_id(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() == 6
        && text.starts_with("u_")
        && bytes
            .iter()
            .skip(2)
            .all(|byte| byte.is_ascii_digit() || byte.is_ascii_lowercase())
}

/// Checks a user handle: 1–254 characters of `[A-Za-z0-9._%+@-]`, starting with a letter
/// or digit, not of the stable-id form and not reserved. Compared byte for byte (no case
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
    if is_stable_user_id(handle) {
        return Err(FsError::invalid(format!(
            "`{handle}` has the form of a stable user id and cannot be a handle"
        )));
    }
    if is_reserved_name(handle) {
        return Err(FsError::invalid(format!(
            "`{handle}` is reserved and cannot name a user"
        )));
    }
    Ok(())
}

/// Checks an agent id: 1–128 characters of `[A-Za-z0-9._-]`, starting with a letter or digit.
pub fn validate_agent_id(id: &str) -> Result<(), FsError> {
    let well_formed = !id.is_empty()
        && id.len() <= 128
        && id.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if is_reserved_name(id) {
        return Err(FsError::invalid(format!(
            "`{id}` is reserved and cannot name an agent"
        )));
    }
    if !well_formed {
        return Err(FsError::invalid(format!(
            "invalid agent id `{}`: use 1-128 characters of letters, digits and `._-`, starting with a letter or digit",
            id.chars().take(80).collect::<String>()
        )));
    }
    Ok(())
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
}

/// The in-memory registry of principals and API keys.
#[derive(Debug, Default)]
pub struct Registry {
    state: RwLock<State>,
    /// Serializes registrations so two callers never pick the same new id.
    pub(crate) registering: tokio::sync::Mutex<()>,
}

/// How many stable user ids there are (`u_` and four base-36 characters).
pub const USER_ID_SPACE: u32 = 36 * 36 * 36 * 36;

/// The stable user id with index `index` (below [`USER_ID_SPACE`]).
fn user_id_at(mut index: u32) -> String {
    let mut id = String::from("u_");
    let mut digits = [b'0'; 4];
    for digit in digits.iter_mut().rev() {
        let position = usize::try_from(index % 36).unwrap_or(0);
        *digit = ID_ALPHABET.get(position).copied().unwrap_or(b'0');
        index /= 36;
    }
    id.extend(digits.iter().map(|&byte| char::from(byte)));
    id
}

/// A random stable user id for which `taken` is false: random draws while the space is
/// sparse, then every id in turn from a random start, so the search ends and fails only
/// when no id is free.
fn fresh_user_id(taken: impl Fn(&str) -> bool, rng: &mut impl rand::Rng) -> Option<String> {
    for _ in 0..64 {
        let id = user_id_at(rng.random_range(0..USER_ID_SPACE));
        if !taken(&id) {
            return Some(id);
        }
    }
    let start = rng.random_range(0..USER_ID_SPACE);
    (0..USER_ID_SPACE)
        .map(|offset| user_id_at((start + offset) % USER_ID_SPACE))
        .find(|id| !taken(id))
}

/// The hash under which a key secret is stored.
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
        }
        accounts
    }

    /// The stable id of a registered user, given its id or handle.
    pub fn user_id(&self, text: &str) -> Option<String> {
        let state = self.state.read();
        if is_stable_user_id(text) {
            return state
                .handles
                .contains_key(&("user".to_owned(), text.to_owned()))
                .then(|| text.to_owned());
        }
        state
            .ids
            .get(&("user".to_owned(), text.to_owned()))
            .cloned()
    }

    /// Whether an agent is registered.
    pub fn agent_known(&self, id: &str) -> bool {
        self.state
            .read()
            .handles
            .contains_key(&("agent".to_owned(), id.to_owned()))
    }

    /// The handle of a principal (`None` if unregistered).
    pub fn handle(&self, kind: &str, id: &str) -> Option<String> {
        self.state
            .read()
            .handles
            .get(&(kind.to_owned(), id.to_owned()))
            .cloned()
    }

    /// A subject (`user:<id>`...) with a user's stable id replaced by the handle, for people.
    pub fn display_subject(&self, subject: &str) -> String {
        if let Some(id) = subject.strip_prefix("user:")
            && let Some(handle) = self.handle("user", id)
        {
            return format!("user:{handle}");
        }
        subject.to_owned()
    }

    /// A record registering a new user with a fresh random stable id. Call with
    /// `registering` held, and [`Registry::commit`] it once durable. Refused (`conflict`)
    /// only when every stable id is taken.
    pub(crate) fn new_user(
        &self,
        handle: &str,
        pending: &[PrincipalRecord],
    ) -> Result<PrincipalRecord, FsError> {
        self.new_user_where(handle, |id| pending.iter().any(|record| record.id == id))
    }

    /// [`Registry::new_user`], with the ids registered but not yet committed answered by
    /// `pending` (for registering many users at once).
    pub(crate) fn new_user_where(
        &self,
        handle: &str,
        pending: impl Fn(&str) -> bool,
    ) -> Result<PrincipalRecord, FsError> {
        let state = self.state.read();
        let taken = |id: &str| {
            state
                .handles
                .contains_key(&("user".to_owned(), id.to_owned()))
                || pending(id)
        };
        let id = fresh_user_id(taken, &mut rand::rng()).ok_or_else(|| FsError::Conflict {
            message: format!(
                "cannot register `{handle}`: every one of the {USER_ID_SPACE} stable user ids is taken"
            ),
        })?;
        Ok(PrincipalRecord {
            kind: "user".to_owned(),
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
            })
            .collect()
    }

    /// The principal a key secret acts as; `None` for unknown or revoked keys.
    pub fn authenticate_key(&self, secret: &str) -> Option<Principal> {
        if !secret.starts_with(API_KEY_PREFIX) || secret.len() > 200 {
            return None;
        }
        let hash = hash_secret(secret);
        let state = self.state.read();
        let key = state.keys.get(&hash)?;
        if key.revoked_at.is_some() {
            return None;
        }
        Principal::parse(&key.principal).ok()
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
        validate_agent_id("agent_sales_001").unwrap();
        assert!(validate_agent_id("bad agent").is_err());
        assert!(validate_agent_id("UNIV").is_err());
        assert!(validate_agent_id("system").is_err());
    }

    #[test]
    fn the_id_search_ends_finding_the_last_free_id_or_nothing() {
        let mut rng = rand::rng();
        assert_eq!(user_id_at(0), "u_0000");
        assert_eq!(user_id_at(USER_ID_SPACE - 1), "u_zzzz");
        assert!(
            (0..USER_ID_SPACE)
                .step_by(9973)
                .all(|index| is_stable_user_id(&user_id_at(index)))
        );
        // One free id left: found (after the random draws miss it).
        let found = fresh_user_id(|id| id != "u_k3x9", &mut rng);
        assert_eq!(found.as_deref(), Some("u_k3x9"));
        // None left: the search ends without one.
        assert_eq!(fresh_user_id(|_| true, &mut rng), None);
    }

    #[test]
    fn new_ids_are_fresh_and_of_the_stable_form() {
        let accounts = Registry::default();
        let mut pending = Vec::new();
        for n in 0..2000 {
            let record = accounts
                .new_user(&format!("user{n}@x.org"), &pending)
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
    fn keys_authenticate_until_revoked_and_are_stored_hashed() {
        let accounts = Registry::default();
        let principal = Principal::User("u_ab12".into());
        let (record, secret) = Registry::new_key(&principal, "test");
        assert!(!record.hash.contains(&secret) && record.hash != secret);
        assert_eq!(accounts.authenticate_key(&secret), None);
        accounts.commit_key(record.clone());
        assert_eq!(accounts.authenticate_key(&secret), Some(principal));
        assert_eq!(accounts.authenticate_key(&format!("{secret}x")), None);
        accounts.commit_revocation(&record.id, Timestamp::now());
        assert_eq!(accounts.authenticate_key(&secret), None);
    }
}
