//! Conformance case of the per-client data keys: created once however many callers race,
//! destroyed for good, apart from the event log.

use std::sync::Arc;

use opsledger_store::{DataKey, EventStore, ExpectedVersion, PositionRange, StoreError};

use super::{events, sid};

/// Data keys: absent until created, created once however many callers race, destroyed for
/// good (never recreated), idempotently, without touching the event log.
pub async fn data_keys_are_created_once_and_destroyed_for_good(store: Arc<dyn EventStore>) {
    store
        .append(&sid("call-1"), ExpectedVersion::NoStream, events(3))
        .await
        .unwrap();
    let head_before = store.head().await.unwrap();

    assert_eq!(
        store.data_key("acme", false).await.unwrap(),
        DataKey::Missing
    );
    // Concurrent creators all get the one key that was inserted first.
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(
            async move { store.data_key("acme", true).await },
        ));
    }
    let mut keys = Vec::new();
    for task in tasks {
        match task.await.unwrap().unwrap() {
            DataKey::Active(key) => keys.push(key),
            other => panic!("expected an active key, got {other:?}"),
        }
    }
    assert!(
        keys.windows(2).all(|w| w[0] == w[1]),
        "racing creators got different keys"
    );
    assert_eq!(
        store.data_key("acme", false).await.unwrap(),
        DataKey::Active(keys[0].clone())
    );
    // Another client gets its own key.
    let DataKey::Active(other) = store.data_key("globex", true).await.unwrap() else {
        panic!("expected an active key for globex");
    };
    assert_ne!(other, keys[0]);

    assert!(store
        .destroy_data_key("acme", "R-RET-2 test")
        .await
        .unwrap());
    assert!(!store.destroy_data_key("acme", "again").await.unwrap());
    assert!(matches!(
        store.data_key("acme", false).await.unwrap(),
        DataKey::Destroyed { .. }
    ));
    // A destroyed key is never replaced by a new one.
    assert!(matches!(
        store.data_key("acme", true).await.unwrap(),
        DataKey::Destroyed { .. }
    ));
    // Destroying the key of a client that never had one leaves a destroyed row behind, so no
    // key can be created for it afterwards.
    assert!(store
        .destroy_data_key("initech", "never had data")
        .await
        .unwrap());
    assert!(matches!(
        store.data_key("initech", true).await.unwrap(),
        DataKey::Destroyed { .. }
    ));
    assert_eq!(
        store.data_key("globex", false).await.unwrap(),
        DataKey::Active(other)
    );

    assert!(matches!(
        store.data_key("", true).await,
        Err(StoreError::InvalidKeyClientId { .. })
    ));
    assert!(matches!(
        store.destroy_data_key("acme", "line\nbreak").await,
        Err(StoreError::InvalidDestroyReason)
    ));
    // Keys live apart from the log: none of this changed it.
    assert_eq!(store.head().await.unwrap(), head_before);
    assert!(store
        .verify(PositionRange::default())
        .await
        .unwrap()
        .is_intact());
}
