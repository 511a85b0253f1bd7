//! Command-line syntax (clap). Behaviour lives in `commands.rs`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Nexus: a multi-tenant context store for teams of humans and AI agents.
#[derive(Debug, Parser)]
#[command(
    name = "nexus",
    version,
    about,
    long_about = None,
    after_help = "Examples:\n  nexus --data-dir ./nexus-data ls -r /orgs/acme\n  NEXUS_URL=http://localhost:8080 NEXUS_API_KEY=nx_... nexus ls /orgs"
)]
pub struct Cli {
    /// Data directory of the embedded store (beats `NEXUS_URL`/`NEXUS_HOST`; giving both
    /// `--data-dir` and `--url` is an error).
    #[arg(
        long,
        global = true,
        env = "NEXUS_DATA_DIR",
        value_name = "DIR",
        help_heading = "Global options"
    )]
    pub data_dir: Option<PathBuf>,

    /// Talk to a Nexus server instead of opening a data directory (`NEXUS_HOST` and
    /// `NEXUS_PORT` also name one).
    #[arg(
        long,
        global = true,
        env = "NEXUS_URL",
        value_name = "URL",
        help_heading = "Global options"
    )]
    pub url: Option<String>,

    /// API key to present to the server.
    #[arg(
        long,
        global = true,
        env = "NEXUS_API_KEY",
        hide_env_values = true,
        value_name = "KEY",
        help_heading = "Global options"
    )]
    pub api_key: Option<String>,

    /// JWT to present to the server (when no API key is given).
    #[arg(
        long,
        global = true,
        env = "NEXUS_TOKEN",
        hide_env_values = true,
        value_name = "JWT",
        help_heading = "Global options"
    )]
    pub token: Option<String>,

    /// Print results as JSON (errors too, on stderr).
    #[arg(long, global = true, help_heading = "Global options")]
    pub json: bool,

    /// Seconds to wait for another process to release the data directory.
    #[arg(
        long,
        global = true,
        default_value_t = 10,
        value_name = "SECONDS",
        help_heading = "Global options"
    )]
    pub lock_timeout: u64,

    /// Act as this principal (`user:ID` or `agent:ID`) instead of the operator: every
    /// operation is then checked against its permissions (data directories only).
    #[arg(
        long = "as",
        global = true,
        env = "NEXUS_AS",
        value_name = "PRINCIPAL",
        help_heading = "Global options"
    )]
    pub acting_as: Option<String>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List a directory (all pages unless `--limit` is given).
    #[command(
        after_help = "Example:\n  nexus ls -r /orgs/acme\n  nexus ls /orgs/acme/sales --limit 100"
    )]
    Ls(LsArgs),
    /// Print a file's content.
    #[command(
        after_help = "Example:\n  nexus cat /orgs/acme/sales/notes.md\n  nexus cat /orgs/acme/sales/log.txt --range -100"
    )]
    Cat(CatArgs),
    /// Create or overwrite a file from an argument, a file or standard input.
    #[command(
        after_help = "Example:\n  nexus write -p /orgs/acme/sales/notes.md \"# Q1 planning\"\n  echo hello | nexus write /orgs/acme/sales/log.txt\n  nexus write /orgs/acme/sales/report.pdf --file ./report.pdf"
    )]
    Write(WriteArgs),
    /// Create directories.
    #[command(after_help = "Example:\n  nexus mkdir -p /orgs/acme/sales/documents")]
    Mkdir(MkdirArgs),
    /// Remove files or directories.
    #[command(
        after_help = "Example:\n  nexus rm /orgs/acme/sales/old.md\n  nexus rm -r /orgs/acme/sales/archive"
    )]
    Rm(RmArgs),
    /// Move or rename a file or directory.
    #[command(after_help = "Example:\n  nexus mv /orgs/acme/sales/notes.md /orgs/acme/sales/q1.md")]
    Mv(MvArgs),
    /// Copy a file or directory.
    #[command(after_help = "Example:\n  nexus cp -r /orgs/acme/sales /orgs/acme/sales-archive")]
    Cp(CpArgs),
    /// Show metadata of a file or directory.
    #[command(after_help = "Example:\n  nexus stat /orgs/acme/sales/notes.md")]
    Stat(PathArg),
    /// Find paths matching a glob pattern (`*`, `?`, `**`, `[...]`, `{a,b}`).
    #[command(after_help = "Example:\n  nexus glob '/orgs/acme/**/*.md'")]
    Glob(GlobArgs),
    /// Search file contents with a regular expression.
    #[command(
        after_help = "Example:\n  nexus grep -i -C 1 planning /orgs/acme\n  (exits 3 when nothing matches, with or without --json)"
    )]
    Grep(GrepArgs),
    /// Search the files and knowledge items you may read: words (all must match; stemmed),
    /// "quoted phrases", prefix*, -excluded. `nexus search reindex` rebuilds an
    /// organization's index (system administrator).
    #[command(
        after_help = "Example:\n  nexus search deploy friday\n  nexus search '\"payment service\"' --path /orgs/acme/eng\n  nexus search onboard* --env kb --limit 20\n  nexus search reindex --org acme\n  (exits 3 when nothing matches)"
    )]
    Search(SearchArgs),
    /// List, read and restore old versions of a file; set retention.
    #[command(
        after_help = "Example:\n  nexus versions /orgs/acme/sales/q1.md\n  nexus versions restore /orgs/acme/sales/q1.md 1\n  nexus versions policy acme --keep 20"
    )]
    Versions(VersionsArgs),
    /// Delete content no file refers to any more (after a grace period).
    #[command(
        after_help = "Example:\n  nexus gc\n  nexus gc --retention   # also applies org.json retention policies"
    )]
    Gc(GcArgs),
    /// Check the data directory for inconsistencies.
    #[command(after_help = "Example:\n  nexus fsck --verify-content")]
    Fsck(FsckArgs),
    /// Set one subject's ACL entry on a path: `user:ID:rwx`, `agent:ID:rw-`, `group:NAME:r--`
    /// (`---` removes it). Setting an entry that is already there changes nothing.
    #[command(
        after_help = "Example:\n  nexus setfacl /orgs/acme/sales user:bob@acme.com:rw-\n  nexus setfacl /orgs/acme/engineering group:eng:r--"
    )]
    Setfacl {
        /// Absolute path, e.g. `/orgs/acme/sales`.
        path: String,
        /// `user:ID:MODE`, `agent:ID:MODE` or `group:NAME:MODE`; MODE is three characters
        /// from `r-`, `w-`, `x-` (e.g. `rw-`).
        entry: String,
    },
    /// Show the ACL entries and role grants stored on a path.
    #[command(after_help = "Example:\n  nexus getfacl /orgs/acme/engineering")]
    Getfacl(PathArg),
    /// Relationships, permission checks and the schema (Zanzibar-style ReBAC).
    #[command(subcommand)]
    #[command(
        after_help = "Example:\n  nexus rebac create user:alice@acme.com admin /orgs/acme\n  nexus rebac check user:bob@acme.com write /orgs/acme/sales"
    )]
    Rebac(RebacCommand),
    /// Provision organizations, workspaces, members and permissions from a configuration
    /// file. Idempotent: run it again after editing the file to add what is new.
    #[command(after_help = "Example:\n  nexus init --config nexus.yaml")]
    Init(ConfigArg),
    /// Run the HTTP API server.
    #[command(
        after_help = "Example:\n  nexus serve --config nexus.yaml\n  nexus serve --config nexus.yaml --host 0.0.0.0 --port 8080"
    )]
    Serve(ServeArgs),
    /// Bring the configured metadata database's schema up to this version of Nexus.
    /// Idempotent; safe while other nodes start (one migrates, the others wait).
    #[command(after_help = "Example:\n  nexus migrate --config nexus.yaml")]
    Migrate(ConfigArg),
    /// Configuration files.
    #[command(subcommand)]
    #[command(after_help = "Example:\n  nexus config validate nexus.yaml")]
    Config(ConfigCommand),
    /// Members, users, organizations and API keys.
    #[command(subcommand)]
    #[command(
        after_help = "Example:\n  nexus admin add-user --org acme --user bob@acme.com --role member --workspaces sales\n  nexus admin create-key --principal user:bob@acme.com"
    )]
    Admin(AdminCommand),
    /// Knowledge items of the thirteen environments (kb, track, context, ...).
    #[command(subcommand)]
    #[command(
        after_help = "Example:\n  nexus item create kb --kind node --data '{\"title\": \"Deploys\"}'\n  nexus item ls --env track\n  nexus item search deploy"
    )]
    Item(ItemCommand),
    /// Solo and group sessions.
    #[command(subcommand)]
    #[command(
        after_help = "Example:\n  nexus session start \"Phoenix sprint\" --group --members bob@acme.com\n  eval $(nexus session join s_grp1)"
    )]
    Session(SessionCommand),
    /// Share an item with people, a session or the whole organization; without a target,
    /// show who can read it and why.
    #[command(
        after_help = "Example:\n  nexus share kb:u_z1p5:20260103:node:abc123 --with bob@acme.com\n  nexus share KEY --session s_grp1\n  nexus share KEY --universal\n  nexus share KEY --with bob@acme.com --revoke\n  nexus share KEY"
    )]
    Share(ShareArgs),
    /// Workflow protocols.
    #[command(subcommand)]
    #[command(after_help = "Example:\n  nexus workflow resolve")]
    Workflow(WorkflowCommand),
    /// The audit log (organization admins: their organization's; the system administrator:
    /// every log).
    #[command(subcommand)]
    #[command(after_help = "Example:\n  nexus audit ls --org acme --actor user:bob@acme.com")]
    Audit(AuditCommand),
    /// The changes to files and items of an organization that you may read, oldest first:
    /// `revision  at  action  path-or-key  [to]  author`.
    #[command(
        after_help = "Example:\n  nexus changes --org acme\n  nexus changes --org acme --after 120"
    )]
    Changes {
        #[command(flatten)]
        org: OrgArg,
        /// Only changes after this revision.
        #[arg(long, value_name = "REVISION")]
        after: Option<u64>,
    },
    /// Export an organization to an archive (system administrator): files with every
    /// version, relationships, sessions and items, reminders, the change feed, the audit log
    /// and locker secrets (sealed, never in clear). A zstd-compressed tar; see
    /// docs/archives.md.
    #[command(
        after_help = "Example:\n  nexus export --org acme --output acme.tar.zst\n  nexus export --org acme > acme.tar.zst"
    )]
    Export {
        /// The organization.
        #[arg(long, value_name = "ORG")]
        org: String,
        /// Where to write the archive (default: standard output, unless it is a terminal).
        #[arg(long, short = 'o', value_name = "FILE")]
        output: Option<std::path::PathBuf>,
    },
    /// Import an organization from an archive made by `nexus export` (system
    /// administrator). Refused if the organization exists, unless `--replace`; an altered
    /// or damaged archive is refused. Either way nothing changes.
    #[command(
        after_help = "Example:\n  nexus import acme.tar.zst\n  nexus import acme.tar.zst --replace"
    )]
    Import {
        /// The archive (`-`: standard input).
        #[arg(value_name = "FILE")]
        file: std::path::PathBuf,
        /// Replace the organization if it exists.
        #[arg(long)]
        replace: bool,
    },
    /// Your notification feed: reminders that fell due, sessions you were added to, items
    /// shared with you.
    #[command(subcommand)]
    #[command(
        after_help = "Example:\n  nexus notifications ls --unread\n  nexus notifications read 3"
    )]
    Notifications(NotificationCommand),
    /// JSON Web Tokens signed with the configured secret (for scripts and tests).
    #[command(subcommand)]
    #[command(
        after_help = "Example:\n  nexus token create --config nexus.yaml --sub bob@acme.com --ttl 1h"
    )]
    Token(TokenCommand),
    /// Serve the MCP tools to an AI assistant over standard input and output: on a data
    /// directory as the principal `--as` (or `NEXUS_AS`) names, or against a server
    /// (`NEXUS_URL` with `NEXUS_API_KEY` or `NEXUS_TOKEN`) as its credentials name.
    #[command(
        after_help = "Example:\n  nexus --data-dir ./nexus-data --as agent:notes-bot mcp\n  NEXUS_URL=http://localhost:8080 NEXUS_API_KEY=nx_... nexus mcp"
    )]
    Mcp,
    /// Let an agent act on your behalf until it expires: each of its requests then has the
    /// intersection of its permissions and yours.
    #[command(subcommand)]
    #[command(
        after_help = "Example:\n  nexus delegation create --agent notes-bot --expires-in 8h\n  nexus delegation ls\n  nexus delegation revoke key_0123456789abcdef"
    )]
    Delegation(DelegationCommand),
}

/// `nexus delegation ...`
#[derive(Debug, Subcommand)]
pub enum DelegationCommand {
    /// Let an agent act on your behalf (its secret is shown once: give it to the agent).
    #[command(
        after_help = "Example:\n  nexus delegation create --agent notes-bot --expires-in 8h --description \"laptop assistant\""
    )]
    Create {
        /// The agent, by name or stable id.
        #[arg(long)]
        agent: String,
        /// How long it lasts: `<number><s|m|h|d>`, at most `30d`.
        #[arg(long, default_value = "8h")]
        expires_in: String,
        /// A note to recognise it by.
        #[arg(long, default_value = "")]
        description: String,
    },
    /// The delegations you granted (or, for an agent, those granted to it).
    #[command(after_help = "Example:\n  nexus delegation ls")]
    Ls,
    /// End a delegation now.
    #[command(after_help = "Example:\n  nexus delegation revoke key_0123456789abcdef")]
    Revoke {
        /// The delegation's id, as shown by `create` and `ls`.
        id: String,
    },
}

/// The organization of a knowledge command.
#[derive(Debug, Args)]
pub struct OrgArg {
    /// The organization (default: the only one the caller belongs to).
    #[arg(long, env = "NEXUS_ORG", value_name = "ORG")]
    pub org: Option<String>,
}

/// `nexus search`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct SearchArgs {
    #[command(subcommand)]
    pub command: Option<SearchCommand>,
    /// What to look for (the words are joined with spaces).
    #[arg(required = true, num_args = 1.., value_name = "QUERY")]
    pub query: Vec<String>,
    #[command(flatten)]
    pub org: OrgArg,
    /// `keyword`, `semantic` or `hybrid`.
    #[arg(long, value_name = "MODE")]
    pub mode: Option<String>,
    /// Only under this folder (or this file).
    #[arg(long, value_name = "PATH")]
    pub path: Option<String>,
    /// Only knowledge items of this environment.
    #[arg(long, value_name = "ENV")]
    pub env: Option<String>,
    /// Only items of this scope (`personal`, `UNIV`, `s_XXXX`, a person).
    #[arg(long, value_name = "SCOPE")]
    pub scope: Option<String>,
    /// Only items of this kind.
    #[arg(long, value_name = "KIND")]
    pub kind: Option<String>,
    /// Only what this person or agent changed last.
    #[arg(long, value_name = "WHO")]
    pub author: Option<String>,
    /// Changed at or after (RFC 3339).
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Changed before (RFC 3339).
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// Hits to show (at most 100).
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub limit: usize,
    /// Continue after an earlier page (its `next_cursor`).
    #[arg(long, value_name = "CURSOR")]
    pub cursor: Option<String>,
    /// Wait until the index reflects every change committed before the search.
    #[arg(long)]
    pub consistent: bool,
    /// Show why you may read each hit (the relationship path from it to you).
    #[arg(long)]
    pub why: bool,
}

/// `nexus search reindex`.
#[derive(Debug, Subcommand)]
pub enum SearchCommand {
    /// Rebuild an organization's search index from the store (system administrator).
    #[command(after_help = "Example:\n  nexus search reindex --org acme")]
    Reindex {
        #[command(flatten)]
        org: OrgArg,
    },
}

/// An item's data: a JSON argument, or a file (`-`: standard input).
#[derive(Debug, Args)]
pub struct DataArgs {
    /// The data as JSON, in the environment's schema.
    #[arg(long, value_name = "JSON", conflicts_with = "data_file")]
    pub data: Option<String>,
    /// A file holding the data (`-` for standard input).
    #[arg(long, value_name = "FILE")]
    pub data_file: Option<PathBuf>,
}

/// Filters of `item ls` and `item search`.
#[derive(Debug, Args)]
pub struct ItemFilters {
    /// One environment (`kb`, `track`, ...).
    #[arg(long)]
    pub env: Option<String>,
    /// `personal`, `UNIV`, `u_XXXX` or `s_XXXX`.
    #[arg(long)]
    pub scope: Option<String>,
    /// One kind (`node`, `task`, ...).
    #[arg(long)]
    pub kind: Option<String>,
    /// Who created the items (handle or stable id).
    #[arg(long)]
    pub owner: Option<String>,
    /// Created on or after this day (`YYYYMMDD` or `YYYY-MM-DD`).
    #[arg(long)]
    pub since: Option<String>,
    /// Created on or before this day.
    #[arg(long)]
    pub until: Option<String>,
    /// At most this many items (else every page).
    #[arg(long)]
    pub limit: Option<usize>,
}

#[derive(Debug, Subcommand)]
pub enum ItemCommand {
    /// Create an item; it is personal unless `--scope` says otherwise.
    #[command(
        after_help = "Example:\n  nexus item create kb --kind node --data '{\"title\": \"Deploys\"}'\n  nexus item create track --scope s_grp1 --kind project --data '{\"title\": \"Phoenix\"}'\n  nexus item create context --kind note --data-file note.json"
    )]
    Create {
        /// The environment: user, locker, track, kb, contact, session, context, documents,
        /// links, workflow, temp, transcript, chrono.
        env: String,
        /// `personal`, `UNIV` (the organization) or a session's `s_XXXX`.
        #[arg(long, default_value = "personal")]
        scope: String,
        /// What the item is (`node`, `project`, `task`, `note`, ...).
        #[arg(long)]
        kind: String,
        /// The item's id (random when absent).
        #[arg(long)]
        id: Option<String>,
        /// The session you work in (`nexus session join` sets `NEXUS_SESSION`): the answer
        /// offers to share the item with it.
        #[arg(long, env = "NEXUS_SESSION", value_name = "SESSION")]
        session: Option<String>,
        #[command(flatten)]
        data: DataArgs,
        #[command(flatten)]
        org: OrgArg,
    },
    /// Show an item.
    #[command(after_help = "Example:\n  nexus item get kb:u_z1p5:20260103:node:abc123")]
    Get {
        /// `env:scope:YYYYMMDD:kind:id`.
        key: String,
        #[command(flatten)]
        org: OrgArg,
    },
    /// Replace an item's data.
    #[command(
        after_help = "Example:\n  nexus item update KEY --data '{\"title\": \"Deploys v2\"}' --if-match v1-0123456789abcdef"
    )]
    Update {
        /// `env:scope:YYYYMMDD:kind:id`.
        key: String,
        #[command(flatten)]
        data: DataArgs,
        /// Only if the item's etag is still this one.
        #[arg(long, value_name = "ETAG")]
        if_match: Option<String>,
        #[command(flatten)]
        org: OrgArg,
    },
    /// Delete an item and its shares.
    #[command(after_help = "Example:\n  nexus item rm kb:u_z1p5:20260103:node:abc123")]
    Rm {
        /// `env:scope:YYYYMMDD:kind:id`.
        key: String,
        /// Only if the item's etag is still this one.
        #[arg(long, value_name = "ETAG")]
        if_match: Option<String>,
        #[command(flatten)]
        org: OrgArg,
    },
    /// List the items you may read.
    #[command(after_help = "Example:\n  nexus item ls --env track --scope personal")]
    Ls {
        #[command(flatten)]
        filters: ItemFilters,
        #[command(flatten)]
        org: OrgArg,
    },
    /// Find the items you may read that contain every word.
    #[command(after_help = "Example:\n  nexus item search deploy pipeline --env kb")]
    Search {
        /// Words that must all appear (case-insensitive).
        #[arg(required = true)]
        words: Vec<String>,
        #[command(flatten)]
        filters: ItemFilters,
        #[command(flatten)]
        org: OrgArg,
    },
    /// Set a Track task's assignees (a manager: within the team).
    #[command(after_help = "Example:\n  nexus item assign KEY bob@acme.com carol@acme.com")]
    Assign {
        /// `env:scope:YYYYMMDD:kind:id`.
        key: String,
        /// Members, by handle or stable id (none: unassigned).
        users: Vec<String>,
        #[command(flatten)]
        org: OrgArg,
    },
}

#[derive(Debug, Subcommand)]
pub enum SessionCommand {
    /// Start a session you own (solo unless `--group`).
    #[command(
        after_help = "Example:\n  nexus session start \"Phoenix sprint\" --group --members bob@acme.com,carol@acme.com"
    )]
    Start {
        /// What the session is about.
        title: String,
        /// A group session (members share its items).
        #[arg(long)]
        group: bool,
        /// Members besides you (comma-separated handles or stable ids).
        #[arg(long, value_delimiter = ',')]
        members: Vec<String>,
        #[command(flatten)]
        org: OrgArg,
    },
    /// Work in a session you are a member of: prints `export NEXUS_SESSION=...` for the
    /// shell, so `item create` offers to share with it.
    #[command(after_help = "Example:\n  eval $(nexus session join s_grp1)")]
    Join {
        /// The session's stable id (`s_XXXX`).
        session: String,
        #[command(flatten)]
        org: OrgArg,
    },
    /// Add a member to a group session (its owner or an organization admin).
    #[command(after_help = "Example:\n  nexus session add s_grp1 dan@acme.com")]
    Add {
        /// The session's stable id (`s_XXXX`).
        session: String,
        /// A member of the organization (handle or stable id).
        user: String,
        #[command(flatten)]
        org: OrgArg,
    },
    /// End a session: members keep reading its items; nothing more is added.
    #[command(after_help = "Example:\n  nexus session end s_grp1")]
    End {
        /// The session's stable id (`s_XXXX`).
        session: String,
        #[command(flatten)]
        org: OrgArg,
    },
    /// The sessions you are in.
    #[command(after_help = "Example:\n  nexus session ls --active")]
    Ls {
        /// Only running sessions.
        #[arg(long)]
        active: bool,
        #[command(flatten)]
        org: OrgArg,
    },
    /// Show one session in the seed's JSON shape.
    #[command(after_help = "Example:\n  nexus session show s_grp1")]
    Show {
        /// The session's stable id (`s_XXXX`).
        session: String,
        #[command(flatten)]
        org: OrgArg,
    },
}

#[derive(Debug, Args)]
pub struct ShareArgs {
    /// The item's key.
    pub key: String,
    /// Share with these members (comma-separated handles or stable ids).
    #[arg(long = "with", value_delimiter = ',', value_name = "USERS")]
    pub users: Vec<String>,
    /// Share with every member of the organization.
    #[arg(long)]
    pub universal: bool,
    /// Share with a session's members.
    #[arg(long, value_name = "SESSION")]
    pub session: Option<String>,
    /// Share with groups of the organization (User and Locker items; comma-separated).
    #[arg(long, value_delimiter = ',', value_name = "GROUPS")]
    pub groups: Vec<String>,
    /// Share with a role of the organization (`admin`; User and Locker items).
    #[arg(long, value_name = "ROLE")]
    pub role: Option<String>,
    /// Take the share back instead.
    #[arg(long)]
    pub revoke: bool,
    #[command(flatten)]
    pub org: OrgArg,
}

#[derive(Debug, Subcommand)]
pub enum WorkflowCommand {
    /// Your effective protocols: the organization's, overridden by yours of the same name.
    #[command(after_help = "Example:\n  nexus workflow resolve")]
    Resolve {
        #[command(flatten)]
        org: OrgArg,
    },
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Entries, oldest first: `at  actor  action  target  outcome` (every page); `--jsonl`
    /// prints one JSON object per line (an export).
    #[command(
        after_help = "Example:\n  nexus audit ls --org acme --since 2026-12-01T00:00:00Z\n  nexus audit ls --org acme --action locker_read\n  nexus audit ls --jsonl > audit.jsonl"
    )]
    Ls {
        /// One organization's log (`system`: the system log); required for organization
        /// admins.
        #[arg(long)]
        org: Option<String>,
        /// Who acted (`user:alice@acme.com`, `agent:sales-bot`, `system`).
        #[arg(long)]
        actor: Option<String>,
        /// Entries whose target starts with this (a path or item key prefix).
        #[arg(long)]
        path_prefix: Option<String>,
        /// One action (`files_write`, `locker_read`...).
        #[arg(long)]
        action: Option<String>,
        /// Recorded at or after (RFC 3339).
        #[arg(long)]
        since: Option<String>,
        /// Recorded before (RFC 3339).
        #[arg(long)]
        until: Option<String>,
        /// One JSON object per line.
        #[arg(long)]
        jsonl: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum NotificationCommand {
    /// Every notification, oldest first: `id  created_at  kind  title  [read]`.
    #[command(after_help = "Example:\n  nexus notifications ls\n  nexus notifications ls --unread")]
    Ls {
        /// Only those not marked read.
        #[arg(long)]
        unread: bool,
    },
    /// Mark notifications read.
    #[command(after_help = "Example:\n  nexus notifications read 3 4")]
    Read {
        /// Their ids (as `ls` shows them).
        #[arg(required = true)]
        ids: Vec<u64>,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Mint a token for a principal with the configuration's `jwt_secret` (HS256), printed
    /// on stdout. The server accepts it like one from an identity provider.
    #[command(
        after_help = "Example:\n  export BOB_TOKEN=$(nexus token create --config nexus.yaml --sub bob@acme.com --ttl 1h)"
    )]
    Create {
        /// The configuration file (`nexus.yaml`) whose `auth` section signs the token.
        #[arg(long, short, value_name = "FILE", env = "NEXUS_CONFIG")]
        config: PathBuf,
        /// Whom the token names: a user's handle or stable id, or `agent:<id>`.
        #[arg(long, value_name = "SUBJECT")]
        sub: String,
        /// How long it is valid: a number with `s`, `m`, `h` or `d` (at most 30 days).
        #[arg(long, default_value = "1h", value_name = "DURATION")]
        ttl: String,
    },
}

#[derive(Debug, Args)]
pub struct ConfigArg {
    /// The configuration file (`nexus.yaml`).
    #[arg(long, short, value_name = "FILE", env = "NEXUS_CONFIG")]
    pub config: PathBuf,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The configuration file (`nexus.yaml`).
    #[arg(long, short, value_name = "FILE", env = "NEXUS_CONFIG")]
    pub config: PathBuf,
    /// Address to listen on (default: the configuration's `server.host`, else 127.0.0.1).
    #[arg(long)]
    pub host: Option<String>,
    /// Port to listen on (default: the configuration's `server.port`, else 8080; 0 picks a
    /// free one).
    #[arg(long)]
    pub port: Option<u16>,
    /// Bring the PostgreSQL schema up to date before serving (as `nexus migrate`; the
    /// configuration's `storage.migrate: true` does the same).
    #[arg(long)]
    pub migrate: bool,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Check a configuration file: syntax, keys, types, values and environment variables
    /// (a `jwt_secret` variable may be unset: only `serve` needs it).
    #[command(after_help = "Example:\n  nexus config validate nexus.yaml")]
    Validate {
        /// The configuration file.
        file: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Add a member to an organization (updates `org.json` and access in one transaction).
    #[command(
        after_help = "Example:\n  nexus admin add-user --org acme --user charlie@acme.com --role member --workspaces sales"
    )]
    AddUser {
        /// The organization's id (e.g. `acme`).
        #[arg(long)]
        org: String,
        /// Handle (e.g. `charlie@acme.com`), stable id, or agent id with `--type agent`.
        #[arg(long)]
        user: String,
        /// `admin`, `member` or `assistant`.
        #[arg(long, default_value = "member")]
        role: String,
        /// Workspaces a member or assistant works in (comma-separated).
        #[arg(long, value_delimiter = ',')]
        workspaces: Vec<String>,
        /// `human` or `agent`.
        #[arg(long = "type", default_value = "human")]
        kind: String,
    },
    /// Remove a member from an organization: all their access there ends at once.
    #[command(
        after_help = "Example:\n  nexus admin remove-user --org acme --user charlie@acme.com"
    )]
    RemoveUser {
        /// The organization's id.
        #[arg(long)]
        org: String,
        /// The member's handle or stable id (or agent id).
        #[arg(long)]
        user: String,
    },
    /// List an organization's members, or every registered user and agent.
    #[command(
        after_help = "Example:\n  nexus admin list-users --org acme\n  nexus admin list-users"
    )]
    ListUsers {
        /// Only this organization's members (else every principal: system administrators only).
        #[arg(long)]
        org: Option<String>,
    },
    /// Create an API key (its secret is shown once).
    #[command(
        after_help = "Example:\n  nexus admin create-key --principal user:bob@acme.com --description laptop"
    )]
    CreateKey {
        /// Whom the key acts as: `system`, `user:<handle or id>`, `agent:<id>`.
        #[arg(long, default_value = "system")]
        principal: String,
        /// A note to recognise the key by in `list-keys`.
        #[arg(long, default_value = "")]
        description: String,
    },
    /// Set or clear a member's manager (organization admins).
    #[command(
        after_help = "Example:\n  nexus admin set-manager --org acme --user bob@acme.com --manager mona@acme.com\n  nexus admin set-manager --org acme --user bob@acme.com --clear"
    )]
    SetManager {
        /// The organization's id.
        #[arg(long)]
        org: String,
        /// The member whose manager this is.
        #[arg(long)]
        user: String,
        /// The manager (handle or stable id).
        #[arg(long, required_unless_present = "clear")]
        manager: Option<String>,
        /// Remove the manager instead.
        #[arg(long, conflicts_with = "manager")]
        clear: bool,
    },
    /// Lock an account: its memberships are suspended everywhere, ending all its access at
    /// once (system administrators).
    #[command(after_help = "Example:\n  nexus admin lock bob@acme.com")]
    Lock {
        /// The user's handle or stable id.
        user: String,
    },
    /// Emergency lockout: every credential of the user stops working at once (API keys
    /// revoked, tokens issued before now refused) and the account is locked (system
    /// administrators).
    #[command(after_help = "Example:\n  nexus admin lockout bob@acme.com")]
    Lockout {
        /// The user's handle or stable id.
        user: String,
    },
    /// Unlock an account locked with `admin lock` or `admin lockout`.
    #[command(after_help = "Example:\n  nexus admin unlock bob@acme.com")]
    Unlock {
        /// The user's handle or stable id.
        user: String,
    },
    /// Delete an account: removed from every organization, its keys revoked, its personal
    /// knowledge items removed (system administrators). Its stable id is never reused.
    #[command(after_help = "Example:\n  nexus admin delete-user bob@acme.com")]
    DeleteUser {
        /// The user's handle or stable id.
        user: String,
    },
    /// Revoke an API key: refused from the next request on.
    #[command(after_help = "Example:\n  nexus admin revoke-key key_0123456789abcdef")]
    RevokeKey {
        /// The key's id (`key_...`), as shown by `create-key` and `list-keys`.
        id: String,
    },
    /// List API keys (never their secrets).
    #[command(after_help = "Example:\n  nexus admin list-keys")]
    ListKeys,
    /// Create an organization with its record, shared folders and workspaces (refused if it
    /// exists: `nexus init` completes existing ones).
    #[command(
        after_help = "Example:\n  nexus admin create-org --id newco --name \"New Co\" --workspaces ops,sales"
    )]
    CreateOrg {
        /// The organization's id (lowercase letters, digits, `-`, `_`).
        #[arg(long)]
        id: String,
        /// Its display name.
        #[arg(long)]
        name: String,
        /// Workspaces to create (comma-separated).
        #[arg(long, value_delimiter = ',')]
        workspaces: Vec<String>,
    },
    /// Re-wrap every organization's locker data key under a new master key (secrets are
    /// not rewritten). Works on a data directory with the server stopped; the current key
    /// comes from `NEXUS_LOCKER_KEY`. Start the server with the new key afterwards.
    #[command(after_help = "Example:
  head -c 32 /dev/urandom | base64 > new-locker.key
  NEXUS_LOCKER_KEY=$(cat old-locker.key) nexus --data-dir ./nexus-data admin rotate-locker-key --new-key-file new-locker.key")]
    RotateLockerKey {
        /// A file holding the new master key (32 bytes, base64).
        #[arg(long)]
        new_key_file: std::path::PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum RebacCommand {
    /// Show or replace the authorization schema (SpiceDB schema language).
    #[command(subcommand)]
    #[command(after_help = "Example:\n  nexus rebac schema read")]
    Schema(SchemaCommand),
    /// Add a relationship: `SUBJECT RELATION OBJECT` (e.g. `user:alice@acme.com admin /orgs/acme`)
    /// or one `resource#relation@subject` string. Fails if it exists.
    #[command(
        after_help = "Example:\n  nexus rebac create user:alice@acme.com admin /orgs/acme\n  nexus rebac create 'group:acme/eng#member@user:bob@acme.com'\n  (creating what is already there changes nothing and exits 0)"
    )]
    Create(RelationshipArgs),
    /// Add or replace a relationship (same forms as `create`).
    #[command(
        after_help = "Example:\n  nexus rebac touch user:bob@acme.com viewer /orgs/acme/sales --expires 2027-01-01T00:00:00Z"
    )]
    Touch(RelationshipArgs),
    /// Remove a relationship (same forms as `create`).
    #[command(
        after_help = "Example:\n  nexus rebac delete user:bob@acme.com member /orgs/acme/sales"
    )]
    Delete(RelationshipArgs),
    /// Whether SUBJECT has PERMISSION on OBJECT: prints `true`, `false` or `conditional`.
    #[command(
        after_help = "Example:\n  nexus rebac check user:bob@acme.com write /orgs/acme/sales/documents/"
    )]
    Check(CheckArgs),
    /// The tree of how PERMISSION on OBJECT is formed.
    #[command(after_help = "Example:\n  nexus rebac expand read /orgs/acme/sales --recursive")]
    Expand {
        /// A permission or relation name (`read`, `write`, `manage`, `member`...).
        permission: String,
        /// A path or `type:id`.
        object: String,
        /// Expand usersets down to their members too.
        #[arg(short, long)]
        recursive: bool,
    },
    /// Objects of TYPE on which SUBJECT has PERMISSION.
    #[command(after_help = "Example:\n  nexus rebac lookup-resources user:bob@acme.com read file")]
    LookupResources {
        /// `type:id` or `type:id#relation` (e.g. `user:bob@acme.com`).
        subject: String,
        /// A permission or relation name.
        permission: String,
        /// The object type to search (e.g. `file`, `group`).
        #[arg(value_name = "TYPE")]
        resource_type: String,
    },
    /// Subjects of a type (`user`, or `group#member`) with PERMISSION on OBJECT.
    #[command(after_help = "Example:\n  nexus rebac lookup-subjects /orgs/acme/sales read user")]
    LookupSubjects {
        /// A path or `type:id`.
        object: String,
        /// A permission or relation name.
        permission: String,
        /// `user`, `agent`, or a userset type such as `group#member`.
        subject_type: String,
    },
    /// Stored relationships, filtered.
    #[command(after_help = "Example:\n  nexus rebac read --resource /orgs/acme/sales")]
    Read(ReadArgs),
    /// Relationship changes after a revision.
    #[command(after_help = "Example:\n  nexus rebac changes --since 0 --limit 100")]
    Changes {
        /// Changes after this revision.
        #[arg(long, default_value_t = 0)]
        since: u64,
        /// Stop after the revision that reaches this many changes (pages hold whole
        /// revisions; continue with `--since` the last revision printed).
        #[arg(long, default_value_t = 1000)]
        limit: usize,
    },
    /// Run SpiceDB validation files (schema, relationships, assertions, expected relations).
    #[command(after_help = "Example:\n  nexus rebac validate conformance/spicedb/*.yaml")]
    Validate {
        /// SpiceDB validation files (YAML).
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum SchemaCommand {
    /// Print the schema in force.
    #[command(after_help = "Example:\n  nexus rebac schema read > schema.zed")]
    Read,
    /// Replace the schema with the one in FILE (`-`: standard input).
    #[command(after_help = "Example:\n  nexus rebac schema write schema.zed")]
    Write {
        /// The schema file (SpiceDB schema language), or `-` for standard input.
        file: PathBuf,
    },
}

#[derive(Debug, Args)]
pub struct RelationshipArgs {
    /// `SUBJECT RELATION OBJECT`, or one `resource#relation@subject` string. OBJECT may be a
    /// path (`/orgs/acme/sales`, a file) or `type:id`.
    #[arg(required = true, num_args = 1..=3)]
    pub parts: Vec<String>,
    /// Caveat: `NAME` or `NAME:{json context}`.
    #[arg(long, value_name = "CAVEAT")]
    pub caveat: Option<String>,
    /// Expiry instant (RFC 3339), for relations that allow expiration.
    #[arg(long, value_name = "TIME")]
    pub expires: Option<String>,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// `type:id` or `type:id#relation` (e.g. `user:bob@acme.com`).
    pub subject: String,
    /// A permission or relation name (`read`, `write`, `manage`...).
    pub permission: String,
    /// A path (`/orgs/acme/sales/`) or `type:id`.
    pub object: String,
    /// Caveat parameters as a JSON object.
    #[arg(long, value_name = "JSON")]
    pub context: Option<String>,
    /// Answer at least as fresh as this revision token (the `revision` an earlier command
    /// printed with `--json`).
    #[arg(long, value_name = "REVISION")]
    pub at_least: Option<String>,
}

#[derive(Debug, Args)]
pub struct ReadArgs {
    /// Only relationships on this object (`type:id` or a path).
    #[arg(long, value_name = "OBJECT")]
    pub resource: Option<String>,
    /// Only relationships of this type of object.
    #[arg(long, value_name = "TYPE")]
    pub resource_type: Option<String>,
    /// Only relationships with this relation.
    #[arg(long)]
    pub relation: Option<String>,
    /// Only relationships with this subject (`type:id` or `type:id#relation`).
    #[arg(long, value_name = "SUBJECT")]
    pub subject: Option<String>,
    /// At most this many relationships (the last one printed continues with `--after`).
    #[arg(long, default_value_t = 1000)]
    pub limit: usize,
    /// Continue after this relationship (as printed by a previous page).
    #[arg(long, value_name = "RELATIONSHIP")]
    pub after: Option<String>,
}

#[derive(Debug, Args)]
pub struct PathArg {
    /// Absolute path, e.g. `/orgs/acme/sales/notes.md`.
    pub path: String,
}

#[derive(Debug, Args)]
pub struct LsArgs {
    /// Directory (or file) to list.
    #[arg(default_value = "/")]
    pub path: String,
    /// Everything beneath the directory, not just its children.
    #[arg(short, long)]
    pub recursive: bool,
    /// Return one page of at most this many entries (prints the next cursor on stderr).
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// Continue a listing from the cursor a previous page printed.
    #[arg(long, value_name = "CURSOR")]
    pub cursor: Option<String>,
}

#[derive(Debug, Args)]
pub struct CatArgs {
    /// The file to print.
    pub path: String,
    /// Only these bytes: `START-END` (inclusive), `START-` or `-LAST`.
    #[arg(long, value_name = "RANGE")]
    pub range: Option<String>,
    /// Read this stored version instead of the current one.
    #[arg(long, value_name = "N")]
    pub version: Option<u64>,
}

#[derive(Debug, Args)]
pub struct WriteArgs {
    /// The file to create or overwrite.
    pub path: String,
    /// The content; `-` or omitted reads standard input.
    #[arg(conflicts_with = "file")]
    pub content: Option<String>,
    /// Read the content from this local file.
    #[arg(long, value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Only write if the file's current etag is this one (`*`: if it exists).
    #[arg(long, value_name = "ETAG", conflicts_with = "if_none_match")]
    pub if_match: Option<String>,
    /// Only write if the file does not exist yet.
    #[arg(long)]
    pub if_none_match: bool,
    /// Create missing parent directories.
    #[arg(short, long)]
    pub parents: bool,
}

#[derive(Debug, Args)]
pub struct MkdirArgs {
    /// Directories to create.
    #[arg(required = true)]
    pub paths: Vec<String>,
    /// Create missing parents; an existing directory is not an error.
    #[arg(short, long)]
    pub parents: bool,
}

#[derive(Debug, Args)]
pub struct RmArgs {
    /// Files or directories to remove.
    #[arg(required = true)]
    pub paths: Vec<String>,
    /// Remove directories and everything beneath them.
    #[arg(short, long)]
    pub recursive: bool,
}

#[derive(Debug, Args)]
pub struct MvArgs {
    /// What to move.
    pub source: String,
    /// New path; an existing directory receives the source inside it.
    pub destination: String,
    /// Replace an existing file at the destination.
    #[arg(short, long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct CpArgs {
    /// What to copy.
    pub source: String,
    /// New path; an existing directory receives the copy inside it.
    pub destination: String,
    /// Copy directories with everything beneath them.
    #[arg(short, long)]
    pub recursive: bool,
    /// Replace an existing file at the destination (it gains a version).
    #[arg(short, long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct GlobArgs {
    /// Absolute pattern, e.g. `/orgs/acme/**/*.md`.
    pub pattern: String,
    /// Most results.
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
}

#[derive(Debug, Args)]
pub struct GrepArgs {
    /// Regular expression (Rust `regex` syntax).
    pub pattern: String,
    /// File or directory to search.
    #[arg(default_value = "/")]
    pub path: String,
    /// Match without regard to case.
    #[arg(short, long)]
    pub ignore_case: bool,
    /// Lines of context around each match.
    #[arg(short = 'C', long, default_value_t = 0, value_name = "N")]
    pub context: usize,
    /// Only files whose name matches this glob (whose path, if it contains `/`).
    #[arg(long, value_name = "GLOB")]
    pub include: Option<String>,
    /// Stop after this many matches.
    #[arg(short = 'm', long, value_name = "N")]
    pub max_count: Option<usize>,
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct VersionsArgs {
    /// File whose versions to list.
    pub path: Option<String>,
    #[command(subcommand)]
    pub action: Option<VersionsAction>,
}

#[derive(Debug, Subcommand)]
pub enum VersionsAction {
    /// List the stored versions of a file, newest first.
    #[command(after_help = "Example:\n  nexus versions list /orgs/acme/sales/q1.md")]
    List(PathArg),
    /// Print the content of one version.
    #[command(after_help = "Example:\n  nexus versions cat /orgs/acme/sales/q1.md 2")]
    Cat {
        /// The file.
        path: String,
        /// The version number (as `versions list` shows it).
        version: u64,
    },
    /// Make an old version the current content (as a new version).
    #[command(after_help = "Example:\n  nexus versions restore /orgs/acme/sales/q1.md 1")]
    Restore {
        /// The file.
        path: String,
        /// The version to bring back.
        version: u64,
    },
    /// Show or set how many versions an organization keeps.
    #[command(after_help = "Example:\n  nexus versions policy acme --keep 20 --keep-days 90")]
    Policy(PolicyArgs),
}

#[derive(Debug, Args)]
pub struct PolicyArgs {
    /// Organization id (or its root, `/orgs/<org>`).
    pub org: String,
    /// Keep at most this many versions per file, the current one included.
    #[arg(long, value_name = "N", conflicts_with = "keep_all")]
    pub keep: Option<u32>,
    /// Drop old versions older than this many days.
    #[arg(long, value_name = "DAYS", conflicts_with = "keep_forever")]
    pub keep_days: Option<u32>,
    /// Remove the count limit.
    #[arg(long)]
    pub keep_all: bool,
    /// Remove the age limit.
    #[arg(long)]
    pub keep_forever: bool,
}

#[derive(Debug, Args)]
pub struct GcArgs {
    /// Only delete content unreferenced for longer than this (default: one hour).
    #[arg(long, value_name = "SECONDS")]
    pub grace: Option<u64>,
    /// First remove conversation files older than their organization's
    /// `settings.retention_policy` (as `nexus serve` does periodically).
    #[arg(long)]
    pub retention: bool,
}

#[derive(Debug, Args)]
pub struct FsckArgs {
    /// Also read every blob back and check its hash.
    #[arg(long)]
    pub verify_content: bool,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    fn walk(command: &clap::Command, path: &str, problems: &mut Vec<String>) {
        for arg in command.get_arguments() {
            let id = arg.get_id().as_str();
            if id == "help" || id == "version" || arg.is_global_set() && path != "nexus" {
                continue;
            }
            if arg.get_help().is_none() {
                problems.push(format!("`{path}`: option `{id}` has no description"));
            }
        }
        let example = command
            .get_after_help()
            .is_some_and(|help| help.to_string().contains("Example"));
        if !example {
            problems.push(format!("`{path}` shows no example"));
        }
        for sub in command.get_subcommands() {
            if sub.get_name() != "help" {
                walk(sub, &format!("{path} {}", sub.get_name()), problems);
            }
        }
    }

    #[test]
    fn every_command_describes_its_options_and_shows_an_example() {
        let command = super::Cli::command();
        command.clone().debug_assert();
        let mut problems = Vec::new();
        walk(&command, "nexus", &mut problems);
        assert!(problems.is_empty(), "{problems:#?}");
    }

    #[test]
    fn global_options_are_listed_once_under_their_heading() {
        let mut command = super::Cli::command();
        command.build();
        let ls = command.find_subcommand_mut("ls").unwrap();
        let help = ls.render_help().to_string();
        let listed = help
            .lines()
            .filter(|line| line.trim_start().starts_with("--data-dir"))
            .count();
        assert_eq!(listed, 1, "{help}");
        let heading = help.find("Global options:").expect("a heading");
        assert!(help.find("--data-dir").unwrap() > heading, "{help}");
        assert!(help.find("--recursive").unwrap() < heading, "{help}");
    }
}
