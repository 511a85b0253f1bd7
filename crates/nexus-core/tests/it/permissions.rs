//! Permissions on files: grants, inheritance, membership, listings, tenancy, and the
//! regression cases that concern files (R08, R21, R26, R29, R32).

use bytes::Bytes;
use nexus_core::{
    CallContext, CheckQuery, ErrorCode, Fs, GlobOptions, GrepOptions, ListOptions, OrgId,
    Principal, ReadOptions, WriteOptions,
};
use nexus_rebac::{
    CheckResult, ObjectRef, Operation, Relationship, RelationshipUpdate, SubjectRef,
};

use crate::{fresh, put, system};

fn user(id: &str) -> CallContext {
    CallContext::in_org(
        Principal::User(id.to_owned()),
        OrgId::parse("acme").unwrap(),
    )
}

async fn can_read(fs: &Fs, context: &CallContext, path: &str) -> Result<(), ErrorCode> {
    fs.files()
        .read(context, path, ReadOptions::default())
        .await
        .map(drop)
        .map_err(|error| error.code())
}

async fn can_write(fs: &Fs, context: &CallContext, path: &str) -> Result<(), ErrorCode> {
    fs.files()
        .write(
            context,
            path,
            Bytes::from_static(b"x"),
            WriteOptions::default(),
        )
        .await
        .map(drop)
        .map_err(|error| error.code())
}

async fn names(fs: &Fs, context: &CallContext, dir: &str) -> Vec<String> {
    fs.files()
        .ls(context, dir, ListOptions::default())
        .await
        .unwrap()
        .entries
        .into_iter()
        .map(|entry| entry.name)
        .collect()
}

async fn world() -> (tempfile::TempDir, Fs) {
    let (dir, fs) = fresh().await;
    for path in [
        "/orgs/acme/sales/documents/plan.md",
        "/orgs/acme/sales/context.json",
        "/orgs/acme/salesforce/leads.csv",
        "/orgs/acme/engineering/secret.md",
        "/orgs/acme/readme.md",
    ] {
        put(&fs, path, "content").await;
    }
    (dir, fs)
}

#[tokio::test]
async fn a_folder_grant_reaches_beneath_it_and_nowhere_else() {
    let (_dir, fs) = world().await;
    let bob = user("bob@acme.com");
    fs.relationships()
        .setfacl(&system(), "/orgs/acme/sales", "user:bob@acme.com:rw-")
        .await
        .unwrap();
    assert_eq!(
        can_read(&fs, &bob, "/orgs/acme/sales/documents/plan.md").await,
        Ok(())
    );
    assert_eq!(
        can_write(&fs, &bob, "/orgs/acme/sales/documents/new.md").await,
        Ok(())
    );
    assert_eq!(
        can_read(&fs, &bob, "/orgs/acme/salesforce/leads.csv").await,
        Err(ErrorCode::NotFound)
    );
    assert_eq!(
        can_read(&fs, &bob, "/orgs/acme/engineering/secret.md").await,
        Err(ErrorCode::NotFound)
    );
    // bob sees the org root (he is a member) but may not read files at its top level.
    assert_eq!(
        can_read(&fs, &bob, "/orgs/acme/readme.md").await,
        Err(ErrorCode::PermissionDenied)
    );
    assert_eq!(
        can_write(&fs, &bob, "/orgs/acme/engineering/x.md").await,
        Err(ErrorCode::NotFound)
    );

    // Removing the entry takes effect on the very next operation.
    fs.relationships()
        .setfacl(&system(), "/orgs/acme/sales", "user:bob@acme.com:---")
        .await
        .unwrap();
    assert_eq!(
        can_read(&fs, &bob, "/orgs/acme/sales/documents/plan.md").await,
        Err(ErrorCode::NotFound)
    );
    assert_eq!(
        can_write(&fs, &bob, "/orgs/acme/sales/documents/new.md").await,
        Err(ErrorCode::NotFound)
    );
}

#[tokio::test]
async fn acl_bits_are_independent() {
    let (_dir, fs) = world().await;
    let reader = user("reader");
    let writer = user("writer");
    fs.relationships()
        .setfacl(&system(), "/orgs/acme/sales", "user:reader:r--")
        .await
        .unwrap();
    fs.relationships()
        .setfacl(&system(), "/orgs/acme/sales", "user:writer:-w-")
        .await
        .unwrap();
    assert_eq!(
        can_read(&fs, &reader, "/orgs/acme/sales/context.json").await,
        Ok(())
    );
    assert_eq!(
        can_write(&fs, &reader, "/orgs/acme/sales/context.json").await,
        Err(ErrorCode::PermissionDenied)
    );
    assert_eq!(
        can_write(&fs, &writer, "/orgs/acme/sales/context.json").await,
        Ok(())
    );
    assert_eq!(
        can_read(&fs, &writer, "/orgs/acme/sales/context.json").await,
        Err(ErrorCode::PermissionDenied)
    );
    // Changing ACLs needs `x`.
    let refused = fs
        .relationships()
        .setfacl(&reader, "/orgs/acme/sales", "user:reader:rwx")
        .await
        .unwrap_err();
    assert_eq!(refused.code(), ErrorCode::PermissionDenied);
    fs.relationships()
        .setfacl(&system(), "/orgs/acme/sales", "user:reader:r-x")
        .await
        .unwrap();
    fs.relationships()
        .setfacl(&reader, "/orgs/acme/sales/documents", "user:writer:r--")
        .await
        .unwrap();
    let listing = fs
        .relationships()
        .getfacl(&system(), "/orgs/acme/sales")
        .unwrap();
    let entries: Vec<(String, String)> = listing
        .entries
        .into_iter()
        .map(|entry| (entry.subject, entry.mode))
        .collect();
    assert_eq!(
        entries,
        [
            ("user:reader".to_owned(), "r-x".to_owned()),
            ("user:writer".to_owned(), "-w-".to_owned())
        ]
    );
}

#[tokio::test]
async fn roles_on_folders_mean_rwx_and_rw() {
    let (_dir, fs) = world().await;
    let grant = |subject: &str, relation: &str, path: &str| RelationshipUpdate {
        operation: Operation::Touch,
        relationship: Relationship::new(
            ObjectRef::new("file", path),
            relation,
            SubjectRef::parse(subject).unwrap(),
        ),
    };
    fs.relationships()
        .write(
            &system(),
            vec![
                grant("user:alice", "admin", "/orgs/acme"),
                grant("user:bob", "member", "/orgs/acme/sales"),
                grant("agent:bot", "assistant", "/orgs/acme/sales"),
            ],
            Vec::new(),
        )
        .await
        .unwrap();
    let check = |who: &str, permission: &'static str, path: &str| {
        let subject = SubjectRef::parse(who).unwrap();
        let resource = ObjectRef::new("file", path);
        fs.relationships()
            .check(
                &system(),
                CheckQuery {
                    resource: &resource,
                    permission,
                    subject: &subject,
                    context: None,
                    at_least: None,
                },
            )
            .unwrap()
    };
    assert_eq!(
        check("user:alice", "manage", "/orgs/acme/engineering/secret.md"),
        CheckResult::Has
    );
    assert_eq!(
        check("user:bob", "write", "/orgs/acme/sales/documents/"),
        CheckResult::Has
    );
    assert_eq!(
        check("user:bob", "write", "/orgs/acme/engineering/"),
        CheckResult::No
    );
    assert_eq!(
        check("user:bob", "manage", "/orgs/acme/sales"),
        CheckResult::No
    );
    assert_eq!(
        check("agent:bot", "write", "/orgs/acme/sales/context.json"),
        CheckResult::Has
    );
    let bot = CallContext::in_org(
        Principal::Agent("bot".to_owned()),
        OrgId::parse("acme").unwrap(),
    );
    assert_eq!(
        can_write(&fs, &bot, "/orgs/acme/sales/conversations.json").await,
        Ok(())
    );
}

#[tokio::test]
async fn removing_membership_revokes_everything_at_once() {
    let (_dir, fs) = world().await;
    let bob = user("bob");
    fs.relationships()
        .setfacl(&system(), "/orgs/acme/sales", "user:bob:rwx")
        .await
        .unwrap();
    assert_eq!(
        can_read(&fs, &bob, "/orgs/acme/sales/context.json").await,
        Ok(())
    );
    let membership = Relationship::new(
        ObjectRef::new("org", "acme"),
        "member",
        SubjectRef::object("user", "bob"),
    );
    fs.relationships()
        .write(
            &system(),
            vec![RelationshipUpdate {
                operation: Operation::Delete,
                relationship: membership,
            }],
            Vec::new(),
        )
        .await
        .unwrap();
    // The ACL entry is still stored, but membership is gone: nothing in acme is reachable.
    assert_eq!(
        fs.relationships()
            .getfacl(&system(), "/orgs/acme/sales")
            .unwrap()
            .entries
            .len(),
        1
    );
    assert_eq!(
        can_read(&fs, &bob, "/orgs/acme/sales/context.json").await,
        Err(ErrorCode::NotFound)
    );
    assert_eq!(names(&fs, &bob, "/orgs").await, Vec::<String>::new());
}

#[tokio::test]
async fn listings_show_what_the_caller_may_see() {
    let (_dir, fs) = world().await;
    fs.files()
        .mkdir(&system(), "/orgs/other", false)
        .await
        .unwrap();
    let bob = user("bob");
    fs.relationships()
        .setfacl(&system(), "/orgs/acme/sales/documents", "user:bob:r--")
        .await
        .unwrap();
    assert_eq!(
        names(&fs, &bob, "/orgs").await,
        ["acme"],
        "only organizations bob belongs to"
    );
    assert_eq!(
        names(&fs, &bob, "/orgs/acme").await,
        ["sales"],
        "a folder holding a grant beneath it"
    );
    assert_eq!(names(&fs, &bob, "/orgs/acme/sales").await, ["documents"]);
    assert_eq!(
        names(&fs, &bob, "/orgs/acme/sales/documents").await,
        ["plan.md"]
    );
    let found: Vec<String> = fs
        .files()
        .glob(&bob, "/orgs/**", GlobOptions::default())
        .await
        .unwrap()
        .entries
        .into_iter()
        .map(|entry| entry.path)
        .collect();
    assert_eq!(
        found,
        [
            "/orgs/acme",
            "/orgs/acme/sales",
            "/orgs/acme/sales/documents",
            "/orgs/acme/sales/documents/plan.md"
        ]
    );
    let matches = fs
        .files()
        .grep(&bob, "content", "/orgs/acme", GrepOptions::default())
        .await
        .unwrap();
    assert_eq!(matches.matches.len(), 1);
    // A directory without any grant beneath is refused (bob sees its parent) and its content
    // does not exist for him (he cannot see the directory).
    let hidden = fs
        .files()
        .ls(&bob, "/orgs/acme/engineering", ListOptions::default())
        .await
        .unwrap_err();
    assert_eq!(hidden.code(), ErrorCode::PermissionDenied);
    let stat = fs
        .files()
        .stat(&bob, "/orgs/acme/engineering/secret.md")
        .await
        .unwrap_err();
    assert_eq!(stat.code(), ErrorCode::NotFound);
}

/// R08: in an inheritance-heavy tree a listing is exactly the children a check allows.
#[tokio::test]
async fn r08_listing_equals_check() {
    let (_dir, fs) = fresh().await;
    for a in 0..4 {
        for b in 0..4 {
            put(&fs, &format!("/orgs/acme/d{a}/e{b}/f.txt"), "x").await;
        }
    }
    fs.relationships()
        .setfacl(&system(), "/orgs/acme/d1", "user:u:r--")
        .await
        .unwrap();
    fs.relationships()
        .setfacl(&system(), "/orgs/acme/d2/e3", "user:u:r--")
        .await
        .unwrap();
    fs.relationships()
        .setfacl(&system(), "/orgs/acme/d3/e0/f.txt", "user:u:r--")
        .await
        .unwrap();
    let u = user("u");
    let everything = crate::tree(&fs, "/orgs/acme").await;
    let listed: Vec<String> = fs
        .files()
        .ls(
            &u,
            "/orgs/acme",
            ListOptions {
                recursive: true,
                ..ListOptions::default()
            },
        )
        .await
        .unwrap()
        .entries
        .into_iter()
        .map(|entry| entry.path)
        .collect();
    let subject = SubjectRef::object("user", "u");
    for path in everything {
        let resource = ObjectRef::new("file", &path);
        let readable = fs
            .relationships()
            .check(
                &system(),
                CheckQuery {
                    resource: &resource,
                    permission: "read",
                    subject: &subject,
                    context: None,
                    at_least: None,
                },
            )
            .unwrap()
            == CheckResult::Has;
        let is_file = path.rsplit('/').next().is_some_and(|name| name == "f.txt");
        if is_file {
            assert_eq!(listed.contains(&path), readable, "{path}");
        } else if readable {
            assert!(listed.contains(&path), "{path}");
        }
    }
    assert!(listed.contains(&"/orgs/acme/d3/e0/f.txt".to_owned()));
    assert!(!listed.contains(&"/orgs/acme/d0/e0/f.txt".to_owned()));
    assert!(!listed.contains(&"/orgs/acme/d0".to_owned()));
}

/// R26 and R32: a grant on `/ws/public` or `/ws/a` covers nothing above, beside or merely
/// sharing a prefix with it.
#[tokio::test]
async fn r26_r32_grants_do_not_leak_to_siblings_or_parents() {
    let (_dir, fs) = fresh().await;
    for path in [
        "/orgs/acme/ws/public/p.md",
        "/orgs/acme/ws/secret/s.md",
        "/orgs/acme/ws/top.md",
        "/orgs/acme/ws/a/in.md",
        "/orgs/acme/ws/ab/x.md",
        "/orgs/acme/ws/a-b/x.md",
        "/orgs/acme/ws/a_b/x.md",
        "/orgs/acme/ws/a%/x.md",
    ] {
        put(&fs, path, "x").await;
    }
    fs.relationships()
        .setfacl(&system(), "/orgs/acme/ws/public", "user:u:rw-")
        .await
        .unwrap();
    fs.relationships()
        .setfacl(&system(), "/orgs/acme/ws/a", "user:u:rw-")
        .await
        .unwrap();
    let u = user("u");
    assert_eq!(can_read(&fs, &u, "/orgs/acme/ws/public/p.md").await, Ok(()));
    assert_eq!(can_read(&fs, &u, "/orgs/acme/ws/a/in.md").await, Ok(()));
    for denied in [
        "/orgs/acme/ws/secret/s.md",
        "/orgs/acme/ws/ab/x.md",
        "/orgs/acme/ws/a-b/x.md",
        "/orgs/acme/ws/a_b/x.md",
        "/orgs/acme/ws/a%/x.md",
    ] {
        assert_eq!(
            can_read(&fs, &u, denied).await,
            Err(ErrorCode::NotFound),
            "{denied}"
        );
    }
    assert_eq!(
        can_read(&fs, &u, "/orgs/acme/ws/top.md").await,
        Err(ErrorCode::PermissionDenied)
    );
    assert_eq!(names(&fs, &u, "/orgs/acme/ws").await, ["a", "public"]);
}

/// R29: every spelling of a path that canonicalizes to one key authorizes that key.
#[tokio::test]
async fn r29_one_canonical_key_for_authorization_and_storage() {
    let (_dir, fs) = fresh().await;
    put(&fs, "/orgs/acme/caf\u{e9}/menu.md", "x").await;
    fs.relationships()
        .setfacl(&system(), "/orgs/acme/cafe\u{301}/", "user:u:r--")
        .await
        .unwrap();
    let u = user("u");
    assert_eq!(
        can_read(&fs, &u, "/orgs/acme/caf\u{e9}/menu.md").await,
        Ok(())
    );
    assert_eq!(
        can_read(&fs, &u, "/orgs/acme/cafe\u{301}/menu.md").await,
        Ok(())
    );
    for bad in [
        "orgs/acme/caf\u{e9}/menu.md",
        "/orgs/acme//caf\u{e9}/menu.md",
        "/orgs/acme/x/../caf\u{e9}/menu.md",
    ] {
        assert_eq!(
            can_read(&fs, &u, bad).await,
            Err(ErrorCode::InvalidPath),
            "{bad}"
        );
    }
    assert_eq!(
        fs.relationships()
            .getfacl(&system(), "/orgs/acme/caf\u{e9}")
            .unwrap()
            .entries
            .len(),
        1
    );
}

#[tokio::test]
async fn grants_follow_moves_and_die_with_removals() {
    let (_dir, fs) = fresh().await;
    put(&fs, "/orgs/acme/a/doc.md", "x").await;
    put(&fs, "/orgs/acme/tmp/f.md", "x").await;
    fs.relationships()
        .setfacl(&system(), "/orgs/acme/a", "user:u:r--")
        .await
        .unwrap();
    fs.relationships()
        .setfacl(&system(), "/orgs/acme/tmp/f.md", "user:u:r--")
        .await
        .unwrap();
    fs.files()
        .mv(&system(), "/orgs/acme/a", "/orgs/acme/b", false)
        .await
        .unwrap();
    let u = user("u");
    assert_eq!(can_read(&fs, &u, "/orgs/acme/b/doc.md").await, Ok(()));
    put(&fs, "/orgs/acme/a/doc.md", "new content at the old path").await;
    assert_eq!(
        can_read(&fs, &u, "/orgs/acme/a/doc.md").await,
        Err(ErrorCode::NotFound)
    );
    // A file created where a granted one was removed does not inherit its grant.
    fs.files()
        .rm(&system(), "/orgs/acme/tmp", true)
        .await
        .unwrap();
    put(&fs, "/orgs/acme/tmp/f.md", "someone else's file").await;
    assert_eq!(
        can_read(&fs, &u, "/orgs/acme/tmp/f.md").await,
        Err(ErrorCode::NotFound)
    );
    assert!(
        fs.relationships()
            .getfacl(&system(), "/orgs/acme/tmp/f.md")
            .unwrap()
            .entries
            .is_empty()
    );
}

#[tokio::test]
async fn cross_tenant_grants_are_refused() {
    let (_dir, fs) = world().await;
    fs.files()
        .mkdir(&system(), "/orgs/other", false)
        .await
        .unwrap();
    fs.relationships()
        .setfacl(&system(), "/orgs/acme", "user:alice:rwx")
        .await
        .unwrap();
    fs.relationships()
        .setfacl(&system(), "/orgs/other", "user:eve:rwx")
        .await
        .unwrap();
    let alice = user("alice");
    let refused = fs
        .relationships()
        .setfacl(&alice, "/orgs/acme/sales", "user:eve:r--")
        .await
        .unwrap_err();
    assert_eq!(refused.code(), ErrorCode::InvalidInput);
    assert_eq!(
        refused.to_string(),
        "cross-organization relationship refused: `user:eve` is not a member of organization `acme`"
    );
    let group = fs
        .relationships()
        .setfacl(&alice, "/orgs/acme/sales", "group:other/team:r--")
        .await
        .unwrap_err();
    assert_eq!(group.code(), ErrorCode::InvalidInput);
    // A member may grant to another member, and to the organization's own groups.
    let membership = Relationship::parse("org:acme#member@user:bob").unwrap();
    fs.relationships()
        .write(
            &system(),
            vec![RelationshipUpdate {
                operation: Operation::Touch,
                relationship: membership,
            }],
            Vec::new(),
        )
        .await
        .unwrap();
    fs.relationships()
        .setfacl(&alice, "/orgs/acme/sales", "user:bob:r--")
        .await
        .unwrap();
    fs.relationships()
        .setfacl(&alice, "/orgs/acme/sales", "group:sales:r--")
        .await
        .unwrap();
    assert_eq!(
        fs.relationships()
            .getfacl(&system(), "/orgs/acme/sales")
            .unwrap()
            .entries
            .len(),
        2
    );
    // And an org-bound caller cannot touch another organization at all.
    let elsewhere = fs
        .relationships()
        .setfacl(&alice, "/orgs/other", "user:alice:rwx")
        .await
        .unwrap_err();
    assert_eq!(elsewhere.code(), ErrorCode::NotFound);
}

#[tokio::test]
async fn groups_grant_to_their_members() {
    let (_dir, fs) = world().await;
    let add = |relationship: &str| RelationshipUpdate {
        operation: Operation::Touch,
        relationship: Relationship::parse(relationship).unwrap(),
    };
    fs.relationships()
        .write(
            &system(),
            vec![
                add("group:acme/eng#member@user:carol"),
                add("group:acme/staff#member@group:acme/eng#member"),
            ],
            Vec::new(),
        )
        .await
        .unwrap();
    fs.relationships()
        .setfacl(&system(), "/orgs/acme/engineering", "group:staff:r--")
        .await
        .unwrap();
    assert_eq!(
        can_read(&fs, &user("carol"), "/orgs/acme/engineering/secret.md").await,
        Ok(())
    );
    assert_eq!(
        can_read(&fs, &user("dave"), "/orgs/acme/engineering/secret.md").await,
        Err(ErrorCode::NotFound)
    );
}

#[tokio::test]
async fn permissions_survive_a_restart() {
    let dir = tempfile::TempDir::new().unwrap();
    let data = dir.path().join("data");
    let revision;
    {
        let fs = Fs::open(&data, nexus_core::StoreOptions::default())
            .await
            .unwrap();
        fs.files()
            .mkdir(&system(), "/orgs/acme", false)
            .await
            .unwrap();
        put(&fs, "/orgs/acme/x.md", "x").await;
        fs.relationships()
            .setfacl(&system(), "/orgs/acme", "user:u:r--")
            .await
            .unwrap();
        revision = fs.authorizer().revision();
        fs.close().await;
    }
    let fs = Fs::open(&data, nexus_core::StoreOptions::default())
        .await
        .unwrap();
    assert_eq!(fs.authorizer().revision(), revision);
    assert_eq!(can_read(&fs, &user("u"), "/orgs/acme/x.md").await, Ok(()));
    let changes = fs.relationships().changes(&system(), 0, 100).await.unwrap();
    assert_eq!(
        changes.len(),
        2,
        "the ACL bit and the membership it implied"
    );
    assert!(changes.iter().all(|change| change.revision == revision));
}

#[tokio::test]
async fn schemas_can_be_replaced_but_must_keep_the_contract() {
    let (_dir, fs) = world().await;
    let (default, custom) = fs.relationships().schema();
    assert!(!custom);
    let bad = fs
        .relationships()
        .write_schema(&system(), "definition user {}")
        .await
        .unwrap_err();
    assert_eq!(bad.code(), ErrorCode::InvalidInput);
    let syntax = fs
        .relationships()
        .write_schema(&system(), "definition user {")
        .await
        .unwrap_err();
    assert!(syntax.to_string().contains("line 1, column 18"), "{syntax}");
    let extended = default.replace(
        "definition agent {}",
        "definition agent {}\ndefinition team {}",
    );
    fs.relationships()
        .write_schema(&system(), &extended)
        .await
        .unwrap();
    assert!(fs.relationships().schema().1);
    let refused = fs
        .relationships()
        .write_schema(&user("u"), &extended)
        .await
        .unwrap_err();
    assert_eq!(refused.code(), ErrorCode::PermissionDenied);
}

/// R21: batches around and far beyond one statement's bind-parameter budget (SQLite's
/// 32,766 variables) write completely, and what is read back after a restart is exactly
/// what was asked.
#[tokio::test]
async fn r21_large_grant_batches_write_completely() {
    let dir = tempfile::TempDir::new().unwrap();
    let data = dir.path().join("data");
    let sizes = [4_999, 5_000, 5_001, 40_000];
    let expected: Vec<Vec<String>> = sizes
        .iter()
        .map(|size| {
            let mut batch: Vec<String> = (0..*size)
                .map(|index| {
                    format!(
                        "file:/orgs/acme/r21-{size}/d{index:05}#viewer@agent:a{}",
                        index % 50
                    )
                })
                .collect();
            batch.sort();
            batch
        })
        .collect();
    {
        let fs = Fs::open(&data, nexus_core::StoreOptions::default())
            .await
            .unwrap();
        fs.files()
            .mkdir(&system(), "/orgs/acme", false)
            .await
            .unwrap();
        for batch in &expected {
            let updates = batch
                .iter()
                .map(|text| RelationshipUpdate {
                    operation: Operation::Create,
                    relationship: Relationship::parse(text).unwrap(),
                })
                .collect();
            let outcome = fs
                .relationships()
                .write(&system(), updates, Vec::new())
                .await
                .unwrap();
            let changes = fs
                .relationships()
                .changes(&system(), outcome.revision - 1, 1)
                .await
                .unwrap();
            // The grants, plus the memberships the first batch implied.
            assert!(changes.len() >= batch.len());
            assert!(
                changes
                    .iter()
                    .all(|change| change.revision == outcome.revision)
            );
        }
        fs.close().await;
    }
    let fs = Fs::open(&data, nexus_core::StoreOptions::default())
        .await
        .unwrap();
    for (size, batch) in sizes.iter().zip(&expected) {
        let filter = nexus_rebac::RelationshipFilter {
            resource_type: Some("file".to_owned()),
            resource_subtree: Some(format!("/orgs/acme/r21-{size}")),
            ..Default::default()
        };
        let mut read: Vec<String> = fs
            .relationships()
            .read(&system(), &filter, None, 100_000)
            .unwrap()
            .iter()
            // Agents are stored by stable id; people read them by name.
            .map(|relationship| {
                format!(
                    "{}#{}@{}",
                    relationship.resource,
                    relationship.relation,
                    fs.display_subject(&relationship.subject.to_string())
                )
            })
            .collect();
        read.sort();
        assert_eq!(&read, batch, "batch of {size}");
    }
    assert_eq!(
        fs.relationships()
            .check(
                &system(),
                CheckQuery {
                    resource: &ObjectRef::new("file", "/orgs/acme/r21-40000/d39999"),
                    permission: "read",
                    subject: &SubjectRef::parse("agent:a49").unwrap(),
                    context: None,
                    at_least: None,
                },
            )
            .unwrap(),
        CheckResult::Has
    );
}

/// A denial costs about what an allowed answer costs. A heavy caller (100 groups,
/// grants on 300 folders) asking for hidden paths has its visibility computed once per
/// revision, not once per request; the answers stay those of the rule (not found beneath
/// what the caller cannot see, permission denied where it sees the parent).
#[tokio::test]
async fn denials_do_not_recompute_the_callers_visibility() {
    let (_dir, fs) = world().await;
    let bob = user("bob@acme.com");
    fs.relationships()
        .setfacl(&system(), "/orgs/acme/sales", "user:bob@acme.com:r--")
        .await
        .unwrap();
    let mut updates = Vec::new();
    for group in 0..100 {
        updates.push(RelationshipUpdate {
            operation: Operation::Touch,
            relationship: Relationship::parse(&format!(
                "group:acme/g{group}#member@user:bob@acme.com"
            ))
            .unwrap(),
        });
        for folder in 0..3 {
            updates.push(RelationshipUpdate {
                operation: Operation::Touch,
                relationship: Relationship::parse(&format!(
                    "file:/orgs/acme/projects/p{group}-{folder}#viewer@group:acme/g{group}#member"
                ))
                .unwrap(),
            });
        }
    }
    fs.relationships()
        .write(&system(), updates, Vec::new())
        .await
        .unwrap();
    put(&fs, "/orgs/acme/projects/p7-1/doc.md", "shared").await;
    put(&fs, "/orgs/acme/projects/hidden/doc.md", "hidden").await;
    let before = fs.authorizer().visibility_computations();
    for _ in 0..50 {
        assert_eq!(
            can_read(&fs, &bob, "/orgs/acme/engineering/secret.md").await,
            Err(ErrorCode::NotFound)
        );
        // `projects` is visible through the grants beneath it.
        assert_eq!(
            can_read(&fs, &bob, "/orgs/acme/projects/other.md").await,
            Err(ErrorCode::PermissionDenied)
        );
        assert_eq!(
            can_read(&fs, &bob, "/orgs/acme/projects/hidden/doc.md").await,
            Err(ErrorCode::NotFound)
        );
        assert_eq!(
            can_write(&fs, &bob, "/orgs/acme/sales/new.md").await,
            Err(ErrorCode::PermissionDenied)
        );
        assert_eq!(
            can_read(&fs, &bob, "/orgs/acme/projects/p7-1/doc.md").await,
            Ok(())
        );
    }
    assert!(
        fs.authorizer().visibility_computations() - before <= 1,
        "{} computations for 200 denials",
        fs.authorizer().visibility_computations() - before
    );
    // Writes in another organization do not make a caller's denials expensive again.
    let before = fs.authorizer().visibility_computations();
    for n in 0..20 {
        fs.relationships()
            .setfacl(&system(), "/orgs/other", &format!("group:g{n}:r--"))
            .await
            .unwrap();
        assert_eq!(
            can_read(&fs, &bob, "/orgs/acme/projects/hidden/doc.md").await,
            Err(ErrorCode::NotFound)
        );
    }
    assert_eq!(fs.authorizer().visibility_computations(), before);
    // A new revision of the caller's organization is seen at once.
    fs.relationships()
        .setfacl(
            &system(),
            "/orgs/acme/projects/hidden",
            "user:bob@acme.com:r--",
        )
        .await
        .unwrap();
    assert_eq!(
        can_read(&fs, &bob, "/orgs/acme/projects/hidden/doc.md").await,
        Ok(())
    );
    fs.relationships()
        .setfacl(
            &system(),
            "/orgs/acme/projects/hidden",
            "user:bob@acme.com:---",
        )
        .await
        .unwrap();
    assert_eq!(
        can_read(&fs, &bob, "/orgs/acme/projects/hidden/doc.md").await,
        Err(ErrorCode::NotFound)
    );
}

/// A group nested deeper than the depth limit makes only the entries it would
/// reach invisible in a recursive listing (with a warning), not the whole listing fail.
#[tokio::test]
async fn a_too_deep_group_hides_only_what_it_governs() {
    let (_dir, fs) = world().await;
    let bob = user("bob@acme.com");
    fs.relationships()
        .setfacl(&system(), "/orgs/acme/sales", "user:bob@acme.com:r--")
        .await
        .unwrap();
    let mut updates = vec![RelationshipUpdate {
        operation: Operation::Touch,
        relationship: Relationship::parse("group:acme/g0#member@user:bob@acme.com").unwrap(),
    }];
    for level in 0..60 {
        updates.push(RelationshipUpdate {
            operation: Operation::Touch,
            relationship: Relationship::parse(&format!(
                "group:acme/g{}#member@group:acme/g{level}#member",
                level + 1
            ))
            .unwrap(),
        });
    }
    updates.push(RelationshipUpdate {
        operation: Operation::Touch,
        relationship: Relationship::parse(
            "file:/orgs/acme/engineering#viewer@group:acme/g60#member",
        )
        .unwrap(),
    });
    fs.relationships()
        .write(&system(), updates, Vec::new())
        .await
        .unwrap();
    let listing = fs
        .files()
        .ls(
            &bob,
            "/orgs/acme",
            ListOptions {
                recursive: true,
                ..ListOptions::default()
            },
        )
        .await
        .unwrap();
    let paths: Vec<&str> = listing
        .entries
        .iter()
        .map(|entry| entry.path.as_str())
        .collect();
    assert!(
        paths.contains(&"/orgs/acme/sales/context.json"),
        "{paths:?}"
    );
    assert!(
        !paths
            .iter()
            .any(|path| path.starts_with("/orgs/acme/engineering")),
        "{paths:?}"
    );
    // The path the deep group governs is refused on its own, with the evaluation error.
    let error = fs
        .files()
        .read(
            &bob,
            "/orgs/acme/engineering/secret.md",
            ReadOptions::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(error.code(), ErrorCode::EvaluationFailed, "{error}");
}
