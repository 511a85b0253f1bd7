//! Tests of the PostgreSQL backend. They need a server: `scripts/services.sh start` and the
//! `NEXUS_PG_URL` it prints. They are ignored by a plain `cargo test`; `scripts/test.sh`
//! starts the services and runs them with `--ignored` (and they fail, never skip, when the
//! variable is missing).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed unwrap is a failed test"
)]

mod conformance;
mod database;
mod support;
