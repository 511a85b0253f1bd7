//! `nexus mcp`: the MCP tools over standard input and output, and `nexus delegation`
//! (see `docs/mcp.md`).

use std::sync::Arc;

use futures::future::BoxFuture;
use nexus_core::{ErrorCode, Fs, Principal};
use nexus_mcp::rmcp::ServiceExt as _;
use nexus_mcp::{FixedConnector, NexusMcp, Recorder, ToolCall};

use crate::cli::DelegationCommand;
use crate::commands::Session;
use crate::output::{CliError, print_json, write_stdout};

/// Records the tool calls made on a data directory in its audit log (a server records
/// what its API does itself).
#[derive(Debug)]
struct DataDirRecorder {
    fs: Fs,
    /// The acting principal, as stored.
    actor: String,
}

impl Recorder for DataDirRecorder {
    fn record(&self, call: ToolCall) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            nexus_server::audit::record_tool_call(
                &self.fs,
                nexus_server::audit::ToolCallRecord {
                    actor: self.actor.clone(),
                    on_behalf_of: None,
                    call,
                    request_id: nexus_server::routes::new_request_id(),
                    client: None,
                    user_agent: Some("nexus mcp (stdio)".to_owned()),
                },
            )
            .await;
        })
    }
}

impl Session {
    pub(crate) async fn mcp(&self) -> Result<(), CliError> {
        let connector = match self.target.data_dir() {
            Some(fs) => {
                if *self.target.principal() == Principal::System {
                    return Err(CliError::new(
                        ErrorCode::InvalidInput,
                        "`nexus mcp` on a data directory needs the principal the assistant acts as",
                    )
                    .with_hint("pass `--as agent:<id>` or `--as user:<id>`, or set NEXUS_AS"));
                }
                let actor = fs
                    .context(self.target.principal().clone())
                    .principal
                    .to_string();
                FixedConnector::new(
                    self.target.client().clone(),
                    actor.clone(),
                    Some(Arc::new(DataDirRecorder {
                        fs: fs.clone(),
                        actor,
                    })),
                )
            }
            None => FixedConnector::new(self.target.client().clone(), "remote".to_owned(), None),
        };
        let server = NexusMcp::new(Arc::new(connector))
            .serve(nexus_mcp::rmcp::transport::stdio())
            .await
            .map_err(|error| {
                CliError::new(
                    ErrorCode::Unavailable,
                    format!("the MCP connection could not start: {error}"),
                )
            })?;
        server.waiting().await.map_err(|error| {
            CliError::new(
                ErrorCode::Internal,
                format!("the MCP server stopped: {error}"),
            )
        })?;
        Ok(())
    }
}

impl Session {
    pub(crate) async fn delegation(&self, command: DelegationCommand) -> Result<(), CliError> {
        let client = self.target.client();
        match command {
            DelegationCommand::Create {
                agent,
                expires_in,
                description,
            } => {
                let created = client
                    .delegate(&agent, Some(&expires_in), &description)
                    .await?;
                if self.printer.json {
                    return print_json(&created);
                }
                write_stdout(
                    format!(
                        "{} may act for {} until {} (secret shown once; give it to the agent):\n  {}\n  id: {}\n",
                        created.delegation.agent,
                        created.delegation.user,
                        created.delegation.expires_at,
                        created.secret,
                        created.delegation.id
                    )
                    .as_bytes(),
                )
            }
            DelegationCommand::Ls => {
                let delegations = client.delegations().await?;
                if self.printer.json {
                    return print_json(&delegations);
                }
                let mut out = String::new();
                for delegation in delegations {
                    out.push_str(&format!(
                        "{}\t{}\t{}\t{}\t{}\t{}\n",
                        delegation.id,
                        delegation.agent,
                        delegation.user,
                        delegation.expires_at,
                        if delegation.revoked {
                            "revoked"
                        } else {
                            "active"
                        },
                        delegation.description
                    ));
                }
                write_stdout(out.as_bytes())
            }
            DelegationCommand::Revoke { id } => {
                client.revoke_delegation(&id).await?;
                if self.printer.json {
                    return print_json(&serde_json::json!({"revoked": id}));
                }
                write_stdout(format!("revoked {id}\n").as_bytes())
            }
        }
    }
}
