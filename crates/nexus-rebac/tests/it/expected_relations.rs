//! The `validation:` (expected relations) section of validation files.

use nexus_rebac::validation::run;

const FILE: &str = r#"
schema: |-
  definition user {}
  definition group {
    relation member: user | group#member
  }
  caveat only(ok bool) { ok }
  definition document {
    relation viewer: user | user:* | group#member | user with only
    relation banned: user
    relation editor: user
    permission view = (viewer + editor) - banned
  }
relationships: |-
  document:1#viewer@user:*
  document:1#banned@user:tom
  document:1#editor@user:sarah
  document:1#viewer@group:eng#member
  group:eng#member@user:ann
  document:2#viewer@user:carl[only]
validation:
  document:1#view:
  - "[user:* - {user:tom}] is <document:1#viewer>"
  - "[user:sarah] is <document:1#editor>"
  - "[group:eng#member] is <document:1#viewer>"
  - "[user:ann] is <group:eng#member>"
  document:2#view:
  - "[user:carl[...]] is <document:2#viewer>"
"#;

#[test]
fn matching_expectations_pass() {
    let report = run(FILE, 0);
    assert_eq!(report.failures, Vec::new());
    assert_eq!(report.passed, 2);
}

#[test]
fn every_kind_of_mismatch_is_reported() {
    let cases = [
        (
            "  - \"[user:sarah] is <document:1#editor>\"\n",
            "",
            "subject `user:sarah` found but not listed in expected subjects",
        ),
        (
            "<document:1#editor>",
            "<document:1#viewer>",
            "found different relationships for subject `user:sarah`",
        ),
        (
            "[user:* - {user:tom}]",
            "[user:*]",
            "found different excluded subjects for `user:*`",
        ),
        (
            "[user:carl[...]]",
            "[user:carl]",
            "found caveat mismatch for subject `user:carl`",
        ),
        (
            "[user:ann]",
            "[user:bob]",
            "missing expected subject `user:bob`",
        ),
    ];
    for (from, to, message) in cases {
        let file = FILE.replace(from, to);
        assert_ne!(file, FILE, "{from}");
        let report = run(&file, 0);
        assert_eq!(report.failures.len(), 1, "{from}: {:?}", report.failures);
        assert!(
            report.failures[0].message.contains(message),
            "{from}: {}",
            report.failures[0].message
        );
    }
}
