//! The in-memory relationship index.
//!
//! Strings are interned once; a relationship is four small integers and a subject relation.
//! Three views of the same set are kept in step:
//!
//! - `tuples`: relationship -> metadata (caveat, expiration), for exact membership tests;
//! - `forward`: (resource, relation) -> subjects, for walking usersets and arrows;
//! - `reverse`: subject -> (resource, relation), for lookups from a subject;
//! - `names`: per resource type, the ids of resources with relationships, kept in text order
//!   (lazily: new ids are appended and merged in by the next query that needs the order), for
//!   reading a path and everything beneath it without a scan. Four bytes per resource.

use std::hash::BuildHasher;
use std::sync::Arc;

use hashbrown::{HashMap, HashTable};
use smallvec::SmallVec;

use crate::caveat::CaveatContext;
use crate::schema::{CaveatId, RelationId, TypeId};

/// An interned object id.
pub(crate) type ObjectId = u32;
/// The object id of `type:*`.
pub(crate) const WILDCARD_ID: ObjectId = u32::MAX;
/// The subject relation of a plain object subject (`...`).
pub(crate) const NO_RELATION: RelationId = u16::MAX;
/// Object ids at or above this are per-query ids of strings not in the index.
pub(crate) const EPHEMERAL_BASE: ObjectId = 1 << 31;

/// An object: type and interned id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct Object {
    pub(crate) object_type: TypeId,
    pub(crate) id: ObjectId,
}

/// A subject: an object (`relation == NO_RELATION`), a userset, or `type:*`.
#[expect(
    clippy::struct_field_names,
    reason = "`subject.subject_type` mirrors the schema's naming"
)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct Subject {
    pub(crate) subject_type: TypeId,
    pub(crate) relation: RelationId,
    pub(crate) id: ObjectId,
}

impl Subject {
    pub(crate) fn object(self) -> Object {
        Object {
            object_type: self.subject_type,
            id: self.id,
        }
    }

    pub(crate) fn wildcard_of(subject_type: TypeId) -> Subject {
        Subject {
            subject_type,
            relation: NO_RELATION,
            id: WILDCARD_ID,
        }
    }
}

/// `resource#relation@subject`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct TupleKey {
    pub(crate) resource: Object,
    pub(crate) relation: RelationId,
    pub(crate) subject: Subject,
}

/// A caveat on a stored relationship: which one, and the context fixed at write time.
pub(crate) type StoredCaveat = (CaveatId, Option<Arc<CaveatContext>>);

/// What a relationship carries besides its key; most carry nothing.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TupleMeta {
    pub(crate) caveat: Option<StoredCaveat>,
    pub(crate) expires_at: Option<i64>,
}

/// Strings to dense ids; each string is stored once, all of them in one buffer (a string
/// costs its bytes plus one offset, not an allocation of its own).
#[derive(Debug, Default)]
pub(crate) struct Interner {
    bytes: String,
    /// Where each string ends in `bytes`; it starts where the previous one ends.
    ends: Vec<usize>,
    table: HashTable<ObjectId>,
    hasher: hashbrown::DefaultHashBuilder,
}

impl Interner {
    pub(crate) fn get(&self, text: &str) -> Option<ObjectId> {
        let hash = self.hasher.hash_one(text);
        self.table
            .find(hash, |id| self.resolve(*id) == Some(text))
            .copied()
    }

    pub(crate) fn intern(&mut self, text: &str) -> ObjectId {
        if let Some(id) = self.get(text) {
            return id;
        }
        let id = ObjectId::try_from(self.ends.len())
            .unwrap_or(EPHEMERAL_BASE - 1)
            .min(EPHEMERAL_BASE - 1);
        self.bytes.push_str(text);
        self.ends.push(self.bytes.len());
        let hash = self.hasher.hash_one(text);
        let (hasher, bytes, ends) = (&self.hasher, &self.bytes, &self.ends);
        self.table.insert_unique(hash, id, |existing| {
            hasher.hash_one(span(bytes, ends, *existing).unwrap_or(""))
        });
        id
    }

    pub(crate) fn resolve(&self, id: ObjectId) -> Option<&str> {
        span(&self.bytes, &self.ends, id)
    }

    pub(crate) fn len(&self) -> usize {
        self.ends.len()
    }
}

/// The `id`th string of an interner's buffer.
fn span<'a>(bytes: &'a str, ends: &[usize], id: ObjectId) -> Option<&'a str> {
    let index = id as usize;
    let end = *ends.get(index)?;
    let start = match index.checked_sub(1) {
        Some(previous) => *ends.get(previous)?,
        None => 0,
    };
    bytes.get(start..end)
}

/// Most lists hold one or two entries: those live inline in the map, without an allocation.
type SubjectList = SmallVec<[Subject; 2]>;

/// The presence bit of a relation, for relation ids below 64.
fn presence_bit(relation: RelationId) -> Option<u64> {
    (relation < 64).then(|| 1_u64 << relation)
}
type ResourceList = SmallVec<[(TypeId, RelationId, ObjectId); 2]>;

/// Ids of one type's resources with relationships: `ids[..sorted]` in text order without
/// duplicates, then ids appended since (which may repeat or have lost their relationships).
#[derive(Debug, Default)]
struct NameIndex {
    ids: Vec<ObjectId>,
    sorted: usize,
}

/// The relationship index.
#[derive(Debug, Default)]
pub(crate) struct Graph {
    pub(crate) interner: Interner,
    tuples: HashMap<TupleKey, Option<Arc<TupleMeta>>>,
    /// Subjects without a relation (objects and wildcards), by (type, relation, id).
    objects: HashMap<(TypeId, RelationId, ObjectId), SubjectList>,
    /// Userset subjects, by (type, relation, id).
    usersets: HashMap<(TypeId, RelationId, ObjectId), SubjectList>,
    reverse: HashMap<Subject, ResourceList>,
    /// Per object, a bit per relation (ids below 64) that has at least one subject: most
    /// objects have no relationships at all, and most relations of the rest are empty.
    presence: HashMap<Object, u64>,
    /// Per resource type, resources that have (or had) relationships; see [`NameIndex`].
    names: std::sync::Mutex<HashMap<TypeId, NameIndex>>,
    /// Incremented by every change: anything derived from the index is valid for one version.
    version: u64,
}

impl Graph {
    /// The version of the index (changes with every insert and removal).
    pub(crate) fn version(&self) -> u64 {
        self.version
    }

    /// An empty index reusing interned strings.
    pub(crate) fn with_interner(interner: Interner) -> Graph {
        Graph {
            interner,
            ..Graph::default()
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.tuples.len()
    }

    pub(crate) fn get(&self, key: &TupleKey) -> Option<&Option<Arc<TupleMeta>>> {
        self.tuples.get(key)
    }

    /// Inserts or replaces a relationship. Returns the previous metadata if it existed.
    pub(crate) fn insert(
        &mut self,
        key: TupleKey,
        meta: Option<Arc<TupleMeta>>,
    ) -> Option<Option<Arc<TupleMeta>>> {
        self.version += 1;
        let previous = self.tuples.insert(key, meta);
        // A resource is new to the name index unless it already had a relationship (known
        // exactly for relation ids below 64; above, a duplicate is dropped when sorting).
        let is_new_resource = previous.is_none() && !self.presence.contains_key(&key.resource);
        if previous.is_none() {
            let forward_key = (key.resource.object_type, key.relation, key.resource.id);
            let list = if key.subject.relation == NO_RELATION {
                self.objects.entry(forward_key).or_default()
            } else {
                self.usersets.entry(forward_key).or_default()
            };
            list.push(key.subject);
            if let Some(bit) = presence_bit(key.relation) {
                *self.presence.entry(key.resource).or_default() |= bit;
            }
            self.reverse.entry(key.subject).or_default().push((
                key.resource.object_type,
                key.relation,
                key.resource.id,
            ));
            if is_new_resource {
                self.names
                    .get_mut()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .entry(key.resource.object_type)
                    .or_default()
                    .ids
                    .push(key.resource.id);
            }
        }
        previous
    }

    /// Removes a relationship. Returns its metadata if it existed.
    pub(crate) fn remove(&mut self, key: &TupleKey) -> Option<Option<Arc<TupleMeta>>> {
        let removed = self.tuples.remove(key)?;
        self.version += 1;
        let forward_key = (key.resource.object_type, key.relation, key.resource.id);
        let map = if key.subject.relation == NO_RELATION {
            &mut self.objects
        } else {
            &mut self.usersets
        };
        if let Some(list) = map.get_mut(&forward_key) {
            if let Some(position) = list.iter().position(|subject| *subject == key.subject) {
                list.swap_remove(position);
            }
            if list.is_empty() {
                map.remove(&forward_key);
            }
        }
        let still_present =
            self.objects.contains_key(&forward_key) || self.usersets.contains_key(&forward_key);
        if !still_present
            && let Some(bit) = presence_bit(key.relation)
            && let Some(mask) = self.presence.get_mut(&key.resource)
        {
            *mask &= !bit;
            if *mask == 0 {
                self.presence.remove(&key.resource);
            }
        }
        let resource = (key.resource.object_type, key.relation, key.resource.id);
        if let Some(list) = self.reverse.get_mut(&key.subject) {
            if let Some(position) = list.iter().position(|entry| *entry == resource) {
                list.swap_remove(position);
            }
            if list.is_empty() {
                self.reverse.remove(&key.subject);
            }
        }
        // The name index keeps the id; the next ordered query drops it if nothing is left.
        Some(removed)
    }

    /// Bit `r` set when relation `r` (below 64) of the object has at least one subject.
    pub(crate) fn presence_mask(&self, resource: Object) -> u64 {
        self.presence.get(&resource).copied().unwrap_or(0)
    }

    /// Object and wildcard subjects of `resource#relation`.
    pub(crate) fn object_subjects(&self, resource: Object, relation: RelationId) -> &[Subject] {
        self.objects
            .get(&(resource.object_type, relation, resource.id))
            .map_or(&[], SmallVec::as_slice)
    }

    /// Userset subjects of `resource#relation`.
    pub(crate) fn userset_subjects(&self, resource: Object, relation: RelationId) -> &[Subject] {
        self.usersets
            .get(&(resource.object_type, relation, resource.id))
            .map_or(&[], SmallVec::as_slice)
    }

    /// The (resource type, relation, resource id) entries that name `subject`.
    pub(crate) fn resources_of(&self, subject: Subject) -> &[(TypeId, RelationId, ObjectId)] {
        self.reverse.get(&subject).map_or(&[], SmallVec::as_slice)
    }

    /// Whether `resource` has a relationship.
    fn has_relationships(&self, resource: Object, relations: RelationId) -> bool {
        self.presence.contains_key(&resource)
            || (64..relations).any(|relation| {
                let key = (resource.object_type, relation, resource.id);
                self.objects.contains_key(&key) || self.usersets.contains_key(&key)
            })
    }

    /// Ids of resources of `resource_type` with relationships whose id text is `root` or
    /// starts with it, in text order. `relations` is the type's relation count.
    pub(crate) fn ids_with_prefix(
        &self,
        resource_type: TypeId,
        relations: RelationId,
        root: &str,
    ) -> Vec<ObjectId> {
        let mut names = self
            .names
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let Some(index) = names.get_mut(&resource_type) else {
            return Vec::new();
        };
        if index.sorted < index.ids.len() {
            let text = |id: &ObjectId| self.interner.resolve(*id).unwrap_or("");
            // A stable sort merges the sorted prefix with the appended tail cheaply.
            index.ids.sort_by(|a, b| text(a).cmp(text(b)));
            index.ids.dedup();
            index.ids.retain(|id| {
                self.has_relationships(
                    Object {
                        object_type: resource_type,
                        id: *id,
                    },
                    relations,
                )
            });
            index.sorted = index.ids.len();
        }
        let start = index
            .ids
            .partition_point(|id| self.interner.resolve(*id).unwrap_or("") < root);
        index
            .ids
            .get(start..)
            .unwrap_or_default()
            .iter()
            .take_while(|id| {
                self.interner
                    .resolve(**id)
                    .is_some_and(|text| text.starts_with(root))
            })
            .copied()
            .collect()
    }

    /// Every relationship (unordered).
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&TupleKey, &Option<Arc<TupleMeta>>)> {
        self.tuples.iter()
    }

    /// Reserves room for `additional` more relationships.
    pub(crate) fn reserve(&mut self, additional: usize) {
        self.tuples.reserve(additional);
    }
}
