//! In-memory caches in front of the metadata and blob stores.
//!
//! [`NodeCache`] holds metadata rows by path. It stays exact because this process is the only
//! writer of its data directory (the directory lock guarantees it) and every commit
//! invalidates what it changed before the writer answers. A reader that filled the cache from
//! the database races with commits, so each shard carries a generation: a fill is kept only
//! if no invalidation touched the shard since the reader looked (see [`NodeCache::fill`]).
//!
//! [`ListingCache`] holds complete directory listings by directory, under the same rule: a
//! commit invalidates the listing of the parent of every path it changed.
//!
//! [`ContentCache`] holds small blobs by hash. Blobs are immutable, so it never goes stale.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::Arc;

use bytes::Bytes;
use nexus_path::{OrgId, VfsPath};
use parking_lot::Mutex;

use crate::types::{ContentHash, Node};

const SHARDS: usize = 16;

#[derive(Debug, Default)]
struct NodeShard {
    nodes: HashMap<VfsPath, Node>,
    generation: u64,
}

/// Metadata rows by path; see the module documentation for the consistency argument.
#[derive(Debug)]
pub(crate) struct NodeCache {
    shards: Vec<Mutex<NodeShard>>,
    per_shard: usize,
    hasher: RandomState,
}

impl NodeCache {
    pub(crate) fn new(capacity: usize) -> Self {
        NodeCache {
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            per_shard: capacity.div_ceil(SHARDS).max(1),
            hasher: RandomState::new(),
        }
    }

    fn shard(&self, path: &VfsPath) -> &Mutex<NodeShard> {
        let index = usize::try_from(self.hasher.hash_one(path) % SHARDS as u64).unwrap_or(0);
        #[expect(
            clippy::indexing_slicing,
            reason = "index is reduced modulo SHARDS, the length"
        )]
        &self.shards[index]
    }

    pub(crate) fn get(&self, path: &VfsPath) -> Option<Node> {
        self.shard(path).lock().nodes.get(path).cloned()
    }

    /// The shard generation to pass to [`NodeCache::fill`] after reading the database.
    pub(crate) fn generation(&self, path: &VfsPath) -> u64 {
        self.shard(path).lock().generation
    }

    /// Caches a row read from the database, unless the shard was invalidated since
    /// `generation` was taken (the row may predate that commit).
    pub(crate) fn fill(&self, node: Node, generation: u64) {
        let mut shard = self.shard(&node.path).lock();
        if shard.generation != generation {
            return;
        }
        if shard.nodes.len() >= self.per_shard {
            // Evict an arbitrary eighth; hash order makes this close to random eviction.
            let evict = (self.per_shard / 8).max(1);
            let victims: Vec<VfsPath> = shard.nodes.keys().take(evict).cloned().collect();
            for victim in victims {
                shard.nodes.remove(&victim);
            }
        }
        shard.nodes.insert(node.path.clone(), node);
    }

    pub(crate) fn invalidate(&self, path: &VfsPath) {
        let mut shard = self.shard(path).lock();
        shard.nodes.remove(path);
        shard.generation += 1;
    }

    pub(crate) fn clear(&self) {
        for shard in &self.shards {
            let mut shard = shard.lock();
            shard.nodes.clear();
            shard.generation += 1;
        }
    }
}

#[derive(Debug, Default)]
struct ListingShard {
    listings: HashMap<VfsPath, Arc<Vec<Node>>>,
    /// Nodes held by this shard's listings.
    nodes: usize,
    generation: u64,
}

/// Complete listings (direct children, in path order) of recently listed directories.
#[derive(Debug)]
pub(crate) struct ListingCache {
    shards: Vec<Mutex<ListingShard>>,
    nodes_per_shard: usize,
    hasher: RandomState,
}

impl ListingCache {
    pub(crate) fn new(capacity_nodes: usize) -> Self {
        ListingCache {
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            nodes_per_shard: capacity_nodes / SHARDS,
            hasher: RandomState::new(),
        }
    }

    fn shard(&self, dir: &VfsPath) -> &Mutex<ListingShard> {
        let index = usize::try_from(self.hasher.hash_one(dir) % SHARDS as u64).unwrap_or(0);
        #[expect(
            clippy::indexing_slicing,
            reason = "index is reduced modulo SHARDS, the length"
        )]
        &self.shards[index]
    }

    pub(crate) fn get(&self, dir: &VfsPath) -> Option<Arc<Vec<Node>>> {
        self.shard(dir).lock().listings.get(dir).cloned()
    }

    /// The shard generation to pass to [`ListingCache::fill`] after reading the database.
    pub(crate) fn generation(&self, dir: &VfsPath) -> u64 {
        self.shard(dir).lock().generation
    }

    /// Caches the complete listing of `dir` read from the database, unless a commit
    /// invalidated the shard since `generation` was taken.
    pub(crate) fn fill(&self, dir: VfsPath, listing: Vec<Node>, generation: u64) {
        let size = listing.len().max(1);
        if size > self.nodes_per_shard {
            return;
        }
        let mut shard = self.shard(&dir).lock();
        if shard.generation != generation {
            return;
        }
        while shard.nodes + size > self.nodes_per_shard {
            let Some(victim) = shard.listings.keys().next().cloned() else {
                break;
            };
            if let Some(evicted) = shard.listings.remove(&victim) {
                shard.nodes -= evicted.len().max(1);
            }
        }
        shard.nodes += size;
        if let Some(previous) = shard.listings.insert(dir, Arc::new(listing)) {
            shard.nodes -= previous.len().max(1);
        }
    }

    pub(crate) fn invalidate(&self, dir: &VfsPath) {
        let mut shard = self.shard(dir).lock();
        if let Some(evicted) = shard.listings.remove(dir) {
            shard.nodes -= evicted.len().max(1);
        }
        shard.generation += 1;
    }

    pub(crate) fn clear(&self) {
        for shard in &self.shards {
            let mut shard = shard.lock();
            shard.listings.clear();
            shard.nodes = 0;
            shard.generation += 1;
        }
    }
}

#[derive(Debug, Default)]
struct ContentShard {
    /// By hash; the organization is kept beside the bytes and must match on lookup (two
    /// organizations holding the same content simply take turns in the slot).
    blobs: HashMap<ContentHash, (OrgId, Bytes)>,
    bytes: usize,
}

/// Small immutable blobs by (organization, hash), bounded in total bytes.
#[derive(Debug)]
pub(crate) struct ContentCache {
    shards: Vec<Mutex<ContentShard>>,
    per_shard_bytes: usize,
    max_entry: usize,
    hasher: RandomState,
}

impl ContentCache {
    pub(crate) fn new(budget_bytes: usize, max_entry: usize) -> Self {
        ContentCache {
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            per_shard_bytes: budget_bytes / SHARDS,
            max_entry,
            hasher: RandomState::new(),
        }
    }

    fn shard(&self, hash: &ContentHash) -> &Mutex<ContentShard> {
        let index = usize::try_from(self.hasher.hash_one(hash) % SHARDS as u64).unwrap_or(0);
        #[expect(
            clippy::indexing_slicing,
            reason = "index is reduced modulo SHARDS, the length"
        )]
        &self.shards[index]
    }

    pub(crate) fn get(&self, org: &OrgId, hash: &ContentHash) -> Option<Bytes> {
        let shard = self.shard(hash).lock();
        match shard.blobs.get(hash) {
            Some((owner, content)) if owner == org => Some(content.clone()),
            _ => None,
        }
    }

    /// Caches verified content (ignored when larger than an entry may be).
    pub(crate) fn insert(&self, org: &OrgId, hash: ContentHash, content: &Bytes) {
        if content.len() > self.max_entry || content.len() > self.per_shard_bytes {
            return;
        }
        let mut shard = self.shard(&hash).lock();
        while shard.bytes + content.len() > self.per_shard_bytes {
            let Some(victim) = shard.blobs.keys().next().copied() else {
                break;
            };
            if let Some((_, evicted)) = shard.blobs.remove(&victim) {
                shard.bytes -= evicted.len();
            }
        }
        if let Some((_, previous)) = shard.blobs.insert(hash, (org.clone(), content.clone())) {
            shard.bytes -= previous.len();
        }
        shard.bytes += content.len();
    }

    pub(crate) fn remove(&self, org: &OrgId, hash: &ContentHash) {
        let mut shard = self.shard(hash).lock();
        if shard.blobs.get(hash).is_some_and(|(owner, _)| owner == org)
            && let Some((_, evicted)) = shard.blobs.remove(hash)
        {
            shard.bytes -= evicted.len();
        }
    }
}
