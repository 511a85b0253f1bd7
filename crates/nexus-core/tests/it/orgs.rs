//! Organizations: `org.json` is the membership record; provisioning; stable user ids.

use bytes::Bytes;
use nexus_core::{
    CallContext, CheckQuery, ErrorCode, Fs, MemberKind, MemberSpec, OrgId, OrgSpec, Principal,
    ReadOptions, Role, StoreOptions, WorkspaceSpec, WriteOptions,
};
use nexus_rebac::{
    CheckResult, ObjectRef, Operation, Relationship, RelationshipFilter, RelationshipUpdate,
    SubjectRef,
};
use nexus_store::{ChangeOperation, Mutation, RelationshipBatch, RelationshipChange, Store};

use crate::system;

fn spec() -> OrgSpec {
    OrgSpec {
        id: OrgId::parse("acme").unwrap(),
        name: "Acme Corp".to_owned(),
        workspaces: ["sales", "engineering"]
            .into_iter()
            .map(|id| WorkspaceSpec {
                id: id.to_owned(),
                name: None,
            })
            .collect(),
        members: vec![
            (
                MemberSpec {
                    user_id: "alice@acme.com".to_owned(),
                    role: Role::Admin,
                    kind: MemberKind::Human,
                    workspaces: Vec::new(),
                },
                Vec::new(),
            ),
            (
                MemberSpec {
                    user_id: "agent_sales_001".to_owned(),
                    role: Role::Assistant,
                    kind: MemberKind::Agent,
                    workspaces: vec!["sales".to_owned()],
                },
                vec![("/orgs/acme/engineering".to_owned(), "r--".to_owned())],
            ),
        ],
        settings: serde_json::Map::new(),
    }
}

async fn provisioned() -> (tempfile::TempDir, Fs) {
    let dir = tempfile::TempDir::new().unwrap();
    let fs = Fs::open(&dir.path().join("data"), StoreOptions::default())
        .await
        .unwrap();
    fs.orgs().provision(&system(), &[spec()]).await.unwrap();
    (dir, fs)
}

fn as_user(fs: &Fs, handle: &str) -> CallContext {
    fs.context(Principal::User(handle.to_owned()))
}

async fn readable(fs: &Fs, context: &CallContext, path: &str) -> Result<(), ErrorCode> {
    fs.files()
        .read(context, path, ReadOptions::default())
        .await
        .map(drop)
        .map_err(|error| error.code())
}

#[tokio::test]
async fn provisioning_creates_the_seed_layout_and_roles_grant_access() {
    let (_dir, fs) = provisioned().await;
    for path in [
        "/orgs/acme/org.json",
        "/orgs/acme/sales/context.json",
        "/orgs/acme/sales/documents",
        "/orgs/acme/sales/conversations",
        "/orgs/acme/engineering/context.json",
        "/orgs/acme/shared/knowledge-base",
        "/orgs/acme/shared/templates",
    ] {
        fs.files().stat(&system(), path).await.unwrap();
    }
    let alice = as_user(&fs, "alice@acme.com");
    let agent = fs.context(Principal::Agent("agent_sales_001".to_owned()));
    // admin: rwx on the org by role alone.
    readable(&fs, &alice, "/orgs/acme/engineering/context.json")
        .await
        .unwrap();
    // assistant: rw- on its workspace, plus the explicit r-- on engineering.
    fs.files()
        .write(
            &agent,
            "/orgs/acme/sales/conversations/s1.json",
            Bytes::from_static(b"{}"),
            WriteOptions::default(),
        )
        .await
        .unwrap();
    readable(&fs, &agent, "/orgs/acme/engineering/context.json")
        .await
        .unwrap();
    let refused = fs
        .files()
        .write(
            &agent,
            "/orgs/acme/engineering/x",
            Bytes::from_static(b"x"),
            WriteOptions::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(refused.code(), ErrorCode::PermissionDenied);
    // Stable ids: alice is u_XXXX in storage, her handle everywhere people look.
    let id = fs.registry().user_id("alice@acme.com").unwrap();
    assert!(id.starts_with("u_") && id.len() == 6);
    let stored = fs
        .relationships()
        .read(
            &system(),
            &RelationshipFilter {
                resource_type: Some("org".to_owned()),
                ..RelationshipFilter::default()
            },
            None,
            100,
        )
        .unwrap();
    let texts: Vec<String> = stored.iter().map(ToString::to_string).collect();
    assert!(
        texts.contains(&format!("org:acme#admin@user:{id}")),
        "{texts:?}"
    );
    assert!(
        !texts.iter().any(|text| text.contains("alice@acme.com")),
        "{texts:?}"
    );
    let acl = fs
        .relationships()
        .getfacl(&system(), "/orgs/acme/engineering")
        .unwrap();
    assert_eq!(acl.entries[0].subject, "agent:agent_sales_001");

    // Idempotent: a second run changes nothing.
    let again = fs.orgs().provision(&system(), &[spec()]).await.unwrap();
    assert!(again.changes.is_empty(), "{:?}", again.changes);
}

#[tokio::test]
async fn members_api_and_org_json_are_one_record() {
    let (_dir, fs) = provisioned().await;
    let alice = as_user(&fs, "alice@acme.com");
    let spec = |user: &str| MemberSpec {
        user_id: user.to_owned(),
        role: Role::Member,
        kind: MemberKind::Human,
        workspaces: vec!["sales".to_owned()],
    };
    fs.orgs()
        .add_member(&alice, "acme", spec("bob@acme.com"))
        .await
        .unwrap();
    let bob = as_user(&fs, "bob@acme.com");
    readable(&fs, &bob, "/orgs/acme/sales/context.json")
        .await
        .unwrap();
    assert_eq!(
        readable(&fs, &bob, "/orgs/acme/engineering/context.json").await,
        Err(ErrorCode::NotFound)
    );
    let again = fs
        .orgs()
        .add_member(&alice, "acme", spec("bob@acme.com"))
        .await
        .unwrap_err();
    assert_eq!(again.code(), ErrorCode::InvalidInput);
    // A plain member may not add anyone.
    let by_bob = fs
        .orgs()
        .add_member(&bob, "acme", spec("eve@acme.com"))
        .await
        .unwrap_err();
    assert_eq!(by_bob.code(), ErrorCode::PermissionDenied);

    // Membership relationships are the record's: direct writes are refused, even to the system.
    let direct = fs
        .relationships()
        .write(
            &system(),
            vec![RelationshipUpdate {
                operation: Operation::Touch,
                relationship: Relationship::parse("org:acme#member@user:mallory@x.org").unwrap(),
            }],
            Vec::new(),
        )
        .await
        .unwrap_err();
    assert_eq!(direct.code(), ErrorCode::InvalidInput);
    // ...and the operator granting to someone of no organization enrols them in the record
    // (see `operator_grants_enrol_newcomers_and_follow_type_changes`).
    fs.relationships()
        .setfacl(&system(), "/orgs/acme/sales", "user:mallory@x.org:r--")
        .await
        .unwrap();
    assert!(
        fs.orgs()
            .members(&system(), "acme")
            .await
            .unwrap()
            .iter()
            .any(|member| member.user_id == "mallory@x.org")
    );

    // A workspace dropped from the record loses its role grant.
    let record = fs
        .files()
        .read(&system(), "/orgs/acme/org.json", ReadOptions::default())
        .await
        .unwrap();
    let mut json: serde_json::Value = serde_json::from_slice(&record.content).unwrap();
    json["members"][2]["workspaces"] = serde_json::json!(["engineering"]);
    fs.files()
        .write(
            &alice,
            "/orgs/acme/org.json",
            Bytes::from(json.to_string()),
            WriteOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(
        readable(&fs, &bob, "/orgs/acme/sales/context.json").await,
        Err(ErrorCode::NotFound)
    );
    readable(&fs, &bob, "/orgs/acme/engineering/context.json")
        .await
        .unwrap();
    crate::put(&fs, "/orgs/acme/shared/knowledge-base/faq.md", "faq").await;
    fs.relationships()
        .setfacl(&alice, "/orgs/acme/shared", "user:bob@acme.com:r--")
        .await
        .unwrap();
    readable(&fs, &bob, "/orgs/acme/shared/knowledge-base/faq.md")
        .await
        .unwrap();
    // Suspension: the member stays listed but belongs no more.
    json["members"][2]["status"] = serde_json::json!("suspended");
    fs.files()
        .write(
            &alice,
            "/orgs/acme/org.json",
            Bytes::from(json.to_string()),
            WriteOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(
        readable(&fs, &bob, "/orgs/acme/engineering/context.json").await,
        Err(ErrorCode::NotFound)
    );
    assert_eq!(fs.orgs().members(&alice, "acme").await.unwrap().len(), 4);

    // Removal deletes every relationship bob had in acme.
    fs.orgs()
        .remove_member(&alice, "acme", "bob@acme.com")
        .await
        .unwrap();
    let bob_id = fs.registry().user_id("bob@acme.com").unwrap();
    let left = fs
        .relationships()
        .read(
            &system(),
            &RelationshipFilter {
                subject_type: Some("user".to_owned()),
                subject_id: Some(bob_id.clone()),
                ..RelationshipFilter::default()
            },
            None,
            100,
        )
        .unwrap();
    assert!(left.is_empty(), "{left:?}");
    // He keeps his stable id; re-adding him starts from nothing.
    fs.orgs()
        .add_member(
            &alice,
            "acme",
            MemberSpec {
                workspaces: Vec::new(),
                ..spec("bob@acme.com")
            },
        )
        .await
        .unwrap();
    assert_eq!(fs.registry().user_id("bob@acme.com"), Some(bob_id));
    assert_eq!(
        readable(&fs, &bob, "/orgs/acme/shared/knowledge-base/faq.md").await,
        Err(ErrorCode::NotFound)
    );
}

/// Data written before stable ids named users by handle; opening it registers them and
/// renames their relationships, so nothing they were granted is lost.
#[tokio::test]
async fn users_named_by_handle_are_adopted_on_open() {
    let dir = tempfile::TempDir::new().unwrap();
    let data = dir.path().join("data");
    {
        let fs = Fs::open(&data, StoreOptions::default()).await.unwrap();
        fs.files()
            .mkdir(&system(), "/orgs/acme/sales", true)
            .await
            .unwrap();
        fs.close().await;
        let store = Store::open(&data, StoreOptions::default()).await.unwrap();
        let changes = [
            "org:acme#member@user:alice@acme.com",
            "file:/orgs/acme/sales#editor@user:alice@acme.com",
        ]
        .iter()
        .map(|text| RelationshipChange {
            operation: ChangeOperation::Touch,
            relationship: Relationship::parse(text).unwrap(),
            org: Some(OrgId::parse("acme").unwrap()),
        })
        .collect();
        store
            .apply(Mutation::WriteRelationships {
                batch: RelationshipBatch {
                    revision: 1,
                    changes,
                },
            })
            .await
            .unwrap();
        store.close().await;
    }
    let fs = Fs::open(&data, StoreOptions::default()).await.unwrap();
    let id = fs
        .registry()
        .user_id("alice@acme.com")
        .expect("alice was registered");
    let check = |subject: &str| {
        fs.relationships()
            .check(
                &system(),
                CheckQuery {
                    resource: &ObjectRef::new("file", "/orgs/acme/sales/x"),
                    permission: "write",
                    subject: &SubjectRef::parse(subject).unwrap(),
                    context: None,
                    at_least: None,
                },
            )
            .unwrap()
    };
    assert_eq!(check(&format!("user:{id}")), CheckResult::Has);
    assert_eq!(check("user:alice@acme.com"), CheckResult::Has);
    let all: Vec<String> = fs
        .relationships()
        .read(
            &system(),
            &RelationshipFilter {
                resource_type: Some("file".to_owned()),
                ..RelationshipFilter::default()
            },
            None,
            10,
        )
        .unwrap()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(all, [format!("file:/orgs/acme/sales#editor@user:{id}")]);
    fs.close().await;
    // Reopening adopts nothing more and keeps the id.
    let fs = Fs::open(&data, StoreOptions::default()).await.unwrap();
    assert_eq!(fs.registry().user_id("alice@acme.com"), Some(id));
}

/// Data written before agents had stable ids named them by name (registered with the name as
/// id, keys acting for `agent:<name>`); opening it gives each a stable id `a_XXXX`, renames
/// their relationships and keys, and keeps the name as the handle. An agent named only in a
/// relationship is registered the same way.
#[tokio::test]
async fn agents_named_by_name_get_stable_ids_on_open() {
    let dir = tempfile::TempDir::new().unwrap();
    let data = dir.path().join("data");
    let secret = "nx_0123456789abcdef0123456789abcdef0123456789abcdef";
    {
        let fs = Fs::open(&data, StoreOptions::default()).await.unwrap();
        fs.files()
            .mkdir(&system(), "/orgs/acme/sales", true)
            .await
            .unwrap();
        fs.close().await;
        let store = Store::open(&data, StoreOptions::default()).await.unwrap();
        store
            .apply(Mutation::RegisterPrincipal {
                principal: nexus_store::PrincipalRecord {
                    kind: "agent".to_owned(),
                    id: "sales-bot".to_owned(),
                    handle: "sales-bot".to_owned(),
                    created_at: nexus_store::Timestamp(1),
                },
            })
            .await
            .unwrap();
        store
            .apply(Mutation::CreateApiKey {
                key: nexus_store::ApiKeyRecord {
                    id: "key_legacy".to_owned(),
                    hash: nexus_core::accounts::hash_secret(secret),
                    principal: "agent:sales-bot".to_owned(),
                    description: "before stable ids".to_owned(),
                    created_at: nexus_store::Timestamp(1),
                    revoked_at: None,
                    on_behalf_of: None,
                    expires_at: None,
                },
            })
            .await
            .unwrap();
        let changes = [
            "org:acme#member@agent:sales-bot",
            "file:/orgs/acme/sales#editor@agent:sales-bot",
            "org:acme#member@agent:helper",
            "file:/orgs/acme/sales#viewer@agent:helper",
        ]
        .iter()
        .map(|text| RelationshipChange {
            operation: ChangeOperation::Touch,
            relationship: Relationship::parse(text).unwrap(),
            org: Some(OrgId::parse("acme").unwrap()),
        })
        .collect();
        store
            .apply(Mutation::WriteRelationships {
                batch: RelationshipBatch {
                    revision: 1,
                    changes,
                },
            })
            .await
            .unwrap();
        store.close().await;
    }
    let fs = Fs::open(&data, StoreOptions::default()).await.unwrap();
    let bot = fs.registry().agent_id("sales-bot").unwrap();
    let helper = fs
        .registry()
        .agent_id("helper")
        .expect("helper was registered");
    for id in [&bot, &helper] {
        assert!(nexus_core::accounts::is_stable_agent_id(id), "{id}");
    }
    assert_ne!(bot, helper);
    // The key acts for the agent's stable id, and the agent keeps what it was granted.
    let principal = fs
        .registry()
        .authenticate_key(secret)
        .map(|holder| holder.principal)
        .unwrap();
    assert_eq!(principal, Principal::Agent(bot.clone()));
    let context = fs.context(principal);
    fs.files()
        .write(
            &context,
            "/orgs/acme/sales/notes.md",
            Bytes::from_static(b"written by the bot"),
            WriteOptions::default(),
        )
        .await
        .unwrap();
    let helper_context = fs.context(Principal::Agent("helper".to_owned()));
    readable(&fs, &helper_context, "/orgs/acme/sales/notes.md")
        .await
        .unwrap();
    let mut all: Vec<String> = fs
        .relationships()
        .read(&system(), &RelationshipFilter::default(), None, 100)
        .unwrap()
        .iter()
        .map(ToString::to_string)
        .filter(|text| text.contains("@agent:"))
        .collect();
    all.sort();
    let mut expected = vec![
        format!("file:/orgs/acme/sales#editor@agent:{bot}"),
        format!("file:/orgs/acme/sales#viewer@agent:{helper}"),
        format!("org:acme#member@agent:{bot}"),
        format!("org:acme#member@agent:{helper}"),
    ];
    expected.sort();
    assert_eq!(all, expected);
    // People still read the agent by name.
    let acl = fs
        .relationships()
        .getfacl(&system(), "/orgs/acme/sales")
        .unwrap();
    assert!(
        acl.roles
            .iter()
            .any(|role| role.relation == "editor" && role.subject == "agent:sales-bot"),
        "{acl:?}"
    );
    let whoami = fs.accounts().whoami(&context).await.unwrap();
    assert_eq!(
        (whoami.id.as_str(), whoami.handle.as_deref()),
        (bot.as_str(), Some("sales-bot"))
    );
    fs.close().await;
    // Reopening changes nothing more.
    let fs = Fs::open(&data, StoreOptions::default()).await.unwrap();
    assert_eq!(fs.registry().agent_id("sales-bot"), Some(bot.clone()));
    assert_eq!(fs.registry().agent_id("helper"), Some(helper));
    assert_eq!(
        fs.registry()
            .authenticate_key(secret)
            .map(|holder| holder.principal),
        Some(Principal::Agent(bot))
    );
}

/// Ways around the record, each refused: deleting membership by filter, a group of another
/// organization as a member, a directory where the record lives, grants to users nobody is.
#[tokio::test]
async fn the_record_cannot_be_bypassed() {
    let (_dir, fs) = provisioned().await;
    let alice = as_user(&fs, "alice@acme.com");
    let deleted = fs
        .relationships()
        .delete(
            &alice,
            RelationshipFilter {
                resource_type: Some("org".to_owned()),
                resource_id: Some("acme".to_owned()),
                relation: Some("admin".to_owned()),
                ..RelationshipFilter::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(deleted.code(), ErrorCode::InvalidInput, "{deleted}");
    readable(&fs, &alice, "/orgs/acme/sales/context.json")
        .await
        .unwrap();

    for bad in ["/orgs/acme/org.json", "/orgs/acme/org.json/x"] {
        let refused = fs.files().mkdir(&system(), bad, true).await.unwrap_err();
        assert_eq!(refused.code(), ErrorCode::InvalidInput, "{bad}: {refused}");
    }
    let beneath = fs
        .files()
        .write(
            &system(),
            "/orgs/acme/org.json/x.md",
            Bytes::from_static(b"x"),
            WriteOptions {
                create_parents: true,
                ..WriteOptions::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(beneath.code(), ErrorCode::InvalidInput);

    // A grant to an id nobody was given is refused (it would wait for whoever gets it).
    let planted = fs
        .relationships()
        .setfacl(&alice, "/orgs/acme/sales", "user:u_zzzz:rwx")
        .await
        .unwrap_err();
    assert_eq!(planted.code(), ErrorCode::InvalidInput, "{planted}");

    // In an organization without a record, a group of another organization cannot join.
    fs.files()
        .mkdir(&system(), "/orgs/other", false)
        .await
        .unwrap();
    let foreign_group = fs
        .relationships()
        .write(
            &system(),
            vec![RelationshipUpdate {
                operation: Operation::Touch,
                relationship: Relationship::parse("org:other#member@group:acme/eng#member")
                    .unwrap(),
            }],
            Vec::new(),
        )
        .await
        .unwrap_err();
    assert_eq!(
        foreign_group.code(),
        ErrorCode::InvalidInput,
        "{foreign_group}"
    );

    // An organization that cannot be provisioned completely is not started.
    let mut broken = spec();
    broken.id = OrgId::parse("newco").unwrap();
    broken.name = " ".to_owned();
    assert!(fs.orgs().provision(&system(), &[broken]).await.is_err());
    assert_eq!(
        fs.files()
            .stat(&system(), "/orgs/newco")
            .await
            .unwrap_err()
            .code(),
        ErrorCode::NotFound
    );
}

/// Suspended members keep their entry but no access; removing a workspace folder does not
/// block later changes of the record.
#[tokio::test]
async fn suspension_and_removed_workspaces() {
    let (_dir, fs) = provisioned().await;
    let alice = as_user(&fs, "alice@acme.com");
    let record = fs
        .files()
        .read(&system(), "/orgs/acme/org.json", ReadOptions::default())
        .await
        .unwrap();
    let mut json: serde_json::Value = serde_json::from_slice(&record.content).unwrap();
    json["members"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({
            "user_id": "sam@acme.com",
            "role": "member",
            "status": "suspended",
            "workspaces": ["sales"],
        }));
    fs.files()
        .write(
            &alice,
            "/orgs/acme/org.json",
            Bytes::from(json.to_string()),
            WriteOptions::default(),
        )
        .await
        .unwrap();
    let sam = as_user(&fs, "sam@acme.com");
    assert_eq!(
        readable(&fs, &sam, "/orgs/acme/sales/context.json").await,
        Err(ErrorCode::NotFound)
    );
    json["members"][2]["status"] = serde_json::json!("active");
    fs.files()
        .write(
            &alice,
            "/orgs/acme/org.json",
            Bytes::from(json.to_string()),
            WriteOptions::default(),
        )
        .await
        .unwrap();
    readable(&fs, &sam, "/orgs/acme/sales/context.json")
        .await
        .unwrap();

    fs.files()
        .rm(&system(), "/orgs/acme/sales", true)
        .await
        .unwrap();
    fs.orgs()
        .add_member(
            &alice,
            "acme",
            MemberSpec {
                user_id: "tia@acme.com".to_owned(),
                role: Role::Member,
                kind: MemberKind::Human,
                workspaces: vec!["engineering".to_owned()],
            },
        )
        .await
        .unwrap();
    // A new entry naming the missing workspace is still refused.
    let missing = fs
        .orgs()
        .add_member(
            &alice,
            "acme",
            MemberSpec {
                user_id: "uma@acme.com".to_owned(),
                role: Role::Member,
                kind: MemberKind::Human,
                workspaces: vec!["sales".to_owned()],
            },
        )
        .await
        .unwrap_err();
    assert_eq!(missing.code(), ErrorCode::InvalidInput);
}

/// `layout: canonical` puts workspaces under `/orgs/<org>/workspaces/`, roles included.
#[tokio::test]
async fn the_canonical_layout_places_workspaces_under_workspaces() {
    let dir = tempfile::TempDir::new().unwrap();
    let fs = Fs::open(&dir.path().join("data"), StoreOptions::default())
        .await
        .unwrap()
        .with_layout(nexus_core::Layout::Canonical);
    fs.orgs().provision(&system(), &[spec()]).await.unwrap();
    fs.files()
        .stat(&system(), "/orgs/acme/workspaces/sales/context.json")
        .await
        .unwrap();
    assert_eq!(
        fs.files()
            .stat(&system(), "/orgs/acme/sales")
            .await
            .unwrap_err()
            .code(),
        ErrorCode::NotFound
    );
    let agent = fs.context(Principal::Agent("agent_sales_001".to_owned()));
    readable(&fs, &agent, "/orgs/acme/workspaces/sales/context.json")
        .await
        .unwrap();
    assert_eq!(
        readable(
            &fs,
            &agent,
            "/orgs/acme/workspaces/engineering/context.json"
        )
        .await,
        Err(ErrorCode::NotFound)
    );
}

/// The provisioned folders come from the configuration; the default is the seed's tree;
/// folder names that are not relative paths of valid names are refused before anything is
/// written.
#[tokio::test]
async fn provisioned_folders_come_from_the_configuration() {
    let dir = tempfile::TempDir::new().unwrap();
    let fs = Fs::open(&dir.path().join("data"), StoreOptions::default())
        .await
        .unwrap();
    let custom = nexus_core::Provisioning {
        workspace_folders: vec!["notes/daily".to_owned()],
        shared_folders: vec!["shared/playbooks".to_owned()],
    };
    let fs = fs.with_provisioning(custom).unwrap();
    fs.orgs().provision(&system(), &[spec()]).await.unwrap();
    let listing = fs
        .files()
        .ls(
            &system(),
            "/orgs/acme",
            nexus_core::ListOptions {
                recursive: true,
                ..nexus_core::ListOptions::default()
            },
        )
        .await
        .unwrap();
    let folders: Vec<String> = listing
        .entries
        .into_iter()
        .filter(|entry| entry.kind == nexus_core::EntryKind::Directory)
        .map(|entry| format!("{}/", entry.path))
        .collect();
    assert_eq!(
        folders,
        [
            "/orgs/acme/engineering/",
            "/orgs/acme/engineering/notes/",
            "/orgs/acme/engineering/notes/daily/",
            "/orgs/acme/sales/",
            "/orgs/acme/sales/notes/",
            "/orgs/acme/sales/notes/daily/",
            "/orgs/acme/shared/",
            "/orgs/acme/shared/playbooks/",
        ]
    );

    let defaults = nexus_core::Provisioning::default();
    assert_eq!(defaults.workspace_folders, ["documents", "conversations"]);
    assert_eq!(
        defaults.shared_folders,
        ["shared", "shared/knowledge-base", "shared/templates"]
    );

    for (workspace, shared) in [
        ("../escape", "shared"),
        ("/absolute", "shared"),
        ("", "shared"),
        ("a//b", "shared"),
        ("org.json", "shared"),
        ("docs", "library"),
        ("docs", "shared/../x"),
    ] {
        let bad = nexus_core::Provisioning {
            workspace_folders: vec![workspace.to_owned()],
            shared_folders: vec![shared.to_owned()],
        };
        let error = fs.clone().with_provisioning(bad).unwrap_err();
        assert_eq!(
            error.code(),
            ErrorCode::InvalidInput,
            "{workspace} {shared}"
        );
        assert!(error.to_string().contains("provisioning."), "{error}");
    }
}

/// The operator's grant to someone of no organization, inside an organization with
/// a record, adds them to the record in the same transaction; to someone of another
/// organization it is refused; a record entry whose type changes keeps what it was given.
#[tokio::test]
async fn operator_grants_enrol_newcomers_and_follow_type_changes() {
    let (_dir, fs) = provisioned().await;
    let mut other = spec();
    other.id = OrgId::parse("other").unwrap();
    other.members.truncate(0);
    other.members.push((
        MemberSpec {
            user_id: "olga@other.org".to_owned(),
            role: Role::Admin,
            kind: MemberKind::Human,
            workspaces: Vec::new(),
        },
        Vec::new(),
    ));
    fs.orgs().provision(&system(), &[other]).await.unwrap();
    fs.relationships()
        .setfacl(&system(), "/orgs/acme/sales", "user:newbie@acme.com:rw-")
        .await
        .unwrap();
    let members = fs.orgs().members(&system(), "acme").await.unwrap();
    let newbie = members
        .iter()
        .find(|member| member.user_id == "newbie@acme.com")
        .expect("enrolled in org.json");
    assert_eq!(
        (newbie.role, newbie.kind),
        (Role::Member, MemberKind::Human)
    );
    let write = fs
        .files()
        .write(
            &as_user(&fs, "newbie@acme.com"),
            "/orgs/acme/sales/x.md",
            Bytes::from_static(b"x"),
            WriteOptions::default(),
        )
        .await;
    assert!(write.is_ok(), "{write:?}");
    // Someone of another organization is not enrolled: refused as cross-tenant, nothing
    // changed.
    let refused = fs
        .relationships()
        .setfacl(&system(), "/orgs/acme/sales", "user:olga@other.org:r--")
        .await
        .unwrap_err();
    assert_eq!(refused.code(), ErrorCode::InvalidInput, "{refused}");
    assert!(
        refused.to_string().contains("user:olga@other.org"),
        "{refused}"
    );
    assert_eq!(
        fs.orgs().members(&system(), "acme").await.unwrap().len(),
        members.len()
    );
    // The seed's script names an agent as `user:agent_x` in its ACLs before listing it as an
    // agent: the grants follow the entry to the agent.
    fs.relationships()
        .setfacl(&system(), "/orgs/acme/engineering", "user:agent_x:rw-")
        .await
        .unwrap();
    let (mut record, etag) = {
        let read = fs
            .files()
            .read(&system(), "/orgs/acme/org.json", ReadOptions::default())
            .await
            .unwrap();
        let record: serde_json::Value = serde_json::from_slice(&read.content).unwrap();
        (record, read.entry.etag.unwrap())
    };
    for member in record["members"].as_array_mut().unwrap() {
        if member["user_id"] == "agent_x" {
            member["type"] = serde_json::json!("agent");
        }
    }
    fs.files()
        .write(
            &system(),
            "/orgs/acme/org.json",
            Bytes::from(serde_json::to_vec(&record).unwrap()),
            WriteOptions {
                if_match: Some(etag),
                ..WriteOptions::default()
            },
        )
        .await
        .unwrap();
    let acl = fs
        .relationships()
        .getfacl(&system(), "/orgs/acme/engineering")
        .unwrap();
    let subjects: Vec<&str> = acl
        .entries
        .iter()
        .map(|entry| entry.subject.as_str())
        .collect();
    assert!(subjects.contains(&"agent:agent_x"), "{subjects:?}");
    assert!(
        !subjects
            .iter()
            .any(|subject| subject.contains("user:agent_x")),
        "{subjects:?}"
    );
}

/// Membership relationships are the operator's or the record's (an admin of
/// an organization without a record cannot probe who exists by adding them); nobody but the
/// operator writes a record without an admin; a type change does not carry the old entry's
/// roles; keys a record already had survive edits, new unknown ones do not.
#[tokio::test]
async fn membership_writes_records_and_legacy_keys_follow_the_rules() {
    let dir = tempfile::TempDir::new().unwrap();
    let fs = Fs::open(&dir.path().join("data"), StoreOptions::default())
        .await
        .unwrap();
    fs.files()
        .mkdir(&system(), "/orgs/acme", false)
        .await
        .unwrap();
    fs.files()
        .mkdir(&system(), "/orgs/other", false)
        .await
        .unwrap();
    for relationship in [
        "org:acme#admin@user:alice@acme.com",
        "org:other#member@user:olga@other.org",
    ] {
        fs.relationships()
            .write(
                &system(),
                vec![RelationshipUpdate {
                    operation: Operation::Touch,
                    relationship: Relationship::parse(relationship).unwrap(),
                }],
                Vec::new(),
            )
            .await
            .unwrap();
    }
    let alice = as_user(&fs, "alice@acme.com");
    let olga_id = fs.registry().user_id("olga@other.org").unwrap();
    let mut answers = Vec::new();
    for subject in [
        format!("user:{olga_id}"),
        "user:u_zzzz".to_owned(),
        "user:olga@other.org".to_owned(),
    ] {
        let error = fs
            .relationships()
            .write(
                &alice,
                vec![RelationshipUpdate {
                    operation: Operation::Touch,
                    relationship: Relationship::parse(&format!("org:acme#member@{subject}"))
                        .unwrap(),
                }],
                Vec::new(),
            )
            .await
            .unwrap_err();
        answers.push((error.code(), error.to_string()));
    }
    assert!(
        answers.iter().all(|answer| *answer == answers[0]),
        "{answers:?}"
    );
    // A record without an admin, from someone other than the operator, is refused.
    let empty =
        br#"{"org_id":"acme","name":"Acme","created_at":"2026-01-01T00:00:00Z","members":[]}"#;
    let refused = fs
        .files()
        .write(
            &alice,
            "/orgs/acme/org.json",
            Bytes::from_static(empty),
            WriteOptions::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(refused.code(), ErrorCode::Conflict, "{refused}");
    assert_eq!(
        readable(&fs, &alice, "/orgs/acme/anything").await,
        Err(ErrorCode::NotFound)
    );
    // A record written before keys were checked keeps its extra keys through edits.
    let legacy = br#"{"org_id":"acme","name":"Acme","created_at":"2026-01-01T00:00:00Z","plan":"pro","members":[{"user_id":"alice@acme.com","role":"admin","email":"a@x"}]}"#;
    fs.store()
        .write(nexus_store::WriteRequest {
            org: OrgId::parse("acme").unwrap(),
            path: nexus_core::VfsPath::parse("/orgs/acme/org.json").unwrap(),
            content: Bytes::from_static(legacy),
            precondition: nexus_store::Precondition::None,
            create_parents: false,
            author: "system".to_owned(),
            at: nexus_store::Timestamp::now(),
        })
        .await
        .unwrap();
    fs.files()
        .mkdir(&system(), "/orgs/acme/sales", false)
        .await
        .unwrap();
    fs.orgs()
        .add_member(
            &alice,
            "acme",
            MemberSpec {
                user_id: "bot_x".to_owned(),
                role: Role::Member,
                kind: MemberKind::Human,
                workspaces: vec!["sales".to_owned()],
            },
        )
        .await
        .unwrap();
    let read = fs
        .files()
        .read(&alice, "/orgs/acme/org.json", ReadOptions::default())
        .await
        .unwrap();
    let mut record: serde_json::Value = serde_json::from_slice(&read.content).unwrap();
    assert_eq!(record["plan"], "pro");
    assert_eq!(record["members"][0]["email"], "a@x");
    record["fresh"] = serde_json::json!(1);
    let fresh = fs
        .files()
        .write(
            &alice,
            "/orgs/acme/org.json",
            Bytes::from(record.to_string()),
            WriteOptions::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(fresh.code(), ErrorCode::InvalidInput, "{fresh}");
    // `bot_x` turns out to be an agent, now an assistant of no workspace: its old `member`
    // role on sales does not follow it.
    record.as_object_mut().unwrap().remove("fresh");
    for member in record["members"].as_array_mut().unwrap() {
        if member["user_id"] == "bot_x" {
            member["type"] = serde_json::json!("agent");
            member["role"] = serde_json::json!("assistant");
            member["workspaces"] = serde_json::json!([]);
        }
    }
    fs.files()
        .write(
            &alice,
            "/orgs/acme/org.json",
            Bytes::from(record.to_string()),
            WriteOptions::default(),
        )
        .await
        .unwrap();
    let roles = fs
        .relationships()
        .getfacl(&system(), "/orgs/acme/sales")
        .unwrap()
        .roles;
    assert!(roles.is_empty(), "{roles:?}");
}
