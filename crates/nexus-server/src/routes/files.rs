//! Files and directories: `/api/fs`, `/api/stat`, `/api/ls`, `/api/mkdir`, `/api/mv`,
//! `/api/cp`, `/api/glob`, `/api/grep`, versions and the seed's `GET /api/orgs/{org}/{path}`.

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use nexus_api::{
    Entry, GlobRequest, GlobResult, GrepRequest, GrepResult, ListPage, ListQuery, MoveRequest,
    ReadQuery, RemoveQuery, RemoveResult, RestoreRequest, SetVersionPolicyRequest, VersionList,
    VersionPolicy, WriteQuery,
};
use nexus_core::{
    ByteRange, CallContext, ErrorCode, FsError, GlobOptions, GrepOptions, ListOptions, ReadOptions,
    WriteOptions,
};

use super::{AppState, Caller, JsonBody, QueryResult, absolute, header_text, quoted, read_body};
use crate::error::{ApiError, ApiResult};

fn content_type(path: &str) -> &'static str {
    let extension = path
        .rsplit_once('.')
        .map(|(_, ext)| ext.to_ascii_lowercase());
    match extension.as_deref() {
        Some("json") => "application/json",
        Some("md" | "txt" | "csv" | "yaml" | "yml" | "log") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// An entry as JSON with its `ETag`.
fn entry_response(status: StatusCode, entry: &Entry) -> Response {
    let mut response = (status, axum::Json(entry)).into_response();
    if let Some(value) = entry.etag.as_deref().and_then(quoted) {
        response.headers_mut().insert(header::ETAG, value);
    }
    response
}

async fn read_path(
    state: &AppState,
    context: &CallContext,
    path: &str,
    headers: &HeaderMap,
    version: Option<u64>,
) -> ApiResult<Response> {
    let range = match header_text(headers, &header::RANGE)? {
        None => None,
        Some(text) => {
            let spec = text.strip_prefix("bytes=").ok_or_else(|| {
                ApiError::new(
                    ErrorCode::RangeNotSatisfiable,
                    "only `Range: bytes=START-END` is supported",
                )
            })?;
            if spec.contains(',') {
                return Err(ApiError::new(
                    ErrorCode::RangeNotSatisfiable,
                    "multiple ranges are not supported",
                ));
            }
            Some(ByteRange::parse(spec.trim())?)
        }
    };
    let output = match state
        .fs
        .files()
        .read(context, path, ReadOptions { range, version })
        .await
    {
        Ok(output) => output,
        Err(FsError::RangeNotSatisfiable { path, range, size }) => {
            let error = ApiError::from(FsError::RangeNotSatisfiable { path, range, size });
            let mut response = error.into_response();
            if let Ok(value) = HeaderValue::from_str(&format!("bytes */{size}")) {
                response.headers_mut().insert(header::CONTENT_RANGE, value);
            }
            return Ok(response);
        }
        Err(error) => return Err(error.into()),
    };
    let etag = output.entry.etag.clone().unwrap_or_default();
    if let Some(wanted) = header_text(headers, &header::IF_NONE_MATCH)?
        && wanted.split(',').any(|tag| {
            tag.trim() == "*" || tag.trim().trim_start_matches("W/").trim_matches('"') == etag
        })
    {
        let mut response = StatusCode::NOT_MODIFIED.into_response();
        if let Some(value) = quoted(&etag) {
            response.headers_mut().insert(header::ETAG, value);
        }
        return Ok(response);
    }
    let status = if output.range.is_some() {
        StatusCode::PARTIAL_CONTENT
    } else {
        StatusCode::OK
    };
    let mut response = (status, Body::from(output.content)).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(path)),
    );
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if let Some(value) = quoted(&etag) {
        headers.insert(header::ETAG, value);
    }
    if let Some((start, end)) = output.range
        && let Ok(value) = HeaderValue::from_str(&format!(
            "bytes {start}-{}/{}",
            end.saturating_sub(1),
            output.entry.size
        ))
    {
        headers.insert(header::CONTENT_RANGE, value);
    }
    Ok(response)
}

/// Read a file (`ETag`, `Range`, `If-None-Match`).
#[utoipa::path(get, path = "/api/fs/{*path}", tag = "files", operation_id = "files_cat",
    params(
        ("path" = String, Path, description = "A path below `/` without the leading slash (e.g. `orgs/acme/sales/context.json`); may contain `/`."),
        ReadQuery,
        ("Range" = Option<String>, Header, nullable = false, description = "`bytes=START-END`, `START-` or `-LAST`"),
        ("If-None-Match" = Option<String>, Header, nullable = false, description = "Answer 304 if the ETag matches"),
    ),
    responses(
        (status = 200, description = "The content", content_type = "application/octet-stream", body = String,
            headers(("ETag" = String, description = "The file's entity tag"))),
        (status = 206, description = "A byte range",
            headers(("Content-Range" = String, description = "`bytes START-END/SIZE`"))),
        (status = 304, description = "Not modified"),
        (status = 416, description = "The range lies outside the content (`Content-Range: bytes */SIZE`)", body = nexus_api::ErrorBody),
    ))]
pub async fn files_cat(
    State(state): State<AppState>,
    caller: Caller,
    Path(path): Path<String>,
    query: QueryResult<ReadQuery>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let Query(query) = query?;
    read_path(&state, &caller.0, &absolute(&path), &headers, query.version).await
}

/// Read a file of an organization (the seed's route).
#[utoipa::path(get, path = "/api/orgs/{org}/{*path}", tag = "files", operation_id = "files_cat_in_org",
    params(
        ("org" = String, Path, description = "The organization id"),
        ("path" = String, Path, description = "A path inside the organization; may contain `/`."),
        ("Range" = Option<String>, Header, nullable = false, description = "`bytes=START-END`, `START-` or `-LAST`"),
        ("If-None-Match" = Option<String>, Header, nullable = false, description = "Answer 304 if the ETag matches"),
    ),
    responses(
        (status = 200, description = "The content", content_type = "application/octet-stream", body = String,
            headers(("ETag" = String, description = "The file's entity tag"))),
        (status = 206, description = "A byte range"),
        (status = 304, description = "Not modified"),
    ))]
pub async fn files_cat_in_org(
    State(state): State<AppState>,
    caller: Caller,
    Path((org, path)): Path<(String, String)>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    read_path(
        &state,
        &caller.0,
        &format!("/orgs/{org}/{path}"),
        &headers,
        None,
    )
    .await
}

/// Create or replace a file (`If-Match`, `If-None-Match: *`).
#[utoipa::path(put, path = "/api/fs/{*path}", tag = "files", operation_id = "files_write",
    params(
        ("path" = String, Path, description = "A path below `/` without the leading slash; may contain `/`."),
        WriteQuery,
        ("If-Match" = Option<String>, Header, nullable = false, description = "Write only if the current ETag is this one"),
        ("If-None-Match" = Option<String>, Header, nullable = false, description = "`*`: create only if absent"),
    ),
    request_body(content_type = "application/octet-stream", description = "The new content"),
    responses(
        (status = 200, description = "Replaced", body = Entry, headers(("ETag" = String, description = "The new entity tag"))),
        (status = 201, description = "Created", body = Entry, headers(("ETag" = String, description = "The new entity tag"))),
        (status = 409, description = "Conflict", body = nexus_api::ErrorBody),
        (status = 412, description = "Precondition failed", body = nexus_api::ErrorBody),
    ))]
pub async fn files_write(
    State(state): State<AppState>,
    Caller(context): Caller,
    Path(path): Path<String>,
    query: QueryResult<WriteQuery>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let Query(query) = query?;
    let body = read_body(body, state.max_body_bytes).await?;
    let if_match = header_text(&headers, &header::IF_MATCH)?.map(ToOwned::to_owned);
    let if_none_match = match header_text(&headers, &header::IF_NONE_MATCH)? {
        None => false,
        Some("*") => true,
        Some(_) => {
            return Err(ApiError::invalid(
                "`If-None-Match` on a write must be `*` (create only if absent)",
            ));
        }
    };
    let entry = state
        .fs
        .files()
        .write(
            &context,
            &absolute(&path),
            body,
            WriteOptions {
                if_match,
                if_none_match,
                create_parents: query.parents,
            },
        )
        .await?;
    let status = if entry.version <= 1 {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(entry_response(status, &entry))
}

/// Remove a file or directory.
#[utoipa::path(delete, path = "/api/fs/{*path}", tag = "files", operation_id = "files_rm",
    params(
        ("path" = String, Path, description = "A path below `/` without the leading slash; may contain `/`."),
        RemoveQuery,
    ),
    responses(
        (status = 200, description = "Removed", body = RemoveResult),
        (status = 409, description = "Conflict", body = nexus_api::ErrorBody),
    ))]
pub async fn files_rm(
    State(state): State<AppState>,
    Caller(context): Caller,
    Path(path): Path<String>,
    query: QueryResult<RemoveQuery>,
) -> ApiResult<axum::Json<RemoveResult>> {
    let Query(query) = query?;
    let result = state
        .fs
        .files()
        .rm(&context, &absolute(&path), query.recursive)
        .await?;
    Ok(axum::Json(result))
}

/// Metadata of a file or directory.
#[utoipa::path(get, path = "/api/stat/{*path}", tag = "files", operation_id = "files_stat",
    params(("path" = String, Path, description = "A path below `/` without the leading slash; may contain `/`.")),
    responses((status = 200, description = "The entry", body = Entry)))]
pub async fn files_stat(
    State(state): State<AppState>,
    Caller(context): Caller,
    Path(path): Path<String>,
) -> ApiResult<Response> {
    let entry = state.fs.files().stat(&context, &absolute(&path)).await?;
    Ok(entry_response(StatusCode::OK, &entry))
}

async fn list_path(
    state: &AppState,
    context: &CallContext,
    path: &str,
    query: ListQuery,
) -> ApiResult<axum::Json<ListPage>> {
    let page = state
        .fs
        .files()
        .ls(
            context,
            path,
            ListOptions {
                recursive: query.recursive,
                limit: query.limit,
                cursor: query.cursor,
            },
        )
        .await?;
    Ok(axum::Json(page))
}

/// List `/`: `orgs`.
#[utoipa::path(get, path = "/api/ls", tag = "files", operation_id = "files_ls_root",
    params(ListQuery),
    responses((status = 200, description = "One page of entries", body = ListPage)))]
pub async fn files_ls_root(
    State(state): State<AppState>,
    Caller(context): Caller,
    query: QueryResult<ListQuery>,
) -> ApiResult<axum::Json<ListPage>> {
    let Query(query) = query?;
    list_path(&state, &context, "/", query).await
}

/// List a directory (only what the caller may see).
#[utoipa::path(get, path = "/api/ls/{*path}", tag = "files", operation_id = "files_ls",
    params(
        ("path" = String, Path, description = "A path below `/` without the leading slash; may contain `/`."),
        ListQuery,
    ),
    responses((status = 200, description = "One page of entries", body = ListPage)))]
pub async fn files_ls(
    State(state): State<AppState>,
    Caller(context): Caller,
    Path(path): Path<String>,
    query: QueryResult<ListQuery>,
) -> ApiResult<axum::Json<ListPage>> {
    let Query(query) = query?;
    list_path(&state, &context, &absolute(&path), query).await
}

/// Create a directory.
#[utoipa::path(post, path = "/api/mkdir/{*path}", tag = "files", operation_id = "files_mkdir",
    params(
        ("path" = String, Path, description = "A path below `/` without the leading slash; may contain `/`."),
        WriteQuery,
    ),
    responses(
        (status = 201, description = "Created", body = Entry),
        (status = 409, description = "Conflict", body = nexus_api::ErrorBody),
    ))]
pub async fn files_mkdir(
    State(state): State<AppState>,
    Caller(context): Caller,
    Path(path): Path<String>,
    query: QueryResult<WriteQuery>,
) -> ApiResult<Response> {
    let Query(query) = query?;
    let entry = state
        .fs
        .files()
        .mkdir(&context, &absolute(&path), query.parents)
        .await?;
    Ok(entry_response(StatusCode::CREATED, &entry))
}

/// Move or rename.
#[utoipa::path(post, path = "/api/mv", tag = "files", operation_id = "files_mv",
    request_body = MoveRequest,
    responses(
        (status = 200, description = "Moved", body = Entry),
        (status = 409, description = "Conflict", body = nexus_api::ErrorBody),
    ))]
pub async fn files_mv(
    State(state): State<AppState>,
    Caller(context): Caller,
    JsonBody(body): JsonBody<MoveRequest>,
) -> ApiResult<Response> {
    crate::audit::note_place(crate::audit::org_of_path(&body.from), body.from.clone());
    let entry = state
        .fs
        .files()
        .mv(&context, &body.from, &body.to, body.overwrite)
        .await?;
    Ok(entry_response(StatusCode::OK, &entry))
}

/// Copy (content is shared, not duplicated).
#[utoipa::path(post, path = "/api/cp", tag = "files", operation_id = "files_cp",
    request_body = MoveRequest,
    responses(
        (status = 201, description = "Copied", body = Entry),
        (status = 409, description = "Conflict", body = nexus_api::ErrorBody),
    ))]
pub async fn files_cp(
    State(state): State<AppState>,
    Caller(context): Caller,
    JsonBody(body): JsonBody<MoveRequest>,
) -> ApiResult<Response> {
    crate::audit::note_place(crate::audit::org_of_path(&body.from), body.from.clone());
    let entry = state
        .fs
        .files()
        .cp(
            &context,
            &body.from,
            &body.to,
            body.recursive,
            body.overwrite,
        )
        .await?;
    Ok(entry_response(StatusCode::CREATED, &entry))
}

/// Paths matching a glob pattern.
#[utoipa::path(post, path = "/api/glob", tag = "files", operation_id = "files_glob",
    request_body = GlobRequest,
    responses((status = 200, description = "The matching entries", body = GlobResult)))]
pub async fn files_glob(
    State(state): State<AppState>,
    Caller(context): Caller,
    JsonBody(body): JsonBody<GlobRequest>,
) -> ApiResult<axum::Json<GlobResult>> {
    let result = state
        .fs
        .files()
        .glob(&context, &body.pattern, GlobOptions { limit: body.limit })
        .await?;
    Ok(axum::Json(result))
}

/// Lines matching a regular expression.
#[utoipa::path(post, path = "/api/grep", tag = "files", operation_id = "files_grep",
    request_body = GrepRequest,
    responses((status = 200, description = "The matches", body = GrepResult)))]
pub async fn files_grep(
    State(state): State<AppState>,
    Caller(context): Caller,
    JsonBody(body): JsonBody<GrepRequest>,
) -> ApiResult<axum::Json<GrepResult>> {
    let result = state
        .fs
        .files()
        .grep(
            &context,
            &body.pattern,
            &body.path,
            GrepOptions {
                ignore_case: body.ignore_case,
                context: body.context,
                max_matches: body.max_matches,
                include: body.include,
                max_file_bytes: None,
            },
        )
        .await?;
    Ok(axum::Json(result))
}

/// The stored versions of a file, newest first.
#[utoipa::path(get, path = "/api/versions/{*path}", tag = "versions", operation_id = "versions_list",
    params(("path" = String, Path, description = "A path below `/` without the leading slash; may contain `/`.")),
    responses((status = 200, description = "The versions", body = VersionList)))]
pub async fn versions_list(
    State(state): State<AppState>,
    Caller(context): Caller,
    Path(path): Path<String>,
) -> ApiResult<axum::Json<VersionList>> {
    let versions = state
        .fs
        .files()
        .versions(&context, &absolute(&path))
        .await?;
    Ok(axum::Json(VersionList { versions }))
}

/// Make an old version current again (as a new version).
#[utoipa::path(post, path = "/api/restore/{*path}", tag = "versions", operation_id = "versions_restore",
    params(("path" = String, Path, description = "A path below `/` without the leading slash; may contain `/`.")),
    request_body = RestoreRequest,
    responses((status = 200, description = "The file as restored", body = Entry)))]
pub async fn versions_restore(
    State(state): State<AppState>,
    Caller(context): Caller,
    Path(path): Path<String>,
    JsonBody(body): JsonBody<RestoreRequest>,
) -> ApiResult<Response> {
    let entry = state
        .fs
        .files()
        .restore(&context, &absolute(&path), body.version)
        .await?;
    Ok(entry_response(StatusCode::OK, &entry))
}

fn policy_of(org: String, policy: nexus_core::VersionPolicy) -> VersionPolicy {
    VersionPolicy {
        org,
        keep: policy.keep_last,
        keep_days: policy.keep_days,
    }
}

/// An organization's version retention.
#[utoipa::path(get, path = "/api/version-policy/{org}", tag = "versions", operation_id = "versions_policy",
    params(("org" = String, Path, description = "The organization id")),
    responses((status = 200, description = "The policy", body = VersionPolicy)))]
pub async fn versions_policy(
    State(state): State<AppState>,
    Caller(context): Caller,
    Path(org): Path<String>,
) -> ApiResult<axum::Json<VersionPolicy>> {
    let policy = state.fs.files().version_policy(&context, &org).await?;
    Ok(axum::Json(policy_of(org, policy)))
}

/// Set an organization's version retention (organization admins).
#[utoipa::path(put, path = "/api/version-policy/{org}", tag = "versions", operation_id = "versions_set_policy",
    params(("org" = String, Path, description = "The organization id")),
    request_body = SetVersionPolicyRequest,
    responses((status = 200, description = "The policy now in force", body = VersionPolicy)))]
pub async fn versions_set_policy(
    State(state): State<AppState>,
    Caller(context): Caller,
    Path(org): Path<String>,
    JsonBody(body): JsonBody<SetVersionPolicyRequest>,
) -> ApiResult<axum::Json<VersionPolicy>> {
    let policy = nexus_core::VersionPolicy {
        keep_last: body.keep,
        keep_days: body.keep_days,
    };
    let policy = state
        .fs
        .files()
        .set_version_policy(&context, &org, policy)
        .await?;
    Ok(axum::Json(policy_of(org, policy)))
}
