//! A typed client for the Nexus REST API: `nexus-api` values in and out.
//!
//! Every method maps to one route; errors come back with the server's code, message and
//! request id. Paths are percent-encoded segment by segment. Requests travel over HTTP, or
//! through a [`Transport`] the caller provides (the CLI serves the API's router in-process
//! over a data directory, so each command is written once).

use bytes::Bytes;
use nexus_api::{
    AclResponse, AddMemberRequest, AddMemberResponse, ApiKeyInfo, CreateKeyRequest,
    CreateOrgRequest, Entry, ErrorCode, GlobRequest, GlobResult, GrepRequest, GrepResult, KeyList,
    ListPage, MemberList, MoveRequest, NewApiKey, OrgList, PrincipalInfo, ProvisionReport,
    RemoveMemberResponse, RemoveResult, RestoreRequest, RevokeKeyResponse, SetVersionPolicyRequest,
    SetfaclRequest, UserList, VersionInfo, VersionList, VersionPolicy, Whoami,
};
use nexus_api::{
    AddSessionMember, AssignRequest, CreateItem, CreateSession, Item, ItemAccess, ItemCreated,
    ItemList, ItemListQuery, ReportingLine, ResolvedWorkflow, Session, SessionList, SetManager,
    ShareRequest, UpdateItem,
};
use nexus_api::{
    ChangesResponse, CheckRequest, CheckResponse, DeleteRelationshipsResponse, ExpandRequest,
    ExpandResponse, LookupResourcesRequest, LookupResourcesResponse, LookupSubjectsRequest,
    LookupSubjectsResponse, ReadRelationshipsResponse, RelationshipFilterRequest, SchemaResponse,
    WriteRelationshipsRequest, WriteRelationshipsResponse, WriteSchemaRequest, WriteSchemaResponse,
};
use std::sync::Arc;

use futures::future::BoxFuture;
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// A failed call: the server's error, or why the server could not be reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientError {
    pub code: ErrorCode,
    pub message: String,
    /// The server's id for the request, to find it in its logs.
    pub request_id: Option<String>,
    /// The file's current entity tag, for a failed precondition.
    pub etag: Option<String>,
    /// What to try, when the client can tell.
    pub hint: Option<String>,
}

impl std::fmt::Display for ClientError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(&self.message)
    }
}

impl std::error::Error for ClientError {}

impl ClientError {
    fn unreachable(base: &str, error: &dyn std::fmt::Display) -> Self {
        ClientError {
            code: ErrorCode::Unavailable,
            message: format!("cannot reach the server at {base}: {error}"),
            request_id: None,
            etag: None,
            hint: None,
        }
    }
}

/// The result of a call.
pub type Result<T> = std::result::Result<T, ClientError>;

/// What a read returned.
#[derive(Debug, Clone)]
pub struct ReadResponse {
    pub content: Bytes,
    pub etag: Option<String>,
    /// The half-open byte span returned, for a range.
    pub range: Option<(u64, u64)>,
}

/// Carries one request to an API and brings its answer back (for APIs served in-process).
pub trait Transport: Send + Sync + std::fmt::Debug {
    /// Sends `request` (its URI is the route with its query) and returns the answer.
    fn send(
        &self,
        request: http::Request<Bytes>,
    ) -> BoxFuture<'_, std::result::Result<http::Response<Bytes>, TransportError>>;
}

/// Why a transport could not deliver a request.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct TransportError(pub Box<dyn std::error::Error + Send + Sync>);

#[derive(Debug, Clone)]
enum Connection {
    Http { http: reqwest::Client, base: String },
    InProcess(Arc<dyn Transport>),
}

/// An answer, read whole.
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Answer {
    fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(ToOwned::to_owned)
    }
}

/// A connection to one API, acting with one credential.
#[derive(Debug, Clone)]
pub struct Client {
    connection: Connection,
    credential: Option<String>,
}

/// Percent-encodes a path for use after a route prefix (`/` separators kept).
pub fn encode_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for byte in path.trim_start_matches('/').bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~/@+,;=:!$&'()*".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// A path for a route, refused here as the server would refuse it (with its message): a
/// route cannot carry every invalid path as typed (HTTP clients resolve `.` and `..`
/// segments, so `/a/../b` would silently become `/b`, and a relative path would become
/// absolute).
fn route_path(path: &str) -> Result<String> {
    if let Err(error) = nexus_api::path::VfsPath::parse(path) {
        return Err(ClientError {
            code: ErrorCode::InvalidPath,
            message: error.to_string(),
            request_id: None,
            etag: None,
            hint: None,
        });
    }
    Ok(encode_path(path))
}

/// `route` with the query of the fields that are set, and `limit`.
fn with_query(
    mut route: String,
    fields: &[(&str, &Option<String>)],
    limit: Option<usize>,
) -> String {
    let mut parts: Vec<String> = fields
        .iter()
        .filter_map(|(name, value)| {
            value
                .as_ref()
                .map(|value| format!("{name}={}", component(value)))
        })
        .collect();
    if let Some(limit) = limit {
        parts.push(format!("limit={limit}"));
    }
    if !parts.is_empty() {
        route.push('?');
        route.push_str(&parts.join("&"));
    }
    route
}

fn component(text: &str) -> String {
    encode_path(text).replace('/', "%2F")
}

impl Client {
    /// A client for the server at `base` (e.g. `http://localhost:8080`), presenting
    /// `credential` (an API key or a token) as a bearer credential.
    pub fn new(base: &str, credential: Option<String>) -> Result<Client> {
        let base = base.trim_end_matches('/').to_owned();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(ClientError {
                code: ErrorCode::InvalidInput,
                message: format!("invalid server URL `{base}`: use http://HOST:PORT"),
                request_id: None,
                etag: None,
                hint: None,
            });
        }
        install_tls_provider();
        let http = reqwest::Client::builder()
            .build()
            .map_err(|error| ClientError::unreachable(&base, &error))?;
        Ok(Client {
            connection: Connection::Http { http, base },
            credential,
        })
    }

    /// A client of an API served by `transport` (in-process; no credential: the transport
    /// decides who acts). Errors carry no request id, which would name nothing a user can
    /// look up.
    pub fn in_process(transport: Arc<dyn Transport>) -> Client {
        Client {
            connection: Connection::InProcess(transport),
            credential: None,
        }
    }

    /// The server's base URL (empty in-process).
    pub fn base(&self) -> &str {
        match &self.connection {
            Connection::Http { base, .. } => base,
            Connection::InProcess(_) => "",
        }
    }

    async fn send(
        &self,
        method: Method,
        route: &str,
        headers: &[(&str, String)],
        body: Option<Bytes>,
    ) -> Result<Answer> {
        let answer = match &self.connection {
            Connection::Http { http, base } => {
                let mut request = http.request(method, format!("{base}{route}"));
                if let Some(credential) = &self.credential {
                    request = request.bearer_auth(credential);
                }
                for (name, value) in headers {
                    request = request.header(*name, value);
                }
                if let Some(body) = body {
                    request = request.body(body);
                }
                let response = request
                    .send()
                    .await
                    .map_err(|error| ClientError::unreachable(base, &error))?;
                let status = response.status();
                let headers = response.headers().clone();
                let body = response
                    .bytes()
                    .await
                    .map_err(|error| ClientError::unreachable(base, &error))?;
                Answer {
                    status,
                    headers,
                    body,
                }
            }
            Connection::InProcess(transport) => {
                let mut request = http::Request::builder().method(method).uri(route);
                for (name, value) in headers {
                    request = request.header(*name, value);
                }
                let request =
                    request
                        .body(body.unwrap_or_default())
                        .map_err(|error| ClientError {
                            code: ErrorCode::InvalidInput,
                            message: format!("invalid request: {error}"),
                            request_id: None,
                            etag: None,
                            hint: None,
                        })?;
                let response = transport
                    .send(request)
                    .await
                    .map_err(|error| ClientError::unreachable("the data directory", &error))?;
                let (parts, body) = response.into_parts();
                let mut headers = parts.headers;
                headers.remove("x-request-id");
                Answer {
                    status: parts.status,
                    headers,
                    body,
                }
            }
        };
        if answer.status.is_success() || answer.status == StatusCode::NOT_MODIFIED {
            return Ok(answer);
        }
        Err(error_of(&answer))
    }

    async fn json<T: DeserializeOwned>(
        &self,
        method: Method,
        route: &str,
        body: Option<&(impl Serialize + ?Sized)>,
    ) -> Result<T> {
        let body = body
            .map(|body| {
                serde_json::to_vec(body).map_err(|error| ClientError {
                    code: ErrorCode::InvalidInput,
                    message: format!("the request could not be encoded: {error}"),
                    request_id: None,
                    etag: None,
                    hint: None,
                })
            })
            .transpose()?
            .map(Bytes::from);
        let headers = [("content-type", "application/json".to_owned())];
        let answer = self.send(method, route, &headers, body).await?;
        decode(&answer)
    }

    /// `GET` returning JSON.
    pub async fn get<T: DeserializeOwned>(&self, route: &str) -> Result<T> {
        self.json(Method::GET, route, None::<&()>).await
    }

    /// `POST` a JSON body, returning JSON.
    pub async fn post<T: DeserializeOwned>(
        &self,
        route: &str,
        body: &(impl Serialize + ?Sized),
    ) -> Result<T> {
        self.json(Method::POST, route, Some(body)).await
    }

    /// `PUT` a JSON body, returning JSON.
    pub async fn put<T: DeserializeOwned>(
        &self,
        route: &str,
        body: &(impl Serialize + ?Sized),
    ) -> Result<T> {
        self.json(Method::PUT, route, Some(body)).await
    }

    /// `DELETE`, returning JSON.
    pub async fn delete<T: DeserializeOwned>(&self, route: &str) -> Result<T> {
        self.json(Method::DELETE, route, None::<&()>).await
    }

    // ------------------------------------------------------------ files

    pub async fn whoami(&self) -> Result<Whoami> {
        self.get("/api/whoami").await
    }

    pub async fn stat(&self, path: &str) -> Result<Entry> {
        self.get(&format!("/api/stat/{}", route_path(path)?)).await
    }

    pub async fn ls(
        &self,
        path: &str,
        recursive: bool,
        limit: Option<usize>,
        cursor: Option<&str>,
    ) -> Result<ListPage> {
        let mut query = vec![format!("recursive={recursive}")];
        if let Some(limit) = limit {
            query.push(format!("limit={limit}"));
        }
        if let Some(cursor) = cursor {
            query.push(format!("cursor={}", component(cursor)));
        }
        let encoded = route_path(path)?;
        let route = if encoded.is_empty() {
            "/api/ls".to_owned()
        } else {
            format!("/api/ls/{encoded}")
        };
        self.get(&format!("{route}?{}", query.join("&"))).await
    }

    /// Reads a file (`range` as `START-END`, `START-` or `-LAST`).
    pub async fn read(
        &self,
        path: &str,
        range: Option<&str>,
        version: Option<u64>,
    ) -> Result<ReadResponse> {
        let mut route = format!("/api/fs/{}", route_path(path)?);
        if let Some(version) = version {
            route.push_str(&format!("?version={version}"));
        }
        let headers: Vec<(&str, String)> = range
            .map(|range| vec![("range", format!("bytes={range}"))])
            .unwrap_or_default();
        let answer = self.send(Method::GET, &route, &headers, None).await?;
        let etag = answer
            .header("etag")
            .map(|tag| tag.trim_matches('"').to_owned());
        let range = answer.header("content-range").and_then(|text| {
            let span = text.strip_prefix("bytes ")?.split('/').next()?;
            let (start, last) = span.split_once('-')?;
            Some((start.parse().ok()?, last.parse::<u64>().ok()? + 1))
        });
        Ok(ReadResponse {
            content: answer.body,
            etag,
            range,
        })
    }

    pub async fn write(
        &self,
        path: &str,
        content: Bytes,
        if_match: Option<&str>,
        if_none_match: bool,
        parents: bool,
    ) -> Result<Entry> {
        let mut headers = Vec::new();
        if let Some(tag) = if_match {
            headers.push(("if-match", format!("\"{}\"", tag.trim_matches('"'))));
        }
        if if_none_match {
            headers.push(("if-none-match", "*".to_owned()));
        }
        let route = format!("/api/fs/{}?parents={parents}", route_path(path)?);
        let size = content.len();
        let answer = self
            .send(Method::PUT, &route, &headers, Some(content))
            .await
            .map_err(|mut error| {
                if error.code == ErrorCode::Unavailable && error.request_id.is_none() && size > 1 << 20 {
                    error.hint = Some(format!(
                        "the connection broke while sending {size} bytes: the server may refuse bodies that large (its `limits.max_body_bytes`)"
                    ));
                }
                error
            })?;
        decode(&answer)
    }

    pub async fn mkdir(&self, path: &str, parents: bool) -> Result<Entry> {
        self.json(
            Method::POST,
            &format!("/api/mkdir/{}?parents={parents}", route_path(path)?),
            None::<&()>,
        )
        .await
    }

    pub async fn rm(&self, path: &str, recursive: bool) -> Result<RemoveResult> {
        self.delete(&format!(
            "/api/fs/{}?recursive={recursive}",
            route_path(path)?
        ))
        .await
    }

    pub async fn mv(&self, from: &str, to: &str, overwrite: bool) -> Result<Entry> {
        let request = MoveRequest {
            from: from.to_owned(),
            to: to.to_owned(),
            overwrite,
            recursive: false,
        };
        self.post("/api/mv", &request).await
    }

    pub async fn cp(
        &self,
        from: &str,
        to: &str,
        recursive: bool,
        overwrite: bool,
    ) -> Result<Entry> {
        let request = MoveRequest {
            from: from.to_owned(),
            to: to.to_owned(),
            overwrite,
            recursive,
        };
        self.post("/api/cp", &request).await
    }

    pub async fn glob(&self, pattern: &str, limit: Option<usize>) -> Result<GlobResult> {
        let request = GlobRequest {
            pattern: pattern.to_owned(),
            limit,
        };
        self.post("/api/glob", &request).await
    }

    pub async fn grep(&self, request: &GrepRequest) -> Result<GrepResult> {
        self.post("/api/grep", request).await
    }

    pub async fn versions(&self, path: &str) -> Result<Vec<VersionInfo>> {
        let list: VersionList = self
            .get(&format!("/api/versions/{}", route_path(path)?))
            .await?;
        Ok(list.versions)
    }

    pub async fn restore(&self, path: &str, version: u64) -> Result<Entry> {
        self.post(
            &format!("/api/restore/{}", route_path(path)?),
            &RestoreRequest { version },
        )
        .await
    }

    pub async fn version_policy(&self, org: &str) -> Result<VersionPolicy> {
        self.get(&format!("/api/version-policy/{}", component(org)))
            .await
    }

    pub async fn set_version_policy(
        &self,
        org: &str,
        policy: &SetVersionPolicyRequest,
    ) -> Result<VersionPolicy> {
        self.put(&format!("/api/version-policy/{}", component(org)), policy)
            .await
    }

    // ------------------------------------------------------------ ACLs and ReBAC

    pub async fn setfacl(&self, path: &str, entry: &str) -> Result<AclResponse> {
        let request = SetfaclRequest {
            path: path.to_owned(),
            entry: entry.to_owned(),
        };
        self.post("/api/acl", &request).await
    }

    pub async fn getfacl(&self, path: &str) -> Result<AclResponse> {
        self.get(&format!("/api/acl/{}", route_path(path)?)).await
    }

    pub async fn relationships_write(
        &self,
        request: &WriteRelationshipsRequest,
    ) -> Result<WriteRelationshipsResponse> {
        self.post("/api/rebac/relationships", request).await
    }

    pub async fn relationships_read(
        &self,
        request: &RelationshipFilterRequest,
    ) -> Result<ReadRelationshipsResponse> {
        self.post("/api/rebac/relationships/read", request).await
    }

    pub async fn relationships_delete(
        &self,
        request: &RelationshipFilterRequest,
    ) -> Result<DeleteRelationshipsResponse> {
        self.post("/api/rebac/relationships/delete", request).await
    }

    pub async fn relationships_changes(&self, since: u64, limit: usize) -> Result<ChangesResponse> {
        self.get(&format!("/api/rebac/changes?since={since}&limit={limit}"))
            .await
    }

    pub async fn check(&self, request: &CheckRequest) -> Result<CheckResponse> {
        self.post("/api/rebac/check", request).await
    }

    pub async fn expand(&self, request: &ExpandRequest) -> Result<ExpandResponse> {
        self.post("/api/rebac/expand", request).await
    }

    pub async fn lookup_resources(
        &self,
        request: &LookupResourcesRequest,
    ) -> Result<LookupResourcesResponse> {
        self.post("/api/rebac/lookup-resources", request).await
    }

    pub async fn lookup_subjects(
        &self,
        request: &LookupSubjectsRequest,
    ) -> Result<LookupSubjectsResponse> {
        self.post("/api/rebac/lookup-subjects", request).await
    }

    pub async fn schema(&self) -> Result<SchemaResponse> {
        self.get("/api/rebac/schema").await
    }

    pub async fn write_schema(&self, schema: &str) -> Result<WriteSchemaResponse> {
        let request = WriteSchemaRequest {
            schema: schema.to_owned(),
        };
        self.put("/api/rebac/schema", &request).await
    }

    // ------------------------------------------------------------ organizations and keys

    pub async fn add_member(
        &self,
        org: &str,
        body: &AddMemberRequest,
    ) -> Result<AddMemberResponse> {
        self.post(&format!("/api/orgs/{}/members", component(org)), body)
            .await
    }

    pub async fn remove_member(&self, org: &str, user: &str) -> Result<RemoveMemberResponse> {
        self.delete(&format!(
            "/api/orgs/{}/members/{}",
            component(org),
            component(user)
        ))
        .await
    }

    pub async fn list_members(&self, org: &str) -> Result<MemberList> {
        self.get(&format!("/api/orgs/{}/members", component(org)))
            .await
    }

    pub async fn lock_user(&self, user: &str) -> Result<nexus_api::AccountChange> {
        self.post(
            &format!("/api/admin/users/{}/lock", component(user)),
            &serde_json::json!({}),
        )
        .await
    }

    pub async fn lockout_user(&self, user: &str) -> Result<nexus_api::AccountChange> {
        self.post(
            &format!("/api/admin/users/{}/lockout", component(user)),
            &serde_json::json!({}),
        )
        .await
    }

    pub async fn unlock_user(&self, user: &str) -> Result<nexus_api::AccountChange> {
        self.post(
            &format!("/api/admin/users/{}/unlock", component(user)),
            &serde_json::json!({}),
        )
        .await
    }

    pub async fn delete_user(&self, user: &str) -> Result<nexus_api::AccountChange> {
        self.delete(&format!("/api/admin/users/{}", component(user)))
            .await
    }

    pub async fn users(&self) -> Result<Vec<PrincipalInfo>> {
        let list: UserList = self.get("/api/users").await?;
        Ok(list.users)
    }

    pub async fn create_key(&self, principal: &str, description: &str) -> Result<NewApiKey> {
        let request = CreateKeyRequest {
            principal: Some(principal.to_owned()),
            description: description.to_owned(),
        };
        self.post("/api/keys", &request).await
    }

    pub async fn revoke_key(&self, id: &str) -> Result<RevokeKeyResponse> {
        self.delete(&format!("/api/keys/{}", component(id))).await
    }

    /// Lets `agent` act on the caller's behalf for `expires_in` (`8h` when absent).
    pub async fn delegate(
        &self,
        agent: &str,
        expires_in: Option<&str>,
        description: &str,
    ) -> Result<nexus_api::NewDelegation> {
        let request = nexus_api::CreateDelegation {
            agent: agent.to_owned(),
            expires_in: expires_in.map(ToOwned::to_owned),
            description: description.to_owned(),
        };
        self.post("/api/delegations", &request).await
    }

    pub async fn delegations(&self) -> Result<Vec<nexus_api::Delegation>> {
        let list: nexus_api::DelegationList = self.get("/api/delegations").await?;
        Ok(list.delegations)
    }

    pub async fn revoke_delegation(&self, id: &str) -> Result<RevokeKeyResponse> {
        self.delete(&format!("/api/delegations/{}", component(id)))
            .await
    }

    pub async fn keys(&self) -> Result<Vec<ApiKeyInfo>> {
        let list: KeyList = self.get("/api/keys").await?;
        Ok(list.keys)
    }

    pub async fn orgs(&self) -> Result<OrgList> {
        self.get("/api/orgs").await
    }

    pub async fn create_org(&self, request: &CreateOrgRequest) -> Result<ProvisionReport> {
        self.post("/api/orgs", request).await
    }

    // ------------------------------------------------------------ knowledge layer

    fn item_route(org: &str, key: &str) -> String {
        format!("/api/orgs/{}/items/{}", component(org), component(key))
    }

    /// A page of what the caller may read in `org` that matches the search.
    pub async fn search(
        &self,
        org: &str,
        request: &nexus_api::search::SearchRequest,
    ) -> Result<nexus_api::search::SearchResponse> {
        self.post(&format!("/api/orgs/{}/search", component(org)), request)
            .await
    }

    /// Rebuilds the organization's search index (system administrator).
    pub async fn search_reindex(&self, org: &str) -> Result<nexus_api::search::ReindexReport> {
        self.post(
            &format!("/api/orgs/{}/search/reindex", component(org)),
            &serde_json::json!({}),
        )
        .await
    }

    pub async fn items_create(&self, org: &str, request: &CreateItem) -> Result<ItemCreated> {
        self.post(&format!("/api/orgs/{}/items", component(org)), request)
            .await
    }

    pub async fn items_get(&self, org: &str, key: &str) -> Result<Item> {
        self.get(&Self::item_route(org, key)).await
    }

    /// Replaces an item's data; with `if_match`, only if its etag is still that one.
    pub async fn items_update(
        &self,
        org: &str,
        key: &str,
        data: serde_json::Value,
        if_match: Option<&str>,
    ) -> Result<Item> {
        let mut headers = vec![("content-type", "application/json".to_owned())];
        if let Some(tag) = if_match {
            headers.push(("if-match", format!("\"{}\"", tag.trim_matches('"'))));
        }
        let body = serde_json::to_vec(&UpdateItem { data }).map_err(|error| ClientError {
            code: ErrorCode::InvalidInput,
            message: format!("the request could not be encoded: {error}"),
            request_id: None,
            etag: None,
            hint: None,
        })?;
        let answer = self
            .send(
                Method::PUT,
                &Self::item_route(org, key),
                &headers,
                Some(Bytes::from(body)),
            )
            .await?;
        decode(&answer)
    }

    /// Deletes an item; with `if_match`, only if its etag is still that one.
    pub async fn items_delete(&self, org: &str, key: &str, if_match: Option<&str>) -> Result<()> {
        let headers: Vec<(&str, String)> = if_match
            .map(|tag| vec![("if-match", format!("\"{}\"", tag.trim_matches('"')))])
            .unwrap_or_default();
        self.send(Method::DELETE, &Self::item_route(org, key), &headers, None)
            .await?;
        Ok(())
    }

    /// One page of the audit log (oldest first), filtered.
    pub async fn audit(
        &self,
        query: &nexus_api::audit::AuditQuery,
    ) -> Result<nexus_api::AuditPage> {
        let fields = [
            ("org", &query.org),
            ("actor", &query.actor),
            ("path_prefix", &query.path_prefix),
            ("action", &query.action),
            ("since", &query.since),
            ("until", &query.until),
            ("cursor", &query.cursor),
        ];
        self.get(&with_query("/api/audit".to_owned(), &fields, query.limit))
            .await
    }

    /// Exports organization `org` as an archive (system administrators): its bytes, and what
    /// it holds.
    pub async fn export_org(&self, org: &str) -> Result<(Bytes, nexus_api::ArchiveReport)> {
        let route = format!("/api/admin/orgs/{}/export", component(org));
        let answer = self.send(Method::GET, &route, &[], None).await?;
        let report = answer
            .header("x-nexus-archive")
            .and_then(|text| serde_json::from_str(&text).ok())
            .unwrap_or_default();
        Ok((answer.body, report))
    }

    /// Imports an organization from an archive (system administrators); with `replace`, an
    /// organization that exists is replaced (refused otherwise).
    pub async fn import_org(
        &self,
        archive: Bytes,
        replace: bool,
    ) -> Result<nexus_api::ArchiveReport> {
        let route = format!("/api/admin/orgs/import?replace={replace}");
        let headers = [("content-type", "application/zstd".to_owned())];
        let answer = self
            .send(Method::POST, &route, &headers, Some(archive))
            .await?;
        decode(&answer)
    }

    /// One page of an organization's changes the caller may read (oldest first), after
    /// `query.cursor`.
    pub async fn changes(
        &self,
        org: &str,
        query: &nexus_api::changes::ChangeQuery,
    ) -> Result<nexus_api::ChangePage> {
        let fields = [("cursor", &query.cursor)];
        let route = format!("/api/orgs/{}/changes", component(org));
        self.get(&with_query(route, &fields, query.limit)).await
    }

    /// One page of the caller's notifications (oldest first), after `query.cursor`.
    pub async fn notifications(
        &self,
        query: &nexus_api::notifications::NotificationQuery,
    ) -> Result<nexus_api::NotificationPage> {
        let unread = query.unread.map(|unread| unread.to_string());
        let fields = [("cursor", &query.cursor), ("unread", &unread)];
        self.get(&with_query(
            "/api/notifications".to_owned(),
            &fields,
            query.limit,
        ))
        .await
    }

    /// Marks one of the caller's notifications read.
    pub async fn notification_read(&self, id: u64) -> Result<()> {
        self.send(
            Method::POST,
            &format!("/api/notifications/{id}/read"),
            &[],
            None,
        )
        .await?;
        Ok(())
    }

    /// One page of the items the caller may read (`q`: keyword search).
    pub async fn items_list(&self, org: &str, query: &ItemListQuery) -> Result<ItemList> {
        let fields = [
            ("env", &query.env),
            ("scope", &query.scope),
            ("kind", &query.kind),
            ("owner", &query.owner),
            ("since", &query.since),
            ("until", &query.until),
            ("q", &query.q),
            ("cursor", &query.cursor),
        ];
        let route = format!("/api/orgs/{}/items", component(org));
        self.get(&with_query(route, &fields, query.limit)).await
    }

    /// Shares an item (`unshare`: takes the share back).
    pub async fn items_share(
        &self,
        org: &str,
        key: &str,
        request: &ShareRequest,
        unshare: bool,
    ) -> Result<ItemAccess> {
        let verb = if unshare { "unshare" } else { "share" };
        self.post(&format!("{}/{verb}", Self::item_route(org, key)), request)
            .await
    }

    pub async fn items_access(&self, org: &str, key: &str) -> Result<ItemAccess> {
        self.get(&format!("{}/access", Self::item_route(org, key)))
            .await
    }

    pub async fn items_assign(&self, org: &str, key: &str, assignees: Vec<String>) -> Result<Item> {
        self.post(
            &format!("{}/assign", Self::item_route(org, key)),
            &AssignRequest { assignees },
        )
        .await
    }

    pub async fn workflow_resolve(&self, org: &str) -> Result<ResolvedWorkflow> {
        self.get(&format!("/api/orgs/{}/workflow/resolved", component(org)))
            .await
    }

    pub async fn manager(&self, org: &str, user: &str) -> Result<ReportingLine> {
        self.get(&format!(
            "/api/orgs/{}/users/{}/manager",
            component(org),
            component(user)
        ))
        .await
    }

    pub async fn set_manager(
        &self,
        org: &str,
        user: &str,
        manager: Option<&str>,
    ) -> Result<ReportingLine> {
        self.put(
            &format!(
                "/api/orgs/{}/users/{}/manager",
                component(org),
                component(user)
            ),
            &SetManager {
                manager: manager.map(ToOwned::to_owned),
            },
        )
        .await
    }

    pub async fn sessions_start(&self, org: &str, request: &CreateSession) -> Result<Session> {
        self.post(&format!("/api/orgs/{}/sessions", component(org)), request)
            .await
    }

    pub async fn sessions_list(&self, org: &str, active: Option<bool>) -> Result<SessionList> {
        let query = active.map_or(String::new(), |active| format!("?active={active}"));
        self.get(&format!("/api/orgs/{}/sessions{query}", component(org)))
            .await
    }

    pub async fn sessions_get(&self, org: &str, session: &str) -> Result<Session> {
        self.get(&format!(
            "/api/orgs/{}/sessions/{}",
            component(org),
            component(session)
        ))
        .await
    }

    pub async fn sessions_add(&self, org: &str, session: &str, user: &str) -> Result<Session> {
        self.post(
            &format!(
                "/api/orgs/{}/sessions/{}/members",
                component(org),
                component(session)
            ),
            &AddSessionMember {
                user_id: user.to_owned(),
            },
        )
        .await
    }

    pub async fn sessions_end(&self, org: &str, session: &str) -> Result<Session> {
        self.post(
            &format!(
                "/api/orgs/{}/sessions/{}/end",
                component(org),
                component(session)
            ),
            &serde_json::json!({}),
        )
        .await
    }
}

/// The JSON of a successful answer.
fn decode<T: DeserializeOwned>(answer: &Answer) -> Result<T> {
    serde_json::from_slice(&answer.body).map_err(|error| ClientError {
        code: ErrorCode::Internal,
        message: format!("unexpected answer from the server: {error}"),
        request_id: answer.header("x-request-id"),
        etag: None,
        hint: None,
    })
}

/// An error body read loosely, so a code this client does not know still brings its message.
#[derive(serde::Deserialize)]
struct Loose {
    error: LooseDetail,
}

#[derive(serde::Deserialize)]
struct LooseDetail {
    code: String,
    message: String,
    #[serde(default)]
    hint: Option<String>,
}

fn error_of(answer: &Answer) -> ClientError {
    let status = answer.status;
    let request_id = answer.header("x-request-id");
    let etag = answer
        .header("etag")
        .map(|tag| tag.trim_matches('"').to_owned());
    let body: Option<Loose> = serde_json::from_slice(&answer.body).ok();
    let mut hint = None;
    let (code, message) = match body {
        Some(Loose { error }) => {
            hint = error.hint;
            // The message ends with the hint in parentheses; it is shown on its own.
            let message = match &hint {
                Some(hint) => error
                    .message
                    .strip_suffix(&format!(" ({hint})"))
                    .map_or(error.message.clone(), ToOwned::to_owned),
                None => error.message,
            };
            (
                ErrorCode::parse(&error.code).unwrap_or(ErrorCode::of_status(status.as_u16())),
                message,
            )
        }
        None => (
            ErrorCode::of_status(status.as_u16()),
            format!("the server answered {status}"),
        ),
    };
    ClientError {
        code,
        message,
        request_id,
        etag,
        hint,
    }
}

/// HTTPS through rustls with ring: installs the process's default TLS provider (another
/// part of the process may have installed the same one already).
fn install_tls_provider() {
    #[expect(
        deprecated,
        reason = "ring's provider lacks post-quantum key exchange; the alternative, aws-lc-rs, needs a C and assembler build"
    )]
    let provider = rustls::crypto::ring::default_provider();
    let _ = provider.install_default();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_encoded_by_segment() {
        assert_eq!(
            encode_path("/orgs/acme/a b#c?d%e"),
            "orgs/acme/a%20b%23c%3Fd%25e"
        );
        assert_eq!(encode_path("/orgs/acme/café"), "orgs/acme/caf%C3%A9");
        assert_eq!(component("bob@acme.com"), "bob@acme.com");
        assert_eq!(component("a/b"), "a%2Fb");
    }

    #[test]
    fn dot_segments_are_refused_before_anything_is_sent() {
        for path in ["/orgs/acme/../techcorp", "/orgs/./acme", "/orgs/acme/.."] {
            assert_eq!(
                route_path(path).unwrap_err().code,
                ErrorCode::InvalidPath,
                "{path}"
            );
        }
        assert_eq!(route_path("/orgs/acme/..x/.y").unwrap(), "orgs/acme/..x/.y");
    }

    #[test]
    fn only_http_urls_are_accepted() {
        assert!(Client::new("localhost:8080", None).is_err());
        assert_eq!(
            Client::new("http://localhost:8080/", None).unwrap().base(),
            "http://localhost:8080"
        );
    }
}
