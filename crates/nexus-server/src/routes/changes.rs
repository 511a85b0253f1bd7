//! An organization's change feed, filtered by what the caller may read when it reads:
//! `GET /api/orgs/{org}/changes` and the live stream `GET /api/orgs/{org}/changes/stream`.

use std::convert::Infallible;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Uri};
use axum::response::sse::{Event, Sse};
use futures::Stream;
use nexus_api::ChangePage;
use nexus_api::changes::{Change, ChangeQuery};
use nexus_core::{CallContext, FsError, OrgId};

use super::{AppState, Caller, QueryResult, stream};
use crate::error::ApiResult;

/// Changes sent per read of the feed.
const STREAM_BATCH: usize = 100;

/// The changes of the organization the caller may read, oldest first, after `cursor`.
#[utoipa::path(get, path = "/api/orgs/{org}/changes", tag = "changes", operation_id = "changes_list",
    params(("org" = String, Path, description = "Organization id"), ChangeQuery),
    responses((status = 200, description = "One page", body = ChangePage)))]
pub async fn changes_list(
    State(state): State<AppState>,
    Caller(context): Caller,
    Path(org): Path<String>,
    query: QueryResult<ChangeQuery>,
) -> ApiResult<axum::Json<ChangePage>> {
    let Query(query) = query?;
    Ok(axum::Json(
        state.fs.changes().list(&context, &org, &query).await?,
    ))
}

/// The same feed as server-sent events (`event: change`, `id` the change's revision,
/// `data` a `Change`), after `Last-Event-ID` (or from the start), then live. Ends when the
/// caller's credentials stop working or the server shuts down.
#[utoipa::path(get, path = "/api/orgs/{org}/changes/stream", tag = "changes", operation_id = "changes_stream",
    params(("org" = String, Path, description = "Organization id"),
        ("Last-Event-ID" = Option<u64>, Header, description = "Resume after this revision")),
    responses((status = 200, description = "An event stream", content_type = "text/event-stream", body = Change)))]
pub async fn changes_stream(
    State(state): State<AppState>,
    Caller(context): Caller,
    Path(org): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    let after = stream::last_event_id(&headers)?;
    let org = state.fs.changes().feed_org(&context, &org)?;
    let query = uri.query().map(ToOwned::to_owned);
    Ok(stream::events(
        state,
        context,
        headers,
        query,
        ChangeSource { org },
        after,
    ))
}

/// One organization's change feed as a stream's source.
struct ChangeSource {
    org: OrgId,
}

impl stream::Source for ChangeSource {
    async fn read(
        &self,
        state: &AppState,
        context: &CallContext,
        after: u64,
    ) -> Result<(Vec<Event>, u64), FsError> {
        let (changes, position) = state
            .fs
            .changes()
            .after(context, &self.org, after, STREAM_BATCH)
            .await?;
        let events = changes
            .iter()
            .filter_map(|change| stream::event("change", change.revision, change))
            .collect();
        Ok((events, position))
    }

    fn wake(&self, state: &AppState) -> tokio::sync::watch::Receiver<u64> {
        state.fs.changes().subscribe()
    }
}
