//! Opaque listing cursors.
//!
//! A cursor records where a listing stopped and which listing it belongs to (directory and
//! recursion). It is base64url text so callers treat it as opaque; a cursor that does not
//! decode, or belongs to another listing, is refused rather than silently restarting.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use nexus_path::VfsPath;
use serde::{Deserialize, Serialize};

use crate::error::FsError;

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Payload {
    v: u8,
    d: String,
    r: bool,
    a: String,
}

const FORMAT: u8 = 1;
const MAX_CURSOR_BYTES: usize = 8192;

/// Encodes the position after `last` in the listing of `dir`.
pub(crate) fn encode(dir: &VfsPath, recursive: bool, last: &VfsPath) -> String {
    let payload = Payload {
        v: FORMAT,
        d: dir.to_string(),
        r: recursive,
        a: last.to_string(),
    };
    // Serializing a struct of strings and scalars cannot fail.
    let json = serde_json::to_vec(&payload).unwrap_or_default();
    URL_SAFE_NO_PAD.encode(json)
}

/// Decodes a cursor for the listing of `dir`, returning the path to continue after.
pub(crate) fn decode(cursor: &str, dir: &VfsPath, recursive: bool) -> Result<VfsPath, FsError> {
    let invalid = || {
        FsError::invalid("invalid cursor: pass back exactly the `next_cursor` of the previous page")
    };
    if cursor.len() > MAX_CURSOR_BYTES {
        return Err(invalid());
    }
    let json = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| invalid())?;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn path(text: &str) -> VfsPath {
        VfsPath::parse(text).unwrap()
    }

    #[test]
    fn cursors_round_trip_and_bind_to_their_listing() {
        let dir = path("/orgs/acme/docs");
        let cursor = encode(&dir, false, &path("/orgs/acme/docs/b.txt"));
        assert_eq!(
            decode(&cursor, &dir, false).unwrap(),
            path("/orgs/acme/docs/b.txt")
        );
        assert_eq!(
            decode(&cursor, &dir, true).unwrap_err().to_string(),
            "invalid cursor: it belongs to a different listing"
        );
        assert!(decode(&cursor, &path("/orgs/acme"), false).is_err());
    }

    #[test]
    fn tampered_cursors_are_refused() {
        let dir = path("/orgs/acme");
        let good = encode(&dir, true, &path("/orgs/acme/x"));
        let forged_outside =
            URL_SAFE_NO_PAD.encode(br#"{"v":1,"d":"/orgs/acme","r":true,"a":"/orgs/other/x"}"#);
        let forged_version =
            URL_SAFE_NO_PAD.encode(br#"{"v":9,"d":"/orgs/acme","r":true,"a":"/orgs/acme/x"}"#);
        let extra_field = URL_SAFE_NO_PAD
            .encode(br#"{"v":1,"d":"/orgs/acme","r":true,"a":"/orgs/acme/x","o":"z"}"#);
        let truncated = good.get(..good.len() - 3).unwrap().to_owned();
        for bad in [
            String::new(),
            "!!!".to_owned(),
            truncated,
            forged_outside,
            forged_version,
            extra_field,
            "A".repeat(10_000),
        ] {
            let error = decode(&bad, &dir, true).unwrap_err();
            assert_eq!(error.code(), crate::ErrorCode::InvalidInput, "{bad}");
        }
    }
}
