//! The tools. Each one is a call of the REST API's typed client; its result is the API's
//! JSON (structured content, and the same as text), its failure the API's error code and
//! message as a tool error. Annotations say truthfully what a tool does: reads are
//! read-only and idempotent, deletions destructive, and nothing reaches outside Nexus.

use base64::Engine as _;
use bytes::Bytes;
use nexus_api::search::{Consistency, ConsistencyLevel, SearchFilters, SearchMode, SearchRequest};
use nexus_api::{ErrorCode, ItemListQuery, SessionType, ShareRequest};
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResult, ContentBlock, Resource};
use rmcp::service::{RequestContext, RoleServer};
use rmcp::{ErrorData, tool, tool_router};
use serde::Serialize;
use serde_json::{Value, json};

use crate::args::{
    AddSessionMember, CreateItem, CreateReminder, Delete, DeleteItem, EditFile, Encoding, Glob,
    Grep, ItemKey, List, ListItems, ListReminders, ListSessions, Mkdir, Move, Notifications,
    OrgOnly, PathArg, ReadFile, Restore, Search, SessionArg, SessionKind, Share, StartSession,
    UpdateItem, WriteFile,
};
use crate::{Api, NexusMcp, ToolError};

/// Longest text `read_file` returns without a `range` (the rest is left out, and said so).
pub(crate) const MAX_TEXT_BYTES: usize = 256 * 1024;

/// The URI of a file as a resource: `nexus://orgs/acme/sales/notes.md`.
pub(crate) fn file_uri(path: &str) -> String {
    format!("nexus://{}", path.trim_start_matches('/'))
}

/// A value as a tool result: the API's JSON as structured content (an object: anything else
/// is wrapped as `{"result": ...}`) and as text.
pub(crate) fn structured(value: Value) -> CallToolResult {
    match value {
        Value::Object(_) => CallToolResult::structured(value),
        other => CallToolResult::structured(json!({ "result": other })),
    }
}

/// A serializable API answer as a tool result.
pub(crate) fn answer<T: Serialize>(value: &T) -> Result<CallToolResult, ToolError> {
    serde_json::to_value(value)
        .map(structured)
        .map_err(|error| ToolError::new(ErrorCode::Internal, format!("cannot encode: {error}")))
}

/// Text, when the bytes are UTF-8 without NUL characters (else the content is binary).
pub(crate) fn as_text(content: &[u8]) -> Option<&str> {
    std::str::from_utf8(content)
        .ok()
        .filter(|text| !text.contains('\0'))
}

/// `text` cut at `max` bytes on a character boundary, and whether it was cut.
fn cut(text: &str, max: usize) -> (&str, bool) {
    if text.len() <= max {
        return (text, false);
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    (text.get(..end).unwrap_or_default(), true)
}

impl Api {
    /// A session argument: `current` is the caller's working session (in `org`).
    fn session(&self, org: &str, given: Option<String>) -> Result<Option<String>, ToolError> {
        match given.as_deref() {
            Some("current") => match self.memory.working(&self.caller) {
                Some((working_org, session)) if working_org == org => Ok(Some(session)),
                _ => Err(ToolError::invalid(
                    "you are not working in a session of this organization: call `start_session` or `join_session` first, or name the session (`s_XXXX`)",
                )),
            },
            Some("") | None => Ok(None),
            Some(_) => Ok(given),
        }
    }

    /// The working session, when it is in `org`.
    fn working_in(&self, org: &str) -> Option<String> {
        self.memory
            .working(&self.caller)
            .filter(|(working_org, _)| working_org == org)
            .map(|(_, session)| session)
    }
}

/// An item's creation as a tool result: the API's answer, with a one-call way to accept the
/// sharing hint when there is one.
fn created(org: &str, created: &nexus_api::ItemCreated) -> Result<CallToolResult, ToolError> {
    let mut value = serde_json::to_value(created)
        .map_err(|error| ToolError::new(ErrorCode::Internal, format!("cannot encode: {error}")))?;
    if let Some(hint) = &created.sharing_hint
        && let Some(object) = value.get_mut("sharing_hint").and_then(Value::as_object_mut)
    {
        object.insert(
            "accept".to_owned(),
            json!({
                "tool": "share",
                "arguments": {"key": created.key, "session": hint.session, "org": org},
            }),
        );
    }
    Ok(structured(value))
}

#[tool_router(vis = "pub(crate)")]
impl NexusMcp {
    /// Who you are acting as (kind, stable id, handle), the organizations you belong to, and
    /// the session you are working in.
    #[tool(
        name = "whoami",
        annotations(read_only_hint = true, idempotent_hint = true, open_world_hint = false)
    )]
    async fn whoami(
        &self,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        self.call(&context, "whoami", String::new(), |api| async move {
            let whoami = api.client.whoami().await?;
            let mut value = serde_json::to_value(&whoami).map_err(|error| {
                ToolError::new(ErrorCode::Internal, format!("cannot encode: {error}"))
            })?;
            if let (Some((org, session)), Some(object)) =
                (api.memory.working(&api.caller), value.as_object_mut())
            {
                object.insert(
                    "working_session".to_owned(),
                    json!({"org": org, "session": session}),
                );
            }
            Ok(structured(value))
        })
        .await
    }

    /// Read a file. Text comes back as text (the first 256 KiB unless you give a `range`);
    /// binary content comes back as a resource link (`nexus://...`). The `etag` lets you
    /// write back safely with `write_file`'s `if_match`.
    #[tool(
        name = "read_file",
        annotations(read_only_hint = true, idempotent_hint = true, open_world_hint = false)
    )]
    async fn read_file(
        &self,
        Parameters(args): Parameters<ReadFile>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        self.call(&context, "read_file", args.path.clone(), |api| async move {
            let read = api
                .client
                .read(&args.path, args.range.as_deref(), args.version)
                .await?;
            let size = read.content.len();
            let mut facts = serde_json::Map::new();
            facts.insert("path".to_owned(), json!(args.path));
            facts.insert("etag".to_owned(), json!(read.etag));
            facts.insert("size".to_owned(), json!(size));
            if let Some((start, end)) = read.range {
                facts.insert("range".to_owned(), json!([start, end]));
            }
            let Some(text) = as_text(&read.content) else {
                facts.insert("binary".to_owned(), json!(true));
                facts.insert("uri".to_owned(), json!(file_uri(&args.path)));
                let link = Resource::new(file_uri(&args.path), args.path.clone())
                    .with_mime_type("application/octet-stream")
                    .with_size(u64::try_from(size).unwrap_or(u64::MAX));
                let mut result = CallToolResult::success(vec![ContentBlock::resource_link(link)]);
                result.structured_content = Some(Value::Object(facts));
                return Ok(result);
            };
            let (shown, truncated) = cut(text, MAX_TEXT_BYTES);
            facts.insert("content".to_owned(), json!(shown));
            if truncated {
                facts.insert("truncated".to_owned(), json!(true));
                facts.insert(
                    "note".to_owned(),
                    json!(format!(
                        "only the first {} of {size} bytes are shown: read the rest with `range`",
                        shown.len()
                    )),
                );
            }
            let mut result = CallToolResult::success(vec![ContentBlock::text(shown)]);
            result.structured_content = Some(Value::Object(facts));
            Ok(result)
        })
        .await
    }

    /// Create or replace a file with the given content (missing parent directories are
    /// created). Pass `if_match` with the etag you read to avoid overwriting someone
    /// else's change.
    #[tool(
        name = "write_file",
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn write_file(
        &self,
        Parameters(args): Parameters<WriteFile>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        self.call(
            &context,
            "write_file",
            args.path.clone(),
            |api| async move {
                let content = match args.encoding {
                    Encoding::Text => Bytes::from(args.content.into_bytes()),
                    Encoding::Base64 => Bytes::from(
                        base64::engine::general_purpose::STANDARD
                            .decode(args.content.as_bytes())
                            .map_err(|error| {
                                ToolError::invalid(format!(
                                    "`content` is not valid base64: {error}"
                                ))
                            })?,
                    ),
                };
                let entry = api
                    .client
                    .write(
                        &args.path,
                        content,
                        args.if_match.as_deref(),
                        args.create_only,
                        true,
                    )
                    .await?;
                answer(&entry)
            },
        )
        .await
    }

    /// Edit a text file by exact string replacement: `old` must occur exactly once (or set
    /// `replace_all`). The edit applies only to the version read, so a concurrent change is
    /// refused rather than lost.
    #[tool(
        name = "edit_file",
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn edit_file(
        &self,
        Parameters(args): Parameters<EditFile>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        self.call(&context, "edit_file", args.path.clone(), |api| async move {
            if args.old.is_empty() {
                return Err(ToolError::invalid("`old` must not be empty"));
            }
            let read = api.client.read(&args.path, None, None).await?;
            let Some(etag) = read.etag.clone() else {
                return Err(ToolError::new(
                    ErrorCode::Conflict,
                    format!("`{}` has no etag to edit against; nothing was written", args.path),
                ));
            };
            let text = as_text(&read.content).ok_or_else(|| {
                ToolError::invalid(format!("`{}` is not a text file", args.path))
            })?;
            let found = text.matches(&args.old).count();
            let edited = match found {
                0 => {
                    return Err(ToolError::invalid(format!(
                        "`old` does not occur in `{}`: read the file and copy the text exactly",
                        args.path
                    )));
                }
                1 => text.replacen(&args.old, &args.new, 1),
                many if args.replace_all => {
                    let _ = many;
                    text.replace(&args.old, &args.new)
                }
                many => {
                    return Err(ToolError::invalid(format!(
                        "`old` occurs {many} times in `{}`: include more surrounding text to make it unique, or set `replace_all`",
                        args.path
                    )));
                }
            };
            let entry = api
                .client
                .write(
                    &args.path,
                    Bytes::from(edited.into_bytes()),
                    Some(&etag),
                    false,
                    false,
                )
                .await
                .map_err(|error| {
                    if error.code == ErrorCode::PreconditionFailed {
                        ToolError::new(
                            ErrorCode::PreconditionFailed,
                            format!(
                                "`{}` changed while it was being edited; nothing was written: read it again and redo the edit",
                                args.path
                            ),
                        )
                    } else {
                        error.into()
                    }
                })?;
            let mut value = serde_json::to_value(&entry).map_err(|error| {
                ToolError::new(ErrorCode::Internal, format!("cannot encode: {error}"))
            })?;
            if let Some(object) = value.as_object_mut() {
                object.insert("replacements".to_owned(), json!(found));
            }
            Ok(structured(value))
        })
        .await
    }

    /// List a directory, one page at a time (`next_cursor` gives the next page). `/orgs`
    /// lists your organizations.
    #[tool(
        name = "list",
        annotations(read_only_hint = true, idempotent_hint = true, open_world_hint = false)
    )]
    async fn list(
        &self,
        Parameters(args): Parameters<List>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        self.call(&context, "list", args.path.clone(), |api| async move {
            let page = api
                .client
                .ls(
                    &args.path,
                    args.recursive,
                    args.limit,
                    args.cursor.as_deref(),
                )
                .await?;
            answer(&page)
        })
        .await
    }

    /// Find files by glob pattern, e.g. `/orgs/acme/**/*.md`; only what you may read.
    #[tool(
        name = "glob",
        annotations(read_only_hint = true, idempotent_hint = true, open_world_hint = false)
    )]
    async fn glob(
        &self,
        Parameters(args): Parameters<Glob>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        self.call(&context, "glob", args.pattern.clone(), |api| async move {
            answer(&api.client.glob(&args.pattern, args.limit).await?)
        })
        .await
    }

    /// Search file contents by regular expression under a path; only files you may read.
    #[tool(
        name = "grep",
        annotations(read_only_hint = true, idempotent_hint = true, open_world_hint = false)
    )]
    async fn grep(
        &self,
        Parameters(args): Parameters<Grep>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        self.call(&context, "grep", args.path.clone(), |api| async move {
            let request = nexus_api::GrepRequest {
                pattern: args.pattern,
                path: args.path,
                ignore_case: args.ignore_case,
                context: args.context,
                max_matches: args.max_matches,
                include: args.include,
            };
            answer(&api.client.grep(&request).await?)
        })
        .await
    }

    /// A file's or directory's metadata: kind, size, version, etag, author, times.
    #[tool(
        name = "stat",
        annotations(read_only_hint = true, idempotent_hint = true, open_world_hint = false)
    )]
    async fn stat(
        &self,
        Parameters(args): Parameters<PathArg>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        self.call(&context, "stat", args.path.clone(), |api| async move {
            answer(&api.client.stat(&args.path).await?)
        })
        .await
    }

    /// Create a directory (and its missing parents unless `parents` is false).
    #[tool(
        name = "mkdir",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn mkdir(
        &self,
        Parameters(args): Parameters<Mkdir>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        self.call(&context, "mkdir", args.path.clone(), |api| async move {
            answer(&api.client.mkdir(&args.path, args.parents).await?)
        })
        .await
    }

    /// Move or rename a file or directory.
    #[tool(
        name = "move",
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn move_path(
        &self,
        Parameters(args): Parameters<Move>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        self.call(&context, "move", args.from.clone(), |api| async move {
            answer(&api.client.mv(&args.from, &args.to, args.overwrite).await?)
        })
        .await
    }

    /// Delete a file, or a directory with `recursive`. Earlier versions of a file stay
    /// restorable only while the organization's version policy keeps them.
    #[tool(
        name = "delete",
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn delete(
        &self,
        Parameters(args): Parameters<Delete>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        self.call(&context, "delete", args.path.clone(), |api| async move {
            answer(&api.client.rm(&args.path, args.recursive).await?)
        })
        .await
    }

    /// A file's stored versions, newest first (restore one with `restore`).
    #[tool(
        name = "versions",
        annotations(read_only_hint = true, idempotent_hint = true, open_world_hint = false)
    )]
    async fn versions(
        &self,
        Parameters(args): Parameters<PathArg>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        self.call(&context, "versions", args.path.clone(), |api| async move {
            let versions = api.client.versions(&args.path).await?;
            answer(&nexus_api::VersionList { versions })
        })
        .await
    }

    /// Make an earlier version of a file current again (as a new version).
    #[tool(
        name = "restore",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn restore(
        &self,
        Parameters(args): Parameters<Restore>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        self.call(&context, "restore", args.path.clone(), |api| async move {
            answer(&api.client.restore(&args.path, args.version).await?)
        })
        .await
    }

    /// Create a knowledge item. It is personal unless `scope` says otherwise: keep it so
    /// unless the person asks to share it. When you work in a group session, the answer's
    /// `sharing_hint` offers to share it with the session; ask, and if yes make the call in
    /// `sharing_hint.accept`.
    #[tool(
        name = "create_item",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn create_item(
        &self,
        Parameters(args): Parameters<CreateItem>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let target = format!("{}:{}", args.env, args.kind);
        self.call(&context, "create_item", target, |api| async move {
            let org = api.org(args.org).await?;
            let named = api.session(&org, args.session)?;
            // The working session only asks for the sharing hint: never for a reminder
            // (which `session` would share with the session's members).
            let remembered = if named.is_none() && args.env != "chrono" {
                api.working_in(&org)
            } else {
                None
            };
            let mut request = nexus_api::CreateItem {
                env: args.env,
                scope: args.scope.unwrap_or_else(|| "personal".to_owned()),
                kind: args.kind,
                id: args.id,
                data: Value::Object(args.data),
                session: named.or_else(|| remembered.clone()),
            };
            match api.client.items_create(&org, &request).await {
                Ok(answer) => created(&org, &answer),
                // A remembered session that has ended or that the caller left is forgotten,
                // and the item created without it.
                Err(error)
                    if remembered.is_some()
                        && matches!(error.code, ErrorCode::NotFound | ErrorCode::Conflict) =>
                {
                    if let Some(session) = &remembered {
                        api.memory.leave(&api.caller, session);
                    }
                    request.session = None;
                    created(&org, &api.client.items_create(&org, &request).await?)
                }
                Err(error) => Err(error.into()),
            }
        })
        .await
    }

    /// Get a knowledge item by key (with its etag, for `update_item`).
    #[tool(
        name = "get_item",
        annotations(read_only_hint = true, idempotent_hint = true, open_world_hint = false)
    )]
    async fn get_item(
        &self,
        Parameters(args): Parameters<ItemKey>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        self.call(&context, "get_item", args.key.clone(), |api| async move {
            let org = api.org(args.org).await?;
            answer(&api.client.items_get(&org, &args.key).await?)
        })
        .await
    }

    /// Replace a knowledge item's data (validated against its environment's schema); pass
    /// `if_match` with its etag to refuse a concurrent change instead of overwriting it.
    #[tool(
        name = "update_item",
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn update_item(
        &self,
        Parameters(args): Parameters<UpdateItem>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        self.call(
            &context,
            "update_item",
            args.key.clone(),
            |api| async move {
                let org = api.org(args.org).await?;
                let item = api
                    .client
                    .items_update(
                        &org,
                        &args.key,
                        Value::Object(args.data),
                        args.if_match.as_deref(),
                    )
                    .await?;
                answer(&item)
            },
        )
        .await
    }

    /// Delete a knowledge item.
    #[tool(
        name = "delete_item",
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn delete_item(
        &self,
        Parameters(args): Parameters<DeleteItem>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        self.call(
            &context,
            "delete_item",
            args.key.clone(),
            |api| async move {
                let org = api.org(args.org).await?;
                api.client
                    .items_delete(&org, &args.key, args.if_match.as_deref())
                    .await?;
                Ok(structured(json!({"deleted": args.key})))
            },
        )
        .await
    }

    /// List the knowledge items you may read, filtered by environment, scope, kind, owner
    /// or creation day; one page at a time (`next_cursor`).
    #[tool(
        name = "list_items",
        annotations(read_only_hint = true, idempotent_hint = true, open_world_hint = false)
    )]
    async fn list_items(
        &self,
        Parameters(args): Parameters<ListItems>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let target = args.env.clone().unwrap_or_default();
        self.call(&context, "list_items", target, |api| async move {
            let org = api.org(args.org).await?;
            let query = ItemListQuery {
                env: args.env,
                scope: args.scope,
                kind: args.kind,
                owner: args.owner,
                since: args.since,
                until: args.until,
                q: None,
                cursor: args.cursor,
                limit: args.limit,
            };
            answer(&api.client.items_list(&org, &query).await?)
        })
        .await
    }

    /// Search the files and knowledge items you may read ("what do we know about X?"):
    /// best matches first, each with a snippet; `total` counts only what you may read. It
    /// sees your own latest changes. For a regular expression over file contents use `grep`.
    #[tool(
        name = "search",
        annotations(read_only_hint = true, idempotent_hint = true, open_world_hint = false)
    )]
    async fn search(
        &self,
        Parameters(args): Parameters<Search>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        self.call(&context, "search", args.query.clone(), |api| async move {
            let org = api.org(args.org).await?;
            let mode = args
                .mode
                .as_deref()
                .map(str::parse::<SearchMode>)
                .transpose()
                .map_err(|error| {
                    ToolError::new(ErrorCode::InvalidInput, format!("`mode`: {error}"))
                })?;
            let request = SearchRequest {
                query: args.query,
                mode,
                filters: SearchFilters {
                    path_prefix: args.path_prefix,
                    env: args.env,
                    scope: args.scope,
                    kind: args.kind,
                    ..SearchFilters::default()
                },
                limit: args.limit,
                cursor: args.cursor,
                // An assistant searching right after writing expects to find what it wrote.
                consistency: Some(Consistency::Level(ConsistencyLevel::FullyConsistent)),
                explain: args.explain,
            };
            answer(&api.client.search(&org, &request).await?)
        })
        .await
    }

    /// Start a session: `solo` (just you) or `group` ("let's work on this together", with
    /// `members`). You then work in it: new items offer to be shared with it.
    #[tool(
        name = "start_session",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn start_session(
        &self,
        Parameters(args): Parameters<StartSession>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        self.call(
            &context,
            "start_session",
            args.title.clone(),
            |api| async move {
                let org = api.org(args.org).await?;
                let request = nexus_api::CreateSession {
                    title: args.title,
                    session_type: match args.kind {
                        SessionKind::Solo => SessionType::Solo,
                        SessionKind::Group => SessionType::Group,
                    },
                    members: args.members,
                };
                let session = api.client.sessions_start(&org, &request).await?;
                api.memory
                    .set_working(&api.caller, &org, &session.stable_id);
                answer(&session)
            },
        )
        .await
    }

    /// Work in a session you are a member of: new items then offer to be shared with it,
    /// and `session: "current"` names it.
    #[tool(
        name = "join_session",
        annotations(
            read_only_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn join_session(
        &self,
        Parameters(args): Parameters<SessionArg>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        self.call(
            &context,
            "join_session",
            args.session.clone(),
            |api| async move {
                let org = api.org(args.org).await?;
                let session = api.client.sessions_get(&org, &args.session).await?;
                if !session.active {
                    return Err(ToolError::new(
                        ErrorCode::Conflict,
                        format!("session `{}` has ended", args.session),
                    ));
                }
                api.memory
                    .set_working(&api.caller, &org, &session.stable_id);
                answer(&session)
            },
        )
        .await
    }

    /// Add a member to a group session you own; they see every item of the session.
    #[tool(
        name = "add_session_member",
        annotations(
            read_only_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn add_session_member(
        &self,
        Parameters(args): Parameters<AddSessionMember>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        self.call(
            &context,
            "add_session_member",
            args.session.clone(),
            |api| async move {
                let org = api.org(args.org).await?;
                answer(
                    &api.client
                        .sessions_add(&org, &args.session, &args.user)
                        .await?,
                )
            },
        )
        .await
    }

    /// The sessions you belong to (only active ones unless `active` is false).
    #[tool(
        name = "list_sessions",
        annotations(read_only_hint = true, idempotent_hint = true, open_world_hint = false)
    )]
    async fn list_sessions(
        &self,
        Parameters(args): Parameters<ListSessions>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        self.call(&context, "list_sessions", String::new(), |api| async move {
            let org = api.org(args.org).await?;
            let active = args.active.then_some(true);
            answer(&api.client.sessions_list(&org, active).await?)
        })
        .await
    }

    /// End a session you own: its members keep read access to what was created in it, and
    /// nothing new can be shared with it.
    #[tool(
        name = "end_session",
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn end_session(
        &self,
        Parameters(args): Parameters<SessionArg>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        self.call(
            &context,
            "end_session",
            args.session.clone(),
            |api| async move {
                let org = api.org(args.org).await?;
                let session = api.client.sessions_end(&org, &args.session).await?;
                api.memory.leave(&api.caller, &session.stable_id);
                answer(&session)
            },
        )
        .await
    }

    /// Share an item: with people (`users`: "share this with Andrew"), with a group session
    /// (`session`, or `current`), or with everyone in the organization (`universal`: "this
    /// is for everyone"). Give exactly one. Answers who can now see it and why.
    #[tool(
        name = "share",
        annotations(
            read_only_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn share(
        &self,
        Parameters(args): Parameters<Share>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        self.call(&context, "share", args.key.clone(), |api| async move {
            share_or_unshare(api, args, false).await
        })
        .await
    }

    /// Take back a share made with `share` (same arguments).
    #[tool(
        name = "unshare",
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn unshare(
        &self,
        Parameters(args): Parameters<Share>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        self.call(&context, "unshare", args.key.clone(), |api| async move {
            share_or_unshare(api, args, true).await
        })
        .await
    }

    /// Who can see an item, and why (owner, direct share, session, universal, manager,
    /// admin...).
    #[tool(
        name = "explain_access",
        annotations(read_only_hint = true, idempotent_hint = true, open_world_hint = false)
    )]
    async fn explain_access(
        &self,
        Parameters(args): Parameters<ItemKey>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        self.call(
            &context,
            "explain_access",
            args.key.clone(),
            |api| async move {
                let org = api.org(args.org).await?;
                answer(&api.client.items_access(&org, &args.key).await?)
            },
        )
        .await
    }

    /// Set a reminder (a Chrono item). It is yours, or reaches every member of a group
    /// session when `session` is given; it arrives in `notifications` when due.
    #[tool(
        name = "create_reminder",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn create_reminder(
        &self,
        Parameters(args): Parameters<CreateReminder>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        self.call(
            &context,
            "create_reminder",
            args.title.clone(),
            |api| async move {
                let org = api.org(args.org).await?;
                let session = api.session(&org, args.session)?;
                let mut data = serde_json::Map::new();
                data.insert("title".to_owned(), json!(args.title));
                data.insert("due".to_owned(), json!(args.due));
                if let Some(recurrence) = args.recurrence {
                    data.insert("recurrence".to_owned(), json!(recurrence));
                }
                if let Some(note) = args.note {
                    data.insert("note".to_owned(), json!(note));
                }
                let request = nexus_api::CreateItem {
                    env: "chrono".to_owned(),
                    scope: "personal".to_owned(),
                    kind: "reminder".to_owned(),
                    id: None,
                    data: Value::Object(data),
                    session,
                };
                created(&org, &api.client.items_create(&org, &request).await?)
            },
        )
        .await
    }

    /// The reminders you may read (yours and your sessions').
    #[tool(
        name = "list_reminders",
        annotations(read_only_hint = true, idempotent_hint = true, open_world_hint = false)
    )]
    async fn list_reminders(
        &self,
        Parameters(args): Parameters<ListReminders>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        self.call(
            &context,
            "list_reminders",
            String::new(),
            |api| async move {
                let org = api.org(args.org).await?;
                let query = ItemListQuery {
                    env: Some("chrono".to_owned()),
                    cursor: args.cursor,
                    ..ItemListQuery::default()
                };
                answer(&api.client.items_list(&org, &query).await?)
            },
        )
        .await
    }

    /// Your notifications (reminders that fell due), oldest first; `mark_read` marks some
    /// read first.
    #[tool(
        name = "notifications",
        annotations(
            read_only_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn notifications(
        &self,
        Parameters(args): Parameters<Notifications>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        self.call(&context, "notifications", String::new(), |api| async move {
            for id in &args.mark_read {
                api.client.notification_read(*id).await?;
            }
            let query = nexus_api::notifications::NotificationQuery {
                cursor: args.cursor,
                unread: args.unread,
                limit: args.limit,
            };
            answer(&api.client.notifications(&query).await?)
        })
        .await
    }

    /// Your effective workflow protocols: the organization's, each overridden by your own
    /// of the same name (`source` says which). Follow them.
    #[tool(
        name = "resolve_workflow",
        annotations(read_only_hint = true, idempotent_hint = true, open_world_hint = false)
    )]
    async fn resolve_workflow(
        &self,
        Parameters(args): Parameters<OrgOnly>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        self.call(
            &context,
            "resolve_workflow",
            String::new(),
            |api| async move {
                let org = api.org(args.org).await?;
                answer(&api.client.workflow_resolve(&org).await?)
            },
        )
        .await
    }
}

async fn share_or_unshare(
    api: Api,
    args: Share,
    unshare: bool,
) -> Result<CallToolResult, ToolError> {
    let org = api.org(args.org).await?;
    let session = api.session(&org, args.session)?;
    let request = ShareRequest {
        users: args.users,
        universal: args.universal,
        session,
        groups: args.groups,
        role: args.role,
    };
    answer(
        &api.client
            .items_share(&org, &args.key, &request, unshare)
            .await?,
    )
}
