//! Chrono: reminders fire into notification feeds.
//!
//! A reminder item (`chrono`, kind `reminder`) has a schedule row in the store: when it
//! fires next. The items service writes that row in the same transaction as the item
//! (create, update of `due` or `recurrence`, delete), so the schedule is exactly the stored
//! reminders. [`Reminders::fire_due`] fires what is due: for each occurrence, one
//! transaction moves the row on (or off the schedule) and adds the notifications, refused if
//! the row no longer holds that occurrence. A crash before it commits leaves the occurrence
//! due, so it fires at the next start; once it commits it cannot fire again: every
//! occurrence fires exactly once, however often the process stops.
//!
//! Recipients are decided when it fires: the owner of a personal reminder, and the
//! participants of the session it is in or shared with, each only while they may read it.

use chrono::{DateTime, FixedOffset, Months, Utc};
use nexus_api::items::Reminder;
use nexus_api::notifications::{Notification, NotificationPage, NotificationQuery};
use nexus_knowledge::{Environment, ItemKey, Scope};
use nexus_path::{OrgId, VfsPath};
use nexus_store::{Mutation, NotificationRecord, Rejection, ScheduledReminder, Timestamp};
use serde_json::Value;

use super::session_object;
use crate::authz::Permission;
use crate::authz::tokens::Scope as TokenScope;
use crate::error::FsError;
use crate::fs::{Fs, Notifications, Reminders};
use crate::principal::{CallContext, Principal};

/// Reminders fired per store read.
const FIRE_PAGE: usize = 100;
const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 1000;

/// How a reminder repeats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Every {
    Day,
    Week,
    Month,
}

/// A reminder's occurrences: `anchor` (its `due`), then every period after it, computed
/// from the anchor (a monthly reminder on the 31st falls on the last day of shorter months
/// and returns to the 31st).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Series {
    anchor: DateTime<FixedOffset>,
    every: Option<Every>,
}

impl Series {
    /// The series of a reminder's data, or `None` when it is not a valid reminder.
    pub(crate) fn of(data: &Value) -> Option<Series> {
        let reminder: Reminder = serde_json::from_value(data.clone()).ok()?;
        let anchor = DateTime::parse_from_rfc3339(&reminder.due).ok()?;
        let every = match reminder.recurrence.as_deref() {
            None => None,
            Some("daily") => Some(Every::Day),
            Some("weekly") => Some(Every::Week),
            Some("monthly") => Some(Every::Month),
            Some(_) => return None,
        };
        Some(Series { anchor, every })
    }

    /// Occurrence `n` (0 is the anchor).
    fn occurrence(self, n: u32) -> Option<DateTime<FixedOffset>> {
        match self.every {
            None => (n == 0).then_some(self.anchor),
            Some(Every::Day) => self
                .anchor
                .checked_add_signed(chrono::TimeDelta::days(i64::from(n))),
            Some(Every::Week) => self
                .anchor
                .checked_add_signed(chrono::TimeDelta::weeks(i64::from(n))),
            Some(Every::Month) => self.anchor.checked_add_months(Months::new(n)),
        }
    }

    /// The first occurrence after `time` (at or after it, with `inclusive`).
    fn first_from(self, time: DateTime<Utc>, inclusive: bool) -> Option<DateTime<FixedOffset>> {
        let later = |at: DateTime<FixedOffset>| {
            if inclusive { at >= time } else { at > time }
        };
        let elapsed = time.signed_duration_since(self.anchor);
        // Start a little before the estimate of how many periods have passed, then step.
        let estimate = match self.every {
            _ if elapsed <= chrono::TimeDelta::zero() => 0,
            None => 0,
            Some(Every::Day) => elapsed.num_days(),
            Some(Every::Week) => elapsed.num_weeks(),
            Some(Every::Month) => elapsed.num_days() / 31,
        };
        let mut n = u32::try_from(estimate.saturating_sub(1).max(0)).ok()?;
        loop {
            let at = self.occurrence(n)?;
            if later(at) {
                return Some(at);
            }
            n = n.checked_add(1)?;
        }
    }

    /// Where a newly written reminder goes on the schedule: a one-off at its `due` (at
    /// once if that has passed), a repeating one at its first occurrence from `now`.
    pub(crate) fn first_due(self, now: DateTime<Utc>) -> Option<Timestamp> {
        let at = match self.every {
            None => Some(self.anchor),
            Some(_) => self.first_from(now, true),
        };
        at.map(|at| Timestamp(at.with_timezone(&Utc).timestamp_micros()))
    }

    /// The occurrence after the one due at `due`, skipping those already past at `now`
    /// (missed occurrences fire once, not once each).
    fn next_after(self, due: Timestamp, now: DateTime<Utc>) -> Option<Timestamp> {
        self.every?;
        let due = DateTime::from_timestamp_micros(due.as_micros())?;
        self.first_from(due.max(now), false)
            .map(|at| Timestamp(at.with_timezone(&Utc).timestamp_micros()))
    }
}

/// The schedule change for a reminder item written with `data` (`None` when it is not a
/// reminder): its row, placed by [`Series::first_due`].
pub(crate) fn schedule(
    org: &OrgId,
    key: &ItemKey,
    data: &Value,
    now: DateTime<Utc>,
) -> Option<Mutation> {
    if key.env != Environment::Chrono || key.kind != "reminder" {
        return None;
    }
    let path = key.path(org).ok()?;
    Some(Mutation::ScheduleReminder {
        org: org.clone(),
        path,
        due: Series::of(data).and_then(|series| series.first_due(now)),
    })
}

/// Whether a reminder's update changes when it fires (the same moment written another
/// way does not).
pub(crate) fn reschedules(key: &ItemKey, old: &Value, new: &Value) -> bool {
    key.env == Environment::Chrono && Series::of(old) != Series::of(new)
}

/// A notification for `recipient`, created now.
pub(crate) fn notice(
    recipient: String,
    org: &OrgId,
    kind: &str,
    title: String,
    item_key: Option<String>,
) -> NotificationRecord {
    NotificationRecord {
        recipient,
        org: Some(org.clone()),
        kind: kind.to_owned(),
        title,
        item_key,
        created_at: Timestamp::now(),
        ..NotificationRecord::default()
    }
}

/// The principal (`user:u_...`, `agent:a_...`) of a stable id.
pub(crate) fn principal_of_id(id: &str) -> String {
    match Scope::parse(id) {
        Ok(Scope::Agent(_)) => format!("agent:{id}"),
        _ => format!("user:{id}"),
    }
}

impl Fs {
    /// The participants of a session: its owner and members, as principals.
    pub(crate) fn session_participants(&self, org: &OrgId, session: &str) -> Vec<String> {
        let object = session_object(org, session);
        let mut participants: Vec<String> = ["owner", "member"]
            .iter()
            .flat_map(|relation| self.relationships_on(&object, relation))
            .map(|relationship| {
                format!(
                    "{}:{}",
                    relationship.subject.object.object_type, relationship.subject.object.object_id
                )
            })
            .collect();
        participants.dedup();
        participants
    }

    /// Whether `recipient` (a principal) may read `path` now.
    pub(crate) fn may_read(&self, recipient: &str, path: &VfsPath) -> Result<bool, FsError> {
        let Ok(principal) = Principal::parse(recipient) else {
            return Ok(false);
        };
        let context = self.context(principal);
        self.authz.allowed(&context, path, Permission::Read)
    }

    /// Adds notifications of a change that has committed, in their own transaction, and
    /// wakes the feeds' streams. A failure is logged, not returned: the change stands, and
    /// its caller must not be told otherwise (nor retry it).
    pub(crate) async fn send_notifications(&self, notifications: Vec<NotificationRecord>) {
        if notifications.is_empty() {
            return;
        }
        let count = notifications.len();
        match self
            .store
            .apply(Mutation::AddNotifications { notifications })
            .await
        {
            Ok(_) => self.notified(),
            Err(error) => {
                tracing::warn!(%error, count, "notifications of a committed change were not written");
            }
        }
    }

    /// Wakes the streams of notification feeds (after notifications were committed).
    pub(crate) fn notified(&self) {
        self.notices
            .send_modify(|count| *count = count.wrapping_add(1));
    }
}

impl Reminders<'_> {
    /// Puts on the schedule the reminder items of a data directory created before the
    /// store kept a schedule (the store's migration left the task): each as if written at
    /// `now` (a one-off whose `due` has passed fires once, at the next pass; a repeating one
    /// at its next occurrence). The task is completed in the same transaction, so this
    /// happens once; an item that cannot be read is logged and left off the schedule.
    pub(crate) async fn schedule_existing(self, now: DateTime<Utc>) -> Result<usize, FsError> {
        let tasks = self.store.pending_tasks().await?;
        if !tasks
            .iter()
            .any(|task| task == nexus_store::TASK_SCHEDULE_REMINDERS)
        {
            return Ok(0);
        }
        let mut group = Vec::new();
        for org_root in self.all_nodes(&VfsPath::orgs_root(), false).await? {
            let Some(org) = org_root.org else {
                continue;
            };
            let chrono = VfsPath::parse(&format!(
                "{}/{}/{}",
                org_root.path,
                nexus_knowledge::ITEMS_FOLDER,
                Environment::Chrono.as_str()
            ))?;
            for node in self.all_nodes(&chrono, true).await? {
                let Ok((_, key)) = ItemKey::from_path(&node.path) else {
                    continue;
                };
                if node.is_dir() || key.kind != "reminder" {
                    continue;
                }
                match self.items().data_of(&node).await {
                    Ok(data) => group.extend(schedule(&org, &key, &data, now)),
                    Err(error) => {
                        tracing::warn!(%error, path = %node.path, "a reminder written before the schedule existed cannot be read; it is not scheduled");
                    }
                }
            }
        }
        let scheduled = group.len();
        group.push(Mutation::CompleteTask {
            name: nexus_store::TASK_SCHEDULE_REMINDERS.to_owned(),
        });
        self.store.apply_group(group).await?;
        Ok(scheduled)
    }

    /// Fires every reminder due at `now`; returns how many occurrences fired. A reminder
    /// that cannot be fired now (its file unreadable, a store error) is logged and left due
    /// for the next pass; it does not hold up the others.
    pub async fn fire_due(self, now: DateTime<Utc>) -> Result<usize, FsError> {
        let until = Timestamp(now.timestamp_micros());
        let mut fired = 0;
        let mut failed: Vec<VfsPath> = Vec::new();
        loop {
            let due = self
                .store
                .due_reminders(until, FIRE_PAGE + failed.len())
                .await?;
            let full = due.len() == FIRE_PAGE + failed.len();
            let mut progressed = false;
            for reminder in due {
                if failed.contains(&reminder.path) {
                    continue;
                }
                match self.fire(&reminder, now).await {
                    Ok(sent) => {
                        progressed = true;
                        fired += usize::from(sent);
                    }
                    Err(error) => {
                        tracing::warn!(%error, path = %reminder.path, "a reminder could not fire; retrying at the next pass");
                        failed.push(reminder.path.clone());
                    }
                }
            }
            if !full || !progressed {
                return Ok(fired);
            }
        }
    }

    /// Fires one occurrence; `false` when it had fired or moved already, or the reminder
    /// is gone (its row is then removed).
    async fn fire(self, reminder: &ScheduledReminder, now: DateTime<Utc>) -> Result<bool, FsError> {
        let parsed = ItemKey::from_path(&reminder.path).ok();
        let node = self.store.node(&reminder.path).await?;
        let series_and_data = match (&parsed, node.as_ref().filter(|node| !node.is_dir())) {
            (Some(_), Some(node)) => {
                let data = self.items().data_of(node).await?;
                Series::of(&data).map(|series| (series, data, node.etag()))
            }
            _ => None,
        };
        let mut group = Vec::new();
        match (parsed, series_and_data) {
            (Some((org, key)), Some((series, data, etag))) => {
                group.push(Mutation::FireReminder {
                    path: reminder.path.clone(),
                    due: reminder.due,
                    next: series.next_after(reminder.due, now),
                    etag: Some(etag),
                });
                let title = data
                    .get("title")
                    .and_then(Value::as_str)
                    .unwrap_or("reminder")
                    .to_owned();
                let notifications: Vec<NotificationRecord> = self
                    .reminder_recipients(&org, &key, &reminder.path)?
                    .into_iter()
                    .map(|recipient| {
                        notice(
                            recipient,
                            &org,
                            "reminder",
                            title.clone(),
                            Some(key.to_string()),
                        )
                    })
                    .collect();
                if !notifications.is_empty() {
                    group.push(Mutation::AddNotifications { notifications });
                }
            }
            _ => group.push(Mutation::FireReminder {
                path: reminder.path.clone(),
                due: reminder.due,
                next: None,
                etag: None,
            }),
        }
        if self.authz.faults().refire_reminders()
            && let Some(first) = group.first_mut()
        {
            *first = Mutation::ScheduleReminder {
                org: reminder.org.clone(),
                path: reminder.path.clone(),
                due: Some(reminder.due),
            };
        }
        let sends = group.len() > 1;
        match self.store.apply_group(group).await {
            Ok(_) => {
                if sends {
                    self.notified();
                }
                Ok(sends)
            }
            Err(nexus_store::Error::Rejected(Rejection::ReminderMoved { .. })) => Ok(false),
            Err(error) => Err(error.into()),
        }
    }

    /// Who a reminder reaches now: the owner of a personal one, the participants of its
    /// session and of the sessions it is shared with; each only while they may read it.
    fn reminder_recipients(
        self,
        org: &OrgId,
        key: &ItemKey,
        path: &VfsPath,
    ) -> Result<Vec<String>, FsError> {
        let mut candidates = Vec::new();
        match &key.scope {
            Scope::User(id) | Scope::Agent(id) => candidates.push(principal_of_id(id)),
            Scope::Session(session) => {
                candidates.extend(self.session_participants(org, session));
            }
            Scope::Universal => {}
        }
        for share in self.relationships_on(&crate::authz::file_object(path), "shared_session") {
            if let Some((_, session)) = share.subject.object.object_id.split_once('/') {
                candidates.extend(self.session_participants(org, session));
            }
        }
        let mut recipients = Vec::new();
        for candidate in candidates {
            if !recipients.contains(&candidate) && self.may_read(&candidate, path)? {
                recipients.push(candidate);
            }
        }
        Ok(recipients)
    }
}

impl Notifications<'_> {
    /// The feed of the caller, or of the user a delegated agent acts for (the system
    /// administrator has none).
    fn recipient(context: &CallContext) -> Result<String, FsError> {
        // An agent acting for a user reads the user's feed.
        match context.on_behalf_of.as_ref().unwrap_or(&context.principal) {
            Principal::System => Err(FsError::invalid(
                "the system administrator has no notification feed: act as a user or an agent",
            )),
            principal => Ok(principal.to_string()),
        }
    }

    fn cursor_scope(recipient: &str) -> TokenScope {
        TokenScope::Caller(format!("notifications:{recipient}"))
    }

    /// A page of the caller's notifications, oldest first, after `query.cursor`.
    pub async fn list(
        self,
        context: &CallContext,
        query: &NotificationQuery,
    ) -> Result<NotificationPage, FsError> {
        let recipient = Self::recipient(context)?;
        let scope = Self::cursor_scope(&recipient);
        let after = crate::fs::cursor::position(
            self.authz.keys(),
            query.cursor.as_deref(),
            &scope,
            "another feed",
        )?;
        let limit = query.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT);
        let (notifications, last) = self
            .after(context, after, limit, query.unread.unwrap_or(false))
            .await?;
        Ok(NotificationPage {
            notifications,
            next_cursor: self.authz.keys().issue(&scope, last),
        })
    }

    /// Up to `limit` of the caller's notifications numbered after `after`, oldest first, and
    /// the number to continue after. An agent acting for a user reads the user's feed, but
    /// only what both may know of: notifications of organizations both belong to, about
    /// items both may read.
    pub async fn after(
        self,
        context: &CallContext,
        after: u64,
        limit: usize,
        unread_only: bool,
    ) -> Result<(Vec<Notification>, u64), FsError> {
        let recipient = Self::recipient(context)?;
        let records = self
            .store
            .notifications(&nexus_store::NotificationQuery {
                recipient,
                after,
                unread_only,
                limit,
            })
            .await?;
        let last = records.last().map_or(after, |record| record.id);
        let mut shown = Vec::with_capacity(records.len());
        for record in records {
            if context.on_behalf_of.is_some() && !self.both_may_know(context, &record)? {
                continue;
            }
            shown.push(Notification {
                id: record.id,
                kind: record.kind,
                title: record.title,
                item_key: record.item_key,
                org: record.org.map(|org| org.to_string()),
                created_at: crate::format_timestamp(record.created_at),
                read: record.read_at.is_some(),
            });
        }
        Ok((shown, last))
    }

    /// Whether a delegated call may see a notification of the user's feed.
    fn both_may_know(
        self,
        context: &CallContext,
        record: &nexus_store::NotificationRecord,
    ) -> Result<bool, FsError> {
        let Some(org) = &record.org else {
            return Ok(false);
        };
        if !self.authz.member(context, org)? {
            return Ok(false);
        }
        match &record.item_key {
            None => Ok(true),
            Some(key) => match nexus_knowledge::ItemKey::parse(key)
                .ok()
                .and_then(|key| key.path(org).ok())
            {
                Some(path) => self.authz.allowed(context, &path, Permission::Read),
                None => Ok(false),
            },
        }
    }

    /// Marks one of the caller's notifications read.
    pub async fn mark_read(self, context: &CallContext, id: u64) -> Result<(), FsError> {
        let recipient = Self::recipient(context)?;
        self.store
            .apply(Mutation::MarkNotificationRead {
                recipient,
                id,
                at: Timestamp::now(),
            })
            .await?;
        Ok(())
    }

    /// Changes whenever notifications are added (to anyone's feed): a stream waits on it,
    /// then reads its own feed.
    pub fn subscribe(self) -> tokio::sync::watch::Receiver<u64> {
        self.notices.subscribe()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]

    use super::*;

    fn series(due: &str, recurrence: Option<&str>) -> Series {
        let mut data = serde_json::json!({"title": "t", "due": due});
        if let Some(recurrence) = recurrence {
            data["recurrence"] = recurrence.into();
        }
        Series::of(&data).unwrap()
    }

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn stamp(text: &str) -> Timestamp {
        Timestamp(at(text).timestamp_micros())
    }

    #[test]
    fn a_one_off_is_due_once() {
        let once = series("2026-12-07T09:00:00+01:00", None);
        let now = at("2026-12-08T00:00:00Z");
        assert_eq!(once.first_due(now), Some(stamp("2026-12-07T08:00:00Z")));
        assert_eq!(once.next_after(stamp("2026-12-07T08:00:00Z"), now), None);
    }

    #[test]
    fn daily_and_weekly_step_from_the_anchor_and_skip_missed_occurrences() {
        let daily = series("2026-12-01T09:00:00+01:00", Some("daily"));
        // Written on the 7th at 10:00 UTC: the first occurrence is the 8th at 08:00 UTC.
        assert_eq!(
            daily.first_due(at("2026-12-07T10:00:00Z")),
            Some(stamp("2026-12-08T08:00:00Z"))
        );
        // Exactly at an occurrence, that one.
        assert_eq!(
            daily.first_due(at("2026-12-07T08:00:00Z")),
            Some(stamp("2026-12-07T08:00:00Z"))
        );
        // Fired three days late: the next is after now, not the missed ones.
        assert_eq!(
            daily.next_after(stamp("2026-12-02T08:00:00Z"), at("2026-12-05T12:00:00Z")),
            Some(stamp("2026-12-06T08:00:00Z"))
        );
        let weekly = series("2026-12-01T09:00:00Z", Some("weekly"));
        assert_eq!(
            weekly.next_after(stamp("2026-12-01T09:00:00Z"), at("2026-12-01T09:00:01Z")),
            Some(stamp("2026-12-08T09:00:00Z"))
        );
        // A future anchor is its own first occurrence.
        assert_eq!(
            weekly.first_due(at("2026-11-01T00:00:00Z")),
            Some(stamp("2026-12-01T09:00:00Z"))
        );
    }

    #[test]
    fn monthly_keeps_the_day_of_the_anchor() {
        let monthly = series("2027-01-31T12:00:00Z", Some("monthly"));
        let after_january = monthly
            .next_after(stamp("2027-01-31T12:00:00Z"), at("2027-01-31T12:00:00Z"))
            .unwrap();
        assert_eq!(after_january, stamp("2027-02-28T12:00:00Z"));
        assert_eq!(
            monthly.next_after(after_january, at("2027-02-28T12:00:00Z")),
            Some(stamp("2027-03-31T12:00:00Z"))
        );
        assert_eq!(
            monthly.first_due(at("2028-02-10T00:00:00Z")),
            Some(stamp("2028-02-29T12:00:00Z"))
        );
    }

    #[test]
    fn invalid_data_has_no_series() {
        assert!(Series::of(&serde_json::json!({"title": "t", "due": "tomorrow"})).is_none());
        assert!(
            Series::of(
                &serde_json::json!({"title": "t", "due": "2026-12-07T09:00:00Z", "recurrence": "hourly"})
            )
            .is_none()
        );
    }
}
