//! The caller's notification feed: `GET /api/notifications`, `POST
//! /api/notifications/{id}/read`, and the live stream `GET /api/notifications/stream`.

use std::convert::Infallible;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::sse::{Event, Sse};
use futures::Stream;
use nexus_api::NotificationPage;
use nexus_api::notifications::{Notification, NotificationQuery};
use nexus_core::{CallContext, FsError};

use super::{AppState, Caller, QueryResult, stream};
use crate::error::{ApiError, ApiResult};

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
    let after = stream::last_event_id(&headers)?;
    // Refuse a caller without a feed now, not after the response has started.
    state
        .fs
        .notifications()
        .after(&context, after, 1, false)
        .await?;
    let query = uri.query().map(ToOwned::to_owned);
    Ok(stream::events(
        state,
        context,
        headers,
        query,
        NotificationSource,
        after,
    ))
}

/// The caller's notification feed as a stream's source.
struct NotificationSource;

impl stream::Source for NotificationSource {
    async fn read(
        &self,
        state: &AppState,
        context: &CallContext,
        after: u64,
    ) -> Result<(Vec<Event>, u64), FsError> {
        let (batch, position) = state
            .fs
            .notifications()
            .after(context, after, STREAM_BATCH, false)
            .await?;
        let events = batch
            .iter()
            .filter_map(|notification| stream::event("notification", notification.id, notification))
            .collect();
        Ok((events, position))
    }

    fn wake(&self, state: &AppState) -> tokio::sync::watch::Receiver<u64> {
        state.fs.notifications().subscribe()
    }
}
