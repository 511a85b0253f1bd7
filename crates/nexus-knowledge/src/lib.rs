//! The knowledge layer's vocabulary (seed 004), with no IO:
//!
//! ```text
//!   env.rs   the thirteen environments and the scoping matrix: which scopes and which
//!            forms of sharing each one allows
//!   key.rs   item keys `env:scope:YYYYMMDD:kind:id`, their scopes (`u_XXXX`, `a_XXXX`,
//!            `UNIV`, `s_XXXX`) and the one-to-one mapping between a key and the path of
//!            the file that holds the item
//!   place.rs where a path sits in the items tree (organization, environment, scope), read
//!            without allocating for the permission engine's derived relations
//! ```
//!
//! Items are files and every access decision is the permission engine's; this crate only
//! says what a key means, where its file lives, and what the matrix allows.

mod env;
mod key;
mod place;

pub use env::{Environment, Scoping, Sharing};
pub use key::{ITEMS_FOLDER, InvalidKey, ItemKey, Scope};
pub use place::Place;
