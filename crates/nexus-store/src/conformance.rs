//! The storage conformance suite: the behaviours every [`MetadataStore`] backend must have,
//! one function per behaviour, written against the trait only. A backend runs them all with
//! [`crate::metadata_conformance_tests!`], giving a constructor of fresh, empty stores:
//!
//! ```ignore
//! nexus_store::metadata_conformance_tests!(async {
//!     let dir = tempfile::tempdir().unwrap();
//!     let store = SqliteMetadataStore::open(&dir.path().join("meta.db")).await.unwrap();
//!     (std::sync::Arc::new(store) as std::sync::Arc<dyn MetadataStore>, dir)
//! });
//! ```
//!
//! Each function panics (with what was expected) when the backend misbehaves; the suite is
//! test code, shipped in the library so that every backend crate can run it.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::missing_panics_doc,
    reason = "a conformance check is a test: a failed expectation panics with its reason"
)]

use nexus_path::{OrgId, VfsPath};

use crate::error::Rejection;
use crate::meta::{
    ApiKeyRecord, Applied, AuditQuery, AuditRecord, ChangeOperation, ChangeQuery, ChangeRecord,
    ImportedNode, ImportedVersion, LockerKeyRecord, MetadataStore, Mutation, NotificationQuery,
    NotificationRecord, OrgImport, Precondition, PrincipalRecord, RelationshipBatch,
    RelationshipChange, ScheduledReminder,
};
use crate::types::{BlobRef, ContentHash, ListQuery, NodeKind, Timestamp, VersionPolicy};

fn org() -> OrgId {
    OrgId::parse("acme").unwrap()
}

fn path(text: &str) -> VfsPath {
    VfsPath::parse(text).unwrap()
}

fn blob(content: &str) -> BlobRef {
    BlobRef {
        org: org(),
        hash: ContentHash::of(content.as_bytes()),
        size: u64::try_from(content.len()).unwrap(),
    }
}

fn at(micros: i64) -> Timestamp {
    Timestamp(micros)
}

fn mkdir(text: &str, parents: bool) -> Mutation {
    Mutation::CreateDirectory {
        org: org(),
        path: path(text),
        parents,
        author: "system".to_owned(),
        at: at(1),
    }
}

fn write(text: &str, content: &str, precondition: Precondition) -> Mutation {
    write_at(text, content, precondition, 2)
}

fn write_at(text: &str, content: &str, precondition: Precondition, micros: i64) -> Mutation {
    Mutation::WriteFile {
        org: org(),
        path: path(text),
        blob: blob(content),
        precondition,
        create_parents: false,
        author: "system".to_owned(),
        at: at(micros),
    }
}

fn rm(text: &str, recursive: bool) -> Mutation {
    Mutation::Remove {
        org: org(),
        path: path(text),
        recursive,
        if_match: None,
        author: "system".to_owned(),
        at: at(3),
    }
}

fn mv(from: &str, to: &str) -> Mutation {
    Mutation::Move {
        org: org(),
        from: path(from),
        to: path(to),
        overwrite: false,
        author: "system".to_owned(),
        at: at(4),
    }
}

/// Applies one group, returning its outcome.
async fn apply(store: &dyn MetadataStore, group: Vec<Mutation>) -> Result<Vec<Applied>, Rejection> {
    let mut results = store.apply(&[group]).await.expect("the batch commits");
    assert_eq!(results.len(), 1, "one result per group");
    results.remove(0)
}

async fn ok(store: &dyn MetadataStore, mutation: Mutation) -> Applied {
    let described = format!("{mutation:?}");
    let mut applied = apply(store, vec![mutation])
        .await
        .unwrap_or_else(|rejection| panic!("{described} was refused: {rejection}"));
    applied.remove(0)
}

async fn refused(store: &dyn MetadataStore, mutation: Mutation) -> Rejection {
    let described = format!("{mutation:?}");
    apply(store, vec![mutation])
        .await
        .err()
        .unwrap_or_else(|| panic!("{described} was applied; it must be refused"))
}

async fn exists(store: &dyn MetadataStore, text: &str) -> bool {
    store.node(&path(text)).await.unwrap().is_some()
}

async fn root(store: &dyn MetadataStore) {
    ok(store, mkdir("/orgs/acme", false)).await;
}

/// A file or directory needs its parent directory; `create_parents` / `parents` make the
/// missing ones.
pub async fn parents_must_exist(store: &dyn MetadataStore) {
    root(store).await;
    let rejection = refused(store, write("/orgs/acme/a/b.txt", "x", Precondition::None)).await;
    assert!(
        matches!(rejection, Rejection::ParentNotFound { .. }),
        "{rejection:?}"
    );
    let rejection = refused(store, mkdir("/orgs/acme/a/b", false)).await;
    assert!(
        matches!(rejection, Rejection::ParentNotFound { .. }),
        "{rejection:?}"
    );
    assert!(!exists(store, "/orgs/acme/a").await);
    let mut deep = write("/orgs/acme/a/b/c.txt", "x", Precondition::None);
    if let Mutation::WriteFile { create_parents, .. } = &mut deep {
        *create_parents = true;
    }
    ok(store, deep).await;
    ok(store, mkdir("/orgs/acme/x/y/z", true)).await;
    for made in ["/orgs/acme/a", "/orgs/acme/a/b", "/orgs/acme/x/y"] {
        assert!(
            store.node(&path(made)).await.unwrap().unwrap().is_dir(),
            "{made}"
        );
    }
    // A file is no parent.
    let rejection = refused(
        store,
        write("/orgs/acme/a/b/c.txt/d", "x", Precondition::None),
    )
    .await;
    assert!(
        matches!(rejection, Rejection::NotADirectory { .. }),
        "{rejection:?}"
    );
}

/// `If-Match` and `If-None-Match` hold in the transaction that writes.
pub async fn preconditions_hold(store: &dyn MetadataStore) {
    root(store).await;
    let created = ok(
        store,
        write("/orgs/acme/f", "one", Precondition::IfNoneMatch),
    )
    .await;
    let etag = created.node.unwrap().etag();
    let rejection = refused(
        store,
        write("/orgs/acme/f", "two", Precondition::IfNoneMatch),
    )
    .await;
    assert!(
        matches!(rejection, Rejection::PreconditionFailed { .. }),
        "{rejection:?}"
    );
    let rejection = refused(
        store,
        write(
            "/orgs/acme/f",
            "two",
            Precondition::IfMatch("v9-0000".to_owned()),
        ),
    )
    .await;
    assert!(
        matches!(rejection, Rejection::PreconditionFailed { .. }),
        "{rejection:?}"
    );
    let replaced = ok(
        store,
        write("/orgs/acme/f", "two", Precondition::IfMatch(etag)),
    )
    .await;
    assert_eq!(replaced.node.unwrap().version, 2);
    let rejection = refused(
        store,
        write(
            "/orgs/acme/missing",
            "x",
            Precondition::IfMatch("*".to_owned()),
        ),
    )
    .await;
    assert!(
        matches!(rejection, Rejection::PreconditionFailed { .. }),
        "{rejection:?}"
    );
}

/// A refused group leaves no trace; the other groups of the batch apply.
pub async fn groups_are_atomic(store: &dyn MetadataStore) {
    root(store).await;
    let results = store
        .apply(&[
            vec![write("/orgs/acme/kept", "k", Precondition::None)],
            vec![
                write("/orgs/acme/undone", "u", Precondition::None),
                write("/orgs/acme/no/parent", "p", Precondition::None),
            ],
            vec![mkdir("/orgs/acme/d", false)],
        ])
        .await
        .unwrap();
    assert!(results[0].is_ok() && results[1].is_err() && results[2].is_ok());
    assert!(exists(store, "/orgs/acme/kept").await);
    assert!(
        !exists(store, "/orgs/acme/undone").await,
        "a refused group left a file"
    );
    assert!(exists(store, "/orgs/acme/d").await);
}

/// A directory moves with everything beneath it; nothing moves into itself; a sibling that
/// shares a prefix (`/a` and `/ab`) is not part of the subtree.
pub async fn subtrees_move_whole(store: &dyn MetadataStore) {
    root(store).await;
    ok(store, mkdir("/orgs/acme/a/b", true)).await;
    ok(store, write("/orgs/acme/a/b/f", "f", Precondition::None)).await;
    ok(store, mkdir("/orgs/acme/ab", false)).await;
    ok(store, write("/orgs/acme/ab/g", "g", Precondition::None)).await;
    let rejection = refused(store, mv("/orgs/acme/a", "/orgs/acme/a/b/c")).await;
    assert!(
        matches!(rejection, Rejection::IntoItself { .. }),
        "{rejection:?}"
    );
    ok(store, mv("/orgs/acme/a", "/orgs/acme/z")).await;
    assert!(exists(store, "/orgs/acme/z/b/f").await);
    assert!(!exists(store, "/orgs/acme/a").await && !exists(store, "/orgs/acme/a/b/f").await);
    assert!(
        exists(store, "/orgs/acme/ab/g").await,
        "a prefix sibling moved"
    );
    let listed = store
        .list(&ListQuery {
            dir: path("/orgs/acme"),
            recursive: true,
            after: None,
            limit: 100,
        })
        .await
        .unwrap();
    let paths: Vec<String> = listed.iter().map(|node| node.path.to_string()).collect();
    assert_eq!(
        paths,
        [
            "/orgs/acme/ab",
            "/orgs/acme/ab/g",
            "/orgs/acme/z",
            "/orgs/acme/z/b",
            "/orgs/acme/z/b/f"
        ]
    );
}

/// A non-empty directory is removed only recursively, with everything beneath it.
pub async fn removal_is_recursive_only_when_asked(store: &dyn MetadataStore) {
    root(store).await;
    ok(store, mkdir("/orgs/acme/d/e", true)).await;
    ok(store, write("/orgs/acme/d/e/f", "f", Precondition::None)).await;
    let rejection = refused(store, rm("/orgs/acme/d", false)).await;
    assert!(
        matches!(rejection, Rejection::DirectoryNotEmpty { .. }),
        "{rejection:?}"
    );
    let removed = ok(store, rm("/orgs/acme/d", true)).await;
    assert_eq!(removed.removed, 3);
    assert!(!exists(store, "/orgs/acme/d/e/f").await);
    let rejection = refused(store, rm("/orgs/acme/d", true)).await;
    assert!(
        matches!(rejection, Rejection::NotFound { .. }),
        "{rejection:?}"
    );
}

/// Every write is a version; a policy keeps the newest and prunes the rest.
pub async fn versions_are_kept_and_pruned(store: &dyn MetadataStore) {
    root(store).await;
    for (micros, content) in (10..).zip(["1", "2", "3", "4"]) {
        ok(
            store,
            write_at("/orgs/acme/f", content, Precondition::None, micros),
        )
        .await;
    }
    let file = store.node(&path("/orgs/acme/f")).await.unwrap().unwrap();
    assert_eq!(file.version, 4);
    let versions = store.versions(file.id).await.unwrap();
    assert_eq!(
        versions.iter().map(|v| v.version).collect::<Vec<_>>(),
        [4, 3, 2, 1]
    );
    ok(
        store,
        Mutation::SetVersionPolicy {
            org: org(),
            policy: VersionPolicy {
                keep_last: Some(2),
                keep_days: None,
            },
            at: at(20),
        },
    )
    .await;
    let versions = store.versions(file.id).await.unwrap();
    assert_eq!(
        versions.iter().map(|v| v.version).collect::<Vec<_>>(),
        [4, 3]
    );
    assert_eq!(
        store.version_policy(&org()).await.unwrap().keep_last,
        Some(2)
    );
    assert!(store.version(file.id, 1).await.unwrap().is_none());
    assert_eq!(
        store.version(file.id, 3).await.unwrap().unwrap().hash,
        ContentHash::of(b"3")
    );
}

/// Blob reference counts follow the versions that hold them; unreferenced blobs are
/// collected only after the grace cutoff.
pub async fn reference_counts_are_exact(store: &dyn MetadataStore) {
    root(store).await;
    ok(store, write("/orgs/acme/a", "shared", Precondition::None)).await;
    ok(store, write("/orgs/acme/b", "shared", Precondition::None)).await;
    let refcount = |rows: &[crate::meta::BlobRow]| {
        rows.iter()
            .find(|row| row.hash == ContentHash::of(b"shared"))
            .map(|row| row.refcount)
    };
    assert_eq!(refcount(&store.blob_rows().await.unwrap()), Some(2));
    ok(store, rm("/orgs/acme/a", false)).await;
    assert_eq!(refcount(&store.blob_rows().await.unwrap()), Some(1));
    ok(store, rm("/orgs/acme/b", false)).await;
    assert_eq!(refcount(&store.blob_rows().await.unwrap()), Some(0));
    assert!(
        store
            .blob_known(&org(), &ContentHash::of(b"shared"))
            .await
            .unwrap()
    );
    let early = store.collect_unreferenced(at(0), 100).await.unwrap();
    assert!(early.is_empty(), "collected before the cutoff: {early:?}");
    let collected = store
        .collect_unreferenced(Timestamp(i64::MAX), 100)
        .await
        .unwrap();
    assert_eq!(collected, vec![(org(), ContentHash::of(b"shared"))]);
    assert!(
        !store
            .blob_known(&org(), &ContentHash::of(b"shared"))
            .await
            .unwrap()
    );
    assert!(store.check().await.unwrap().problems.is_empty());
}

/// Relationship batches are revisions in order; the change log returns them whole.
pub async fn relationship_revisions_are_ordered(store: &dyn MetadataStore) {
    let relationship = |subject: &str| {
        nexus_rebac::Relationship::parse(&format!("file:/orgs/acme/a#viewer@user:{subject}"))
            .unwrap()
    };
    let batch = |revision: u64, subjects: &[&str]| Mutation::WriteRelationships {
        batch: RelationshipBatch {
            revision,
            changes: subjects
                .iter()
                .map(|subject| RelationshipChange {
                    operation: ChangeOperation::Touch,
                    relationship: relationship(subject),
                    org: Some(org()),
                })
                .collect(),
        },
    };
    ok(store, batch(1, &["u1", "u2"])).await;
    ok(store, batch(2, &["u3"])).await;
    let rejection = refused(store, batch(2, &["u4"])).await;
    assert!(
        matches!(rejection, Rejection::RevisionConflict { .. }),
        "{rejection:?}"
    );
    let changes = store.relationship_changes(0, 10).await.unwrap();
    let revisions: Vec<u64> = changes.iter().map(|change| change.revision).collect();
    assert_eq!(revisions, [1, 1, 2]);
    let snapshot = store.load_authorization().await.unwrap();
    assert_eq!(snapshot.revision, 2);
    assert_eq!(snapshot.relationships.len(), 3);
    assert_eq!(store.authorization_revision().await.unwrap(), 2);
    ok(
        store,
        Mutation::SetAuthorizationSchema {
            source: "definition user {}".to_owned(),
            revision: 3,
        },
    )
    .await;
    assert_eq!(
        store.authorization_revision().await.unwrap(),
        3,
        "a schema replacement is a revision without relationship changes"
    );
    // A page never splits a revision.
    let page = store.relationship_changes(0, 1).await.unwrap();
    assert_eq!(page.len(), 2);
}

/// A principal's id and its handle are each registered once.
pub async fn principals_are_unique(store: &dyn MetadataStore) {
    let record = |id: &str, handle: &str| Mutation::RegisterPrincipal {
        principal: PrincipalRecord {
            kind: "user".to_owned(),
            id: id.to_owned(),
            handle: handle.to_owned(),
            created_at: at(1),
        },
    };
    ok(store, record("u_0001", "alice@acme.com")).await;
    refused(store, record("u_0001", "bob@acme.com")).await;
    refused(store, record("u_0002", "alice@acme.com")).await;
    let accounts = store.load_accounts().await.unwrap();
    assert_eq!(accounts.principals.len(), 1);
}

/// A principal registered with its handle as id gets a stable id once; its keys follow.
pub async fn stable_ids_are_assigned_once(store: &dyn MetadataStore) {
    let agent = |id: &str, handle: &str| Mutation::RegisterPrincipal {
        principal: PrincipalRecord {
            kind: "agent".to_owned(),
            id: id.to_owned(),
            handle: handle.to_owned(),
            created_at: at(1),
        },
    };
    let assign = |handle: &str, id: &str| Mutation::AssignStableId {
        kind: "agent".to_owned(),
        handle: handle.to_owned(),
        id: id.to_owned(),
    };
    let key = |id: &str, principal: &str| Mutation::CreateApiKey {
        key: ApiKeyRecord {
            id: id.to_owned(),
            hash: format!("hash-{id}"),
            principal: principal.to_owned(),
            description: String::new(),
            created_at: at(1),
            revoked_at: None,
            on_behalf_of: None,
            expires_at: None,
        },
    };
    ok(store, agent("bot", "bot")).await;
    ok(store, agent("a_0002", "other")).await;
    ok(store, key("key_1", "agent:bot")).await;
    ok(store, key("key_2", "agent:bots")).await;
    // A delegation: the agent acting on behalf of a user until it expires.
    ok(
        store,
        Mutation::CreateApiKey {
            key: ApiKeyRecord {
                id: "key_3".to_owned(),
                hash: "hash-key_3".to_owned(),
                principal: "agent:a_0002".to_owned(),
                description: "delegated".to_owned(),
                created_at: at(1),
                revoked_at: None,
                on_behalf_of: Some("user:u_0001".to_owned()),
                expires_at: Some(at(9)),
            },
        },
    )
    .await;
    // The id is taken, or there is no such registration: refused, nothing changes.
    refused(store, assign("bot", "a_0002")).await;
    refused(store, assign("nobody", "a_0003")).await;
    refused(store, assign("other", "a_0003")).await;
    ok(store, assign("bot", "a_0001")).await;
    // Once only.
    refused(store, assign("bot", "a_0004")).await;
    let accounts = store.load_accounts().await.unwrap();
    let mut principals: Vec<(String, String)> = accounts
        .principals
        .iter()
        .map(|record| (record.id.clone(), record.handle.clone()))
        .collect();
    principals.sort();
    assert_eq!(
        principals,
        [
            ("a_0001".to_owned(), "bot".to_owned()),
            ("a_0002".to_owned(), "other".to_owned())
        ]
    );
    let mut keys: Vec<(String, String, Option<String>, Option<Timestamp>)> = accounts
        .api_keys
        .iter()
        .map(|key| {
            (
                key.id.clone(),
                key.principal.clone(),
                key.on_behalf_of.clone(),
                key.expires_at,
            )
        })
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            ("key_1".to_owned(), "agent:a_0001".to_owned(), None, None),
            ("key_2".to_owned(), "agent:bots".to_owned(), None, None),
            (
                "key_3".to_owned(),
                "agent:a_0002".to_owned(),
                Some("user:u_0001".to_owned()),
                Some(at(9))
            )
        ]
    );
}

/// An organization's locker key is created once and re-wrapped only from the master key
/// that wrapped it.
pub async fn locker_keys_are_created_once_and_rewrapped_in_turn(store: &dyn MetadataStore) {
    let record = |master: &str, wrapped: &[u8]| LockerKeyRecord {
        org: org(),
        master_id: master.to_owned(),
        wrapped: wrapped.to_vec(),
        created_at: at(1),
    };
    let rewrap = |from: &str, to: &str, wrapped: &[u8]| Mutation::RewrapLockerKey {
        org: org(),
        from_master_id: from.to_owned(),
        master_id: to.to_owned(),
        wrapped: wrapped.to_vec(),
    };
    assert!(store.load_locker_keys().await.unwrap().is_empty());
    refused(store, rewrap("mk_1", "mk_2", b"nothing to rewrap")).await;
    ok(
        store,
        Mutation::CreateLockerKey {
            key: record("mk_1", b"first"),
        },
    )
    .await;
    // A second key for the organization would orphan every secret sealed with the first.
    refused(
        store,
        Mutation::CreateLockerKey {
            key: record("mk_1", b"second"),
        },
    )
    .await;
    refused(store, rewrap("mk_9", "mk_2", b"wrong master")).await;
    assert_eq!(
        store.load_locker_keys().await.unwrap(),
        [record("mk_1", b"first")]
    );
    ok(store, rewrap("mk_1", "mk_2", b"rewrapped")).await;
    refused(store, rewrap("mk_1", "mk_3", b"again from the old one")).await;
    assert_eq!(
        store.load_locker_keys().await.unwrap(),
        [record("mk_2", b"rewrapped")]
    );
}

/// Appends four audit entries (two of acme, one of the system log, one of another
/// organization), with request ids `r<micros>`.
async fn four_audit_entries(store: &dyn MetadataStore) {
    let entry =
        |org: Option<&str>, micros: i64, actor: &str, action: &str, target: &str| AuditRecord {
            org: org.map(|org| OrgId::parse(org).unwrap()),
            at: at(micros),
            actor: actor.to_owned(),
            action: action.to_owned(),
            target: target.to_owned(),
            outcome: "ok".to_owned(),
            request_id: Some(format!("r{micros}")),
            ..AuditRecord::default()
        };
    ok(
        store,
        Mutation::AppendAudit {
            entries: vec![
                entry(
                    Some("acme"),
                    10,
                    "user:u_0001",
                    "files_write",
                    "/orgs/acme/a%b",
                ),
                entry(
                    Some("acme"),
                    20,
                    "user:u_0002",
                    "files_rm",
                    "/orgs/acme/axb",
                ),
                entry(None, 30, "system", "keys_create", "key_1"),
                entry(
                    Some("other"),
                    40,
                    "user:u_0001",
                    "files_write",
                    "/orgs/other/x",
                ),
            ],
        },
    )
    .await;
}

/// The request ids of the audit entries `query` reads.
async fn audit_ids(store: &dyn MetadataStore, query: AuditQuery) -> Vec<String> {
    store
        .audit(&AuditQuery {
            limit: 100,
            ..query
        })
        .await
        .unwrap()
        .into_iter()
        .map(|record| record.request_id.unwrap_or_default())
        .collect()
}

/// The audit log keeps entries in order and filters them exactly (by log, actor, action,
/// time, and a target prefix that is a byte prefix, not a pattern).
pub async fn the_audit_log_is_filtered_exactly(store: &dyn MetadataStore) {
    four_audit_entries(store).await;
    let read = |query: AuditQuery| audit_ids(store, query);
    assert_eq!(
        read(AuditQuery::default()).await,
        ["r10", "r20", "r30", "r40"]
    );
    let acme = AuditQuery {
        org: Some(Some(org())),
        ..AuditQuery::default()
    };
    assert_eq!(read(acme).await, ["r10", "r20"]);
    let system = AuditQuery {
        org: Some(None),
        ..AuditQuery::default()
    };
    assert_eq!(read(system).await, ["r30"]);
    let writes = AuditQuery {
        actor: Some("user:u_0001".to_owned()),
        action: Some("files_write".to_owned()),
        ..AuditQuery::default()
    };
    assert_eq!(read(writes).await, ["r10", "r40"]);
    let prefix = AuditQuery {
        target_prefix: Some("/orgs/acme/a%".to_owned()),
        ..AuditQuery::default()
    };
    assert_eq!(read(prefix).await, ["r10"]);
    let window = AuditQuery {
        since: Some(at(20)),
        until: Some(at(40)),
        ..AuditQuery::default()
    };
    assert_eq!(read(window).await, ["r20", "r30"]);
}

/// The audit log pages by sequence number and forgets only what retention prunes.
pub async fn the_audit_log_pages_and_prunes(store: &dyn MetadataStore) {
    four_audit_entries(store).await;
    let first = store
        .audit(&AuditQuery {
            limit: 2,
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(first.len(), 2);
    assert!(first[0].seq < first[1].seq);
    let rest = AuditQuery {
        after: first[1].seq,
        ..AuditQuery::default()
    };
    assert_eq!(audit_ids(store, rest).await, ["r30", "r40"]);
    ok(store, Mutation::PruneAudit { before: at(30) }).await;
    assert_eq!(
        audit_ids(store, AuditQuery::default()).await,
        ["r30", "r40"]
    );
}

/// A reminder fires once per scheduled time: firing moves it on (or off the schedule) in the
/// same group as its notifications, and a second firing of the same time is refused with
/// nothing added.
pub async fn reminders_fire_once(store: &dyn MetadataStore) {
    let first = path("/orgs/acme/.nexus/chrono/u_0001/20260101/reminder/a.json");
    let second = path("/orgs/acme/.nexus/chrono/u_0001/20260101/reminder/b.json");
    let schedule = |path: &VfsPath, due: Option<i64>| Mutation::ScheduleReminder {
        org: org(),
        path: path.clone(),
        due: due.map(at),
    };
    ok(store, schedule(&first, Some(100))).await;
    ok(store, schedule(&second, Some(50))).await;
    let wrong_org = Mutation::ScheduleReminder {
        org: OrgId::parse("other").unwrap(),
        path: first.clone(),
        due: Some(at(1)),
    };
    refused(store, wrong_org).await;
    let due = |until: i64| async move {
        store
            .due_reminders(at(until), 10)
            .await
            .unwrap()
            .into_iter()
            .map(|ScheduledReminder { path, due, .. }| (path.as_str().to_owned(), due.0))
            .collect::<Vec<_>>()
    };
    assert_eq!(due(49).await, []);
    assert_eq!(
        due(100).await,
        [
            (second.as_str().to_owned(), 50),
            (first.as_str().to_owned(), 100)
        ]
    );
    let note = |recipient: &str, title: &str| NotificationRecord {
        recipient: recipient.to_owned(),
        org: Some(org()),
        kind: "reminder".to_owned(),
        title: title.to_owned(),
        item_key: Some("chrono:u_0001:20260101:reminder:b".to_owned()),
        created_at: at(60),
        ..NotificationRecord::default()
    };
    let fire = |due: i64, next: Option<i64>, title: &str| {
        vec![
            Mutation::FireReminder {
                path: second.clone(),
                due: at(due),
                next: next.map(at),
                etag: None,
            },
            Mutation::AddNotifications {
                notifications: vec![note("user:u_0001", title), note("user:u_0002", title)],
            },
        ]
    };
    // Not if its file changed since `next` was computed (here: it has no file at all).
    refused(
        store,
        Mutation::FireReminder {
            path: second.clone(),
            due: at(50),
            next: Some(at(150)),
            etag: Some("v1-0000".to_owned()),
        },
    )
    .await;
    apply(store, fire(50, Some(150), "first")).await.unwrap();
    // The same occurrence again: refused, and its notifications are not added.
    let again = apply(store, fire(50, Some(150), "twice"))
        .await
        .unwrap_err();
    assert!(
        matches!(again, Rejection::ReminderMoved { .. }),
        "{again:?}"
    );
    apply(store, fire(150, None, "last")).await.unwrap();
    refused(
        store,
        Mutation::FireReminder {
            path: second.clone(),
            due: at(150),
            next: None,
            etag: None,
        },
    )
    .await;
    assert_eq!(due(1000).await, [(first.as_str().to_owned(), 100)]);
    ok(store, schedule(&first, None)).await;
    assert_eq!(due(1000).await, []);
    let feed = |recipient: &'static str| feed_titles(store, recipient);
    let expected = [(1, "first".to_owned()), (2, "last".to_owned())];
    assert_eq!(feed("user:u_0001").await, expected);
    assert_eq!(feed("user:u_0002").await, expected);
    assert_eq!(feed("user:u_0003").await, []);
}

/// A feed's notifications, as (id, title).
async fn feed_titles(store: &dyn MetadataStore, recipient: &str) -> Vec<(u64, String)> {
    store
        .notifications(&NotificationQuery {
            recipient: recipient.to_owned(),
            limit: 10,
            ..NotificationQuery::default()
        })
        .await
        .unwrap()
        .into_iter()
        .map(|record| (record.id, record.title))
        .collect()
}

/// Notifications are numbered per recipient, page by number, and are marked read by their
/// recipient only.
pub async fn notifications_are_per_recipient(store: &dyn MetadataStore) {
    let note = |recipient: &str, title: &str| NotificationRecord {
        recipient: recipient.to_owned(),
        org: Some(org()),
        kind: "shared".to_owned(),
        title: title.to_owned(),
        created_at: at(10),
        ..NotificationRecord::default()
    };
    ok(
        store,
        Mutation::AddNotifications {
            notifications: vec![
                note("user:u_0001", "a1"),
                note("agent:a_0001", "b1"),
                note("user:u_0001", "a2"),
                note("user:u_0001", "a3"),
            ],
        },
    )
    .await;
    let read = |after: u64, unread_only: bool| async move {
        store
            .notifications(&NotificationQuery {
                recipient: "user:u_0001".to_owned(),
                after,
                unread_only,
                limit: 2,
            })
            .await
            .unwrap()
    };
    let page = read(0, false).await;
    assert_eq!(
        page.iter()
            .map(|record| (record.id, record.title.as_str(), record.read_at))
            .collect::<Vec<_>>(),
        [(1, "a1", None), (2, "a2", None)]
    );
    assert_eq!(page[0].org, Some(org()));
    assert_eq!(read(2, false).await.len(), 1);
    let mark = |recipient: &str, id: u64| Mutation::MarkNotificationRead {
        recipient: recipient.to_owned(),
        id,
        at: at(20),
    };
    ok(store, mark("user:u_0001", 2)).await;
    ok(store, mark("user:u_0001", 2)).await;
    let missing = refused(store, mark("user:u_0001", 4)).await;
    assert!(
        matches!(missing, Rejection::NoSuchNotification { id: 4 }),
        "{missing:?}"
    );
    // Another principal's number 2 does not exist for the agent, whose feed has one.
    refused(store, mark("agent:a_0001", 2)).await;
    assert_eq!(read(0, false).await[1].read_at, Some(at(20)));
    let unread: Vec<u64> = read(0, true).await.iter().map(|record| record.id).collect();
    assert_eq!(unread, [1, 3]);
}

/// Creates `/orgs/<org>` and the file `path` in another organization than acme.
async fn write_in(store: &dyn MetadataStore, org: &OrgId, path: &str) {
    ok(
        store,
        Mutation::CreateDirectory {
            org: org.clone(),
            path: VfsPath::org_root(org),
            parents: false,
            author: "system".to_owned(),
            at: at(1),
        },
    )
    .await;
    ok(
        store,
        Mutation::WriteFile {
            org: org.clone(),
            path: VfsPath::parse(path).unwrap(),
            blob: BlobRef {
                org: org.clone(),
                ..blob("x")
            },
            precondition: Precondition::None,
            create_parents: false,
            author: "system".to_owned(),
            at: at(2),
        },
    )
    .await;
}

/// An organization's change feed after `after`, as (revision, action, path, destination).
async fn feed_of(
    store: &dyn MetadataStore,
    org: OrgId,
    after: u64,
) -> Vec<(u64, String, String, Option<String>)> {
    store
        .file_changes(&ChangeQuery {
            org,
            after,
            limit: 100,
        })
        .await
        .unwrap()
        .into_iter()
        .map(|change| {
            (
                change.revision,
                change.action,
                change.path.to_string(),
                change.to.map(|to| to.to_string()),
            )
        })
        .collect()
}

/// The change feed holds, in order and per organization, what each applied mutation did
/// and nothing of refused ones: files created, updated and restored; removals and moves
/// (one record for a subtree); shares granted on files (not other relationships).
pub async fn the_change_feed_records_what_happened(store: &dyn MetadataStore) {
    root(store).await;
    ok(store, mkdir("/orgs/acme/d", false)).await;
    ok(store, write("/orgs/acme/d/a", "1", Precondition::None)).await;
    ok(store, write("/orgs/acme/d/a", "2", Precondition::None)).await;
    refused(
        store,
        write("/orgs/acme/d/a", "3", Precondition::IfNoneMatch),
    )
    .await;
    ok(store, mv("/orgs/acme/d/a", "/orgs/acme/d/b")).await;
    let relationship = |text: &str| RelationshipChange {
        operation: ChangeOperation::Touch,
        relationship: nexus_rebac::Relationship::parse(text).unwrap(),
        org: Some(org()),
    };
    ok(
        store,
        Mutation::WriteRelationships {
            batch: RelationshipBatch {
                revision: 1,
                changes: vec![
                    relationship("file:/orgs/acme/d/b#acl_read@user:u_0001"),
                    relationship("file:/orgs/acme/d/b#owner@user:u_0002"),
                    relationship("session:acme/s_0001#member@user:u_0001"),
                ],
            },
        },
    )
    .await;
    ok(store, rm("/orgs/acme/d", true)).await;
    // Another organization numbers its own.
    let other = OrgId::parse("other").unwrap();
    write_in(store, &other, "/orgs/other/x").await;
    let feed = |org: OrgId, after: u64| feed_of(store, org, after);
    let expected = [
        (1, "created", "/orgs/acme/d/a", None),
        (2, "updated", "/orgs/acme/d/a", None),
        (3, "moved", "/orgs/acme/d/a", Some("/orgs/acme/d/b")),
        (4, "shared", "/orgs/acme/d/b", None),
        (5, "removed", "/orgs/acme/d", None),
    ]
    .map(
        |(revision, action, path, to): (u64, &str, &str, Option<&str>)| {
            (
                revision,
                action.to_owned(),
                path.to_owned(),
                to.map(ToOwned::to_owned),
            )
        },
    );
    assert_eq!(feed(org(), 0).await, expected);
    assert_eq!(feed(org(), 3).await, expected[3..]);
    assert_eq!(
        feed(other.clone(), 0).await,
        [(1, "created".to_owned(), "/orgs/other/x".to_owned(), None)]
    );
    let first = store
        .file_changes(&ChangeQuery {
            org: org(),
            after: 0,
            limit: 1,
        })
        .await
        .unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].author.as_deref(), Some("system"));
    assert_eq!(first[0].at, at(2));
}

fn imported_file(text: &str, versions: &[(u64, &str)]) -> ImportedNode {
    ImportedNode {
        path: path(text),
        kind: NodeKind::File,
        created_at: at(5),
        author: "user:u_0001".to_owned(),
        versions: versions
            .iter()
            .map(|(version, content)| ImportedVersion {
                version: *version,
                blob: blob(content),
                created_at: at(10 + i64::try_from(*version).unwrap()),
                author: format!("user:u_000{version}"),
            })
            .collect(),
    }
}

fn imported_dir(text: &str) -> ImportedNode {
    ImportedNode {
        path: path(text),
        kind: NodeKind::Directory,
        created_at: at(1),
        author: "system".to_owned(),
        versions: Vec::new(),
    }
}

fn org_import(nodes: Vec<ImportedNode>, replace: bool) -> Mutation {
    Mutation::ImportOrg(Box::new(OrgImport {
        org: org(),
        replace,
        policy: VersionPolicy {
            keep_last: Some(7),
            keep_days: None,
        },
        nodes,
        reminders: vec![(path("/orgs/acme/d/f"), at(99))],
        changes: vec![ChangeRecord {
            org: org(),
            revision: 1,
            at: at(12),
            action: "created".to_owned(),
            path: path("/orgs/acme/d/f"),
            to: None,
            author: Some("user:u_0001".to_owned()),
        }],
        audit: vec![AuditRecord {
            org: Some(org()),
            at: at(12),
            actor: "user:u_0001".to_owned(),
            action: "files_write".to_owned(),
            target: "/orgs/acme/d/f".to_owned(),
            outcome: "ok".to_owned(),
            ..AuditRecord::default()
        }],
        locker_key: None,
    }))
}

/// An import whose versions are out of order, or whose root is not a directory, is refused
/// and leaves nothing behind.
pub async fn invalid_imports_leave_nothing(store: &dyn MetadataStore) {
    let mut bad = vec![
        imported_dir("/orgs/acme"),
        imported_file("/orgs/acme/d", &[(3, "three"), (5, "five")]),
    ];
    bad[1].versions.reverse();
    // Out-of-order versions: refused, and nothing of it stays.
    let rejection = refused(store, org_import(bad, false)).await;
    assert!(
        matches!(rejection, Rejection::InvalidImport { .. }),
        "{rejection:?}"
    );
    assert!(!exists(store, "/orgs/acme").await);
    assert!(store.org_reminders(&org()).await.unwrap().is_empty());

    // A root that is not a directory: refused.
    let rejection = refused(
        store,
        org_import(vec![imported_file("/orgs/acme", &[(1, "one")])], false),
    )
    .await;
    assert!(
        matches!(rejection, Rejection::InvalidImport { .. }),
        "{rejection:?}"
    );
}

/// An imported organization has its files with their versions under their original numbers
/// (pruned ones stay missing), its policy, schedule, feed and audit entries; it is refused
/// over an existing organization unless replacing it, and a refused import leaves nothing.
pub async fn organizations_import_whole(store: &dyn MetadataStore) {
    let nodes = || {
        vec![
            imported_dir("/orgs/acme"),
            imported_dir("/orgs/acme/d"),
            imported_file("/orgs/acme/d/f", &[(3, "three"), (5, "five")]),
            imported_file("/orgs/acme/g", &[(1, "one"), (2, "two")]),
        ]
    };
    ok(store, org_import(nodes(), false)).await;
    let file = store.node(&path("/orgs/acme/d/f")).await.unwrap().unwrap();
    assert_eq!((file.version, file.hash), (5, Some(blob("five").hash)));
    assert_eq!(file.author, "user:u_0005");
    assert_eq!(file.created_at, at(5));
    let numbers: Vec<u64> = store
        .versions(file.id)
        .await
        .unwrap()
        .iter()
        .map(|version| version.version)
        .collect();
    assert_eq!(
        numbers,
        [5, 3],
        "the original numbers, the pruned ones missing"
    );
    let other = store.node(&path("/orgs/acme/g")).await.unwrap().unwrap();
    let versions = store.versions(other.id).await.unwrap();
    assert_eq!(versions.len(), 2);
    assert_eq!((versions[1].version, versions[1].created_at), (1, at(11)));
    assert_eq!(
        store.version_policy(&org()).await.unwrap().keep_last,
        Some(7)
    );
    assert_eq!(
        store.org_reminders(&org()).await.unwrap(),
        [ScheduledReminder {
            org: org(),
            path: path("/orgs/acme/d/f"),
            due: at(99),
        }]
    );
    assert_eq!(feed_of(store, org(), 0).await.len(), 1);
    let audit = audit_ids(
        store,
        AuditQuery {
            org: Some(Some(org())),
            limit: 10,
            ..AuditQuery::default()
        },
    )
    .await;
    assert_eq!(audit.len(), 1);
    assert!(store.check().await.unwrap().problems.is_empty());

    let rejection = refused(store, org_import(nodes(), false)).await;
    assert!(
        matches!(rejection, Rejection::AlreadyExists { .. }),
        "{rejection:?}"
    );
    // Replacing: the old tree goes; the audit log and the change feed only grow.
    let Mutation::ImportOrg(mut smaller) = org_import(nodes()[..2].to_vec(), true) else {
        unreachable!()
    };
    smaller.reminders.clear();
    ok(store, Mutation::ImportOrg(smaller)).await;
    assert!(store.org_reminders(&org()).await.unwrap().is_empty());
    assert!(!exists(store, "/orgs/acme/g").await);
    let feed: Vec<u64> = feed_of(store, org(), 0)
        .await
        .iter()
        .map(|change| change.0)
        .collect();
    assert_eq!(
        feed,
        [1, 2],
        "the archive's changes follow the existing ones"
    );
    let audit = store
        .audit(&AuditQuery {
            org: Some(Some(org())),
            limit: 10,
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(
        audit.len(),
        2,
        "the log is append-only, also when replacing"
    );
    let rows = store.blob_rows().await.unwrap();
    assert!(
        rows.iter().all(|row| row.refcount == 0),
        "the replaced files released their content: {rows:?}"
    );
    assert!(store.check().await.unwrap().problems.is_empty());
}

/// Paths and ids are byte-exact: names differing only in case are different, and listings and key ranges follow byte order whatever the database's
/// collation.
pub async fn names_are_byte_exact(store: &dyn MetadataStore) {
    root(store).await;
    // (Paths are NFC-normalized before they reach the store, so no decomposed form here.)
    let names = [
        "B",
        "Z",
        "a",
        "b",
        "\u{e9}",
        "\u{1f600}",
        "a b",
        "a-b",
        "a.b",
        "a_b",
    ];
    for name in names {
        ok(
            store,
            write(&format!("/orgs/acme/{name}"), name, Precondition::None),
        )
        .await;
    }
    ok(store, mkdir("/orgs/acme/a0", false)).await;
    ok(store, write("/orgs/acme/a0/x", "x", Precondition::None)).await;
    let listed: Vec<String> = store
        .list(&ListQuery {
            dir: path("/orgs/acme"),
            recursive: false,
            after: None,
            limit: 100,
        })
        .await
        .unwrap()
        .iter()
        .map(|node| {
            node.path
                .as_str()
                .trim_start_matches("/orgs/acme/")
                .to_owned()
        })
        .collect();
    let mut expected: Vec<String> = names.iter().map(|name| (*name).to_owned()).collect();
    expected.push("a0".to_owned());
    expected.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    assert_eq!(listed, expected, "a listing is in byte order");
    assert!(!exists(store, "/orgs/acme/A").await, "case is significant");
    // `/orgs/acme/a` is not the parent of `/orgs/acme/a0/x` or of `/orgs/acme/a b`.
    ok(store, rm("/orgs/acme/a", false)).await;
    assert!(exists(store, "/orgs/acme/a0/x").await);
    assert!(exists(store, "/orgs/acme/a b").await);
    let relationship = |subject: &str| RelationshipChange {
        operation: ChangeOperation::Touch,
        relationship: nexus_rebac::Relationship::parse(&format!(
            "file:/orgs/acme/B#viewer@user:{subject}"
        ))
        .unwrap(),
        org: Some(org()),
    };
    ok(
        store,
        Mutation::WriteRelationships {
            batch: RelationshipBatch {
                revision: 1,
                changes: vec![
                    relationship("alice"),
                    relationship("Alice"),
                    relationship("ALICE"),
                ],
            },
        },
    )
    .await;
    let snapshot = store.load_authorization().await.unwrap();
    assert_eq!(
        snapshot.relationships.len(),
        3,
        "ids differing in case are distinct"
    );
    let principal = |id: &str, handle: &str| Mutation::RegisterPrincipal {
        principal: PrincipalRecord {
            kind: "user".to_owned(),
            id: id.to_owned(),
            handle: handle.to_owned(),
            created_at: at(1),
        },
    };
    ok(store, principal("u_a", "bob@acme.com")).await;
    ok(store, principal("u_A", "Bob@acme.com")).await;
    assert_eq!(store.load_accounts().await.unwrap().principals.len(), 2);
}

/// Batches larger than any statement's parameter limit are stored whole, and the result of
/// a batch equals applying its changes one by one (the last change of a key wins).
pub async fn large_batches_are_whole(store: &dyn MetadataStore) {
    const SUBJECTS: usize = 70_000;
    let change = |operation: ChangeOperation, subject: usize| RelationshipChange {
        operation,
        relationship: nexus_rebac::Relationship::parse(&format!(
            "file:/orgs/acme/a#viewer@user:u{subject}"
        ))
        .unwrap(),
        org: Some(org()),
    };
    let mut changes: Vec<RelationshipChange> = (0..SUBJECTS)
        .map(|subject| change(ChangeOperation::Touch, subject))
        .collect();
    // Repeated keys inside one run of touches: the later one wins (here: with a caveat).
    let mut repeated = change(ChangeOperation::Touch, 7);
    repeated.relationship.expires_at = Some(4_000_000_000_000_000);
    changes.push(repeated);
    ok(
        store,
        Mutation::WriteRelationships {
            batch: RelationshipBatch {
                revision: 1,
                changes,
            },
        },
    )
    .await;
    let snapshot = store.load_authorization().await.unwrap();
    assert_eq!(snapshot.relationships.len(), SUBJECTS);
    let seventh = snapshot
        .relationships
        .iter()
        .find(|(relationship, _)| relationship.subject.object.object_id == "u7")
        .unwrap();
    assert_eq!(seventh.0.expires_at, Some(4_000_000_000_000_000));
    let logged = store.relationship_changes(0, 1).await.unwrap();
    assert_eq!(
        logged.len(),
        SUBJECTS + 1,
        "the change log holds the whole batch, in order"
    );
    assert_eq!(
        logged.last().unwrap().change.relationship.expires_at,
        Some(4_000_000_000_000_000)
    );
    // Delete every other one, touch one back and delete it again, in one batch.
    let mut changes: Vec<RelationshipChange> = (0..SUBJECTS)
        .step_by(2)
        .map(|subject| change(ChangeOperation::Delete, subject))
        .collect();
    changes.push(change(ChangeOperation::Touch, 0));
    changes.push(change(ChangeOperation::Delete, 0));
    changes.push(change(ChangeOperation::Touch, 2));
    ok(
        store,
        Mutation::WriteRelationships {
            batch: RelationshipBatch {
                revision: 2,
                changes,
            },
        },
    )
    .await;
    let snapshot = store.load_authorization().await.unwrap();
    assert_eq!(snapshot.relationships.len(), SUBJECTS / 2 + 1);
    let ids: std::collections::HashSet<&str> = snapshot
        .relationships
        .iter()
        .map(|(relationship, _)| relationship.subject.object.object_id.as_str())
        .collect();
    assert!(!ids.contains("u0") && ids.contains("u2") && ids.contains("u1") && !ids.contains("u4"));
    // An audit append larger than a statement's parameters.
    let entries: Vec<AuditRecord> = (0..7_000)
        .map(|n| AuditRecord {
            org: Some(org()),
            at: at(n),
            actor: "system".to_owned(),
            action: "write".to_owned(),
            target: format!("/orgs/acme/{n}"),
            outcome: "ok".to_owned(),
            ..AuditRecord::default()
        })
        .collect();
    ok(store, Mutation::AppendAudit { entries }).await;
    let read = store
        .audit(&AuditQuery {
            limit: 10_000,
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(read.len(), 7_000);
    assert!(
        read.windows(2)
            .all(|pair| pair[0].seq < pair[1].seq && pair[0].at < pair[1].at)
    );
}

/// Text the database cannot hold (a NUL character) is either stored exactly or refuses
/// its group alone: the batch's other groups commit.
pub async fn unstorable_text_refuses_only_its_group(store: &dyn MetadataStore) {
    let notification = |title: &str| Mutation::AddNotifications {
        notifications: vec![NotificationRecord {
            recipient: "user:u_1".to_owned(),
            org: Some(org()),
            kind: "shared".to_owned(),
            title: title.to_owned(),
            created_at: at(1),
            ..NotificationRecord::default()
        }],
    };
    let results = store
        .apply(&[
            vec![notification("before")],
            vec![notification("with \0 inside")],
            vec![notification("after")],
        ])
        .await
        .expect("the batch commits");
    assert!(results[0].is_ok() && results[2].is_ok(), "{results:?}");
    let titles: Vec<String> = feed_titles(store, "user:u_1")
        .await
        .into_iter()
        .map(|(_, title)| title)
        .collect();
    match &results[1] {
        Ok(_) => assert_eq!(titles, ["before", "with \0 inside", "after"]),
        Err(rejection) => {
            assert!(
                matches!(rejection, Rejection::Unstorable { .. }),
                "{rejection:?}"
            );
            assert_eq!(titles, ["before", "after"]);
        }
    }
}

/// A path too long for the database's indexes (PostgreSQL's are limited to about 2.7 KB
/// per entry) is stored exactly or refused alone; the store goes on.
pub async fn long_paths_are_stored_or_refused_alone(store: &dyn MetadataStore) {
    root(store).await;
    let component = "x".repeat(200);
    let long = format!("/orgs/acme/{}", vec![component.as_str(); 17].join("/"));
    assert!(long.len() > 3000 && long.len() < 4096, "{}", long.len());
    let deep = Mutation::WriteFile {
        org: org(),
        path: path(&long),
        blob: blob("deep"),
        precondition: Precondition::None,
        create_parents: true,
        author: "system".to_owned(),
        at: at(2),
    };
    let results = store
        .apply(&[
            vec![write("/orgs/acme/before", "b", Precondition::None)],
            vec![deep],
            vec![write("/orgs/acme/after", "a", Precondition::None)],
        ])
        .await
        .expect("the batch commits");
    assert!(results[0].is_ok() && results[2].is_ok(), "{results:?}");
    match &results[1] {
        Ok(_) => assert!(exists(store, &long).await),
        Err(rejection) => {
            assert!(
                matches!(rejection, Rejection::Unstorable { .. }),
                "{rejection:?}"
            );
            assert!(!exists(store, &format!("/orgs/acme/{component}")).await);
        }
    }
    ok(store, write("/orgs/acme/later", "l", Precondition::None)).await;
    assert!(store.check().await.unwrap().problems.is_empty());
}

/// Runs every conformance check as its own test: `$make` is an async block returning
/// `(Arc<dyn MetadataStore>, guard)` for a fresh, empty store (the guard, e.g. a temporary
/// directory, lives as long as the test). Attributes in brackets before it (e.g.
/// `[#[ignore = "..."]]` for a backend that needs a server) go on every test.
#[macro_export]
macro_rules! metadata_conformance_tests {
    ([$(#[$meta:meta])*] $make:expr) => {
        $crate::metadata_conformance_tests!(@each [$(#[$meta])*] $make;
            parents_must_exist,
            preconditions_hold,
            groups_are_atomic,
            subtrees_move_whole,
            removal_is_recursive_only_when_asked,
            versions_are_kept_and_pruned,
            reference_counts_are_exact,
            relationship_revisions_are_ordered,
            principals_are_unique,
            stable_ids_are_assigned_once,
            locker_keys_are_created_once_and_rewrapped_in_turn,
            the_audit_log_is_filtered_exactly,
            the_audit_log_pages_and_prunes,
            reminders_fire_once,
            notifications_are_per_recipient,
            the_change_feed_records_what_happened,
            organizations_import_whole,
            invalid_imports_leave_nothing,
            names_are_byte_exact,
            large_batches_are_whole,
            unstorable_text_refuses_only_its_group,
            long_paths_are_stored_or_refused_alone,
        );
    };
    ($make:expr) => {
        $crate::metadata_conformance_tests!([] $make);
    };
    (@each $attributes:tt $make:expr; $($name:ident),* $(,)?) => {
        $(
            $crate::metadata_conformance_tests!(@one $attributes $make; $name);
        )*
    };
    (@one [$($attribute:tt)*] $make:expr; $name:ident) => {
        #[tokio::test]
        $($attribute)*
        async fn $name() {
            let (store, _guard) = $make.await;
            $crate::conformance::$name(&*store).await;
            store.close().await;
        }
    };
    ($make:expr) => {
        $crate::metadata_conformance_tests!([] $make);
    };
    (@each [$($meta:tt)*] $make:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test]
            $($meta)*
            async fn $name() {
                let (store, _guard) = $make.await;
                $crate::conformance::$name(&*store).await;
                store.close().await;
            }
        )*
    };
}
