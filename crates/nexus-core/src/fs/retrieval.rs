//! Search over files and knowledge items (`POST /api/orgs/{org}/search`), answered only
//! from what the caller may read.
//!
//! Each organization has its own index (`nexus-search`), fed from the organization's
//! committed change feed, so it is a function of the committed state: it records the last
//! feed revision it reflects, and catching up applies the changes after it (a changed file
//! is read again, a removed one or a removed folder's content leaves the index, a moved
//! folder's content is indexed at its new place). Knowledge items are indexed by the text of
//! their values (sealed Locker secrets never), other JSON files by their values, text files
//! by their text, binary files by name only.
//!
//! **Permission filtering before ranking.** The index returns every document that matches
//! (with its BM25 score), unranked; each is checked against the permission engine's current
//! state with the caller's shared checker (what `cat` or an item read would allow; expired
//! Temp items are out), and only then are the survivors ranked, counted and paged. Totals,
//! ranks, snippets and "more results" therefore never reflect a document the caller cannot
//! read, and a revoked grant hides a document at the next search, however far behind the
//! index is. The hits of the page are finally checked against the store: a document deleted
//! since the index last caught up is left out. The cost is one check per matching document:
//! see `docs/search.md`.

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::{DateTime, Utc};
use nexus_api::search::{
    Consistency, ConsistencyLevel, SearchFacets, SearchFilters, SearchHit, SearchMode,
    SearchRequest, SearchResponse,
};
use nexus_knowledge::{Environment, ItemKey};
use nexus_path::{OrgId, VfsPath};
use nexus_rebac::CheckResult;
use nexus_search::{
    Candidate, Document, Embedder, Filters, Neighbours, Opened, OrgIndex, ParsedQuery,
};
use nexus_store::{ListQuery, Node, Timestamp};

use super::{Fs, Search};
use crate::authz::Permission;
use crate::authz::tokens::Scope as TokenScope;
use crate::error::FsError;
use crate::principal::CallContext;

/// Hits per page when the request does not say, and the most.
const DEFAULT_LIMIT: usize = 10;
const MAX_LIMIT: usize = 100;
/// Longest snippet, in characters.
const SNIPPET_CHARS: usize = 200;
/// Most bytes of a file whose text is indexed (the rest is not searchable).
const MAX_INDEXED_BYTES: u64 = 1 << 20;
/// How much of a file is inspected for NUL bytes to decide it is binary.
const BINARY_SNIFF_BYTES: usize = 8192;
/// Changes read from the feed per step of catching up.
const FEED_BATCH: usize = 1000;
/// Files listed per step of a walk.
const WALK_BATCH: usize = 1000;
/// Texts handed to the embedder at once.
const EMBED_BATCH: usize = 64;
/// Most characters of a document that are embedded (its name, then its text).
const EMBED_CHARS: usize = 8192;
/// Most paths a search is narrowed to (beyond, it is not narrowed: every match is checked).
const MAX_NARROWING: usize = 1024;
/// The constant of reciprocal rank fusion: a hit ranked `r` in one list adds `1 / (K + r)`.
const RRF_K: f32 = 60.0;
/// Similarity (cosine) from which a document is a semantic match, unless configured.
pub const DEFAULT_MIN_SIMILARITY: f32 = 0.3;
/// Up to how many candidates (documents matching a search's filters and narrowing) every
/// vector is compared, unless configured; beyond, large index segments are searched through
/// their graphs (approximate nearest neighbours).
pub const DEFAULT_EXACT_LIMIT: usize = 200_000;

/// The organizations' indexes of a data directory.
#[derive(Debug, Default)]
pub struct Indexes {
    /// Where the indexes live (`<data dir>/search`); none: search is unavailable.
    root: Option<PathBuf>,
    orgs: parking_lot::Mutex<HashMap<OrgId, Arc<OrgEntry>>>,
    /// Held while an index is opened (or rebuilt on opening): one opener at a time.
    opening: tokio::sync::Mutex<()>,
    /// Whether a background task keeps the indexes current; without one, every search
    /// catches its organization's index up first.
    background: AtomicBool,
    /// What embeds documents and queries for semantic search; none: keyword only.
    embedder: Option<Arc<dyn Embedder>>,
    /// Similarity from which a document is a semantic match.
    min_similarity: f32,
    /// Up to how many candidates semantic search compares every vector.
    exact_limit: usize,
}

impl Indexes {
    pub(crate) fn at(root: Option<PathBuf>) -> Indexes {
        Indexes {
            root,
            min_similarity: DEFAULT_MIN_SIMILARITY,
            exact_limit: DEFAULT_EXACT_LIMIT,
            ..Indexes::default()
        }
    }

    /// The same place, with semantic search by `embedder`.
    pub(crate) fn with_embedder(
        &self,
        embedder: Arc<dyn Embedder>,
        min_similarity: f32,
    ) -> Indexes {
        Indexes {
            root: self.root.clone(),
            embedder: Some(embedder),
            min_similarity,
            exact_limit: self.exact_limit,
            ..Indexes::default()
        }
    }

    /// The same place and embedder, comparing every vector up to `exact_limit` candidates.
    pub(crate) fn with_exact_limit(&self, exact_limit: usize) -> Indexes {
        Indexes {
            root: self.root.clone(),
            embedder: self.embedder.clone(),
            min_similarity: self.min_similarity,
            exact_limit,
            ..Indexes::default()
        }
    }

    fn embedder_id(&self) -> &str {
        self.embedder
            .as_deref()
            .map_or("none", |embedder| embedder.id())
    }

    /// Drops the open indexes (their writers let go of their directories).
    pub(crate) fn close(&self) {
        self.orgs.lock().clear();
    }
}

#[derive(Debug)]
struct OrgEntry {
    index: OrgIndex,
    /// Held while the index catches up or is rebuilt: one writer of the index at a time.
    sync: tokio::sync::Mutex<()>,
}

fn index_error(error: nexus_search::IndexError) -> FsError {
    match error {
        nexus_search::IndexError::Busy { .. } => FsError::Unavailable {
            message: format!(
                "{error}: search through the server that keeps it (`nexus serve`), or stop it first"
            ),
        },
        error => FsError::Internal {
            message: error.to_string(),
        },
    }
}

fn rfc3339(field: &str, text: &str) -> Result<i64, FsError> {
    DateTime::parse_from_rfc3339(text)
        .map(|at| at.with_timezone(&Utc).timestamp_micros())
        .map_err(|_| {
            FsError::invalid(format!(
                "`filters.{field}` must be an RFC 3339 time such as 2026-12-07T10:00:00Z"
            ))
        })
}

/// The knowledge items among `ranked` by environment, kind and scope.
fn facets(ranked: &[(f32, &Candidate)]) -> SearchFacets {
    let mut counted: [HashMap<&str, u64>; 3] = Default::default();
    for (_, candidate) in ranked {
        for (counts, value) in counted.iter_mut().zip(&candidate.facets) {
            if let Some(value) = value {
                *counts.entry(value).or_default() += 1;
            }
        }
    }
    let [env, kind, scope] = counted.map(|counts| {
        counts
            .into_iter()
            .map(|(value, count)| (value.to_owned(), count))
            .collect()
    });
    SearchFacets { env, kind, scope }
}

/// Candidates best first (by score, then path); with `top`, only the first `top` are put
/// in order (the others follow, unordered).
fn rank(mut candidates: Vec<&Candidate>, top: Option<usize>) -> Vec<(f32, &Candidate)> {
    let order = |a: &&Candidate, b: &&Candidate| {
        b.score
            .total_cmp(&a.score)
            .then_with(|| a.path.cmp(&b.path))
    };
    match top {
        Some(top) if top < candidates.len() => {
            if top > 0 {
                candidates.select_nth_unstable_by(top - 1, order);
            }
            if let Some(first) = candidates.get_mut(..top) {
                first.sort_by(order);
            }
        }
        _ => candidates.sort_by(order),
    }
    candidates
        .into_iter()
        .map(|candidate| (candidate.score, candidate))
        .collect()
}

/// Reciprocal rank fusion of ranked lists: each document scores the sum, over the lists
/// it is in, of `1 / (K + its rank)` (ranks from 1); best first, then by path.
fn fuse<'m>(lists: &[Vec<(f32, &'m Candidate)>]) -> Vec<(f32, &'m Candidate)> {
    let mut fused: HashMap<&str, (f32, &Candidate)> = HashMap::new();
    for list in lists {
        for (rank, (_, candidate)) in list.iter().enumerate() {
            #[expect(clippy::cast_precision_loss, reason = "ranks stay far below 2^24")]
            let share = 1.0 / (RRF_K + (rank + 1) as f32);
            fused.entry(&*candidate.path).or_insert((0.0, candidate)).0 += share;
        }
    }
    let mut fused: Vec<(f32, &Candidate)> = fused.into_values().collect();
    fused.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.path.cmp(&b.1.path)));
    fused
}

/// The steps from an expansion's root to `subject`: `relation → subject` where the subject
/// is stored, `relation → userset` into a userset it belongs to, `tupleset → object` along
/// an arrow; `None` when no branch reaches it. An intersection needs every branch and is
/// explained by its first; an exclusion by its base.
fn path_to(
    node: &nexus_rebac::ExpandNode,
    subject: &nexus_rebac::SubjectRef,
) -> Option<Vec<String>> {
    use nexus_rebac::ExpandKind;
    let object = |node: &nexus_rebac::ExpandNode| {
        format!("{}:{}", node.object.object_type, node.object.object_id)
    };
    match &node.kind {
        ExpandKind::Direct { subjects, children } => {
            if let Some(found) = subjects.iter().find(|found| {
                found.subject == *subject
                    || (found.subject.is_wildcard()
                        && found.subject.object.object_type == subject.object.object_type)
            }) {
                let mut step = format!("{} → {}", node.relation, found.subject);
                if let Some(caveat) = &found.caveat {
                    step.push_str(&format!(" (when {caveat} holds)"));
                }
                return Some(vec![step]);
            }
            children.iter().find_map(|child| {
                let mut rest = path_to(child, subject)?;
                rest.insert(
                    0,
                    format!("{} → {}#{}", node.relation, object(child), child.relation),
                );
                Some(rest)
            })
        }
        ExpandKind::Union(children) => children.iter().find_map(|child| path_to(child, subject)),
        ExpandKind::Intersection(children) => {
            let mut paths = children.iter().map(|child| path_to(child, subject));
            let first = paths.next()??;
            paths.all(|path| path.is_some()).then_some(first)
        }
        // Not through a base the caller is excluded from (a sealed locker's admin reach).
        ExpandKind::Exclusion(base, excluded) => {
            if path_to(excluded, subject).is_some() {
                None
            } else {
                path_to(base, subject)
            }
        }
        ExpandKind::Arrow {
            tupleset, children, ..
        } => children.iter().find_map(|child| {
            let mut rest = path_to(child, subject)?;
            rest.insert(0, format!("{tupleset} → {}", object(child)));
            Some(rest)
        }),
        ExpandKind::Nil | ExpandKind::Cycle => None,
    }
}

/// The vectors of `texts`: a local model's computed on a blocking thread (never on the
/// async workers, which serve requests meanwhile), an endpoint's awaited.
async fn embed_batch(
    embedder: &Arc<dyn Embedder>,
    texts: Vec<String>,
) -> Result<Vec<Vec<f32>>, nexus_search::EmbedError> {
    let local = Arc::clone(embedder);
    let computed = tokio::task::spawn_blocking(move || {
        let vectors = local.embed_now(&texts);
        (texts, vectors)
    })
    .await;
    match computed {
        Ok((_, Some(vectors))) => vectors,
        Ok((texts, None)) => embedder.embed(&texts).await,
        Err(error) => Err(nexus_search::EmbedError::Failed(format!(
            "the embedding task failed: {error}"
        ))),
    }
}

#[expect(
    clippy::needless_pass_by_value,
    reason = "used as `map_err(embed_error)`"
)]
fn embed_error(error: nexus_search::EmbedError) -> FsError {
    match error {
        // The query itself (too long for the endpoint, say).
        nexus_search::EmbedError::Refused(_) => {
            FsError::invalid(format!("semantic search: {error}"))
        }
        _ => FsError::Unavailable {
            message: format!("semantic search: {error}"),
        },
    }
}

/// The text of a JSON value's strings and numbers, not its keys, one per line. A sealed
/// Locker secret is never text: it is left out whole.
fn json_text(value: &serde_json::Value, out: &mut String) {
    use serde_json::Value;
    match value {
        Value::String(text) => {
            out.push_str(text);
            out.push('\n');
        }
        Value::Number(number) => {
            out.push_str(&number.to_string());
            out.push('\n');
        }
        Value::Array(values) => values.iter().for_each(|value| json_text(value, out)),
        Value::Object(_) if crate::locker::is_sealed(value) => {}
        Value::Object(map) => map.values().for_each(|value| json_text(value, out)),
        Value::Bool(_) | Value::Null => {}
    }
}

impl Search<'_> {
    /// A page of what the caller may read in `org` that matches the request.
    pub async fn query(
        self,
        context: &CallContext,
        org: &str,
        request: &SearchRequest,
    ) -> Result<SearchResponse, FsError> {
        let org = Fs::org_of_context(context, org)?;
        if !self.authz.member(context, &org)? {
            return Err(FsError::WrongOrganization {
                path: VfsPath::org_root(&org),
            });
        }
        let plan = self.plan(request)?;
        let filters = self.filters(context, &org, &request.filters)?;
        self.answer(context, &org, request, plan, filters).await
    }

    /// The request's mode (and a notice when it falls back), and its words (not parsed in
    /// semantic mode: the text is embedded as it is).
    fn plan(
        self,
        request: &SearchRequest,
    ) -> Result<(SearchMode, Option<String>, Option<ParsedQuery>), FsError> {
        let (mode, notice) = match (
            request.mode.unwrap_or_default(),
            &self.search_indexes.embedder,
        ) {
            (SearchMode::Hybrid, None) => (
                SearchMode::Keyword,
                Some(
                    "no embedder is configured on this server: these are keyword results only"
                        .to_owned(),
                ),
            ),
            (SearchMode::Semantic, None) => {
                return Err(FsError::invalid(
                    "semantic search needs an embedder, and none is configured on this server: use `keyword` (or `hybrid`, which falls back to it)",
                ));
            }
            (mode, _) => (mode, None),
        };
        // The words, for keyword and hybrid search; the whole text is what semantic search
        // embeds.
        let query = match mode {
            SearchMode::Semantic => {
                ParsedQuery::check_text(&request.query)
                    .map_err(|error| FsError::invalid(format!("`query`: {error}")))?;
                None
            }
            SearchMode::Keyword | SearchMode::Hybrid => Some(
                ParsedQuery::parse(&request.query)
                    .map_err(|error| FsError::invalid(format!("`query`: {error}")))?,
            ),
        };
        Ok((mode, notice, query))
    }

    /// The query's embedding, in semantic and hybrid mode.
    async fn query_vector(
        self,
        mode: SearchMode,
        request: &SearchRequest,
    ) -> Result<Option<Vec<f32>>, FsError> {
        let Some(embedder) = &self.search_indexes.embedder else {
            return Ok(None);
        };
        if mode == SearchMode::Keyword {
            return Ok(None);
        }
        let mut vectors = embedder
            .embed(std::slice::from_ref(&request.query))
            .await
            .map_err(embed_error)?;
        match vectors.pop() {
            Some(vector) if vector.len() == embedder.dimensions() => Ok(Some(vector)),
            _ => Err(FsError::Unavailable {
                message: "semantic search: the embedder answered no vector of the right length"
                    .to_owned(),
            }),
        }
    }

    /// A page of what the caller may read in `org` that matches the request, once the
    /// request is checked.
    async fn answer(
        self,
        context: &CallContext,
        org: &OrgId,
        request: &SearchRequest,
        (mode, notice, query): (SearchMode, Option<String>, Option<ParsedQuery>),
        mut filters: Filters,
    ) -> Result<SearchResponse, FsError> {
        let limit = request.limit.unwrap_or(DEFAULT_LIMIT);
        if limit == 0 || limit > MAX_LIMIT {
            return Err(FsError::invalid(format!(
                "`limit` must be between 1 and {MAX_LIMIT}"
            )));
        }
        let wait = match &request.consistency {
            None | Some(Consistency::Level(ConsistencyLevel::MinimizeLatency)) => {
                !self.search_indexes.background.load(Ordering::Acquire)
            }
            Some(Consistency::Level(ConsistencyLevel::FullyConsistent)) => true,
            Some(Consistency::AtLeast(at_least)) => {
                // Any token the caller may use was issued after its changes committed:
                // catching up to now covers it.
                self.await_fresh(context, Some(at_least.at_least.as_str()))
                    .await?;
                true
            }
        };
        // The cursor is sealed with the caller and the search (not the page size).
        let fingerprint = blake3::hash(
            serde_json::json!([
                context.principal.to_string(),
                org.as_str(),
                request.query,
                request.mode,
                request.filters,
            ])
            .to_string()
            .as_bytes(),
        );
        let scope = TokenScope::Caller(format!("search:{}", fingerprint.to_hex()));
        let offset = super::cursor::position(
            self.authz.keys(),
            request.cursor.as_deref(),
            &scope,
            "another search (same query and filters needed)",
        )?;
        let entry = self.entry(org).await?;
        if wait {
            self.catch_up(org, &entry).await?;
        }
        let indexed_revision = entry.index.applied();
        let vector = self.query_vector(mode, request).await?;
        filters.within = self.narrowing(context, org)?;
        let needed = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .saturating_add(limit);
        let search = |exact_limit: usize| {
            let semantic = vector.as_deref().map(|vector| nexus_search::Semantic {
                vector,
                threshold: self.search_indexes.min_similarity,
                exact_limit,
            });
            entry
                .index
                .search(query.as_ref(), semantic, &filters)
                .map_err(index_error)
        };
        let mut matches = search(self.exact_limit(context)?)?;
        // Graphs answer a bounded number of neighbours: when that may leave the page short
        // (or hide whether another page exists), every candidate is compared instead.
        if matches.neighbours == (Neighbours::Approximate { complete: false })
            && self.readable(context, &matches.semantic)?.len() <= needed
        {
            matches = search(usize::MAX)?;
        }
        let approximate = matches.neighbours != Neighbours::Exact;
        // Only what the page needs is put in order; fusion needs whole rankings.
        let top = (mode != SearchMode::Hybrid).then_some(needed);
        let keyword = rank(self.readable(context, &matches.candidates)?, top);
        let semantic = rank(self.readable(context, &matches.semantic)?, top);
        let ranked = match mode {
            SearchMode::Keyword => keyword,
            SearchMode::Semantic => semantic,
            SearchMode::Hybrid => fuse(&[keyword, semantic]),
        };
        let total = ranked.len() as u64;
        // Counted over exactly what `total` counts: the readable matches.
        let facets = facets(&ranked);
        let start = usize::try_from(offset).unwrap_or(usize::MAX);
        let end = start.saturating_add(limit);
        let hits = self
            .hits(
                context,
                request.explain,
                &entry,
                &matches,
                ranked.iter().skip(start).take(limit).copied(),
            )
            .await?;
        let next_cursor = (end < ranked.len()).then(|| self.authz.keys().issue(&scope, end as u64));
        Ok(SearchResponse {
            hits,
            total,
            next_cursor,
            mode,
            notice,
            indexed_revision,
            facets,
            approximate,
        })
    }

    /// Up to how many candidates the caller's semantic searches compare every vector. A
    /// graph's window of nearest neighbours is taken over every document: were some
    /// unreadable to the caller, how many readable ones it holds (and so `total`, the
    /// facets, the pages and the fused ranking) would depend on them. Graphs therefore serve
    /// only a caller who reads every document (the system administrator); anyone else is
    /// answered exactly.
    fn exact_limit(self, context: &CallContext) -> Result<usize, FsError> {
        let reads_everything = self.authz.checker(&self.authz.engine(), context)?.is_none()
            || self.authz.faults().graphs_for_everyone();
        Ok(if reads_everything {
            self.search_indexes.exact_limit
        } else {
            usize::MAX
        })
    }

    /// The candidates the caller may read now (unranked): each checked against the
    /// engine's current state with one shared checker; expired Temp items are out.
    fn readable<'m>(
        self,
        context: &CallContext,
        candidates: &'m [Candidate],
    ) -> Result<Vec<&'m Candidate>, FsError> {
        let now = Timestamp::now().as_micros();
        let engine = self.authz.engine();
        let mut checker = self.authz.checker(&engine, context)?;
        let unfiltered = self.authz.faults().unfiltered_search();
        Ok(candidates
            .iter()
            .filter(|candidate| candidate.expires.is_none_or(|expires| expires > now))
            .filter(|candidate| {
                unfiltered
                    || match &mut checker {
                        None => true,
                        // Indexed from the store's canonical paths: not parsed again.
                        Some(checker) => checker
                            .check_canonical(&candidate.path, Permission::Read.name())
                            .is_ok_and(|result| result == CheckResult::Has),
                    }
            })
            .collect())
    }

    /// The hits of a page: each still a file in the store (one deleted since the index
    /// last caught up is left out), with its stored fields and a snippet.
    async fn hits(
        self,
        context: &CallContext,
        explain: bool,
        entry: &OrgEntry,
        matches: &nexus_search::Matches,
        page: impl Iterator<Item = (f32, &Candidate)>,
    ) -> Result<Vec<SearchHit>, FsError> {
        let mut hits = Vec::new();
        for (score, candidate) in page {
            let Ok(path) = VfsPath::parse(&candidate.path) else {
                continue;
            };
            match self.store.node(&path).await? {
                Some(node) if !node.is_dir() => {}
                _ => continue,
            }
            let (stored, snippet) = entry
                .index
                .describe(matches, candidate.address, SNIPPET_CHARS)
                .map_err(index_error)?;
            hits.push(SearchHit {
                path: candidate.path.to_string(),
                key: stored.key,
                score,
                snippet,
                env: stored.env,
                kind: stored.kind,
                scope: stored.scope,
                modified: crate::entry::format_timestamp(Timestamp(stored.modified)),
                why: explain.then(|| self.why(context, &path)),
            });
        }
        Ok(hits)
    }

    /// Why the caller may read `path`: the relationship path in the engine's expansion of
    /// its `read`, from the document to the caller (for an agent acting for someone, then
    /// from the document to them). Empty when no single path can be drawn (the check
    /// allowed it all the same).
    fn why(self, context: &CallContext, path: &VfsPath) -> Vec<String> {
        if context.principal == crate::principal::Principal::System {
            return vec!["the system administrator reads everything".to_owned()];
        }
        let engine = self.authz.engine();
        let Ok(tree) = engine.expand(
            &crate::authz::file_object(path),
            Permission::Read.name(),
            true,
            crate::authz::now(),
        ) else {
            return Vec::new();
        };
        drop(engine);
        let mut steps = vec![format!("file:{path}")];
        let explain = |subject: &nexus_rebac::SubjectRef, steps: &mut Vec<String>| {
            if let Some(found) = path_to(&tree, subject) {
                steps.extend(found.into_iter().map(|step| self.shown(&step)));
            }
        };
        if let Some(subject) = self.authz.subject_of(&context.principal) {
            explain(&subject, &mut steps);
        }
        if context.on_behalf_of.is_some()
            && let Some(user) = self.authz.acting_for(context)
        {
            steps.push(format!(
                "acting for {}",
                self.display_subject(&user.to_string())
            ));
            explain(&user, &mut steps);
        }
        if steps.len() == 1 {
            return Vec::new();
        }
        steps
    }

    /// A step with its subject shown by handle where there is one.
    fn shown(self, step: &str) -> String {
        match step.split_once(" → ") {
            Some((relation, subject))
                if subject.starts_with("user:") || subject.starts_with("agent:") =>
            {
                format!("{relation} → {}", self.display_subject(subject))
            }
            _ => step.to_owned(),
        }
    }

    /// Where the caller's readable documents can be, a superset of them: the files and
    /// folders the engine's lookup finds the caller may read (a file readable through an
    /// ancestor's grant lies beneath that ancestor, which the lookup finds), and every
    /// knowledge item (readable through scope relations derived from its path, which the
    /// lookup does not enumerate). Every document it lets through is still checked, so it
    /// only spares scoring and checking documents that cannot be readable. `None` (not
    /// narrowed) for the system administrator, an agent acting for someone, an
    /// administrator of the organization (who reads through the organization, not through
    /// relationships on files), a lookup that could not evaluate every candidate, and more
    /// than [`MAX_NARROWING`] paths.
    fn narrowing(self, context: &CallContext, org: &OrgId) -> Result<Option<Vec<String>>, FsError> {
        if context.on_behalf_of.is_some() || self.authz.faults().unfiltered_search() {
            return Ok(None);
        }
        let Some(subject) = self.authz.subject_of(&context.principal) else {
            return Ok(None);
        };
        let engine = self.authz.engine();
        let at = crate::authz::now();
        let admin = engine.check(&nexus_rebac::CheckRequest {
            resource: &nexus_rebac::ObjectRef::new("org", org.as_str()),
            permission: "admin",
            subject: &subject,
            context: None,
            now: at,
        })?;
        if admin != CheckResult::No {
            return Ok(None);
        }
        let (found, failed) =
            engine.lookup_resources_partial("file", Permission::Read.name(), &subject, None, at)?;
        drop(engine);
        if !failed.is_empty() {
            return Ok(None);
        }
        let root = VfsPath::org_root(org).to_string();
        let inside = format!("{root}/");
        let mut within: Vec<String> = found
            .into_iter()
            .filter(|found| found.result != CheckResult::No)
            .map(|found| found.id)
            .filter(|id| *id == root || id.starts_with(&inside))
            .collect();
        if within.len() > MAX_NARROWING {
            return Ok(None);
        }
        within.push(format!("{root}/.nexus"));
        Ok(Some(within))
    }

    /// The checked filters of a request.
    fn filters(
        self,
        context: &CallContext,
        org: &OrgId,
        filters: &SearchFilters,
    ) -> Result<Filters, FsError> {
        let path_prefix = match &filters.path_prefix {
            None => None,
            Some(text) => {
                let path = VfsPath::parse(text)?;
                let root = VfsPath::org_root(org);
                if path != root && !path.as_str().starts_with(&format!("{root}/")) {
                    return Err(FsError::invalid(format!(
                        "`filters.path_prefix` must lie in organization `{org}`"
                    )));
                }
                Some(path.to_string())
            }
        };
        let env = filters
            .env
            .as_deref()
            .map(|env| {
                env.parse::<Environment>()
                    .map(|env| env.to_string())
                    .map_err(|_| {
                        FsError::invalid(format!(
                            "`filters.env`: `{}` is not an environment",
                            env.chars().take(40).collect::<String>()
                        ))
                    })
            })
            .transpose()?;
        let scope = filters
            .scope
            .as_deref()
            .map(|scope| {
                let known = scope == "personal"
                    || scope == "UNIV"
                    || ["s_", "u_", "a_"]
                        .iter()
                        .any(|prefix| scope.starts_with(prefix));
                if known {
                    self.requested_scope(context, scope)
                        .map(|scope| scope.to_string())
                } else {
                    // A person's handle: their stable id, or (someone unknown) a scope no
                    // item has. Either way the answer says nothing of who exists.
                    Ok(self.member_subject(scope).object.object_id.clone())
                }
            })
            .transpose()?;
        Ok(Filters {
            path_prefix,
            env,
            scope,
            kind: filters.kind.clone(),
            author: filters
                .author
                .as_deref()
                .map(|author| self.member_subject(author).to_string()),
            since: filters
                .since
                .as_deref()
                .map(|since| rfc3339("since", since))
                .transpose()?,
            until: filters
                .until
                .as_deref()
                .map(|until| rfc3339("until", until))
                .transpose()?,
            within: None,
        })
    }

    /// The organization's index, opened (and, when missing, of an old format or damaged,
    /// rebuilt from the store) on first use.
    async fn entry(self, org: &OrgId) -> Result<Arc<OrgEntry>, FsError> {
        if let Some(entry) = self.search_indexes.orgs.lock().get(org) {
            return Ok(entry.clone());
        }
        let _opening = self.search_indexes.opening.lock().await;
        if let Some(entry) = self.search_indexes.orgs.lock().get(org) {
            return Ok(entry.clone());
        }
        let Some(root) = &self.search_indexes.root else {
            return Err(FsError::Unavailable {
                message: "search is not available: this store has no place for its indexes"
                    .to_owned(),
            });
        };
        let dir = root.join(org.as_str());
        let (index, opened) =
            OrgIndex::open(&dir, self.search_indexes.embedder_id()).map_err(index_error)?;
        let entry = Arc::new(OrgEntry {
            index,
            sync: tokio::sync::Mutex::new(()),
        });
        if let Opened::Rebuilt { reason } = opened {
            tracing::info!(%org, %reason, "building the organization's search index");
            // Not in use before it is whole: a failed build is tried again next time.
            self.rebuild_entry(org, &entry).await?;
        }
        self.search_indexes
            .orgs
            .lock()
            .insert(org.clone(), entry.clone());
        Ok(entry)
    }

    /// Rebuilds the organization's index from the store (`nexus search reindex`); the
    /// system administrator only. Returns how many documents it holds.
    pub async fn reindex(self, context: &CallContext, org: &str) -> Result<u64, FsError> {
        Fs::require_system(context, "rebuilding a search index")?;
        let org = OrgId::parse(org)?;
        let entry = self.entry(&org).await?;
        self.rebuild_entry(&org, &entry).await?;
        Ok(entry.index.len())
    }

    async fn rebuild_entry(self, org: &OrgId, entry: &OrgEntry) -> Result<(), FsError> {
        let _writing = entry.sync.lock().await;
        // The feed's end before the walk: everything committed up to it is what the walk
        // reads (or newer); catching up later applies what follows.
        let head = self.feed_head(org).await?;
        let rebuilt = async {
            entry.index.clear().map_err(index_error)?;
            self.index_tree(&entry.index, &VfsPath::org_root(org))
                .await?;
            entry.index.commit(head).map_err(index_error)
        }
        .await;
        if rebuilt.is_err() {
            // Nothing of a half-done rebuild is ever committed.
            entry.index.rollback().map_err(index_error)?;
        }
        rebuilt
    }

    /// The last revision of the organization's change feed.
    async fn feed_head(self, org: &OrgId) -> Result<u64, FsError> {
        let mut after = 0;
        loop {
            let batch = self
                .store
                .file_changes(&nexus_store::ChangeQuery {
                    org: org.clone(),
                    after,
                    limit: FEED_BATCH,
                })
                .await?;
            match batch.last() {
                Some(last) => after = last.revision,
                None => return Ok(after),
            }
            if batch.len() < FEED_BATCH {
                return Ok(after);
            }
        }
    }

    /// Brings the organization's index up to its feed's end.
    pub async fn catch_up_org(self, org: &OrgId) -> Result<(), FsError> {
        let entry = self.entry(org).await?;
        self.catch_up(org, &entry).await
    }

    /// Builds now the graphs the organization's semantic searches beyond the exact limit
    /// use (searches otherwise build them in the background when first needed); how many
    /// index segments have one.
    pub async fn build_graphs(self, org: &OrgId) -> Result<usize, FsError> {
        let entry = self.entry(org).await?;
        let exact_limit = self.search_indexes.exact_limit;
        tokio::task::spawn_blocking(move || entry.index.build_graphs(exact_limit))
            .await
            .map_err(|error| FsError::Unavailable {
                message: format!("building the search graphs failed: {error}"),
            })?
            .map_err(index_error)
    }

    async fn catch_up(self, org: &OrgId, entry: &OrgEntry) -> Result<(), FsError> {
        let _writing = entry.sync.lock().await;
        loop {
            let after = entry.index.applied();
            let batch = self
                .store
                .file_changes(&nexus_store::ChangeQuery {
                    org: org.clone(),
                    after,
                    limit: FEED_BATCH,
                })
                .await?;
            let Some(last) = batch.last().map(|record| record.revision) else {
                return Ok(());
            };
            let mut removed = Vec::new();
            let mut touched = BTreeSet::new();
            let root = VfsPath::org_root(org);
            let inside =
                |path: &VfsPath| *path == root || path.as_str().starts_with(&format!("{root}/"));
            for record in &batch {
                // A record naming another organization's path (never written by this
                // server) is not followed there.
                if !inside(&record.path) || record.to.as_ref().is_some_and(|to| !inside(to)) {
                    tracing::warn!(%org, path = %record.path, "a change outside the organization is not indexed");
                    continue;
                }
                match (record.action.as_str(), &record.to) {
                    (_, Some(to)) => {
                        removed.push(record.path.clone());
                        touched.insert(to.clone());
                    }
                    ("removed", None) => removed.push(record.path.clone()),
                    ("shared", None) => {}
                    (_, None) => {
                        touched.insert(record.path.clone());
                    }
                }
            }
            let applied = async {
                for path in &removed {
                    entry.index.remove(path.as_str());
                }
                let mut documents = Vec::new();
                for path in &touched {
                    match self.store.node(path).await? {
                        Some(node) if node.is_dir() => {
                            self.index_tree(&entry.index, path).await?;
                        }
                        Some(node) => match self.document_or_name(&node).await {
                            Some(document) => documents.push(document),
                            None => entry.index.remove(path.as_str()),
                        },
                        None => entry.index.remove(path.as_str()),
                    }
                }
                self.add(&entry.index, documents).await?;
                entry.index.commit(last).map_err(index_error)
            }
            .await;
            if let Err(error) = applied {
                entry.index.rollback().map_err(index_error)?;
                return Err(error);
            }
            if batch.len() < FEED_BATCH {
                return Ok(());
            }
        }
    }

    /// Indexes every file under `dir`.
    async fn index_tree(self, index: &OrgIndex, dir: &VfsPath) -> Result<(), FsError> {
        let mut after = None;
        loop {
            let page = self
                .store
                .list(&ListQuery {
                    dir: dir.clone(),
                    recursive: true,
                    after: after.take(),
                    limit: WALK_BATCH,
                })
                .await?;
            let mut documents = Vec::new();
            for node in &page {
                if node.is_dir() {
                    continue;
                }
                match self.document_or_name(node).await {
                    Some(document) => documents.push(document),
                    None => index.remove(node.path.as_str()),
                }
            }
            self.add(index, documents).await?;
            if page.len() < WALK_BATCH {
                return Ok(());
            }
            after = page.last().map(|node| node.path.clone());
        }
    }

    /// Adds or replaces documents, embedded first when there is an embedder (a failure to
    /// embed fails the whole step, which then commits nothing and is tried again).
    async fn add(self, index: &OrgIndex, mut documents: Vec<Document>) -> Result<(), FsError> {
        if let Some(embedder) = &self.search_indexes.embedder {
            for chunk in documents.chunks_mut(EMBED_BATCH) {
                let texts: Vec<String> = chunk
                    .iter()
                    .map(|document| {
                        format!("{}\n{}", document.name, document.text)
                            .chars()
                            .take(EMBED_CHARS)
                            .collect()
                    })
                    .collect();
                let vectors = match embed_batch(embedder, texts.clone()).await {
                    Ok(vectors) => vectors.into_iter().map(Some).collect(),
                    // Refused for good: one by one, and a document refused alone is
                    // indexed without a vector (found by its words only), so it never
                    // holds the organization's index back.
                    Err(nexus_search::EmbedError::Refused(_)) => {
                        let mut one_by_one = Vec::with_capacity(texts.len());
                        for (text, document) in texts.iter().zip(chunk.iter()) {
                            match embedder.embed(std::slice::from_ref(text)).await {
                                Ok(mut vector) => one_by_one.push(vector.pop()),
                                Err(nexus_search::EmbedError::Refused(reason)) => {
                                    tracing::warn!(path = %document.path, %reason, "indexed without a vector");
                                    one_by_one.push(None);
                                }
                                Err(error) => return Err(embed_error(error)),
                            }
                        }
                        one_by_one
                    }
                    Err(error) => return Err(embed_error(error)),
                };
                if vectors.len() != chunk.len()
                    || vectors
                        .iter()
                        .flatten()
                        .any(|vector| vector.len() != embedder.dimensions())
                {
                    return Err(FsError::Unavailable {
                        message: "semantic search: the embedder answered vectors of the wrong number or length".to_owned(),
                    });
                }
                for (document, vector) in chunk.iter_mut().zip(vectors) {
                    document.vector = vector;
                }
            }
        }
        for document in &documents {
            index.upsert(document).map_err(index_error)?;
        }
        Ok(())
    }

    /// The document of a file, or none (internal files under `.nexus/` that are not items
    /// are not searchable).
    async fn document_or_name(self, node: &Node) -> Option<Document> {
        match self.document(node).await {
            Ok(document) => document,
            // One unreadable file (content that is not what its place says) never stops
            // the organization's index: it is found by name only.
            Err(error) => {
                tracing::warn!(path = %node.path, %error, "indexed by name only");
                Some(Document {
                    path: node.path.to_string(),
                    name: node
                        .path
                        .as_str()
                        .rsplit('/')
                        .next()
                        .unwrap_or_default()
                        .to_owned(),
                    author: Some(node.author.clone()),
                    modified: node.modified_at.as_micros(),
                    ..Document::default()
                })
            }
        }
    }

    /// What the index holds of a file.
    async fn document(self, node: &Node) -> Result<Option<Document>, FsError> {
        let path = node.path.as_str();
        let name = path.rsplit('/').next().unwrap_or_default().to_owned();
        let mut document = Document {
            path: path.to_owned(),
            name,
            author: Some(node.author.clone()),
            modified: node.modified_at.as_micros(),
            ..Document::default()
        };
        if path.contains("/.nexus/") || path.ends_with("/.nexus") {
            let Ok((_, key)) = ItemKey::from_path(&node.path) else {
                return Ok(None);
            };
            let item = self.items().searchable(node).await?;
            document.key = Some(key.to_string());
            document.env = Some(key.env.to_string());
            document.kind = Some(key.kind.clone());
            document.scope = Some(key.scope.to_string());
            document.name = format!("{} {}", key.kind, key.id);
            document.expires = super::knowledge::data::expires_at(key.env, &item.data)
                .map(|at| at.timestamp_micros());
            json_text(&item.data, &mut document.text);
            return Ok(Some(document));
        }
        let content = if node.size > MAX_INDEXED_BYTES {
            self.store.read_range(node, 0..MAX_INDEXED_BYTES).await?
        } else {
            self.store.read(node).await?
        };
        let sniff = content.get(..BINARY_SNIFF_BYTES).unwrap_or(&content);
        if sniff.contains(&0) {
            return Ok(Some(document));
        }
        let text = match std::str::from_utf8(&content) {
            Ok(text) => text,
            // Cut inside a character at the limit: up to the last whole one.
            Err(error) if error.error_len().is_none() => {
                std::str::from_utf8(content.get(..error.valid_up_to()).unwrap_or_default())
                    .unwrap_or_default()
            }
            Err(_) => return Ok(Some(document)),
        };
        let json = std::path::Path::new(path)
            .extension()
            .is_some_and(|extension| extension.eq_ignore_ascii_case("json"));
        if json && let Ok(value) = serde_json::from_str::<serde_json::Value>(text) {
            json_text(&value, &mut document.text);
        } else {
            text.clone_into(&mut document.text);
        }
        Ok(Some(document))
    }

    /// Keeps every organization's index current from now on, in a background task: after
    /// each commit, the indexes opened so far catch up (and every organization's is opened
    /// at start). Searches then answer without waiting unless they ask for consistency.
    pub fn spawn_indexer(self) -> tokio::task::JoinHandle<()> {
        let fs = self.fs.clone();
        fs.search_indexes.background.store(true, Ordering::Release);
        tokio::spawn(async move {
            let mut commits = fs.changes().subscribe();
            if let Ok(orgs) = fs.orgs().list(&CallContext::system()).await {
                for org in orgs
                    .iter()
                    .filter_map(|record| OrgId::parse(&record.org_id).ok())
                {
                    if let Err(error) = fs.search().catch_up_org(&org).await {
                        tracing::error!(%org, %error, "the search index could not be built");
                    }
                }
            }
            loop {
                let orgs: Vec<OrgId> = fs.search_indexes.orgs.lock().keys().cloned().collect();
                for org in orgs {
                    if let Err(error) = fs.search().catch_up_org(&org).await {
                        tracing::error!(%org, %error, "the search index could not catch up");
                    }
                }
                if commits.changed().await.is_err() {
                    return;
                }
            }
        })
    }
}
