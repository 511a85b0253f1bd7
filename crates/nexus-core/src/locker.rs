//! Lockers: secrets sealed at rest with envelope encryption.
//!
//! A Locker item's `data.secret` is stored sealed: XChaCha20-Poly1305 (a fresh random 24-byte
//! nonce per write) under the organization's **data key**, with the organization and the
//! item's key as associated data, so a sealed value opens only where it was sealed (moved to
//! another item or organization, it is refused). Each organization's data key is random,
//! created on its first secret, and stored only **wrapped** by the **master key** (also
//! XChaCha20-Poly1305, the organization as associated data). The master key comes from the
//! environment (`NEXUS_LOCKER_KEY`) or a key file and is never stored; its fingerprint
//! (`master_id`) is, so a wrong key is named at startup instead of failing later. Rotating
//! the master key re-wraps the data keys (one small row per organization), never the secrets.

use std::collections::HashMap;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use nexus_path::OrgId;
use parking_lot::RwLock;
use rand::RngExt;
use serde_json::{Map, Value};

/// The environment variable holding the master key (32 bytes, base64).
pub const MASTER_KEY_ENV: &str = "NEXUS_LOCKER_KEY";

/// The field of a sealed value that names its format.
const SEALED_FIELD: &str = "$sealed";
/// The one format so far.
const SEAL_FORMAT: &str = "xchacha20poly1305-v1";
const NONCE_BYTES: usize = 24;

/// Why a master key cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum MasterKeyError {
    #[error(
        "the locker master key must be 32 bytes, base64-encoded (e.g. `head -c 32 /dev/urandom | base64`): {0}"
    )]
    Malformed(String),
    #[error(
        "cannot read the locker key file `{path}`: {}",
        crate::io_reason(source)
    )]
    Unreadable {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// The key-encryption key. Never stored, never printed (only its fingerprint).
pub struct MasterKey {
    cipher: XChaCha20Poly1305,
    id: String,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "MasterKey({})", self.id)
    }
}

impl MasterKey {
    /// A key from its base64 text (standard alphabet; surrounding whitespace ignored).
    pub fn from_base64(text: &str) -> Result<MasterKey, MasterKeyError> {
        let bytes = STANDARD
            .decode(text.trim())
            .map_err(|error| MasterKeyError::Malformed(format!("not base64 ({error})")))?;
        let key: [u8; 32] = bytes.as_slice().try_into().map_err(|_| {
            MasterKeyError::Malformed(format!("it decodes to {} bytes", bytes.len()))
        })?;
        Ok(MasterKey::from_bytes(&key))
    }

    /// A key from a file holding its base64 text.
    pub fn from_file(path: &Path) -> Result<MasterKey, MasterKeyError> {
        let text = std::fs::read_to_string(path).map_err(|source| MasterKeyError::Unreadable {
            path: path.display().to_string(),
            source,
        })?;
        MasterKey::from_base64(&text)
    }

    fn from_bytes(key: &[u8; 32]) -> MasterKey {
        let fingerprint = blake3::derive_key("nexus 2026-12 locker master key fingerprint", key);
        MasterKey {
            cipher: XChaCha20Poly1305::new(key.into()),
            id: format!(
                "mk_{}",
                hex::encode(fingerprint.get(..8).unwrap_or_default())
            ),
        }
    }

    /// A new random key and its base64 text (to be kept outside the data directory).
    pub fn generate() -> (MasterKey, String) {
        let mut key = [0u8; 32];
        rand::rng().fill(&mut key);
        (MasterKey::from_bytes(&key), STANDARD.encode(key))
    }

    /// The key's fingerprint (`mk_` and 16 hex digits): safe to store and show.
    pub fn id(&self) -> &str {
        &self.id
    }

    fn wrap(&self, org: &OrgId, data_key: &[u8; 32]) -> Vec<u8> {
        seal_bytes(&self.cipher, &wrap_context(org), data_key)
    }

    /// The data key of a stored record, which this key must have wrapped.
    fn open_record(
        &self,
        record: &nexus_store::LockerKeyRecord,
    ) -> Result<[u8; 32], LockerOpenError> {
        if record.master_id != self.id {
            return Err(LockerOpenError::WrongKey {
                org: record.org.to_string(),
                given: self.id.clone(),
                stored: record.master_id.clone(),
            });
        }
        self.unwrap(&record.org, &record.wrapped)
            .ok_or_else(|| LockerOpenError::Damaged {
                org: record.org.to_string(),
                id: self.id.clone(),
            })
    }

    fn unwrap(&self, org: &OrgId, wrapped: &[u8]) -> Option<[u8; 32]> {
        open_bytes(&self.cipher, &wrap_context(org), wrapped)?
            .as_slice()
            .try_into()
            .ok()
    }
}

fn wrap_context(org: &OrgId) -> Vec<u8> {
    format!("nexus-locker-data-key-v1\0{org}").into_bytes()
}

fn secret_context(org: &OrgId, item: &str) -> Vec<u8> {
    format!("nexus-locker-secret-v1\0{org}\0{item}").into_bytes()
}

/// `nonce || ciphertext` of `plain` with a fresh random nonce.
fn seal_bytes(cipher: &XChaCha20Poly1305, context: &[u8], plain: &[u8]) -> Vec<u8> {
    let mut nonce = [0u8; NONCE_BYTES];
    rand::rng().fill(&mut nonce);
    let sealed = cipher
        .encrypt(
            &XNonce::from(nonce),
            Payload {
                msg: plain,
                aad: context,
            },
        )
        .unwrap_or_default();
    let mut out = nonce.to_vec();
    out.extend(sealed);
    out
}

fn open_bytes(cipher: &XChaCha20Poly1305, context: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
    if sealed.len() < NONCE_BYTES {
        return None;
    }
    let (nonce, ciphertext) = sealed.split_at(NONCE_BYTES);
    let nonce = XNonce::try_from(nonce).ok()?;
    cipher
        .decrypt(
            &nonce,
            Payload {
                msg: ciphertext,
                aad: context,
            },
        )
        .ok()
}

/// Why lockers cannot open with a master key.
#[derive(Debug, thiserror::Error)]
pub enum LockerOpenError {
    #[error(
        "the locker master key `{given}` is not the one organization `{org}`'s secrets are sealed under (`{stored}`): start with the right {MASTER_KEY_ENV} or `locker.key_file`; to change keys, use `nexus admin rotate-locker-key`"
    )]
    WrongKey {
        org: String,
        given: String,
        stored: String,
    },
    #[error(
        "the locker data key of organization `{org}` does not open with master key `{id}`: it is damaged"
    )]
    Damaged { org: String, id: String },
}

/// The master key in use and the organizations' data keys it opened.
#[derive(Default)]
pub struct Locker {
    master: RwLock<Option<MasterKey>>,
    keys: RwLock<HashMap<OrgId, XChaCha20Poly1305>>,
    /// Serializes creating data keys.
    pub(crate) creating: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Locker {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &*self.master.read() {
            Some(master) => write!(formatter, "Locker({})", master.id),
            None => formatter.write_str("Locker(disabled)"),
        }
    }
}

/// What sealing needs from the store: an organization's data key, created on first use.
pub(crate) enum DataKey {
    /// Ready.
    Ready,
    /// No key yet: store this record (and then [`Locker::install`] it).
    Create {
        record: nexus_store::LockerKeyRecord,
        key: [u8; 32],
    },
}

impl Locker {
    /// Whether a master key is configured.
    pub fn enabled(&self) -> bool {
        self.master.read().is_some()
    }

    /// The master key's fingerprint, when one is configured.
    pub fn master_id(&self) -> Option<String> {
        self.master.read().as_ref().map(|master| master.id.clone())
    }

    /// Uses `master` for the stored data keys `records`, each of which it must open.
    pub(crate) fn open(
        &self,
        master: MasterKey,
        records: &[nexus_store::LockerKeyRecord],
    ) -> Result<(), LockerOpenError> {
        let mut keys = HashMap::new();
        for record in records {
            let key = master.open_record(record)?;
            keys.insert(record.org.clone(), XChaCha20Poly1305::new(&key.into()));
        }
        *self.keys.write() = keys;
        *self.master.write() = Some(master);
        Ok(())
    }

    /// The mutations re-wrapping every stored data key under `new` (each must open with the
    /// current master key).
    pub(crate) fn rewrap(
        &self,
        new: &MasterKey,
        records: &[nexus_store::LockerKeyRecord],
    ) -> Result<Vec<nexus_store::Mutation>, LockerOpenError> {
        let guard = self.master.read();
        let Some(master) = guard.as_ref() else {
            return Ok(Vec::new());
        };
        records
            .iter()
            .map(|record| {
                let key = master.open_record(record)?;
                Ok(nexus_store::Mutation::RewrapLockerKey {
                    org: record.org.clone(),
                    from_master_id: master.id.clone(),
                    master_id: new.id.clone(),
                    wrapped: new.wrap(&record.org, &key),
                })
            })
            .collect()
    }

    /// Whether `org` has a data key ready, or the record creating one (`None` when lockers
    /// are disabled).
    pub(crate) fn data_key(&self, org: &OrgId) -> Option<DataKey> {
        if self.keys.read().contains_key(org) {
            return Some(DataKey::Ready);
        }
        let guard = self.master.read();
        let master = guard.as_ref()?;
        let mut key = [0u8; 32];
        rand::rng().fill(&mut key);
        Some(DataKey::Create {
            record: nexus_store::LockerKeyRecord {
                org: org.clone(),
                master_id: master.id.clone(),
                wrapped: master.wrap(org, &key),
                created_at: nexus_store::Timestamp::now(),
            },
            key,
        })
    }

    /// Makes a stored data key usable.
    pub(crate) fn install(&self, org: &OrgId, key: &[u8; 32]) {
        self.keys
            .write()
            .insert(org.clone(), XChaCha20Poly1305::new(key.into()));
    }

    /// Whether the configured master key opens `record` (`None`: no master key).
    pub(crate) fn opens(&self, record: &nexus_store::LockerKeyRecord) -> Option<bool> {
        let guard = self.master.read();
        Some(guard.as_ref()?.open_record(record).is_ok())
    }

    /// Forgets an organization's data key (its organization was replaced).
    pub(crate) fn forget(&self, org: &OrgId) {
        self.keys.write().remove(org);
    }

    /// Opens a data key another writer stored (the record it lost a race to).
    pub(crate) fn install_stored(&self, record: &nexus_store::LockerKeyRecord) -> bool {
        let guard = self.master.read();
        let Some(master) = guard.as_ref() else {
            return false;
        };
        match master.open_record(record) {
            Ok(key) => {
                self.install(&record.org, &key);
                true
            }
            Err(_) => false,
        }
    }

    /// The sealed form of `secret` for item `item` of `org` (`None`: no data key).
    pub(crate) fn seal(&self, org: &OrgId, item: &str, secret: &str) -> Option<Value> {
        let keys = self.keys.read();
        let cipher = keys.get(org)?;
        let sealed = seal_bytes(cipher, &secret_context(org, item), secret.as_bytes());
        let mut fields = Map::new();
        fields.insert(SEALED_FIELD.to_owned(), Value::from(SEAL_FORMAT));
        fields.insert("value".to_owned(), Value::from(STANDARD.encode(sealed)));
        Some(Value::Object(fields))
    }

    /// The secret `sealed` holds, if it was sealed for item `item` of `org` with its data key.
    pub(crate) fn open_secret(&self, org: &OrgId, item: &str, sealed: &Value) -> Option<String> {
        if !is_sealed(sealed) || sealed.get(SEALED_FIELD)? != SEAL_FORMAT {
            return None;
        }
        let bytes = STANDARD.decode(sealed.get("value")?.as_str()?).ok()?;
        let keys = self.keys.read();
        let plain = open_bytes(keys.get(org)?, &secret_context(org, item), &bytes)?;
        String::from_utf8(plain).ok()
    }
}

/// Whether a JSON value is a sealed secret (an object naming its format).
pub fn is_sealed(value: &Value) -> bool {
    value
        .as_object()
        .is_some_and(|fields| fields.contains_key(SEALED_FIELD))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn org(name: &str) -> OrgId {
        OrgId::parse(name).unwrap()
    }

    #[test]
    fn secrets_open_only_where_they_were_sealed() {
        let (master, text) = MasterKey::generate();
        assert_eq!(MasterKey::from_base64(&text).unwrap().id(), master.id());
        let locker = Locker::default();
        locker.open(master, &[]).unwrap();
        let acme = org("acme");
        let Some(DataKey::Create { record, key }) = locker.data_key(&acme) else {
            panic!("a new organization needs a data key");
        };
        locker.install(&acme, &key);
        assert!(matches!(locker.data_key(&acme), Some(DataKey::Ready)));
        let item = "locker:u_ab12:20261207:cred:db";
        let sealed = locker.seal(&acme, item, "hunter2").unwrap();
        let again = locker.seal(&acme, item, "hunter2").unwrap();
        assert_ne!(sealed, again, "a fresh nonce per seal");
        assert!(!sealed.to_string().contains("hunter2"));
        assert_eq!(
            locker.open_secret(&acme, item, &sealed).as_deref(),
            Some("hunter2")
        );
        // Another item, another organization, a flipped bit: refused.
        assert_eq!(
            locker.open_secret(&acme, "locker:u_ab12:20261207:cred:other", &sealed),
            None
        );
        let Some(DataKey::Create { key: other_key, .. }) = locker.data_key(&org("other")) else {
            panic!()
        };
        locker.install(&org("other"), &other_key);
        assert_eq!(locker.open_secret(&org("other"), item, &sealed), None);
        let mut tampered = sealed.clone();
        let value = tampered["value"].as_str().unwrap().to_owned();
        let mut bytes = STANDARD.decode(value).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        tampered["value"] = Value::from(STANDARD.encode(bytes));
        assert_eq!(locker.open_secret(&acme, item, &tampered), None);
        // The wrapped data key opens with its master key only.
        let (stranger, _) = MasterKey::generate();
        let locked_out = Locker::default();
        assert!(matches!(
            locked_out.open(stranger, std::slice::from_ref(&record)),
            Err(LockerOpenError::WrongKey { .. })
        ));
    }

    #[test]
    fn rotation_rewraps_the_same_data_keys() {
        let (old, old_text) = MasterKey::generate();
        let locker = Locker::default();
        locker.open(old, &[]).unwrap();
        let acme = org("acme");
        let Some(DataKey::Create { record, key }) = locker.data_key(&acme) else {
            panic!()
        };
        locker.install(&acme, &key);
        let item = "locker:UNIV:20261207:env:prod";
        let sealed = locker.seal(&acme, item, "s3cret").unwrap();
        let (new, new_text) = MasterKey::generate();
        let mutations = locker.rewrap(&new, std::slice::from_ref(&record)).unwrap();
        let [
            nexus_store::Mutation::RewrapLockerKey {
                wrapped,
                master_id,
                from_master_id,
                ..
            },
        ] = mutations.as_slice()
        else {
            panic!("{mutations:?}")
        };
        assert_eq!(from_master_id, &record.master_id);
        let rewrapped = nexus_store::LockerKeyRecord {
            master_id: master_id.clone(),
            wrapped: wrapped.clone(),
            ..record.clone()
        };
        let reopened = Locker::default();
        reopened
            .open(MasterKey::from_base64(&new_text).unwrap(), &[rewrapped])
            .unwrap();
        assert_eq!(
            reopened.open_secret(&acme, item, &sealed).as_deref(),
            Some("s3cret")
        );
        // The old key no longer opens the re-wrapped record.
        let stale = Locker::default();
        assert!(
            stale
                .open(
                    MasterKey::from_base64(&old_text).unwrap(),
                    &[nexus_store::LockerKeyRecord {
                        master_id: master_id.clone(),
                        wrapped: wrapped.clone(),
                        ..record
                    }]
                )
                .is_err()
        );
    }

    #[test]
    fn malformed_master_keys_are_refused_with_the_reason() {
        for bad in ["", "not base64!", "c2hvcnQ="] {
            let error = MasterKey::from_base64(bad).unwrap_err().to_string();
            assert!(error.contains("32 bytes, base64"), "{error}");
        }
    }
}
