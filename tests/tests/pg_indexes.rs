//! The index audit of `events` (`opsledger_store::postgres::indexes`): the database has exactly
//! the audited indexes, nothing is indexed twice, and each index is used by the plan of the
//! query the audit says needs it, on a table of a few thousand rows with sequential scans
//! priced out (so a plan that could do without the index shows it).

use std::collections::BTreeSet;

use chrono::{TimeZone, Utc};
use opsledger_store::postgres::indexes::EVENT_INDEXES;
use opsledger_store::{EventStore, ExpectedVersion, Metadata, NewEvent, PgStore, StreamId};
use opsledger_tests::pg;
use tokio_postgres::NoTls;
use uuid::Uuid;

/// Events seeded: enough pages that an index is worth its lookups.
const SEEDED_EVENTS: u64 = 3000;
/// Events per append.
const BATCH_EVENTS: u64 = 100;

fn event(n: u64) -> NewEvent {
    // Occurrence times are shuffled against positions (n * 7919 mod 3000), as imports of past
    // calls make them: the B-tree on occurred_at must not rely on order.
    let shuffled = i64::try_from(n * 7919 % SEEDED_EVENTS).unwrap();
    NewEvent {
        event_id: Uuid::new_v4(),
        // One type in fifty is rare, as a filter for it is in practice.
        event_type: match n % 50 {
            1 => "call.transferred",
            x if x % 2 == 0 => "call.connected",
            _ => "call.abandoned",
        }
        .to_owned(),
        schema_version: 1,
        client_id: Some(format!("client-{}", n % 10)),
        occurred_at: Utc.with_ymd_and_hms(2026, 10, 1, 0, 0, 0).unwrap()
            + chrono::Duration::minutes(shuffled),
        data: serde_json::json!({"n": n}),
        metadata: Metadata {
            correlation_id: (n % 50 == 0).then(|| Uuid::from_u128(u128::from(n))),
            ..Metadata::default()
        },
    }
}

async fn seeded() -> tokio_postgres::Client {
    let url = pg::server().fresh_database().await;
    let store = PgStore::connect(&url).await.unwrap();
    for b in 0..SEEDED_EVENTS / BATCH_EVENTS {
        // One batch in thirty is of a rare category: an index on a value a third of the log
        // has would rightly lose to walking the log in position order.
        let category = match b % 30 {
            7 => "invoice",
            x if x % 3 == 0 => "call",
            _ => "escalation",
        };
        let stream = StreamId::new(category, &b.to_string()).unwrap();
        let events = (b * BATCH_EVENTS..(b + 1) * BATCH_EVENTS)
            .map(event)
            .collect();
        store
            .append(&stream, ExpectedVersion::NoStream, events)
            .await
            .unwrap();
    }
    let (client, connection) = tokio_postgres::connect(&url, NoTls).await.unwrap();
    tokio::spawn(connection);
    client
        .batch_execute("ANALYZE events; SET enable_seqscan = off;")
        .await
        .unwrap();
    client
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_has_exactly_the_audited_indexes_and_none_twice() {
    let client = seeded().await;
    let rows = client
        .query(
            "SELECT i.relname::text, am.amname::text, \
                    pg_get_indexdef(x.indexrelid) \
             FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid \
             JOIN pg_am am ON am.oid = i.relam \
             WHERE x.indrelid = 'events'::regclass ORDER BY 1",
            &[],
        )
        .await
        .unwrap();
    let found: BTreeSet<(String, String)> = rows
        .iter()
        .map(|r| (r.get::<_, String>(0), r.get::<_, String>(1)))
        .collect();
    let audited: BTreeSet<(String, String)> = EVENT_INDEXES
        .iter()
        .map(|i| (i.name.to_owned(), i.method.to_owned()))
        .collect();
    assert_eq!(
        found, audited,
        "every index on events is in the audit, and only those"
    );
    // The same key columns (and predicate) twice would be an index maintained for nothing.
    let definitions: Vec<String> = rows
        .iter()
        .map(|r| {
            let def: String = r.get(2);
            def.split_once(" USING ")
                .map_or(def.clone(), |(_, rest)| rest.to_owned())
        })
        .collect();
    let distinct: BTreeSet<&String> = definitions.iter().collect();
    assert_eq!(
        distinct.len(),
        definitions.len(),
        "an index is duplicated: {definitions:?}"
    );
}

/// The plan of `sql`, one line per node.
async fn plan(client: &tokio_postgres::Client, sql: &str) -> String {
    client
        .query(&format!("EXPLAIN {sql}"), &[])
        .await
        .unwrap_or_else(|e| panic!("EXPLAIN {sql}: {e}"))
        .iter()
        .map(|r| r.get::<_, String>(0))
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_index_is_used_by_the_query_that_needs_it() {
    let client = seeded().await;
    let some_id: Uuid = client
        .query_one(
            "SELECT event_id FROM events WHERE global_position = 1234",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    // The queries as the backend issues them (store/src/postgres/mod.rs, copy_out.rs and
    // writer.rs), with literals for the placeholders.
    let cases: Vec<(&str, String)> = vec![
        (
            "events_pkey",
            "SELECT * FROM events WHERE global_position >= 2000 ORDER BY global_position LIMIT 100"
                .to_owned(),
        ),
        (
            "events_pkey",
            "SELECT * FROM events WHERE global_position BETWEEN 2000 AND 2999 \
             ORDER BY global_position"
                .to_owned(),
        ),
        (
            "events_event_id_key",
            format!("SELECT * FROM events WHERE event_id = ANY('{{{some_id}}}'::uuid[])"),
        ),
        (
            "events_stream_version_key",
            "SELECT * FROM events WHERE stream_id = 'call-3' AND stream_version >= 10 \
             ORDER BY stream_version LIMIT 100"
                .to_owned(),
        ),
        (
            "events_stream_version_key",
            "SELECT s.id, (SELECT max(e.stream_version) FROM events e WHERE e.stream_id = s.id) \
             FROM unnest('{call-3,escalation-4}'::text[]) AS s(id)"
                .to_owned(),
        ),
        (
            "events_category_idx",
            "SELECT * FROM events WHERE global_position >= 0 AND category = ANY('{invoice}') \
             ORDER BY global_position LIMIT 1000"
                .to_owned(),
        ),
        (
            "events_event_type_idx",
            "SELECT * FROM events WHERE global_position >= 0 \
             AND event_type = ANY('{call.transferred}') ORDER BY global_position LIMIT 1000"
                .to_owned(),
        ),
        (
            "events_client_idx",
            "SELECT * FROM events WHERE global_position >= 0 AND client_id = 'client-3' \
             ORDER BY global_position LIMIT 1000"
                .to_owned(),
        ),
        (
            "events_occurred_at_idx",
            "SELECT * FROM events WHERE global_position >= 0 \
             AND occurred_at >= '2026-10-01T10:00:00Z' AND occurred_at < '2026-10-01T11:00:00Z' \
             ORDER BY global_position LIMIT 1000"
                .to_owned(),
        ),
        (
            "events_recorded_at_idx",
            "SELECT * FROM events WHERE global_position >= 0 \
             AND recorded_at >= now() + interval '1 day' AND recorded_at < now() + interval '2 days' \
             ORDER BY global_position LIMIT 1000"
                .to_owned(),
        ),
        (
            "events_correlation_idx",
            "SELECT * FROM events WHERE global_position >= 0 \
             AND correlation_id = '00000000-0000-0000-0000-000000000064' \
             ORDER BY global_position LIMIT 1000"
                .to_owned(),
        ),
    ];
    let mut covered = BTreeSet::new();
    let mut unused = Vec::new();
    for (index, sql) in &cases {
        let plan = plan(&client, sql).await;
        if !(plan.contains(&format!(" {index} ")) || plan.ends_with(&format!(" {index}"))) {
            unused.push(format!("{index} is not used by:\n{sql}\n{plan}"));
        }
        covered.insert(*index);
    }
    assert!(unused.is_empty(), "{}", unused.join("\n\n"));
    let audited: BTreeSet<&str> = EVENT_INDEXES.iter().map(|i| i.name).collect();
    assert_eq!(covered, audited, "every audited index has its EXPLAIN case");
}
