//! A fresh schema per test, dropped when the test ends.

use std::sync::atomic::{AtomicU32, Ordering};

use nexus_store_postgres::{PgMetadataStore, PgOptions};
use sqlx::{Connection, PgConnection};

/// The database the tests use (from `scripts/services.sh`).
pub fn url() -> String {
    std::env::var("NEXUS_PG_URL").unwrap_or_else(|_| {
        panic!("NEXUS_PG_URL is not set: run `eval \"$(scripts/services.sh start)\"` first")
    })
}

/// A schema of its own for one test; dropped (with everything in it) on drop.
#[derive(Debug)]
pub struct TestSchema {
    pub name: String,
}

impl TestSchema {
    pub async fn new() -> TestSchema {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "test_{}_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .subsec_nanos()
        );
        let mut connection = PgConnection::connect(&url()).await.unwrap();
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {name}")))
            .execute(&mut connection)
            .await
            .unwrap();
        connection.close().await.unwrap();
        TestSchema { name }
    }

    pub fn options(&self) -> PgOptions {
        let mut options = PgOptions::new(url());
        options.schema = Some(self.name.clone());
        options.max_connections = 4;
        options
    }

    pub async fn open(&self) -> PgMetadataStore {
        PgMetadataStore::open(&self.options()).await.unwrap()
    }
}

impl Drop for TestSchema {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop is synchronous: a thread with its own runtime drops the schema.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                let mut connection = PgConnection::connect(&url()).await?;
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP SCHEMA {name} CASCADE")))
                    .execute(&mut connection)
                    .await?;
                connection.close().await
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop test schema {}", self.name);
        }
    }
}
