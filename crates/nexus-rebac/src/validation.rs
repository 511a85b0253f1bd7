//! SpiceDB validation files: a schema, relationships and expected answers, in YAML.
//!
//! ```yaml
//! schema: |-
//!   definition user {}
//!   definition document { relation viewer: user  permission view = viewer }
//! relationships: |-
//!   document:1#viewer@user:tom
//! assertions:
//!   assertTrue: ["document:1#view@user:tom"]
//!   assertFalse: ["document:1#view@user:sarah"]
//!   assertCaveated: ['document:1#view@user:ann with {"ip": "1.2.3.4"}']
//! validation:
//!   document:1#view:
//!   - "[user:tom] is <document:1#viewer>"
//! ```

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::caveat::CaveatContext;
use crate::engine::{
    CheckError, CheckRequest, CheckResult, Engine, EngineConfig, Operation, RelationshipUpdate,
};
use crate::relationship::{Relationship, RelationshipParseError};
use crate::schema::Schema;

#[derive(Debug, Deserialize)]
struct ValidationFile {
    schema: Option<String>,
    relationships: Option<String>,
    #[serde(default)]
    assertions: Option<Assertions>,
    #[serde(default)]
    validation: Option<BTreeMap<String, Vec<String>>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
#[expect(
    clippy::struct_field_names,
    reason = "the field names are the file format's keys"
)]
struct Assertions {
    #[serde(default)]
    assert_true: Vec<String>,
    #[serde(default)]
    assert_false: Vec<String>,
    #[serde(default)]
    assert_caveated: Vec<String>,
}

/// One assertion or expectation that did not hold (or could not be run).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationFailure {
    /// The assertion as written (or the section that failed to load).
    pub assertion: String,
    pub message: String,
}

/// The outcome of running one validation file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ValidationReport {
    pub passed: usize,
    pub failures: Vec<ValidationFailure>,
}

fn failure(assertion: &str, message: impl Into<String>) -> ValidationFailure {
    ValidationFailure {
        assertion: assertion.to_owned(),
        message: message.into(),
    }
}

/// Runs every assertion of a validation file at instant `now` (microseconds).
pub fn run(text: &str, now: i64) -> ValidationReport {
    let mut report = ValidationReport::default();
    let file: ValidationFile = match serde_norway::from_str(text) {
        Ok(file) => file,
        Err(error) => {
            report
                .failures
                .push(failure("(file)", format!("invalid YAML: {error}")));
            return report;
        }
    };
    let Some(schema_text) = file.schema.as_deref() else {
        report.failures.push(failure("(file)", "no `schema`"));
        return report;
    };
    let schema = match Schema::parse(schema_text) {
        Ok(schema) => schema,
        Err(error) => {
            report.failures.push(failure("schema", error.to_string()));
            return report;
        }
    };
    let mut engine = Engine::new(schema, EngineConfig::default());
    let mut updates = Vec::new();
    for line in file.relationships.as_deref().unwrap_or("").lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with("//") {
            continue;
        }
        match Relationship::parse(line) {
            Ok(relationship) => updates.push(RelationshipUpdate {
                operation: Operation::Create,
                relationship,
            }),
            Err(error) => report.failures.push(failure(line, error.to_string())),
        }
    }
    if let Err(error) = engine.write(&updates, &[], now) {
        report
            .failures
            .push(failure("relationships", error.to_string()));
        return report;
    }
    let assertions = file.assertions.unwrap_or_default();
    let expectations = [
        (&assertions.assert_true, Expected::Has),
        (&assertions.assert_false, Expected::No),
        (&assertions.assert_caveated, Expected::Conditional),
    ];
    for (list, expected) in expectations {
        for assertion in list {
            match assert_one(&engine, assertion, expected, now) {
                Ok(()) => report.passed += 1,
                Err(error) => report.failures.push(failure(assertion, error.to_string())),
            }
        }
    }
    if let Some(validation) = &file.validation {
        crate::expected::check_expected_relations(&engine, validation, now, &mut report);
    }
    report
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expected {
    Has,
    No,
    Conditional,
}

/// Why an assertion did not hold.
#[derive(Debug, thiserror::Error)]
enum AssertionFailure {
    #[error(transparent)]
    Relationship(#[from] RelationshipParseError),
    #[error("an assertion cannot carry a caveat")]
    Caveated,
    #[error("invalid context: {0}")]
    Context(#[source] serde_json::Error),
    #[error("check failed: {0}")]
    Check(#[source] CheckError),
    #[error("expected {wanted}, got {got}")]
    Mismatch { wanted: &'static str, got: String },
}

fn assert_one(
    engine: &Engine,
    assertion: &str,
    expected: Expected,
    now: i64,
) -> Result<(), AssertionFailure> {
    let (relationship_text, context_text) = match assertion.split_once(" with ") {
        Some((relationship, context)) => (relationship, Some(context)),
        None => (assertion, None),
    };
    let relationship = Relationship::parse(relationship_text)?;
    if relationship.caveat.is_some() {
        return Err(AssertionFailure::Caveated);
    }
    let context: Option<CaveatContext> = context_text
        .map(|text| serde_json::from_str(text).map_err(AssertionFailure::Context))
        .transpose()?;
    let result = engine
        .check(&CheckRequest {
            resource: &relationship.resource,
            permission: &relationship.relation,
            subject: &relationship.subject,
            context: context.as_ref(),
            now,
        })
        .map_err(AssertionFailure::Check)?;
    let matches = matches!(
        (expected, &result),
        (Expected::Has, CheckResult::Has)
            | (Expected::No, CheckResult::No)
            | (Expected::Conditional, CheckResult::Conditional { .. })
    );
    if matches {
        Ok(())
    } else {
        let wanted = match expected {
            Expected::Has => "has permission",
            Expected::No => "no permission",
            Expected::Conditional => "conditional (caveated)",
        };
        let got = match result {
            CheckResult::Has => "has permission".to_owned(),
            CheckResult::No => "no permission".to_owned(),
            CheckResult::Conditional { missing } => {
                format!("conditional, missing {}", missing.join(", "))
            }
        };
        Err(AssertionFailure::Mismatch { wanted, got })
    }
}
