//! Approximate nearest neighbours: a navigable small-world graph (HNSW, by
//! `instant-distance`) over the vectors of one index segment. Segments never change once
//! written, so a graph is built once per segment (in the background, while searches of that
//! segment stay exact) and forgotten with it.
//!
//! A graph answers the `EF_SEARCH` documents nearest to a query among all of the segment's
//! vectors (deleted documents, and documents outside the caller's filters, included: the
//! search drops them afterwards, and every hit is checked against the permission engine
//! like any other).

use std::collections::HashMap;
use std::sync::Arc;

use instant_distance::{Builder, HnswMap, Search};
use parking_lot::Mutex;
use tantivy::DocId;
use tantivy::index::SegmentId;

use crate::vectors::SegmentVectors;

/// How many neighbours a graph search answers (the `ef` of the HNSW paper).
const EF_SEARCH: usize = 256;
/// How many neighbours each vector is linked from while the graph is built.
const EF_CONSTRUCTION: usize = 64;
/// Segments holding fewer vectors than this are always compared exactly (their graphs would
/// be rebuilt at every merge for little gain).
pub(crate) const MIN_GRAPH_VECTORS: usize = 4096;
/// The seed of the graphs' layer assignment: the same segment gives the same graph.
const SEED: u64 = 0x6e65_7875_735f_6876;

/// One vector of a segment (or the query): distance is one minus the cosine similarity.
#[derive(Clone)]
struct Point {
    vectors: Arc<SegmentVectors>,
    doc: DocId,
}

impl instant_distance::Point for Point {
    fn distance(&self, other: &Self) -> f32 {
        match (self.vectors.get(self.doc), other.vectors.get(other.doc)) {
            (Some(a), Some(b)) => 1.0 - crate::similarity(a, b),
            _ => f32::MAX,
        }
    }
}

/// The graph of one segment's vectors.
pub(crate) struct SegmentGraph {
    map: HnswMap<Point, DocId>,
}

impl SegmentGraph {
    /// The graph of every document of `vectors` that has one.
    fn build(vectors: &Arc<SegmentVectors>) -> SegmentGraph {
        let docs: Vec<DocId> = vectors.documents().collect();
        let points = docs
            .iter()
            .map(|&doc| Point {
                vectors: vectors.clone(),
                doc,
            })
            .collect();
        let map = Builder::default()
            .ef_search(EF_SEARCH)
            .ef_construction(EF_CONSTRUCTION)
            .seed(SEED)
            .build(points, docs);
        SegmentGraph { map }
    }

    /// How many vectors the graph holds.
    pub(crate) fn len(&self) -> usize {
        self.map.values.len()
    }

    /// The documents nearest to `query`, nearest first, with their similarity.
    pub(crate) fn nearest(&self, query: &[f32]) -> Vec<(DocId, f32)> {
        let query_vector = query;
        let query = Point {
            vectors: Arc::new(SegmentVectors::single(query)),
            doc: 0,
        };
        let mut search = Search::default();
        self.map
            .search(&query, &mut search)
            .map(|item| {
                // The exact similarity, as an exhaustive search computes it.
                let similarity = item
                    .point
                    .vectors
                    .get(item.point.doc)
                    .map_or(1.0 - item.distance, |vector| {
                        crate::similarity(query_vector, vector)
                    });
                (*item.value, similarity)
            })
            .collect()
    }
}

enum Slot {
    Building,
    Ready(Arc<SegmentGraph>),
}

/// The graphs of the segments in use.
#[derive(Default)]
pub(crate) struct GraphCache {
    segments: Mutex<HashMap<SegmentId, Slot>>,
}

impl GraphCache {
    /// The segment's graph if it is built; if not, starts building it in the background
    /// (once) and answers `None` meanwhile.
    pub(crate) fn ready_or_start(
        self: &Arc<Self>,
        segment: SegmentId,
        vectors: &Arc<SegmentVectors>,
    ) -> Option<Arc<SegmentGraph>> {
        {
            let mut segments = self.segments.lock();
            match segments.get(&segment) {
                Some(Slot::Ready(graph)) => return Some(graph.clone()),
                Some(Slot::Building) => return None,
                None => {
                    segments.insert(segment, Slot::Building);
                }
            }
        }
        let cache = Arc::clone(self);
        let vectors = vectors.clone();
        let started = std::thread::Builder::new()
            .name("nexus-search-graph".to_owned())
            .spawn(move || cache.finish(segment, &vectors));
        if let Err(error) = started {
            tracing::warn!(%error, "a search graph could not be built; the segment stays exact");
            self.segments.lock().remove(&segment);
        }
        None
    }

    /// Builds the segment's graph now, unless it is built (or being built elsewhere).
    pub(crate) fn build_now(&self, segment: SegmentId, vectors: &Arc<SegmentVectors>) {
        {
            let mut segments = self.segments.lock();
            if segments.contains_key(&segment) {
                return;
            }
            segments.insert(segment, Slot::Building);
        }
        self.finish(segment, vectors);
    }

    fn finish(&self, segment: SegmentId, vectors: &Arc<SegmentVectors>) {
        let built = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            SegmentGraph::build(vectors)
        }));
        let Ok(graph) = built else {
            // Not left marked as being built: the next search that needs it tries again.
            tracing::warn!("a search graph could not be built; the segment stays exact");
            self.segments.lock().remove(&segment);
            return;
        };
        let graph = Arc::new(graph);
        let mut segments = self.segments.lock();
        // A segment merged away while its graph was built is not brought back.
        if let Some(slot) = segments.get_mut(&segment) {
            *slot = Slot::Ready(graph);
        }
    }

    /// Whether the segment's graph is built.
    pub(crate) fn is_ready(&self, segment: SegmentId) -> bool {
        matches!(self.segments.lock().get(&segment), Some(Slot::Ready(_)))
    }

    /// How many segments have a graph (or one being built).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.segments.lock().len()
    }

    /// Forgets the segments `searcher` no longer uses.
    pub(crate) fn retain(&self, searcher: &tantivy::Searcher) {
        let live = crate::vectors::live_segments(searcher);
        self.segments.lock().retain(|id, _| live.contains(id));
    }
}
