//! Search: `POST /api/orgs/{org}/search`, keyword (and, with an embedder, semantic and
//! hybrid) retrieval over the files and knowledge items the caller may read.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// How results are found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SearchMode {
    /// BM25 over words, phrases and prefixes.
    #[default]
    Keyword,
    /// Nearest neighbours of the query's embedding (needs an embedder; refused without).
    Semantic,
    /// Keyword and semantic results fused by reciprocal rank (keyword only without an
    /// embedder, said in `notice`).
    Hybrid,
}

impl std::str::FromStr for SearchMode {
    type Err = String;

    /// `keyword`, `semantic` or `hybrid`, as in requests.
    fn from_str(text: &str) -> Result<SearchMode, String> {
        match text {
            "keyword" => Ok(SearchMode::Keyword),
            "semantic" => Ok(SearchMode::Semantic),
            "hybrid" => Ok(SearchMode::Hybrid),
            other => Err(format!(
                "`{}` is not `keyword`, `semantic` or `hybrid`",
                other.chars().take(40).collect::<String>()
            )),
        }
    }
}

/// A named consistency level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConsistencyLevel {
    /// Answer from the index as it is (it trails commits by the reported lag).
    MinimizeLatency,
    /// Answer once the index reflects every change committed before the request.
    FullyConsistent,
}

/// How fresh the index must be for the answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum Consistency {
    Level(ConsistencyLevel),
    /// At least as fresh as a revision token from an earlier response.
    AtLeast(AtLeast),
}

/// `{"at_least": "<revision token>"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AtLeast {
    pub at_least: String,
}

/// Narrowing of a search; all given must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchFilters {
    /// A folder (everything under it) or a file, e.g. `/orgs/acme/eng/`.
    #[serde(default)]
    pub path_prefix: Option<String>,
    /// A knowledge environment (`kb`, `context`...): knowledge items only.
    #[serde(default)]
    pub env: Option<String>,
    /// An item scope: `UNIV`, a session id, or a person (`alice@acme.com` or `u_k3x9`).
    #[serde(default)]
    pub scope: Option<String>,
    /// An item kind (`note`, `node`...).
    #[serde(default)]
    pub kind: Option<String>,
    /// Who last changed it (`alice@acme.com`, `agent:notes-bot`).
    #[serde(default)]
    pub author: Option<String>,
    /// Changed at or after (RFC 3339).
    #[serde(default)]
    pub since: Option<String>,
    /// Changed before (RFC 3339).
    #[serde(default)]
    pub until: Option<String>,
}

/// `POST /api/orgs/{org}/search`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchRequest {
    /// Words (all must match; stemmed), `"quoted phrases"`, `prefix*`, `-excluded`.
    #[schema(example = "deploy \"payment service\"")]
    pub query: String,
    #[serde(default)]
    pub mode: Option<SearchMode>,
    #[serde(default)]
    pub filters: SearchFilters,
    /// Hits per page (10 when absent, at most 100).
    #[serde(default)]
    pub limit: Option<usize>,
    /// `next_cursor` of an earlier page of the same search.
    #[serde(default)]
    pub cursor: Option<String>,
    /// `minimize_latency` when absent.
    #[serde(default)]
    pub consistency: Option<Consistency>,
    /// Say, on each hit, why the caller may read it (`why`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub explain: bool,
}

/// One result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SearchHit {
    /// The file (for knowledge items, the file that holds the item).
    pub path: String,
    /// The knowledge item's key, for items.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Relevance (higher is better; comparable within one search only).
    pub score: f32,
    /// Text around what matched (plain text, never markup).
    pub snippet: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// Last change, RFC 3339.
    pub modified: String,
    /// With `explain`: why the caller may read it, the relationship path from the document
    /// to the caller in the permission engine, one step a line: the document, then each
    /// hop (`parent → file:/orgs/acme/eng`, `viewer → group:acme-eng#member`), ending at
    /// the caller (`member → user:bob@acme.com`) or everyone (`user:*`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub why: Option<Vec<String>>,
}

/// The answer of `POST /api/orgs/{org}/search`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SearchResponse {
    pub hits: Vec<SearchHit>,
    /// How many documents the caller may read match (all pages).
    pub total: u64,
    /// Pass as `cursor` for the next page; absent on the last one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
    /// The mode that answered.
    pub mode: SearchMode,
    /// Something the caller should know about the answer (e.g. no embedder is configured).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notice: Option<String>,
    /// The organization's change-feed revision the index reflected when it answered.
    pub indexed_revision: u64,
    /// How many of the matches the caller may read (all pages: `total`'s) are knowledge
    /// items of each environment, kind and scope.
    #[serde(default, skip_serializing_if = "SearchFacets::is_empty")]
    pub facets: SearchFacets,
    /// Whether semantic neighbours were found through the index's graphs (a search of
    /// more candidates than the server compares exactly): the hits and `total` then count
    /// the readable neighbours found, which may leave out a few as similar.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub approximate: bool,
}

/// Counts of readable matches by a knowledge item's field (files have none).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SearchFacets {
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub env: std::collections::BTreeMap<String, u64>,
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub kind: std::collections::BTreeMap<String, u64>,
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub scope: std::collections::BTreeMap<String, u64>,
}

impl SearchFacets {
    /// Whether nothing is counted (no knowledge item matched).
    pub fn is_empty(&self) -> bool {
        self.env.is_empty() && self.kind.is_empty() && self.scope.is_empty()
    }
}

/// The answer of `POST /api/orgs/{org}/search/reindex`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ReindexReport {
    pub org: String,
    /// Documents in the rebuilt index.
    pub documents: u64,
}
