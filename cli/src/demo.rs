//! `opsledger demo`: creates a ledger on the embedded default, records a small day of
//! operations, reads it back and verifies the chain.

use std::path::PathBuf;

use anyhow::Context;
use chrono::{DateTime, Duration, TimeZone, Utc};
use clap::Args;
use opsledger_store::{
    Direction, EventFilter, EventStore, ExpectedVersion, Metadata, NewEvent, PositionRange,
    SqliteStore, StreamAppend, StreamId, VerifyReport,
};
use uuid::Uuid;

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Directory for the demo ledger (its previous demo ledger is replaced).
    #[arg(long, default_value = "opsledger-demo")]
    out: PathBuf,
}

/// Namespace for the demo's deterministic event ids (UUID v5), so a rerun records the same ids.
const DEMO_NAMESPACE: Uuid = Uuid::from_u128(0x6f70_736c_6564_6765_7200_0000_0000_0001);

fn event(name: &str, event_type: &str, at: DateTime<Utc>, data: serde_json::Value) -> NewEvent {
    NewEvent {
        event_id: Uuid::new_v5(&DEMO_NAMESPACE, name.as_bytes()),
        event_type: event_type.to_owned(),
        schema_version: 1,
        client_id: Some("acme-dental".to_owned()),
        occurred_at: at,
        data,
        metadata: Metadata {
            correlation_id: None,
            causation_id: None,
            actor: Some("demo".to_owned()),
            source: Some("opsledger-demo".to_owned()),
        },
    }
}

pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let path = args.out.join("demo.ledger");
    for suffix in ["", "-wal", "-shm"] {
        let p = PathBuf::from(format!("{}{suffix}", path.display()));
        if p.exists() {
            std::fs::remove_file(&p).with_context(|| format!("removing {}", p.display()))?;
        }
    }
    let store = SqliteStore::create_new(&path)?;
    println!("created ledger {}", path.display());

    let day = Utc
        .with_ymd_and_hms(2026, 10, 1, 14, 0, 0)
        .single()
        .expect("a valid instant");
    let client = StreamId::parse("client-acme-dental")?;
    store
        .append(
            &client,
            ExpectedVersion::NoStream,
            vec![event(
                "onboarded",
                "client.onboarded",
                day - Duration::days(30),
                serde_json::json!({"client_id": "acme-dental", "tier": "professional", "account_kind": "medical", "time_zone": "America/New_York"}),
            )],
        )
        .await?;
    let mut batch = Vec::new();
    for (n, wait_secs) in [(1u32, 4i64), (2, 7), (3, 12), (4, 51)] {
        let call = format!("call{n}");
        let connected = day + Duration::minutes(i64::from(n) * 17);
        let answered = connected + Duration::seconds(wait_secs);
        batch.push(StreamAppend {
            stream_id: StreamId::new("call", &call)?,
            expected_version: ExpectedVersion::NoStream,
            events: vec![
                event(
                    &format!("{call}/connected"),
                    "call.connected",
                    connected,
                    serde_json::json!({"call_id": call, "queue": "front-desk"}),
                ),
                event(
                    &format!("{call}/answered"),
                    "call.answered",
                    answered,
                    serde_json::json!({"call_id": call, "agent_id": "agent-7"}),
                ),
                event(
                    &format!("{call}/completed"),
                    "call.completed",
                    answered + Duration::seconds(95),
                    serde_json::json!({"call_id": call}),
                ),
            ],
        });
    }
    let outcomes = store.append_batch(batch).await?;
    let recorded: usize = outcomes.iter().map(|o| o.positions.len()).sum();
    println!("appended 1 onboarding and {recorded} call events in one atomic batch");

    let calls = store
        .read_filtered(
            &EventFilter {
                event_types: vec!["call.connected".into(), "call.answered".into()],
                ..EventFilter::default()
            },
            0,
            100,
        )
        .await?;
    let mut waits = Vec::new();
    for pair in calls.chunks(2) {
        if let [connected, answered] = pair {
            waits.push((answered.occurred_at - connected.occurred_at).num_seconds());
        }
    }
    println!(
        "read back {} connect/answer events; waits {waits:?} s",
        calls.len()
    );
    let first_call = store
        .read_stream(&StreamId::parse("call-call1")?, 0, Direction::Forward, 10)
        .await?;
    for e in &first_call {
        println!(
            "  {} v{} {} at {}  hash {}…",
            e.stream_id,
            e.stream_version,
            e.event_type,
            e.occurred_at.to_rfc3339(),
            &e.hash.to_hex()[..16]
        );
    }
    match store.verify(PositionRange::default()).await? {
        VerifyReport::Intact { events, head, .. } => {
            let (p, h) = head.context("a non-empty ledger has a head")?;
            println!("verify: intact, {events} events, head position {p} hash {h}");
        }
        broken => anyhow::bail!("the demo ledger does not verify: {broken:?}"),
    }
    Ok(())
}
