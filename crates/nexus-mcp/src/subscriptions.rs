//! Resource subscriptions: a client names files by URI (`nexus://orgs/acme/sales/notes.md`,
//! or a directory for everything below it) and hears `notifications/resources/updated` when
//! one changes: through `subscriptions/listen` (protocol 2026-07-28, for as long as the
//! request lasts) or `resources/subscribe` (earlier revisions, until `resources/unsubscribe`
//! or the end of the session). The changes come from the organization's change feed read as
//! the caller, so a change to something the caller may not read is never announced, and a
//! caller who loses access (or membership) stops hearing of it.

use std::collections::BTreeMap;
use std::time::Duration;

use nexus_api::changes::ChangeQuery;
use rmcp::ErrorData;
use rmcp::model::SubscriptionFilter;
use rmcp::service::{RequestContext, RoleServer, SubscriptionContext};

use crate::{Api, NexusMcp, ToolError};

/// How often each organization's feed is read for a subscription.
const POLL: Duration = Duration::from_secs(1);

/// Most URIs one subscription may name.
const MAX_URIS: usize = 256;

/// The organization and path of a file or directory URI (`nexus://orgs/<org>/...`).
fn file_of(uri: &str) -> Option<(String, String)> {
    let rest = uri.strip_prefix("nexus://orgs/")?;
    let org = rest.split('/').next().filter(|org| !org.is_empty())?;
    Some((
        org.to_owned(),
        format!("/orgs/{}", rest.trim_end_matches('/')),
    ))
}

/// Whether a change at `changed` concerns the subscribed `path` (the file itself, or
/// something below a subscribed directory).
fn concerns(path: &str, changed: &str) -> bool {
    changed == path
        || changed
            .strip_prefix(path)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// The part of a requested filter this server serves: file and directory URIs.
pub(crate) fn accepted(requested: &SubscriptionFilter) -> SubscriptionFilter {
    let mut filter = SubscriptionFilter::new();
    filter.resource_subscriptions = requested.resource_subscriptions.as_ref().map(|uris| {
        uris.iter()
            .filter(|uri| file_of(uri).is_some())
            .take(MAX_URIS)
            .cloned()
            .collect()
    });
    filter
}

/// Reads `org`'s feed to its end: where to look for what happens from now on. A page may
/// come back empty before the end (the feed scans a bounded number of records per page);
/// the end is where the cursor stops moving (cursors of one position are equal).
async fn end_of_feed(api: &Api, org: &str) -> Result<String, ToolError> {
    let mut cursor: Option<String> = None;
    loop {
        let page = api
            .client
            .changes(
                org,
                &ChangeQuery {
                    cursor: cursor.clone(),
                    limit: Some(1000),
                },
            )
            .await?;
        if page.changes.is_empty() && cursor.as_ref() == Some(&page.next_cursor) {
            return Ok(page.next_cursor);
        }
        cursor = Some(page.next_cursor);
    }
}

/// Per organization: its subscribed (uri, path) pairs.
type Watched = BTreeMap<String, Vec<(String, String)>>;

fn watched<'a>(uris: impl IntoIterator<Item = &'a String>) -> Watched {
    let mut by_org: Watched = BTreeMap::new();
    for uri in uris {
        if let Some((org, path)) = file_of(uri) {
            by_org.entry(org).or_default().push((uri.clone(), path));
        }
    }
    by_org
}

/// Reads the feeds of `watched` as `api` every [`POLL`] from now on, and calls `notify`
/// with each URI a change concerns, until `stop` completes, `alive` says no (the client is
/// gone, or its credentials no longer hold), `notify` answers `false`, or the feed refuses
/// the caller.
async fn watch<N, F>(
    api: &Api,
    watched: &Watched,
    stop: impl std::future::Future<Output = ()>,
    alive: impl Fn() -> Result<(), ToolError>,
    mut notify: N,
) -> Result<(), ToolError>
where
    N: FnMut(String) -> F,
    F: std::future::Future<Output = bool>,
{
    let mut cursors = BTreeMap::new();
    for org in watched.keys() {
        cursors.insert(org.clone(), end_of_feed(api, org).await?);
    }
    let mut stop = std::pin::pin!(stop);
    loop {
        tokio::select! {
            () = &mut stop => return Ok(()),
            () = tokio::time::sleep(POLL) => {}
        }
        alive()?;
        for (org, subscribed) in watched {
            let Some(cursor) = cursors.get(org).cloned() else {
                continue;
            };
            let page = api
                .client
                .changes(
                    org,
                    &ChangeQuery {
                        cursor: Some(cursor),
                        limit: Some(1000),
                    },
                )
                .await?;
            let mut updated: Vec<String> = Vec::new();
            for change in &page.changes {
                for (uri, path) in subscribed {
                    let hit = [change.path.as_deref(), change.to.as_deref()]
                        .into_iter()
                        .flatten()
                        .any(|changed| concerns(path, changed));
                    if hit && !updated.contains(uri) {
                        updated.push(uri.clone());
                    }
                }
            }
            for uri in updated {
                if !notify(uri).await {
                    return Ok(());
                }
            }
            cursors.insert(org.clone(), page.next_cursor);
        }
    }
}

/// Most `resources/subscribe` subscriptions one caller (one session) holds at once.
const MAX_SUBSCRIPTIONS_PER_CALLER: usize = 64;

/// `uri` without a trailing `/` (one subscription per file or directory).
fn canonical(uri: &str) -> String {
    uri.trim_end_matches('/').to_owned()
}

impl NexusMcp {
    /// Whether the credentials of `context` still hold.
    fn alive(&self, context: &RequestContext<RoleServer>) -> Result<(), ToolError> {
        if self.connector.still_valid(context) {
            Ok(())
        } else {
            Err(ToolError::new(
                nexus_api::ErrorCode::Unauthenticated,
                "the credentials of this subscription no longer hold",
            ))
        }
    }

    /// Serves one `subscriptions/listen` until the client cancels it, its credentials end
    /// or the caller's access to the feed ends.
    pub(crate) async fn serve_subscription(
        &self,
        subscription: SubscriptionContext,
    ) -> Result<(), ErrorData> {
        let uris: Vec<String> = subscription
            .accepted()
            .resource_subscriptions
            .clone()
            .unwrap_or_default();
        let watched = watched(&uris);
        let context = subscription.request_context().clone();
        let target = watched.keys().cloned().collect::<Vec<_>>().join(",");
        let shutdown = self.shutdown.clone();
        self.run(&context, "subscribe", target, |api| async move {
            let sink = subscription.sink();
            let stop = async {
                tokio::select! {
                    () = subscription.cancelled() => {}
                    () = shutdown.cancelled() => {}
                }
            };
            watch(
                &api,
                &watched,
                stop,
                || self.alive(subscription.request_context()),
                |uri| async move { sink.notify_resource_updated(uri).await.is_ok() },
            )
            .await
        })
        .await
        .map_err(|error| {
            ErrorData::invalid_params(format!("{}: {}", error.code.as_str(), error.message), None)
        })
    }

    /// `resources/subscribe` (revisions before 2026-07-28): watches `uri` for the caller in
    /// the background until `resources/unsubscribe`, the end of the session, the end of its
    /// credentials, or the server's shutdown.
    pub(crate) async fn subscribe_legacy(
        &self,
        context: RequestContext<RoleServer>,
        uri: String,
    ) -> Result<(), ErrorData> {
        let uri = canonical(&uri);
        let Some((_, path)) = file_of(&uri) else {
            return Err(ErrorData::invalid_params(
                format!(
                    "`{uri}` cannot be subscribed to: name a file or directory, nexus://orgs/<org>/<path>"
                ),
                None,
            ));
        };
        // Only what the caller may see now (a hidden path is not found, as everywhere).
        let key = self
            .run(&context, "subscribe", uri.clone(), |api| async move {
                api.client.stat(&path).await?;
                Ok(api.caller)
            })
            .await
            .map_err(|error| {
                ErrorData::resource_not_found(
                    format!("{}: {}", error.code.as_str(), error.message),
                    None,
                )
            })?;
        let stop = self.register(&key, &uri)?;
        let server = self.clone();
        tokio::spawn(async move {
            let watched = watched([&uri]);
            let (checker, checked, peer, until) = (
                server.clone(),
                context.clone(),
                context.peer.clone(),
                stop.clone(),
            );
            let outcome = server
                .run(
                    &context,
                    "subscription",
                    uri.clone(),
                    move |api| async move {
                        let notifier = peer.clone();
                        watch(
                            &api,
                            &watched,
                            until.cancelled(),
                            || {
                                if peer.is_transport_closed() {
                                    return Err(ToolError::new(
                                        nexus_api::ErrorCode::Unavailable,
                                        "the session ended",
                                    ));
                                }
                                checker.alive(&checked)
                            },
                            |uri| {
                                let peer = notifier.clone();
                                async move {
                                    peer.notify_resource_updated(
                                        rmcp::model::ResourceUpdatedNotificationParam::new(uri),
                                    )
                                    .await
                                    .is_ok()
                                }
                            },
                        )
                        .await
                    },
                )
                .await;
            if let Err(error) = outcome {
                tracing::debug!(%uri, code = error.code.as_str(), "a resource subscription ended");
            }
            // Forget it, unless a newer subscription to the same URI replaced it.
            let mut subscriptions = server.memory.subscriptions.lock();
            let entry = (key, uri);
            if subscriptions
                .get(&entry)
                .is_some_and(|current| current == &stop || current.is_cancelled())
            {
                subscriptions.remove(&entry);
            }
        });
        Ok(())
    }

    /// Remembers a new subscription of `key` to `uri` (replacing one to the same URI): what
    /// stops it. Refused past [`MAX_SUBSCRIPTIONS_PER_CALLER`].
    fn register(
        &self,
        key: &str,
        uri: &str,
    ) -> Result<tokio_util::sync::CancellationToken, ErrorData> {
        let stop = self.shutdown.child_token();
        let mut subscriptions = self.memory.subscriptions.lock();
        let entry = (key.to_owned(), uri.to_owned());
        let held = subscriptions
            .keys()
            .filter(|(caller, _)| caller == key)
            .count();
        if held >= MAX_SUBSCRIPTIONS_PER_CALLER && !subscriptions.contains_key(&entry) {
            return Err(ErrorData::invalid_params(
                format!(
                    "at most {MAX_SUBSCRIPTIONS_PER_CALLER} subscriptions at once: unsubscribe from some first"
                ),
                None,
            ));
        }
        if let Some(previous) = subscriptions.insert(entry, stop.clone()) {
            previous.cancel();
        }
        Ok(stop)
    }

    /// `resources/unsubscribe`.
    pub(crate) fn unsubscribe_legacy(
        &self,
        context: &RequestContext<RoleServer>,
        uri: &str,
    ) -> Result<(), ErrorData> {
        let key = match self.connector.connect(context) {
            Ok(connection) => connection.caller,
            Err(error) => return Err(ErrorData::invalid_params(error.message, None)),
        };
        if let Some(stop) = self
            .memory
            .subscriptions
            .lock()
            .remove(&(key, canonical(uri)))
        {
            stop.cancel();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_name_files_and_directories_of_an_organization() {
        assert_eq!(
            file_of("nexus://orgs/acme/sales/notes.md"),
            Some(("acme".to_owned(), "/orgs/acme/sales/notes.md".to_owned()))
        );
        assert_eq!(
            file_of("nexus://orgs/acme/sales/"),
            Some(("acme".to_owned(), "/orgs/acme/sales".to_owned()))
        );
        assert_eq!(file_of("nexus://workflow/acme"), None);
        assert_eq!(file_of("nexus://orgs/"), None);
        assert!(concerns("/orgs/acme/sales", "/orgs/acme/sales/a.md"));
        assert!(concerns("/orgs/acme/sales/a.md", "/orgs/acme/sales/a.md"));
        assert!(!concerns("/orgs/acme/sales", "/orgs/acme/salesforce/a.md"));
    }
}
