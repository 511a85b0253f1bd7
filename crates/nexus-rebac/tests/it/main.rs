//! Integration tests of the engine.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::too_many_lines,
    reason = "test code: a failed unwrap is a failed test"
)]

mod conformance;
mod derived;
mod expected_relations;
mod reads;
mod reference;
mod regressions;
