//! Resources and prompts: what an assistant loads at the start of a conversation.
//!
//! - `nexus://workflow/<org>`: the caller's resolved workflow protocols (JSON);
//! - `nexus://sessions/<org>`: the caller's active sessions (JSON);
//! - `nexus://orgs/<org>/<path>`: a file (text, or base64 for binary content).
//!
//! Reads go through the same API calls as the tools, and are recorded like tool calls.

use base64::Engine as _;
use nexus_api::ErrorCode;
use rmcp::ErrorData;
use rmcp::model::{
    GetPromptRequestParams, GetPromptResponse, GetPromptResult, ListPromptsResult,
    ListResourceTemplatesResult, ListResourcesResult, Prompt, PromptArgument, PromptMessage,
    ReadResourceResponse, ReadResourceResult, Resource, ResourceContents, ResourceTemplate, Role,
};
use rmcp::service::{RequestContext, RoleServer};

use crate::tools::as_text;
use crate::{NexusMcp, ToolError};

/// The prompt that loads the caller's context.
const START_PROMPT: &str = "start";

/// A resource answer from an API error: not found stays "not found" (it never says whether
/// a hidden path exists); anything else carries the API's code and message.
fn resource_error(error: ToolError) -> ErrorData {
    let data = Some(serde_json::json!({"code": error.code.as_str()}));
    if error.code == ErrorCode::NotFound {
        ErrorData::resource_not_found(error.message, data)
    } else {
        ErrorData::invalid_params(format!("{}: {}", error.code.as_str(), error.message), data)
    }
}

/// The caller's workflow and sessions in each of its organizations.
pub(crate) async fn list(
    server: &NexusMcp,
    context: &RequestContext<RoleServer>,
) -> Result<ListResourcesResult, ErrorData> {
    server
        .run(context, "list_resources", String::new(), |api| async move {
            let whoami = api.client.whoami().await?;
            let mut resources = Vec::new();
            for org in &whoami.orgs {
                resources.push(
                    Resource::new(format!("nexus://workflow/{org}"), format!("workflow-{org}"))
                        .with_title(format!("Your workflow protocols in {org}"))
                        .with_description(
                            "The organization's protocols, each overridden by your own of the same name. Follow them.",
                        )
                        .with_mime_type("application/json"),
                );
                resources.push(
                    Resource::new(format!("nexus://sessions/{org}"), format!("sessions-{org}"))
                        .with_title(format!("Your active sessions in {org}"))
                        .with_mime_type("application/json"),
                );
            }
            Ok(ListResourcesResult::with_all_items(resources))
        })
        .await
        .map_err(resource_error)
}

/// Files by URI.
pub(crate) fn templates() -> ListResourceTemplatesResult {
    ListResourceTemplatesResult::with_all_items(vec![
        ResourceTemplate::new("nexus://orgs/{org}/{+path}", "file")
            .with_title("A file")
            .with_description("A file you may read, e.g. nexus://orgs/acme/sales/notes.md"),
    ])
}

/// What a `nexus://` URI names.
enum Named {
    Workflow(String),
    Sessions(String),
    File(String),
}

fn parse(uri: &str) -> Result<Named, ToolError> {
    let rest = uri.strip_prefix("nexus://").ok_or_else(|| {
        ToolError::new(
            ErrorCode::NotFound,
            format!("no resource `{uri}`: use a nexus:// URI"),
        )
    })?;
    if let Some(org) = rest.strip_prefix("workflow/") {
        return Ok(Named::Workflow(org.to_owned()));
    }
    if let Some(org) = rest.strip_prefix("sessions/") {
        return Ok(Named::Sessions(org.to_owned()));
    }
    if rest.starts_with("orgs/") {
        return Ok(Named::File(format!("/{rest}")));
    }
    Err(ToolError::new(
        ErrorCode::NotFound,
        format!("no resource `{uri}`"),
    ))
}

fn json_contents(
    uri: &str,
    value: &impl serde::Serialize,
) -> Result<ReadResourceResult, ToolError> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|error| ToolError::new(ErrorCode::Internal, format!("cannot encode: {error}")))?;
    Ok(ReadResourceResult::new(vec![
        ResourceContents::text(text, uri).with_mime_type("application/json"),
    ]))
}

pub(crate) async fn read(
    server: &NexusMcp,
    context: &RequestContext<RoleServer>,
    uri: &str,
) -> Result<ReadResourceResponse, ErrorData> {
    let uri = uri.to_owned();
    let result = server
        .run(context, "read_resource", uri.clone(), |api| async move {
            match parse(&uri)? {
                Named::Workflow(org) => {
                    json_contents(&uri, &api.client.workflow_resolve(&org).await?)
                }
                Named::Sessions(org) => {
                    json_contents(&uri, &api.client.sessions_list(&org, Some(true)).await?)
                }
                Named::File(path) => {
                    let read = api.client.read(&path, None, None).await?;
                    let contents = match as_text(&read.content) {
                        Some(text) => ResourceContents::text(text, uri.clone()),
                        None => ResourceContents::blob(
                            base64::engine::general_purpose::STANDARD.encode(&read.content),
                            uri.clone(),
                        )
                        .with_mime_type("application/octet-stream"),
                    };
                    Ok(ReadResourceResult::new(vec![contents]))
                }
            }
        })
        .await
        .map_err(resource_error)?;
    Ok(ReadResourceResponse::Complete(result))
}

pub(crate) fn prompts() -> ListPromptsResult {
    ListPromptsResult::with_all_items(vec![
        Prompt::new(
            START_PROMPT,
            Some(
                "Load your workflow protocols and active sessions from Nexus before starting work.",
            ),
            Some(vec![
                PromptArgument::new("org")
                    .with_description("The organization (needed only when you belong to several)")
                    .with_required(false),
            ]),
        )
        .with_title("Start with your Nexus context"),
    ])
}

pub(crate) async fn prompt(
    server: &NexusMcp,
    context: &RequestContext<RoleServer>,
    request: GetPromptRequestParams,
) -> Result<GetPromptResponse, ErrorData> {
    if request.name != START_PROMPT {
        return Err(ErrorData::invalid_params(
            format!(
                "no prompt `{}`: the prompt is `{START_PROMPT}`",
                request.name
            ),
            None,
        ));
    }
    let org = request
        .arguments
        .as_ref()
        .and_then(|arguments| arguments.get("org"))
        .and_then(serde_json::Value::as_str)
        .map(ToOwned::to_owned);
    let result = server
        .run(context, "get_prompt", START_PROMPT.to_owned(), |api| async move {
            let org = api.org(org).await?;
            let workflow = api.client.workflow_resolve(&org).await?;
            let sessions = api.client.sessions_list(&org, Some(true)).await?;
            let encode = |value: serde_json::Value| {
                serde_json::to_string_pretty(&value).unwrap_or_default()
            };
            let text = format!(
                "You work in the organization `{org}` through Nexus.\n\nYour workflow protocols (follow them; `source` says whether a protocol is the organization's `UNIV` or your own):\n{}\n\nYour active sessions (join one with `join_session` to work in it):\n{}\n\nItems you create are personal unless the person asks to share them.",
                encode(serde_json::to_value(&workflow).unwrap_or_default()),
                encode(serde_json::to_value(&sessions).unwrap_or_default()),
            );
            Ok(GetPromptResult::new(vec![PromptMessage::new_text(Role::User, text)])
                .with_description("Your Nexus context"))
        })
        .await
        .map_err(resource_error)?;
    Ok(GetPromptResponse::Complete(result))
}
