//! The caller's notification feed: `GET /api/notifications`, `POST
//! /api/notifications/{id}/read`, and the live stream `GET /api/notifications/stream`.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use nexus_api::NotificationPage;
use nexus_api::notifications::{Notification, NotificationQuery};
use nexus_core::CallContext;

use super::{AppState, Caller, QueryResult};
use crate::error::{ApiError, ApiResult};

/// How often an open stream checks that its credentials still hold and the server is not
/// shutting down: a locked-out caller's stream closes within this.
const STREAM_CHECK: Duration = Duration::from_millis(250);
/// Notifications sent per read of the feed.
const STREAM_BATCH: usize = 100;

/// The caller's notifications, oldest first, after `cursor`.
#[utoipa::path(get, path = "/api/notifications", tag = "notifications", operation_id = "notifications_list",
    params(NotificationQuery),
    responses((status = 200, description = "One page", body = NotificationPage)))]
pub async fn notifications_list(
    State(state): State<AppState>,
    Caller(context): Caller,
    query: QueryResult<NotificationQuery>,
) -> ApiResult<axum::Json<NotificationPage>> {
    let Query(query) = query?;
    Ok(axum::Json(
        state.fs.notifications().list(&context, &query).await?,
    ))
}

/// Mark one of the caller's notifications read.
#[utoipa::path(post, path = "/api/notifications/{id}/read", tag = "notifications", operation_id = "notifications_read",
    params(("id" = u64, Path, description = "The notification's number in the caller's feed")),
    responses((status = 204, description = "Marked read")))]
pub async fn notifications_read(
    State(state): State<AppState>,
    Caller(context): Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let id: u64 = id
        .parse()
        .map_err(|_| ApiError::invalid("a notification id is a positive number"))?;
    state.fs.notifications().mark_read(&context, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The caller's notifications as server-sent events (`event: notification`, `id` the
/// notification's number, `data` a `Notification`), starting after `Last-Event-ID` (or the
/// beginning of the feed), then live. The stream ends when the caller's credentials stop
/// working (lockout, revoked key, expired token) or the server shuts down.
#[utoipa::path(get, path = "/api/notifications/stream", tag = "notifications", operation_id = "notifications_stream",
    params(("Last-Event-ID" = Option<u64>, Header, description = "Resume after this notification")),
    responses((status = 200, description = "An event stream", content_type = "text/event-stream", body = Notification)))]
pub async fn notifications_stream(
    State(state): State<AppState>,
    Caller(context): Caller,
    headers: HeaderMap,
    uri: Uri,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    let after = match headers.get("last-event-id") {
        None => 0,
        Some(value) => value
            .to_str()
            .ok()
            .and_then(|text| text.trim().parse::<u64>().ok())
            .ok_or_else(|| {
                ApiError::invalid("`Last-Event-ID` is the id of a notification (a number)")
            })?,
    };
    // Refuse a caller without a feed now, not after the response has started.
    state
        .fs
        .notifications()
        .after(&context, after, 1, false)
        .await?;
    let feed = Feed {
        state,
        context,
        headers,
        query: uri.query().map(ToOwned::to_owned),
        after,
        pending: std::collections::VecDeque::new(),
        wake: None,
    };
    let stream = futures::stream::unfold(feed, |mut feed| async move {
        feed.next().await.map(|event| (Ok(event), feed))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

/// One open stream: where it is in the caller's feed, and how to tell it still may read it.
struct Feed {
    state: AppState,
    context: CallContext,
    headers: HeaderMap,
    query: Option<String>,
    after: u64,
    pending: std::collections::VecDeque<Notification>,
    wake: Option<tokio::sync::watch::Receiver<u64>>,
}

impl Feed {
    /// The next event, or `None` when the stream ends.
    async fn next(&mut self) -> Option<Event> {
        let wake = self
            .wake
            .get_or_insert_with(|| self.state.fs.notifications().subscribe())
            .clone();
        let mut wake = wake;
        loop {
            if !self.still_allowed() {
                return None;
            }
            if let Some(notification) = self.pending.pop_front() {
                self.after = notification.id;
                return Event::default()
                    .event("notification")
                    .id(notification.id.to_string())
                    .json_data(&notification)
                    .ok();
            }
            wake.mark_unchanged();
            match self
                .state
                .fs
                .notifications()
                .after(&self.context, self.after, STREAM_BATCH, false)
                .await
            {
                Ok(batch) if !batch.is_empty() => {
                    self.pending.extend(batch);
                    continue;
                }
                Ok(_) => {}
                Err(error) => {
                    tracing::warn!(%error, "a notification stream could not read its feed");
                    return None;
                }
            }
            // Nothing new: wait for a commit of notifications, or the next check.
            let _ = tokio::time::timeout(STREAM_CHECK, wake.changed()).await;
        }
    }

    /// Whether the credentials that opened the stream still name the same principal, and
    /// the server is not shutting down.
    fn still_allowed(&self) -> bool {
        if self
            .state
            .draining
            .load(std::sync::atomic::Ordering::Relaxed)
        {
            return false;
        }
        if self
            .state
            .fs
            .authorizer()
            .faults()
            .streams_keep_credentials()
        {
            return true;
        }
        self.state
            .auth
            .authenticate(&self.state.fs, &self.headers, self.query.as_deref())
            .is_ok_and(|principal| {
                self.state.fs.resolve_principal(principal) == self.context.principal
            })
    }
}
