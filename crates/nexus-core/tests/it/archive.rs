//! Organization archives: an export imported into a fresh data directory answers every
//! permission check of a sample the same way and holds the same files, versions, schedule,
//! feed, audit log and sealed secrets; an altered archive, an existing organization and a
//! caller who is not the system administrator are refused, changing nothing.

use std::io::{Cursor, Read};

use bytes::Bytes;
use nexus_core::api::{CreateItem, CreateSession, SessionType};
use nexus_core::locker::MasterKey;
use nexus_core::{
    CallContext, CheckQuery, ErrorCode, Fs, ListOptions, MemberKind, MemberSpec, OrgId, OrgSpec,
    Principal, ReadOptions, Role, StoreOptions, WorkspaceSpec, WriteOptions,
};
use nexus_rebac::{CheckResult, ObjectRef, SubjectRef};
use nexus_store::VersionPolicy;
use serde_json::json;

use crate::system;

const PEOPLE: [&str; 4] = [
    "alice@acme.com",
    "bob@acme.com",
    "carol@acme.com",
    "dan@acme.com",
];

async fn open(data: &std::path::Path, key: &str) -> Fs {
    let fs = Fs::open(data, StoreOptions::default()).await.unwrap();
    fs.enable_lockers(MasterKey::from_base64(key).unwrap())
        .await
        .unwrap();
    fs
}

fn spec() -> OrgSpec {
    let person = |handle: &str, role: Role, workspaces: &[&str]| {
        (
            MemberSpec {
                user_id: handle.to_owned(),
                role,
                kind: MemberKind::Human,
                workspaces: workspaces.iter().map(|id| (*id).to_owned()).collect(),
            },
            Vec::new(),
        )
    };
    OrgSpec {
        id: OrgId::parse("acme").unwrap(),
        name: "Acme".to_owned(),
        workspaces: ["main", "ops"]
            .iter()
            .map(|id| WorkspaceSpec {
                id: (*id).to_owned(),
                name: None,
            })
            .collect(),
        members: vec![
            person(PEOPLE[0], Role::Admin, &[]),
            person(PEOPLE[1], Role::Member, &["main"]),
            person(PEOPLE[2], Role::Member, &["ops"]),
            person(PEOPLE[3], Role::Assistant, &[]),
        ],
        settings: serde_json::Map::new(),
    }
}

fn user(fs: &Fs, handle: &str) -> CallContext {
    fs.context(Principal::User(handle.to_owned()))
}

async fn write(fs: &Fs, who: &CallContext, path: &str, content: &str) {
    fs.files()
        .write(
            who,
            path,
            Bytes::from(content.to_owned()),
            WriteOptions {
                create_parents: true,
                ..WriteOptions::default()
            },
        )
        .await
        .unwrap();
}

async fn item(
    fs: &Fs,
    who: &CallContext,
    env: &str,
    scope: &str,
    data: serde_json::Value,
) -> String {
    fs.items()
        .create(
            who,
            "acme",
            CreateItem {
                env: env.to_owned(),
                scope: scope.to_owned(),
                kind: if env == "chrono" { "reminder" } else { "node" }.to_owned(),
                id: None,
                data,
                session: None,
            },
        )
        .await
        .unwrap()
        .key
}

/// An organization with a bit of everything: files with several versions under a
/// version policy, an ACL grant, personal and universal items, a group session with a
/// session reminder, a locker secret.
async fn populated(fs: &Fs) -> (String, String) {
    fs.orgs().provision(&system(), &[spec()]).await.unwrap();
    let alice = user(fs, PEOPLE[0]);
    let bob = user(fs, PEOPLE[1]);
    fs.files()
        .set_version_policy(
            &alice,
            "acme",
            VersionPolicy {
                keep_last: Some(3),
                keep_days: None,
            },
        )
        .await
        .unwrap();
    for round in 1..=5 {
        write(
            fs,
            &bob,
            "/orgs/acme/main/plan.md",
            &format!("plan v{round}"),
        )
        .await;
    }
    write(fs, &bob, "/orgs/acme/main/notes/a.txt", "a").await;
    write(fs, &alice, "/orgs/acme/ops/runbook.md", "restart it").await;
    write(fs, &alice, "/orgs/acme/ops/same.md", "restart it").await;
    fs.relationships()
        .setfacl(&alice, "/orgs/acme/ops/runbook.md", "user:bob@acme.com:r--")
        .await
        .unwrap();
    item(fs, &bob, "kb", "personal", json!({"title": "bob's own"})).await;
    item(fs, &alice, "kb", "UNIV", json!({"title": "for everyone"})).await;
    let session = fs
        .sessions()
        .start(
            &bob,
            "acme",
            CreateSession {
                title: "launch".to_owned(),
                session_type: SessionType::Group,
                members: vec![PEOPLE[2].to_owned()],
            },
        )
        .await
        .unwrap();
    item(
        fs,
        &bob,
        "chrono",
        &session.stable_id,
        json!({"title": "ship it", "due": "2099-01-01T09:00:00+01:00"}),
    )
    .await;
    let secret = fs
        .items()
        .create(
            &bob,
            "acme",
            CreateItem {
                env: "locker".to_owned(),
                scope: "personal".to_owned(),
                kind: "cred".to_owned(),
                id: None,
                data: json!({"name": "db", "secret": "CANARY-archive-91c2"}),
                session: None,
            },
        )
        .await
        .unwrap()
        .key;
    (session.stable_id, secret)
}

async fn export(fs: &Fs) -> Vec<u8> {
    let (report, bytes) = fs
        .archives()
        .export(&system(), "acme", Vec::new())
        .await
        .unwrap();
    assert!(report.files >= 8 && report.relationships > 10, "{report:?}");
    assert!(report.locker_key && report.reminders == 1, "{report:?}");
    bytes
}

/// Every path of the organization, in order.
async fn paths(fs: &Fs) -> Vec<String> {
    let listing = fs
        .files()
        .ls(
            &system(),
            "/orgs/acme",
            ListOptions {
                recursive: true,
                limit: Some(1000),
                ..ListOptions::default()
            },
        )
        .await
        .unwrap();
    let mut paths: Vec<String> = listing
        .entries
        .into_iter()
        .map(|entry| entry.path)
        .collect();
    paths.insert(0, "/orgs/acme".to_owned());
    paths
}

/// Every (person, path, permission) decision, each person by stable id.
async fn decisions(fs: &Fs) -> Vec<(String, String, &'static str, bool)> {
    let mut out = Vec::new();
    for person in PEOPLE {
        let id = fs.registry().user_id(person).unwrap();
        let subject = SubjectRef::parse(&format!("user:{id}")).unwrap();
        for path in paths(fs).await {
            for permission in ["read", "write", "manage"] {
                let answer = fs
                    .relationships()
                    .check(
                        &system(),
                        CheckQuery {
                            resource: &ObjectRef::new("file", &path),
                            permission,
                            subject: &subject,
                            context: None,
                            at_least: None,
                        },
                    )
                    .unwrap();
                out.push((
                    person.to_owned(),
                    path.clone(),
                    permission,
                    answer == CheckResult::Has,
                ));
            }
        }
    }
    out
}

/// Every file's versions (number, content) and its current etag.
async fn contents(fs: &Fs) -> Vec<(String, String, Vec<(u64, String)>)> {
    let mut out = Vec::new();
    for path in paths(fs).await {
        let entry = fs.files().stat(&system(), &path).await.unwrap();
        if entry.is_dir() {
            continue;
        }
        let mut versions = Vec::new();
        for version in fs.files().versions(&system(), &path).await.unwrap() {
            let read = fs
                .files()
                .read(
                    &system(),
                    &path,
                    ReadOptions {
                        version: Some(version.version),
                        ..ReadOptions::default()
                    },
                )
                .await
                .unwrap();
            versions.push((
                version.version,
                String::from_utf8_lossy(&read.content).into_owned(),
            ));
        }
        out.push((path, entry.etag.unwrap_or_default(), versions));
    }
    out
}

#[tokio::test]
async fn an_imported_organization_answers_every_check_the_same() {
    let dir = tempfile::TempDir::new().unwrap();
    let (_, key) = MasterKey::generate();
    let source = open(&dir.path().join("source"), &key).await;
    let (session, secret) = populated(&source).await;
    let archive = export(&source).await;

    let target = open(&dir.path().join("target"), &key).await;
    let report = target
        .archives()
        .import(&system(), Cursor::new(archive.clone()), false)
        .await
        .unwrap();
    assert_eq!(
        report.principals_registered, report.principals,
        "{report:?}"
    );
    assert!(!report.replaced);

    let audit = |fs: Fs| async move {
        fs.store()
            .audit(&nexus_store::AuditQuery {
                org: Some(Some(OrgId::parse("acme").unwrap())),
                limit: 1000,
                ..nexus_store::AuditQuery::default()
            })
            .await
            .unwrap()
            .into_iter()
            .map(|entry| (entry.at, entry.actor, entry.action, entry.target))
            .collect::<Vec<_>>()
    };
    // (Compared first: reading people's private files below adds audit entries.) The
    // archive's log ends with the export; the import adds its own entry after it.
    let mut imported_log = audit(target.clone()).await;
    let import_entry = imported_log.pop().unwrap();
    assert_eq!(
        (import_entry.1.as_str(), import_entry.2.as_str()),
        ("system", "org_import")
    );
    let source_log = audit(source.clone()).await;
    assert_eq!(source_log.last().unwrap().2, "org_export");
    assert_eq!(imported_log, source_log);
    let expected = decisions(&source).await;
    assert!(expected.iter().any(|decision| decision.3));
    assert!(expected.iter().any(|decision| !decision.3));
    assert_eq!(decisions(&target).await, expected);
    assert_eq!(contents(&target).await, contents(&source).await);
    let plan = contents(&source).await;
    let plan = plan
        .iter()
        .find(|file| file.0 == "/orgs/acme/main/plan.md")
        .unwrap();
    assert_eq!(
        plan.2.iter().map(|version| version.0).collect::<Vec<_>>(),
        [5, 4, 3],
        "pruned to the policy, under the original numbers"
    );
    // The same stable ids, schedule, feed and audit log.
    for person in PEOPLE {
        assert_eq!(
            target.registry().user_id(person),
            source.registry().user_id(person)
        );
    }
    let store = |fs: &Fs| fs.store().clone();
    let acme = OrgId::parse("acme").unwrap();
    assert_eq!(
        store(&target).org_reminders(&acme).await.unwrap(),
        store(&source).org_reminders(&acme).await.unwrap()
    );
    let feed = |fs: Fs| async move {
        fs.changes()
            .list(
                &system(),
                "acme",
                &nexus_core::api::changes::ChangeQuery::default(),
            )
            .await
            .unwrap()
            .changes
    };
    assert_eq!(feed(target.clone()).await, feed(source.clone()).await);
    // The session and its members, and the sealed secret with the same master key.
    let carol = user(&target, PEOPLE[2]);
    let sessions = target.sessions().list(&carol, "acme", None).await.unwrap();
    assert!(
        sessions
            .sessions
            .iter()
            .any(|listed| listed.stable_id == session),
        "{sessions:?}"
    );
    let bob = user(&target, PEOPLE[1]);
    let opened = target.items().get(&bob, "acme", &secret).await.unwrap();
    assert_eq!(opened.data["secret"], "CANARY-archive-91c2");
    let alice = user(&target, PEOPLE[0]);
    let refused = target
        .items()
        .get(&alice, "acme", &secret)
        .await
        .unwrap_err();
    assert_eq!(refused.code(), ErrorCode::NotFound);

    // The secret is in the archive only sealed.
    let mut plain = Vec::new();
    zstd::Decoder::new(Cursor::new(&archive))
        .unwrap()
        .read_to_end(&mut plain)
        .unwrap();
    assert!(
        plain.windows(7).any(|window| window == b"plan v5"),
        "the archive is readable"
    );
    assert!(
        !plain
            .windows(19)
            .any(|window| window == b"CANARY-archive-91c2")
    );

    // Importing again: refused without replace, changing nothing; replaced with it.
    write(&target, &alice, "/orgs/acme/ops/new.md", "after the import").await;
    let exists = target
        .archives()
        .import(&system(), Cursor::new(archive.clone()), false)
        .await
        .unwrap_err();
    assert_eq!(exists.code(), ErrorCode::Conflict, "{exists}");
    assert!(
        paths(&target)
            .await
            .contains(&"/orgs/acme/ops/new.md".to_owned())
    );
    let replaced = target
        .archives()
        .import(&system(), Cursor::new(archive), true)
        .await
        .unwrap();
    assert!(
        replaced.replaced && replaced.principals_registered == 0,
        "{replaced:?}"
    );
    assert!(
        !paths(&target)
            .await
            .contains(&"/orgs/acme/ops/new.md".to_owned())
    );
    assert_eq!(decisions(&target).await, expected);
    assert!(
        target
            .store()
            .check(true)
            .await
            .unwrap()
            .problems
            .is_empty()
    );
    source.close().await;
    target.close().await;
}

/// The entries of an archive, decompressed.
fn entries(archive: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut tar = tar::Archive::new(zstd::Decoder::new(Cursor::new(archive)).unwrap());
    tar.entries()
        .unwrap()
        .map(|entry| {
            let mut entry = entry.unwrap();
            let name = entry.path().unwrap().to_string_lossy().into_owned();
            let mut content = Vec::new();
            entry.read_to_end(&mut content).unwrap();
            (name, content)
        })
        .collect()
}

fn pack(entries: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut builder = tar::Builder::new(zstd::Encoder::new(Vec::new(), 3).unwrap());
    for (name, content) in entries {
        let mut header = tar::Header::new_ustar();
        header.set_size(content.len() as u64);
        header.set_mode(0o644);
        header.set_entry_type(tar::EntryType::Regular);
        builder
            .append_data(&mut header, name, content.as_slice())
            .unwrap();
    }
    builder.into_inner().unwrap().finish().unwrap()
}

/// The archive with `line` appended to entry `name`, and the manifest updated to match.
fn edited(original: &[(String, Vec<u8>)], name: &str, line: &[u8]) -> Vec<u8> {
    let mut altered = original.to_vec();
    let entry = altered.iter_mut().find(|(entry, _)| entry == name).unwrap();
    entry.1.extend_from_slice(line);
    let digest = blake3::hash(&entry.1).to_hex().to_string();
    let length = entry.1.len();
    let manifest = altered
        .iter_mut()
        .find(|(entry, _)| entry == "manifest.json")
        .unwrap();
    let mut parsed: serde_json::Value = serde_json::from_slice(&manifest.1).unwrap();
    parsed["entries"][name] = json!({"blake3": digest, "bytes": length});
    manifest.1 = serde_json::to_vec(&parsed).unwrap();
    pack(&altered)
}

#[tokio::test]
async fn altered_archives_and_other_callers_are_refused_changing_nothing() {
    let dir = tempfile::TempDir::new().unwrap();
    let (_, key) = MasterKey::generate();
    let source = open(&dir.path().join("source"), &key).await;
    populated(&source).await;
    let archive = export(&source).await;
    let original = entries(&archive);
    // Unaltered, repacked: accepted (the negative control of the cases below).
    let target = open(&dir.path().join("target"), &key).await;
    target
        .archives()
        .import(&system(), Cursor::new(pack(&original)), false)
        .await
        .unwrap();
    target.close().await;

    let fresh = open(&dir.path().join("fresh"), &key).await;
    let refuse = |archive: Vec<u8>, what: &'static str| {
        let fresh = fresh.clone();
        async move {
            let error = fresh
                .archives()
                .import(&system(), Cursor::new(archive), false)
                .await
                .unwrap_err();
            assert!(
                error.to_string().contains(what),
                "expected `{what}` in: {error}"
            );
            let root = fresh
                .files()
                .stat(&system(), "/orgs/acme")
                .await
                .unwrap_err();
            assert_eq!(root.code(), ErrorCode::NotFound, "nothing was imported");
        }
    };
    // A changed content, a changed metadata entry, a missing content, a truncated stream.
    let mut altered = original.clone();
    let blob = altered
        .iter_mut()
        .find(|(name, _)| name.starts_with("blobs/"))
        .unwrap();
    blob.1.push(b'!');
    refuse(pack(&altered), "does not match its hash").await;
    let mut altered = original.clone();
    let nodes = altered
        .iter_mut()
        .find(|(name, _)| name == "nodes.jsonl")
        .unwrap();
    nodes.1 = String::from_utf8(nodes.1.clone())
        .unwrap()
        .replace("plan v", "plan w")
        .replace("/main/", "/mainx/")
        .into_bytes();
    refuse(pack(&altered), "does not match its manifest").await;
    let mut altered = original.clone();
    let position = altered
        .iter()
        .position(|(name, _)| name.starts_with("blobs/"))
        .unwrap();
    altered.remove(position);
    refuse(pack(&altered), "lacks the content").await;
    refuse(archive[..archive.len() / 2].to_vec(), "cannot be read").await;
    // Edited with a manifest to match: still checked. A relationship reaching into another
    // organization; a principal its data does not name; a reserved handle.
    let relationship =
        b"{\"relationship\":\"file:/orgs/acme/ops#viewer@group:globex/staff#member\"}\n";
    refuse(
        edited(&original, "relationships.jsonl", relationship),
        "names a subject that is not one",
    )
    .await;
    let stranger =
        b"{\"kind\":\"user\",\"id\":\"u_zz99\",\"handle\":\"eve@evil.com\",\"created_at_us\":1}\n";
    refuse(
        edited(&original, "principals.jsonl", stranger),
        "is not named by the organization's data",
    )
    .await;
    let reserved =
        b"{\"kind\":\"user\",\"id\":\"u_zz98\",\"handle\":\"system\",\"created_at_us\":1}\n";
    refuse(
        edited(&original, "principals.jsonl", reserved),
        "principal `user:u_zz98`",
    )
    .await;

    // Only the system administrator exports or imports.
    let alice = user(&source, PEOPLE[0]);
    let denied = source
        .archives()
        .export(&alice, "acme", Vec::new())
        .await
        .unwrap_err();
    assert_eq!(denied.code(), ErrorCode::PermissionDenied, "{denied}");
    let denied = fresh
        .archives()
        .import(
            &user(&fresh, PEOPLE[0]),
            Cursor::new(archive.clone()),
            false,
        )
        .await
        .unwrap_err();
    assert_eq!(denied.code(), ErrorCode::PermissionDenied, "{denied}");
    // Another master key cannot open the archive's secrets: refused before anything.
    let (_, other) = MasterKey::generate();
    let stranger = open(&dir.path().join("stranger"), &other).await;
    let wrong_key = stranger
        .archives()
        .import(&system(), Cursor::new(archive.clone()), false)
        .await
        .unwrap_err();
    assert_eq!(wrong_key.code(), ErrorCode::Conflict, "{wrong_key}");
    // Without a master key configured, the archive's must be the one that wrapped the
    // data keys stored here: a data directory needing two keys could not open its lockers.
    let mut globex = spec();
    globex.id = OrgId::parse("globex").unwrap();
    globex.members.truncate(1);
    globex.members[0].0.user_id = "zed@globex.com".to_owned();
    stranger
        .orgs()
        .provision(&system(), &[globex])
        .await
        .unwrap();
    let zed = user(&stranger, "zed@globex.com");
    stranger
        .items()
        .create(
            &zed,
            "globex",
            CreateItem {
                env: "locker".to_owned(),
                scope: "personal".to_owned(),
                kind: "cred".to_owned(),
                id: None,
                data: json!({"name": "globex db", "secret": "other"}),
                session: None,
            },
        )
        .await
        .unwrap();
    stranger.close().await;
    let keyless = Fs::open(&dir.path().join("stranger"), StoreOptions::default())
        .await
        .unwrap();
    let two_keys = keyless
        .archives()
        .import(&system(), Cursor::new(archive), false)
        .await
        .unwrap_err();
    assert_eq!(two_keys.code(), ErrorCode::Conflict, "{two_keys}");
    assert!(
        two_keys.to_string().contains("this data directory's"),
        "{two_keys}"
    );
    source.close().await;
    fresh.close().await;
    keyless.close().await;
}
