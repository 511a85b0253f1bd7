//! Every assertion of SpiceDB's validation files (answers from real SpiceDB) holds.

use std::path::PathBuf;

fn conformance_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../conformance/spicedb")
}

#[test]
fn spicedb_validation_files_pass() {
    let now = chrono::Utc::now().timestamp_micros();
    let mut files: Vec<PathBuf> = std::fs::read_dir(conformance_dir())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "yaml"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 73, "the conformance corpus is complete");
    let mut passed = 0;
    let mut failures = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let report = nexus_rebac::validation::run(&text, now);
        passed += report.passed;
        for failure in report.failures {
            failures.push(format!(
                "{}: {}: {}",
                file.file_name().unwrap().to_string_lossy(),
                failure.assertion,
                failure.message
            ));
        }
    }
    println!("{passed} passed, {} failed", failures.len());
    assert!(passed > 9000, "only {passed} assertions ran");
    assert_eq!(failures, Vec::<String>::new());
}
