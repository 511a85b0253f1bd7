//! Revision tokens and list cursors: opaque, tamper-evident, and revealing nothing about
//! other organizations.
//!
//! Relationship revisions are one sequence for the whole data directory, so a raw revision
//! number would tell a caller how much other organizations changed. Callers therefore see
//! **revision tokens**: the scope they were issued for (an organization, a caller, or the
//! whole store for the system) and the last revision that changed that scope, encrypted
//! deterministically (AES-256-GCM-SIV, RFC 8452, with a key derived from the server key).
//! The same state always gives the same token, so a token changes exactly when its scope
//! changes, and its content cannot be read, forged or moved to another scope.
//!
//! List cursors carry their position in clear (it is the caller's own listing) and a keyed
//! BLAKE3 MAC over the position, the listing and the caller, so a hand-made or edited cursor,
//! or one from another listing or caller, is refused.

use aes_gcm_siv::aead::{Aead, KeyInit};
use aes_gcm_siv::{Aes256GcmSiv, Nonce};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use nexus_path::OrgId;
use serde::{Deserialize, Serialize};

use crate::error::FsError;

/// Prefix of every revision token (its format version).
const TOKEN_PREFIX: &str = "r1.";
/// Longest token accepted (anything longer is refused unread).
const MAX_TOKEN_BYTES: usize = 1024;

/// What a revision token speaks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Everything (issued to the system only).
    Global,
    /// One organization: its members may present it.
    Org(OrgId),
    /// One caller (a subject such as `user:u_k3x9`) across its organizations.
    Caller(String),
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenPayload {
    /// `g`, `o:<org>` or `c:<subject>`.
    s: String,
    r: u64,
}

/// Issues and opens revision tokens and list cursors with keys derived from the server key.
pub struct Keys {
    tokens: Aes256GcmSiv,
    cursors: [u8; 32],
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("Keys(..)")
    }
}

fn invalid_token() -> FsError {
    FsError::invalid(
        "invalid revision token: pass back exactly the `revision` of an earlier response",
    )
}

impl Keys {
    /// Keys derived from the server's secret key.
    pub fn new(server_key: &[u8]) -> Keys {
        let token_key = blake3::derive_key("nexus 2026 revision tokens v1", server_key);
        let cursors = blake3::derive_key("nexus 2026 list cursors v1", server_key);
        // A 32-byte key always fits AES-256.
        let tokens = Aes256GcmSiv::new(&token_key.into());
        Keys { tokens, cursors }
    }

    /// The token for `revision` of `scope`.
    pub fn issue(&self, scope: &Scope, revision: u64) -> String {
        let payload = TokenPayload {
            s: match scope {
                Scope::Global => "g".to_owned(),
                Scope::Org(org) => format!("o:{org}"),
                Scope::Caller(subject) => format!("c:{subject}"),
            },
            r: revision,
        };
        // Serializing a struct of a string and a number cannot fail.
        let plain = serde_json::to_vec(&payload).unwrap_or_default();
        // Deterministic by design: AES-GCM-SIV keeps its guarantees with a repeated nonce,
        // revealing only whether two tokens are equal.
        let sealed = self
            .tokens
            .encrypt(&Nonce::default(), plain.as_slice())
            .unwrap_or_default();
        format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(sealed))
    }

    /// The scope and revision of a token this server issued.
    pub fn open(&self, token: &str) -> Result<(Scope, u64), FsError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(invalid_token());
        }
        let sealed = token
            .strip_prefix(TOKEN_PREFIX)
            .and_then(|rest| URL_SAFE_NO_PAD.decode(rest).ok())
            .ok_or_else(invalid_token)?;
        let plain = self
            .tokens
            .decrypt(&Nonce::default(), sealed.as_slice())
            .map_err(|_| invalid_token())?;
        let payload: TokenPayload = serde_json::from_slice(&plain).map_err(|_| invalid_token())?;
        let scope = match payload.s.split_once(':') {
            None if payload.s == "g" => Scope::Global,
            Some(("o", org)) => Scope::Org(OrgId::parse(org).map_err(|_| invalid_token())?),
            Some(("c", subject)) => Scope::Caller(subject.to_owned()),
            _ => return Err(invalid_token()),
        };
        Ok((scope, payload.r))
    }

    /// The MAC of a cursor's payload for `caller`.
    pub(crate) fn cursor_mac(&self, payload: &[u8], caller: &str) -> [u8; 16] {
        let mut hasher = blake3::Hasher::new_keyed(&self.cursors);
        hasher.update(
            &u64::try_from(payload.len())
                .unwrap_or(u64::MAX)
                .to_le_bytes(),
        );
        hasher.update(payload);
        hasher.update(caller.as_bytes());
        let mut mac = [0u8; 16];
        mac.copy_from_slice(hasher.finalize().as_bytes().get(..16).unwrap_or(&[0; 16]));
        mac
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_hide_their_content() {
        let keys = Keys::new(&[7u8; 32]);
        let acme = Scope::Org(OrgId::parse("acme").unwrap());
        let token = keys.issue(&acme, 41);
        assert_eq!(keys.open(&token).unwrap(), (acme.clone(), 41));
        // The same state gives the same token; another revision another one.
        assert_eq!(keys.issue(&acme, 41), token);
        assert_ne!(keys.issue(&acme, 42), token);
        assert!(!token.contains("acme") && !token.contains("41"));
        // Another server's key, edits and garbage are refused.
        assert!(Keys::new(&[8u8; 32]).open(&token).is_err());
        let mut edited = token.clone().into_bytes();
        let last = edited.len() - 2;
        edited[last] = if edited[last] == b'A' { b'B' } else { b'A' };
        for bad in [
            String::from_utf8(edited).unwrap(),
            "r1.".to_owned(),
            "r1.!!".to_owned(),
            "41".to_owned(),
            "x".repeat(5000),
        ] {
            assert!(keys.open(&bad).is_err(), "{bad}");
        }
        let caller = Scope::Caller("user:u_ab12".to_owned());
        assert_eq!(keys.open(&keys.issue(&caller, 3)).unwrap(), (caller, 3));
        assert_eq!(
            keys.open(&keys.issue(&Scope::Global, 9)).unwrap(),
            (Scope::Global, 9)
        );
    }
}
