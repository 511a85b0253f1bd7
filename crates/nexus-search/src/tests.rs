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
        .map(|found| found.path.to_string())
        .collect();
    paths.sort();
    paths
}

#[test]
fn words_phrases_prefixes_and_exclusions_match_what_they_say() {
    let dir = tempfile::tempdir().unwrap();
    let (index, opened) = OrgIndex::open(&dir.path().join("acme"), "none").unwrap();
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
    let (index, _) = OrgIndex::open(&dir.path().join("acme"), "none").unwrap();
    let query = ParsedQuery::parse("layoffs").unwrap();
    let score = |index: &OrgIndex| {
        let found = index.candidates(&query, &Filters::default()).unwrap();
        found
            .candidates
            .iter()
            .find(|found| &*found.path == "/orgs/acme/mine.md")
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
        let (index, _) = OrgIndex::open(&place, "none").unwrap();
        index.upsert(&doc("/orgs/acme/x.md", "kept")).unwrap();
        index.commit(7).unwrap();
    }
    let (index, opened) = OrgIndex::open(&place, "none").unwrap();
    assert_eq!(opened, Opened::Current { applied: 7 });
    {
        // Created but never filled (a first build that failed): built again, never taken
        // for an empty, current index.
        let other = dir.path().join("other");
        drop(OrgIndex::open(&other, "none").unwrap());
        let (_, opened) = OrgIndex::open(&other, "none").unwrap();
        assert!(matches!(opened, Opened::Rebuilt { .. }), "{opened:?}");
    }
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
    let (index, opened) = OrgIndex::open(&place, "none").unwrap();
    assert!(matches!(opened, Opened::Rebuilt { .. }));
    assert!(index.is_empty());
    // A damaged index is rebuilt too.
    drop(index);
    std::fs::write(place.join("meta.json"), b"{ not json").unwrap();
    let (index, opened) = OrgIndex::open(&place, "none").unwrap();
    assert!(matches!(opened, Opened::Rebuilt { .. }), "{opened:?}");
    assert_eq!(index.applied(), 0);
}

/// A model of four concepts: vehicles, fruit, releases and weather.
fn toy_model(dir: &Path) -> StaticModel {
    let concept = |axis: usize, lean: f32| {
        let mut vector = vec![0.0; 4];
        vector[axis] = 1.0;
        vector[(axis + 1) % 4] = lean;
        vector
    };
    let tokens: Vec<(String, Vec<f32>)> = [
        ("car", concept(0, 0.0)),
        ("automobile", concept(0, 0.1)),
        ("vehicle", concept(0, 0.2)),
        ("banana", concept(1, 0.0)),
        ("fruit", concept(1, 0.1)),
        ("deploy", concept(2, 0.0)),
        ("release", concept(2, 0.1)),
        ("##s", vec![0.0; 4]),
        ("rain", concept(3, 0.0)),
    ]
    .into_iter()
    .map(|(token, vector)| (token.to_owned(), vector))
    .collect();
    write_static_model(dir, &tokens).unwrap();
    StaticModel::load(dir).unwrap()
}

fn embed(model: &StaticModel, text: &str) -> Vec<f32> {
    futures_lite(model.embed(&[text.to_owned()]))
        .unwrap()
        .remove(0)
}

/// Runs an embedder's future (a static model's is ready at once).
fn futures_lite<T>(future: impl std::future::Future<Output = T>) -> T {
    let waker = std::task::Waker::noop();
    let mut context = std::task::Context::from_waker(waker);
    let mut future = std::pin::pin!(future);
    match future.as_mut().poll(&mut context) {
        std::task::Poll::Ready(value) => value,
        std::task::Poll::Pending => panic!("a static model answers at once"),
    }
}

#[test]
fn a_static_model_is_loaded_and_averages_its_tokens_vectors() {
    let dir = tempfile::tempdir().unwrap();
    let model = toy_model(&dir.path().join("toy"));
    assert_eq!(model.dimensions(), 4);
    assert!(model.id().starts_with("static:toy:4:"), "{}", model.id());
    // Case and punctuation do not matter; unknown words are left out.
    let car = embed(&model, "The CAR, parked.");
    assert!((similarity(&car, &[1.0, 0.0, 0.0, 0.0]) - 1.0).abs() < 1e-6);
    // Word pieces: `cars` is `car` + `##s`.
    assert!((similarity(&embed(&model, "cars"), &car) - 1.0).abs() < 1e-6);
    // The mean of two concepts lies between them.
    let mixed = embed(&model, "car banana");
    assert!((similarity(&mixed, &car) - std::f32::consts::FRAC_1_SQRT_2).abs() < 1e-3);
    // Nothing known: the zero vector, similar to nothing.
    assert!(embed(&model, "zzz qqq").iter().all(|x| *x == 0.0));
    // A missing or broken model is a clear error.
    let error = StaticModel::load(&dir.path().join("absent")).unwrap_err();
    assert!(error.to_string().contains("tokenizer.json"), "{error}");
    std::fs::write(dir.path().join("toy/model.safetensors"), b"not a model").unwrap();
    let error = StaticModel::load(&dir.path().join("toy")).unwrap_err();
    assert!(error.to_string().contains("model.safetensors"), "{error}");
}

#[test]
fn semantic_candidates_are_every_filtered_document_similar_enough() {
    let dir = tempfile::tempdir().unwrap();
    let model = toy_model(&dir.path().join("toy"));
    let (index, _) = OrgIndex::open(&dir.path().join("acme"), model.id()).unwrap();
    for (path, text) in [
        ("/orgs/acme/a/parking.md", "Where to leave the car"),
        ("/orgs/acme/a/market.md", "banana prices"),
        ("/orgs/acme/b/fleet.md", "every vehicle we own"),
        ("/orgs/acme/b/binary.bin", ""),
    ] {
        let mut document = doc(path, text);
        document.vector = Some(embed(&model, &format!("{} {text}", document.name)));
        index.upsert(&document).unwrap();
    }
    index
        .upsert(&doc("/orgs/acme/b/unembedded.md", "car"))
        .unwrap();
    index.commit(4).unwrap();
    let query = embed(&model, "automobile");
    let search = |filters: &Filters, threshold: f32| {
        let mut found: Vec<(String, f32)> = index
            .search(None, Some((&query, threshold)), filters)
            .unwrap()
            .semantic
            .into_iter()
            .map(|candidate| (candidate.path.to_string(), candidate.score))
            .collect();
        found.sort_by(|a, b| a.0.cmp(&b.0));
        found
    };
    let found = search(&Filters::default(), 0.5);
    let paths: Vec<&str> = found.iter().map(|(path, _)| path.as_str()).collect();
    // No word in common with the query, found by meaning; a document without a vector is
    // not a semantic candidate.
    assert_eq!(paths, ["/orgs/acme/a/parking.md", "/orgs/acme/b/fleet.md"]);
    for (_, score) in &found {
        assert!(*score > 0.9 && *score <= 1.0 + 1e-6, "{score}");
    }
    let narrowed = Filters {
        path_prefix: Some("/orgs/acme/b".to_owned()),
        ..Filters::default()
    };
    assert_eq!(search(&narrowed, 0.5).len(), 1);
    // The threshold decides what counts as similar.
    assert_eq!(search(&Filters::default(), -1.0).len(), 4);
    // The keyword and the semantic candidates come from one view.
    let both = index
        .search(
            Some(&ParsedQuery::parse("banana").unwrap()),
            Some((&query, 0.5)),
            &Filters::default(),
        )
        .unwrap();
    assert_eq!(both.candidates.len(), 1);
    assert_eq!(both.semantic.len(), 2);
    // Reopened by another embedder, the index is rebuilt.
    drop(both);
    drop(index);
    let (_, opened) = OrgIndex::open(&dir.path().join("acme"), "none").unwrap();
    assert!(matches!(opened, Opened::Rebuilt { .. }), "{opened:?}");
}

#[test]
fn a_narrowing_keeps_the_documents_at_or_under_its_paths() {
    let dir = tempfile::tempdir().unwrap();
    let (index, _) = OrgIndex::open(&dir.path().join("acme"), "none").unwrap();
    for path in [
        "/orgs/acme/a/one.md",
        "/orgs/acme/a/deep/two.md",
        "/orgs/acme/b/three.md",
        "/orgs/acme/b/four.md",
        "/orgs/acme/ab/five.md",
    ] {
        index.upsert(&doc(path, "shared word")).unwrap();
    }
    index.commit(5).unwrap();
    let within = |paths: &[&str]| Filters {
        within: Some(paths.iter().map(|path| (*path).to_owned()).collect()),
        ..Filters::default()
    };
    // A folder: everything beneath it (not its namesake prefix `ab`); a file: itself.
    assert_eq!(
        paths(
            &index,
            "word",
            &within(&["/orgs/acme/a", "/orgs/acme/b/four.md"])
        ),
        [
            "/orgs/acme/a/deep/two.md",
            "/orgs/acme/a/one.md",
            "/orgs/acme/b/four.md"
        ]
    );
    assert!(paths(&index, "word", &within(&[])).is_empty());
    assert_eq!(paths(&index, "word", &within(&["/orgs/acme"])).len(), 5);
}
