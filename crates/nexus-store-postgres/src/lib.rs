//! [`MetadataStore`] on PostgreSQL: the metadata of the scale-out tier, shared by every node.
//!
//! ```text
//!   PgMetadataStore ── a connection pool (reads run on any connection)
//!     apply: one transaction per batch; it first bumps `write_state` (a row lock), so the
//!            write transactions of every node commit one after another, in the order of
//!            their commit number, and every rule of `nexus_store::rules` sees a settled state
//!     rows.rs: the statements the rules run (the `Rows` of one transaction)
//!     schema.rs: migrations (`nexus_schema`), an advisory lock while they run
//! ```
//!
//! Only what PostgreSQL-compatible distributed SQL databases also offer is used on the
//! core path: no triggers, no `LISTEN/NOTIFY`, no large objects; arrays (`UNNEST`) for
//! batches, so no statement approaches the protocol's limit of 65,535 bound parameters
//! whatever the batch size. Text that PostgreSQL cannot store (a NUL character) refuses the
//! mutation group that carries it; the batch's other groups commit.

mod read;
mod rows;
mod schema;

use std::time::Duration;

use async_trait::async_trait;
use nexus_path::{OrgId, VfsPath};
use nexus_store::rules::Failure;
use nexus_store::{
    AccountsSnapshot, Applied, AuditQuery, AuditRecord, AuthorizationSnapshot, BlobRow,
    ChangeQuery, ChangeRecord, ContentHash, ListQuery, LockerKeyRecord, MetadataCheck,
    MetadataStore, Mutation, Node, NotificationQuery, NotificationRecord, RecordedChange,
    Rejection, ScheduledReminder, StoreError, Timestamp, Turn, VersionPolicy, VersionRecord,
};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{Connection, PgConnection};

pub use schema::SCHEMA_VERSION;

/// How to reach the database and how many connections to keep.
#[derive(Clone)]
pub struct PgOptions {
    /// `postgres://user[:password]@host[:port]/database[?params]`.
    pub url: String,
    /// The schema (namespace) holding Nexus's tables, created by the first migration when
    /// missing; `None`: the connection's default (`public`, normally). Several installations
    /// can share a database, each in a schema of its own.
    pub schema: Option<String>,
    /// Most connections open at once (reads share them; one writes at a time per node).
    pub max_connections: u32,
    /// How long a request waits for a free connection before failing as unavailable.
    pub acquire_timeout: Duration,
    /// Bring the schema up to date when opening; otherwise refuse a database that is not.
    pub migrate: bool,
}

impl std::fmt::Debug for PgOptions {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("PgOptions")
            .field("url", &"<redacted>")
            .field("schema", &self.schema)
            .field("max_connections", &self.max_connections)
            .field("acquire_timeout", &self.acquire_timeout)
            .field("migrate", &self.migrate)
            .finish()
    }
}

impl PgOptions {
    /// Options for `url` with the documented defaults (16 connections, migrate on open).
    pub fn new(url: impl Into<String>) -> PgOptions {
        PgOptions {
            url: url.into(),
            schema: None,
            max_connections: 16,
            acquire_timeout: Duration::from_secs(10),
            migrate: true,
        }
    }

    /// The schema, if it is a plain identifier (letters, digits, `_`; at most 63 bytes).
    fn namespace(&self) -> Result<Option<&str>, StoreError> {
        let Some(schema) = &self.schema else {
            return Ok(None);
        };
        if !is_plain_schema_name(schema) {
            return Err(StoreError::InvalidData {
                message: format!(
                    "the PostgreSQL schema `{schema}` is not a plain name (lowercase letters, digits and `_`, at most 63)"
                ),
            });
        }
        Ok(Some(schema))
    }

    fn connect_options(&self) -> Result<PgConnectOptions, StoreError> {
        let options: PgConnectOptions =
            self.url
                .parse()
                .map_err(|error: sqlx::Error| StoreError::InvalidData {
                    message: format!("the PostgreSQL URL is not valid: {}", redact(&error)),
                })?;
        // A transaction left idle (a node that stopped mid-turn) ends after a minute.
        let options = options
            .application_name("nexus")
            .options([("idle_in_transaction_session_timeout", "60s")]);
        Ok(match self.namespace()? {
            Some(schema) => options.options([("search_path", schema)]),
            None => options,
        })
    }
}

/// Whether `name` may name a schema: lowercase ASCII letters, digits and `_`, not starting
/// with a digit, at most 63 bytes (PostgreSQL's limit), so it never needs escaping.
pub fn is_plain_schema_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// An error's text without a URL it may quote (which may hold a password).
fn redact(error: &sqlx::Error) -> String {
    let text = error.to_string();
    match text.find("postgres") {
        Some(at) => text.get(..at).unwrap_or_default().trim_end().to_owned(),
        None => text,
    }
}

/// Metadata in a PostgreSQL database.
#[derive(Debug)]
pub struct PgMetadataStore {
    pool: PgPool,
    /// The commits this process made, to tell them from other processes' (see
    /// [`MetadataStore::others_committed`]).
    commits: std::sync::Mutex<Commits>,
}

/// Write transactions' numbers (`write_state.commits`): the last one looked at, and this
/// process's own since.
#[derive(Debug, Default)]
struct Commits {
    seen: i64,
    own: std::collections::BTreeSet<i64>,
}

impl PgMetadataStore {
    fn own_commit(&self, number: i64) {
        if let Ok(mut commits) = self.commits.lock() {
            commits.own.insert(number);
        }
    }
}

impl PgMetadataStore {
    /// Connects, and migrates when `options.migrate` (refusing a database that is behind
    /// otherwise, or ahead of this build in any case).
    pub async fn open(options: &PgOptions) -> Result<PgMetadataStore, StoreError> {
        let connect = options.connect_options()?;
        let mut connection = PgConnection::connect_with(&connect).await?;
        if options.migrate {
            schema::migrate(&mut connection, options.namespace()?).await?;
        } else {
            let version = schema::version(&mut connection).await?;
            if version != SCHEMA_VERSION {
                return Err(StoreError::InvalidData {
                    message: format!(
                        "the metadata database has schema version {version}, this build needs {SCHEMA_VERSION}: run `nexus migrate`"
                    ),
                });
            }
        }
        connection.close().await?;
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections.max(2))
            .min_connections(1)
            .acquire_timeout(options.acquire_timeout)
            .connect_with(connect)
            .await?;
        Ok(PgMetadataStore {
            pool,
            commits: std::sync::Mutex::default(),
        })
    }

    /// Brings the database `options` names up to this build's schema. Returns the versions
    /// it went from and to (equal: nothing to do).
    pub async fn migrate(options: &PgOptions) -> Result<(i64, i64), StoreError> {
        let mut connection = PgConnection::connect_with(&options.connect_options()?).await?;
        let versions = schema::migrate(&mut connection, options.namespace()?).await?;
        connection.close().await?;
        Ok(versions)
    }

    /// The pool, for tests and tools of this crate's users.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Drops the schema `options.schema` with everything in it (tests' clean-up; nothing
    /// when no schema is named).
    pub async fn drop_schema(options: &PgOptions) -> Result<(), StoreError> {
        let Some(namespace) = options.namespace()? else {
            return Ok(());
        };
        let mut connection = PgConnection::connect_with(&options.connect_options()?).await?;
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "DROP SCHEMA IF EXISTS \"{namespace}\" CASCADE"
        )))
        .execute(&mut connection)
        .await?;
        connection.close().await?;
        Ok(())
    }
}

/// A turn at changing relationships: an open transaction holding the lock on the `turns`
/// row, rolled back (nothing was written in it) to release the lock.
struct PgTurn(Option<sqlx::Transaction<'static, sqlx::Postgres>>);

impl std::fmt::Debug for PgTurn {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("PgTurn")
    }
}

#[async_trait]
impl Turn for PgTurn {
    async fn release(mut self: Box<Self>) {
        if let Some(transaction) = self.0.take()
            && let Err(error) = transaction.rollback().await
        {
            tracing::warn!(%error, "releasing the relationship turn failed (the connection closes, which releases it)");
        }
    }
}

/// Write transactions run at `READ COMMITTED` whatever the database's default: once a
/// transaction has the write turn, each statement sees everything committed before it.
async fn read_committed(connection: &mut PgConnection) -> Result<(), StoreError> {
    sqlx::query("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
        .execute(&mut *connection)
        .await?;
    Ok(())
}

/// Whether a failed statement was refused for the data it carried (SQLSTATE class 22: a NUL
/// character, a value out of range; 54000: a key too large for an index) rather than for the
/// state of the database.
fn refused_data(error: &StoreError) -> Option<String> {
    let StoreError::Database { source } = error else {
        return None;
    };
    let database = source.downcast_ref::<sqlx::Error>()?.as_database_error()?;
    let code = database.code()?;
    // 22: data exception; 54000: a value too large for an index (a path near the limit).
    (code.starts_with("22") || code == "54000")
        .then(|| format!("{} (SQLSTATE {code})", database.message()))
}

#[async_trait]
impl MetadataStore for PgMetadataStore {
    async fn node(&self, path: &VfsPath) -> Result<Option<Node>, StoreError> {
        read::node(&self.pool, path).await
    }

    async fn list(&self, query: &ListQuery) -> Result<Vec<Node>, StoreError> {
        read::list(&self.pool, query).await
    }

    async fn versions(&self, file_id: i64) -> Result<Vec<VersionRecord>, StoreError> {
        read::versions(&self.pool, file_id).await
    }

    async fn version(
        &self,
        file_id: i64,
        version: u64,
    ) -> Result<Option<VersionRecord>, StoreError> {
        read::version(&self.pool, file_id, version).await
    }

    async fn version_policy(&self, org: &OrgId) -> Result<VersionPolicy, StoreError> {
        read::version_policy(&self.pool, org).await
    }

    async fn apply(
        &self,
        batch: &[Vec<Mutation>],
    ) -> Result<Vec<Result<Vec<Applied>, Rejection>>, StoreError> {
        let mut transaction = self.pool.begin().await?;
        read_committed(&mut transaction).await?;
        let number = rows::take_write_turn(&mut transaction).await?;
        let mut results = Vec::with_capacity(batch.len());
        for group in batch {
            let mut savepoint = transaction.begin().await?;
            let mut applied = Vec::with_capacity(group.len());
            let mut outcome = Ok(());
            for mutation in group {
                match rows::apply(&mut savepoint, mutation).await {
                    Ok(done) => applied.push(done),
                    Err(failure) => {
                        outcome = Err(failure);
                        break;
                    }
                }
            }
            if outcome.is_ok() {
                outcome = rows::record_group(&mut savepoint, group, &applied).await;
            }
            match outcome {
                Ok(()) => {
                    savepoint.commit().await?;
                    results.push(Ok(applied));
                }
                Err(Failure::Rejected(rejection)) => {
                    savepoint.rollback().await?;
                    results.push(Err(rejection));
                }
                Err(Failure::Store(error)) => match refused_data(&error) {
                    Some(problem) => {
                        savepoint.rollback().await?;
                        results.push(Err(Rejection::Unstorable { problem }));
                    }
                    None => return Err(error),
                },
            }
        }
        transaction.commit().await?;
        self.own_commit(number);
        Ok(results)
    }

    async fn load_authorization(&self) -> Result<AuthorizationSnapshot, StoreError> {
        read::authorization(&self.pool).await
    }

    async fn authorization_revision(&self) -> Result<u64, StoreError> {
        let revision: i64 =
            sqlx::query_scalar("SELECT revision FROM authorization_state WHERE id = 1")
                .fetch_one(&self.pool)
                .await?;
        nexus_store::codec::to_u64(revision)
    }

    async fn relationship_turn(&self) -> Result<Option<Box<dyn Turn>>, StoreError> {
        let mut transaction = self.pool.begin().await?;
        // A node that cannot get its turn for a while answers 503 rather than waiting on a
        // holder that may be gone (its connection dies with it, which ends the turn).
        sqlx::query("SET LOCAL lock_timeout = '10s'")
            .execute(&mut *transaction)
            .await?;
        sqlx::query("SELECT name FROM turns WHERE name = 'relationships' FOR UPDATE")
            .fetch_one(&mut *transaction)
            .await?;
        Ok(Some(Box::new(PgTurn(Some(transaction)))))
    }

    async fn others_committed(&self) -> Result<bool, StoreError> {
        let current: i64 = sqlx::query_scalar("SELECT commits FROM write_state WHERE id = 1")
            .fetch_one(&self.pool)
            .await?;
        let Ok(mut commits) = self.commits.lock() else {
            return Ok(true);
        };
        if current <= commits.seen {
            return Ok(false);
        }
        let seen = commits.seen;
        // Every number after the last one looked at is this process's, or another's.
        let own = commits.own.range(seen + 1..=current).count();
        let others = i64::try_from(own).map_or(true, |own| own < current - seen);
        commits.own = commits.own.split_off(&(current + 1));
        commits.seen = current;
        Ok(others)
    }

    async fn hold_lease(
        &self,
        name: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let ttl = i64::try_from(ttl.as_micros()).unwrap_or(i64::MAX);
        let held: Option<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, {now} + $3)
             ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
             WHERE leases.holder = excluded.holder OR leases.expires_at < {now}
             RETURNING holder",
            now = rows::NOW_MICROS
        )))
        .bind(name)
        .bind(holder)
        .bind(ttl)
        .fetch_optional(&self.pool)
        .await?;
        Ok(held.is_some())
    }

    async fn accounts_version(&self) -> Result<Option<u64>, StoreError> {
        let version: i64 = sqlx::query_scalar("SELECT accounts FROM write_state WHERE id = 1")
            .fetch_one(&self.pool)
            .await?;
        Ok(Some(nexus_store::codec::to_u64(version)?))
    }

    async fn load_accounts(&self) -> Result<AccountsSnapshot, StoreError> {
        read::accounts(&self.pool).await
    }

    async fn load_locker_keys(&self) -> Result<Vec<LockerKeyRecord>, StoreError> {
        read::locker_keys(&self.pool).await
    }

    async fn audit(&self, query: &AuditQuery) -> Result<Vec<AuditRecord>, StoreError> {
        read::audit(&self.pool, query).await
    }

    async fn file_changes(&self, query: &ChangeQuery) -> Result<Vec<ChangeRecord>, StoreError> {
        read::file_changes(&self.pool, query).await
    }

    async fn pending_tasks(&self) -> Result<Vec<String>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT name FROM pending_tasks ORDER BY name")
                .fetch_all(&self.pool)
                .await?,
        )
    }

    async fn org_reminders(&self, org: &OrgId) -> Result<Vec<ScheduledReminder>, StoreError> {
        read::org_reminders(&self.pool, org).await
    }

    async fn due_reminders(
        &self,
        until: Timestamp,
        limit: usize,
    ) -> Result<Vec<ScheduledReminder>, StoreError> {
        read::due_reminders(&self.pool, until, limit).await
    }

    async fn notifications(
        &self,
        query: &NotificationQuery,
    ) -> Result<Vec<NotificationRecord>, StoreError> {
        read::notifications(&self.pool, query).await
    }

    async fn relationship_changes(
        &self,
        after: u64,
        limit: usize,
    ) -> Result<Vec<RecordedChange>, StoreError> {
        read::relationship_changes(&self.pool, after, limit).await
    }

    async fn blob_known(&self, org: &OrgId, hash: &ContentHash) -> Result<bool, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM blobs WHERE org = $1 AND hash = $2)")
                .bind(org.as_str())
                .bind(hash.0.as_slice())
                .fetch_one(&self.pool)
                .await?,
        )
    }

    async fn collect_unreferenced(
        &self,
        cutoff: Timestamp,
        limit: usize,
    ) -> Result<Vec<(OrgId, ContentHash)>, StoreError> {
        let mut transaction = self.pool.begin().await?;
        read_committed(&mut transaction).await?;
        // In turn with writers: a blob found unreferenced here is not referenced again
        // before this transaction commits.
        let number = rows::take_write_turn(&mut transaction).await?;
        let collected = rows::collect_unreferenced(&mut transaction, cutoff, limit).await?;
        transaction.commit().await?;
        self.own_commit(number);
        Ok(collected)
    }

    async fn blob_rows(&self) -> Result<Vec<BlobRow>, StoreError> {
        read::blob_rows(&self.pool).await
    }

    async fn check(&self) -> Result<MetadataCheck, StoreError> {
        read::check(&self.pool).await
    }

    async fn close(&self) {
        self.pool.close().await;
    }
}
