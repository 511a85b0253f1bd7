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
    fn load(reader: &SegmentReader, field: &str) -> tantivy::Result<SegmentVectors> {
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

    fn get(&self, doc: DocId) -> Option<&[f32]> {
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

    /// Forgets the segments `searcher` no longer uses (merged or emptied away).
    pub(crate) fn retain(&self, searcher: &tantivy::Searcher) {
        let live: std::collections::HashSet<SegmentId> = searcher
            .segment_readers()
            .iter()
            .map(SegmentReader::segment_id)
            .collect();
        self.segments.lock().retain(|id, _| live.contains(id));
    }
}

/// Collects every matching document whose vector is at least `threshold` similar to
/// `query`, scored by that similarity.
pub(crate) struct Nearest<'a> {
    pub(crate) matches: AllMatches<'a>,
    pub(crate) cache: &'a VectorCache,
    pub(crate) field: &'static str,
    pub(crate) query: Arc<[f32]>,
    pub(crate) threshold: f32,
}

pub(crate) struct SegmentNearest {
    matches: SegmentMatches,
    vectors: Arc<SegmentVectors>,
    query: Arc<[f32]>,
    threshold: f32,
}

impl Collector for Nearest<'_> {
    type Fruit = Vec<Candidate>;
    type Child = SegmentNearest;

    fn for_segment(
        &self,
        segment: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<SegmentNearest> {
        Ok(SegmentNearest {
            matches: self.matches.for_segment(segment, reader)?,
            vectors: self
                .cache
                .get(reader, |reader| SegmentVectors::load(reader, self.field))?,
            query: self.query.clone(),
            threshold: self.threshold,
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<Vec<Candidate>>) -> tantivy::Result<Vec<Candidate>> {
        Ok(fruits.into_iter().flatten().collect())
    }
}

impl SegmentCollector for SegmentNearest {
    type Fruit = Vec<Candidate>;

    fn collect(&mut self, doc: DocId, _: Score) {
        let Some(vector) = self.vectors.get(doc) else {
            return;
        };
        let similarity = super::similarity(&self.query, vector);
        if similarity >= self.threshold {
            self.matches.collect(doc, similarity);
        }
    }

    fn harvest(self) -> Vec<Candidate> {
        self.matches.harvest()
    }
}
