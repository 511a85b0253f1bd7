//! The OpenAPI document, generated from the `nexus-api` types and the routes' annotations.
//!
//! The committed `openapi.json` must equal [`document`]'s output (a test compares them;
//! `NEXUS_UPDATE_OPENAPI=1 cargo test -p nexus-server openapi` rewrites it).

use serde_json::{Map, Value, json};
use utoipa::OpenApi;

/// The document's fixed parts; the paths come from the router.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Nexus",
        version = "0.1.0",
        description = "Multi-tenant context store: one virtual filesystem per organization, every access decided by a relationship-based permission engine. Errors are `{\"error\":{\"code\",\"message\",\"request_id\"}}` (schema `ErrorBody`; the codes and their statuses are `ErrorCode`'s). Operation ids are `<resource>_<verb>`, the verb being the CLI's where it has one."
    ),
    servers((url = "http://localhost:8080")),
    components(schemas(
        nexus_api::ErrorBody,
        nexus_api::ErrorCode,
        nexus_api::UserProfile,
        nexus_api::Locker,
        nexus_api::TrackItem,
        nexus_api::KbNode,
        nexus_api::Contact,
        nexus_api::SessionTemplate,
        nexus_api::ContextNote,
        nexus_api::Document,
        nexus_api::Link,
        nexus_api::WorkflowProtocol,
        nexus_api::TempItem,
        nexus_api::Transcript,
        nexus_api::Reminder,
    )),
    security(("bearer" = [])),
    tags(
        (name = "files", description = "Files and directories"),
        (name = "versions", description = "Versions and their retention"),
        (name = "orgs", description = "Organizations and members"),
        (name = "accounts", description = "Principals"),
        (name = "keys", description = "API keys"),
        (name = "audit", description = "The audit log"),
        (name = "changes", description = "Organizations' change feeds, filtered by what the caller may read"),
        (name = "notifications", description = "Each caller's notification feed: reminders, sessions, shares"),
        (name = "acl", description = "ACL entries"),
        (name = "relationships", description = "Relationships (ReBAC) and their change log"),
        (name = "permissions", description = "Checks, expansions, lookups and the schema"),
        (name = "items", description = "Knowledge items of the thirteen environments, their sharing and workflow resolution"),
        (name = "sessions", description = "Solo and group sessions"),
        (name = "search", description = "Search over the files and knowledge items the caller may read"),
        (name = "system", description = "Health, readiness, metrics and this document"),
    ),
)]
#[derive(Debug)]
pub struct ApiDoc;

/// Error responses shared by operations: (status, component name, description, header).
const ERRORS: [(&str, &str, &str, Option<&str>); 11] = [
    (
        "400",
        "BadRequest",
        "The request is malformed (`invalid_path`, `invalid_input`)",
        None,
    ),
    (
        "401",
        "Unauthenticated",
        "Missing or invalid credentials (with `WWW-Authenticate`)",
        None,
    ),
    (
        "403",
        "Forbidden",
        "Permission denied (`permission_denied`, `evaluation_failed`)",
        None,
    ),
    (
        "404",
        "NotFound",
        "Not found, or not visible to the caller",
        None,
    ),
    (
        "409",
        "Conflict",
        "The change conflicts with the current state (e.g. the target exists, or it would leave an organization without an active admin)",
        None,
    ),
    (
        "412",
        "PreconditionFailed",
        "A condition did not hold; `ETag` carries the current entity tag",
        Some("ETag"),
    ),
    (
        "413",
        "PayloadTooLarge",
        "The body is larger than the server's `limits.max_body_bytes`",
        None,
    ),
    (
        "416",
        "RangeNotSatisfiable",
        "The byte range lies outside the content (`Content-Range: bytes */SIZE`)",
        Some("Content-Range"),
    ),
    (
        "422",
        "ScopeNotAllowed",
        "The knowledge layer's scoping matrix does not allow this scope or form of sharing in the environment (`scope_not_allowed`)",
        None,
    ),
    (
        "429",
        "TooManyRequests",
        "Too many refused requests from this address: failed authentications, or refusals naming principals the caller cannot know (`Retry-After` says when to retry)",
        Some("Retry-After"),
    ),
    (
        "503",
        "Unavailable",
        "The server cannot answer now (shutting down, store unavailable, deadline passed)",
        None,
    ),
];

/// Statuses every authenticated operation may answer.
const COMMON: [&str; 6] = ["400", "401", "403", "404", "429", "503"];

/// The finished document as JSON: axum's `{*path}` segments written `{path}`, the shared
/// error responses declared once and referenced from every operation.
pub fn document(generated: &utoipa::openapi::OpenApi) -> Value {
    let mut document = serde_json::to_value(generated).unwrap_or(Value::Null);
    if let Some(paths) = document.get_mut("paths").and_then(Value::as_object_mut) {
        let taken = std::mem::take(paths);
        for (path, mut item) in taken {
            if let Some(operations) = item.as_object_mut() {
                for operation in operations.values_mut() {
                    finish_operation(operation);
                }
            }
            paths.insert(path.replace("{*", "{"), item);
        }
    }
    let mut responses = Map::new();
    for (_, name, description, header) in ERRORS {
        let mut response = json!({
            "description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
        });
        if let (Some(header), Some(object)) = (header, response.as_object_mut()) {
            object.insert(
                "headers".to_owned(),
                json!({ header: {"schema": {"type": "string"}} }),
            );
        }
        responses.insert(name.to_owned(), response);
    }
    if let Some(components) = document
        .get_mut("components")
        .and_then(Value::as_object_mut)
    {
        // The one code → status map, published for clients (`x-status` on `ErrorCode`).
        if let Some(Value::Object(code)) = components
            .get_mut("schemas")
            .and_then(|schemas| schemas.get_mut("ErrorCode"))
        {
            let statuses: Map<String, Value> = nexus_api::ErrorCode::ALL
                .iter()
                .map(|code| (code.as_str().to_owned(), json!(code.status())))
                .collect();
            code.insert("x-status".to_owned(), Value::Object(statuses));
        }
        components.insert("responses".to_owned(), Value::Object(responses));
        components.insert(
            "securitySchemes".to_owned(),
            json!({"bearer": {"type": "http", "scheme": "bearer", "description": "An API key (`nx_...`) or a JWT"}}),
        );
    }
    document
}

fn finish_operation(operation: &mut Value) {
    let open = operation
        .get("security")
        .and_then(Value::as_array)
        .is_some_and(|security| security.iter().all(|entry| entry == &json!({})));
    let has_body = operation.get("requestBody").is_some();
    let Some(responses) = operation
        .get_mut("responses")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    let mut statuses: Vec<&str> = Vec::new();
    if !open {
        statuses.extend(COMMON);
    }
    if has_body {
        statuses.push("413");
    }
    for status in statuses {
        responses.entry(status.to_owned()).or_insert(Value::Null);
    }
    for (status, response) in responses.iter_mut() {
        if let Some((_, name, _, _)) = ERRORS.iter().find(|(code, ..)| code == status) {
            *response = json!({"$ref": format!("#/components/responses/{name}")});
        }
    }
}
