//! Conformance cases from the second trust review (issue 12) that hold on every backend:
//! extreme numbers get typed errors, never a panic or a silent saturation, and data that
//! cannot be stored exactly is refused with the field named.
//!
//! A backend's test file invokes [`trust_conformance_tests!`](crate::trust_conformance_tests)
//! with the same factory it gives the main suite.

use std::sync::Arc;

use opsledger_store::api::MAX_POSITION;
use opsledger_store::canonical::CanonicalError;
use opsledger_store::envelope::MAX_SCHEMA_VERSION;
use opsledger_store::{
    ClientReadModel, EventStore, ExpectedVersion, FactCheckpoint, InvalidEvent, PositionRange,
    StoreError,
};

use crate::conformance::{events, new_event, read_everything, sid};

/// Expands to one `#[tokio::test]` per case of this module, like `conformance_tests!`.
#[macro_export]
macro_rules! trust_conformance_tests {
    ($make_fixture:expr) => {
        $crate::trust_conformance_tests!(@cases $make_fixture;
            extreme_numbers_get_typed_errors,
            data_that_cannot_be_kept_exactly_is_refused_by_field,
        );
    };
    (@cases $make_fixture:expr; $($case:ident),* $(,)?) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                let fixture = ($make_fixture)().await;
                let store = $crate::conformance::Fixture::store(&fixture);
                $crate::trust::$case(store).await;
            }
        )*
    };
}

fn out_of_range(err: StoreError, what: &str, value: u64) {
    match err {
        StoreError::OutOfRange {
            what: found,
            value: v,
            limit,
        } => {
            assert_eq!((found, v, limit), (what, value, MAX_POSITION));
        }
        other => panic!("expected OutOfRange for {what}, got {other:?}"),
    }
}

/// Schema versions past PostgreSQL's `integer`, and positions or checkpoints past `i64`, are
/// refused with typed errors; the largest storable schema version is stored and read back.
pub async fn extreme_numbers_get_typed_errors(store: Arc<dyn EventStore>) {
    let s = sid("call-extreme");
    for version in [MAX_SCHEMA_VERSION + 1, u32::MAX] {
        let mut e = new_event("foreign.fact", 0);
        e.schema_version = version;
        match store.append(&s, ExpectedVersion::Any, vec![e]).await {
            Err(StoreError::InvalidEvent {
                problem: InvalidEvent::SchemaVersionTooLarge { version: v, limit },
                ..
            }) => assert_eq!((v, limit), (version, MAX_SCHEMA_VERSION)),
            other => panic!("schema_version {version}: {other:?}"),
        }
    }
    let mut e = new_event("foreign.fact", 0);
    e.schema_version = MAX_SCHEMA_VERSION;
    store
        .append(&s, ExpectedVersion::NoStream, vec![e])
        .await
        .unwrap();
    assert_eq!(
        read_everything(store.as_ref()).await[0].schema_version,
        MAX_SCHEMA_VERSION
    );
    // The store still appends after the refusals: no writer died on them.
    store
        .append(&s, ExpectedVersion::Exact(0), events(1))
        .await
        .unwrap();

    for from in [MAX_POSITION + 1, u64::MAX] {
        out_of_range(
            store
                .verify(PositionRange { from, to: None })
                .await
                .unwrap_err(),
            "verify range start",
            from,
        );
    }
    // Reads past the end are empty, whatever the start.
    assert!(store.read_all(u64::MAX, 10).await.unwrap().is_empty());
    assert!(store
        .verify(PositionRange {
            from: 0,
            to: Some(u64::MAX)
        })
        .await
        .unwrap()
        .is_intact());

    let checkpoint = |next_position| FactCheckpoint {
        next_position,
        version: 1,
    };
    out_of_range(
        store
            .write_facts(0, checkpoint(u64::MAX), Vec::new())
            .await
            .unwrap_err(),
        "read-model checkpoint",
        u64::MAX,
    );
    out_of_range(
        store
            .write_facts(u64::MAX, checkpoint(u64::MAX), Vec::new())
            .await
            .unwrap_err(),
        "read-model page start",
        u64::MAX,
    );
    store
        .write_facts(0, checkpoint(1), Vec::new())
        .await
        .unwrap();
    out_of_range(
        store
            .reset_facts(Some(checkpoint(u64::MAX)), 1)
            .await
            .unwrap_err(),
        "expected read-model checkpoint",
        u64::MAX,
    );
    assert_eq!(store.fact_checkpoint().await.unwrap(), Some(checkpoint(1)));
    let model = ClientReadModel {
        client_id: "acme".into(),
        name: "sla".into(),
        next_position: u64::MAX,
        body: "{}".into(),
    };
    out_of_range(
        store.publish_read_model(&model).await.unwrap_err(),
        "read model checkpoint",
        u64::MAX,
    );
}

/// An integer past the 64-bit range (which serde_json reads as a float) is refused, naming the
/// field, rather than recorded as a float nobody wrote.
pub async fn data_that_cannot_be_kept_exactly_is_refused_by_field(store: Arc<dyn EventStore>) {
    let s = sid("call-exact");
    let mut e = new_event("foreign.fact", 0);
    e.data =
        serde_json::from_str(r#"{"caller":{"digits":123456789012345678901234567890}}"#).unwrap();
    match store.append(&s, ExpectedVersion::Any, vec![e]).await {
        Err(StoreError::InvalidEvent {
            problem: InvalidEvent::Data(CanonicalError::InexactNumber { path }),
            ..
        }) => assert_eq!(path, "$.caller.digits"),
        other => panic!("expected InexactNumber, got {other:?}"),
    }
    let mut e = new_event("foreign.fact", 0);
    e.data = serde_json::json!({"max": u64::MAX, "min": i64::MIN, "rate": 0.25});
    store
        .append(&s, ExpectedVersion::NoStream, vec![e])
        .await
        .unwrap();
    assert_eq!(
        read_everything(store.as_ref()).await[0].data,
        format!(r#"{{"max":{},"min":{},"rate":0.25}}"#, u64::MAX, i64::MIN)
    );
}
