//! Locker secrets in items: sealed on write, opened on `get` for those who may read the item,
//! absent from listings and search (see `crate::locker` for the cryptography).

use nexus_knowledge::ItemKey;
use nexus_path::OrgId;
use nexus_store::{Mutation, Rejection};
use serde_json::Value;

use super::super::{Fs, Items};
use crate::error::FsError;
use crate::locker::{DataKey, MasterKey};

/// The field of Locker data that is secret.
const SECRET: &str = "secret";

impl Items<'_> {
    /// `stored` (validated Locker data with its secret in clear) with the secret sealed for
    /// `key` of `org`.
    pub(super) async fn seal_secret(
        self,
        org: &OrgId,
        key: &ItemKey,
        mut stored: Value,
    ) -> Result<Value, FsError> {
        self.ensure_data_key(org).await?;
        let secret = stored
            .get(SECRET)
            .and_then(Value::as_str)
            .ok_or_else(|| FsError::Internal {
                message: "validated Locker data without a secret".to_owned(),
            })?
            .to_owned();
        let sealed = self
            .locker
            .seal(org, &key.to_string(), &secret)
            .ok_or(FsError::LockerUnavailable)?;
        if let Some(fields) = stored.as_object_mut() {
            fields.insert(SECRET.to_owned(), sealed);
        }
        Ok(stored)
    }

    /// Stored Locker data with its secret opened (for a caller who may read the item).
    pub(super) fn open_secret(
        self,
        org: &OrgId,
        key: &ItemKey,
        mut data: Value,
    ) -> Result<Value, FsError> {
        if !self.locker.enabled() {
            return Err(FsError::LockerUnavailable);
        }
        let Some(sealed) = data.get(SECRET) else {
            return Ok(data);
        };
        let clear = self
            .locker
            .open_secret(org, &key.to_string(), sealed)
            .ok_or_else(|| FsError::SecretUnreadable {
                key: key.to_string(),
            })?;
        if let Some(fields) = data.as_object_mut() {
            fields.insert(SECRET.to_owned(), Value::String(clear));
        }
        Ok(data)
    }

    /// Locker data as listings and search show it: without the secret.
    pub(super) fn without_secret(mut data: Value) -> Value {
        if let Some(fields) = data.as_object_mut() {
            fields.remove(SECRET);
        }
        data
    }

    /// Makes sure `org` has a data key: created (wrapped, stored, then used) on its first
    /// secret.
    async fn ensure_data_key(self, org: &OrgId) -> Result<(), FsError> {
        if matches!(self.locker.data_key(org), Some(DataKey::Ready)) {
            return Ok(());
        }
        let _creating = self.locker.creating.lock().await;
        match self.locker.data_key(org) {
            None => Err(FsError::LockerUnavailable),
            Some(DataKey::Ready) => Ok(()),
            Some(DataKey::Create { record, key }) => {
                match self
                    .store
                    .apply(Mutation::CreateLockerKey { key: record })
                    .await
                {
                    Ok(_) => {
                        self.locker.install(org, &key);
                        Ok(())
                    }
                    // Another node stored one first: use that one.
                    Err(nexus_store::Error::Rejected(Rejection::LockerKey { .. })) => {
                        let stored = self.store.load_locker_keys().await?;
                        let opened = stored
                            .iter()
                            .find(|record| &record.org == org)
                            .is_some_and(|record| self.locker.install_stored(record));
                        if opened {
                            Ok(())
                        } else {
                            Err(FsError::LockerUnavailable)
                        }
                    }
                    Err(error) => Err(error.into()),
                }
            }
        }
    }
}

/// The outcome of [`Fs::rotate_locker_key`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockerRotation {
    /// The fingerprint of the master key that wrapped the data keys.
    pub from: String,
    /// The fingerprint of the master key that wraps them now.
    pub to: String,
    /// How many organizations' data keys were re-wrapped.
    pub organizations: usize,
}

impl Fs {
    /// Seals and opens Locker secrets with `master`, which must open every stored data key
    /// (a wrong key is refused here, naming both fingerprints, rather than failing later).
    pub async fn enable_lockers(&self, master: MasterKey) -> Result<(), FsError> {
        let records = self.store.load_locker_keys().await?;
        self.locker
            .open(master, &records)
            .map_err(|error| FsError::invalid(error.to_string()))
    }

    /// Whether Locker secrets can be sealed and opened (a master key is configured).
    pub fn lockers_enabled(&self) -> bool {
        self.locker.enabled()
    }

    /// Re-wraps every organization's data key under `new` in one transaction (the secrets
    /// themselves are not rewritten), then uses `new`. Lockers must be enabled with the
    /// current master key.
    pub async fn rotate_locker_key(&self, new: MasterKey) -> Result<LockerRotation, FsError> {
        let from = self.locker.master_id().ok_or(FsError::LockerUnavailable)?;
        let _creating = self.locker.creating.lock().await;
        let records = self.store.load_locker_keys().await?;
        let mutations = self
            .locker
            .rewrap(&new, &records)
            .map_err(|error| FsError::invalid(error.to_string()))?;
        let organizations = mutations.len();
        let to = new.id().to_owned();
        if !mutations.is_empty() {
            self.store.apply_group(mutations).await?;
        }
        let records = self.store.load_locker_keys().await?;
        self.locker
            .open(new, &records)
            .map_err(|error| FsError::invalid(error.to_string()))?;
        tracing::info!(target: "nexus::audit", %from, %to, organizations, "locker master key rotated");
        Ok(LockerRotation {
            from,
            to,
            organizations,
        })
    }
}
