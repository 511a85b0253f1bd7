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
    CREATE INDEX relationships_by_org ON relationships (org);

    CREATE TABLE relationship_changes (
        revision         INTEGER NOT NULL,
        position         INTEGER NOT NULL,
        operation        TEXT NOT NULL CHECK (operation IN ('touch', 'delete')),
        resource_type    TEXT NOT NULL,
        resource_id      TEXT NOT NULL,
        relation         TEXT NOT NULL,
        subject_type     TEXT NOT NULL,
        subject_id       TEXT NOT NULL,
        subject_relation TEXT NOT NULL,
        org              TEXT NOT NULL,
        caveat_name      TEXT,
        caveat_context   TEXT,
        expires_at       INTEGER,
        PRIMARY KEY (revision, position)
    ) STRICT, WITHOUT ROWID;
    ",
    // 3: the change log keeps one row per revision (split into parts of at most
    // `CHANGES_PER_PART` changes) holding the changes as a JSON array, instead of one row per
    // change; existing entries are converted. The unused index on `relationships.org` goes.
    "
    CREATE TABLE relationship_change_parts (
        revision INTEGER NOT NULL,
        part     INTEGER NOT NULL,
        changes  TEXT NOT NULL,
        PRIMARY KEY (revision, part)
    ) STRICT, WITHOUT ROWID;
    INSERT INTO relationship_change_parts (revision, part, changes)
    SELECT revision, position / 10000, json_group_array(json_object(
            'op', CASE operation WHEN 'touch' THEN 't' ELSE 'd' END,
            'rt', resource_type, 'ri', resource_id, 'r', relation,
            'st', subject_type, 'si', subject_id, 'sr', subject_relation, 'org', org,
            'caveat', caveat_name, 'context', json(caveat_context), 'expires', expires_at
        ) ORDER BY position)
    FROM relationship_changes
    GROUP BY revision, position / 10000;
    DROP TABLE relationship_changes;
    DROP INDEX relationships_by_org;
    ",
    // 4: a relationship's six key columns become one text key (the parts joined by U+001F,
    // which no type, relation or id may contain, so the key orders as the tuple did): one
    // comparison per B-tree step and smaller records make bulk writes faster.
    "
    CREATE TABLE relationships_keyed (
        key            TEXT PRIMARY KEY,
        org            TEXT NOT NULL,
        caveat_name    TEXT,
        caveat_context TEXT,
        expires_at     INTEGER,
        revision       INTEGER NOT NULL
    ) STRICT, WITHOUT ROWID;
    INSERT INTO relationships_keyed (key, org, caveat_name, caveat_context, expires_at, revision)
    SELECT resource_type || char(31) || resource_id || char(31) || relation || char(31)
           || subject_type || char(31) || subject_id || char(31) || subject_relation,
           org, caveat_name, caveat_context, expires_at, revision
    FROM relationships;
    DROP TABLE relationships;
    ALTER TABLE relationships_keyed RENAME TO relationships;
    ",
    // 5: accounts: principals (stable ids and handles, never deleted so an id is never
    // reused) and API keys (only their hashes).
    "
    CREATE TABLE principals (
        kind       TEXT    NOT NULL CHECK (kind IN ('user', 'agent')),
        id         TEXT    NOT NULL,
        handle     TEXT    NOT NULL,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (kind, id),
        UNIQUE (kind, handle)
    ) STRICT, WITHOUT ROWID;
    CREATE TABLE api_keys (
        id          TEXT    PRIMARY KEY,
        hash        TEXT    NOT NULL UNIQUE,
        principal   TEXT    NOT NULL,
        description TEXT    NOT NULL,
        created_at  INTEGER NOT NULL,
        revoked_at  INTEGER
    ) STRICT, WITHOUT ROWID;
    ",
    // 6: a random server key (for revision tokens and list cursors, generated here once by
    // SQLite's cryptographic generator) and, per organization, the last revision that changed
    // one of its relationships (filled from the change log).
    "
    CREATE TABLE secrets (
        name  TEXT PRIMARY KEY,
        value BLOB NOT NULL
    ) STRICT, WITHOUT ROWID;
    INSERT INTO secrets (name, value) VALUES ('server_key', randomblob(32));
    CREATE TABLE org_revisions (
        org      TEXT PRIMARY KEY,
        revision INTEGER NOT NULL
    ) STRICT, WITHOUT ROWID;
    INSERT INTO org_revisions (org, revision)
    SELECT json_extract(change.value, '$.org'), max(part.revision)
    FROM relationship_change_parts AS part, json_each(part.changes) AS change
    WHERE coalesce(json_extract(change.value, '$.org'), '') != ''
    GROUP BY 1;
    ",
    // 7: per organization, the locker data key wrapped by a master key (which is never
    // stored; `master_id` is its fingerprint).
    "
    CREATE TABLE locker_keys (
        org        TEXT    PRIMARY KEY,
        master_id  TEXT    NOT NULL,
        wrapped    BLOB    NOT NULL,
        created_at INTEGER NOT NULL
    ) STRICT, WITHOUT ROWID;
    ",
    // 8: the audit log, append-only (`org` is '' for the system log).
    "
    CREATE TABLE audit (
        seq          INTEGER PRIMARY KEY AUTOINCREMENT,
        org          TEXT    NOT NULL,
        at           INTEGER NOT NULL,
        actor        TEXT    NOT NULL,
        on_behalf_of TEXT,
        action       TEXT    NOT NULL,
        target       TEXT    NOT NULL,
        outcome      TEXT    NOT NULL,
        request_id   TEXT,
        client       TEXT,
        user_agent   TEXT,
        detail       TEXT
    ) STRICT;
    CREATE INDEX audit_by_org ON audit (org, seq);
    CREATE INDEX audit_by_actor ON audit (actor, seq);
    CREATE INDEX audit_by_time ON audit (at);
    ",
    // 9: emergency lockouts: credentials of the principal issued before `at` are void.
    "
    CREATE TABLE lockouts (
        kind TEXT    NOT NULL,
        id   TEXT    NOT NULL,
        at   INTEGER NOT NULL,
        PRIMARY KEY (kind, id)
    ) STRICT, WITHOUT ROWID;
    ",
    // 10: Chrono: when each reminder item fires next, and every principal's notification
    // feed (`id` numbers a recipient's notifications from 1).
    "
    CREATE TABLE reminders (
        path TEXT    PRIMARY KEY,
        org  TEXT    NOT NULL,
        due  INTEGER NOT NULL
    ) STRICT, WITHOUT ROWID;
    CREATE INDEX reminders_by_due ON reminders (due);
    CREATE TABLE notifications (
        recipient  TEXT    NOT NULL,
        id         INTEGER NOT NULL,
        org        TEXT    NOT NULL,
        kind       TEXT    NOT NULL,
        title      TEXT    NOT NULL,
        item_key   TEXT,
        created_at INTEGER NOT NULL,
        read_at    INTEGER,
        PRIMARY KEY (recipient, id)
    ) STRICT, WITHOUT ROWID;
    ",
    // 11: the change feed: per organization, numbered from 1, what happened to which path.
    "
    CREATE TABLE changes (
        org      TEXT    NOT NULL,
        revision INTEGER NOT NULL,
        at       INTEGER NOT NULL,
        action   TEXT    NOT NULL,
        path     TEXT    NOT NULL,
        to_path  TEXT,
        author   TEXT,
        PRIMARY KEY (org, revision)
    ) STRICT, WITHOUT ROWID;
    ",
    // 12: one-time tasks for the services above the store, listed by the migration that
    // needs them (see `migrate`) and completed by a mutation.
    "
    CREATE TABLE pending_tasks (
        name TEXT PRIMARY KEY
    ) STRICT, WITHOUT ROWID;
    ",
    // 13: delegations: an agent's key acting on behalf of a user, until it expires.
    "
    ALTER TABLE api_keys ADD COLUMN on_behalf_of TEXT;
    ALTER TABLE api_keys ADD COLUMN expires_at INTEGER;
    ",
];

/// The first schema with the reminder schedule (migration 10).
const SCHEDULE_VERSION: i64 = 10;

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
        // A database older than the reminder schedule may hold reminder items that have
        // no place on it: the services schedule them once (existing databases only).
        if target == 12 && (1..SCHEDULE_VERSION).contains(&current) {
            sqlx::query("INSERT INTO pending_tasks (name) VALUES (?)")
                .bind(crate::meta::TASK_SCHEDULE_REMINDERS)
                .execute(&mut *transaction)
                .await?;
        }
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "PRAGMA user_version = {target}"
        )))
        .execute(&mut *transaction)
        .await?;
        transaction.commit().await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::indexing_slicing,
        reason = "test code: a failed unwrap is a failed test"
    )]

    use super::*;
    use crate::meta::ChangeOperation;
    use crate::sqlite::relationship::{RowDecoder, decode_changes, relationship_columns};

    /// An in-memory database at schema `version`.
    async fn database_at(version: usize) -> SqliteConnection {
        let mut connection = SqliteConnection::connect("sqlite::memory:").await.unwrap();
        for migration in &MIGRATIONS[..version] {
            sqlx::raw_sql(*migration)
                .execute(&mut connection)
                .await
                .unwrap();
        }
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "PRAGMA user_version = {version}"
        )))
        .execute(&mut connection)
        .await
        .unwrap();
        connection
    }

    /// A database from before the reminder schedule gets the task of scheduling its
    /// reminder items; a new one, or one that had the schedule, does not.
    #[tokio::test]
    async fn old_databases_get_their_reminders_scheduled() {
        let pending = |mut connection: SqliteConnection| async move {
            migrate(&mut connection).await.unwrap();
            sqlx::query_scalar::<_, String>("SELECT name FROM pending_tasks")
                .fetch_all(&mut connection)
                .await
                .unwrap()
        };
        assert_eq!(
            pending(database_at(9).await).await,
            [crate::meta::TASK_SCHEDULE_REMINDERS]
        );
        assert!(pending(database_at(10).await).await.is_empty());
        assert!(pending(database_at(11).await).await.is_empty());
        let fresh = SqliteConnection::connect("sqlite::memory:").await.unwrap();
        assert!(pending(fresh).await.is_empty());
    }

    /// A change log written by schema version 2 (one row per change) reads the same after
    /// migration 3, in order, with every attribute.
    #[tokio::test]
    async fn migration_3_converts_the_change_log() {
        let mut connection = database_at(2).await;
        let rows = [
            (
                1, 0, "touch", "doc", "1", "viewer", "user", "alice", "", "acme", None, None, None,
            ),
            (
                1,
                1,
                "touch",
                "doc",
                "1",
                "viewer",
                "group",
                "eng",
                "member",
                "acme",
                Some("within"),
                Some(r#"{"n":1.5,"list":[1,2]}"#),
                Some(1_900_000_000_000_000_i64),
            ),
            (
                2, 0, "delete", "doc", "1", "viewer", "user", "alice", "", "", None, None, None,
            ),
        ];
        for row in rows {
            sqlx::query("INSERT INTO relationship_changes (revision, position, operation, resource_type, resource_id, relation, subject_type, subject_id, subject_relation, org, caveat_name, caveat_context, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
                .bind(row.0).bind(row.1).bind(row.2).bind(row.3).bind(row.4).bind(row.5)
                .bind(row.6).bind(row.7).bind(row.8).bind(row.9).bind(row.10).bind(row.11).bind(row.12)
                .execute(&mut connection)
                .await
                .unwrap();
        }
        migrate(&mut connection).await.unwrap();
        let parts: Vec<(i64, String)> = sqlx::query_as(
            "SELECT revision, changes FROM relationship_change_parts ORDER BY revision, part",
        )
        .fetch_all(&mut connection)
        .await
        .unwrap();
        assert_eq!(parts.len(), 2);
        let first = decode_changes(1, &parts[0].1).unwrap();
        let second = decode_changes(2, &parts[1].1).unwrap();
        let text: Vec<String> = first
            .iter()
            .chain(&second)
            .map(|recorded| recorded.change.relationship.to_string())
            .collect();
        assert_eq!(
            text,
            [
                "doc:1#viewer@user:alice",
                r#"doc:1#viewer@group:eng#member[within:{"list":[1,2],"n":1.5}][expiration:2030-03-17T17:46:40Z]"#,
                "doc:1#viewer@user:alice",
            ]
        );
        assert_eq!(first[0].change.org.as_ref().unwrap().as_str(), "acme");
        assert!(second[0].change.org.is_none());
        assert_eq!(second[0].change.operation, ChangeOperation::Delete);
        assert_eq!(first[1].change.operation, ChangeOperation::Touch);
        let old_table: Option<String> = sqlx::query_scalar(
            "SELECT name FROM sqlite_master WHERE name IN ('relationship_changes', 'relationships_by_org')",
        )
        .fetch_optional(&mut connection)
        .await
        .unwrap();
        assert_eq!(old_table, None);
    }

    /// Migration 6 creates a 32-byte random server key (a different one per database) and
    /// fills each organization's last revision from the change log.
    #[tokio::test]
    async fn migration_6_keys_the_server_and_records_org_revisions() {
        let mut connection = database_at(5).await;
        for (revision, changes) in [
            (
                1,
                r#"[{"op":"t","rt":"file","ri":"/orgs/acme/a","r":"viewer","st":"user","si":"u_a","org":"acme"}]"#,
            ),
            (
                2,
                r#"[{"op":"t","rt":"file","ri":"/orgs/other/a","r":"viewer","st":"user","si":"u_b","org":"other"}]"#,
            ),
            (
                3,
                r#"[{"op":"d","rt":"file","ri":"/orgs/acme/a","r":"viewer","st":"user","si":"u_a","org":"acme"},{"op":"t","rt":"doc","ri":"1","r":"x","st":"user","si":"u_c"}]"#,
            ),
        ] {
            sqlx::query(
                "INSERT INTO relationship_change_parts (revision, part, changes) VALUES (?, 0, ?)",
            )
            .bind(revision)
            .bind(changes)
            .execute(&mut connection)
            .await
            .unwrap();
        }
        migrate(&mut connection).await.unwrap();
        let revisions: Vec<(String, i64)> =
            sqlx::query_as("SELECT org, revision FROM org_revisions ORDER BY org")
                .fetch_all(&mut connection)
                .await
                .unwrap();
        assert_eq!(revisions, [("acme".to_owned(), 3), ("other".to_owned(), 2)]);
        let key: Vec<u8> =
            sqlx::query_scalar("SELECT value FROM secrets WHERE name = 'server_key'")
                .fetch_one(&mut connection)
                .await
                .unwrap();
        assert_eq!(key.len(), 32);
        let mut other = database_at(6).await;
        let other_key: Vec<u8> =
            sqlx::query_scalar("SELECT value FROM secrets WHERE name = 'server_key'")
                .fetch_one(&mut other)
                .await
                .unwrap();
        assert_ne!(key, other_key);
    }

    /// Relationships stored by schema version 3 (six key columns) read back the same after
    /// migration 4 (one key), and keep their order.
    #[tokio::test]
    async fn migration_4_joins_the_key_columns() {
        let mut connection = database_at(3).await;
        let rows = [
            (
                "file",
                "/orgs/acme/a",
                "viewer",
                "user",
                "bob",
                "",
                "acme",
                None,
                None,
                None,
            ),
            (
                "file",
                "/orgs/acme/a",
                "viewer",
                "group",
                "acme/eng",
                "member",
                "acme",
                None,
                None,
                None,
            ),
            (
                "file",
                "/orgs/acme/a/b",
                "editor",
                "user",
                "carol",
                "",
                "acme",
                Some("within"),
                Some(r#"{"n":2}"#),
                Some(1_900_000_000_000_000_i64),
            ),
            (
                "org", "acme", "member", "user", "bob", "", "acme", None, None, None,
            ),
        ];
        for row in rows {
            sqlx::query("INSERT INTO relationships (resource_type, resource_id, relation, subject_type, subject_id, subject_relation, org, caveat_name, caveat_context, expires_at, revision) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)")
                .bind(row.0).bind(row.1).bind(row.2).bind(row.3).bind(row.4).bind(row.5)
                .bind(row.6).bind(row.7).bind(row.8).bind(row.9)
                .execute(&mut connection)
                .await
                .unwrap();
        }
        migrate(&mut connection).await.unwrap();
        let stored = sqlx::query(concat!(
            "SELECT ",
            relationship_columns!(),
            " FROM relationships ORDER BY key"
        ))
        .fetch_all(&mut connection)
        .await
        .unwrap();
        let mut decoder = RowDecoder::default();
        let text: Vec<String> = stored
            .iter()
            .map(|row| {
                let (relationship, org) = decoder.decode(row).unwrap();
                assert_eq!(org.unwrap().as_str(), "acme");
                relationship.to_string()
            })
            .collect();
        assert_eq!(
            text,
            [
                "file:/orgs/acme/a#viewer@group:acme/eng#member",
                "file:/orgs/acme/a#viewer@user:bob",
                r#"file:/orgs/acme/a/b#editor@user:carol[within:{"n":2}][expiration:2030-03-17T17:46:40Z]"#,
                "org:acme#member@user:bob",
            ]
        );
    }
}
