//! The storage conformance suite (`nexus_store::conformance`) against the SQLite backend.
//! Every backend runs the same suite with its own constructor.

use std::sync::Arc;

use nexus_store::{MetadataStore, SqliteMetadataStore};

nexus_store::metadata_conformance_tests!(async {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteMetadataStore::open(&dir.path().join("meta.db"))
        .await
        .unwrap();
    (Arc::new(store) as Arc<dyn MetadataStore>, dir)
});
