//! The SQLite schema as a chain of migrations, tracked with `PRAGMA user_version`.
//!
//! INVARIANT: migrations are append-only; a released migration is never edited. Each runs in
//! its own transaction together with the version bump, so a crash leaves the database at one
//! version or the next.

use sqlx::{Connection, SqliteConnection};

use crate::error::StoreError;

/// Migration `n` (1-based) brings the database from version `n - 1` to version `n`.
const MIGRATIONS: &[&str] = &[
    // 1: namespace, versions, blob reference counts, version policies.
    r"
    CREATE TABLE nodes (
        -- AUTOINCREMENT: a file id is never reused, even after the newest file is removed.
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        org         TEXT    NOT NULL,
        path        TEXT    NOT NULL UNIQUE,
        parent      TEXT    NOT NULL,
        kind        INTEGER NOT NULL CHECK (kind IN (1, 2)),
        size        INTEGER NOT NULL CHECK (size >= 0),
        hash        BLOB    CHECK (hash IS NULL OR length(hash) = 32),
        version     INTEGER NOT NULL CHECK (version >= 0),
        created_at  INTEGER NOT NULL,
        modified_at INTEGER NOT NULL,
        author      TEXT    NOT NULL
    ) STRICT;
    CREATE INDEX nodes_by_parent ON nodes (parent, path);
    CREATE INDEX nodes_by_org ON nodes (org, kind);

    CREATE TABLE blobs (
        org                TEXT    NOT NULL,
        hash               BLOB    NOT NULL,
        size               INTEGER NOT NULL CHECK (size >= 0),
        refcount           INTEGER NOT NULL CHECK (refcount >= 0),
        unreferenced_since INTEGER,
        PRIMARY KEY (org, hash)
    ) STRICT, WITHOUT ROWID;
    CREATE INDEX blobs_unreferenced ON blobs (unreferenced_since) WHERE refcount = 0;

    CREATE TABLE versions (
        file_id    INTEGER NOT NULL REFERENCES nodes (id),
        version    INTEGER NOT NULL CHECK (version >= 1),
        org        TEXT    NOT NULL,
        hash       BLOB    NOT NULL,
        size       INTEGER NOT NULL CHECK (size >= 0),
        created_at INTEGER NOT NULL,
        author     TEXT    NOT NULL,
        PRIMARY KEY (file_id, version),
        FOREIGN KEY (org, hash) REFERENCES blobs (org, hash)
    ) STRICT, WITHOUT ROWID;
    CREATE INDEX versions_by_blob ON versions (org, hash);

    -- INVARIANT: blobs.refcount = number of versions rows naming the blob. The triggers keep
    -- it so in the same statement that adds or removes a version.
    CREATE TRIGGER versions_reference_blob BEFORE INSERT ON versions BEGIN
        INSERT INTO blobs (org, hash, size, refcount, unreferenced_since)
        VALUES (NEW.org, NEW.hash, NEW.size, 1, NULL)
        ON CONFLICT (org, hash) DO UPDATE SET refcount = refcount + 1, unreferenced_since = NULL;
    END;
    CREATE TRIGGER versions_release_blob AFTER DELETE ON versions BEGIN
        UPDATE blobs
        SET refcount = refcount - 1,
            unreferenced_since = CASE
                WHEN refcount = 1 THEN CAST(unixepoch('subsec') * 1000000 AS INTEGER)
                ELSE unreferenced_since
            END
        WHERE org = OLD.org AND hash = OLD.hash;
    END;

    CREATE TABLE version_policies (
        org       TEXT PRIMARY KEY,
        keep_last INTEGER CHECK (keep_last IS NULL OR keep_last >= 1),
        keep_days INTEGER CHECK (keep_days IS NULL OR keep_days >= 0)
    ) STRICT;
    ",
    // 2: authorization: the schema, relationships, their change log, and the revision.
    r"
    CREATE TABLE authorization_state (
        id       INTEGER PRIMARY KEY CHECK (id = 1),
        schema   TEXT,
        revision INTEGER NOT NULL CHECK (revision >= 0)
    ) STRICT;
    INSERT INTO authorization_state (id, schema, revision) VALUES (1, NULL, 0);

    CREATE TABLE relationships (
        resource_type    TEXT NOT NULL,
        resource_id      TEXT NOT NULL,
        relation         TEXT NOT NULL,
        subject_type     TEXT NOT NULL,
        subject_id       TEXT NOT NULL,
        -- '' for a plain object subject.
        subject_relation TEXT NOT NULL,
        -- The organization the relationship belongs to; '' for none.
        org              TEXT NOT NULL,
        caveat_name      TEXT,
        caveat_context   TEXT,
        expires_at       INTEGER,
        revision         INTEGER NOT NULL,
        PRIMARY KEY (resource_type, resource_id, relation, subject_type, subject_id, subject_relation)
    ) STRICT, WITHOUT ROWID;

    -- One row per committed batch: its changes in order, as a JSON array (see
    -- sqlite/relationship.rs). A batch of thousands of changes costs one row.
    CREATE TABLE relationship_changes (
        revision INTEGER PRIMARY KEY,
        changes  TEXT NOT NULL
    ) STRICT;
    ",
];

/// The schema version this build writes.
#[expect(clippy::cast_possible_wrap, reason = "a handful of migrations")]
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Brings the database up to [`SCHEMA_VERSION`]; refuses databases from a newer build.
pub async fn migrate(connection: &mut SqliteConnection) -> Result<(), StoreError> {
    let current: i64 = sqlx::query_scalar("PRAGMA user_version")
        .fetch_one(&mut *connection)
        .await?;
    if current > SCHEMA_VERSION {
        return Err(StoreError::InvalidData {
            message: format!(
                "the metadata database has schema version {current}, newer than this build's {SCHEMA_VERSION}; use a newer nexus"
            ),
        });
    }
    for (index, migration) in MIGRATIONS
        .iter()
        .enumerate()
        .skip(usize::try_from(current).unwrap_or(0))
    {
        let target = index + 1;
        let mut transaction = connection.begin().await?;
        sqlx::raw_sql(*migration).execute(&mut *transaction).await?;
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "PRAGMA user_version = {target}"
        )))
        .execute(&mut *transaction)
        .await?;
        transaction.commit().await?;
    }
    Ok(())
}
