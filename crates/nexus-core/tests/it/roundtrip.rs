//! Every accepted path round-trips through storage unchanged.

use nexus_core::{ListOptions, VfsPath};
use proptest::prelude::*;

use crate::{cat, fresh, put, system};

/// Names built from characters that stress normalization, escaping and ordering.
fn name() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            "[a-zA-Z0-9]{1,6}",
            Just("e\u{301}".to_owned()),
            Just("\u{e9}".to_owned()),
            Just("\u{212b}".to_owned()),
            Just("\u{1100}\u{1161}".to_owned()),
            Just("%".to_owned()),
            Just("_".to_owned()),
            Just("\\".to_owned()),
            Just("'".to_owned()),
            Just(" ".to_owned()),
            Just("-".to_owned()),
            Just("*".to_owned()),
            Just(".".to_owned()),
            Just("\u{1F600}".to_owned()),
            Just("\u{65e5}\u{672c}".to_owned()),
            any::<char>().prop_map(String::from),
        ],
        1..5,
    )
    .prop_map(|pieces| pieces.concat())
}

#[test]
fn accepted_paths_round_trip_through_storage() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (_dir, fs) = runtime.block_on(fresh());
    let counter = std::sync::atomic::AtomicU32::new(0);
    proptest!(ProptestConfig::with_cases(200), |(segments in prop::collection::vec(name(), 1..4))| {
        let case = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let raw = format!("/orgs/acme/case{case}/{}", segments.join("/"));
        let Ok(canonical) = VfsPath::parse(&raw) else {
            return Ok(());
        };
        runtime.block_on(async {
            let content = format!("content of {canonical}");
            let entry = put(&fs, &raw, &content).await;
            assert_eq!(entry.path, canonical.as_str());
            let parent = canonical.parent().unwrap();
            let listing = fs.files().ls(&system(), parent.as_str(), ListOptions::default()).await.unwrap();
            let listed: Vec<&str> = listing.entries.iter().map(|entry| entry.path.as_str()).collect();
            assert_eq!(listed, [canonical.as_str()]);
            assert_eq!(fs.files().stat(&system(), canonical.as_str()).await.unwrap().path, canonical.as_str());
            assert_eq!(cat(&fs, canonical.as_str()).await, content);
            // Each ancestor created on the way is listed under its canonical name too.
            let case_dir = format!("/orgs/acme/case{case}");
            let tree = crate::tree(&fs, &case_dir).await;
            let expected: Vec<String> = canonical
                .ancestors()
                .take_while(|ancestor| ancestor.as_str().len() > case_dir.len())
                .map(|ancestor| ancestor.to_string())
                .chain(std::iter::once(canonical.to_string()))
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect();
            assert_eq!(tree, expected);
        });
    });
}
