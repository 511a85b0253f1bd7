//! Where commands run: on a data directory (embedded store) or against a server.
//!
//! Each method is one operation with both implementations side by side; results come back
//! as the same types either way, so rendering does not care where they came from. Answers of
//! the permission engine come back as the JSON the API sends (`nexus_core::views`).
#![allow(
    clippy::indexing_slicing,
    reason = "reading a serde_json::Value by key never panics: a missing key reads as null"
)]

use bytes::Bytes;
use nexus_client::{Client, ClientError};
use nexus_core::authz::acl::AclListing;
use nexus_core::views;
use nexus_core::{
    ByteRange, CallContext, CheckQuery, Entry, Fs, GlobOptions, GlobResult, GrepOptions,
    GrepResult, ListOptions, ListPage, MemberRecord, MemberSpec, OrgSpec, ProvisionReport,
    ReadOptions, RemoveResult, VersionInfo, VersionPolicy, WriteOptions,
    accounts::{ApiKeyInfo, NewApiKey, PrincipalInfo},
};
use nexus_rebac::{ObjectRef, Relationship, RelationshipFilter, RelationshipUpdate, SubjectRef};
use serde_json::{Value, json};

use crate::output::CliError;

impl From<ClientError> for CliError {
    fn from(error: ClientError) -> Self {
        let mut cli = CliError::new(error.code, error.message);
        cli.request_id = error.request_id;
        if let Some(hint) = error.hint {
            cli = cli.with_hint(hint);
        }
        cli
    }
}

/// A file's content as read.
#[derive(Debug)]
pub struct Read {
    /// Metadata of what was read (for `--json`).
    pub entry: Entry,
    pub content: Bytes,
    pub range: Option<(u64, u64)>,
}

/// What a relationship write did.
#[derive(Debug)]
pub struct Written {
    /// The revision token of the write.
    pub revision: String,
    /// (`touch` or `delete`, relationship)
    pub changes: Vec<(String, String)>,
}

/// The embedded store acting as `context`, or a server.
#[derive(Debug)]
pub enum Target {
    Local { fs: Fs, context: CallContext },
    Remote(Client),
}

fn remote_value<T: serde::de::DeserializeOwned>(value: Value, what: &str) -> Result<T, CliError> {
    serde_json::from_value(value).map_err(|error| {
        CliError::new(
            nexus_core::ErrorCode::Internal,
            format!("unexpected answer from the server for {what}: {error}"),
        )
    })
}

/// A version policy as the API sends it (`{"keep", "keep_days"}`).
fn policy_of(policy: &nexus_api::VersionPolicy) -> VersionPolicy {
    VersionPolicy {
        keep_last: policy.keep,
        keep_days: policy.keep_days,
    }
}

fn subject_text(filter: &RelationshipFilter) -> Option<String> {
    let kind = filter.subject_type.as_ref()?;
    let mut text = match &filter.subject_id {
        Some(id) => format!("{kind}:{id}"),
        None => kind.clone(),
    };
    if let Some(Some(relation)) = &filter.subject_relation {
        text.push('#');
        text.push_str(relation);
    }
    Some(text)
}

impl Target {
    /// The data directory's filesystem, for the commands that only work on one.
    pub fn local(&self, what: &str) -> Result<&Fs, CliError> {
        match self {
            Target::Local { fs, .. } => Ok(fs),
            Target::Remote(_) => Err(CliError::new(
                nexus_core::ErrorCode::InvalidInput,
                format!("`{what}` works on a data directory, not through a server"),
            )
            .with_hint("run it where the data lives, with `--data-dir`")),
        }
    }

    pub async fn stat(&self, path: &str) -> Result<Entry, CliError> {
        match self {
            Target::Local { fs, context } => Ok(fs.stat(context, path).await?),
            Target::Remote(client) => Ok(client.stat(path).await?),
        }
    }

    pub async fn ls(&self, path: &str, options: ListOptions) -> Result<ListPage, CliError> {
        match self {
            Target::Local { fs, context } => Ok(fs.ls(context, path, options).await?),
            Target::Remote(client) => Ok(client
                .ls(
                    path,
                    options.recursive,
                    options.limit,
                    options.cursor.as_deref(),
                )
                .await?),
        }
    }

    pub async fn read(
        &self,
        path: &str,
        range: Option<&str>,
        version: Option<u64>,
        with_entry: bool,
    ) -> Result<Read, CliError> {
        match self {
            Target::Local { fs, context } => {
                let range = range.map(ByteRange::parse).transpose()?;
                let read = fs
                    .read(context, path, ReadOptions { range, version })
                    .await?;
                Ok(Read {
                    entry: read.entry,
                    content: read.content,
                    range: read.range,
                })
            }
            Target::Remote(client) => {
                let read = client.read(path, range, version).await?;
                let entry = if with_entry {
                    client.stat(path).await?
                } else {
                    Entry {
                        path: path.to_owned(),
                        name: String::new(),
                        kind: nexus_core::EntryKind::File,
                        size: u64::try_from(read.content.len()).unwrap_or(u64::MAX),
                        version: version.unwrap_or(0),
                        etag: read.etag,
                        hash: None,
                        created_at: String::new(),
                        modified_at: String::new(),
                        author: String::new(),
                    }
                };
                Ok(Read {
                    entry,
                    content: read.content,
                    range: read.range,
                })
            }
        }
    }

    pub async fn write(
        &self,
        path: &str,
        content: Bytes,
        options: WriteOptions,
    ) -> Result<Entry, CliError> {
        match self {
            Target::Local { fs, context } => Ok(fs.write(context, path, content, options).await?),
            Target::Remote(client) => Ok(client
                .write(
                    path,
                    content,
                    options.if_match.as_deref(),
                    options.if_none_match,
                    options.create_parents,
                )
                .await?),
        }
    }

    pub async fn mkdir(&self, path: &str, parents: bool) -> Result<Entry, CliError> {
        match self {
            Target::Local { fs, context } => Ok(fs.mkdir(context, path, parents).await?),
            Target::Remote(client) => Ok(client.mkdir(path, parents).await?),
        }
    }

    pub async fn rm(&self, path: &str, recursive: bool) -> Result<RemoveResult, CliError> {
        match self {
            Target::Local { fs, context } => Ok(fs.rm(context, path, recursive).await?),
            Target::Remote(client) => Ok(client.rm(path, recursive).await?),
        }
    }

    pub async fn mv(&self, from: &str, to: &str, overwrite: bool) -> Result<Entry, CliError> {
        match self {
            Target::Local { fs, context } => Ok(fs.mv(context, from, to, overwrite).await?),
            Target::Remote(client) => Ok(client.mv(from, to, overwrite).await?),
        }
    }

    pub async fn cp(
        &self,
        from: &str,
        to: &str,
        recursive: bool,
        overwrite: bool,
    ) -> Result<Entry, CliError> {
        match self {
            Target::Local { fs, context } => {
                Ok(fs.cp(context, from, to, recursive, overwrite).await?)
            }
            Target::Remote(client) => Ok(client.cp(from, to, recursive, overwrite).await?),
        }
    }

    pub async fn glob(&self, pattern: &str, limit: Option<usize>) -> Result<GlobResult, CliError> {
        match self {
            Target::Local { fs, context } => {
                Ok(fs.glob(context, pattern, GlobOptions { limit }).await?)
            }
            Target::Remote(client) => Ok(client.glob(pattern, limit).await?),
        }
    }

    pub async fn grep(
        &self,
        pattern: &str,
        path: &str,
        options: GrepOptions,
    ) -> Result<GrepResult, CliError> {
        match self {
            Target::Local { fs, context } => Ok(fs.grep(context, pattern, path, options).await?),
            Target::Remote(client) => Ok(client
                .grep(&nexus_api::GrepRequest {
                    pattern: pattern.to_owned(),
                    path: path.to_owned(),
                    ignore_case: options.ignore_case,
                    context: options.context,
                    max_matches: options.max_matches,
                    include: options.include,
                })
                .await?),
        }
    }

    pub async fn versions(&self, path: &str) -> Result<Vec<VersionInfo>, CliError> {
        match self {
            Target::Local { fs, context } => Ok(fs.versions(context, path).await?),
            Target::Remote(client) => Ok(client.versions(path).await?),
        }
    }

    pub async fn restore(&self, path: &str, version: u64) -> Result<Entry, CliError> {
        match self {
            Target::Local { fs, context } => Ok(fs.restore(context, path, version).await?),
            Target::Remote(client) => Ok(client.restore(path, version).await?),
        }
    }

    pub async fn version_policy(&self, org: &str) -> Result<VersionPolicy, CliError> {
        match self {
            Target::Local { fs, context } => Ok(fs.version_policy(context, org).await?),
            Target::Remote(client) => Ok(policy_of(&client.version_policy(org).await?)),
        }
    }

    pub async fn set_version_policy(
        &self,
        org: &str,
        policy: VersionPolicy,
    ) -> Result<VersionPolicy, CliError> {
        match self {
            Target::Local { fs, context } => {
                Ok(fs.set_version_policy(context, org, policy).await?)
            }
            Target::Remote(client) => Ok(policy_of(
                &client
                    .set_version_policy(
                        org,
                        &nexus_api::SetVersionPolicyRequest {
                            keep: policy.keep_last,
                            keep_days: policy.keep_days,
                        },
                    )
                    .await?,
            )),
        }
    }

    // ------------------------------------------------------------ ACLs and ReBAC

    pub async fn setfacl(&self, path: &str, entry: &str) -> Result<AclListing, CliError> {
        match self {
            Target::Local { fs, context } => Ok(fs.setfacl(context, path, entry).await?),
            Target::Remote(client) => Ok(client.setfacl(path, entry).await?.listing),
        }
    }

    pub async fn getfacl(&self, path: &str) -> Result<AclListing, CliError> {
        match self {
            Target::Local { fs, context } => Ok(fs.getfacl(context, path)?),
            Target::Remote(client) => Ok(client.getfacl(path).await?.listing),
        }
    }

    pub async fn schema(&self) -> Result<(String, bool), CliError> {
        match self {
            Target::Local { fs, .. } => Ok(fs.schema()),
            Target::Remote(client) => {
                let value: Value = client.get("/api/rebac/schema").await?;
                Ok((
                    remote_value(value["schema"].clone(), "the schema")?,
                    value["custom"].as_bool().unwrap_or(false),
                ))
            }
        }
    }

    pub async fn write_schema(&self, source: &str) -> Result<String, CliError> {
        match self {
            Target::Local { fs, context } => {
                fs.write_schema(context, source).await?;
                Ok(fs.revision_token(context, None)?)
            }
            Target::Remote(client) => {
                let value: Value = client
                    .put("/api/rebac/schema", &json!({ "schema": source }))
                    .await?;
                remote_value(value["written_at"].clone(), "a schema write")
            }
        }
    }

    pub async fn relationships_write(
        &self,
        updates: Vec<RelationshipUpdate>,
    ) -> Result<Written, CliError> {
        match self {
            Target::Local { fs, context } => {
                let org = nexus_core::authz::one_org(
                    updates.iter().map(|update| &update.relationship.resource),
                );
                let outcome = fs.relationships_write(context, updates, Vec::new()).await?;
                Ok(Written {
                    revision: fs.revision_token(context, org.as_ref())?,
                    changes: outcome
                        .changes
                        .iter()
                        .map(|change| {
                            let operation = if change.operation == nexus_rebac::Operation::Delete {
                                "delete"
                            } else {
                                "touch"
                            };
                            (operation.to_owned(), change.relationship.to_string())
                        })
                        .collect(),
                })
            }
            Target::Remote(client) => {
                let body = json!({"updates": updates.iter().map(|update| json!({
                    "operation": match update.operation {
                        nexus_rebac::Operation::Create => "create",
                        nexus_rebac::Operation::Touch => "touch",
                        nexus_rebac::Operation::Delete => "delete",
                    },
                    "relationship": update.relationship.to_string(),
                })).collect::<Vec<_>>()});
                let value: Value = client.post("/api/rebac/relationships", &body).await?;
                let changes: Vec<Value> =
                    remote_value(value["changes"].clone(), "a relationship write")?;
                Ok(Written {
                    revision: remote_value(value["written_at"].clone(), "a relationship write")?,
                    changes: changes
                        .iter()
                        .map(|change| {
                            (
                                change["operation"].as_str().unwrap_or_default().to_owned(),
                                change["relationship"]
                                    .as_str()
                                    .unwrap_or_default()
                                    .to_owned(),
                            )
                        })
                        .collect(),
                })
            }
        }
    }

    /// `{"result", "allowed", "missing_context", "revision"}`.
    pub async fn check(
        &self,
        resource: &ObjectRef,
        permission: &str,
        subject: &SubjectRef,
        caveat_context: Option<serde_json::Map<String, Value>>,
        at_least: Option<&str>,
    ) -> Result<Value, CliError> {
        match self {
            Target::Local { fs, context } => {
                let result = fs.check(
                    context,
                    CheckQuery {
                        resource,
                        permission,
                        subject,
                        context: caveat_context.as_ref(),
                        at_least,
                    },
                )?;
                let mut value = json!(views::check_answer(&result));
                let org = nexus_core::authz::org_of_object(resource);
                if let Some(object) = value.as_object_mut() {
                    object.insert(
                        "revision".to_owned(),
                        json!(fs.revision_token(context, org.as_ref())?),
                    );
                }
                Ok(value)
            }
            Target::Remote(client) => Ok(client
                .post(
                    "/api/rebac/check",
                    &json!({
                        "subject": subject.to_string(),
                        "permission": permission,
                        "object": resource.to_string(),
                        "context": caveat_context,
                        "at_least": at_least,
                    }),
                )
                .await?),
        }
    }

    /// The tree as `views::expand_json` renders it.
    pub async fn expand(
        &self,
        resource: &ObjectRef,
        permission: &str,
        recursive: bool,
    ) -> Result<Value, CliError> {
        match self {
            Target::Local { fs, context } => Ok(json!(views::expand_tree(
                &fs.expand(context, resource, permission, recursive)?
            ))),
            Target::Remote(client) => {
                let value: Value = client
                    .post(
                        "/api/rebac/expand",
                        &json!({"permission": permission, "object": resource.to_string(), "recursive": recursive}),
                    )
                    .await?;
                Ok(value["tree"].clone())
            }
        }
    }

    /// `[{"id", "result"}]`.
    pub async fn lookup_resources(
        &self,
        subject: &SubjectRef,
        permission: &str,
        resource_type: &str,
    ) -> Result<Vec<Value>, CliError> {
        match self {
            Target::Local { fs, context } => Ok(fs
                .lookup_resources(context, resource_type, permission, subject, None)?
                .iter()
                .map(|found| json!({"id": found.id, "result": views::outcome(&found.result)}))
                .collect()),
            Target::Remote(client) => {
                let value: Value = client
                    .post(
                        "/api/rebac/lookup-resources",
                        &json!({"subject": subject.to_string(), "permission": permission, "resource_type": resource_type}),
                    )
                    .await?;
                remote_value(value["resources"].clone(), "a resource lookup")
            }
        }
    }

    /// As `views::subjects_json`.
    pub async fn lookup_subjects(
        &self,
        resource: &ObjectRef,
        permission: &str,
        subject_type: &str,
    ) -> Result<Value, CliError> {
        match self {
            Target::Local { fs, context } => {
                let (kind, relation) = match subject_type.split_once('#') {
                    Some((kind, relation)) => (kind, Some(relation)),
                    None => (subject_type, None),
                };
                Ok(json!(views::subjects_found(&fs.lookup_subjects(
                    context, resource, permission, kind, relation, None,
                )?)))
            }
            Target::Remote(client) => Ok(client
                .post(
                    "/api/rebac/lookup-subjects",
                    &json!({"object": resource.to_string(), "permission": permission, "subject_type": subject_type}),
                )
                .await?),
        }
    }

    pub async fn relationships_read(
        &self,
        filter: &RelationshipFilter,
        after: Option<&Relationship>,
        limit: usize,
    ) -> Result<Vec<String>, CliError> {
        match self {
            Target::Local { fs, context } => Ok(fs
                .relationships_read(context, filter, after, limit)?
                .iter()
                .map(ToString::to_string)
                .collect()),
            Target::Remote(client) => {
                let resource = match (&filter.resource_type, &filter.resource_id) {
                    (Some(kind), Some(id)) => Some(format!("{kind}:{id}")),
                    (Some(kind), None) => Some(kind.clone()),
                    _ => None,
                };
                let value: Value = client
                    .post(
                        "/api/rebac/relationships/read",
                        &json!({
                            "resource": resource,
                            "relation": filter.relation,
                            "subject": subject_text(filter),
                            "limit": limit,
                            "after": after.map(ToString::to_string),
                        }),
                    )
                    .await?;
                remote_value(value["relationships"].clone(), "a relationship read")
            }
        }
    }

    /// `[{"revision", "operation", "relationship"}]`.
    pub async fn changes(&self, since: u64, limit: usize) -> Result<Vec<Value>, CliError> {
        match self {
            Target::Local { fs, context } => Ok(fs
                .relationship_changes(context, since, limit)
                .await?
                .iter()
                .map(|recorded| {
                    json!({
                        "revision": recorded.revision,
                        "operation": if recorded.change.operation == nexus_core::ChangeOperation::Delete { "delete" } else { "touch" },
                        "relationship": recorded.change.relationship.to_string(),
                    })
                })
                .collect()),
            Target::Remote(client) => {
                let value: Value = client
                    .get(&format!("/api/rebac/changes?since={since}&limit={limit}"))
                    .await?;
                remote_value(value["changes"].clone(), "the change log")
            }
        }
    }

    // ------------------------------------------------------------ administration

    pub async fn add_member(&self, org: &str, spec: MemberSpec) -> Result<MemberRecord, CliError> {
        match self {
            Target::Local { fs, context } => Ok(fs.add_member(context, org, spec).await?),
            Target::Remote(client) => {
                let request = nexus_api::AddMemberRequest {
                    user_id: spec.user_id,
                    role: spec.role,
                    kind: spec.kind,
                    workspaces: spec.workspaces,
                };
                Ok(client.add_member(org, &request).await?.member.record)
            }
        }
    }

    pub async fn remove_member(&self, org: &str, user: &str) -> Result<(), CliError> {
        match self {
            Target::Local { fs, context } => {
                fs.remove_member(context, org, user).await?;
                Ok(())
            }
            Target::Remote(client) => {
                client.remove_member(org, user).await?;
                Ok(())
            }
        }
    }

    pub async fn list_members(&self, org: &str) -> Result<Vec<MemberRecord>, CliError> {
        match self {
            Target::Local { fs, context } => Ok(fs.list_members(context, org).await?),
            Target::Remote(client) => {
                let list = client.list_members(org).await?;
                Ok(list
                    .members
                    .into_iter()
                    .map(|member| member.record)
                    .collect())
            }
        }
    }

    pub async fn users(&self) -> Result<Vec<PrincipalInfo>, CliError> {
        match self {
            Target::Local { fs, context } => Ok(fs.users(context)?),
            Target::Remote(client) => Ok(client.users().await?),
        }
    }

    pub async fn create_key(
        &self,
        principal: &str,
        description: &str,
    ) -> Result<NewApiKey, CliError> {
        match self {
            Target::Local { fs, context } => {
                Ok(fs.create_api_key(context, principal, description).await?)
            }
            Target::Remote(client) => Ok(client.create_key(principal, description).await?),
        }
    }

    pub async fn revoke_key(&self, id: &str) -> Result<(), CliError> {
        match self {
            Target::Local { fs, context } => Ok(fs.revoke_api_key(context, id).await?),
            Target::Remote(client) => {
                client.revoke_key(id).await?;
                Ok(())
            }
        }
    }

    pub async fn keys(&self) -> Result<Vec<ApiKeyInfo>, CliError> {
        match self {
            Target::Local { fs, context } => Ok(fs.api_keys(context)),
            Target::Remote(client) => Ok(client.keys().await?),
        }
    }

    pub async fn create_org(&self, spec: OrgSpec) -> Result<ProvisionReport, CliError> {
        match self {
            Target::Local { fs, context } => Ok(fs.create_org(context, spec).await?),
            Target::Remote(client) => {
                let request = nexus_api::CreateOrgRequest {
                    id: spec.id.as_str().to_owned(),
                    name: spec.name,
                    workspaces: spec
                        .workspaces
                        .into_iter()
                        .map(|workspace| workspace.id)
                        .collect(),
                };
                Ok(client.create_org(&request).await?)
            }
        }
    }
}
