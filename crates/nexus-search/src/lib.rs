//! Full-text indexes of one organization each (tantivy: BM25, English stemming, phrases,
//! prefixes). Documents go in, scored candidates come out: which candidates a caller may
//! see is decided above this crate (by `nexus-core`, with the permission engine), over
//! every candidate, before anything is ranked or counted.
//!
//! An index remembers, in its commit, the position in the organization's change feed it
//! reflects ([`OrgIndex::applied`]), and its format ([`FORMAT`]); an index of another
//! format, or one that cannot be opened, is reported so the caller rebuilds it.

mod embed;
mod graph;
mod query;
mod vectors;

use std::path::{Path, PathBuf};

use parking_lot::Mutex;
use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::Column;
use tantivy::query::{BooleanQuery, ConstScoreQuery, Occur, Query, RangeQuery, TermQuery};
use tantivy::schema::{
    FAST, Field, INDEXED, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing,
    TextOptions, Value,
};
use tantivy::snippet::SnippetGenerator;
use tantivy::{
    DocAddress, DocId, Index, IndexReader, IndexWriter, ReloadPolicy, Score, SegmentOrdinal,
    SegmentReader, TantivyDocument, Term,
};

pub use embed::{
    EmbedError, Embedder, Embedding, StaticModel, normalize, similarity, write_static_model,
};
pub use query::{ParsedQuery, QueryError};
pub use vectors::Neighbours;

/// The index format; an index written in another is rebuilt. Bump it when the schema, the
/// tokenizer or what documents hold changes.
pub const FORMAT: u32 = 3;

/// Memory of one index writer (tantivy's minimum is 15 MB per thread).
const WRITER_MEMORY: usize = 32 << 20;

/// What an index could not do.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("search index: {0}")]
    Tantivy(#[from] tantivy::TantivyError),
    #[error("search index: {0}")]
    Io(#[from] std::io::Error),
    /// Another process (or handle) writes this index.
    #[error("the search index at {path} is in use by another process")]
    Busy { path: PathBuf },
}

/// One searchable document: a file, or a knowledge item (a file under `.nexus/`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Document {
    /// The file's path, its identity in the index.
    pub path: String,
    /// The item key, for knowledge items.
    pub key: Option<String>,
    /// The file's name (items: their kind and id).
    pub name: String,
    pub env: Option<String>,
    pub kind: Option<String>,
    pub scope: Option<String>,
    /// Who last changed it, as stored (`user:u_k3x9`).
    pub author: Option<String>,
    /// Last change, microseconds since the epoch.
    pub modified: i64,
    /// When it stops being readable (Temp items), microseconds since the epoch.
    pub expires: Option<i64>,
    /// The extracted text (empty for binary files: found by name only).
    pub text: String,
    /// Its embedding (unit length), when the index has an embedder.
    pub vector: Option<Vec<f32>>,
}

/// Narrowing of a search, each optional; all given must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filters {
    /// A folder or file path: the document or everything under it.
    pub path_prefix: Option<String>,
    pub env: Option<String>,
    pub scope: Option<String>,
    pub kind: Option<String>,
    pub author: Option<String>,
    /// Modified at or after (microseconds).
    pub since: Option<i64>,
    /// Modified before (microseconds).
    pub until: Option<i64>,
    /// Only documents at or under one of these paths: a narrowing the caller computes from
    /// where readable documents can be (every document it lets through is still checked).
    pub within: Option<Vec<String>>,
}

/// What a search found: every candidate, and what describes them.
pub struct Matches {
    searcher: tantivy::Searcher,
    /// Every document matching the words, scored by BM25 with fixed statistics.
    pub candidates: Vec<Candidate>,
    /// Every document whose embedding is at least as similar to the query's as asked,
    /// scored by that similarity.
    pub semantic: Vec<Candidate>,
    /// How `semantic` was found.
    pub neighbours: Neighbours,
    query: Box<dyn Query>,
}

impl std::fmt::Debug for Matches {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Matches")
            .field("candidates", &self.candidates.len())
            .field("semantic", &self.semantic.len())
            .finish_non_exhaustive()
    }
}

/// A semantic search's question.
#[derive(Debug, Clone, Copy)]
pub struct Semantic<'a> {
    /// The query's embedding.
    pub vector: &'a [f32],
    /// Similarity from which a document matches.
    pub threshold: f32,
    /// Up to this many candidates (documents matching the filters), every candidate's
    /// vector is compared; beyond, each segment holding at least
    /// `min(exact_limit, 4096)` vectors is searched through its graph (built in the
    /// background the first time; exact until then).
    pub exact_limit: usize,
}

/// A matching document before permission filtering.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub address: DocAddress,
    /// Its path, canonical (as it was indexed).
    pub path: std::sync::Arc<str>,
    pub score: Score,
    /// When it stops being readable (microseconds), if ever.
    pub expires: Option<i64>,
    /// Its environment, kind and scope (knowledge items), for facets.
    pub facets: [Option<std::sync::Arc<str>>; 3],
}

/// A stored document's fields, as shown in a hit.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stored {
    pub key: Option<String>,
    pub env: Option<String>,
    pub kind: Option<String>,
    pub scope: Option<String>,
    pub author: Option<String>,
    pub modified: i64,
}

#[derive(Debug, Clone, Copy)]
struct Fields {
    path: Field,
    folders: Field,
    name: Field,
    key: Field,
    env: Field,
    kind: Field,
    scope: Field,
    author: Field,
    modified: Field,
    expires: Field,
    text: Field,
    vector: Field,
}

fn schema() -> (Schema, Fields) {
    let mut builder = Schema::builder();
    let stemmed = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer("en_stem")
            .set_index_option(IndexRecordOption::WithFreqsAndPositions),
    );
    let fields = Fields {
        path: builder.add_text_field("path", STRING | STORED | FAST),
        folders: builder.add_text_field("folders", STRING),
        name: builder.add_text_field("name", stemmed.clone() | STORED),
        key: builder.add_text_field("key", STRING | STORED),
        env: builder.add_text_field("env", STRING | STORED | FAST),
        kind: builder.add_text_field("kind", STRING | STORED | FAST),
        scope: builder.add_text_field("scope", STRING | STORED | FAST),
        author: builder.add_text_field("author", STRING | STORED),
        modified: builder.add_i64_field("modified", INDEXED | STORED | FAST),
        expires: builder.add_i64_field("expires", STORED | FAST),
        text: builder.add_text_field("text", stemmed | STORED),
        vector: builder.add_bytes_field("vector", FAST),
    };
    (builder.build(), fields)
}

/// The payload of an index created but not yet filled: it reads as no index (built again).
const BUILDING: &str = "nexus-search building";

/// What the commit payload holds: the format, the feed position and the embedder
/// (`none` without one).
fn payload(applied: u64, embedder: &str) -> String {
    format!("nexus-search format={FORMAT} applied={applied} embedder={embedder}")
}

fn parse_payload(text: &str) -> Option<(u32, u64, &str)> {
    let rest = text.strip_prefix("nexus-search format=")?;
    let (format, rest) = rest.split_once(" applied=")?;
    let (applied, embedder) = rest.split_once(" embedder=").unwrap_or((rest, "none"));
    Some((format.parse().ok()?, applied.parse().ok()?, embedder))
}

/// The index of one organization.
pub struct OrgIndex {
    dir: PathBuf,
    index: Index,
    reader: IndexReader,
    writer: Mutex<IndexWriter>,
    fields: Fields,
    applied: Mutex<u64>,
    /// Whose vectors the index holds (`none`).
    embedder: String,
    vectors: vectors::VectorCache,
    graphs: std::sync::Arc<graph::GraphCache>,
    paths: vectors::SegmentCache<vectors::SegmentPaths>,
    facets: vectors::SegmentCache<[vectors::SegmentPaths; 3]>,
}

impl std::fmt::Debug for OrgIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OrgIndex")
            .field("dir", &self.dir)
            .field("applied", &*self.applied.lock())
            .finish_non_exhaustive()
    }
}

/// How [`OrgIndex::open`] found the index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Opened {
    /// In this format, reflecting the feed up to this revision.
    Current { applied: u64 },
    /// Created empty: missing, of another format, or unreadable (the reason says which).
    /// Fill it from the store.
    Rebuilt { reason: String },
}

impl OrgIndex {
    /// Opens the index in `dir`, or creates it there (replacing one of another format, one
    /// built by another embedder — `embedder` is [`Embedder::id`], or `none` — or one that
    /// cannot be opened).
    pub fn open(dir: &Path, embedder: &str) -> Result<(OrgIndex, Opened), IndexError> {
        match Self::open_existing(dir, embedder) {
            Ok(Some(found)) => return Ok(found),
            Ok(None) => {}
            // Never rebuilt under another writer's feet.
            Err(IndexError::Tantivy(tantivy::TantivyError::LockFailure(..))) => {
                return Err(IndexError::Busy {
                    path: dir.to_owned(),
                });
            }
            Err(error) => {
                tracing::warn!(dir = %dir.display(), %error, "the search index is rebuilt");
                let reason = error.to_string();
                return Ok((Self::create(dir, embedder)?, Opened::Rebuilt { reason }));
            }
        }
        let reason = if dir.exists() {
            "of an earlier format or another embedder".to_owned()
        } else {
            "missing".to_owned()
        };
        Ok((Self::create(dir, embedder)?, Opened::Rebuilt { reason }))
    }

    /// `None` when there is no index of this format and embedder in `dir`.
    fn open_existing(dir: &Path, embedder: &str) -> Result<Option<(OrgIndex, Opened)>, IndexError> {
        if !dir.join("meta.json").exists() {
            return Ok(None);
        }
        let index = Index::open_in_dir(dir)?;
        let metas = index.load_metas()?;
        let Some((format, applied, built_by)) = metas.payload.as_deref().and_then(parse_payload)
        else {
            return Ok(None);
        };
        if format != FORMAT || built_by != embedder {
            return Ok(None);
        }
        let (expected, fields) = schema();
        if index.schema() != expected {
            return Ok(None);
        }
        let opened = Self::with_index(dir, index, fields, applied, embedder)?;
        Ok(Some((opened, Opened::Current { applied })))
    }

    fn create(dir: &Path, embedder: &str) -> Result<OrgIndex, IndexError> {
        if dir.exists() {
            std::fs::remove_dir_all(dir)?;
        }
        std::fs::create_dir_all(dir)?;
        let (schema, fields) = schema();
        let index = Index::create_in_dir(dir, schema)?;
        let created = Self::with_index(dir, index, fields, 0, embedder)?;
        // Marked as being built until its first real commit: an index whose first build
        // failed is never taken for an empty, current one.
        {
            let mut writer = created.writer.lock();
            let mut prepared = writer.prepare_commit()?;
            prepared.set_payload(BUILDING);
            prepared.commit()?;
        }
        Ok(created)
    }

    fn with_index(
        dir: &Path,
        index: Index,
        fields: Fields,
        applied: u64,
        embedder: &str,
    ) -> Result<OrgIndex, IndexError> {
        let writer = index.writer_with_num_threads(1, WRITER_MEMORY)?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        Ok(OrgIndex {
            dir: dir.to_owned(),
            index,
            reader,
            writer: Mutex::new(writer),
            fields,
            applied: Mutex::new(applied),
            embedder: embedder.to_owned(),
            vectors: vectors::VectorCache::default(),
            graphs: std::sync::Arc::default(),
            paths: vectors::SegmentCache::default(),
            facets: vectors::SegmentCache::default(),
        })
    }

    /// The change-feed revision the committed index reflects.
    pub fn applied(&self) -> u64 {
        *self.applied.lock()
    }

    /// Adds or replaces the document of `document.path` (committed by [`OrgIndex::commit`]).
    pub fn upsert(&self, document: &Document) -> Result<(), IndexError> {
        let fields = self.fields;
        let writer = self.writer.lock();
        writer.delete_term(Term::from_field_text(fields.path, &document.path));
        let mut doc = TantivyDocument::default();
        doc.add_text(fields.path, &document.path);
        for folder in ancestors(&document.path) {
            doc.add_text(fields.folders, folder);
        }
        doc.add_text(fields.name, &document.name);
        let optional = [
            (fields.key, &document.key),
            (fields.env, &document.env),
            (fields.kind, &document.kind),
            (fields.scope, &document.scope),
            (fields.author, &document.author),
        ];
        for (field, value) in optional {
            if let Some(value) = value {
                doc.add_text(field, value);
            }
        }
        doc.add_i64(fields.modified, document.modified);
        doc.add_i64(fields.expires, document.expires.unwrap_or(i64::MAX));
        doc.add_text(fields.text, &document.text);
        if let Some(vector) = &document.vector {
            doc.add_bytes(fields.vector, &vectors::to_bytes(vector));
        }
        writer.add_document(doc)?;
        Ok(())
    }

    /// Removes the document of `path` and every document under it (a removed folder).
    pub fn remove(&self, path: &str) {
        let writer = self.writer.lock();
        writer.delete_term(Term::from_field_text(self.fields.path, path));
        writer.delete_term(Term::from_field_text(self.fields.folders, path));
    }

    /// Forgets every change since the last commit (a failed rebuild or catch-up).
    pub fn rollback(&self) -> Result<(), IndexError> {
        self.writer.lock().rollback()?;
        Ok(())
    }

    /// Removes every document (before a rebuild).
    pub fn clear(&self) -> Result<(), IndexError> {
        self.writer.lock().delete_all_documents()?;
        Ok(())
    }

    /// Makes the changes since the last commit durable and searchable, recording that the
    /// index now reflects the feed up to `applied`.
    pub fn commit(&self, applied: u64) -> Result<(), IndexError> {
        {
            let mut writer = self.writer.lock();
            let mut prepared = writer.prepare_commit()?;
            prepared.set_payload(&payload(applied, &self.embedder));
            prepared.commit()?;
        }
        self.reader.reload()?;
        *self.applied.lock() = applied;
        Ok(())
    }

    /// Every live document matching `query` and `filters`, with its score, unranked.
    pub fn candidates(
        &self,
        query: &ParsedQuery,
        filters: &Filters,
    ) -> Result<Matches, IndexError> {
        self.search(Some(query), None, filters)
    }

    /// Every live document matching `filters` and, if given, the words of `query` (in
    /// [`Matches::candidates`]) and, if given, whose vector's similarity to `semantic`'s
    /// vector is at least its threshold (in [`Matches::semantic`], found as
    /// [`Semantic::exact_limit`] says); unranked, from one view of the index.
    pub fn search(
        &self,
        query: Option<&ParsedQuery>,
        semantic: Option<Semantic<'_>>,
        filters: &Filters,
    ) -> Result<Matches, IndexError> {
        let searcher = self.reader.searcher();
        self.paths.retain(&searcher);
        self.facets.retain(&searcher);
        let compiled = self.compile(query, filters)?;
        let collector = AllMatches {
            paths: &self.paths,
            facets: &self.facets,
            expires: "expires",
        };
        // Scored with fixed corpus statistics, never the index's own: those count every
        // document, readable or not, and a score would betray them.
        let candidates = if query.is_some() {
            searcher.search_with_statistics_provider(&compiled, &collector, &FixedStatistics)?
        } else {
            Vec::new()
        };
        let (semantic, neighbours) = match semantic {
            None => (Vec::new(), Neighbours::Exact),
            Some(semantic) => self.nearest(&searcher, semantic, filters)?,
        };
        Ok(Matches {
            searcher,
            candidates,
            semantic,
            neighbours,
            query: compiled,
        })
    }

    /// The documents matching `filters` whose vectors are at least as similar as asked.
    fn nearest(
        &self,
        searcher: &tantivy::Searcher,
        semantic: Semantic<'_>,
        filters: &Filters,
    ) -> Result<(Vec<Candidate>, Neighbours), IndexError> {
        // A query no known word of the model gave a direction to is similar to nothing.
        if semantic.threshold > 0.0 && semantic.vector.iter().all(|x| *x == 0.0) {
            return Ok((Vec::new(), Neighbours::Exact));
        }
        self.vectors.retain(searcher);
        self.graphs.retain(searcher);
        let narrowed = self.compile(None, filters)?;
        let approximate = semantic.exact_limit < usize::MAX
            && searcher.search(&narrowed, &tantivy::collector::Count)? > semantic.exact_limit;
        Ok(searcher.search(
            &narrowed,
            &vectors::Nearest {
                matches: AllMatches {
                    paths: &self.paths,
                    facets: &self.facets,
                    expires: "expires",
                },
                cache: &self.vectors,
                field: "vector",
                query: semantic.vector.into(),
                threshold: semantic.threshold,
                graphs: approximate.then_some(&self.graphs),
                min_graph: graph::MIN_GRAPH_VECTORS.min(semantic.exact_limit),
            },
        )?)
    }

    /// Builds now the graphs a semantic search with this `exact_limit` would use (those of
    /// segments holding at least `min(exact_limit, 4096)` vectors) and answers how many
    /// segments have one; searches otherwise build them in the background.
    pub fn build_graphs(&self, exact_limit: usize) -> Result<usize, IndexError> {
        let searcher = self.reader.searcher();
        self.vectors.retain(&searcher);
        self.graphs.retain(&searcher);
        let mut ready = 0;
        for reader in searcher.segment_readers() {
            let vectors = self.vectors.get(reader, |reader| {
                vectors::SegmentVectors::load(reader, "vector")
            })?;
            if vectors.len() >= graph::MIN_GRAPH_VECTORS.min(exact_limit).max(1) {
                self.graphs.build_now(reader.segment_id(), &vectors);
            }
            if self.graphs.is_ready(reader.segment_id()) {
                ready += 1;
            }
        }
        Ok(ready)
    }

    fn compile(
        &self,
        query: Option<&ParsedQuery>,
        filters: &Filters,
    ) -> Result<Box<dyn Query>, IndexError> {
        let fields = self.fields;
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        clauses.push((
            Occur::Must,
            match query {
                Some(query) => query.compile(&self.index, fields.text, fields.name)?,
                None => Box::new(tantivy::query::AllQuery),
            },
        ));
        let exact = |field: Field, value: &str| -> Box<dyn Query> {
            Box::new(TermQuery::new(
                Term::from_field_text(field, value),
                IndexRecordOption::Basic,
            ))
        };
        if let Some(prefix) = &filters.path_prefix {
            let prefix = prefix.trim_end_matches('/');
            clauses.push((
                Occur::Must,
                filter(Box::new(BooleanQuery::new(vec![
                    (Occur::Should, exact(fields.path, prefix)),
                    (Occur::Should, exact(fields.folders, prefix)),
                ]))),
            ));
        }
        if let Some(within) = &filters.within {
            let terms = within.iter().flat_map(|path| {
                [
                    Term::from_field_text(fields.path, path),
                    Term::from_field_text(fields.folders, path),
                ]
            });
            clauses.push((
                Occur::Must,
                filter(Box::new(tantivy::query::TermSetQuery::new(terms))),
            ));
        }
        for (field, value) in [
            (fields.env, &filters.env),
            (fields.scope, &filters.scope),
            (fields.kind, &filters.kind),
            (fields.author, &filters.author),
        ] {
            if let Some(value) = value {
                clauses.push((Occur::Must, filter(exact(field, value))));
            }
        }
        if filters.since.is_some() || filters.until.is_some() {
            use std::ops::Bound;
            let lower = filters.since.map_or(Bound::Unbounded, |since| {
                Bound::Included(Term::from_field_i64(fields.modified, since))
            });
            let upper = filters.until.map_or(Bound::Unbounded, |until| {
                Bound::Excluded(Term::from_field_i64(fields.modified, until))
            });
            clauses.push((Occur::Must, filter(Box::new(RangeQuery::new(lower, upper)))));
        }
        Ok(Box::new(BooleanQuery::new(clauses)))
    }

    /// The stored fields of a candidate, and a snippet of its text around what matched.
    pub fn describe(
        &self,
        matches: &Matches,
        address: DocAddress,
        snippet_chars: usize,
    ) -> Result<(Stored, String), IndexError> {
        let searcher = &matches.searcher;
        let query = matches.query.as_ref();
        let doc: TantivyDocument = searcher.doc(address)?;
        let fields = self.fields;
        let text = |field: Field| {
            doc.get_first(field)
                .and_then(|value| value.as_str())
                .map(ToOwned::to_owned)
        };
        let stored = Stored {
            key: text(fields.key),
            env: text(fields.env),
            kind: text(fields.kind),
            scope: text(fields.scope),
            author: text(fields.author),
            modified: doc
                .get_first(fields.modified)
                .and_then(|value| value.as_i64())
                .unwrap_or(0),
        };
        // Every query term weighs the same in choosing the fragment (tantivy's own weights
        // come from index-wide document frequencies, which count unreadable documents).
        let mut terms = std::collections::BTreeMap::new();
        query.query_terms(&mut |term, _| {
            if term.field() == fields.text
                && let Some(text) = term.value().as_str()
            {
                terms.insert(text.to_owned(), 1.0);
            }
        });
        let generator = SnippetGenerator::new(
            terms,
            self.index.tokenizer_for_field(fields.text)?,
            fields.text,
            snippet_chars,
        );
        let snippet = generator.snippet_from_doc(&doc);
        let fragment = snippet.fragment().trim();
        let fragment = if fragment.is_empty() {
            // Matched by name or prefix only: the text's beginning.
            let start: String = text(fields.text)
                .unwrap_or_default()
                .chars()
                .take(snippet_chars)
                .collect();
            start.trim().to_owned()
        } else {
            fragment.to_owned()
        };
        Ok((stored, fragment))
    }

    /// Live documents in the index.
    pub fn len(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    /// Whether the index holds no live document.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// BM25's corpus statistics as constants: scores then depend on the document and the
/// query only (term frequency, the document's length), so they are the same whoever else's
/// documents the index holds. Every term weighs alike (no inverse document frequency).
struct FixedStatistics;

/// The corpus the constants describe: a million documents of 100 tokens per field, each
/// term in a thousand of them.
const FIXED_DOCS: u64 = 1_000_000;
const FIXED_TOKENS_PER_DOC: u64 = 100;
const FIXED_DOC_FREQ: u64 = 1_000;

impl tantivy::query::Bm25StatisticsProvider for FixedStatistics {
    fn total_num_tokens(&self, _field: Field) -> tantivy::Result<u64> {
        Ok(FIXED_DOCS * FIXED_TOKENS_PER_DOC)
    }

    fn total_num_docs(&self) -> tantivy::Result<u64> {
        Ok(FIXED_DOCS)
    }

    fn doc_freq(&self, _term: &Term) -> tantivy::Result<u64> {
        Ok(FIXED_DOC_FREQ)
    }
}

/// A condition that narrows without changing scores.
fn filter(query: Box<dyn Query>) -> Box<dyn Query> {
    Box::new(ConstScoreQuery::new(query, 0.0))
}

/// The folders above `path` (`/orgs/acme/a/b.md` → `/orgs/acme/a`, `/orgs/acme`, `/orgs`).
fn ancestors(path: &str) -> impl Iterator<Item = &str> {
    let mut end = path.len();
    std::iter::from_fn(move || {
        let cut = path[..end].rfind('/')?;
        if cut == 0 {
            return None;
        }
        end = cut;
        Some(&path[..cut])
    })
}

/// Collects every match with its score and path.
pub(crate) struct AllMatches<'a> {
    paths: &'a vectors::SegmentCache<vectors::SegmentPaths>,
    facets: &'a vectors::SegmentCache<[vectors::SegmentPaths; 3]>,
    expires: &'static str,
}

pub(crate) struct SegmentMatches {
    segment: SegmentOrdinal,
    paths: std::sync::Arc<vectors::SegmentPaths>,
    facets: std::sync::Arc<[vectors::SegmentPaths; 3]>,
    expires: Column<i64>,
    found: Vec<(DocId, Score)>,
}

impl Collector for AllMatches<'_> {
    type Fruit = Vec<Candidate>;
    type Child = SegmentMatches;

    fn for_segment(
        &self,
        segment: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<SegmentMatches> {
        Ok(SegmentMatches {
            segment,
            paths: self
                .paths
                .get(reader, |reader| vectors::load_paths(reader, "path"))?,
            facets: self.facets.get(reader, |reader| {
                Ok([
                    vectors::load_paths(reader, "env")?,
                    vectors::load_paths(reader, "kind")?,
                    vectors::load_paths(reader, "scope")?,
                ])
            })?,
            expires: reader.fast_fields().i64(self.expires)?,
            found: Vec::new(),
        })
    }

    fn requires_scoring(&self) -> bool {
        true
    }

    fn merge_fruits(&self, fruits: Vec<Vec<Candidate>>) -> tantivy::Result<Vec<Candidate>> {
        Ok(fruits.into_iter().flatten().collect())
    }
}

impl SegmentCollector for SegmentMatches {
    type Fruit = Vec<Candidate>;

    fn collect(&mut self, doc: DocId, score: Score) {
        self.found.push((doc, score));
    }

    fn harvest(self) -> Vec<Candidate> {
        let mut out = Vec::with_capacity(self.found.len());
        for (doc, score) in self.found {
            let Some(path) = self.paths.get(doc as usize).and_then(Clone::clone) else {
                continue;
            };
            let expires = self.expires.first(doc).filter(|at| *at != i64::MAX);
            let facet = |at: usize| {
                self.facets
                    .get(at)
                    .and_then(|column| column.get(doc as usize))
                    .and_then(Clone::clone)
            };
            out.push(Candidate {
                address: DocAddress::new(self.segment, doc),
                path,
                score,
                expires,
                facets: [facet(0), facet(1), facet(2)],
            });
        }
        out
    }
}

#[cfg(test)]
mod tests;
