//! What each command does, on the embedded store of a data directory.

use std::io::{IsTerminal, Read};
use std::time::Duration;

use base64::Engine;
use bytes::Bytes;
use nexus_core::{
    ErrorCode, Fs, GrepOptions, ListOptions, ListPage, Principal, StoreOptions, Timestamp,
    WriteOptions,
};
use serde::Serialize;

use crate::cli::{
    CatArgs, Cli, Command, CpArgs, FsckArgs, GcArgs, GlobArgs, GrepArgs, LsArgs, MkdirArgs, MvArgs,
    PolicyArgs, RebacCommand, RmArgs, VersionsAction, VersionsArgs, WriteArgs,
};
use crate::output::{self, CliError, Printer, print_json, write_stdout};
use crate::target::Target;

/// Where the target options came from: the command line beats the environment.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sources {
    data_dir_flag: bool,
    url_flag: bool,
}

impl Sources {
    pub fn of(matches: &clap::ArgMatches) -> Sources {
        let flag = |id: &str| {
            matches!(
                matches.value_source(id),
                Some(clap::parser::ValueSource::CommandLine)
            )
        };
        Sources {
            data_dir_flag: flag("data_dir"),
            url_flag: flag("url"),
        }
    }
}

/// Where a command runs.
enum Destination {
    Local(std::path::PathBuf),
    Remote(String),
}

/// The one target of a command: an explicit flag beats an environment variable; two
/// explicit flags, or two variables naming different targets, are an error.
fn destination(cli: &Cli, sources: Sources) -> Result<Destination, CliError> {
    let data_dir = cli
        .data_dir
        .clone()
        .filter(|dir| !dir.as_os_str().is_empty());
    let url_flag = cli
        .url
        .clone()
        .filter(|url| sources.url_flag && !url.is_empty());
    if sources.data_dir_flag
        && let (Some(dir), Some(url)) = (&data_dir, &url_flag)
    {
        return Err(CliError::new(
            ErrorCode::InvalidInput,
            format!(
                "both `--data-dir {}` and `--url {url}` name where to run: give one",
                dir.display()
            ),
        ));
    }
    if sources.data_dir_flag
        && let Some(dir) = data_dir
    {
        return Ok(Destination::Local(dir));
    }
    if let Some(url) = url_flag {
        return Ok(Destination::Remote(url));
    }
    let server = server_from_env(cli);
    match (data_dir, server) {
        (Some(dir), Some((url, variable))) => Err(CliError::new(
            ErrorCode::InvalidInput,
            format!(
                "both NEXUS_DATA_DIR ({}) and {variable} ({url}) are set: pass `--data-dir` or `--url` to choose",
                dir.display()
            ),
        )),
        (Some(dir), None) => Ok(Destination::Local(dir)),
        (None, Some((url, _))) => Ok(Destination::Remote(url)),
        (None, None) => Err(CliError::new(
            ErrorCode::InvalidInput,
            "no data directory or server given",
        )
        .with_hint(
            "pass `--data-dir DIR` (or set NEXUS_DATA_DIR), or `--url http://HOST:PORT` (or set NEXUS_URL)",
        )),
    }
}

/// The server the environment names: `NEXUS_URL`, else `NEXUS_HOST` (and `NEXUS_PORT`,
/// default 8080) as in the seed's examples; with the variable that named it.
fn server_from_env(cli: &Cli) -> Option<(String, &'static str)> {
    if let Some(url) = cli.url.as_deref().filter(|url| !url.is_empty()) {
        return Some((url.to_owned(), "NEXUS_URL"));
    }
    let host = std::env::var("NEXUS_HOST")
        .ok()
        .filter(|host| !host.is_empty())?;
    let port = std::env::var("NEXUS_PORT")
        .ok()
        .filter(|port| !port.is_empty())
        .unwrap_or_else(|| "8080".to_owned());
    Some((format!("http://{host}:{port}"), "NEXUS_HOST"))
}

/// Whether a command may create a data directory that does not exist yet: only commands
/// that write something of their own.
fn creates_data(command: &Command) -> bool {
    match command {
        Command::Write(_)
        | Command::Mkdir(_)
        | Command::Setfacl { .. }
        | Command::Import { .. } => true,
        Command::Rebac(rebac) => matches!(
            rebac,
            RebacCommand::Create(_)
                | RebacCommand::Touch(_)
                | RebacCommand::Schema(crate::cli::SchemaCommand::Write { .. })
        ),
        Command::Admin(admin) => matches!(
            admin,
            crate::cli::AdminCommand::CreateOrg { .. } | crate::cli::AdminCommand::CreateKey { .. }
        ),
        _ => false,
    }
}

/// Refuses a data directory that is not one: a file, or (for commands that do not write) a
/// directory that does not exist or holds no store yet.
fn check_data_dir(dir: &std::path::Path, command: &Command) -> Result<(), CliError> {
    let shown = dir.display();
    match std::fs::metadata(dir) {
        Ok(metadata) if !metadata.is_dir() => Err(CliError::new(
            ErrorCode::InvalidInput,
            format!(
                "`{shown}` is not a directory: `--data-dir` names the directory holding a Nexus store"
            ),
        )),
        // A directory with something else in it is refused by the store itself, saying so.
        Ok(_) if !is_empty_dir(dir) => Ok(()),
        _ if creates_data(command) => Ok(()),
        _ => Err(no_data_dir(dir)),
    }
}

fn is_empty_dir(dir: &std::path::Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|mut entries| entries.next().is_none())
}

fn no_data_dir(dir: &std::path::Path) -> CliError {
    CliError::new(
        ErrorCode::NotFound,
        format!("no Nexus data directory at `{}`", dir.display()),
    )
    .with_hint(
        "check the path; a command that writes (`nexus mkdir /orgs/<org>`, `nexus admin create-org`) or `nexus init` creates one",
    )
}

/// Runs one parsed command line.
pub async fn run(cli: Cli, sources: Sources) -> Result<(), CliError> {
    let printer = Printer { json: cli.json };
    match &cli.command {
        Command::Rebac(RebacCommand::Validate { files }) => {
            return crate::rebac::validate(files, cli.json);
        }
        Command::Init(args) => {
            return crate::admin::init(&args.config, cli.json, cli.lock_timeout).await;
        }
        Command::Serve(args) => {
            return crate::admin::serve(args, cli.lock_timeout).await;
        }
        Command::Migrate(args) => {
            return crate::admin::migrate(&args.config, cli.json).await;
        }
        Command::Config(crate::cli::ConfigCommand::Validate { file }) => {
            return crate::admin::validate(file, cli.json);
        }
        Command::Token(crate::cli::TokenCommand::Create { config, sub, ttl }) => {
            return crate::admin::create_token(config, sub, ttl, cli.json);
        }
        _ => {}
    }
    let data_dir = match destination(&cli, sources)? {
        Destination::Remote(url) => {
            if cli.acting_as.is_some() {
                return Err(CliError::new(
                    ErrorCode::InvalidInput,
                    "`--as` works on a data directory only: a server acts as whoever the credentials name",
                )
                .with_hint("set NEXUS_API_KEY or NEXUS_TOKEN to the credentials of the principal"));
            }
            let credential = cli
                .api_key
                .clone()
                .or_else(|| cli.token.clone())
                .filter(|value| !value.is_empty());
            let anonymous = credential.is_none();
            let client = nexus_client::Client::new(&url, credential)?;
            let session = Session {
                target: Target::remote(client),
                printer,
            };
            return session.dispatch(cli.command).await.map_err(|error| {
                if anonymous && error.code == ErrorCode::Unauthenticated {
                    CliError::new(
                        ErrorCode::Unauthenticated,
                        format!("the server at {url} needs credentials"),
                    )
                    .with_hint(
                        "set NEXUS_API_KEY to an API key (`nexus admin create-key`) or NEXUS_TOKEN to a JWT (`nexus token create`), or pass `--api-key KEY`",
                    )
                } else {
                    error
                }
            });
        }
        Destination::Local(dir) => dir,
    };
    let principal = match cli.acting_as.as_deref() {
        None => Principal::System,
        Some(text) => Principal::parse(text)
            .map_err(|error| CliError::new(ErrorCode::InvalidInput, error.to_string()))?,
    };
    check_data_dir(&data_dir, &cli.command)?;
    let options = StoreOptions {
        lock_timeout: Duration::from_secs(cli.lock_timeout),
        ..StoreOptions::default()
    };
    let fs = Fs::open(&data_dir, options).await?;
    if let Err(error) = enable_lockers(&fs).await {
        fs.close().await;
        return Err(error);
    }
    let session = Session {
        target: Target::local(fs.clone(), principal),
        printer,
    };
    let result = session.dispatch(cli.command).await;
    fs.close().await;
    result
}

/// Opens Locker secrets with `NEXUS_LOCKER_KEY` when it is set (a data directory's CLI has
/// no configuration file).
async fn enable_lockers(fs: &Fs) -> Result<(), CliError> {
    use nexus_core::locker::{MASTER_KEY_ENV, MasterKey};
    let Some(text) = std::env::var(MASTER_KEY_ENV)
        .ok()
        .filter(|text| !text.trim().is_empty())
    else {
        return Ok(());
    };
    let master = MasterKey::from_base64(&text).map_err(|error| {
        CliError::new(
            ErrorCode::InvalidInput,
            format!("{MASTER_KEY_ENV}: {error}"),
        )
    })?;
    Ok(fs.enable_lockers(master).await?)
}

pub(crate) struct Session {
    pub(crate) target: Target,
    pub(crate) printer: Printer,
}

#[derive(Serialize)]
struct Removed<'a> {
    path: &'a str,
    removed: u64,
}

#[derive(Serialize)]
struct ReadView<'a> {
    #[serde(flatten)]
    entry: &'a nexus_core::Entry,
    #[serde(skip_serializing_if = "Option::is_none")]
    content: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    content_base64: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    range: Option<[u64; 2]>,
}

#[derive(Serialize)]
struct PolicyView<'a> {
    org: &'a str,
    keep: Option<u32>,
    keep_days: Option<u32>,
}

#[derive(Serialize)]
struct GcView {
    /// Files removed by retention policies (with `--retention`).
    #[serde(skip_serializing_if = "Option::is_none")]
    expired: Option<Vec<String>>,
    unreferenced: u64,
    orphans: u64,
    interrupted: u64,
}

#[derive(Serialize)]
struct FsckView<'a> {
    ok: bool,
    problems: &'a [String],
    referenced_blobs: u64,
    orphan_blobs: u64,
    verified_blobs: u64,
}

impl Session {
    async fn dispatch(&self, command: Command) -> Result<(), CliError> {
        match command {
            Command::Ls(args) => self.ls(args).await,
            Command::Cat(args) => self.cat(args).await,
            Command::Write(args) => self.write(args).await,
            Command::Mkdir(args) => self.mkdir(args).await,
            Command::Rm(args) => self.rm(args).await,
            Command::Mv(args) => self.mv(args).await,
            Command::Cp(args) => self.cp(args).await,
            Command::Stat(args) => {
                let entry = self.target.stat(&args.path).await?;
                if self.printer.json {
                    return print_json(&entry);
                }
                write_stdout(output::entry(&entry).as_bytes())
            }
            Command::Glob(args) => self.glob(args).await,
            Command::Grep(args) => self.grep(args).await,
            Command::Search(args) => self.search(args).await,
            Command::Versions(args) => self.versions(args).await,
            Command::Gc(args) => self.gc(args).await,
            Command::Fsck(args) => self.fsck(args).await,
            Command::Setfacl { path, entry } => self.setfacl(&path, &entry).await,
            Command::Getfacl(args) => self.getfacl(&args.path).await,
            Command::Rebac(command) => self.rebac(command).await,
            Command::Admin(command) => self.admin(command).await,
            Command::Item(command) => self.item(command).await,
            Command::Session(command) => self.session(command).await,
            Command::Share(args) => self.share(args).await,
            Command::Workflow(command) => self.workflow(command).await,
            Command::Audit(command) => self.audit(command).await,
            Command::Notifications(command) => self.notifications(command).await,
            Command::Changes { org, after } => self.org_changes(&org, after).await,
            Command::Export { org, output } => self.export(&org, output.as_deref()).await,
            Command::Import { file, replace } => self.import(&file, replace).await,
            Command::Mcp => self.mcp().await,
            Command::Delegation(command) => self.delegation(command).await,
            Command::Init(_)
            | Command::Serve(_)
            | Command::Migrate(_)
            | Command::Config(_)
            | Command::Token(_) => Err(CliError::new(
                ErrorCode::Internal,
                "this command is handled before opening a data directory",
            )),
        }
    }

    async fn ls(&self, args: LsArgs) -> Result<(), CliError> {
        let single_page = args.limit.is_some() || args.cursor.is_some();
        let mut cursor = args.cursor;
        let mut all = ListPage {
            entries: Vec::new(),
            next_cursor: None,
        };
        loop {
            let page = self
                .target
                .ls(
                    &args.path,
                    ListOptions {
                        recursive: args.recursive,
                        limit: args.limit,
                        cursor: cursor.take(),
                    },
                )
                .await?;
            all.entries.extend(page.entries);
            match page.next_cursor {
                Some(next) if !single_page => cursor = Some(next),
                next => {
                    all.next_cursor = next;
                    break;
                }
            }
        }
        if self.printer.json {
            return print_json(&all);
        }
        write_stdout(output::entries(&all.entries, args.recursive).as_bytes())?;
        if let Some(next) = all.next_cursor {
            eprintln!("more entries: continue with `--cursor {next}`");
        }
        Ok(())
    }

    async fn cat(&self, args: CatArgs) -> Result<(), CliError> {
        let read = self
            .target
            .read(
                &args.path,
                args.range.as_deref(),
                args.version,
                self.printer.json,
            )
            .await?;
        if !self.printer.json {
            return write_stdout(&read.content);
        }
        let text = std::str::from_utf8(&read.content).ok();
        print_json(&ReadView {
            entry: &read.entry,
            content: text,
            content_base64: text
                .is_none()
                .then(|| base64::engine::general_purpose::STANDARD.encode(&read.content)),
            range: read.range.map(|(start, end)| [start, end]),
        })
    }

    async fn write(&self, args: WriteArgs) -> Result<(), CliError> {
        let content = read_content(&args)?;
        let size = content.len();
        let entry = self
            .target
            .write(
                &args.path,
                content,
                WriteOptions {
                    if_match: args.if_match,
                    if_none_match: args.if_none_match,
                    create_parents: args.parents,
                },
            )
            .await
            .map_err(CliError::suggest_parents_flag)?;
        if self.printer.json {
            return print_json(&entry);
        }
        self.printer.note(&format!(
            "wrote {} ({size} bytes, version {}, etag {})",
            entry.path,
            entry.version,
            entry.etag.as_deref().unwrap_or("")
        ));
        Ok(())
    }

    async fn mkdir(&self, args: MkdirArgs) -> Result<(), CliError> {
        let mut created = Vec::new();
        for path in &args.paths {
            let entry = self
                .target
                .mkdir(path, args.parents)
                .await
                .map_err(CliError::suggest_parents_flag)?;
            self.printer.note(&format!("created {}", entry.path));
            created.push(entry);
        }
        if self.printer.json {
            return print_json(&created);
        }
        Ok(())
    }

    async fn rm(&self, args: RmArgs) -> Result<(), CliError> {
        let mut results = Vec::new();
        for path in &args.paths {
            let result = self.target.rm(path, args.recursive).await?;
            self.printer.note(&format!(
                "removed {path} ({} {})",
                result.removed,
                if result.removed == 1 {
                    "entry"
                } else {
                    "entries"
                }
            ));
            results.push(Removed {
                path,
                removed: result.removed,
            });
        }
        if self.printer.json {
            return print_json(&results);
        }
        Ok(())
    }

    /// Where a move or copy lands: inside `destination` when it is an existing directory.
    async fn target(&self, source: &str, destination: &str) -> Result<String, CliError> {
        match self.target.stat(destination).await {
            Ok(entry) if entry.is_dir() => {
                let source =
                    nexus_core::VfsPath::parse(source).map_err(nexus_core::FsError::from)?;
                let path =
                    nexus_core::VfsPath::parse(&entry.path).map_err(nexus_core::FsError::from)?;
                Ok(path
                    .join(source.name())
                    .map_err(nexus_core::FsError::from)?
                    .to_string())
            }
            Ok(_) => Ok(destination.to_owned()),
            Err(error) if error.code == ErrorCode::NotFound => Ok(destination.to_owned()),
            Err(error) => Err(error),
        }
    }

    async fn mv(&self, args: MvArgs) -> Result<(), CliError> {
        let target = self.target(&args.source, &args.destination).await?;
        let entry = self.target.mv(&args.source, &target, args.force).await?;
        if self.printer.json {
            return print_json(&entry);
        }
        self.printer
            .note(&format!("moved {} to {}", args.source, entry.path));
        Ok(())
    }

    async fn cp(&self, args: CpArgs) -> Result<(), CliError> {
        let target = self.target(&args.source, &args.destination).await?;
        let entry = self
            .target
            .cp(&args.source, &target, args.recursive, args.force)
            .await
            .map_err(|error| {
                if error.code == ErrorCode::IsADirectory && !args.recursive {
                    error.with_hint("pass `-r` to copy a directory")
                } else {
                    error
                }
            })?;
        if self.printer.json {
            return print_json(&entry);
        }
        self.printer
            .note(&format!("copied {} to {}", args.source, entry.path));
        Ok(())
    }

    async fn glob(&self, args: GlobArgs) -> Result<(), CliError> {
        let result = self.target.glob(&args.pattern, args.limit).await?;
        if self.printer.json {
            return print_json(&result);
        }
        let mut out = String::new();
        for entry in &result.entries {
            out.push_str(&entry.path);
            out.push('\n');
        }
        write_stdout(out.as_bytes())?;
        if result.truncated {
            eprintln!(
                "stopped after {} results; raise `--limit` for more",
                result.entries.len()
            );
        }
        Ok(())
    }

    async fn grep(&self, args: GrepArgs) -> Result<(), CliError> {
        let result = self
            .target
            .grep(
                &args.pattern,
                &args.path,
                GrepOptions {
                    ignore_case: args.ignore_case,
                    context: args.context,
                    max_matches: args.max_count,
                    include: args.include,
                    max_file_bytes: None,
                },
            )
            .await?;
        if self.printer.json {
            print_json(&result)?;
        } else {
            write_stdout(output::grep(&result, args.context > 0).as_bytes())?;
        }
        if result.truncated {
            self.printer.note(&format!(
                "stopped after {} matches; raise `--max-count` for more",
                result.matches.len()
            ));
        }
        // No match exits 3 with or without `--json`, like grep's own non-zero status.
        if result.matches.is_empty() {
            return Err(CliError::new(
                ErrorCode::NotFound,
                format!("no match for `{}`", args.pattern),
            ));
        }
        Ok(())
    }

    async fn versions(&self, args: VersionsArgs) -> Result<(), CliError> {
        let action = match (args.action, args.path) {
            (Some(action), _) => action,
            (None, Some(path)) => VersionsAction::List(crate::cli::PathArg { path }),
            (None, None) => {
                return Err(CliError::new(ErrorCode::InvalidInput, "no file given")
                    .with_hint("`nexus versions PATH` lists the versions of a file"));
            }
        };
        match action {
            VersionsAction::List(args) => {
                let versions = self.target.versions(&args.path).await?;
                if self.printer.json {
                    return print_json(&versions);
                }
                write_stdout(output::versions(&versions).as_bytes())
            }
            VersionsAction::Cat { path, version } => {
                self.cat(CatArgs {
                    path,
                    range: None,
                    version: Some(version),
                })
                .await
            }
            VersionsAction::Restore { path, version } => {
                let entry = self.target.restore(&path, version).await?;
                if self.printer.json {
                    return print_json(&entry);
                }
                self.printer.note(&format!(
                    "restored {} to the content of version {version} (now version {})",
                    entry.path, entry.version
                ));
                Ok(())
            }
            VersionsAction::Policy(args) => self.policy(args).await,
        }
    }

    async fn policy(&self, args: PolicyArgs) -> Result<(), CliError> {
        let org = args
            .org
            .strip_prefix("/orgs/")
            .map_or(args.org.as_str(), |rest| rest.trim_end_matches('/'));
        let mut policy = self.target.version_policy(org).await?;
        let changing =
            args.keep.is_some() || args.keep_days.is_some() || args.keep_all || args.keep_forever;
        if changing {
            if args.keep_all {
                policy.keep_last = None;
            }
            if args.keep_forever {
                policy.keep_days = None;
            }
            if let Some(keep) = args.keep {
                policy.keep_last = Some(keep);
            }
            if let Some(days) = args.keep_days {
                policy.keep_days = Some(days);
            }
            policy = self.target.set_version_policy(org, policy).await?;
        }
        let view = PolicyView {
            org,
            keep: policy.keep_last,
            keep_days: policy.keep_days,
        };
        if self.printer.json {
            return print_json(&view);
        }
        let count = policy.keep_last.map_or_else(
            || "every version".to_owned(),
            |n| format!("at most {n} versions"),
        );
        let age = policy.keep_days.map_or_else(String::new, |days| {
            format!(", dropping old versions after {days} days")
        });
        write_stdout(format!("organization {org} keeps {count} of each file{age}\n").as_bytes())
    }

    async fn gc(&self, args: GcArgs) -> Result<(), CliError> {
        let fs = self.target.local_only("gc")?;
        let expired = if args.retention {
            let report = fs.files().apply_retention(Timestamp::now()).await?;
            for (_, path) in &report.removed {
                self.printer
                    .note(&format!("removed {path} (retention policy)"));
            }
            for (org, session) in fs.sessions().end_expired(chrono::Utc::now()).await? {
                self.printer.note(&format!(
                    "ended session {session} of {org} (retention policy)"
                ));
            }
            for key in fs.items().remove_expired(chrono::Utc::now()).await? {
                self.printer.note(&format!("removed {key} (expired)"));
            }
            Some(
                report
                    .removed
                    .iter()
                    .map(|(_, path)| path.to_string())
                    .collect(),
            )
        } else {
            None
        };
        let store = fs.store();
        let cutoff = match args.grace {
            Some(seconds) => Timestamp::now().minus(Duration::from_secs(seconds)),
            None => store.gc_cutoff(),
        };
        let report = store
            .collect_garbage(cutoff)
            .await
            .map_err(nexus_core::FsError::from)?;
        let view = GcView {
            expired,
            unreferenced: report.unreferenced,
            orphans: report.orphans,
            interrupted: report.interrupted,
        };
        if self.printer.json {
            return print_json(&view);
        }
        write_stdout(
            format!(
                "deleted {} unreferenced blobs, {} orphan blobs, {} interrupted uploads\n",
                view.unreferenced, view.orphans, view.interrupted
            )
            .as_bytes(),
        )
    }

    async fn fsck(&self, args: FsckArgs) -> Result<(), CliError> {
        let report = self
            .target
            .local_only("fsck")?
            .store()
            .check(args.verify_content)
            .await
            .map_err(nexus_core::FsError::from)?;
        let view = FsckView {
            ok: report.problems.is_empty(),
            problems: &report.problems,
            referenced_blobs: report.referenced_blobs,
            orphan_blobs: report.orphan_blobs,
            verified_blobs: report.verified_blobs,
        };
        if self.printer.json {
            print_json(&view)?;
        } else {
            let mut out = String::new();
            for problem in &report.problems {
                out.push_str(&format!("problem: {problem}\n"));
            }
            out.push_str(&format!(
                "{}: {} referenced blobs ({} verified), {} orphan blobs\n",
                if view.ok { "ok" } else { "damaged" },
                view.referenced_blobs,
                view.verified_blobs,
                view.orphan_blobs
            ));
            write_stdout(out.as_bytes())?;
        }
        if view.ok {
            Ok(())
        } else {
            Err(CliError::new(
                ErrorCode::DataCorrupt,
                format!("{} problems found", report.problems.len()),
            ))
        }
    }
}

/// The content of `nexus write`: the argument, `--file`, or standard input.
fn read_content(args: &WriteArgs) -> Result<Bytes, CliError> {
    if let Some(file) = &args.file {
        return std::fs::read(file).map(Bytes::from).map_err(|error| {
            CliError::new(
                ErrorCode::InvalidInput,
                format!("cannot read `{}`: {error}", file.display()),
            )
        });
    }
    match args.content.as_deref() {
        Some("-") | None => {
            let mut stdin = std::io::stdin().lock();
            if args.content.is_none() && stdin.is_terminal() {
                return Err(CliError::new(ErrorCode::InvalidInput, "no content given")
                    .with_hint("pass the content as an argument, use `--file FILE`, or pipe it to standard input"));
            }
            let mut buffer = Vec::new();
            stdin.read_to_end(&mut buffer).map_err(|error| {
                CliError::new(
                    ErrorCode::InvalidInput,
                    format!("cannot read standard input: {error}"),
                )
            })?;
            Ok(Bytes::from(buffer))
        }
        Some(text) => Ok(Bytes::from(text.to_owned())),
    }
}
