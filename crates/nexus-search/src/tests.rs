use super::*;

fn doc(path: &str, text: &str) -> Document {
    Document {
        path: path.to_owned(),
        name: path.rsplit('/').next().unwrap_or_default().to_owned(),
        modified: 1_000,
        text: text.to_owned(),
        ..Document::default()
    }
}

fn paths(index: &OrgIndex, query: &str, filters: &Filters) -> Vec<String> {
    let query = ParsedQuery::parse(query).unwrap();
    let found = index.candidates(&query, filters).unwrap();
    let mut paths: Vec<String> = found
        .candidates
        .into_iter()
        .map(|found| found.path)
        .collect();
    paths.sort();
    paths
}

#[test]
fn words_phrases_prefixes_and_exclusions_match_what_they_say() {
    let dir = tempfile::tempdir().unwrap();
    let (index, opened) = OrgIndex::open(&dir.path().join("acme")).unwrap();
    assert_eq!(
        opened,
        Opened::Rebuilt {
            reason: "missing".to_owned()
        }
    );
    index
        .upsert(&doc(
            "/orgs/acme/a/deploy.md",
            "We deployed the payment service on Friday",
        ))
        .unwrap();
    index
        .upsert(&doc(
            "/orgs/acme/a/notes.md",
            "Friday payment review; service payments",
        ))
        .unwrap();
    index
        .upsert(&doc("/orgs/acme/b/other.md", "nothing about it"))
        .unwrap();
    index.commit(3).unwrap();
    let all = Filters::default();
    // Stemmed: `deploying` finds `deployed`; every word must match.
    assert_eq!(paths(&index, "deploying", &all), ["/orgs/acme/a/deploy.md"]);
    assert_eq!(paths(&index, "payment friday", &all).len(), 2);
    // A phrase keeps its order.
    assert_eq!(
        paths(&index, "\"payment service\"", &all),
        ["/orgs/acme/a/deploy.md"]
    );
    assert!(paths(&index, "\"payment friday\"", &all).is_empty());
    // Prefixes, exclusions, and names.
    assert_eq!(paths(&index, "pay*", &all).len(), 2);
    assert_eq!(
        paths(&index, "payment -deployed", &all),
        ["/orgs/acme/a/notes.md"]
    );
    assert_eq!(paths(&index, "other", &all), ["/orgs/acme/b/other.md"]);
    // Filters: under a folder, or the document itself; not a name that merely starts alike.
    let under_a = Filters {
        path_prefix: Some("/orgs/acme/a/".to_owned()),
        ..Filters::default()
    };
    assert_eq!(paths(&index, "friday", &under_a).len(), 2);
    let not_folder = Filters {
        path_prefix: Some("/orgs/acme/a/dep".to_owned()),
        ..Filters::default()
    };
    assert!(paths(&index, "friday", &not_folder).is_empty());
    let later = Filters {
        since: Some(2_000),
        ..Filters::default()
    };
    assert!(paths(&index, "friday", &later).is_empty());
    // Removing a folder removes what is under it.
    index.remove("/orgs/acme/a");
    index.commit(4).unwrap();
    assert!(paths(&index, "friday", &all).is_empty());
    assert_eq!(index.len(), 1);
}

#[test]
fn scores_do_not_depend_on_other_documents() {
    let dir = tempfile::tempdir().unwrap();
    let (index, _) = OrgIndex::open(&dir.path().join("acme")).unwrap();
    let query = ParsedQuery::parse("layoffs").unwrap();
    let score = |index: &OrgIndex| {
        let found = index.candidates(&query, &Filters::default()).unwrap();
        found
            .candidates
            .iter()
            .find(|found| found.path == "/orgs/acme/mine.md")
            .map(|found| found.score)
            .unwrap()
    };
    index
        .upsert(&doc("/orgs/acme/mine.md", "planned layoffs in march"))
        .unwrap();
    index.commit(1).unwrap();
    let alone = score(&index);
    // Many other documents (someone else's, unreadable) with the same word, and without.
    for n in 0..50 {
        index
            .upsert(&doc(
                &format!("/orgs/acme/secret/{n}.md"),
                "layoffs layoffs everywhere",
            ))
            .unwrap();
        index
            .upsert(&doc(
                &format!("/orgs/acme/other/{n}.md"),
                "nothing to see here at all",
            ))
            .unwrap();
    }
    index.commit(2).unwrap();
    assert_eq!(score(&index).to_bits(), alone.to_bits());
}

#[test]
fn bad_queries_are_refused_with_a_reason() {
    for (text, says) in [
        ("\"open", "closing quote"),
        ("a*", "prefix"),
        (
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa*",
            "prefix",
        ),
        ("pa.y*", "prefix"),
        ("-only", "at least one"),
        ("", "at least one"),
    ] {
        let error = ParsedQuery::parse(text).unwrap_err();
        assert!(error.0.contains(says), "{text}: {error}");
    }
    assert!(ParsedQuery::parse(&"x ".repeat(40)).is_err());
    assert!(ParsedQuery::parse(&"x".repeat(1001)).is_err());
}

#[test]
fn an_index_reopens_where_it_was_and_one_of_another_format_is_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    let place = dir.path().join("acme");
    {
        let (index, _) = OrgIndex::open(&place).unwrap();
        index.upsert(&doc("/orgs/acme/x.md", "kept")).unwrap();
        index.commit(7).unwrap();
    }
    let (index, opened) = OrgIndex::open(&place).unwrap();
    assert_eq!(opened, Opened::Current { applied: 7 });
    assert_eq!(
        paths(&index, "kept", &Filters::default()),
        ["/orgs/acme/x.md"]
    );
    {
        let mut writer = index.writer.lock();
        let mut prepared = writer.prepare_commit().unwrap();
        prepared.set_payload("nexus-search format=0 applied=7");
        prepared.commit().unwrap();
    }
    drop(index);
    let (index, opened) = OrgIndex::open(&place).unwrap();
    assert!(matches!(opened, Opened::Rebuilt { .. }));
    assert!(index.is_empty());
    // A damaged index is rebuilt too.
    drop(index);
    std::fs::write(place.join("meta.json"), b"{ not json").unwrap();
    let (index, opened) = OrgIndex::open(&place).unwrap();
    assert!(matches!(opened, Opened::Rebuilt { .. }), "{opened:?}");
    assert_eq!(index.applied(), 0);
}
