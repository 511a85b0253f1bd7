//! `nexus.yaml`: data directory, organizations, authentication, listen address, limits.
//!
//! `${VAR}` and `${VAR:-default}` are replaced from the environment before parsing (a
//! missing variable without a default is an error; lines that are comments are left alone).
//! Unknown keys, wrong types and bad values are errors with their line and column.

use std::path::{Path, PathBuf};

use nexus_core::accounts::{is_stable_user_id, validate_agent_ref, validate_handle};
use nexus_core::{Layout, MemberSpec, OrgId, OrgSpec, Provisioning, WorkspaceSpec};
use serde::Deserialize;
use serde_json::{Map, Value};

/// Why a configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read `{path}`: {}", nexus_core::io_reason(source))]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{path}:{line}: environment variable `{name}` is not set (use `${{{name}:-default}}` for a default)"
    )]
    MissingVariable {
        path: String,
        line: usize,
        name: String,
    },
    #[error("{path}:{line}: unterminated `${{` (write `${{NAME}}` or `${{NAME:-default}}`)")]
    Unterminated { path: String, line: usize },
    #[error("{path}: {message}")]
    Syntax { path: String, message: String },
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
}

/// One thing wrong with a configuration's values: which key, and what to write instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Problem(String);

/// The whole configuration file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where the embedded store keeps its data (relative to the configuration file).
    pub data_dir: PathBuf,
    /// The seed's storage key: `local`, the embedded tier (the same as the default
    /// `storage:`).
    #[serde(default)]
    pub backend: Backend,
    /// Which backends hold the data (see [`StorageConfig`]).
    #[serde(default)]
    pub storage: StorageConfig,
    #[serde(default)]
    pub layout: Layout,
    /// The folders `init` and organization creation provision (the seed's by default).
    #[serde(default)]
    pub provisioning: Provisioning,
    #[serde(default)]
    pub organizations: Vec<OrgConfig>,
    #[serde(default)]
    pub auth: AuthConfig,
    #[serde(default)]
    pub server: ServerConfig,
    #[serde(default)]
    pub limits: Limits,
    #[serde(default)]
    pub retention: RetentionConfig,
    #[serde(default)]
    pub locker: LockerConfig,
    /// The MCP endpoint (`/mcp`).
    #[serde(default)]
    pub mcp: McpConfig,
    /// Search: semantic search's embedder.
    #[serde(default)]
    pub search: SearchConfig,
    /// Variables of secrets that were not set when the file was loaded for a command that
    /// does not use them (see [`Config::load_deferring_secrets`]).
    #[serde(skip)]
    pub unset_secrets: Vec<String>,
}

/// A stand-in for a secret that is not set, long enough to pass validation; never used.
const UNSET_SECRET: &str = "unset-secret-placeholder-never-used-for-signing";

/// Whether an unset variable on this line may be deferred: the line sets a secret.
fn defers(line: &str) -> bool {
    line.trim_start().starts_with("jwt_secret:")
}

/// Storage backends.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    #[default]
    Local,
}

/// `storage:`: which backend keeps metadata (files, versions, relationships, accounts) and
/// which keeps content. The embedded tier (the default): `metadata: sqlite`
/// (`DATA_DIR/meta.db`) and `blobs: local` (`DATA_DIR/blobs/`). The scale-out tier:
/// `metadata: postgres://user@host/db` (usually `${NEXUS_PG_URL}`) with `blobs: s3://bucket/prefix`
/// (S3 credentials from the environment), or with `blobs: local` for a single node.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageConfig {
    #[serde(default = "default_metadata")]
    pub metadata: String,
    #[serde(default = "default_blobs")]
    pub blobs: String,
    /// Most PostgreSQL connections of one node (default 16).
    #[serde(default)]
    pub max_connections: Option<u32>,
    /// Bring the PostgreSQL schema up to date when the server starts (as `nexus migrate`
    /// does); otherwise a database that is behind is refused.
    #[serde(default)]
    pub migrate: bool,
    /// The PostgreSQL schema (namespace) holding this installation's tables, created when
    /// missing (several installations may share a database); default: the connection's.
    #[serde(default)]
    pub schema: Option<String>,
}

fn default_metadata() -> String {
    "sqlite".to_owned()
}

fn default_blobs() -> String {
    "local".to_owned()
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig {
            metadata: default_metadata(),
            blobs: default_blobs(),
            max_connections: None,
            migrate: false,
            schema: None,
        }
    }
}

impl std::fmt::Debug for StorageConfig {
    /// The metadata URL may hold a password: only its scheme is shown.
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let metadata = match self.metadata.split_once("://") {
            Some((scheme, _)) => format!("{scheme}://<redacted>"),
            None => self.metadata.clone(),
        };
        formatter
            .debug_struct("StorageConfig")
            .field("metadata", &metadata)
            .field("blobs", &self.blobs)
            .field("max_connections", &self.max_connections)
            .field("migrate", &self.migrate)
            .field("schema", &self.schema)
            .finish()
    }
}

/// The default `storage.max_connections`.
pub const DEFAULT_MAX_CONNECTIONS: u32 = 16;

impl StorageConfig {
    /// Whether the metadata lives in PostgreSQL (the scale-out tier).
    pub fn is_postgres(&self) -> bool {
        self.metadata.starts_with("postgres://") || self.metadata.starts_with("postgresql://")
    }

    /// Refuses backends this build does not have, and combinations that make no sense. A
    /// value is not repeated (a database URL may hold a password); its scheme is.
    fn validate(&self) -> Result<(), Problem> {
        let scheme = |value: &str| {
            value
                .split_once(':')
                .map_or(value, |(scheme, _)| scheme)
                .chars()
                .take(40)
                .collect::<String>()
        };
        if self.metadata != "sqlite" && !self.is_postgres() {
            return Err(Problem(format!(
                "storage.metadata: `{}` is not a metadata backend: use `sqlite` (the embedded tier, `DATA_DIR/meta.db`) or `postgres://user@host/database` (the scale-out tier)",
                scheme(&self.metadata)
            )));
        }
        let s3 = self.blobs.starts_with("s3://");
        if self.blobs != "local" && !s3 {
            return Err(Problem(format!(
                "storage.blobs: `{}` is not a blob store: use `local` (`DATA_DIR/blobs/`) or `s3://bucket/prefix`",
                scheme(&self.blobs)
            )));
        }
        if s3 && self.blobs.trim_start_matches("s3://").split('/').next() == Some("") {
            return Err(Problem(
                "storage.blobs: an s3:// URL names a bucket: `s3://bucket/prefix`".to_owned(),
            ));
        }
        if s3 && !self.is_postgres() {
            return Err(Problem(
                "storage.blobs: `s3` needs `storage.metadata: postgres://...` (content shared between nodes needs metadata they share)".to_owned(),
            ));
        }
        if let Some(schema) = &self.schema {
            if !nexus_core::is_plain_schema_name(schema) {
                return Err(Problem(
                    "storage.schema must be a plain name: lowercase letters, digits and `_` (at most 63)".to_owned(),
                ));
            }
            if !self.is_postgres() {
                return Err(Problem(
                    "storage.schema applies to `metadata: postgres://...` only".to_owned(),
                ));
            }
        }
        if self.max_connections == Some(0) {
            return Err(Problem(
                "storage.max_connections must be at least 1".to_owned(),
            ));
        }
        Ok(())
    }
}

/// One organization.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrgConfig {
    #[serde(deserialize_with = "slug")]
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub workspaces: Vec<WorkspaceConfig>,
    #[serde(default)]
    pub members: Vec<MemberConfig>,
    #[serde(default)]
    pub settings: Map<String, Value>,
}

/// One workspace.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkspaceConfig {
    #[serde(deserialize_with = "slug")]
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
}

/// One initial member.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberConfig {
    #[serde(deserialize_with = "principal_id")]
    pub user_id: String,
    pub role: nexus_core::Role,
    #[serde(rename = "type", default)]
    pub kind: nexus_core::MemberKind,
    /// Workspaces a `member` or `assistant` gets rw- on by its role.
    #[serde(default)]
    pub workspaces: Vec<String>,
    /// Explicit ACL entries: `orgs/acme/sales:rw-`.
    #[serde(default, deserialize_with = "permissions")]
    pub permissions: Vec<String>,
}

// Field checks run while parsing, so their errors carry the value's line and column.

/// An organization or workspace id.
fn slug<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    let text = String::deserialize(deserializer)?;
    OrgId::parse(&text).map_err(|_| {
        serde::de::Error::custom(format!(
            "`{text}` is not a valid id: use lowercase letters, digits, `-` and `_`"
        ))
    })?;
    Ok(text)
}

/// A user handle, stable id or agent id (which one the `type` says is checked afterwards).
fn principal_id<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    let text = String::deserialize(deserializer)?;
    let valid = is_stable_user_id(&text)
        || validate_handle(&text).is_ok()
        || validate_agent_ref(&text).is_ok();
    if !valid {
        let reason = validate_handle(&text)
            .err()
            .map(|error| error.to_string())
            .unwrap_or_default();
        return Err(serde::de::Error::custom(reason));
    }
    Ok(text)
}

/// Permission entries `PATH:MODE`.
fn permissions<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    let entries = Vec::<String>::deserialize(deserializer)?;
    for entry in &entries {
        parse_permission(entry).map_err(serde::de::Error::custom)?;
    }
    Ok(entries)
}

/// How callers authenticate.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    #[serde(rename = "type", default)]
    pub kind: AuthKind,
    #[serde(default)]
    pub jwt_secret: Option<String>,
    #[serde(default)]
    pub jwt_algorithm: Option<String>,
    /// PEM public key for RS256 / ES256 (relative to the configuration file).
    #[serde(default)]
    pub jwt_public_key_file: Option<PathBuf>,
    #[serde(default)]
    pub issuer: Option<String>,
    #[serde(default)]
    pub audience: Option<String>,
    /// Clock skew tolerated on `exp` and `nbf`, in seconds.
    #[serde(default = "default_leeway")]
    pub leeway_secs: u64,
    /// An OAuth 2.1 / `OpenID` Connect authorization server whose access tokens this server
    /// accepts (as the MCP endpoint's authorization server), besides API keys and the
    /// tokens above.
    #[serde(default)]
    pub oidc: Option<OidcConfig>,
}

/// An external authorization server (see `docs/mcp.md`, "Authentication").
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcConfig {
    /// The issuer (`iss` of its tokens), e.g. `https://login.example.com/realms/acme`.
    pub issuer: String,
    /// This server's identifier at the issuer: a token whose `aud` does not name it is
    /// refused.
    pub audience: String,
    /// The issuer's signing keys, a JWKS document (relative to the configuration file); it
    /// is read again when a token names a key it does not hold.
    pub jwks_file: PathBuf,
    /// Signature algorithms accepted (default `RS256` and `ES256`).
    #[serde(default = "default_oidc_algorithms")]
    pub algorithms: Vec<String>,
    /// The claim naming the user (a handle, a stable id, or `agent:<name>`): `sub` by
    /// default, or e.g. `email`.
    #[serde(default = "default_subject_claim")]
    pub subject_claim: String,
}

fn default_oidc_algorithms() -> Vec<String> {
    vec!["RS256".to_owned(), "ES256".to_owned()]
}

fn default_subject_claim() -> String {
    "sub".to_owned()
}

fn default_leeway() -> u64 {
    30
}

/// Authentication modes. API keys work in every mode except `none`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthKind {
    /// API keys only.
    #[default]
    ApiKey,
    /// JWTs (and API keys).
    Jwt,
    /// No authentication: every request acts as the system. Only on a loopback address.
    None,
}

/// Where to listen.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    #[serde(default = "default_host")]
    pub host: String,
    #[serde(default = "default_port")]
    pub port: u16,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            host: default_host(),
            port: default_port(),
        }
    }
}

fn default_host() -> String {
    "127.0.0.1".to_owned()
}

fn default_port() -> u16 {
    8080
}

/// The MCP endpoint at `/mcp` (see `docs/mcp.md`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct McpConfig {
    /// Serve `/mcp` (default true).
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// The server's URL as clients reach it (`https://nexus.example.com`): the OAuth
    /// protected resource is `<public_url>/mcp`. Unset: `http://<Host of the request>`.
    #[serde(default)]
    pub public_url: Option<String>,
    /// Browser origins allowed to call `/mcp` (`https://app.example.com`, `http://localhost:*`).
    /// A request carrying any other `Origin` is refused; requests without one (assistants,
    /// command-line clients) are not affected.
    #[serde(default)]
    pub allowed_origins: Vec<String>,
    /// Host names `/mcp` answers to (DNS-rebinding protection). Unset: loopback names when
    /// the server listens on a loopback address, else any (every request is authenticated).
    #[serde(default)]
    pub allowed_hosts: Option<Vec<String>>,
    /// Tool calls (and other MCP requests) one principal may make per minute; past it,
    /// `429` with `Retry-After`.
    #[serde(default = "default_mcp_rate")]
    pub requests_per_minute: u32,
}

impl Default for McpConfig {
    fn default() -> Self {
        McpConfig {
            enabled: true,
            public_url: None,
            allowed_origins: Vec::new(),
            allowed_hosts: None,
            requests_per_minute: default_mcp_rate(),
        }
    }
}

fn default_true() -> bool {
    true
}

fn default_mcp_rate() -> u32 {
    1200
}

/// Where the locker master key comes from (see `docs/knowledge.md`, "Lockers"). The key is
/// never stored in the data directory.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockerConfig {
    /// `true`: refuse to start without a master key. `false`: lockers are off even if a key
    /// is given. Unset: lockers are on exactly when a key is given.
    #[serde(default)]
    pub enabled: Option<bool>,
    /// A file holding the master key (32 bytes, base64), relative to the configuration file.
    /// `NEXUS_LOCKER_KEY` beats it.
    #[serde(default)]
    pub key_file: Option<PathBuf>,
    /// `NEXUS_LOCKER_KEY` as it was when the configuration was loaded.
    #[serde(skip)]
    pub key_from_env: Option<String>,
}

impl LockerConfig {
    /// The master key to use (`None`: lockers are off), from `NEXUS_LOCKER_KEY`, else the
    /// key file.
    pub fn master_key(&self) -> Result<Option<nexus_core::locker::MasterKey>, String> {
        use nexus_core::locker::{MASTER_KEY_ENV, MasterKey};
        if self.enabled == Some(false) {
            return Ok(None);
        }
        let key = if let Some(text) = self
            .key_from_env
            .as_deref()
            .filter(|text| !text.trim().is_empty())
        {
            Some(
                MasterKey::from_base64(text)
                    .map_err(|error| format!("{MASTER_KEY_ENV}: {error}"))?,
            )
        } else if let Some(file) = &self.key_file {
            Some(
                MasterKey::from_file(file)
                    .map_err(|error| format!("`locker.key_file`: {error}"))?,
            )
        } else {
            None
        };
        if key.is_none() && self.enabled == Some(true) {
            return Err(format!(
                "lockers are enabled (`locker.enabled: true`) but no master key is configured: set {MASTER_KEY_ENV} (32 bytes, base64: `head -c 32 /dev/urandom | base64`) or `locker.key_file`"
            ));
        }
        Ok(key)
    }
}

/// `search:`: semantic (and hybrid) search, when an embedder is given; keyword search
/// needs nothing.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchConfig {
    #[serde(default)]
    pub embedder: Option<EmbedderConfig>,
    /// Cosine similarity from which a document is a semantic match (default 0.3).
    #[serde(default)]
    pub min_similarity: Option<f32>,
    /// Up to how many candidates a semantic search compares every vector (default
    /// 200,000); beyond, large index segments are searched through their graphs.
    #[serde(default)]
    pub exact_limit: Option<usize>,
}

/// `search.embedder:` — what turns documents and queries into vectors.
#[derive(Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum EmbedderConfig {
    /// A static model (the `Model2Vec` layout: `model.safetensors` and `tokenizer.json`) in
    /// a local directory, run on the CPU (relative to the configuration file).
    Static { path: PathBuf },
    /// An OpenAI-compatible embeddings endpoint (`POST {url}/embeddings`), such as a local
    /// Ollama's `http://127.0.0.1:11434/v1`.
    Openai {
        url: String,
        model: String,
        /// The variable holding the API key, if the endpoint needs one (sent as a bearer
        /// token).
        #[serde(default)]
        api_key_env: Option<String>,
        /// The vectors' length; asked of the endpoint at start when not given.
        #[serde(default)]
        dimensions: Option<usize>,
        /// The key, as the variable was when the configuration was loaded.
        #[serde(skip)]
        api_key: Option<String>,
    },
}

impl std::fmt::Debug for EmbedderConfig {
    /// Everything but the API key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EmbedderConfig::Static { path } => {
                f.debug_struct("Static").field("path", path).finish()
            }
            EmbedderConfig::Openai {
                url,
                model,
                api_key_env,
                dimensions,
                api_key,
            } => f
                .debug_struct("Openai")
                .field("url", url)
                .field("model", model)
                .field("api_key_env", api_key_env)
                .field("dimensions", dimensions)
                .field("api_key", &api_key.as_ref().map(|_| "<redacted>"))
                .finish(),
        }
    }
}

/// How often `nexus serve` applies the organizations' retention policies.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionConfig {
    /// Seconds between two passes of the retention sweeper.
    #[serde(default = "default_sweep_interval")]
    pub sweep_interval_secs: u64,
    /// Days audit entries are kept; absent: forever.
    #[serde(default)]
    pub audit_days: Option<u64>,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        RetentionConfig {
            sweep_interval_secs: default_sweep_interval(),
            audit_days: None,
        }
    }
}

fn default_sweep_interval() -> u64 {
    3600
}

/// Request limits.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Largest request body, in bytes.
    #[serde(default = "default_body")]
    pub max_body_bytes: usize,
    /// Longest a request may take, in seconds.
    #[serde(default = "default_timeout")]
    pub request_timeout_secs: u64,
    /// Failed authentications one client address may make per 10 seconds before further
    /// failures get 429 (valid credentials keep working).
    #[serde(default = "default_auth_failures")]
    pub max_auth_failures: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: default_body(),
            max_auth_failures: default_auth_failures(),
            request_timeout_secs: default_timeout(),
        }
    }
}

fn default_body() -> usize {
    64 * 1024 * 1024
}

fn default_timeout() -> u64 {
    60
}

fn default_auth_failures() -> u32 {
    100
}

/// Replaces `${VAR}` and `${VAR:-default}` in `text` from `lookup`.
pub fn expand_variables(
    text: &str,
    path: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<String, ConfigError> {
    expand(text, path, lookup, None)
}

/// Like [`expand_variables`]; with `deferred`, an unset variable of a secret (`jwt_secret`)
/// becomes a placeholder and its name is recorded there.
fn expand(
    text: &str,
    path: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    mut deferred: Option<&mut Vec<String>>,
) -> Result<String, ConfigError> {
    let mut out = String::with_capacity(text.len());
    for (index, line) in text.split_inclusive('\n').enumerate() {
        if line.trim_start().starts_with('#') {
            out.push_str(line);
            continue;
        }
        let mut rest = line;
        while let Some(start) = rest.find("${") {
            out.push_str(rest.get(..start).unwrap_or_default());
            let after = rest.get(start + 2..).unwrap_or_default();
            let Some(end) = after.find('}') else {
                return Err(ConfigError::Unterminated {
                    path: path.to_owned(),
                    line: index + 1,
                });
            };
            let inner = after.get(..end).unwrap_or_default();
            let (name, default) = match inner.split_once(":-") {
                Some((name, default)) => (name, Some(default)),
                None => (inner, None),
            };
            match (lookup(name), default) {
                (Some(value), _) => out.push_str(&value),
                (None, Some(default)) => out.push_str(default),
                (None, None) if deferred.is_some() && defers(line) => {
                    out.push_str(UNSET_SECRET);
                    if let Some(names) = deferred.as_deref_mut() {
                        names.push(name.to_owned());
                    }
                }
                (None, None) => {
                    return Err(ConfigError::MissingVariable {
                        path: path.to_owned(),
                        line: index + 1,
                        name: name.to_owned(),
                    });
                }
            }
            rest = after.get(end + 1..).unwrap_or_default();
        }
        out.push_str(rest);
    }
    Ok(out)
}

impl Config {
    /// Reads, expands and validates a configuration file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        Config::load_with(path, false)
    }

    /// Like [`Config::load`] for commands that never use the secrets (`nexus init`, `nexus
    /// config validate`): a `jwt_secret` whose variable is not set is accepted and its name
    /// recorded in [`Config::unset_secrets`].
    pub fn load_deferring_secrets(path: &Path) -> Result<Config, ConfigError> {
        Config::load_with(path, true)
    }

    /// Like [`Config::load`], reading variables through `lookup` instead of the environment.
    pub fn load_from(
        path: &Path,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        Config::load_inner(path, lookup, false)
    }

    fn load_with(path: &Path, defer_secrets: bool) -> Result<Config, ConfigError> {
        Config::load_inner(path, &|name: &str| std::env::var(name).ok(), defer_secrets)
    }

    fn load_inner(
        path: &Path,
        lookup: &dyn Fn(&str) -> Option<String>,
        defer_secrets: bool,
    ) -> Result<Config, ConfigError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: shown.clone(),
            source,
        })?;
        let mut unset = Vec::new();
        let mut config =
            Config::parse_with(&text, &shown, lookup, defer_secrets.then_some(&mut unset))?;
        config.unset_secrets = unset;
        let base = path.parent().unwrap_or_else(|| Path::new("."));
        if config.data_dir.is_relative() {
            // `./data` beside the file reads as `DIR/data`, not `DIR/./data`.
            config.data_dir = base.join(
                config
                    .data_dir
                    .components()
                    .filter(|part| *part != std::path::Component::CurDir)
                    .collect::<PathBuf>(),
            );
        }
        if let Some(key) = &config.auth.jwt_public_key_file
            && key.is_relative()
        {
            config.auth.jwt_public_key_file = Some(base.join(key));
        }
        if let Some(oidc) = &mut config.auth.oidc
            && oidc.jwks_file.is_relative()
        {
            oidc.jwks_file = base.join(&oidc.jwks_file);
        }
        if let Some(key) = &config.locker.key_file
            && key.is_relative()
        {
            config.locker.key_file = Some(base.join(key));
        }
        config.locker.key_from_env = lookup(nexus_core::locker::MASTER_KEY_ENV);
        match &mut config.search.embedder {
            Some(EmbedderConfig::Static { path }) if path.is_relative() => {
                *path = base.join(&*path);
            }
            Some(EmbedderConfig::Openai {
                api_key_env: Some(variable),
                api_key,
                ..
            }) => *api_key = lookup(variable),
            _ => {}
        }
        Ok(config)
    }

    /// Parses and validates configuration text (`path` names it in errors).
    pub fn parse(
        text: &str,
        path: &str,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        Config::parse_with(text, path, lookup, None)
    }

    fn parse_with(
        text: &str,
        path: &str,
        lookup: &dyn Fn(&str) -> Option<String>,
        deferred: Option<&mut Vec<String>>,
    ) -> Result<Config, ConfigError> {
        let expanded = expand(text, path, lookup, deferred)?;
        let config: Config =
            serde_norway::from_str(&expanded).map_err(|error| ConfigError::Syntax {
                path: path.to_owned(),
                message: error.to_string(),
            })?;
        config.validate().map_err(|message| ConfigError::Invalid {
            path: path.to_owned(),
            message: message.to_string(),
        })?;
        Ok(config)
    }

    /// Opens the configured store as a filesystem with the configured layout and
    /// provisioning.
    pub async fn open(
        &self,
        options: nexus_core::StoreOptions,
    ) -> Result<nexus_core::Fs, nexus_core::FsError> {
        let master = self
            .locker
            .master_key()
            .map_err(|message| nexus_core::FsError::InvalidInput { message })?;
        let fs = nexus_core::Fs::connect(&self.storage(), options)
            .await?
            .with_layout(self.layout)
            .with_provisioning(self.provisioning.clone())?;
        if let Some(master) = master
            && let Err(error) = fs.enable_lockers(master).await
        {
            fs.close().await;
            return Err(error);
        }
        match self.embedder().await {
            Ok(Some(embedder)) => Ok(fs
                .with_embedder(
                    embedder,
                    self.search
                        .min_similarity
                        .unwrap_or(nexus_core::DEFAULT_MIN_SIMILARITY),
                )
                .with_exact_limit(
                    self.search
                        .exact_limit
                        .unwrap_or(nexus_core::DEFAULT_EXACT_LIMIT),
                )),
            Ok(None) => Ok(fs),
            Err(message) => {
                fs.close().await;
                Err(nexus_core::FsError::InvalidInput { message })
            }
        }
    }

    /// The configured embedder, loaded (a static model) or asked its dimensions (an
    /// endpoint without `dimensions`).
    pub async fn embedder(
        &self,
    ) -> Result<Option<std::sync::Arc<dyn nexus_core::Embedder>>, String> {
        let Some(config) = &self.search.embedder else {
            return Ok(None);
        };
        Ok(Some(match config {
            EmbedderConfig::Static { path } => std::sync::Arc::new(
                nexus_core::StaticModel::load(path)
                    .map_err(|error| format!("`search.embedder`: {error}"))?,
            ),
            EmbedderConfig::Openai {
                api_key_env: Some(variable),
                api_key: None,
                ..
            } => {
                return Err(format!(
                    "`search.embedder.api_key_env`: the variable {variable} is not set"
                ));
            }
            EmbedderConfig::Openai {
                url,
                model,
                dimensions,
                api_key,
                ..
            } => std::sync::Arc::new(
                crate::embedder::Endpoint::connect(url, model, api_key.clone(), *dimensions)
                    .await
                    .map_err(|error| format!("`search.embedder`: {error}"))?,
            ),
        }))
    }

    /// The backends the store opens.
    pub fn storage(&self) -> nexus_core::Storage {
        if !self.storage.is_postgres() {
            // `validate` admitted `local` blobs only with `sqlite`.
            return nexus_core::Storage::Embedded {
                dir: self.data_dir.clone(),
            };
        }
        nexus_core::Storage::ScaleOut(nexus_core::ScaleOut {
            metadata: self.storage.metadata.clone(),
            blobs: (self.storage.blobs != "local").then(|| self.storage.blobs.clone()),
            dir: self.data_dir.clone(),
            max_connections: self
                .storage
                .max_connections
                .unwrap_or(DEFAULT_MAX_CONNECTIONS),
            migrate: self.storage.migrate,
            schema: self.storage.schema.clone(),
        })
    }

    /// `search:`: a similarity between -1 and 1, an endpoint with a URL and a model.
    fn validate_search(&self) -> Result<(), Problem> {
        if let Some(similarity) = self.search.min_similarity
            && !(-1.0..=1.0).contains(&similarity)
        {
            return Err(Problem(
                "search.min_similarity must lie between -1 and 1 (a cosine similarity)".to_owned(),
            ));
        }
        if self.search.exact_limit == Some(0) {
            return Err(Problem(
                "search.exact_limit must be at least 1 (candidates compared exactly)".to_owned(),
            ));
        }
        match &self.search.embedder {
            Some(EmbedderConfig::Openai {
                url,
                model,
                dimensions,
                ..
            }) => {
                if !url.starts_with("http://") {
                    return Err(Problem(
                        "search.embedder.url must be an http:// URL such as http://127.0.0.1:11434/v1 (this build speaks plain HTTP to embedders: a local endpoint, or a TLS proxy in front of a remote one)".to_owned(),
                    ));
                }
                if model.trim().is_empty() {
                    return Err(Problem("search.embedder.model is empty".to_owned()));
                }
                if *dimensions == Some(0) {
                    return Err(Problem(
                        "search.embedder.dimensions must be positive".to_owned(),
                    ));
                }
            }
            Some(EmbedderConfig::Static { path }) if path.as_os_str().is_empty() => {
                return Err(Problem("search.embedder.path is empty".to_owned()));
            }
            _ => {}
        }
        Ok(())
    }

    /// `auth.oidc`, when given: an issuer, an audience, signature algorithms and a subject
    /// claim this server supports, and this server's own tokens told apart from its.
    fn validate_oidc(&self) -> Result<(), Problem> {
        let Some(oidc) = &self.auth.oidc else {
            return Ok(());
        };
        if oidc.issuer.trim().is_empty() || oidc.audience.trim().is_empty() {
            return Err(Problem(
                "auth.oidc needs an `issuer` and an `audience` (this server's identifier at the issuer)"
                    .to_owned(),
            ));
        }
        if oidc.algorithms.is_empty()
            || oidc
                .algorithms
                .iter()
                .any(|algorithm| !matches!(algorithm.as_str(), "RS256" | "ES256"))
        {
            return Err(Problem(
                "auth.oidc.algorithms: use RS256 and/or ES256".to_owned(),
            ));
        }
        if self.auth.kind == AuthKind::Jwt && self.auth.issuer.is_none() {
            return Err(Problem(
                "auth: with `oidc`, this server's own tokens (`type: jwt`) need their `issuer`, so that the two are told apart"
                    .to_owned(),
            ));
        }
        if !matches!(
            oidc.subject_claim.as_str(),
            "sub" | "email" | "preferred_username"
        ) {
            return Err(Problem(
                "auth.oidc.subject_claim: use `sub`, `email` or `preferred_username`".to_owned(),
            ));
        }
        Ok(())
    }

    fn validate(&self) -> Result<(), Problem> {
        if self.data_dir.as_os_str().is_empty() {
            return Err(Problem("`data_dir` is empty".to_owned()));
        }
        self.storage.validate()?;
        self.provisioning
            .validate()
            .map_err(|error| Problem(error.to_string()))?;
        let mut seen = Vec::new();
        for (index, org) in self.organizations.iter().enumerate() {
            let at = format!("organizations[{index}]");
            if seen.contains(&&org.id) {
                return Err(Problem(format!(
                    "{at}.id: organization `{}` is listed twice",
                    org.id
                )));
            }
            seen.push(&org.id);
            validate_org(org, &at)?;
        }
        self.validate_oidc()?;
        self.validate_search()?;
        match self.auth.kind {
            AuthKind::Jwt => {
                let algorithm = self.auth.jwt_algorithm.as_deref().unwrap_or("HS256");
                match algorithm {
                    "HS256" => match self.auth.jwt_secret.as_deref() {
                        None | Some("") => {
                            return Err(Problem("auth: `type: jwt` with HS256 needs `jwt_secret` (at least 32 bytes)".to_owned()));
                        }
                        Some(secret) if secret.len() < 32 => {
                            return Err(Problem("auth.jwt_secret is shorter than 32 bytes; use a long random secret".to_owned()));
                        }
                        Some(_) => {}
                    },
                    "RS256" | "ES256" => {
                        if self.auth.jwt_public_key_file.is_none() {
                            return Err(Problem(format!(
                                "auth: `jwt_algorithm: {algorithm}` needs `jwt_public_key_file`"
                            )));
                        }
                    }
                    other => {
                        return Err(Problem(format!(
                            "auth.jwt_algorithm `{other}` is not supported: use HS256, RS256 or ES256"
                        )));
                    }
                }
            }
            AuthKind::ApiKey | AuthKind::None => {
                if self.auth.jwt_secret.is_some() || self.auth.jwt_public_key_file.is_some() {
                    return Err(Problem(
                        "auth: JWT settings are given but `type` is not `jwt`".to_owned(),
                    ));
                }
            }
        }
        if self.limits.max_body_bytes == 0
            || self.limits.request_timeout_secs == 0
            || self.limits.max_auth_failures == 0
        {
            return Err(Problem(
                "limits: values must be greater than zero".to_owned(),
            ));
        }
        if self.retention.sweep_interval_secs == 0 {
            return Err(Problem(
                "retention.sweep_interval_secs must be greater than zero".to_owned(),
            ));
        }
        if self.retention.audit_days == Some(0) {
            return Err(Problem(
                "retention.audit_days must be greater than zero (leave it out to keep the audit log forever)".to_owned(),
            ));
        }
        Ok(())
    }

    /// The organizations as provisioning wants them.
    pub fn org_specs(&self) -> Vec<OrgSpec> {
        self.organizations
            .iter()
            .filter_map(|org| {
                Some(OrgSpec {
                    id: OrgId::parse(&org.id).ok()?,
                    name: org.name.clone(),
                    workspaces: org
                        .workspaces
                        .iter()
                        .map(|workspace| WorkspaceSpec {
                            id: workspace.id.clone(),
                            name: workspace.name.clone(),
                        })
                        .collect(),
                    members: org
                        .members
                        .iter()
                        .map(|member| {
                            (
                                MemberSpec {
                                    user_id: member.user_id.clone(),
                                    role: member.role,
                                    kind: member.kind,
                                    workspaces: member.workspaces.clone(),
                                },
                                member
                                    .permissions
                                    .iter()
                                    .filter_map(|permission| parse_permission(permission).ok())
                                    .collect(),
                            )
                        })
                        .collect(),
                    settings: org.settings.clone(),
                })
            })
            .collect()
    }
}

/// Checks one organization of the configuration (`at` names it in messages).
fn validate_org(org: &OrgConfig, at: &str) -> Result<(), Problem> {
    OrgId::parse(&org.id).map_err(|error| Problem(format!("{at}.id: {error}")))?;
    nexus_core::retention::validate_settings(&org.settings)
        .map_err(|error| Problem(format!("{at}.settings: {error}")))?;
    if org.name.trim().is_empty() {
        return Err(Problem(format!("{at}.name is empty")));
    }
    let mut workspaces = Vec::new();
    for (w, workspace) in org.workspaces.iter().enumerate() {
        OrgId::parse(&workspace.id).map_err(|_| {
            Problem(format!(
                "{at}.workspaces[{w}].id: `{}` is not a valid workspace id (lowercase letters, digits, `-`, `_`)",
                workspace.id
            ))
        })?;
        if workspace.id == "shared" || workspaces.contains(&&workspace.id) {
            return Err(Problem(format!(
                "{at}.workspaces[{w}].id: `{}` is reserved or listed twice",
                workspace.id
            )));
        }
        workspaces.push(&workspace.id);
    }
    let mut members = Vec::new();
    for (m, member) in org.members.iter().enumerate() {
        let where_ = format!("{at}.members[{m}]");
        match member.kind {
            nexus_core::MemberKind::Human => {
                if !is_stable_user_id(&member.user_id) {
                    validate_handle(&member.user_id)
                        .map_err(|error| Problem(format!("{where_}.user_id: {error}")))?;
                }
            }
            nexus_core::MemberKind::Agent => validate_agent_ref(&member.user_id)
                .map_err(|error| Problem(format!("{where_}.user_id: {error}")))?,
        }
        if members.contains(&&member.user_id) {
            return Err(Problem(format!(
                "{where_}.user_id: `{}` is listed twice",
                member.user_id
            )));
        }
        members.push(&member.user_id);
        for workspace in &member.workspaces {
            if !workspaces.contains(&workspace) {
                return Err(Problem(format!(
                    "{where_}.workspaces: `{workspace}` is not a workspace of `{}`",
                    org.id
                )));
            }
        }
        for (p, permission) in member.permissions.iter().enumerate() {
            let (target, mode) = parse_permission(permission)
                .map_err(|error| Problem(format!("{where_}.permissions[{p}]: {error}")))?;
            let inside = target == format!("/orgs/{}", org.id)
                || target.starts_with(&format!("/orgs/{}/", org.id));
            if !inside {
                return Err(Problem(format!(
                    "{where_}.permissions[{p}]: `{target}` is outside organization `{}`",
                    org.id
                )));
            }
            let _ = mode;
        }
    }
    Ok(())
}

/// `orgs/acme/sales:rw-` → (`/orgs/acme/sales`, `rw-`).
pub fn parse_permission(text: &str) -> Result<(String, String), Problem> {
    let (path, mode) = text.rsplit_once(':').ok_or_else(|| {
        Problem(format!(
            "`{text}` is not `PATH:MODE` (e.g. `orgs/acme/sales:rw-`)"
        ))
    })?;
    let valid_mode = mode.len() == 3
        && mode
            .chars()
            .zip(['r', 'w', 'x'])
            .all(|(found, letter)| found == letter || found == '-');
    if !valid_mode {
        return Err(Problem(format!(
            "mode `{mode}` must be three characters like `rw-`"
        )));
    }
    let absolute = format!("/{}", path.trim_start_matches('/'));
    let canonical = nexus_core::VfsPath::parse(&absolute)
        .map_err(|error| Problem(format!("`{path}`: {error}")))?;
    Ok((canonical.to_string(), mode.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "JWT_SECRET" => Some("s".repeat(40)),
            "PORT" => Some("9090".to_owned()),
            _ => None,
        }
    }

    const SEED: &str = r"
# nexus.yaml
data_dir: /var/lib/nexus
backend: local

organizations:
  - id: acme
    name: Acme Corporation
    workspaces:
      - id: sales
        name: Sales Team
      - id: engineering
        name: Engineering Team
    members:
      - user_id: alice@acme.com
        role: admin
        permissions:
          - orgs/acme:rwx
          - orgs/acme/sales:rwx
          - orgs/acme/engineering:rwx
      - user_id: bob@acme.com
        role: member
        permissions:
          - orgs/acme/sales:rw-
      - user_id: agent_sales_001
        type: agent
        role: assistant
        permissions:
          - orgs/acme/sales:rw-
  - id: techcorp
    name: Tech Corp Inc.
    workspaces:
      - id: product
        name: Product Team
    members:
      - user_id: john@techcorp.com
        role: admin
        permissions:
          - orgs/techcorp:rwx

auth:
  type: jwt  # or api_key, oauth, etc.
  jwt_secret: ${JWT_SECRET}
  jwt_algorithm: HS256
";

    #[test]
    fn the_seed_configuration_parses() {
        let config = Config::parse(SEED, "nexus.yaml", &env).unwrap();
        assert_eq!(config.organizations.len(), 2);
        assert_eq!(config.auth.kind, AuthKind::Jwt);
        assert_eq!(
            config.auth.jwt_secret.as_deref(),
            Some("s".repeat(40).as_str())
        );
        assert_eq!(config.server.port, 8080);
        let specs = config.org_specs();
        let acme = specs.first().unwrap();
        assert_eq!(acme.members.len(), 3);
        assert_eq!(
            acme.members.get(1).unwrap().1,
            vec![("/orgs/acme/sales".to_owned(), "rw-".to_owned())]
        );
    }

    #[test]
    fn an_embedder_is_configured_or_refused_with_a_reason() {
        let text = "data_dir: /d\nsearch:\n  embedder:\n    kind: static\n    path: /models/potion\n  min_similarity: 0.4\n  exact_limit: 1000\n";
        let config = Config::parse(text, "c.yaml", &env).unwrap();
        assert!(matches!(
            &config.search.embedder,
            Some(EmbedderConfig::Static { path }) if path == Path::new("/models/potion")
        ));
        assert_eq!(config.search.min_similarity, Some(0.4));
        assert_eq!(config.search.exact_limit, Some(1000));
        let endpoint = "data_dir: /d\nsearch:\n  embedder:\n    kind: openai\n    url: http://127.0.0.1:11434/v1\n    model: nomic-embed-text\n    dimensions: 768\n";
        assert!(matches!(
            Config::parse(endpoint, "c.yaml", &env)
                .unwrap()
                .search
                .embedder,
            Some(EmbedderConfig::Openai {
                dimensions: Some(768),
                ..
            })
        ));
        for (text, expected) in [
            ("search:\n  min_similarity: 2\n", "between -1 and 1"),
            ("search:\n  exact_limit: 0\n", "at least 1"),
            ("search:\n  exact_limit: -5\n", "exact_limit"),
            (
                "search:\n  embedder:\n    kind: onnx\n",
                "unknown variant `onnx`",
            ),
            (
                "search:\n  embedder:\n    kind: static\n    path: /m\n    size: 3\n",
                "unknown field `size`",
            ),
            (
                "search:\n  embedder:\n    kind: openai\n    url: https://api.example.com/v1\n    model: m\n",
                "plain HTTP",
            ),
            (
                "search:\n  embedder:\n    kind: openai\n    url: http://127.0.0.1:1/v1\n    model: ' '\n",
                "model is empty",
            ),
        ] {
            let text = format!("data_dir: /d\n{text}");
            let error = Config::parse(&text, "c.yaml", &env)
                .unwrap_err()
                .to_string();
            assert!(error.contains(expected), "{text}: {error}");
        }
    }

    #[test]
    fn a_missing_model_stops_the_start_with_its_path() {
        let dir = tempfile::tempdir().unwrap();
        let text =
            "data_dir: ./data\nsearch:\n  embedder:\n    kind: static\n    path: models/none\n";
        std::fs::write(dir.path().join("nexus.yaml"), text).unwrap();
        let config = Config::load_from(&dir.path().join("nexus.yaml"), &env).unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let error = runtime
            .block_on(config.open(nexus_core::StoreOptions::default()))
            .unwrap_err()
            .to_string();
        assert!(error.contains("search.embedder"), "{error}");
        assert!(error.contains("models/none"), "{error}");
        // An endpoint's key variable that is not set stops the start too (never a request
        // without the key), and the key never shows in a configuration's debug output.
        let text = "data_dir: ./data\nsearch:\n  embedder:\n    kind: openai\n    url: http://127.0.0.1:9/v1\n    model: m\n    dimensions: 4\n    api_key_env: NEXUS_TEST_UNSET_EMBEDDINGS_KEY\n";
        std::fs::write(dir.path().join("nexus.yaml"), text).unwrap();
        let config = Config::load_from(&dir.path().join("nexus.yaml"), &env).unwrap();
        let error = runtime
            .block_on(config.open(nexus_core::StoreOptions::default()))
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("NEXUS_TEST_UNSET_EMBEDDINGS_KEY is not set"),
            "{error}"
        );
        let with_key = |name: &str| (name == "EMBEDDINGS_KEY").then(|| "sk-canary-7q".to_owned());
        let text = text.replace("NEXUS_TEST_UNSET_EMBEDDINGS_KEY", "EMBEDDINGS_KEY");
        std::fs::write(dir.path().join("nexus.yaml"), text).unwrap();
        let config = Config::load_from(&dir.path().join("nexus.yaml"), &with_key).unwrap();
        assert!(!format!("{config:?}").contains("sk-canary-7q"));
        assert!(format!("{config:?}").contains("<redacted>"));
    }

    #[test]
    fn storage_is_chosen_by_configuration_and_unknown_backends_are_refused() {
        let config = Config::parse(SEED, "nexus.yaml", &env).unwrap();
        assert_eq!(config.storage, StorageConfig::default());
        assert_eq!(
            config.storage(),
            nexus_core::Storage::Embedded {
                dir: PathBuf::from("/var/lib/nexus")
            }
        );
        let explicit = "data_dir: /d\nstorage:\n  metadata: sqlite\n  blobs: local\n";
        assert!(Config::parse(explicit, "c.yaml", &env).is_ok());
        let scale = "data_dir: /d\nstorage:\n  metadata: postgres://nexus:hunter2@db/nexus\n  blobs: s3://bucket/prefix\n  max_connections: 8\n";
        let config = Config::parse(scale, "c.yaml", &env).unwrap();
        let nexus_core::Storage::ScaleOut(storage) = config.storage() else {
            panic!("postgres metadata is the scale-out tier");
        };
        assert_eq!(storage.blobs.as_deref(), Some("s3://bucket/prefix"));
        assert_eq!(storage.max_connections, 8);
        assert!(!storage.migrate);
        assert!(!format!("{storage:?}").contains("hunter2"));
        assert!(!format!("{config:?}").contains("hunter2"), "{config:?}");
        for (text, expected) in [
            (
                "data_dir: /d\nstorage:\n  metadata: mysql://nexus:hunter2@db/nexus\n",
                "storage.metadata: `mysql` is not a metadata backend",
            ),
            (
                "data_dir: /d\nstorage:\n  blobs: s3://bucket/prefix\n",
                "storage.blobs: `s3` needs `storage.metadata: postgres://...`",
            ),
            (
                "data_dir: /d\nstorage:\n  metadata: postgres://db/nexus\n  blobs: gs://bucket\n",
                "storage.blobs: `gs` is not a blob store",
            ),
            (
                "data_dir: /d\nstorage:\n  metadata: postgres://db/nexus\n  blobs: s3:///prefix\n",
                "an s3:// URL names a bucket",
            ),
            (
                "data_dir: /d\nstorage:\n  metadata: postgres://db/nexus\n  max_connections: 0\n",
                "storage.max_connections must be at least 1",
            ),
            (
                "data_dir: /d\nstorage:\n  metdata: sqlite\n",
                "unknown field `metdata`",
            ),
            ("data_dir: /d\nbackend: s3\n", "unknown variant `s3`"),
        ] {
            let error = Config::parse(text, "c.yaml", &env).unwrap_err().to_string();
            assert!(error.contains(expected), "{text}: {error}");
            assert!(!error.contains("hunter2"), "a password was echoed: {error}");
        }
    }

    #[test]
    fn provisioned_folders_are_configurable_and_checked() {
        let config = Config::parse(SEED, "nexus.yaml", &env).unwrap();
        assert_eq!(config.provisioning, Provisioning::default());
        let text = "data_dir: /d\nprovisioning:\n  workspace_folders: [notes, notes/daily]\n";
        let config = Config::parse(text, "c.yaml", &env).unwrap();
        assert_eq!(
            config.provisioning.workspace_folders,
            ["notes", "notes/daily"]
        );
        assert_eq!(
            config.provisioning.shared_folders,
            Provisioning::default().shared_folders
        );
        for (text, expected) in [
            (
                "data_dir: /d\nprovisioning:\n  workspace_folders: [../up]\n",
                "provisioning.workspace_folders: `../up`",
            ),
            (
                "data_dir: /d\nprovisioning:\n  shared_folders: [library]\n",
                "provisioning.shared_folders: `library` is not `shared` or beneath it",
            ),
            (
                "data_dir: /d\nprovisioning:\n  folders: [x]\n",
                "unknown field `folders`",
            ),
        ] {
            let error = Config::parse(text, "c.yaml", &env).unwrap_err().to_string();
            assert!(error.contains(expected), "{text}: {error}");
        }
    }

    #[test]
    fn variables_expand_with_defaults_and_missing_ones_fail() {
        let text =
            "data_dir: /d\nserver:\n  port: ${PORT}\n  host: ${HOST:-0.0.0.0}\n# ${IGNORED}\n";
        let config = Config::parse(text, "c.yaml", &env).unwrap();
        assert_eq!(config.server.port, 9090);
        assert_eq!(config.server.host, "0.0.0.0");
        let error = Config::parse("data_dir: ${NOPE}\n", "c.yaml", &env).unwrap_err();
        assert_eq!(
            error.to_string(),
            "c.yaml:1: environment variable `NOPE` is not set (use `${NOPE:-default}` for a default)"
        );
        assert!(matches!(
            Config::parse("data_dir: ${NOPE\n", "c.yaml", &env),
            Err(ConfigError::Unterminated { line: 1, .. })
        ));
    }

    #[test]
    fn unknown_keys_and_wrong_types_are_errors_with_a_position() {
        let error = Config::parse("data_dir: /d\ndata_dri: /x\n", "c.yaml", &env)
            .unwrap_err()
            .to_string();
        assert!(error.contains("unknown field `data_dri`"), "{error}");
        assert!(error.contains("line 2"), "{error}");
        let error = Config::parse("data_dir: /d\nserver:\n  port: eighty\n", "c.yaml", &env)
            .unwrap_err()
            .to_string();
        assert!(error.contains("line 3"), "{error}");
        let error = Config::parse(
            "data_dir: /d\norganizations:\n  - id: acme\n    name: A\n    members:\n      - user_id: a@b.c\n        role: owner\n",
            "c.yaml",
            &env,
        )
        .unwrap_err()
        .to_string();
        assert!(error.contains("unknown variant `owner`"), "{error}");
    }

    #[test]
    fn bad_values_are_refused() {
        for (text, expected) in [
            ("data_dir: /d\nauth:\n  type: jwt\n", "needs `jwt_secret`"),
            (
                "data_dir: /d\nauth:\n  type: jwt\n  jwt_secret: short\n",
                "shorter than 32",
            ),
            (
                "data_dir: /d\nauth:\n  type: jwt\n  jwt_algorithm: none\n  jwt_secret: ${JWT_SECRET}\n",
                "not supported",
            ),
            (
                "data_dir: /d\nauth:\n  type: jwt\n  jwt_algorithm: RS256\n",
                "jwt_public_key_file",
            ),
            (
                "data_dir: /d\nauth:\n  oidc:\n    issuer: https://idp\n    audience: ''\n    jwks_file: k.json\n",
                "needs an `issuer` and an `audience`",
            ),
            (
                "data_dir: /d\nauth:\n  oidc:\n    issuer: https://idp\n    audience: nexus\n    jwks_file: k.json\n    algorithms: [HS256]\n",
                "RS256 and/or ES256",
            ),
            (
                "data_dir: /d\nauth:\n  oidc:\n    issuer: https://idp\n    audience: nexus\n",
                "missing field `jwks_file`",
            ),
            (
                "data_dir: /d\norganizations:\n  - id: Acme!\n    name: A\n",
                "not a valid id",
            ),
            // Bad values carry their position, like unknown keys and wrong types.
            (
                "data_dir: /d\norganizations:\n  - id: Acme!\n    name: A\n",
                "line 3",
            ),
            (
                "data_dir: /d\norganizations:\n  - id: acme\n    name: A\n    members:\n      - user_id: b@x.y\n        role: member\n        permissions: [orgs/acme:rwz]\n",
                "line 6",
            ),
            (
                "data_dir: /d\norganizations:\n  - id: acme\n    name: A\n    members:\n      - user_id: b@x.y\n        role: member\n        permissions: [orgs/other:rw-]\n",
                "outside organization",
            ),
            (
                "data_dir: /d\norganizations:\n  - id: acme\n    name: A\n    members:\n      - user_id: b@x.y\n        role: member\n        permissions: [orgs/acme:rwz]\n",
                "mode",
            ),
            (
                "data_dir: /d\norganizations:\n  - id: acme\n    name: A\n    members:\n      - user_id: UNIV\n        role: member\n",
                "reserved",
            ),
        ] {
            let error = Config::parse(text, "c.yaml", &env).unwrap_err().to_string();
            assert!(error.contains(expected), "{text}: {error}");
        }
    }
}
