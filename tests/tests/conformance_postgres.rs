//! The store conformance suite on the PostgreSQL backend, each case in a fresh database on the
//! throwaway server (or on `DATABASE_URL`'s server).

use std::sync::Arc;

use opsledger_store::{EventStore, PgStore};
use opsledger_tests::pg;

async fn fresh_postgres() -> Arc<dyn EventStore> {
    let url = pg::server().fresh_database().await;
    Arc::new(
        PgStore::connect(&url)
            .await
            .expect("connect to the test database"),
    )
}

opsledger_tests::conformance_tests!(fresh_postgres);
opsledger_tests::trust_conformance_tests!(fresh_postgres);
