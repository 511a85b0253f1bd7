//! Where commands run: one seam for both. Every operation goes through the REST API's typed
//! client ([`nexus_client::Client`]): over HTTP to a server, or, on a data directory, through
//! the same router served in-process ([`nexus_server::in_process_router`]), acting as the
//! operator or as `--as`. So each command is written once, and a data directory answers
//! exactly as a server over it would.

use std::sync::Arc;

use bytes::Bytes;
use nexus_api::{
    AddMemberRequest, CheckRequest, CreateOrgRequest, ExpandRequest, GrepRequest,
    LookupResourcesRequest, LookupSubjectsRequest, RelationshipFilterRequest,
    RelationshipUpdateRequest, SetVersionPolicyRequest, WriteRelationshipsRequest,
};
use nexus_client::{Client, ClientError};
use nexus_core::authz::acl::AclListing;
use nexus_core::{
    Entry, Fs, GlobResult, GrepOptions, GrepResult, ListOptions, ListPage, MemberRecord,
    MemberSpec, OrgSpec, Principal, ProvisionReport, RemoveResult, VersionInfo, VersionPolicy,
    WriteOptions,
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

/// The API the commands talk to, and the data directory when it is local.
#[derive(Debug)]
pub struct Target {
    client: Client,
    data_dir: Option<Fs>,
    /// Who the commands act as on a data directory.
    principal: Principal,
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

/// A version policy as the API shows it, as the store keeps it.
fn policy_of(policy: &nexus_api::VersionPolicy) -> VersionPolicy {
    VersionPolicy {
        keep_last: policy.keep,
        keep_days: policy.keep_days,
    }
}

fn operation_name(operation: nexus_rebac::Operation) -> String {
    match operation {
        nexus_rebac::Operation::Create => "create",
        nexus_rebac::Operation::Touch => "touch",
        nexus_rebac::Operation::Delete => "delete",
    }
    .to_owned()
}

impl Target {
    /// A server.
    pub fn remote(client: Client) -> Target {
        Target {
            client,
            data_dir: None,
            principal: Principal::System,
        }
    }

    /// A data directory, acting as `principal`.
    pub fn local(fs: Fs, principal: Principal) -> Target {
        let router = nexus_server::in_process_router(
            fs.clone(),
            nexus_server::InProcess::command_line(principal.clone()),
        );
        Target {
            client: Client::in_process(Arc::new(nexus_server::RouterTransport(router))),
            data_dir: Some(fs),
            principal,
        }
    }

    /// The typed client the commands talk through.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Who the commands act as on a data directory (the operator unless `--as`).
    pub fn principal(&self) -> &Principal {
        &self.principal
    }

    /// The data directory, when the commands run on one.
    pub fn data_dir(&self) -> Option<&Fs> {
        self.data_dir.as_ref()
    }

    /// The data directory's filesystem, for the commands that only work on one.
    pub fn local_only(&self, what: &str) -> Result<&Fs, CliError> {
        self.data_dir.as_ref().ok_or_else(|| {
            CliError::new(
                nexus_core::ErrorCode::InvalidInput,
                format!("`{what}` works on a data directory, not through a server"),
            )
            .with_hint("run it where the data lives, with `--data-dir`")
        })
    }

    pub async fn stat(&self, path: &str) -> Result<Entry, CliError> {
        Ok(self.client.stat(path).await?)
    }

    pub async fn ls(&self, path: &str, options: ListOptions) -> Result<ListPage, CliError> {
        Ok(self
            .client
            .ls(
                path,
                options.recursive,
                options.limit,
                options.cursor.as_deref(),
            )
            .await?)
    }

    pub async fn read(
        &self,
        path: &str,
        range: Option<&str>,
        version: Option<u64>,
        with_entry: bool,
    ) -> Result<Read, CliError> {
        let read = self.client.read(path, range, version).await?;
        let entry = if with_entry {
            self.client.stat(path).await?
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

    pub async fn write(
        &self,
        path: &str,
        content: Bytes,
        options: WriteOptions,
    ) -> Result<Entry, CliError> {
        Ok(self
            .client
            .write(
                path,
                content,
                options.if_match.as_deref(),
                options.if_none_match,
                options.create_parents,
            )
            .await?)
    }

    pub async fn mkdir(&self, path: &str, parents: bool) -> Result<Entry, CliError> {
        Ok(self.client.mkdir(path, parents).await?)
    }

    pub async fn rm(&self, path: &str, recursive: bool) -> Result<RemoveResult, CliError> {
        Ok(self.client.rm(path, recursive).await?)
    }

    pub async fn mv(&self, from: &str, to: &str, overwrite: bool) -> Result<Entry, CliError> {
        Ok(self.client.mv(from, to, overwrite).await?)
    }

    pub async fn cp(
        &self,
        from: &str,
        to: &str,
        recursive: bool,
        overwrite: bool,
    ) -> Result<Entry, CliError> {
        Ok(self.client.cp(from, to, recursive, overwrite).await?)
    }

    pub async fn glob(&self, pattern: &str, limit: Option<usize>) -> Result<GlobResult, CliError> {
        Ok(self.client.glob(pattern, limit).await?)
    }

    pub async fn grep(
        &self,
        pattern: &str,
        path: &str,
        options: GrepOptions,
    ) -> Result<GrepResult, CliError> {
        let request = GrepRequest {
            pattern: pattern.to_owned(),
            path: path.to_owned(),
            ignore_case: options.ignore_case,
            context: options.context,
            max_matches: options.max_matches,
            include: options.include,
        };
        Ok(self.client.grep(&request).await?)
    }

    pub async fn versions(&self, path: &str) -> Result<Vec<VersionInfo>, CliError> {
        Ok(self.client.versions(path).await?)
    }

    pub async fn restore(&self, path: &str, version: u64) -> Result<Entry, CliError> {
        Ok(self.client.restore(path, version).await?)
    }

    pub async fn version_policy(&self, org: &str) -> Result<VersionPolicy, CliError> {
        Ok(policy_of(&self.client.version_policy(org).await?))
    }

    pub async fn set_version_policy(
        &self,
        org: &str,
        policy: VersionPolicy,
    ) -> Result<VersionPolicy, CliError> {
        let request = SetVersionPolicyRequest {
            keep: policy.keep_last,
            keep_days: policy.keep_days,
        };
        Ok(policy_of(
            &self.client.set_version_policy(org, &request).await?,
        ))
    }

    // ------------------------------------------------------------ ACLs and ReBAC

    pub async fn setfacl(&self, path: &str, entry: &str) -> Result<AclListing, CliError> {
        Ok(self.client.setfacl(path, entry).await?.listing)
    }

    pub async fn getfacl(&self, path: &str) -> Result<AclListing, CliError> {
        Ok(self.client.getfacl(path).await?.listing)
    }

    pub async fn schema(&self) -> Result<(String, bool), CliError> {
        let answer = self.client.schema().await?;
        Ok((answer.schema, answer.custom))
    }

    pub async fn write_schema(&self, source: &str) -> Result<String, CliError> {
        Ok(self.client.write_schema(source).await?.written_at.0)
    }

    pub async fn relationships_write(
        &self,
        updates: Vec<RelationshipUpdate>,
    ) -> Result<Written, CliError> {
        let request = WriteRelationshipsRequest {
            updates: updates
                .iter()
                .map(|update| RelationshipUpdateRequest {
                    operation: operation_name(update.operation),
                    relationship: Some(update.relationship.to_string()),
                    subject: None,
                    relation: None,
                    object: None,
                    expires_at: None,
                    caveat: None,
                })
                .collect(),
        };
        let answer = self.client.relationships_write(&request).await?;
        Ok(Written {
            revision: answer.written_at.0,
            changes: answer
                .changes
                .into_iter()
                .map(|change| (change.operation, change.relationship))
                .collect(),
        })
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
        let request = CheckRequest {
            subject: subject.to_string(),
            permission: permission.to_owned(),
            object: resource.to_string(),
            context: caveat_context,
            at_least: at_least.map(|text| Value::String(text.to_owned())),
        };
        Ok(json!(self.client.check(&request).await?))
    }

    /// The tree of an expansion (`nexus_api::ExpandTree`).
    pub async fn expand(
        &self,
        resource: &ObjectRef,
        permission: &str,
        recursive: bool,
    ) -> Result<Value, CliError> {
        let request = ExpandRequest {
            permission: permission.to_owned(),
            object: resource.to_string(),
            recursive,
        };
        Ok(json!(self.client.expand(&request).await?.tree))
    }

    /// `[{"id", "result"}]`.
    pub async fn lookup_resources(
        &self,
        subject: &SubjectRef,
        permission: &str,
        resource_type: &str,
    ) -> Result<Vec<Value>, CliError> {
        let request = LookupResourcesRequest {
            subject: subject.to_string(),
            permission: permission.to_owned(),
            resource_type: resource_type.to_owned(),
            context: None,
        };
        let answer = self.client.lookup_resources(&request).await?;
        Ok(answer.resources.iter().map(|found| json!(found)).collect())
    }

    /// `{"subjects", "wildcard"}` (`nexus_api::SubjectsFound`).
    pub async fn lookup_subjects(
        &self,
        resource: &ObjectRef,
        permission: &str,
        subject_type: &str,
    ) -> Result<Value, CliError> {
        let request = LookupSubjectsRequest {
            object: resource.to_string(),
            permission: permission.to_owned(),
            subject_type: subject_type.to_owned(),
            context: None,
        };
        Ok(json!(self.client.lookup_subjects(&request).await?.found))
    }

    pub async fn relationships_read(
        &self,
        filter: &RelationshipFilter,
        after: Option<&Relationship>,
        limit: usize,
    ) -> Result<Vec<String>, CliError> {
        let resource = match (&filter.resource_type, &filter.resource_id) {
            (Some(kind), Some(id)) => Some(format!("{kind}:{id}")),
            (Some(kind), None) => Some(kind.clone()),
            _ => None,
        };
        let request = RelationshipFilterRequest {
            resource,
            relation: filter.relation.clone(),
            subject: subject_text(filter),
            limit: Some(limit),
            at_least: None,
            after: after.map(ToString::to_string),
        };
        Ok(self
            .client
            .relationships_read(&request)
            .await?
            .relationships)
    }

    /// `[{"revision", "operation", "relationship"}]`.
    pub async fn changes(&self, since: u64, limit: usize) -> Result<Vec<Value>, CliError> {
        let answer = self.client.relationships_changes(since, limit).await?;
        Ok(answer.changes.iter().map(|change| json!(change)).collect())
    }

    // ------------------------------------------------------------ administration

    pub async fn add_member(&self, org: &str, spec: MemberSpec) -> Result<MemberRecord, CliError> {
        let request = AddMemberRequest {
            user_id: spec.user_id,
            role: spec.role,
            kind: spec.kind,
            workspaces: spec.workspaces,
        };
        Ok(self.client.add_member(org, &request).await?.member.record)
    }

    pub async fn remove_member(&self, org: &str, user: &str) -> Result<(), CliError> {
        self.client.remove_member(org, user).await?;
        Ok(())
    }

    pub async fn list_members(&self, org: &str) -> Result<Vec<MemberRecord>, CliError> {
        let list = self.client.list_members(org).await?;
        Ok(list
            .members
            .into_iter()
            .map(|member| member.record)
            .collect())
    }

    pub async fn users(&self) -> Result<Vec<PrincipalInfo>, CliError> {
        Ok(self.client.users().await?)
    }

    pub async fn create_key(
        &self,
        principal: &str,
        description: &str,
    ) -> Result<NewApiKey, CliError> {
        Ok(self.client.create_key(principal, description).await?)
    }

    pub async fn revoke_key(&self, id: &str) -> Result<(), CliError> {
        self.client.revoke_key(id).await?;
        Ok(())
    }

    pub async fn keys(&self) -> Result<Vec<ApiKeyInfo>, CliError> {
        Ok(self.client.keys().await?)
    }

    pub async fn create_org(&self, spec: OrgSpec) -> Result<ProvisionReport, CliError> {
        let request = CreateOrgRequest {
            id: spec.id.as_str().to_owned(),
            name: spec.name,
            workspaces: spec
                .workspaces
                .into_iter()
                .map(|workspace| workspace.id)
                .collect(),
        };
        Ok(self.client.create_org(&request).await?)
    }
}
