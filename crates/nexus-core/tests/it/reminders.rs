//! The reminder scheduler on a data directory: a reminder that cannot fire does not hold up
//! the others, and rewriting a fired reminder's `due` as the same moment does not fire it
//! again.

use bytes::Bytes;
use nexus_core::api::CreateItem;
use nexus_core::api::notifications::NotificationQuery;
use nexus_core::{
    CallContext, Fs, MemberKind, MemberSpec, OrgId, OrgSpec, Principal, Role, StoreOptions,
    WorkspaceSpec,
};
use nexus_store::{Mutation, Precondition, Timestamp, WriteRequest};
use serde_json::json;

use crate::system;

async fn provisioned() -> (tempfile::TempDir, Fs) {
    let dir = tempfile::TempDir::new().unwrap();
    let fs = Fs::open(&dir.path().join("data"), StoreOptions::default())
        .await
        .unwrap();
    let spec = OrgSpec {
        id: OrgId::parse("acme").unwrap(),
        name: "Acme".to_owned(),
        workspaces: vec![WorkspaceSpec {
            id: "main".to_owned(),
            name: None,
        }],
        members: vec![(
            MemberSpec {
                user_id: "bob@acme.com".to_owned(),
                role: Role::Member,
                kind: MemberKind::Human,
                workspaces: Vec::new(),
            },
            Vec::new(),
        )],
        settings: serde_json::Map::new(),
    };
    fs.orgs().provision(&system(), &[spec]).await.unwrap();
    (dir, fs)
}

async fn reminder(fs: &Fs, bob: &CallContext, title: &str, due: &str) -> String {
    fs.items()
        .create(
            bob,
            "acme",
            CreateItem {
                env: "chrono".to_owned(),
                scope: "personal".to_owned(),
                kind: "reminder".to_owned(),
                id: None,
                data: json!({"title": title, "due": due}),
                session: None,
            },
        )
        .await
        .unwrap()
        .key
}

async fn titles(fs: &Fs, bob: &CallContext) -> Vec<String> {
    fs.notifications()
        .list(bob, &NotificationQuery::default())
        .await
        .unwrap()
        .notifications
        .into_iter()
        .map(|notification| notification.title)
        .collect()
}

#[tokio::test]
async fn a_reminder_that_cannot_fire_holds_up_no_other() {
    let (_dir, fs) = provisioned().await;
    let bob = fs.context(Principal::User("bob@acme.com".to_owned()));
    let id = fs.registry().user_id("bob@acme.com").unwrap();
    // A reminder file that does not hold JSON (written beneath the items service), due
    // before a good one.
    let broken = nexus_core::VfsPath::parse(&format!(
        "/orgs/acme/.nexus/chrono/{id}/20261201/reminder/broken.json"
    ))
    .unwrap();
    let acme = OrgId::parse("acme").unwrap();
    fs.store()
        .write(WriteRequest {
            org: acme.clone(),
            path: broken.clone(),
            content: Bytes::from_static(b"not json"),
            precondition: Precondition::None,
            create_parents: true,
            author: "system".to_owned(),
            at: Timestamp::now(),
        })
        .await
        .unwrap();
    fs.store()
        .apply(Mutation::ScheduleReminder {
            org: acme,
            path: broken,
            due: Some(Timestamp(1)),
        })
        .await
        .unwrap();
    reminder(&fs, &bob, "Good", "2026-01-01T09:00:00+01:00").await;
    let now = chrono::Utc::now();
    assert_eq!(fs.reminders().fire_due(now).await.unwrap(), 1);
    assert_eq!(titles(&fs, &bob).await, ["Good"]);
    // The broken one stays due (and keeps being skipped); the good one does not fire again.
    assert_eq!(fs.reminders().fire_due(now).await.unwrap(), 0);
    assert_eq!(titles(&fs, &bob).await, ["Good"]);
}

#[tokio::test]
async fn the_same_moment_written_another_way_does_not_fire_again() {
    let (_dir, fs) = provisioned().await;
    let bob = fs.context(Principal::User("bob@acme.com".to_owned()));
    let key = reminder(&fs, &bob, "Once", "2026-01-01T09:00:00+01:00").await;
    let now = chrono::Utc::now();
    assert_eq!(fs.reminders().fire_due(now).await.unwrap(), 1);
    // 09:00 at +01:00 is 08:00Z: an edit of the note, with `due` in UTC.
    fs.items()
        .update(
            &bob,
            "acme",
            &key,
            json!({"title": "Once", "due": "2026-01-01T08:00:00Z", "note": "done"}),
            None,
        )
        .await
        .unwrap();
    assert_eq!(fs.reminders().fire_due(now).await.unwrap(), 0);
    // Another moment, in the past: due again at once.
    fs.items()
        .update(
            &bob,
            "acme",
            &key,
            json!({"title": "Once", "due": "2026-01-02T08:00:00Z"}),
            None,
        )
        .await
        .unwrap();
    assert_eq!(fs.reminders().fire_due(now).await.unwrap(), 1);
    assert_eq!(titles(&fs, &bob).await, ["Once", "Once"]);
}

/// A data directory from before the reminder schedule (its reminder items have no row, and
/// the migration left the task): opening it schedules them once. A one-off that fell due
/// meanwhile fires once; reopening does not schedule it again.
#[tokio::test]
async fn reminders_written_before_the_schedule_existed_are_scheduled_once() {
    let (dir, fs) = provisioned().await;
    let bob = fs.context(Principal::User("bob@acme.com".to_owned()));
    reminder(&fs, &bob, "Missed", "2026-01-01T09:00:00+01:00").await;
    let weekly = fs
        .items()
        .create(
            &bob,
            "acme",
            CreateItem {
                env: "chrono".to_owned(),
                scope: "personal".to_owned(),
                kind: "reminder".to_owned(),
                id: None,
                data: json!({"title": "Weekly", "due": "2026-01-05T09:00:00Z", "recurrence": "weekly"}),
                session: None,
            },
        )
        .await
        .unwrap();
    // As written by a build without the schedule: no rows, and the task pending.
    let acme = OrgId::parse("acme").unwrap();
    for row in fs.store().org_reminders(&acme).await.unwrap() {
        fs.store()
            .apply(Mutation::ScheduleReminder {
                org: acme.clone(),
                path: row.path,
                due: None,
            })
            .await
            .unwrap();
    }
    fs.close().await;
    let data = dir.path().join("data");
    {
        use sqlx::Connection as _;
        let url = format!("sqlite://{}", data.join("meta.db").display());
        let mut connection = sqlx::SqliteConnection::connect(&url).await.unwrap();
        sqlx::query("INSERT INTO pending_tasks (name) VALUES ('schedule_reminders')")
            .execute(&mut connection)
            .await
            .unwrap();
        connection.close().await.unwrap();
    }

    let fs = Fs::open(&data, StoreOptions::default()).await.unwrap();
    assert!(fs.store().pending_tasks().await.unwrap().is_empty());
    let schedule = fs.store().org_reminders(&acme).await.unwrap();
    assert_eq!(schedule.len(), 2, "{schedule:?}");
    let weekly_row = schedule
        .iter()
        .find(|row| {
            row.path
                .as_str()
                .ends_with(&format!("{}.json", weekly.key.rsplit(':').next().unwrap()))
        })
        .unwrap();
    assert!(
        weekly_row.due.as_micros() > chrono::Utc::now().timestamp_micros(),
        "a repeating reminder continues from now"
    );
    let bob = fs.context(Principal::User("bob@acme.com".to_owned()));
    assert_eq!(
        fs.reminders().fire_due(chrono::Utc::now()).await.unwrap(),
        1
    );
    assert_eq!(titles(&fs, &bob).await, ["Missed"]);
    fs.close().await;
    // Done once: reopening leaves the fired one-off off the schedule.
    let fs = Fs::open(&data, StoreOptions::default()).await.unwrap();
    assert_eq!(fs.store().org_reminders(&acme).await.unwrap().len(), 1);
    assert_eq!(
        fs.reminders().fire_due(chrono::Utc::now()).await.unwrap(),
        0
    );
    fs.close().await;
}
