//! Principals and API keys.

use sqlx::{Row, SqliteConnection, SqlitePool};

use super::mutate::Failure;
use crate::error::{Rejection, StoreError};
use crate::meta::{AccountsSnapshot, ApiKeyRecord, LockerKeyRecord, PrincipalRecord};
use crate::types::Timestamp;

pub(super) async fn register(
    connection: &mut SqliteConnection,
    principal: &PrincipalRecord,
) -> Result<(), Failure> {
    // Two lookups, each through its own index (an `OR` of both would scan every principal
    // of the kind, which makes registering many users quadratic).
    let taken: Option<String> = sqlx::query_scalar(
        "SELECT id FROM principals WHERE kind = ?1 AND id = ?2
         UNION ALL
         SELECT id FROM principals WHERE kind = ?1 AND handle = ?3
         LIMIT 1",
    )
    .bind(&principal.kind)
    .bind(&principal.id)
    .bind(&principal.handle)
    .fetch_optional(&mut *connection)
    .await?;
    if taken.is_some() {
        return Err(Rejection::AccountExists {
            what: format!(
                "{} `{}` (handle `{}`)",
                principal.kind, principal.id, principal.handle
            ),
        }
        .into());
    }
    sqlx::query("INSERT INTO principals (kind, id, handle, created_at) VALUES (?, ?, ?, ?)")
        .bind(&principal.kind)
        .bind(&principal.id)
        .bind(&principal.handle)
        .bind(principal.created_at.as_micros())
        .execute(&mut *connection)
        .await?;
    Ok(())
}

pub(super) async fn assign_stable_id(
    connection: &mut SqliteConnection,
    kind: &str,
    handle: &str,
    id: &str,
) -> Result<(), Failure> {
    let taken: Option<String> =
        sqlx::query_scalar("SELECT id FROM principals WHERE kind = ? AND id = ?")
            .bind(kind)
            .bind(id)
            .fetch_optional(&mut *connection)
            .await?;
    if taken.is_some() {
        return Err(Rejection::AccountExists {
            what: format!("{kind} `{id}`"),
        }
        .into());
    }
    let changed =
        sqlx::query("UPDATE principals SET id = ?1 WHERE kind = ?2 AND id = ?3 AND handle = ?3")
            .bind(id)
            .bind(kind)
            .bind(handle)
            .execute(&mut *connection)
            .await?
            .rows_affected();
    if changed == 0 {
        return Err(Rejection::NoSuchAccount {
            what: format!("{kind} registered as `{handle}` without a stable id"),
        }
        .into());
    }
    sqlx::query("UPDATE api_keys SET principal = ?1 WHERE principal = ?2")
        .bind(format!("{kind}:{id}"))
        .bind(format!("{kind}:{handle}"))
        .execute(&mut *connection)
        .await?;
    sqlx::query("UPDATE api_keys SET on_behalf_of = ?1 WHERE on_behalf_of = ?2")
        .bind(format!("{kind}:{id}"))
        .bind(format!("{kind}:{handle}"))
        .execute(&mut *connection)
        .await?;
    Ok(())
}

pub(super) async fn create_key(
    connection: &mut SqliteConnection,
    key: &ApiKeyRecord,
) -> Result<(), Failure> {
    let taken: Option<String> =
        sqlx::query_scalar("SELECT id FROM api_keys WHERE id = ? OR hash = ? LIMIT 1")
            .bind(&key.id)
            .bind(&key.hash)
            .fetch_optional(&mut *connection)
            .await?;
    if taken.is_some() {
        return Err(Rejection::AccountExists {
            what: format!("API key `{}`", key.id),
        }
        .into());
    }
    sqlx::query(
        "INSERT INTO api_keys
             (id, hash, principal, description, created_at, revoked_at, on_behalf_of, expires_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&key.id)
    .bind(&key.hash)
    .bind(&key.principal)
    .bind(&key.description)
    .bind(key.created_at.as_micros())
    .bind(key.revoked_at.map(Timestamp::as_micros))
    .bind(&key.on_behalf_of)
    .bind(key.expires_at.map(Timestamp::as_micros))
    .execute(&mut *connection)
    .await?;
    Ok(())
}

pub(super) async fn revoke_key(
    connection: &mut SqliteConnection,
    id: &str,
    at: Timestamp,
) -> Result<(), Failure> {
    sqlx::query("UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL")
        .bind(at.as_micros())
        .bind(id)
        .execute(&mut *connection)
        .await?;
    Ok(())
}

pub(super) async fn load(pool: &SqlitePool) -> Result<AccountsSnapshot, StoreError> {
    let principals = sqlx::query("SELECT kind, id, handle, created_at FROM principals")
        .fetch_all(pool)
        .await?
        .iter()
        .map(|row| {
            Ok(PrincipalRecord {
                kind: row.try_get("kind")?,
                id: row.try_get("id")?,
                handle: row.try_get("handle")?,
                created_at: Timestamp(row.try_get("created_at")?),
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    let api_keys = sqlx::query(
        "SELECT id, hash, principal, description, created_at, revoked_at, on_behalf_of, expires_at
         FROM api_keys",
    )
    .fetch_all(pool)
    .await?
    .iter()
    .map(|row| {
        Ok(ApiKeyRecord {
            id: row.try_get("id")?,
            hash: row.try_get("hash")?,
            principal: row.try_get("principal")?,
            description: row.try_get("description")?,
            created_at: Timestamp(row.try_get("created_at")?),
            revoked_at: row.try_get::<Option<i64>, _>("revoked_at")?.map(Timestamp),
            on_behalf_of: row.try_get("on_behalf_of")?,
            expires_at: row.try_get::<Option<i64>, _>("expires_at")?.map(Timestamp),
        })
    })
    .collect::<Result<Vec<_>, sqlx::Error>>()?;
    let lockouts = sqlx::query("SELECT kind, id, at FROM lockouts")
        .fetch_all(pool)
        .await?
        .iter()
        .map(|row| {
            Ok((
                row.try_get("kind")?,
                row.try_get("id")?,
                Timestamp(row.try_get("at")?),
            ))
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    Ok(AccountsSnapshot {
        principals,
        api_keys,
        lockouts,
    })
}

pub(super) async fn create_locker_key(
    connection: &mut SqliteConnection,
    key: &LockerKeyRecord,
) -> Result<(), Failure> {
    let inserted = sqlx::query(
        "INSERT INTO locker_keys (org, master_id, wrapped, created_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (org) DO NOTHING",
    )
    .bind(key.org.as_str())
    .bind(&key.master_id)
    .bind(&key.wrapped)
    .bind(key.created_at.as_micros())
    .execute(&mut *connection)
    .await?
    .rows_affected();
    if inserted == 0 {
        return Err(Rejection::LockerKey {
            org: key.org.to_string(),
            problem: "exists already".to_owned(),
        }
        .into());
    }
    Ok(())
}

pub(super) async fn rewrap_locker_key(
    connection: &mut SqliteConnection,
    org: &nexus_path::OrgId,
    from: &str,
    master_id: &str,
    wrapped: &[u8],
) -> Result<(), Failure> {
    let changed = sqlx::query(
        "UPDATE locker_keys SET master_id = ?, wrapped = ? WHERE org = ? AND master_id = ?",
    )
    .bind(master_id)
    .bind(wrapped)
    .bind(org.as_str())
    .bind(from)
    .execute(&mut *connection)
    .await?
    .rows_affected();
    if changed == 0 {
        return Err(Rejection::LockerKey {
            org: org.to_string(),
            problem: format!("is not wrapped by master key `{from}`"),
        }
        .into());
    }
    Ok(())
}

pub(super) async fn load_locker_keys(
    pool: &SqlitePool,
) -> Result<Vec<LockerKeyRecord>, StoreError> {
    let rows =
        sqlx::query("SELECT org, master_id, wrapped, created_at FROM locker_keys ORDER BY org")
            .fetch_all(pool)
            .await?;
    rows.iter()
        .map(|row| {
            let org: String = row.try_get("org")?;
            let org = nexus_path::OrgId::parse(&org).map_err(|error| StoreError::InvalidData {
                message: format!("locker key of invalid organization `{org}`: {error}"),
            })?;
            Ok(LockerKeyRecord {
                org,
                master_id: row.try_get("master_id")?,
                wrapped: row.try_get("wrapped")?,
                created_at: Timestamp(row.try_get("created_at")?),
            })
        })
        .collect()
}

pub(super) async fn set_lockout(
    connection: &mut SqliteConnection,
    kind: &str,
    id: &str,
    at: Timestamp,
) -> Result<(), Failure> {
    sqlx::query(
        "INSERT INTO lockouts (kind, id, at) VALUES (?1, ?2, ?3)
         ON CONFLICT (kind, id) DO UPDATE SET at = max(at, ?3)",
    )
    .bind(kind)
    .bind(id)
    .bind(at.as_micros())
    .execute(&mut *connection)
    .await?;
    Ok(())
}
