//! Command-line syntax (clap). Behaviour lives in `commands.rs`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Nexus: a multi-tenant context store for teams of humans and AI agents.
#[derive(Debug, Parser)]
#[command(name = "nexus", version, about, long_about = None)]
pub struct Cli {
    /// Data directory of the embedded store.
    #[arg(long, global = true, env = "NEXUS_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// Talk to a Nexus server instead of opening a data directory (credentials from
    /// `NEXUS_API_KEY` or `NEXUS_TOKEN`; `NEXUS_HOST` and `NEXUS_PORT` also name a server).
    #[arg(long, global = true, env = "NEXUS_URL", value_name = "URL")]
    pub url: Option<String>,

    /// Print results as JSON (errors too, on stderr).
    #[arg(long, global = true)]
    pub json: bool,

    /// Seconds to wait for another process to release the data directory.
    #[arg(long, global = true, default_value_t = 10, value_name = "SECONDS")]
    pub lock_timeout: u64,

    /// Act as this principal (`user:ID` or `agent:ID`) instead of the operator: every
    /// operation is then checked against its permissions.
    #[arg(long = "as", global = true, value_name = "PRINCIPAL")]
    pub acting_as: Option<String>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List a directory (all pages unless `--limit` is given).
    Ls(LsArgs),
    /// Print a file's content.
    Cat(CatArgs),
    /// Create or overwrite a file from an argument, a file or standard input.
    Write(WriteArgs),
    /// Create directories.
    Mkdir(MkdirArgs),
    /// Remove files or directories.
    Rm(RmArgs),
    /// Move or rename a file or directory.
    Mv(MvArgs),
    /// Copy a file or directory.
    Cp(CpArgs),
    /// Show metadata of a file or directory.
    Stat(PathArg),
    /// Find paths matching a glob pattern (`*`, `?`, `**`, `[...]`, `{a,b}`).
    Glob(GlobArgs),
    /// Search file contents with a regular expression.
    Grep(GrepArgs),
    /// List, read and restore old versions of a file; set retention.
    Versions(VersionsArgs),
    /// Delete content no file refers to any more (after a grace period).
    Gc(GcArgs),
    /// Check the data directory for inconsistencies.
    Fsck(FsckArgs),
    /// Set one subject's ACL entry on a path: `user:ID:rwx`, `agent:ID:rw-`, `group:NAME:r--`
    /// (`---` removes it).
    Setfacl {
        /// Absolute path, e.g. `/orgs/acme/sales`.
        path: String,
        /// `user:ID:MODE`, `agent:ID:MODE` or `group:NAME:MODE`; MODE is three characters
        /// from `r-`, `w-`, `x-` (e.g. `rw-`).
        entry: String,
    },
    /// Show the ACL entries and role grants stored on a path.
    Getfacl(PathArg),
    /// Relationships, permission checks and the schema (Zanzibar-style ReBAC).
    #[command(subcommand)]
    Rebac(RebacCommand),
    /// Provision organizations, workspaces, members and permissions from a configuration
    /// file. Idempotent: run it again after editing the file to add what is new.
    Init(ConfigArg),
    /// Run the HTTP API server.
    Serve(ServeArgs),
    /// Configuration files.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Members, users, organizations and API keys.
    #[command(subcommand)]
    Admin(AdminCommand),
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
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Check a configuration file: syntax, keys, types, values and environment variables.
    Validate {
        /// The configuration file.
        file: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Add a member to an organization (updates `org.json` and access in one transaction).
    AddUser {
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
    RemoveUser {
        #[arg(long)]
        org: String,
        #[arg(long)]
        user: String,
    },
    /// List an organization's members, or every registered user and agent.
    ListUsers {
        #[arg(long)]
        org: Option<String>,
    },
    /// Create an API key (its secret is shown once).
    CreateKey {
        /// Whom the key acts as: `system`, `user:<handle or id>`, `agent:<id>`.
        #[arg(long, default_value = "system")]
        principal: String,
        #[arg(long, default_value = "")]
        description: String,
    },
    /// Revoke an API key: refused from the next request on.
    RevokeKey {
        /// The key's id (`key_...`), as shown by `create-key` and `list-keys`.
        id: String,
    },
    /// List API keys (never their secrets).
    ListKeys,
    /// Create an organization with its record, shared folders and workspaces.
    CreateOrg {
        #[arg(long)]
        id: String,
        #[arg(long)]
        name: String,
        #[arg(long, value_delimiter = ',')]
        workspaces: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum RebacCommand {
    /// Show or replace the authorization schema (SpiceDB schema language).
    #[command(subcommand)]
    Schema(SchemaCommand),
    /// Add a relationship: `SUBJECT RELATION OBJECT` (e.g. `user:alice@acme.com admin /orgs/acme`)
    /// or one `resource#relation@subject` string. Fails if it exists.
    Create(RelationshipArgs),
    /// Add or replace a relationship (same forms as `create`).
    Touch(RelationshipArgs),
    /// Remove a relationship (same forms as `create`).
    Delete(RelationshipArgs),
    /// Whether SUBJECT has PERMISSION on OBJECT: prints `true`, `false` or `conditional`.
    Check(CheckArgs),
    /// The tree of how PERMISSION on OBJECT is formed.
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
    LookupSubjects {
        /// A path or `type:id`.
        object: String,
        /// A permission or relation name.
        permission: String,
        /// `user`, `agent`, or a userset type such as `group#member`.
        subject_type: String,
    },
    /// Stored relationships, filtered.
    Read(ReadArgs),
    /// Relationship changes after a revision.
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
    Validate {
        /// SpiceDB validation files (YAML).
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum SchemaCommand {
    /// Print the schema in force.
    Read,
    /// Replace the schema with the one in FILE (`-`: standard input).
    Write { file: PathBuf },
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
    /// Answer at least as fresh as this revision.
    #[arg(long, value_name = "REVISION")]
    pub at_least: Option<u64>,
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
    #[arg(required = true)]
    pub paths: Vec<String>,
    /// Create missing parents; an existing directory is not an error.
    #[arg(short, long)]
    pub parents: bool,
}

#[derive(Debug, Args)]
pub struct RmArgs {
    #[arg(required = true)]
    pub paths: Vec<String>,
    /// Remove directories and everything beneath them.
    #[arg(short, long)]
    pub recursive: bool,
}

#[derive(Debug, Args)]
pub struct MvArgs {
    pub source: String,
    /// New path; an existing directory receives the source inside it.
    pub destination: String,
    /// Replace an existing file at the destination.
    #[arg(short, long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct CpArgs {
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
    List(PathArg),
    /// Print the content of one version.
    Cat { path: String, version: u64 },
    /// Make an old version the current content (as a new version).
    Restore { path: String, version: u64 },
    /// Show or set how many versions an organization keeps.
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
}

#[derive(Debug, Args)]
pub struct FsckArgs {
    /// Also read every blob back and check its hash.
    #[arg(long)]
    pub verify_content: bool,
}
