//! `nexus rebac ...`, `nexus setfacl` and `nexus getfacl`.

use std::fmt::Write as _;
use std::io::Read;

use nexus_core::{CheckQuery, ErrorCode, FsError, VfsPath};
use nexus_rebac::{
    CheckResult, ExpandKind, ExpandNode, ObjectRef, Operation, Relationship, RelationshipCaveat,
    RelationshipFilter, RelationshipUpdate, SubjectRef,
};
use serde::Serialize;

use crate::cli::{CheckArgs, ReadArgs, RebacCommand, RelationshipArgs, SchemaCommand};
use crate::commands::Session;
use crate::output::{CliError, print_json, write_stdout};

/// `/path` names a file; anything else is `type:id`.
pub fn parse_object(text: &str) -> Result<ObjectRef, CliError> {
    if text.starts_with('/') {
        let path = VfsPath::parse(text).map_err(FsError::from)?;
        return Ok(ObjectRef::new("file", path.as_str()));
    }
    ObjectRef::parse(text)
        .map_err(|error| CliError::new(ErrorCode::InvalidInput, error.to_string()))
}

/// `type:id`, `type:id#relation` or `type:*`.
pub fn parse_subject(text: &str) -> Result<SubjectRef, CliError> {
    SubjectRef::parse(text)
        .map_err(|error| CliError::new(ErrorCode::InvalidInput, error.to_string()))
}

fn invalid(message: impl Into<String>) -> CliError {
    CliError::new(ErrorCode::InvalidInput, message)
}

/// The relationship named by `SUBJECT RELATION OBJECT` or one `resource#relation@subject`.
fn relationship_of(args: &RelationshipArgs) -> Result<Relationship, CliError> {
    let mut relationship = match args.parts.as_slice() {
        [single] => Relationship::parse(single).map_err(|error| invalid(error.to_string()))?,
        [subject, relation, object] => Relationship::new(
            parse_object(object)?,
            relation.clone(),
            parse_subject(subject)?,
        ),
        _ => {
            return Err(invalid(
                "expected `SUBJECT RELATION OBJECT` or one `resource#relation@subject`",
            )
            .with_hint("e.g. `nexus rebac create user:alice@acme.com admin /orgs/acme`"));
        }
    };
    if let Some(caveat) = &args.caveat {
        let (name, context) = match caveat.split_once(':') {
            Some((name, json)) => {
                let context = serde_json::from_str(json)
                    .map_err(|error| invalid(format!("invalid caveat context: {error}")))?;
                (name, Some(context))
            }
            None => (caveat.as_str(), None),
        };
        relationship.caveat = Some(RelationshipCaveat {
            name: name.to_owned(),
            context,
        });
    }
    if let Some(expires) = &args.expires {
        let time = chrono::DateTime::parse_from_rfc3339(expires)
            .map_err(|_| invalid(format!("`{expires}` is not an RFC 3339 time")))?;
        relationship.expires_at = Some(time.timestamp_micros());
    }
    Ok(relationship)
}

#[derive(Serialize)]
struct WriteView {
    revision: u64,
    changes: Vec<ChangeView>,
}

#[derive(Serialize)]
struct ChangeView {
    operation: &'static str,
    relationship: String,
}

fn change_views(changes: &[nexus_rebac::Change]) -> Vec<ChangeView> {
    changes
        .iter()
        .map(|change| ChangeView {
            operation: if change.operation == Operation::Delete {
                "delete"
            } else {
                "touch"
            },
            relationship: change.relationship.to_string(),
        })
        .collect()
}

#[derive(Serialize)]
struct CheckView {
    result: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    missing_context: Vec<String>,
    revision: u64,
}

impl Session {
    pub(crate) async fn rebac(&self, command: RebacCommand) -> Result<(), CliError> {
        match command {
            RebacCommand::Schema(command) => self.schema_command(command).await,
            RebacCommand::Create(args) => self.relationship_update(&args, Operation::Create).await,
            RebacCommand::Touch(args) => self.relationship_update(&args, Operation::Touch).await,
            RebacCommand::Delete(args) => self.relationship_update(&args, Operation::Delete).await,
            RebacCommand::Check(args) => self.relationship_check(&args),
            RebacCommand::Expand {
                permission,
                object,
                recursive,
            } => self.expand(&permission, &object, recursive),
            RebacCommand::LookupResources {
                subject,
                permission,
                resource_type,
            } => self.lookup_resources(&subject, &permission, &resource_type),
            RebacCommand::LookupSubjects {
                object,
                permission,
                subject_type,
            } => self.lookup_subjects(&object, &permission, &subject_type),
            RebacCommand::Read(args) => self.relationship_read(&args),
            RebacCommand::Changes { since, limit } => self.changes(since, limit).await,
            RebacCommand::Validate { .. } => {
                Err(invalid("`rebac validate` does not use a data directory"))
            }
        }
    }

    async fn schema_command(&self, command: SchemaCommand) -> Result<(), CliError> {
        match command {
            SchemaCommand::Read => {
                let (source, custom) = self.fs.schema();
                if self.printer.json {
                    return print_json(&serde_json::json!({ "schema": source, "custom": custom }));
                }
                write_stdout(source.as_bytes())
            }
            SchemaCommand::Write { file } => {
                let source = if file.as_os_str() == "-" {
                    let mut text = String::new();
                    std::io::stdin()
                        .read_to_string(&mut text)
                        .map_err(|error| invalid(format!("cannot read standard input: {error}")))?;
                    text
                } else {
                    std::fs::read_to_string(&file).map_err(|error| {
                        invalid(format!("cannot read `{}`: {error}", file.display()))
                    })?
                };
                let revision = self.fs.write_schema(&self.context, &source).await?;
                if self.printer.json {
                    return print_json(&serde_json::json!({ "revision": revision }));
                }
                self.printer
                    .note(&format!("schema replaced (revision {revision})"));
                Ok(())
            }
        }
    }

    fn expand(&self, permission: &str, object: &str, recursive: bool) -> Result<(), CliError> {
        let node = self
            .fs
            .expand(&self.context, &parse_object(object)?, permission, recursive)?;
        if self.printer.json {
            return print_json(&expand_json(&node));
        }
        let mut out = String::new();
        render_tree(&node, 0, &mut out);
        write_stdout(out.as_bytes())
    }

    fn lookup_resources(
        &self,
        subject: &str,
        permission: &str,
        resource_type: &str,
    ) -> Result<(), CliError> {
        let found = self.fs.lookup_resources(
            &self.context,
            resource_type,
            permission,
            &parse_subject(subject)?,
            None,
        )?;
        if self.printer.json {
            let rows: Vec<_> = found
                .iter()
                .map(|found| serde_json::json!({ "id": found.id, "result": result_name(&found.result) }))
                .collect();
            return print_json(&rows);
        }
        let mut out = String::new();
        for found in found {
            match found.result {
                CheckResult::Has => writeln!(out, "{resource_type}:{}", found.id),
                _ => writeln!(out, "{resource_type}:{} (conditional)", found.id),
            }
            .ok();
        }
        write_stdout(out.as_bytes())
    }

    async fn changes(&self, since: u64, limit: usize) -> Result<(), CliError> {
        let changes = self
            .fs
            .relationship_changes(&self.context, since, limit)
            .await?;
        let is_delete = |recorded: &nexus_core::RecordedChange| {
            recorded.change.operation == nexus_core::ChangeOperation::Delete
        };
        if self.printer.json {
            let rows: Vec<_> = changes
                .iter()
                .map(|recorded| {
                    serde_json::json!({
                        "revision": recorded.revision,
                        "operation": if is_delete(recorded) { "delete" } else { "touch" },
                        "relationship": recorded.change.relationship.to_string(),
                    })
                })
                .collect();
            return print_json(&rows);
        }
        let mut out = String::new();
        for recorded in &changes {
            let sign = if is_delete(recorded) { '-' } else { '+' };
            writeln!(
                out,
                "{} {sign} {}",
                recorded.revision, recorded.change.relationship
            )
            .ok();
        }
        write_stdout(out.as_bytes())
    }

    async fn relationship_update(
        &self,
        args: &RelationshipArgs,
        operation: Operation,
    ) -> Result<(), CliError> {
        let relationship = relationship_of(args)?;
        let outcome = self
            .fs
            .relationships_write(
                &self.context,
                vec![RelationshipUpdate {
                    operation,
                    relationship,
                }],
                Vec::new(),
            )
            .await?;
        if self.printer.json {
            return print_json(&WriteView {
                revision: outcome.revision,
                changes: change_views(&outcome.changes),
            });
        }
        if outcome.changes.is_empty() {
            self.printer.note("nothing changed");
        }
        for change in &outcome.changes {
            let verb = if change.operation == Operation::Delete {
                "deleted"
            } else {
                "wrote"
            };
            self.printer.note(&format!(
                "{verb} {} (revision {})",
                change.relationship, outcome.revision
            ));
        }
        Ok(())
    }

    fn relationship_check(&self, args: &CheckArgs) -> Result<(), CliError> {
        let context = args
            .context
            .as_deref()
            .map(|text| {
                serde_json::from_str(text)
                    .map_err(|error| invalid(format!("invalid context: {error}")))
            })
            .transpose()?;
        let resource = parse_object(&args.object)?;
        let subject = parse_subject(&args.subject)?;
        let result = self.fs.check(
            &self.context,
            CheckQuery {
                resource: &resource,
                permission: &args.permission,
                subject: &subject,
                context: context.as_ref(),
                at_least: args.at_least,
            },
        )?;
        let missing = match &result {
            CheckResult::Conditional { missing } => missing.clone(),
            _ => Vec::new(),
        };
        if self.printer.json {
            return print_json(&CheckView {
                result: result_name(&result),
                missing_context: missing,
                revision: self.fs.authorizer().revision(),
            });
        }
        let line = match result {
            CheckResult::Has => "true".to_owned(),
            CheckResult::No => "false".to_owned(),
            CheckResult::Conditional { missing } => {
                format!("conditional (missing context: {})", missing.join(", "))
            }
        };
        write_stdout(format!("{line}\n").as_bytes())
    }

    fn lookup_subjects(
        &self,
        object: &str,
        permission: &str,
        subject_type: &str,
    ) -> Result<(), CliError> {
        let (subject_type, subject_relation) = match subject_type.split_once('#') {
            Some((kind, relation)) => (kind, Some(relation)),
            None => (subject_type, None),
        };
        let lookup = self.fs.lookup_subjects(
            &self.context,
            &parse_object(object)?,
            permission,
            subject_type,
            subject_relation,
            None,
        )?;
        if self.printer.json {
            let subjects: Vec<_> = lookup
                .subjects
                .iter()
                .map(|found| serde_json::json!({ "subject": found.subject.to_string(), "result": result_name(&found.result) }))
                .collect();
            let wildcard = lookup.wildcard.as_ref().map(|wildcard| {
                serde_json::json!({
                    "result": result_name(&wildcard.result),
                    "excluded": wildcard.excluded.iter().map(ToString::to_string).collect::<Vec<_>>(),
                })
            });
            return print_json(&serde_json::json!({ "subjects": subjects, "wildcard": wildcard }));
        }
        let mut out = String::new();
        if let Some(wildcard) = &lookup.wildcard {
            write!(out, "{subject_type}:*").ok();
            if !wildcard.excluded.is_empty() {
                let excluded: Vec<String> =
                    wildcard.excluded.iter().map(ToString::to_string).collect();
                write!(out, " except {}", excluded.join(", ")).ok();
            }
            out.push('\n');
        }
        for found in &lookup.subjects {
            match found.result {
                CheckResult::Has => writeln!(out, "{}", found.subject),
                _ => writeln!(out, "{} (conditional)", found.subject),
            }
            .ok();
        }
        write_stdout(out.as_bytes())
    }

    fn relationship_read(&self, args: &ReadArgs) -> Result<(), CliError> {
        let mut filter = RelationshipFilter {
            resource_type: args.resource_type.clone(),
            relation: args.relation.clone(),
            ..RelationshipFilter::default()
        };
        if let Some(resource) = &args.resource {
            let resource = parse_object(resource)?;
            filter.resource_type = Some(resource.object_type);
            filter.resource_id = Some(resource.object_id);
        }
        if let Some(subject) = &args.subject {
            let subject = parse_subject(subject)?;
            filter.subject_type = Some(subject.object.object_type);
            filter.subject_id = Some(subject.object.object_id);
            filter.subject_relation = Some(subject.relation);
        }
        let after = args
            .after
            .as_deref()
            .map(|text| Relationship::parse(text).map_err(|error| invalid(error.to_string())))
            .transpose()?;
        let relationships =
            self.fs
                .relationships_read(&self.context, &filter, after.as_ref(), args.limit)?;
        if self.printer.json {
            let rows: Vec<String> = relationships.iter().map(ToString::to_string).collect();
            return print_json(&rows);
        }
        let mut out = String::new();
        for relationship in &relationships {
            writeln!(out, "{relationship}").ok();
        }
        write_stdout(out.as_bytes())
    }

    pub(crate) async fn setfacl(&self, path: &str, entry: &str) -> Result<(), CliError> {
        let listing = self.fs.setfacl(&self.context, path, entry).await?;
        if self.printer.json {
            return print_json(&listing);
        }
        self.printer
            .note(&format!("set {entry} on {}", listing.path));
        Ok(())
    }

    pub(crate) fn getfacl(&self, path: &str) -> Result<(), CliError> {
        let listing = self.fs.getfacl(&self.context, path)?;
        if self.printer.json {
            return print_json(&listing);
        }
        let mut out = format!("# file: {}\n", listing.path);
        for entry in &listing.entries {
            writeln!(out, "{}:{}", entry.subject, entry.mode).ok();
        }
        for role in &listing.roles {
            writeln!(out, "# role {}: {}", role.relation, role.subject).ok();
        }
        write_stdout(out.as_bytes())
    }
}

fn result_name(result: &CheckResult) -> &'static str {
    match result {
        CheckResult::Has => "has_permission",
        CheckResult::No => "no_permission",
        CheckResult::Conditional { .. } => "conditional",
    }
}

fn node_label(node: &ExpandNode) -> String {
    if node.relation.is_empty() {
        node.object.to_string()
    } else {
        format!("{}#{}", node.object, node.relation)
    }
}

fn render_tree(node: &ExpandNode, depth: usize, out: &mut String) {
    let indent = "  ".repeat(depth);
    let label = node_label(node);
    let children: Vec<&ExpandNode> = match &node.kind {
        // Relations without subjects say nothing: leave them out.
        ExpandKind::Direct { subjects, children } if subjects.is_empty() && children.is_empty() => {
            Vec::new()
        }
        ExpandKind::Direct { subjects, children } => {
            writeln!(out, "{indent}{label}").ok();
            for subject in subjects {
                let mut line = format!("{indent}  - {}", subject.subject);
                if let Some(caveat) = &subject.caveat {
                    write!(line, " [caveat {caveat}]").ok();
                }
                if subject.expires_at.is_some() {
                    line.push_str(" [expiring]");
                }
                writeln!(out, "{line}").ok();
            }
            children.iter().collect()
        }
        ExpandKind::Union(children) => {
            writeln!(out, "{indent}{label} = union").ok();
            children.iter().collect()
        }
        ExpandKind::Intersection(children) => {
            writeln!(out, "{indent}{label} = intersection").ok();
            children.iter().collect()
        }
        ExpandKind::Exclusion(base, subtracted) => {
            writeln!(out, "{indent}{label} = exclusion (first minus second)").ok();
            vec![base.as_ref(), subtracted.as_ref()]
        }
        ExpandKind::Arrow {
            tupleset,
            all,
            children,
        } => {
            let function = if *all { "all" } else { "any" };
            writeln!(out, "{indent}{label} = {tupleset}.{function}(...)").ok();
            children.iter().collect()
        }
        ExpandKind::Nil => {
            writeln!(out, "{indent}{label} = nil").ok();
            Vec::new()
        }
        ExpandKind::Cycle => {
            writeln!(out, "{indent}{label} (cycle)").ok();
            Vec::new()
        }
    };
    for child in children {
        render_tree(child, depth + 1, out);
    }
}

fn expand_json(node: &ExpandNode) -> serde_json::Value {
    let (kind, children, subjects): (&str, Vec<&ExpandNode>, Vec<serde_json::Value>) =
        match &node.kind {
            ExpandKind::Direct { subjects, children } => (
                "direct",
                children.iter().collect(),
                subjects
                    .iter()
                    .map(|subject| {
                        serde_json::json!({
                            "subject": subject.subject.to_string(),
                            "caveat": subject.caveat,
                            "expires_at": subject.expires_at,
                        })
                    })
                    .collect(),
            ),
            ExpandKind::Union(children) => ("union", children.iter().collect(), Vec::new()),
            ExpandKind::Intersection(children) => {
                ("intersection", children.iter().collect(), Vec::new())
            }
            ExpandKind::Exclusion(base, subtracted) => (
                "exclusion",
                vec![base.as_ref(), subtracted.as_ref()],
                Vec::new(),
            ),
            ExpandKind::Arrow { all, children, .. } => (
                if *all { "arrow_all" } else { "arrow" },
                children.iter().collect(),
                Vec::new(),
            ),
            ExpandKind::Nil => ("nil", Vec::new(), Vec::new()),
            ExpandKind::Cycle => ("cycle", Vec::new(), Vec::new()),
        };
    serde_json::json!({
        "object": node.object.to_string(),
        "relation": node.relation,
        "kind": kind,
        "subjects": subjects,
        "children": children.into_iter().map(expand_json).collect::<Vec<_>>(),
    })
}

/// `nexus rebac validate FILE...`: runs each validation file and summarizes.
pub fn validate(files: &[std::path::PathBuf], json: bool) -> Result<(), CliError> {
    let now = chrono::Utc::now().timestamp_micros();
    let mut passed = 0;
    let mut failed = 0;
    let mut out = String::new();
    let mut failures_json = Vec::new();
    for file in files {
        let name = file.display().to_string();
        let report = match std::fs::read_to_string(file) {
            Ok(text) => nexus_rebac::validation::run(&text, now),
            Err(error) => nexus_rebac::validation::ValidationReport {
                passed: 0,
                failures: vec![nexus_rebac::validation::ValidationFailure {
                    assertion: "(file)".to_owned(),
                    message: format!("cannot read: {error}"),
                }],
            },
        };
        passed += report.passed;
        failed += report.failures.len();
        for failure in report.failures {
            writeln!(
                out,
                "FAIL {name}: {}: {}",
                failure.assertion, failure.message
            )
            .ok();
            failures_json.push(serde_json::json!({ "file": name, "assertion": failure.assertion, "message": failure.message }));
        }
    }
    if json {
        print_json(
            &serde_json::json!({ "passed": passed, "failed": failed, "failures": failures_json }),
        )?;
    } else {
        writeln!(out, "{passed} passed, {failed} failed").ok();
        write_stdout(out.as_bytes())?;
    }
    if failed == 0 {
        Ok(())
    } else {
        Err(CliError::new(
            ErrorCode::PreconditionFailed,
            format!(
                "validation failed: {failed} {}",
                if failed == 1 { "failure" } else { "failures" }
            ),
        ))
    }
}
