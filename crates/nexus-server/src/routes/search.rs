//! Search over what the caller may read: `POST /api/orgs/{org}/search`, and rebuilding an
//! organization's index, `POST /api/orgs/{org}/search/reindex` (system administrator).

use axum::extract::{Path, State};
use nexus_api::search::{ReindexReport, SearchRequest, SearchResponse};

use super::{AppState, Caller, JsonBody};
use crate::error::ApiResult;

/// Keyword (and, with an embedder, semantic or hybrid) search over the files and knowledge
/// items of the organization that the caller may read. Ranks, `total`, snippets and
/// `next_cursor` count only those: the permission engine filters every match before
/// anything is ranked.
#[utoipa::path(post, path = "/api/orgs/{org}/search", tag = "search", operation_id = "search_query",
    params(("org" = String, Path, description = "Organization id")),
    request_body = SearchRequest,
    responses((status = 200, description = "One page of hits", body = SearchResponse)))]
pub async fn search_query(
    State(state): State<AppState>,
    Caller(context): Caller,
    Path(org): Path<String>,
    JsonBody(request): JsonBody<SearchRequest>,
) -> ApiResult<axum::Json<SearchResponse>> {
    Ok(axum::Json(
        state.fs.search().query(&context, &org, &request).await?,
    ))
}

/// Rebuilds the organization's search index from the store (the system administrator
/// only). Searches keep answering meanwhile.
#[utoipa::path(post, path = "/api/orgs/{org}/search/reindex", tag = "search", operation_id = "search_reindex",
    params(("org" = String, Path, description = "Organization id")),
    responses((status = 200, description = "Rebuilt", body = ReindexReport)))]
pub async fn search_reindex(
    State(state): State<AppState>,
    Caller(context): Caller,
    Path(org): Path<String>,
) -> ApiResult<axum::Json<ReindexReport>> {
    let documents = state.fs.search().reindex(&context, &org).await?;
    Ok(axum::Json(ReindexReport { org, documents }))
}
