//! `nexus item`, `nexus session`, `nexus share` and `nexus workflow`: the knowledge layer,
//! through the same API on a data directory or a server.

use std::io::Read;

use nexus_api::{
    CreateItem, CreateSession, Item, ItemListQuery, Session, SessionType, ShareRequest,
};
use nexus_core::ErrorCode;
use serde_json::Value;

use crate::cli::{
    AuditCommand, DataArgs, ItemCommand, ItemFilters, NotificationCommand, OrgArg, SessionCommand,
    ShareArgs, WorkflowCommand,
};
use crate::commands::Session as Command;
use crate::output::{CliError, print_json, write_stdout};

/// Items per page when listing every page.
const PAGE: usize = 500;

/// The data of `--data` or `--data-file`.
fn read_data(args: &DataArgs) -> Result<Value, CliError> {
    let text = match (&args.data, &args.data_file) {
        (Some(text), _) => text.clone(),
        (None, Some(path)) if path.as_os_str() == "-" => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|error| {
                    CliError::new(
                        ErrorCode::InvalidInput,
                        format!("cannot read standard input: {error}"),
                    )
                })?;
            text
        }
        (None, Some(path)) => std::fs::read_to_string(path).map_err(|error| {
            CliError::new(
                ErrorCode::InvalidInput,
                format!("cannot read `{}`: {error}", path.display()),
            )
        })?,
        (None, None) => {
            return Err(CliError::new(
                ErrorCode::InvalidInput,
                "give the item's data with `--data JSON` or `--data-file FILE`",
            ));
        }
    };
    serde_json::from_str(&text).map_err(|error| {
        CliError::new(
            ErrorCode::InvalidInput,
            format!("the data is not JSON: {error}"),
        )
    })
}

/// A one-line summary of an item's data: its title, name or text.
fn summary(item: &Item) -> String {
    let text = ["title", "name", "display_name", "text", "url"]
        .iter()
        .find_map(|field| item.data.get(*field).and_then(Value::as_str))
        .unwrap_or("");
    let line: String = text.lines().next().unwrap_or("").chars().take(60).collect();
    line
}

fn item_lines(items: &[Item]) -> String {
    let mut out = String::new();
    for item in items {
        out.push_str(&format!(
            "{}\t{}\t{}\n",
            item.key,
            item.owner,
            summary(item)
        ));
    }
    out
}

fn session_line(session: &Session) -> String {
    let kind = match session.session_type {
        SessionType::Solo => "solo",
        SessionType::Group => "group",
    };
    format!(
        "{}\t{kind}\t{}\t{}\t{}\n",
        session.stable_id,
        if session.active { "active" } else { "ended" },
        session.title,
        session.members.join(",")
    )
}

impl Command {
    /// The organization a knowledge command acts in: `--org`/`NEXUS_ORG`, else the only one
    /// the caller belongs to.
    pub(crate) async fn org(&self, arg: &OrgArg) -> Result<String, CliError> {
        if let Some(org) = &arg.org {
            return Ok(org.clone());
        }
        let whoami = self.target.client().whoami().await?;
        match whoami.orgs.as_slice() {
            [only] => Ok(only.clone()),
            [] => Err(CliError::new(
                ErrorCode::NotFound,
                "you belong to no organization",
            )),
            _ => Err(CliError::new(
                ErrorCode::InvalidInput,
                format!(
                    "you belong to several organizations ({}): name one with `--org` or `NEXUS_ORG`",
                    whoami.orgs.join(", ")
                ),
            )),
        }
    }

    fn show_item(&self, item: &Item) -> Result<(), CliError> {
        if self.printer.json {
            return print_json(item);
        }
        let data = serde_json::to_string_pretty(&item.data).unwrap_or_default();
        write_stdout(
            format!(
                "{}\nowner {}  version {}  etag {}\n{data}\n",
                item.key, item.owner, item.version, item.etag
            )
            .as_bytes(),
        )
    }

    pub(crate) async fn item(&self, command: ItemCommand) -> Result<(), CliError> {
        let client = self.target.client();
        match command {
            ItemCommand::Create {
                env,
                scope,
                kind,
                id,
                session,
                data,
                org,
            } => {
                let org = self.org(&org).await?;
                let request = CreateItem {
                    env,
                    scope,
                    kind,
                    id,
                    data: read_data(&data)?,
                    session,
                };
                let created = client.items_create(&org, &request).await?;
                if self.printer.json {
                    return print_json(&created);
                }
                self.printer.note(&format!("created {}", created.key));
                if let Some(hint) = &created.sharing_hint {
                    self.printer.note(&format!(
                        "hint: {} (`nexus share {} --session {}`)",
                        hint.message, created.key, hint.session
                    ));
                }
                write_stdout(format!("{}\n", created.key).as_bytes())
            }
            ItemCommand::Get { key, org } => {
                let org = self.org(&org).await?;
                let item = client.items_get(&org, &key).await?;
                self.show_item(&item)
            }
            ItemCommand::Update {
                key,
                data,
                if_match,
                org,
            } => {
                let org = self.org(&org).await?;
                let item = client
                    .items_update(&org, &key, read_data(&data)?, if_match.as_deref())
                    .await?;
                if self.printer.json {
                    return print_json(&item);
                }
                self.printer
                    .note(&format!("updated {} (version {})", item.key, item.version));
                Ok(())
            }
            ItemCommand::Rm { key, if_match, org } => {
                let org = self.org(&org).await?;
                client.items_delete(&org, &key, if_match.as_deref()).await?;
                if self.printer.json {
                    return print_json(&serde_json::json!({"deleted": key}));
                }
                self.printer.note(&format!("deleted {key}"));
                Ok(())
            }
            ItemCommand::Ls { filters, org } => {
                let org = self.org(&org).await?;
                self.list_items(&org, filters, None).await
            }
            ItemCommand::Search {
                words,
                filters,
                org,
            } => {
                let org = self.org(&org).await?;
                self.list_items(&org, filters, Some(words.join(" "))).await
            }
            ItemCommand::Assign { key, users, org } => {
                let org = self.org(&org).await?;
                let item = client.items_assign(&org, &key, users).await?;
                if self.printer.json {
                    return print_json(&item);
                }
                let assignees = item
                    .data
                    .get("assignees")
                    .and_then(Value::as_array)
                    .map(|ids| {
                        ids.iter()
                            .filter_map(Value::as_str)
                            .collect::<Vec<_>>()
                            .join(", ")
                    })
                    .unwrap_or_default();
                write_stdout(format!("{} assigned to [{assignees}]\n", item.key).as_bytes())
            }
        }
    }

    /// Every page of a listing (or `--limit` items).
    async fn list_items(
        &self,
        org: &str,
        filters: ItemFilters,
        q: Option<String>,
    ) -> Result<(), CliError> {
        let mut query = ItemListQuery {
            env: filters.env,
            scope: filters.scope,
            kind: filters.kind,
            owner: filters.owner,
            since: filters.since,
            until: filters.until,
            q,
            cursor: None,
            limit: Some(filters.limit.unwrap_or(PAGE).min(PAGE)),
        };
        let mut items = Vec::new();
        loop {
            let page = self.target.client().items_list(org, &query).await?;
            items.extend(page.items);
            if let Some(limit) = filters.limit
                && items.len() >= limit
            {
                items.truncate(limit);
                break;
            }
            match page.next_cursor {
                Some(cursor) => query.cursor = Some(cursor),
                None => break,
            }
        }
        if self.printer.json {
            return print_json(&serde_json::json!({"items": items}));
        }
        write_stdout(item_lines(&items).as_bytes())
    }

    pub(crate) async fn session(&self, command: SessionCommand) -> Result<(), CliError> {
        let client = self.target.client();
        let show = |session: &Session, message: String| {
            if self.printer.json {
                return print_json(session);
            }
            self.printer.note(&message);
            Ok(())
        };
        match command {
            SessionCommand::Start {
                title,
                group,
                members,
                org,
            } => {
                let org = self.org(&org).await?;
                let request = CreateSession {
                    title,
                    session_type: if group {
                        SessionType::Group
                    } else {
                        SessionType::Solo
                    },
                    members,
                };
                let session = client.sessions_start(&org, &request).await?;
                if self.printer.json {
                    return print_json(&session);
                }
                self.printer.note(&format!(
                    "started {} ({}): {}",
                    session.stable_id, session.session_id, session.title
                ));
                write_stdout(format!("{}\n", session.stable_id).as_bytes())
            }
            SessionCommand::Join { session, org } => {
                let org = self.org(&org).await?;
                let found = client.sessions_get(&org, &session).await?;
                if !found.active {
                    return Err(CliError::new(
                        ErrorCode::Conflict,
                        format!("session `{session}` has ended"),
                    ));
                }
                if self.printer.json {
                    return print_json(&found);
                }
                self.printer.note(&format!(
                    "working in \"{}\"; `unset NEXUS_SESSION` to leave",
                    found.title
                ));
                write_stdout(format!("export NEXUS_SESSION={}\n", found.stable_id).as_bytes())
            }
            SessionCommand::Add { session, user, org } => {
                let org = self.org(&org).await?;
                let found = client.sessions_add(&org, &session, &user).await?;
                show(&found, format!("added {user} to {session}"))
            }
            SessionCommand::End { session, org } => {
                let org = self.org(&org).await?;
                let found = client.sessions_end(&org, &session).await?;
                show(&found, format!("ended {session}"))
            }
            SessionCommand::Ls { active, org } => {
                let org = self.org(&org).await?;
                let list = client.sessions_list(&org, active.then_some(true)).await?;
                if self.printer.json {
                    return print_json(&list);
                }
                let out: String = list.sessions.iter().map(session_line).collect();
                write_stdout(out.as_bytes())
            }
            SessionCommand::Show { session, org } => {
                let org = self.org(&org).await?;
                let found = client.sessions_get(&org, &session).await?;
                print_json(&found)
            }
        }
    }

    pub(crate) async fn share(&self, args: ShareArgs) -> Result<(), CliError> {
        let org = self.org(&args.org).await?;
        let client = self.target.client();
        let targets = usize::from(!args.users.is_empty())
            + usize::from(args.universal)
            + usize::from(args.session.is_some())
            + usize::from(!args.groups.is_empty())
            + usize::from(args.role.is_some());
        let access = match targets {
            0 if !args.revoke => client.items_access(&org, &args.key).await?,
            1 => {
                let request = ShareRequest {
                    users: (!args.users.is_empty()).then_some(args.users),
                    universal: args.universal.then_some(true),
                    session: args.session,
                    groups: (!args.groups.is_empty()).then_some(args.groups),
                    role: args.role,
                };
                client
                    .items_share(&org, &args.key, &request, args.revoke)
                    .await?
            }
            _ => {
                return Err(CliError::new(
                    ErrorCode::InvalidInput,
                    "name one target: `--with USERS`, `--universal`, `--session SESSION`, `--groups GROUPS` or `--role admin`",
                ));
            }
        };
        if self.printer.json {
            return print_json(&access);
        }
        let mut out = String::new();
        for reader in &access.readers {
            out.push_str(&format!("{}\t{}\n", reader.subject, reader.via.join(",")));
        }
        write_stdout(out.as_bytes())
    }

    pub(crate) async fn workflow(&self, command: WorkflowCommand) -> Result<(), CliError> {
        let WorkflowCommand::Resolve { org } = command;
        let org = self.org(&org).await?;
        let resolved = self.target.client().workflow_resolve(&org).await?;
        if self.printer.json {
            return print_json(&resolved);
        }
        let mut out = String::new();
        for protocol in &resolved.protocols {
            out.push_str(&format!(
                "{}\t{}\t{}\n",
                protocol.name, protocol.source, protocol.key
            ));
        }
        write_stdout(out.as_bytes())
    }

    /// `audit ls`: every page of the entries, as lines, JSON or JSON Lines.
    pub(crate) async fn audit(&self, command: AuditCommand) -> Result<(), CliError> {
        let AuditCommand::Ls {
            org,
            actor,
            path_prefix,
            action,
            since,
            until,
            jsonl,
        } = command;
        let mut query = nexus_api::audit::AuditQuery {
            org,
            actor,
            path_prefix,
            action,
            since,
            until,
            cursor: None,
            limit: Some(1000),
        };
        let mut entries = Vec::new();
        loop {
            let page = self.target.client().audit(&query).await?;
            entries.extend(page.entries);
            match page.next_cursor {
                Some(cursor) => query.cursor = Some(cursor),
                None => break,
            }
        }
        if self.printer.json && !jsonl {
            return print_json(&serde_json::json!({ "entries": entries }));
        }
        let mut out = String::new();
        for entry in &entries {
            if jsonl {
                out.push_str(&serde_json::to_string(entry).unwrap_or_default());
            } else {
                // An agent acting for a user reads `agent:notes-bot for user:bob@acme.com`.
                let actor = match &entry.on_behalf_of {
                    Some(user) => format!("{} for {user}", entry.actor),
                    None => entry.actor.clone(),
                };
                out.push_str(&format!(
                    "{}\t{actor}\t{}\t{}\t{}",
                    entry.at, entry.action, entry.target, entry.outcome
                ));
            }
            out.push('\n');
        }
        write_stdout(out.as_bytes())
    }

    /// `notifications ls|read`.
    pub(crate) async fn notifications(&self, command: NotificationCommand) -> Result<(), CliError> {
        let client = self.target.client();
        match command {
            NotificationCommand::Ls { unread } => {
                let mut query = nexus_api::notifications::NotificationQuery {
                    cursor: None,
                    unread: unread.then_some(true),
                    limit: Some(1000),
                };
                let mut notifications = Vec::new();
                loop {
                    let page = client.notifications(&query).await?;
                    let done = page.notifications.is_empty();
                    notifications.extend(page.notifications);
                    if done {
                        break;
                    }
                    query.cursor = Some(page.next_cursor);
                }
                if self.printer.json {
                    return print_json(&serde_json::json!({ "notifications": notifications }));
                }
                let mut out = String::new();
                for notification in &notifications {
                    out.push_str(&format!(
                        "{}\t{}\t{}\t{}{}\n",
                        notification.id,
                        notification.created_at,
                        notification.kind,
                        notification.title,
                        if notification.read { "\t[read]" } else { "" }
                    ));
                }
                write_stdout(out.as_bytes())
            }
            NotificationCommand::Read { ids } => {
                for id in &ids {
                    client.notification_read(*id).await?;
                }
                if self.printer.json {
                    return print_json(&serde_json::json!({ "read": ids }));
                }
                Ok(())
            }
        }
    }

    /// `changes`: every change of the organization the caller may read.
    pub(crate) async fn org_changes(
        &self,
        org: &OrgArg,
        after: Option<u64>,
    ) -> Result<(), CliError> {
        let org = self.org(org).await?;
        let client = self.target.client();
        let mut query = nexus_api::changes::ChangeQuery {
            cursor: None,
            limit: Some(1000),
        };
        let mut changes = Vec::new();
        loop {
            let page = client.changes(&org, &query).await?;
            if page.changes.is_empty() {
                break;
            }
            changes.extend(
                page.changes
                    .into_iter()
                    .filter(|change| after.is_none_or(|after| change.revision > after)),
            );
            query.cursor = Some(page.next_cursor);
        }
        if self.printer.json {
            return print_json(&serde_json::json!({ "changes": changes }));
        }
        let mut out = String::new();
        for change in &changes {
            let place = change
                .path
                .as_deref()
                .or(change.key.as_deref())
                .unwrap_or("");
            out.push_str(&format!(
                "{}\t{}\t{}\t{}\t{}\t{}\n",
                change.revision,
                change.at,
                change.action,
                place,
                change.to.as_deref().unwrap_or("-"),
                change.author.as_deref().unwrap_or("-"),
            ));
        }
        write_stdout(out.as_bytes())
    }
}
