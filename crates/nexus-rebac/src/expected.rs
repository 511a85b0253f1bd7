//! The `validation:` section of validation files (expected relations): filled in later.

use std::collections::BTreeMap;

use crate::engine::Engine;
use crate::validation::{ValidationFailure, ValidationReport};

pub(crate) fn check_expected_relations(
    _engine: &Engine,
    validation: &BTreeMap<String, Vec<String>>,
    _now: i64,
    report: &mut ValidationReport,
) {
    for key in validation.keys() {
        report.failures.push(ValidationFailure {
            assertion: key.clone(),
            message: "expected-relations sections are not supported yet".to_owned(),
        });
    }
}
