//! Notification feeds: `GET /api/notifications`, `POST /api/notifications/{id}/read` and
//! the live stream `GET /api/notifications/stream`.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One notification in the caller's feed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Notification {
    /// Its number in the caller's feed: 1, 2, 3... (the stream's event id).
    pub id: u64,
    /// `reminder` (a Chrono reminder fell due), `session_added` (someone added you to a
    /// group session), `shared` (an item was shared with you).
    #[schema(example = "reminder")]
    pub kind: String,
    /// What people read: the reminder's title, or who shared or added what.
    pub title: String,
    /// The item it is about (the reminder, the shared item, the session's record).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item_key: Option<String>,
    /// The organization it is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org: Option<String>,
    /// RFC 3339.
    pub created_at: String,
    pub read: bool,
}

/// `GET /api/notifications`: the caller's notifications, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct NotificationPage {
    pub notifications: Vec<Notification>,
    /// Pass as `cursor` for what comes after this page (always given: a feed grows, so an
    /// empty page's cursor is where to look again later).
    pub next_cursor: String,
}

/// Query of `GET /api/notifications`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct NotificationQuery {
    /// `next_cursor` of an earlier page; from the start of the feed when absent.
    #[serde(default)]
    pub cursor: Option<String>,
    /// Only notifications not marked read.
    #[serde(default)]
    pub unread: Option<bool>,
    /// Notifications per page (100 when absent, at most 1000).
    #[serde(default)]
    pub limit: Option<usize>,
}
