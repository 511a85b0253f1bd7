//! Per-segment columns decoded once into memory (segments never change once written):
//! documents' paths, and their vectors (kept in the index as a bytes column of
//! little-endian `f32`s), compared exactly with a query's vector.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;
use tantivy::collector::{Collector, SegmentCollector};
use tantivy::index::SegmentId;
use tantivy::{DocId, Score, SegmentOrdinal, SegmentReader};

use super::{AllMatches, Candidate, SegmentMatches};
use crate::graph::GraphCache;

/// A vector as stored.
pub(crate) fn to_bytes(vector: &[f32]) -> Vec<u8> {
    vector.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn from_bytes(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|chunk| <[u8; 4]>::try_from(chunk).map_or(0.0, f32::from_le_bytes))
        .collect()
}

/// The vectors of one segment, by document: `dimensions` values each, zero-length when a
/// document has none.
#[derive(Debug, Default)]
pub(crate) struct SegmentVectors {
    dimensions: usize,
    values: Vec<f32>,
    present: Vec<bool>,
}

impl SegmentVectors {
    pub(crate) fn load(reader: &SegmentReader, field: &str) -> tantivy::Result<SegmentVectors> {
        let Some(column) = reader.fast_fields().bytes(field)? else {
            return Ok(SegmentVectors::default());
        };
        // Each distinct value once, in the dictionary's order (its ordinal).
        let mut by_ord = Vec::with_capacity(column.num_terms());
        let mut stream = column.dictionary().stream()?;
        while stream.advance() {
            by_ord.push(from_bytes(stream.key()));
        }
        let dimensions = by_ord.first().map_or(0, Vec::len);
        let docs = reader.max_doc() as usize;
        let mut vectors = SegmentVectors {
            dimensions,
            values: vec![0.0; docs * dimensions],
            present: vec![false; docs],
        };
        for doc in 0..reader.max_doc() {
            let Some(vector) = column
                .term_ords(doc)
                .next()
                .and_then(|ord| by_ord.get(usize::try_from(ord).ok()?))
            else {
                continue;
            };
            let at = doc as usize;
            if vector.len() != dimensions {
                continue;
            }
            if let (Some(slot), Some(present)) = (
                vectors
                    .values
                    .get_mut(at * dimensions..(at + 1) * dimensions),
                vectors.present.get_mut(at),
            ) {
                slot.copy_from_slice(vector);
                *present = true;
            }
        }
        Ok(vectors)
    }

    /// One vector alone (a query), as document 0.
    pub(crate) fn single(vector: &[f32]) -> SegmentVectors {
        SegmentVectors {
            dimensions: vector.len(),
            values: vector.to_vec(),
            present: vec![true],
        }
    }

    /// The documents that have a vector.
    pub(crate) fn documents(&self) -> impl Iterator<Item = DocId> + '_ {
        self.present
            .iter()
            .zip(0..)
            .filter_map(|(present, doc)| present.then_some(doc))
    }

    /// How many documents have a vector.
    pub(crate) fn len(&self) -> usize {
        self.present.iter().filter(|present| **present).count()
    }

    pub(crate) fn get(&self, doc: DocId) -> Option<&[f32]> {
        let at = doc as usize;
        if !self.present.get(at).copied().unwrap_or(false) {
            return None;
        }
        self.values
            .get(at * self.dimensions..(at + 1) * self.dimensions)
    }
}

/// The values of one text column (paths, environments...) of a segment's documents, by
/// document.
pub(crate) type SegmentPaths = Vec<Option<Arc<str>>>;

/// Reads every document's value of a text column of a segment (the dictionary once, in
/// order).
pub(crate) fn load_paths(reader: &SegmentReader, field: &str) -> tantivy::Result<SegmentPaths> {
    let docs = reader.max_doc() as usize;
    let Some(column) = reader.fast_fields().str(field)? else {
        return Ok(vec![None; docs]);
    };
    let mut by_ord: Vec<Arc<str>> = Vec::with_capacity(column.num_terms());
    let mut stream = column.dictionary().stream()?;
    while stream.advance() {
        by_ord.push(Arc::from(String::from_utf8_lossy(stream.key()).as_ref()));
    }
    Ok((0..reader.max_doc())
        .map(|doc| {
            column
                .term_ords(doc)
                .next()
                .and_then(|ord| by_ord.get(usize::try_from(ord).ok()?).cloned())
        })
        .collect())
}

/// The segments `searcher` uses.
pub(crate) fn live_segments(searcher: &tantivy::Searcher) -> std::collections::HashSet<SegmentId> {
    searcher
        .segment_readers()
        .iter()
        .map(SegmentReader::segment_id)
        .collect()
}

/// Decoded columns of the segments in use, one cache per kind.
#[derive(Debug)]
pub(crate) struct SegmentCache<T> {
    segments: Mutex<HashMap<SegmentId, Arc<T>>>,
}

impl<T> Default for SegmentCache<T> {
    fn default() -> Self {
        SegmentCache {
            segments: Mutex::new(HashMap::new()),
        }
    }
}

/// The cache of segments' vectors.
pub(crate) type VectorCache = SegmentCache<SegmentVectors>;

impl<T> SegmentCache<T> {
    /// The segment's decoded column, loaded by `load` the first time.
    pub(crate) fn get(
        &self,
        reader: &SegmentReader,
        load: impl FnOnce(&SegmentReader) -> tantivy::Result<T>,
    ) -> tantivy::Result<Arc<T>> {
        if let Some(found) = self.segments.lock().get(&reader.segment_id()) {
            return Ok(found.clone());
        }
        let loaded = Arc::new(load(reader)?);
        self.segments
            .lock()
            .insert(reader.segment_id(), loaded.clone());
        Ok(loaded)
    }

    /// How many segments are cached.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.segments.lock().len()
    }

    /// Forgets the segments `searcher` no longer uses (merged or emptied away).
    pub(crate) fn retain(&self, searcher: &tantivy::Searcher) {
        let live = live_segments(searcher);
        self.segments.lock().retain(|id, _| live.contains(id));
    }
}

/// Collects every matching document whose vector is at least `threshold` similar to
/// `query`, scored by that similarity: exactly, or (given `graphs`) from the graph of each
/// segment holding at least `min_graph` vectors.
pub(crate) struct Nearest<'a> {
    pub(crate) matches: AllMatches<'a>,
    pub(crate) cache: &'a VectorCache,
    pub(crate) field: &'static str,
    pub(crate) query: Arc<[f32]>,
    pub(crate) threshold: f32,
    pub(crate) graphs: Option<&'a Arc<GraphCache>>,
    pub(crate) min_graph: usize,
}

pub(crate) struct SegmentNearest {
    matches: SegmentMatches,
    vectors: Arc<SegmentVectors>,
    query: Arc<[f32]>,
    threshold: f32,
    /// From the segment's graph: the only documents that can match, with their similarity.
    neighbours: Option<HashMap<DocId, f32>>,
    /// Whether the graph may have left out documents as similar as asked.
    truncated: bool,
    /// Whether the segment was searched through its graph.
    approximate: bool,
}

/// What the nearest documents were found by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Neighbours {
    /// Every candidate's vector was compared.
    Exact,
    /// Some segments were searched through their graphs: `complete` when none of them had
    /// more neighbours as similar as asked than a graph search answers.
    Approximate { complete: bool },
}

impl Nearest<'_> {
    /// The nearest documents of the segment by its graph, when it is searched through one.
    fn neighbours(
        &self,
        reader: &SegmentReader,
        vectors: &Arc<SegmentVectors>,
    ) -> Option<(HashMap<DocId, f32>, bool)> {
        let graphs = self.graphs?;
        if vectors.len() < self.min_graph.max(1) {
            return None;
        }
        let graph = graphs.ready_or_start(reader.segment_id(), vectors)?;
        let nearest = graph.nearest(&self.query);
        // Every neighbour answered as similar as asked, and others left unanswered: some
        // of those may be as similar.
        let truncated = nearest.len() < graph.len()
            && nearest
                .last()
                .is_some_and(|(_, similarity)| *similarity >= self.threshold);
        Some((
            nearest
                .into_iter()
                .filter(|(_, similarity)| *similarity >= self.threshold)
                .collect(),
            truncated,
        ))
    }
}

impl Collector for Nearest<'_> {
    type Fruit = (Vec<Candidate>, Neighbours);
    type Child = SegmentNearest;

    fn for_segment(
        &self,
        segment: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<SegmentNearest> {
        let vectors = self
            .cache
            .get(reader, |reader| SegmentVectors::load(reader, self.field))?;
        let (neighbours, truncated) = match self.neighbours(reader, &vectors) {
            Some((neighbours, truncated)) => (Some(neighbours), truncated),
            None => (None, false),
        };
        Ok(SegmentNearest {
            matches: self.matches.for_segment(segment, reader)?,
            vectors,
            query: self.query.clone(),
            threshold: self.threshold,
            approximate: neighbours.is_some(),
            neighbours,
            truncated,
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    /// A segment searched through its graph visits only the neighbours it answered (each
    /// tested against the filters by seeking to it), not every document of the filters.
    fn collect_segment(
        &self,
        weight: &dyn tantivy::query::Weight,
        segment_ord: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<(Vec<Candidate>, Neighbours)> {
        let mut segment = self.for_segment(segment_ord, reader)?;
        let alive = |doc: DocId| {
            reader
                .alive_bitset()
                .is_none_or(|alive| alive.is_alive(doc))
        };
        match segment.neighbours.take() {
            None => weight.for_each_no_score(reader, &mut |docs| {
                for &doc in docs {
                    if alive(doc) {
                        segment.collect(doc, 0.0);
                    }
                }
            })?,
            Some(neighbours) => {
                let mut nearest: Vec<(DocId, f32)> = neighbours.into_iter().collect();
                nearest.sort_unstable_by_key(|(doc, _)| *doc);
                let mut filtered = weight.scorer(reader, 1.0)?;
                for (doc, similarity) in nearest {
                    let at = if filtered.doc() < doc {
                        filtered.seek(doc)
                    } else {
                        filtered.doc()
                    };
                    if at == doc && alive(doc) {
                        segment.matches.collect(doc, similarity);
                    }
                }
                segment.approximate = true;
            }
        }
        Ok(segment.harvest())
    }

    fn merge_fruits(
        &self,
        fruits: Vec<(Vec<Candidate>, Neighbours)>,
    ) -> tantivy::Result<(Vec<Candidate>, Neighbours)> {
        let mut by = Neighbours::Exact;
        let mut out = Vec::new();
        for (candidates, found) in fruits {
            out.extend(candidates);
            by = match (by, found) {
                (Neighbours::Exact, found) | (found, Neighbours::Exact) => found,
                (
                    Neighbours::Approximate { complete: a },
                    Neighbours::Approximate { complete: b },
                ) => Neighbours::Approximate { complete: a && b },
            };
        }
        Ok((out, by))
    }
}

impl SegmentCollector for SegmentNearest {
    type Fruit = (Vec<Candidate>, Neighbours);

    fn collect(&mut self, doc: DocId, _: Score) {
        let similarity = match &self.neighbours {
            Some(neighbours) => match neighbours.get(&doc) {
                Some(similarity) => *similarity,
                None => return,
            },
            None => match self.vectors.get(doc) {
                Some(vector) => super::similarity(&self.query, vector),
                None => return,
            },
        };
        if similarity >= self.threshold {
            self.matches.collect(doc, similarity);
        }
    }

    fn harvest(self) -> (Vec<Candidate>, Neighbours) {
        let found = if self.approximate {
            Neighbours::Approximate {
                complete: !self.truncated,
            }
        } else {
            Neighbours::Exact
        };
        (self.matches.harvest(), found)
    }
}
