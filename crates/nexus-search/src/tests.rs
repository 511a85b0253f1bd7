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

fn exact(vector: &[f32], threshold: f32) -> Semantic<'_> {
    Semantic {
        vector,
        threshold,
        exact_limit: usize::MAX,
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
            .search(None, Some(exact(&query, threshold)), filters)
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
            Some(exact(&query, 0.5)),
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

/// A deterministic pseudo-random unit vector.
fn random_unit(seed: &mut u64, dimensions: usize) -> Vec<f32> {
    let mut vector: Vec<f32> = (0..dimensions)
        .map(|_| {
            *seed ^= *seed << 13;
            *seed ^= *seed >> 7;
            *seed ^= *seed << 17;
            f32::from(u16::try_from(*seed % 2001).unwrap_or(0)) / 1000.0 - 1.0
        })
        .collect();
    normalize(&mut vector);
    vector
}

#[test]
fn large_segments_are_searched_through_graphs_beyond_the_exact_limit() {
    let dir = tempfile::tempdir().unwrap();
    let (index, _) = OrgIndex::open(&dir.path().join("acme"), "test").unwrap();
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    let count = 2000;
    for at in 0..count {
        let mut document = doc(&format!("/orgs/acme/w{}/d{at}.md", at % 2), "text");
        document.vector = Some(random_unit(&mut seed, 16));
        index.upsert(&document).unwrap();
    }
    index.commit(1).unwrap();
    let query = random_unit(&mut seed, 16);
    let top = |semantic: Semantic<'_>, filters: &Filters| {
        let matches = index.search(None, Some(semantic), filters).unwrap();
        let mut found: Vec<(f32, String)> = matches
            .semantic
            .iter()
            .map(|candidate| (candidate.score, candidate.path.to_string()))
            .collect();
        found.sort_by(|a, b| b.0.total_cmp(&a.0));
        (found, matches.neighbours)
    };
    let all = Filters::default();
    let (exact_found, by) = top(exact(&query, 0.5), &all);
    assert_eq!(by, Neighbours::Exact);
    assert!(exact_found.len() > 10, "{}", exact_found.len());
    let approximate = Semantic {
        exact_limit: 100,
        ..exact(&query, 0.5)
    };
    // Built when asked (searches would start it in the background).
    assert_eq!(index.build_graphs(100).unwrap(), 1);
    let (found, by) = top(approximate, &all);
    assert!(matches!(by, Neighbours::Approximate { .. }), "{by:?}");
    // Every neighbour found is similar as asked, with its exact similarity...
    for (score, path) in &found {
        let exact_score = exact_found
            .iter()
            .find(|(_, exact_path)| exact_path == path)
            .map(|(score, _)| *score);
        assert!(
            exact_score.is_some_and(|s| (s - score).abs() < 1e-4),
            "{path}"
        );
    }
    // ...and nearly all the nearest are found.
    let recalled = exact_found
        .iter()
        .take(10)
        .filter(|(_, path)| found.iter().any(|(_, found)| found == path))
        .count();
    assert!(recalled >= 9, "recall@10 {recalled}/10");
    // Filters still apply to what the graph answers.
    let narrowed = Filters {
        path_prefix: Some("/orgs/acme/w1".to_owned()),
        ..Filters::default()
    };
    let (found, _) = top(approximate, &narrowed);
    assert!(!found.is_empty());
    assert!(
        found
            .iter()
            .all(|(_, path)| path.starts_with("/orgs/acme/w1/"))
    );
    // Deleted documents are not answered from the graph of their segment.
    let nearest = found.first().map(|(_, path)| path.clone()).unwrap();
    index.remove(&nearest);
    index.commit(2).unwrap();
    let (found, by) = top(approximate, &all);
    assert!(matches!(by, Neighbours::Approximate { .. }), "{by:?}");
    assert!(found.iter().all(|(_, path)| *path != nearest));
    // A graph answers a bounded number of neighbours: with every document similar enough,
    // it says it may have left some out.
    let (found, by) = top(
        Semantic {
            threshold: -1.0,
            ..approximate
        },
        &all,
    );
    assert_eq!(by, Neighbours::Approximate { complete: false });
    assert!(found.len() < count - 1);
    // Under the limit, candidates are compared exactly.
    let (_, by) = top(
        Semantic {
            exact_limit: 1000,
            ..approximate
        },
        &narrowed,
    );
    assert_eq!(by, Neighbours::Exact);
}

#[test]
fn segment_caches_follow_merges() {
    let dir = tempfile::tempdir().unwrap();
    let (index, _) = OrgIndex::open(&dir.path().join("acme"), "test").unwrap();
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    for batch in 0..3u64 {
        for at in 0..40 {
            let mut document = doc(&format!("/orgs/acme/a/b{batch}-{at}.md"), "common words");
            document.vector = Some(random_unit(&mut seed, 8));
            index.upsert(&document).unwrap();
        }
        index.commit(batch + 1).unwrap();
    }
    let query = random_unit(&mut seed, 8);
    let words = ParsedQuery::parse("words").unwrap();
    let answer = |semantic: Semantic<'_>| {
        let matches = index
            .search(Some(&words), Some(semantic), &Filters::default())
            .unwrap();
        let mut semantic: Vec<(String, u32)> = matches
            .semantic
            .iter()
            .map(|found| (found.path.to_string(), found.score.to_bits()))
            .collect();
        semantic.sort();
        let mut keyword: Vec<String> = matches
            .candidates
            .iter()
            .map(|found| found.path.to_string())
            .collect();
        keyword.sort();
        (keyword, semantic)
    };
    let through_graphs = Semantic {
        exact_limit: 1,
        ..exact(&query, -1.0)
    };
    let before = answer(exact(&query, -1.0));
    assert_eq!(before.0.len(), 120);
    assert_eq!(before.1.len(), 120);
    let segments = index.reader.searcher().segment_readers().len();
    assert!(segments >= 2, "{segments}");
    assert_eq!(index.build_graphs(1).unwrap(), segments);
    assert_eq!(answer(through_graphs), before);
    assert_eq!(index.vectors.len(), segments);
    assert_eq!(index.paths.len(), segments);
    // Merged into one segment: the same answers, from caches of the live segment only.
    let ids = index.index.searchable_segment_ids().unwrap();
    index.writer.lock().merge(&ids).wait().unwrap();
    index.reader.reload().unwrap();
    assert_eq!(index.reader.searcher().segment_readers().len(), 1);
    assert_eq!(answer(exact(&query, -1.0)), before);
    assert_eq!(index.vectors.len(), 1);
    assert_eq!(index.paths.len(), 1);
    assert_eq!(index.facets.len(), 1);
    assert_eq!(index.build_graphs(1).unwrap(), 1);
    assert_eq!(index.graphs.len(), 1);
    assert_eq!(answer(through_graphs), before);
}
