//! Opaque listing cursors.
//!
//! A cursor records where a listing stopped and which listing it belongs to (directory and
//! recursion), followed by a MAC (see [`crate::authz::tokens`]) over that and the caller.
//! It is base64url text so callers treat it as opaque; a cursor that does not decode, was
//! edited or made by hand, or belongs to another listing or caller, is refused rather than
//! silently restarting or skipping entries.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use nexus_path::VfsPath;
use serde::{Deserialize, Serialize};

use crate::authz::tokens::Keys;
use crate::error::FsError;

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Payload {
    v: u8,
    d: String,
    r: bool,
    a: String,
}

const FORMAT: u8 = 2;
const MAX_CURSOR_BYTES: usize = 8192;

/// Encodes the position after `last` in `caller`'s listing of `dir`.
pub(crate) fn encode(
    keys: &Keys,
    caller: &str,
    dir: &VfsPath,
    recursive: bool,
    last: &VfsPath,
) -> String {
    let payload = Payload {
        v: FORMAT,
        d: dir.to_string(),
        r: recursive,
        a: last.to_string(),
    };
    // Serializing a struct of strings and scalars cannot fail.
    let json = serde_json::to_vec(&payload).unwrap_or_default();
    let mac = keys.cursor_mac(&json, caller);
    format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(&json),
        URL_SAFE_NO_PAD.encode(mac)
    )
}

/// Decodes a cursor for `caller`'s listing of `dir`, returning the path to continue after.
pub(crate) fn decode(
    keys: &Keys,
    caller: &str,
    cursor: &str,
    dir: &VfsPath,
    recursive: bool,
) -> Result<VfsPath, FsError> {
    let invalid = || {
        FsError::invalid("invalid cursor: pass back exactly the `next_cursor` of the previous page")
    };
    if cursor.len() > MAX_CURSOR_BYTES {
        return Err(invalid());
    }
    let (body, mac) = cursor.split_once('.').ok_or_else(invalid)?;
    let json = URL_SAFE_NO_PAD.decode(body).map_err(|_| invalid())?;
    let mac = URL_SAFE_NO_PAD.decode(mac).map_err(|_| invalid())?;
    // Compared in constant time: the MAC must not be guessable byte by byte.
    let expected = blake3::Hash::from(pad(&keys.cursor_mac(&json, caller)));
    if mac.len() != 16 || expected != blake3::Hash::from(pad(&mac)) {
        return Err(invalid());
    }
    let payload: Payload = serde_json::from_slice(&json).map_err(|_| invalid())?;
    if payload.v != FORMAT {
        return Err(invalid());
    }
    if payload.d != dir.as_str() || payload.r != recursive {
        return Err(FsError::invalid(
            "invalid cursor: it belongs to a different listing",
        ));
    }
    let after = VfsPath::parse(&payload.a).map_err(|_| invalid())?;
    if after == *dir || !after.starts_with(dir) {
        return Err(invalid());
    }
    Ok(after)
}

/// 16 bytes padded to 32, for `blake3::Hash`'s constant-time comparison.
fn pad(bytes: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (slot, byte) in out.iter_mut().zip(bytes) {
        *slot = *byte;
    }
    out
}

/// The position a sequence cursor (`Keys::issue` for `scope`) names: 0 without one. A
/// cursor that does not open, or was issued for another scope (`belongs` says what it then
/// belongs to), is refused.
pub(crate) fn position(
    keys: &Keys,
    cursor: Option<&str>,
    scope: &crate::authz::tokens::Scope,
    belongs: &str,
) -> Result<u64, FsError> {
    let Some(cursor) = cursor else {
        return Ok(0);
    };
    let (issued_for, position) = keys
        .open(cursor)
        .map_err(|_| FsError::invalid("invalid `cursor`: pass `next_cursor` of an earlier page"))?;
    if &issued_for != scope {
        return Err(FsError::invalid(format!(
            "invalid `cursor`: it belongs to {belongs}"
        )));
    }
    Ok(position)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(text: &str) -> VfsPath {
        VfsPath::parse(text).unwrap()
    }

    fn keys() -> Keys {
        Keys::new(&[3u8; 32])
    }

    #[test]
    fn cursors_round_trip_and_bind_to_their_listing_and_caller() {
        let keys = keys();
        let dir = path("/orgs/acme/docs");
        let cursor = encode(
            &keys,
            "user:u_a",
            &dir,
            false,
            &path("/orgs/acme/docs/b.txt"),
        );
        assert_eq!(
            decode(&keys, "user:u_a", &cursor, &dir, false).unwrap(),
            path("/orgs/acme/docs/b.txt")
        );
        assert_eq!(
            decode(&keys, "user:u_a", &cursor, &dir, true)
                .unwrap_err()
                .to_string(),
            "invalid cursor: it belongs to a different listing"
        );
        assert!(decode(&keys, "user:u_a", &cursor, &path("/orgs/acme"), false).is_err());
        assert!(decode(&keys, "user:u_b", &cursor, &dir, false).is_err());
        assert!(decode(&Keys::new(&[4u8; 32]), "user:u_a", &cursor, &dir, false).is_err());
    }

    #[test]
    fn tampered_cursors_are_refused() {
        let keys = keys();
        let dir = path("/orgs/acme");
        let good = encode(&keys, "system", &dir, true, &path("/orgs/acme/x"));
        let (body, mac) = good.split_once('.').unwrap();
        let hand_made = |json: &[u8]| format!("{}.{mac}", URL_SAFE_NO_PAD.encode(json));
        let forged_outside = hand_made(br#"{"v":2,"d":"/orgs/acme","r":true,"a":"/orgs/other/x"}"#);
        let skipped = hand_made(br#"{"v":2,"d":"/orgs/acme","r":true,"a":"/orgs/acme/y"}"#);
        let old_format =
            URL_SAFE_NO_PAD.encode(br#"{"v":1,"d":"/orgs/acme","r":true,"a":"/orgs/acme/x"}"#);
        let truncated = good.get(..good.len() - 3).unwrap().to_owned();
        for bad in [
            String::new(),
            "!!!".to_owned(),
            truncated,
            forged_outside,
            skipped,
            old_format,
            body.to_owned(),
            format!("{body}."),
            "A".repeat(10_000),
        ] {
            let error = decode(&keys, "system", &bad, &dir, true).unwrap_err();
            assert_eq!(error.code(), crate::ErrorCode::InvalidInput, "{bad}");
        }
    }
}
