//! The audit log: `GET /api/audit` (organization admins for their organization, the system
//! administrator for every log). Nothing writes it through the API.

use axum::extract::{Query, State};
use nexus_api::AuditPage;
use nexus_api::audit::AuditQuery;

use super::{AppState, Caller, QueryResult};
use crate::error::ApiResult;

/// A page of audit entries, oldest first, filtered.
#[utoipa::path(get, path = "/api/audit", tag = "audit", operation_id = "audit_list",
    params(AuditQuery),
    responses((status = 200, description = "One page", body = AuditPage)))]
pub async fn audit_list(
    State(state): State<AppState>,
    Caller(context): Caller,
    query: QueryResult<AuditQuery>,
) -> ApiResult<axum::Json<AuditPage>> {
    let Query(query) = query?;
    Ok(axum::Json(state.fs.audit().list(&context, query).await?))
}
