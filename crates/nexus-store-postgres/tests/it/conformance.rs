//! The storage conformance suite (`nexus_store::conformance`) against PostgreSQL: the same
//! checks the SQLite backend passes.

use std::sync::Arc;

use nexus_store::MetadataStore;

use crate::support::TestSchema;

nexus_store::metadata_conformance_tests!(
    [#[ignore = "needs PostgreSQL: scripts/services.sh start, then cargo test -- --ignored"]]
    async {
        let schema = TestSchema::new().await;
        let store = schema.open().await;
        (Arc::new(store) as Arc<dyn MetadataStore>, schema)
    }
);
