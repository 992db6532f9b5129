//! The read half of the store conformance suite on a hot standby: each case appends on a fresh
//! database of the primary and reads, verifies and subscribes on the standby's copy of it
//! (see `opsledger_tests::standby_reads`). The cases left out only check what an append does
//! or refuses, which happens on the primary and is covered by `conformance_postgres`.

use std::sync::Arc;

use opsledger_store::{EventStore, PgStore};
use opsledger_tests::pg::replica::{connect, pair};
use opsledger_tests::standby_reads::StandbyReads;

async fn primary_and_standby() -> Arc<dyn EventStore> {
    let pair = pair();
    let (primary_url, standby_url) = pair.fresh_database().await;
    let primary = PgStore::connect(&primary_url)
        .await
        .expect("connect to the primary");
    pair.wait_for_replay().await;
    let standby = PgStore::connect_read_only(&standby_url)
        .await
        .expect("connect read-only to the standby");
    assert!(standby.is_standby(), "the reads must go to a standby");
    Arc::new(StandbyReads::new(
        primary,
        standby,
        connect(&primary_url).await,
        connect(&standby_url).await,
    ))
}

opsledger_tests::conformance_tests!(@cases primary_and_standby;
    expected_version_rules,
    multi_stream_batches_are_atomic,
    positions_are_ordered_and_pages_read_back,
    recorded_events_round_trip,
    filtered_reads_return_exactly_the_matches,
    live_subscriber_misses_nothing_under_contention,
    subscriber_from_mid_log_sees_the_suffix,
    verify_reports_an_intact_chain_and_sub_ranges,
    head_tracks_the_last_event,
    read_model_facts_are_read_per_client_and_entity,
    read_models_are_published_per_client,
    data_keys_are_created_once_and_destroyed_for_good,
);
