//! Organization archives (system administrators): `GET /api/admin/orgs/{org}/export` answers
//! the archive (`application/zstd`, a zstd-compressed tar; format in `docs/archives.md`),
//! `POST /api/admin/orgs/import` restores one from the request body.

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use nexus_api::{ArchiveReport, ImportOptions};

use super::{AppState, Caller, QueryResult, read_body};
use crate::error::ApiResult;

/// The media type of an archive.
pub const ARCHIVE_MEDIA_TYPE: &str = "application/zstd";

/// Export an organization: its files with every version, relationships, sessions and
/// items, reminder schedule, change feed, audit log and sealed locker secrets (never in
/// clear). The export is recorded in the organization's audit log.
#[utoipa::path(get, path = "/api/admin/orgs/{org}/export", tag = "orgs", operation_id = "orgs_export",
    params(("org" = String, Path, description = "Organization id")),
    responses(
        (status = 200, description = "The archive", content_type = "application/zstd", body = Vec<u8>,
            headers(("X-Nexus-Archive" = String, description = "What the archive holds, as the JSON of `ArchiveReport`"))),
        (status = 404, description = "No such organization", body = nexus_api::ErrorBody),
    ))]
pub async fn orgs_export(
    State(state): State<AppState>,
    Caller(context): Caller,
    Path(org): Path<String>,
) -> ApiResult<Response> {
    let (report, archive) = state
        .fs
        .archives()
        .export(&context, &org, Vec::new())
        .await?;
    let summary = serde_json::to_string(&report).unwrap_or_default();
    let mut response = Body::from(archive).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static(ARCHIVE_MEDIA_TYPE),
    );
    if let Ok(value) = header::HeaderValue::from_str(&summary) {
        headers.insert("x-nexus-archive", value);
    }
    if let Ok(value) =
        header::HeaderValue::from_str(&format!("attachment; filename=\"{org}.tar.zst\""))
    {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

/// Import an organization from an archive (the request body, at most `limits.max_body_bytes`).
/// Refused (`conflict`) if the organization exists, unless `replace=true`; an archive that
/// was altered or damaged is refused (`invalid_input`). Either way nothing changes.
#[utoipa::path(post, path = "/api/admin/orgs/import", tag = "orgs", operation_id = "orgs_import",
    params(ImportOptions),
    request_body(content_type = "application/zstd", description = "An archive from `orgs_export`"),
    responses(
        (status = 200, description = "Imported", body = ArchiveReport),
        (status = 409, description = "The organization exists, or the archive's secrets need another master key", body = nexus_api::ErrorBody),
    ))]
pub async fn orgs_import(
    State(state): State<AppState>,
    Caller(context): Caller,
    options: QueryResult<ImportOptions>,
    body: Body,
) -> ApiResult<axum::Json<ArchiveReport>> {
    let Query(options) = options?;
    let archive = read_body(body, state.max_body_bytes).await?;
    let report = state
        .fs
        .archives()
        .import(&context, std::io::Cursor::new(archive), options.replace)
        .await?;
    Ok(axum::Json(report))
}
