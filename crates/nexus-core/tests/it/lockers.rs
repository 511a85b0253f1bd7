//! Locker secrets: sealed at rest, opened only for readers, bound to their item, and kept
//! readable across a master-key rotation.

use bytes::Bytes;
use nexus_core::api::CreateItem;
use nexus_core::locker::MasterKey;
use nexus_core::{
    CallContext, ErrorCode, Fs, MemberKind, MemberSpec, OrgId, OrgSpec, Principal, Role,
    StoreOptions, WorkspaceSpec,
};
use nexus_store::{Precondition, Store, Timestamp, WriteRequest};
use serde_json::{Value, json};

use crate::system;

fn org(id: &str, admin: &str, member: &str) -> OrgSpec {
    let person = |handle: &str, role: Role| {
        (
            MemberSpec {
                user_id: handle.to_owned(),
                role,
                kind: MemberKind::Human,
                workspaces: Vec::new(),
            },
            Vec::new(),
        )
    };
    OrgSpec {
        id: OrgId::parse(id).unwrap(),
        name: id.to_owned(),
        workspaces: vec![WorkspaceSpec {
            id: "main".to_owned(),
            name: None,
        }],
        members: vec![person(admin, Role::Admin), person(member, Role::Member)],
        settings: serde_json::Map::new(),
    }
}

async fn open(data: &std::path::Path, key: &str) -> Fs {
    let fs = Fs::open(data, StoreOptions::default()).await.unwrap();
    fs.enable_lockers(MasterKey::from_base64(key).unwrap())
        .await
        .unwrap();
    fs
}

fn user(fs: &Fs, handle: &str) -> CallContext {
    fs.context(Principal::User(handle.to_owned()))
}

async fn create_secret(fs: &Fs, who: &CallContext, org: &str, scope: &str, secret: &str) -> String {
    fs.items()
        .create(
            who,
            org,
            CreateItem {
                env: "locker".to_owned(),
                scope: scope.to_owned(),
                kind: "cred".to_owned(),
                id: None,
                data: json!({"name": format!("{org} credentials"), "secret": secret, "username": "svc"}),
                session: None,
            },
        )
        .await
        .unwrap()
        .key
}

/// Every file under `dir`, read whole.
fn all_bytes(dir: &std::path::Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push((path.clone(), std::fs::read(&path).unwrap()));
            }
        }
    }
    out
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

#[tokio::test]
async fn secrets_are_sealed_at_rest_and_opened_only_for_readers() {
    let dir = tempfile::TempDir::new().unwrap();
    let data = dir.path().join("data");
    let (_, key) = MasterKey::generate();
    let fs = open(&data, &key).await;
    fs.orgs()
        .provision(&system(), &[org("acme", "alice@acme.com", "bob@acme.com")])
        .await
        .unwrap();
    let bob = user(&fs, "bob@acme.com");
    let alice = user(&fs, "alice@acme.com");
    let canary = "CANARY-7f3a9-correct-horse";
    let item = create_secret(&fs, &bob, "acme", "personal", canary).await;
    // The owner reads it; the organization's admin does not learn it exists.
    let read = fs.items().get(&bob, "acme", &item).await.unwrap();
    assert_eq!(read.data["secret"], canary);
    let refused = fs.items().get(&alice, "acme", &item).await.unwrap_err();
    assert_eq!(refused.code(), ErrorCode::NotFound);
    // The system administrator reads it.
    let by_system = fs.items().get(&system(), "acme", &item).await.unwrap();
    assert_eq!(by_system.data["secret"], canary);
    // Listings, search and the file itself carry no clear secret.
    let listed = fs
        .items()
        .list(&bob, "acme", nexus_core::ItemQuery::default())
        .await
        .unwrap();
    let shown = serde_json::to_string(&listed).unwrap();
    assert!(
        shown.contains("acme credentials") && !shown.contains("secret"),
        "{shown}"
    );
    let found = fs
        .items()
        .list(
            &bob,
            "acme",
            nexus_core::ItemQuery {
                q: Some("CANARY".to_owned()),
                ..nexus_core::ItemQuery::default()
            },
        )
        .await
        .unwrap();
    assert!(found.items.is_empty(), "{found:?}");
    let file = fs
        .files()
        .read(&system(), &read.path, nexus_core::ReadOptions::default())
        .await
        .unwrap();
    let stored: Value = serde_json::from_slice(&file.content).unwrap();
    assert!(stored["secret"].is_object(), "{stored}");
    assert!(!contains(&file.content, canary.as_bytes()));
    // An update seals the new value with a fresh nonce.
    let updated = fs
        .items()
        .update(
            &bob,
            "acme",
            &item,
            json!({"name": "acme credentials", "secret": format!("{canary}-2")}),
            None,
        )
        .await
        .unwrap();
    assert_eq!(updated.data["secret"], format!("{canary}-2"));
    fs.close().await;
    // Nothing in the data directory (database, write-ahead log, blobs) holds it in clear.
    for (path, bytes) in all_bytes(&data) {
        assert!(
            !contains(&bytes, canary.as_bytes()),
            "{} holds the secret in clear",
            path.display()
        );
    }
    // Without the key, the secret stays shut and says why.
    let fs = Fs::open(&data, StoreOptions::default()).await.unwrap();
    let bob = user(&fs, "bob@acme.com");
    let shut = fs.items().get(&bob, "acme", &item).await.unwrap_err();
    assert_eq!(shut.code(), ErrorCode::LockerUnavailable);
    fs.close().await;
    // With another key, opening is refused naming both keys.
    let (stranger, stranger_text) = MasterKey::generate();
    let fs = Fs::open(&data, StoreOptions::default()).await.unwrap();
    let wrong = fs
        .enable_lockers(MasterKey::from_base64(&stranger_text).unwrap())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        wrong.contains(stranger.id()) && wrong.contains("not the one"),
        "{wrong}"
    );
    fs.close().await;
}

/// A sealed value copied into another item's file (by someone with raw access to the
/// store) does not open there.
#[tokio::test]
async fn a_secret_moved_to_another_item_is_refused() {
    let dir = tempfile::TempDir::new().unwrap();
    let data = dir.path().join("data");
    let (_, key) = MasterKey::generate();
    let fs = open(&data, &key).await;
    fs.orgs()
        .provision(&system(), &[org("acme", "alice@acme.com", "bob@acme.com")])
        .await
        .unwrap();
    let bob = user(&fs, "bob@acme.com");
    let first = create_secret(&fs, &bob, "acme", "personal", "first-secret").await;
    let second = create_secret(&fs, &bob, "acme", "personal", "second-secret").await;
    let first_item = fs.items().get(&bob, "acme", &first).await.unwrap();
    let second_item = fs.items().get(&bob, "acme", &second).await.unwrap();
    let first_file = fs
        .files()
        .read(
            &system(),
            &first_item.path,
            nexus_core::ReadOptions::default(),
        )
        .await
        .unwrap()
        .content;
    fs.close().await;
    let store = Store::open(&data, StoreOptions::default()).await.unwrap();
    store
        .write(WriteRequest {
            org: OrgId::parse("acme").unwrap(),
            path: nexus_core::VfsPath::parse(&second_item.path).unwrap(),
            content: Bytes::from(first_file.to_vec()),
            precondition: Precondition::IfMatch(second_item.etag.clone()),
            create_parents: false,
            author: "system".to_owned(),
            at: Timestamp::now(),
        })
        .await
        .unwrap();
    store.close().await;
    let fs = open(&data, &key).await;
    let bob = user(&fs, "bob@acme.com");
    let refused = fs.items().get(&bob, "acme", &second).await.unwrap_err();
    assert_eq!(refused.code(), ErrorCode::DataCorrupt, "{refused}");
    assert_eq!(
        fs.items().get(&bob, "acme", &first).await.unwrap().data["secret"],
        "first-secret"
    );
    fs.close().await;
}

#[tokio::test]
async fn rotation_keeps_every_secret_readable_and_retires_the_old_key() {
    let dir = tempfile::TempDir::new().unwrap();
    let data = dir.path().join("data");
    let (_, old) = MasterKey::generate();
    let fs = open(&data, &old).await;
    fs.orgs()
        .provision(
            &system(),
            &[
                org("acme", "alice@acme.com", "bob@acme.com"),
                org("globex", "gina@globex.com", "hank@globex.com"),
            ],
        )
        .await
        .unwrap();
    let mut secrets = Vec::new();
    for (org_id, admin, member) in [
        ("acme", "alice@acme.com", "bob@acme.com"),
        ("globex", "gina@globex.com", "hank@globex.com"),
    ] {
        let personal = create_secret(&fs, &user(&fs, member), org_id, "personal", "p").await;
        let universal = create_secret(&fs, &user(&fs, admin), org_id, "UNIV", "u").await;
        secrets.push((org_id, member, personal, "p"));
        secrets.push((org_id, member, universal, "u"));
    }
    let (new_key, new) = MasterKey::generate();
    let rotation = fs
        .rotate_locker_key(MasterKey::from_base64(&new).unwrap())
        .await
        .unwrap();
    assert_eq!(rotation.organizations, 2);
    assert_eq!(rotation.to, new_key.id());
    // Readable at once, and after reopening with the new key.
    for (org_id, member, key, secret) in &secrets {
        let item = fs
            .items()
            .get(&user(&fs, member), org_id, key)
            .await
            .unwrap();
        assert_eq!(item.data["secret"], *secret);
    }
    fs.close().await;
    let fs = open(&data, &new).await;
    for (org_id, member, key, secret) in &secrets {
        let item = fs
            .items()
            .get(&user(&fs, member), org_id, key)
            .await
            .unwrap();
        assert_eq!(item.data["secret"], *secret, "{key}");
    }
    fs.close().await;
    // The old key opens nothing any more.
    let fs = Fs::open(&data, StoreOptions::default()).await.unwrap();
    assert!(
        fs.enable_lockers(MasterKey::from_base64(&old).unwrap())
            .await
            .is_err()
    );
    fs.close().await;
}
