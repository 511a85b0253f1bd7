//! Permission workloads that involve the store: R5 (bulk import of relationships, then
//! reopening) and F3 with permission filtering.

use std::path::PathBuf;
use std::time::Instant;

use futures::StreamExt;
use nexus_core::authz::org_of;
use nexus_core::{CallContext, ChangeOperation, Fs, StoreOptions};
use nexus_rebac::Relationship;
use nexus_store::{Mutation, RelationshipBatch, RelationshipChange, Store};

use crate::files::{BIG_DIRECTORY, fill_big_directory, member_of_bench, time_big_listing};
use crate::report::Report;

const IMPORT_BATCH: usize = 10_000;
const IN_FLIGHT: usize = 4;

/// R5: D2's relationships written to the embedded store in durable batches, then the time to
/// open the data directory and load them into the engine.
pub async fn bulk_import(
    relationships: Vec<Relationship>,
    dir: Option<PathBuf>,
) -> anyhow::Result<Report> {
    let scratch = crate::scratch_dir(dir)?;
    let data = scratch.path().join("data");
    let store = Store::open(&data, StoreOptions::default()).await?;
    let total = relationships.len();
    let started = Instant::now();
    // Batches are committed strictly in order; up to `IN_FLIGHT` are queued at once, so the
    // next batch is prepared while the previous one commits (each is still acknowledged only
    // once durable, and queued batches may share a transaction through group commit).
    let batches = relationships
        .chunks(IMPORT_BATCH)
        .enumerate()
        .map(|(index, chunk)| {
            let store = store.clone();
            async move {
                let batch = RelationshipBatch {
                    revision: u64::try_from(index + 1)?,
                    changes: chunk
                        .iter()
                        .map(|relationship| RelationshipChange {
                            operation: ChangeOperation::Touch,
                            org: org_of(relationship),
                            relationship: relationship.clone(),
                        })
                        .collect(),
                };
                let begin = Instant::now();
                store
                    .apply(Mutation::WriteRelationships { batch })
                    .await
                    .map_err(|error| anyhow::anyhow!("{error}"))?;
                anyhow::Ok(begin.elapsed())
            }
        });
    let samples: Vec<_> = futures::stream::iter(batches)
        .buffered(IN_FLIGHT)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<_, _>>()?;
    let import = started.elapsed();
    store.close().await;
    let opening = Instant::now();
    let fs = Fs::open(&data, StoreOptions::default()).await?;
    let open_time = opening.elapsed();
    fs.close().await;
    Ok(Report::new(
        "R5 bulk import of D2 relationships (10k per durable batch, 4 queued)",
        samples,
        import,
    )
    .with_extra(serde_json::json!({
        "relationships": total,
        "relationships_per_s": total as f64 / import.as_secs_f64(),
        "reopen_and_load_s": open_time.as_secs_f64(),
    })))
}

/// F3 with permissions: a member whose only grant is read on a directory of 10,000 files
/// lists it.
pub async fn filtered_listing(dir: Option<PathBuf>) -> anyhow::Result<Report> {
    let scratch = crate::scratch_dir(dir)?;
    let fs = Fs::open(&scratch.path().join("data"), StoreOptions::default()).await?;
    fill_big_directory(&fs).await?;
    fs.relationships()
        .setfacl(
            &CallContext::system(),
            BIG_DIRECTORY,
            "user:reader@bench:r--",
        )
        .await?;
    let report = time_big_listing(
        &fs,
        &member_of_bench()?,
        "F3 list 10,000 entries, permission-filtered for a non-admin",
    )
    .await;
    fs.close().await;
    report
}
