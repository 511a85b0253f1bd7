//! `nexus rebac ...`, `nexus setfacl` and `nexus getfacl`.
#![allow(
    clippy::indexing_slicing,
    reason = "reading a serde_json::Value by key never panics: a missing key reads as null"
)]

use std::fmt::Write as _;
use std::io::Read;

use nexus_core::{ErrorCode, FsError, VfsPath};
use nexus_rebac::{
    ObjectRef, Operation, Relationship, RelationshipCaveat, RelationshipFilter, RelationshipUpdate,
    SubjectRef,
};

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

impl Session {
    pub(crate) async fn rebac(&self, command: RebacCommand) -> Result<(), CliError> {
        match command {
            RebacCommand::Schema(command) => self.schema_command(command).await,
            RebacCommand::Create(args) => self.relationship_update(&args, Operation::Create).await,
            RebacCommand::Touch(args) => self.relationship_update(&args, Operation::Touch).await,
            RebacCommand::Delete(args) => self.relationship_update(&args, Operation::Delete).await,
            RebacCommand::Check(args) => self.relationship_check(&args).await,
            RebacCommand::Expand {
                permission,
                object,
                recursive,
            } => self.expand(&permission, &object, recursive).await,
            RebacCommand::LookupResources {
                subject,
                permission,
                resource_type,
            } => {
                self.lookup_resources(&subject, &permission, &resource_type)
                    .await
            }
            RebacCommand::LookupSubjects {
                object,
                permission,
                subject_type,
            } => {
                self.lookup_subjects(&object, &permission, &subject_type)
                    .await
            }
            RebacCommand::Read(args) => self.relationship_read(&args).await,
            RebacCommand::Changes { since, limit } => self.changes(since, limit).await,
            RebacCommand::Validate { .. } => {
                Err(invalid("`rebac validate` does not use a data directory"))
            }
        }
    }

    async fn schema_command(&self, command: SchemaCommand) -> Result<(), CliError> {
        match command {
            SchemaCommand::Read => {
                let (source, custom) = self.target.schema().await?;
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
                let revision = self.target.write_schema(&source).await?;
                if self.printer.json {
                    return print_json(&serde_json::json!({ "revision": revision }));
                }
                self.printer.note("schema replaced");
                Ok(())
            }
        }
    }

    async fn expand(
        &self,
        permission: &str,
        object: &str,
        recursive: bool,
    ) -> Result<(), CliError> {
        let tree = self
            .target
            .expand(&parse_object(object)?, permission, recursive)
            .await?;
        if self.printer.json {
            return print_json(&tree);
        }
        let mut out = String::new();
        render_tree(&tree, 0, &mut out);
        write_stdout(out.as_bytes())
    }

    async fn lookup_resources(
        &self,
        subject: &str,
        permission: &str,
        resource_type: &str,
    ) -> Result<(), CliError> {
        let found = self
            .target
            .lookup_resources(&parse_subject(subject)?, permission, resource_type)
            .await?;
        if self.printer.json {
            return print_json(&found);
        }
        let mut out = String::new();
        for found in &found {
            let id = found["id"].as_str().unwrap_or_default();
            if found["result"] == "has_permission" {
                writeln!(out, "{resource_type}:{id}").ok();
            } else {
                writeln!(out, "{resource_type}:{id} (conditional)").ok();
            }
        }
        write_stdout(out.as_bytes())
    }

    async fn changes(&self, since: u64, limit: usize) -> Result<(), CliError> {
        let changes = self.target.changes(since, limit).await?;
        if self.printer.json {
            return print_json(&changes);
        }
        let mut out = String::new();
        for change in &changes {
            let sign = if change["operation"] == "delete" {
                '-'
            } else {
                '+'
            };
            writeln!(
                out,
                "{} {sign} {}",
                change["revision"],
                change["relationship"].as_str().unwrap_or_default()
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
        let shown = relationship.to_string();
        let written = match self
            .target
            .relationships_write(vec![RelationshipUpdate {
                operation,
                relationship,
            }])
            .await
        {
            Ok(written) => written,
            // `create` is idempotent here, as `setfacl` is: what is there already is no error
            // (`touch` replaces a caveat or expiry; the API's `create` keeps SpiceDB's refusal).
            Err(error)
                if operation == Operation::Create && error.code == ErrorCode::AlreadyExists =>
            {
                if self.printer.json {
                    return print_json(&serde_json::json!({
                        "already_present": true,
                        "changes": [],
                    }));
                }
                self.printer
                    .note(&format!("already present: {}", self.display(&shown)));
                return Ok(());
            }
            Err(error) => return Err(error),
        };
        if self.printer.json {
            return print_json(&serde_json::json!({
                "revision": written.revision,
                "changes": written.changes.iter().map(|(operation, relationship)| serde_json::json!({
                    "operation": operation,
                    "relationship": relationship,
                })).collect::<Vec<_>>(),
            }));
        }
        if written.changes.is_empty() {
            self.printer.note("nothing changed");
        }
        for (operation, relationship) in &written.changes {
            let verb = if operation == "delete" {
                "deleted"
            } else {
                "wrote"
            };
            // The revision token is for scripts (`--json`), not people.
            self.printer
                .note(&format!("{verb} {}", self.display(relationship)));
        }
        Ok(())
    }

    /// A relationship as people read it: users by handle (on a data directory).
    fn display(&self, relationship: &str) -> String {
        let Some(fs) = self.target.data_dir() else {
            return relationship.to_owned();
        };
        match relationship.split_once("@user:") {
            Some((before, after)) => {
                let end = after.find(['#', '[']).unwrap_or(after.len());
                let (id, rest) = after.split_at(end);
                format!(
                    "{before}@{}{rest}",
                    fs.display_subject(&format!("user:{id}"))
                )
            }
            None => relationship.to_owned(),
        }
    }

    async fn relationship_check(&self, args: &CheckArgs) -> Result<(), CliError> {
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
        let mut answer = self
            .target
            .check(
                &resource,
                &args.permission,
                &subject,
                context,
                args.at_least.as_deref(),
            )
            .await?;
        if self.printer.json {
            if let Some(object) = answer.as_object_mut() {
                object.remove("allowed");
                if object
                    .get("missing_context")
                    .and_then(serde_json::Value::as_array)
                    .is_some_and(Vec::is_empty)
                {
                    object.remove("missing_context");
                }
            }
            return print_json(&answer);
        }
        let line = match answer["result"].as_str().unwrap_or_default() {
            "has_permission" => "true".to_owned(),
            "conditional" => {
                let missing: Vec<&str> = answer["missing_context"]
                    .as_array()
                    .map(|names| names.iter().filter_map(serde_json::Value::as_str).collect())
                    .unwrap_or_default();
                format!("conditional (missing context: {})", missing.join(", "))
            }
            _ => "false".to_owned(),
        };
        write_stdout(format!("{line}\n").as_bytes())
    }

    async fn lookup_subjects(
        &self,
        object: &str,
        permission: &str,
        subject_type: &str,
    ) -> Result<(), CliError> {
        let lookup = self
            .target
            .lookup_subjects(&parse_object(object)?, permission, subject_type)
            .await?;
        if self.printer.json {
            return print_json(&lookup);
        }
        let kind = subject_type.split('#').next().unwrap_or(subject_type);
        let mut out = String::new();
        if let Some(wildcard) = lookup["wildcard"].as_object() {
            write!(out, "{kind}:*").ok();
            let excluded: Vec<&str> = wildcard
                .get("excluded")
                .and_then(serde_json::Value::as_array)
                .map(|names| names.iter().filter_map(serde_json::Value::as_str).collect())
                .unwrap_or_default();
            if !excluded.is_empty() {
                write!(out, " except {}", excluded.join(", ")).ok();
            }
            out.push('\n');
        }
        for found in lookup["subjects"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            let subject = found["subject"].as_str().unwrap_or_default();
            if found["result"] == "has_permission" {
                writeln!(out, "{subject}").ok();
            } else {
                writeln!(out, "{subject} (conditional)").ok();
            }
        }
        write_stdout(out.as_bytes())
    }

    async fn relationship_read(&self, args: &ReadArgs) -> Result<(), CliError> {
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
        let relationships = self
            .target
            .relationships_read(&filter, after.as_ref(), args.limit)
            .await?;
        if self.printer.json {
            return print_json(&relationships);
        }
        let mut out = String::new();
        for relationship in &relationships {
            writeln!(out, "{relationship}").ok();
        }
        write_stdout(out.as_bytes())
    }

    pub(crate) async fn setfacl(&self, path: &str, entry: &str) -> Result<(), CliError> {
        let listing = self.target.setfacl(path, entry).await?;
        if self.printer.json {
            return print_json(&listing);
        }
        self.printer
            .note(&format!("set {entry} on {}", listing.path));
        Ok(())
    }

    pub(crate) async fn getfacl(&self, path: &str) -> Result<(), CliError> {
        let listing = self.target.getfacl(path).await?;
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

/// Renders the JSON tree of an expansion (`nexus_api::ExpandTree`) for people.
fn render_tree(node: &serde_json::Value, depth: usize, out: &mut String) {
    let indent = "  ".repeat(depth);
    let object = node["object"].as_str().unwrap_or_default();
    let relation = node["relation"].as_str().unwrap_or_default();
    let label = if relation.is_empty() {
        object.to_owned()
    } else {
        format!("{object}#{relation}")
    };
    let empty = Vec::new();
    let subjects = node["subjects"].as_array().unwrap_or(&empty);
    let children = node["children"].as_array().unwrap_or(&empty);
    match node["kind"].as_str().unwrap_or_default() {
        // Relations without subjects say nothing: leave them out.
        "direct" if subjects.is_empty() && children.is_empty() => return,
        "direct" => {
            writeln!(out, "{indent}{label}").ok();
            for subject in subjects {
                let mut line = format!(
                    "{indent}  - {}",
                    subject["subject"].as_str().unwrap_or_default()
                );
                if let Some(caveat) = subject["caveat"].as_str() {
                    write!(line, " [caveat {caveat}]").ok();
                }
                if !subject["expires_at"].is_null() {
                    line.push_str(" [expiring]");
                }
                writeln!(out, "{line}").ok();
            }
        }
        "union" => {
            writeln!(out, "{indent}{label} = union").ok();
        }
        "intersection" => {
            writeln!(out, "{indent}{label} = intersection").ok();
        }
        "exclusion" => {
            writeln!(out, "{indent}{label} = exclusion (first minus second)").ok();
        }
        kind @ ("arrow" | "arrow_all") => {
            let function = if kind == "arrow_all" { "all" } else { "any" };
            writeln!(
                out,
                "{indent}{label} = {}.{function}(...)",
                node["tupleset"].as_str().unwrap_or("")
            )
            .ok();
        }
        "nil" => {
            writeln!(out, "{indent}{label} = nil").ok();
        }
        "cycle" => {
            writeln!(out, "{indent}{label} (cycle)").ok();
        }
        other => {
            writeln!(out, "{indent}{label} ({other})").ok();
        }
    }
    for child in children {
        render_tree(child, depth + 1, out);
    }
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
