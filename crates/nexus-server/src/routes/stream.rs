//! Server-sent event streams of a feed (notifications, an organization's changes): what is
//! there after `Last-Event-ID`, then live. A stream re-checks its credentials four times a
//! second and ends when they stop naming its caller (lockout, revoked key, expired token)
//! or the server shuts down.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::future::Future;
use std::time::Duration;

use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use nexus_core::{CallContext, FsError};

use super::AppState;
use crate::error::ApiError;

/// How often an open stream checks that its credentials still hold and the server is not
/// shutting down: a locked-out caller's stream closes within this.
const CHECK_EVERY: Duration = Duration::from_millis(250);

/// Where a stream's events come from.
pub(crate) trait Source: Send + Sync + 'static {
    /// Events after position `after`, each with its id, and the position to continue from.
    fn read(
        &self,
        state: &AppState,
        context: &CallContext,
        after: u64,
    ) -> impl Future<Output = Result<(Vec<Event>, u64), FsError>> + Send;

    /// Changes whenever there may be more to read.
    fn wake(&self, state: &AppState) -> tokio::sync::watch::Receiver<u64>;
}

/// The position `Last-Event-ID` names (0 without one).
pub(crate) fn last_event_id(headers: &HeaderMap) -> Result<u64, ApiError> {
    match headers.get("last-event-id") {
        None => Ok(0),
        Some(value) => value
            .to_str()
            .ok()
            .and_then(|text| text.trim().parse::<u64>().ok())
            .ok_or_else(|| ApiError::invalid("`Last-Event-ID` is the id of an event (a number)")),
    }
}

/// One event of a stream: `event: {kind}`, `id: {id}`, `data:` the JSON of `data`.
pub(crate) fn event(kind: &str, id: u64, data: &impl serde::Serialize) -> Option<Event> {
    Event::default()
        .event(kind)
        .id(id.to_string())
        .json_data(data)
        .ok()
}

/// The stream of `source` for the caller, from `after`.
pub(crate) fn events<S: Source>(
    state: AppState,
    context: CallContext,
    headers: HeaderMap,
    query: Option<String>,
    source: S,
    after: u64,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let wake = source.wake(&state);
    let feed = Feed {
        state,
        context,
        headers,
        query,
        source,
        after,
        pending: VecDeque::new(),
        wake,
    };
    let stream = futures::stream::unfold(feed, |mut feed| async move {
        feed.next().await.map(|event| (Ok(event), feed))
    });
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

/// One open stream.
struct Feed<S> {
    state: AppState,
    context: CallContext,
    headers: HeaderMap,
    query: Option<String>,
    source: S,
    after: u64,
    pending: VecDeque<Event>,
    wake: tokio::sync::watch::Receiver<u64>,
}

impl<S: Source> Feed<S> {
    /// The next event, or `None` when the stream ends.
    async fn next(&mut self) -> Option<Event> {
        loop {
            if !self.still_allowed() {
                return None;
            }
            if let Some(event) = self.pending.pop_front() {
                return Some(event);
            }
            self.wake.mark_unchanged();
            match self
                .source
                .read(&self.state, &self.context, self.after)
                .await
            {
                Ok((events, position)) => {
                    self.after = position;
                    if !events.is_empty() {
                        self.pending.extend(events);
                        continue;
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, "an event stream could not read its feed");
                    return None;
                }
            }
            // Nothing new: wait for a commit, or the next check.
            let _ = tokio::time::timeout(CHECK_EVERY, self.wake.changed()).await;
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
            .is_ok_and(|identity| {
                let context = identity.context(&self.state.fs);
                context.principal == self.context.principal
                    && context.on_behalf_of == self.context.on_behalf_of
            })
    }
}
