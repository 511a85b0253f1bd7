//! Relationship-based access control (Zanzibar / SpiceDB semantics) for Nexus. No IO.

pub mod caveat;
mod engine;
mod eval;
mod expand;
mod expected;
mod graph;
mod lookup;
pub mod relationship;
pub mod schema;
pub mod validation;

pub use engine::{
    Change, CheckError, CheckRequest, CheckResult, DEFAULT_MAX_DEPTH, Derive, DerivedRelation,
    Engine, EngineConfig, Operation, RelationshipFilter, RelationshipUpdate, WriteError,
    WriteOutcome, WritePlan, WritePrecondition,
};
pub use eval::Checker;
pub use expand::{ExpandKind, ExpandNode, ExpandedSubject};
pub use lookup::{EngineStats, FoundResource, FoundSubject, FoundWildcard, SubjectLookup};
pub use relationship::{ObjectRef, Relationship, RelationshipCaveat, SubjectRef};
pub use schema::{Schema, SchemaError};
