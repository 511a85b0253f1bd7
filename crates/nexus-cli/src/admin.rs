//! `nexus init`, `nexus serve`, `nexus config validate` and `nexus admin ...` on the embedded
//! store.

use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use nexus_core::{
    CallContext, ErrorCode, Fs, MemberKind, MemberSpec, OrgSpec, Role, StoreOptions, WorkspaceSpec,
};
use nexus_server::Config;
use serde_json::json;

use crate::cli::AdminCommand;
use crate::commands::Session;
use crate::output::{CliError, print_json, write_stdout};

fn config_error(error: &nexus_server::ConfigError) -> CliError {
    CliError::new(ErrorCode::InvalidInput, error.to_string())
}

/// Loads and checks a configuration file.
pub fn load_config(path: &Path) -> Result<Config, CliError> {
    Config::load(path).map_err(|error| config_error(&error))
}

/// Opens the configuration's data directory with its layout.
async fn open(config: &Config, lock_timeout: u64) -> Result<Fs, CliError> {
    let options = StoreOptions {
        lock_timeout: Duration::from_secs(lock_timeout),
        ..StoreOptions::default()
    };
    Ok(config.open(options).await?)
}

/// Loads a configuration for a command that never uses its secrets (`init`, `config
/// validate`): an unset `jwt_secret` variable is only noted.
fn load_without_secrets(path: &Path, json_output: bool) -> Result<Config, CliError> {
    let config = Config::load_deferring_secrets(path).map_err(|error| config_error(&error))?;
    if !json_output {
        for name in &config.unset_secrets {
            eprintln!(
                "note: `{name}` is not set; this command does not need it, but `nexus serve` will"
            );
        }
    }
    Ok(config)
}

/// `nexus config validate FILE`.
pub fn validate(file: &Path, json_output: bool) -> Result<(), CliError> {
    let config = load_without_secrets(file, json_output)?;
    if json_output {
        return print_json(&json!({
            "valid": true,
            "organizations": config.organizations.len(),
            "auth": format!("{:?}", config.auth.kind).to_lowercase(),
            "unset_secrets": config.unset_secrets,
        }));
    }
    write_stdout(
        format!(
            "{}: valid ({}, data in {})\n",
            file.display(),
            organizations(config.organizations.len()),
            config.data_dir.display()
        )
        .as_bytes(),
    )
}

/// `nexus init --config FILE`.
pub async fn init(file: &Path, json_output: bool, lock_timeout: u64) -> Result<(), CliError> {
    let config = load_without_secrets(file, json_output)?;
    let fs = open(&config, lock_timeout).await?;
    let result = provision(&fs, &config, json_output).await;
    fs.close().await;
    result
}

async fn provision(fs: &Fs, config: &Config, json_output: bool) -> Result<(), CliError> {
    let system = CallContext::system();
    let report = fs.orgs().provision(&system, &config.org_specs()).await?;
    let bootstrap = bootstrap_key(fs).await?;
    if json_output {
        return print_json(&json!({
            "changes": report.changes,
            "unchanged": report.unchanged,
            "admin_key": bootstrap,
        }));
    }
    let mut out = String::new();
    for change in &report.changes {
        out.push_str(&format!("+ {change}\n"));
    }
    out.push_str(&format!(
        "✓ Initialized {}: {} changes, {} already in place\n",
        organizations(config.organizations.len()),
        report.changes.len(),
        report.unchanged
    ));
    if let Some(key) = bootstrap {
        out.push_str(&format!(
            "\nAdministrator API key (shown once; store it safely):\n  {}\n  id: {}\n",
            key.secret, key.id
        ));
    }
    write_stdout(out.as_bytes())
}

/// The system's first API key: `NEXUS_ADMIN_KEY` if set, else a new random one, created only
/// when no usable system key exists yet.
async fn bootstrap_key(fs: &Fs) -> Result<Option<nexus_core::accounts::NewApiKey>, CliError> {
    let system = CallContext::system();
    if let Ok(secret) = std::env::var("NEXUS_ADMIN_KEY") {
        if fs.registry().authenticate_key(&secret).is_some() {
            return Ok(None);
        }
        fs.accounts()
            .import_key(&system, "system", "bootstrap administrator key", &secret)
            .await?;
        return Ok(None);
    }
    let exists = fs
        .accounts()
        .keys(&system)
        .iter()
        .any(|key| key.principal == "system" && !key.revoked);
    if exists {
        return Ok(None);
    }
    Ok(Some(
        fs.accounts()
            .create_key(&system, "system", "bootstrap administrator key")
            .await?,
    ))
}

/// `nexus migrate --config FILE`.
pub async fn migrate(file: &Path, json_output: bool) -> Result<(), CliError> {
    let config = load_without_secrets(file, json_output)?;
    let (from, to) = config
        .storage()
        .migrate()
        .await
        .map_err(nexus_core::FsError::from)?;
    if json_output {
        return print_json(&json!({"from": from, "to": to}));
    }
    if from == to {
        println!("the metadata schema is up to date (version {to})");
    } else {
        println!("migrated the metadata schema from version {from} to {to}");
    }
    Ok(())
}

/// `nexus serve --config FILE [--host H] [--port P] [--migrate]`.
pub async fn serve(args: &crate::cli::ServeArgs, lock_timeout: u64) -> Result<(), CliError> {
    let mut config = load_config(&args.config)?;
    config.storage.migrate |= args.migrate;
    let port = args.port;
    let host = args
        .host
        .clone()
        .unwrap_or_else(|| config.server.host.clone());
    let address: IpAddr = host.parse().map_err(|_| {
        CliError::new(
            ErrorCode::InvalidInput,
            format!("invalid --host `{host}`: give an IP address such as 127.0.0.1 or 0.0.0.0"),
        )
    })?;
    nexus_server::check_bind(&config, address)
        .map_err(|error| CliError::new(ErrorCode::InvalidInput, error.to_string()))?;
    nexus_server::auth::Authenticator::new(&config.auth)
        .map_err(|error| CliError::new(ErrorCode::InvalidInput, error.to_string()))?;
    let port = port.unwrap_or(config.server.port);
    let fs = open(&config, lock_timeout).await?;
    let listener = match tokio::net::TcpListener::bind((address, port)).await {
        Ok(listener) => listener,
        Err(error) => {
            fs.close().await;
            return Err(CliError::new(
                ErrorCode::Unavailable,
                format!("cannot listen on {host}:{port}: {error}"),
            ));
        }
    };
    if let Ok(bound) = listener.local_addr() {
        eprintln!("nexus: listening on http://{bound}");
    }
    let result = nexus_server::serve(
        &config,
        fs.clone(),
        listener,
        nexus_server::shutdown_signal(),
    )
    .await
    .map_err(|error| CliError::new(ErrorCode::Unavailable, error.to_string()));
    fs.close().await;
    eprintln!("nexus: stopped");
    result
}

/// `nexus token create --config FILE --sub SUBJECT --ttl DURATION`: prints a token.
pub fn create_token(
    file: &Path,
    subject: &str,
    ttl: &str,
    json_output: bool,
) -> Result<(), CliError> {
    let ttl = nexus_server::auth::parse_ttl(ttl)
        .map_err(|error| CliError::new(ErrorCode::InvalidInput, error.to_string()))?;
    let config = load_config(file)?;
    let token = nexus_server::auth::mint_token(&config.auth, subject, ttl)
        .map_err(|error| CliError::new(ErrorCode::InvalidInput, error.to_string()))?;
    if json_output {
        return print_json(&json!({"token": token, "sub": subject, "expires_in": ttl}));
    }
    write_stdout(format!("{token}\n").as_bytes())
}

fn role_of(text: &str) -> Result<Role, CliError> {
    match text {
        "admin" => Ok(Role::Admin),
        "member" => Ok(Role::Member),
        "assistant" => Ok(Role::Assistant),
        other => Err(CliError::new(
            ErrorCode::InvalidInput,
            format!("unknown role `{other}`: use admin, member or assistant"),
        )),
    }
}

fn kind_of(text: &str) -> Result<MemberKind, CliError> {
    match text {
        "human" => Ok(MemberKind::Human),
        "agent" => Ok(MemberKind::Agent),
        other => Err(CliError::new(
            ErrorCode::InvalidInput,
            format!("unknown member type `{other}`: use human or agent"),
        )),
    }
}

impl Session {
    pub(crate) async fn admin(&self, command: AdminCommand) -> Result<(), CliError> {
        match command {
            AdminCommand::AddUser {
                org,
                user,
                role,
                workspaces,
                kind,
            } => {
                let spec = MemberSpec {
                    user_id: user.clone(),
                    role: role_of(&role)?,
                    kind: kind_of(&kind)?,
                    workspaces,
                };
                let member = self.target.add_member(&org, spec).await?;
                self.done(&member, &format!("added {user} to {org} as {role}"))
            }
            AdminCommand::SetManager {
                org, user, manager, ..
            } => self.set_manager(&org, &user, manager.as_deref()).await,
            AdminCommand::Lock { user } => self.account("lock", &user).await,
            AdminCommand::Unlock { user } => self.account("unlock", &user).await,
            AdminCommand::Lockout { user } => self.account("lockout", &user).await,
            AdminCommand::DeleteUser { user } => self.account("delete", &user).await,
            AdminCommand::RemoveUser { org, user } => {
                self.target.remove_member(&org, &user).await?;
                self.done(
                    &json!({"removed": user, "org": org}),
                    &format!("removed {user} from {org}"),
                )
            }
            AdminCommand::ListUsers { org: Some(org) } => {
                let members = self.target.list_members(&org).await?;
                if self.printer.json {
                    return print_json(&members);
                }
                let name = |value: serde_json::Value| value.as_str().unwrap_or_default().to_owned();
                let mut out = String::new();
                for member in members {
                    out.push_str(&format!(
                        "{}\t{}\t{}\t{}\n",
                        member.user_id,
                        name(json!(member.role)),
                        name(json!(member.kind)),
                        name(json!(member.status)),
                    ));
                }
                write_stdout(out.as_bytes())
            }
            AdminCommand::ListUsers { org: None } => {
                let all = self.target.users().await?;
                if self.printer.json {
                    return print_json(&all);
                }
                let mut out = String::new();
                for principal in all {
                    out.push_str(&format!(
                        "{}\t{}\t{}\n",
                        principal.kind, principal.id, principal.handle
                    ));
                }
                write_stdout(out.as_bytes())
            }
            AdminCommand::CreateKey {
                principal,
                description,
            } => {
                let key = self.target.create_key(&principal, &description).await?;
                if self.printer.json {
                    return print_json(&key);
                }
                write_stdout(
                    format!(
                        "API key for {} (shown once; store it safely):\n  {}\n  id: {}\n",
                        key.name, key.secret, key.id
                    )
                    .as_bytes(),
                )
            }
            AdminCommand::RevokeKey { id } => {
                self.target.revoke_key(&id).await?;
                self.done(&json!({"revoked": id}), &format!("revoked {id}"))
            }
            AdminCommand::ListKeys => self.list_keys().await,
            AdminCommand::CreateOrg {
                id,
                name,
                workspaces,
            } => self.create_org(&id, name, workspaces).await,
            AdminCommand::RotateLockerKey { new_key_file } => {
                self.rotate_locker_key(&new_key_file).await
            }
        }
    }

    /// `admin rotate-locker-key`: re-wraps the data keys under the key in `file`.
    async fn rotate_locker_key(&self, file: &Path) -> Result<(), CliError> {
        let fs = self.target.local_only("admin rotate-locker-key")?;
        let new = nexus_core::locker::MasterKey::from_file(file)
            .map_err(|error| CliError::new(ErrorCode::InvalidInput, error.to_string()))?;
        if !fs.lockers_enabled() {
            return Err(CliError::new(
                ErrorCode::LockerUnavailable,
                "the current locker master key is needed to re-wrap the data keys",
            )
            .with_hint("set NEXUS_LOCKER_KEY to the current key"));
        }
        let rotation = fs.rotate_locker_key(new).await?;
        self.done(
            &json!({"from": rotation.from, "to": rotation.to, "organizations": rotation.organizations}),
            &format!(
                "re-wrapped the locker keys of {} organization(s): {} -> {}; start the server with the new key",
                rotation.organizations, rotation.from, rotation.to
            ),
        )
    }

    /// `nexus export`: the archive to `output` (or standard output), what it holds to
    /// standard output (or, when the archive goes there, standard error).
    pub(crate) async fn export(&self, org: &str, output: Option<&Path>) -> Result<(), CliError> {
        use std::io::IsTerminal as _;
        let to_stdout = output.is_none_or(|path| path == Path::new("-"));
        if to_stdout && std::io::stdout().is_terminal() {
            return Err(CliError::new(
                ErrorCode::InvalidInput,
                "refusing to write an archive to a terminal",
            )
            .with_hint("use `--output FILE`, or redirect standard output to a file"));
        }
        let (archive, report) = self.target.client().export_org(org).await?;
        let written_to = if let Some(path) = output.filter(|_| !to_stdout) {
            std::fs::write(path, &archive).map_err(|error| {
                CliError::new(
                    ErrorCode::InvalidInput,
                    format!("cannot write `{}`: {error}", path.display()),
                )
            })?;
            path.display().to_string()
        } else {
            write_stdout(&archive)?;
            "standard output".to_owned()
        };
        let message = format!("exported {org} to {written_to}: {}", summary(&report));
        if to_stdout {
            eprintln!("{message}");
            return Ok(());
        }
        self.done(&report, &message)
    }

    /// `nexus import`.
    pub(crate) async fn import(&self, file: &Path, replace: bool) -> Result<(), CliError> {
        let archive = if file == Path::new("-") {
            use std::io::Read as _;
            let mut buffer = Vec::new();
            std::io::stdin().read_to_end(&mut buffer).map_err(|error| {
                CliError::new(
                    ErrorCode::InvalidInput,
                    format!("cannot read standard input: {error}"),
                )
            })?;
            buffer
        } else {
            std::fs::read(file).map_err(|error| {
                CliError::new(
                    ErrorCode::InvalidInput,
                    format!("cannot read `{}`: {error}", file.display()),
                )
            })?
        };
        let report = self
            .target
            .client()
            .import_org(bytes::Bytes::from(archive), replace)
            .await?;
        let message = format!(
            "{} {}: {}; {} principal(s) registered",
            if report.replaced {
                "replaced"
            } else {
                "imported"
            },
            report.org,
            summary(&report),
            report.principals_registered
        );
        self.done(&report, &message)
    }

    /// Prints `value` with `--json`, else `message` on stdout.
    fn done<T: serde::Serialize>(&self, value: &T, message: &str) -> Result<(), CliError> {
        if self.printer.json {
            return print_json(value);
        }
        write_stdout(format!("{message}\n").as_bytes())
    }

    /// `admin lock`, `unlock` and `delete-user`.
    async fn account(&self, action: &str, user: &str) -> Result<(), CliError> {
        let client = self.target.client();
        let (change, message) = match action {
            "lock" => (client.lock_user(user).await?, format!("locked {user}")),
            "unlock" => (client.unlock_user(user).await?, format!("unlocked {user}")),
            "lockout" => {
                let change = client.lockout_user(user).await?;
                let message = format!(
                    "locked out {user}: {} key(s) revoked, earlier tokens refused",
                    change.revoked_keys
                );
                (change, message)
            }
            _ => {
                let change = client.delete_user(user).await?;
                let message = format!(
                    "deleted {user}: {} key(s) revoked, {} personal item file(s) removed",
                    change.revoked_keys, change.removed_items
                );
                (change, message)
            }
        };
        let orgs = if change.orgs.is_empty() {
            "no organization".to_owned()
        } else {
            change.orgs.join(", ")
        };
        self.done(&change, &format!("{message} ({}; in {orgs})", change.user))
    }

    async fn set_manager(
        &self,
        org: &str,
        user: &str,
        manager: Option<&str>,
    ) -> Result<(), CliError> {
        let line = self.target.client().set_manager(org, user, manager).await?;
        let message = match (&line.manager, manager) {
            (Some(id), Some(named)) => format!("{user} ({}) reports to {named} ({id})", line.user),
            (Some(id), None) => format!("{user} ({}) reports to {id}", line.user),
            (None, _) => format!("{user} ({}) has no manager", line.user),
        };
        self.done(&line, &message)
    }

    async fn list_keys(&self) -> Result<(), CliError> {
        let keys = self.target.keys().await?;
        if self.printer.json {
            return print_json(&keys);
        }
        let mut out = String::new();
        for key in keys {
            out.push_str(&format!(
                "{}\t{}\t{}\t{}\n",
                key.id,
                key.principal,
                if key.revoked { "revoked" } else { "active" },
                key.description
            ));
        }
        write_stdout(out.as_bytes())
    }

    async fn create_org(
        &self,
        id: &str,
        name: String,
        workspaces: Vec<String>,
    ) -> Result<(), CliError> {
        let org = nexus_core::OrgId::parse(id).map_err(nexus_core::FsError::from)?;
        let report = self
            .target
            .create_org(OrgSpec {
                id: org,
                name,
                workspaces: workspaces
                    .into_iter()
                    .map(|id| WorkspaceSpec { id, name: None })
                    .collect(),
                members: Vec::new(),
                settings: serde_json::Map::new(),
            })
            .await?;
        if self.printer.json {
            return print_json(&report);
        }
        let mut out = String::new();
        for change in &report.changes {
            out.push_str(&format!("+ {change}\n"));
        }
        write_stdout(out.as_bytes())
    }
}

/// What an archive holds, for people.
fn summary(report: &nexus_api::ArchiveReport) -> String {
    format!(
        "{} files ({} versions, {} bytes of content), {} relationships, {} principals, {} audit entries, {} changes, {} reminders{}",
        report.files,
        report.versions,
        report.bytes,
        report.relationships,
        report.principals,
        report.audit_entries,
        report.changes,
        report.reminders,
        if report.locker_key {
            ", sealed locker secrets"
        } else {
            ""
        }
    )
}

/// `1 organization`, `2 organizations`.
fn organizations(count: usize) -> String {
    if count == 1 {
        "1 organization".to_owned()
    } else {
        format!("{count} organizations")
    }
}
