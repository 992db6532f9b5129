//! Issue 12 ("Trust, second round"), the application's findings, each reproduced as the issue
//! found it and run on both backends where a backend could matter: raw appends go through the
//! domain and the sealer (finding 1), a sealed value that does not open blocks nothing
//! (finding 2), concurrent contradictory records are never interleaved (finding 3), and an
//! input refused part-way appends nothing and says where, in a bounded message (finding 4).

use std::sync::Arc;

use opsledger_app::append;
use opsledger_app::crypto::{seal_text, UNREADABLE};
use opsledger_app::import::{ImportRequest, ImportSource};
use opsledger_app::record::{self, Fact};
use opsledger_app::store::{
    DataKey, EventStore, ExpectedVersion, Metadata, NewEvent, StreamAppend, StreamId,
};
use opsledger_app::{Actor, AppError, FixedClock, NoProgress, Target};
use serde_json::{json, Value};
use uuid::Uuid;

const ONBOARD: &str = include_str!("../../examples/lab-client.ndjson");
const CLIENT: &str = "issabel-lab";

/// Runs `body` against a fresh SQLite ledger and a fresh PostgreSQL database.
macro_rules! on_both_backends {
    ($body:ident) => {
        mod $body {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let dir = tempfile::tempdir().unwrap();
                let target = opsledger_app::Target::File(dir.path().join("t.ledger"));
                target.create().await.unwrap();
                super::$body(target).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let url = opsledger_tests::pg::server().fresh_database().await;
                let target = opsledger_app::Target::Postgres(url);
                target.create().await.unwrap();
                super::$body(target).await;
            }
        }
    };
}

async fn record_text(
    store: &Arc<dyn EventStore>,
    text: &str,
) -> Result<record::Recorded, AppError> {
    let facts: Vec<Fact> = record::read_commands("commands.ndjson", text.as_bytes()).unwrap();
    record::record(
        store,
        facts,
        &record::metadata("test", &Actor::unknown()),
        false,
        &NoProgress,
    )
    .await
}

async fn onboarded(target: &Target) -> Arc<dyn EventStore> {
    let store = target.open().await.unwrap();
    record_text(&store, ONBOARD).await.unwrap();
    store
}

fn connect_command(call: &str, at: &str, number: &str) -> String {
    json!({"event_id": Uuid::new_v4(), "command": "connect_call", "args": {
        "client_id": CLIENT, "call_id": call, "at": at, "queue": "500", "caller_number": number}})
    .to_string()
}

/// One NDJSON envelope of a `call.connected`.
fn connected_envelope(event_id: Uuid, call: &str, at: &str, number: &str) -> String {
    json!({
        "stream_id": format!("call-{call}"),
        "event_id": event_id,
        "event_type": "call.connected",
        "schema_version": 1,
        "client_id": CLIENT,
        "occurred_at": at,
        "data": {"client_id": CLIENT, "call_id": call, "at": at, "queue": "500", "caller_number": number},
    })
    .to_string()
}

async fn append_text(
    store: &Arc<dyn EventStore>,
    text: &str,
) -> Result<append::Appended, AppError> {
    let batch = append::read_envelopes("in.ndjson", text.as_bytes(), false)?;
    append::append(store, batch).await
}

async fn head(store: &Arc<dyn EventStore>) -> Option<u64> {
    store.head().await.unwrap().map(|h| h.position)
}

async fn stored_data(store: &Arc<dyn EventStore>, stream: &str) -> Vec<Value> {
    let stream = StreamId::parse(stream).unwrap();
    store
        .read_stream(&stream, 0, opsledger_app::store::Direction::Forward, 100)
        .await
        .unwrap()
        .iter()
        .map(|e| serde_json::from_str(&e.data).unwrap())
        .collect()
}

// ------------------------------------------------------------------------- finding 1

on_both_backends!(raw_personal_data_of_a_shredded_client_is_refused);
async fn raw_personal_data_of_a_shredded_client_is_refused(target: Target) {
    let store = onboarded(&target).await;
    store.data_key(CLIENT, true).await.unwrap();
    store.destroy_data_key(CLIENT, "test").await.unwrap();
    let before = head(&store).await;
    let line = connected_envelope(Uuid::new_v4(), "c1", "2022-07-01T10:00:00Z", "+1 555 0100");
    let error = append_text(&store, &line).await.unwrap_err();
    let message = error.to_string();
    assert!(matches!(error, AppError::Input { .. }), "{error:?}");
    assert!(message.starts_with("in.ndjson:1: "), "{message}");
    assert!(message.contains("was deleted"), "{message}");
    assert_eq!(head(&store).await, before);
}

on_both_backends!(raw_calls_after_termination_are_refused_as_record_refuses_them);
async fn raw_calls_after_termination_are_refused_as_record_refuses_them(target: Target) {
    let store = onboarded(&target).await;
    let terminate = json!({"event_id": Uuid::new_v4(), "command": "terminate_immediately",
        "args": {"client_id": CLIENT, "at": "2022-09-01T00:00:00Z",
                 "cause": {"kind": "unlawful_client_conduct"}}});
    record_text(&store, &terminate.to_string()).await.unwrap();
    let before = head(&store).await;
    let by_record = record_text(
        &store,
        &connect_command("late", "2022-10-01T10:00:00Z", "+1 555 0100"),
    )
    .await
    .unwrap_err();
    let line = connected_envelope(
        Uuid::new_v4(),
        "late",
        "2022-10-01T10:00:00Z",
        "+1 555 0100",
    );
    let by_append = append_text(&store, &line).await.unwrap_err();
    match (&by_record, &by_append) {
        (
            AppError::Refused {
                refusal: from_record,
                ..
            },
            AppError::Refused {
                refusal: from_append,
                origin,
                ..
            },
        ) => {
            assert_eq!(from_record, from_append);
            assert_eq!(origin.line, 1);
        }
        other => panic!("expected two refusals, got {other:?}"),
    }
    assert_eq!(head(&store).await, before);
}

on_both_backends!(raw_personal_fields_are_sealed_and_sealed_ones_must_open);
async fn raw_personal_fields_are_sealed_and_sealed_ones_must_open(target: Target) {
    let store = onboarded(&target).await;
    // In the clear: accepted, and stored sealed.
    let first = Uuid::new_v4();
    append_text(
        &store,
        &connected_envelope(first, "c1", "2022-07-01T10:00:00Z", "+1 555 0100"),
    )
    .await
    .unwrap();
    let stored = stored_data(&store, "call-c1").await;
    let sealed = stored[0]["caller_number"].as_str().unwrap().to_owned();
    assert!(sealed.starts_with("enc:v1:"), "{sealed}");
    // Appending the same line again is an idempotent replay; the same id with other content
    // is refused.
    let again = append_text(
        &store,
        &connected_envelope(first, "c1", "2022-07-01T10:00:00Z", "+1 555 0100"),
    )
    .await
    .unwrap();
    assert_eq!((again.recorded, again.already_recorded), (0, 1));
    let changed = append_text(
        &store,
        &connected_envelope(first, "c1", "2022-07-01T10:00:00Z", "+1 555 0999"),
    )
    .await
    .unwrap_err();
    assert!(
        changed
            .to_string()
            .contains("already recorded with different content"),
        "{changed}"
    );

    // A sealed value copied to another event does not open there, and a made-up one does
    // not open at all: both are refused, naming the line.
    let before = head(&store).await;
    for bad in [sealed.as_str(), "enc:v1:AAAA"] {
        let text = format!(
            "{}\n{}\n",
            connected_envelope(Uuid::new_v4(), "c2", "2022-07-01T11:00:00Z", "+1 555 0101"),
            connected_envelope(Uuid::new_v4(), "c3", "2022-07-01T12:00:00Z", bad)
        );
        let error = append_text(&store, &text).await.unwrap_err();
        let message = error.to_string();
        assert!(message.starts_with("in.ndjson:2: data: "), "{message}");
        assert_eq!(
            head(&store).await,
            before,
            "nothing of the input is appended"
        );
    }

    // A value sealed under the client's key for this very event and field is accepted, and
    // reads back as its plaintext.
    let DataKey::Active(key) = store.data_key(CLIENT, false).await.unwrap() else {
        panic!("the client has an active key");
    };
    let id = Uuid::new_v4();
    let good = seal_text(&key, id, "/caller_number", "+1 555 0199").unwrap();
    append_text(
        &store,
        &connected_envelope(id, "c4", "2022-07-01T13:00:00Z", &good),
    )
    .await
    .unwrap();
    let timeline = opsledger_app::timeline::timeline(
        &target,
        "call-c4",
        None,
        &FixedClock("2022-07-02T00:00:00Z".parse().unwrap()),
        &NoProgress,
    )
    .await
    .unwrap();
    let data: Value = serde_json::from_str(&timeline.events[0].data).unwrap();
    assert_eq!(data["caller_number"], "+1 555 0199");
}

#[test]
fn a_key_named_twice_is_refused_with_its_line() {
    let good = connected_envelope(Uuid::new_v4(), "c1", "2022-07-01T10:00:00Z", "1");
    let twice = good.replacen(
        "\"schema_version\":1",
        "\"schema_version\":1,\"schema_version\":1",
        1,
    );
    assert_ne!(good, twice);
    let error = append::read_envelopes("in.ndjson", format!("{good}\n{twice}\n").as_bytes(), false)
        .unwrap_err();
    let message = error.to_string();
    assert!(message.starts_with("in.ndjson:2: "), "{message}");
    assert!(message.contains("schema_version"), "{message}");
}

#[test]
fn envelopes_of_a_domain_type_must_name_their_own_stream_and_client() {
    // Checked when appending; here only that reading keeps the line for it.
    let line = connected_envelope(Uuid::new_v4(), "c1", "2022-07-01T10:00:00Z", "1");
    let batch = append::read_envelopes("in.ndjson", line.as_bytes(), false).unwrap();
    assert_eq!(batch.entries[0].line, 1);
}

on_both_backends!(an_envelope_in_another_stream_or_client_than_its_payload_is_refused);
async fn an_envelope_in_another_stream_or_client_than_its_payload_is_refused(target: Target) {
    let store = onboarded(&target).await;
    let line = connected_envelope(Uuid::new_v4(), "c1", "2022-07-01T10:00:00Z", "1");
    for (from, to, field) in [
        (
            "\"stream_id\":\"call-c1\"",
            "\"stream_id\":\"call-other\"",
            "stream_id",
        ),
        (
            "\"client_id\":\"issabel-lab\",\"data\"",
            "\"client_id\":\"someone-else\",\"data\"",
            "client_id",
        ),
    ] {
        let changed = line.replacen(from, to, 1);
        assert_ne!(changed, line, "{from}");
        let message = append_text(&store, &changed).await.unwrap_err().to_string();
        assert!(
            message.starts_with(&format!("in.ndjson:1: {field}: ")),
            "{message}"
        );
    }
}

// ------------------------------------------------------------------------- finding 2

on_both_backends!(a_value_that_does_not_open_reads_as_unreadable_and_blocks_nothing);
async fn a_value_that_does_not_open_reads_as_unreadable_and_blocks_nothing(target: Target) {
    let store = onboarded(&target).await;
    record_text(
        &store,
        &connect_command("good", "2022-07-01T10:00:00Z", "+1 555 0100"),
    )
    .await
    .unwrap();
    // Planted below the application, as a ledger written before the one way in may hold it.
    let data = json!({"client_id": CLIENT, "call_id": "poison", "at": "2022-07-01T11:00:00Z",
                      "queue": "500", "caller_number": "enc:v1:AAAA"});
    store
        .append_batch(vec![StreamAppend {
            stream_id: StreamId::parse("call-poison").unwrap(),
            expected_version: ExpectedVersion::Any,
            events: vec![NewEvent {
                event_id: Uuid::new_v4(),
                event_type: "call.connected".to_owned(),
                schema_version: 1,
                client_id: Some(CLIENT.to_owned()),
                occurred_at: "2022-07-01T11:00:00Z".parse().unwrap(),
                data,
                metadata: Metadata::default(),
            }],
        }])
        .await
        .unwrap();
    let clock = FixedClock("2022-07-02T00:00:00Z".parse().unwrap());
    let timeline =
        opsledger_app::timeline::timeline(&target, "call-poison", None, &clock, &NoProgress)
            .await
            .unwrap();
    let data: Value = serde_json::from_str(&timeline.events[0].data).unwrap();
    assert_eq!(data["caller_number"], UNREADABLE);
    assert_eq!(timeline.unreadable.len(), 1);
    assert_eq!(timeline.unreadable[0].pointer, "/caller_number");

    // Recording for the client still works.
    record_text(
        &store,
        &connect_command("after", "2022-07-01T12:00:00Z", "+1 555 0102"),
    )
    .await
    .unwrap();

    // And retention still deletes the client's data once its deadline has passed.
    let terminate = json!({"event_id": Uuid::new_v4(), "command": "terminate_immediately",
        "args": {"client_id": CLIENT, "at": "2022-09-01T00:00:00Z",
                 "cause": {"kind": "unlawful_client_conduct"}}});
    record_text(&store, &terminate.to_string()).await.unwrap();
    let actions = opsledger_app::retention::apply(
        &store,
        "2030-01-01T00:00:00Z".parse().unwrap(),
        false,
        &Actor::unknown(),
        &NoProgress,
    )
    .await
    .unwrap();
    assert!(
        actions.iter().any(|a| matches!(a,
            opsledger_app::retention::Action::Deleted { client_id, .. } if client_id == CLIENT)),
        "{actions:?}"
    );
    assert!(matches!(
        store.data_key(CLIENT, false).await.unwrap(),
        DataKey::Destroyed { .. }
    ));
}

// ------------------------------------------------------------------------- finding 3

/// Races per backend: answering and abandoning the same call at once.
const RACES: usize = 200;

on_both_backends!(concurrent_contradictory_records_are_never_interleaved);
async fn concurrent_contradictory_records_are_never_interleaved(target: Target) {
    let store = onboarded(&target).await;
    let mut answered_won = 0usize;
    for race in 0..RACES {
        let call = format!("race{race}");
        let at = "2022-07-01T10:00:00Z";
        record_text(&store, &connect_command(&call, at, "+1 555 0100"))
            .await
            .unwrap();
        let answer = json!({"event_id": Uuid::new_v4(), "command": "answer_call", "args": {
            "client_id": CLIENT, "call_id": call, "at": "2022-07-01T10:00:05Z", "agent_id": "a1"}})
        .to_string();
        let abandon = json!({"event_id": Uuid::new_v4(), "command": "abandon_call", "args": {
            "client_id": CLIENT, "call_id": call, "at": "2022-07-01T10:00:06Z",
            "reason": "caller_hung_up"}})
        .to_string();
        let (a, b) = (Arc::clone(&store), Arc::clone(&store));
        let answering = tokio::spawn(async move { record_text(&a, &answer).await });
        let abandoning = tokio::spawn(async move { record_text(&b, &abandon).await });
        let (answered, abandoned) = (answering.await.unwrap(), abandoning.await.unwrap());
        assert!(
            answered.is_ok() != abandoned.is_ok(),
            "race {race}: exactly one may win: {answered:?} {abandoned:?}"
        );
        let loser = match (answered, abandoned) {
            (Ok(_), Err(e)) | (Err(e), Ok(_)) => e,
            _ => unreachable!("checked above"),
        };
        assert!(matches!(loser, AppError::Refused { .. }), "{loser:?}");
        let types: Vec<String> = store
            .read_stream(
                &StreamId::parse(&format!("call-{call}")).unwrap(),
                0,
                opsledger_app::store::Direction::Forward,
                10,
            )
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.event_type)
            .collect();
        assert_eq!(types.len(), 2, "race {race}: {types:?}");
        assert!(
            !(types.contains(&"call.answered".to_owned())
                && types.contains(&"call.abandoned".to_owned())),
            "race {race}: {types:?}"
        );
        answered_won += usize::from(types.contains(&"call.answered".to_owned()));
    }
    // Who wins is the scheduler's choice, so it is not asserted; the count is printed.
    eprintln!("answer won {answered_won} of {RACES} races");
}

// ------------------------------------------------------------------------- finding 4

/// A queue_log of `calls` abandoned calls; the last one's caller id is `last_caller`.
fn queue_log(calls: usize, last_caller: &str) -> String {
    let mut text = String::new();
    for i in 0..calls {
        let t = 1_665_156_376 + i * 60;
        let caller = if i + 1 == calls { last_caller } else { "1000" };
        text.push_str(&format!(
            "{t}|{t}.{i}|500|NONE|ENTERQUEUE||{caller}|1\n{}|{t}.{i}|500|NONE|ABANDON|1|1|20\n",
            t + 20
        ));
    }
    text
}

on_both_backends!(an_oversized_field_on_the_last_call_appends_nothing_and_says_where);
async fn an_oversized_field_on_the_last_call_appends_nothing_and_says_where(target: Target) {
    let store = onboarded(&target).await;
    let before = head(&store).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("queue_log");
    let huge = "9".repeat(300 * 1024);
    std::fs::write(&file, queue_log(2000, &huge)).unwrap();
    let error = opsledger_app::import::import(
        &target,
        ImportRequest {
            client: CLIENT.to_owned(),
            skip_invalid: false,
            report_file: None,
            source: ImportSource::QueueLog {
                zone: chrono_tz::UTC,
                layout: None,
                files: vec![file.clone()],
            },
        },
        &NoProgress,
    )
    .await
    .unwrap_err();
    let message = error.to_string();
    assert!(
        message.starts_with(&format!("{}:3999: data: ", file.display())),
        "{}",
        &message[..message.len().min(400)]
    );
    assert!(message.ends_with("nothing was appended"), "{message}");
    assert!(message.len() < 1000, "{} bytes", message.len());
    assert_eq!(head(&store).await, before);
}

#[test]
fn a_refusal_quotes_at_most_a_bounded_excerpt() {
    let huge = "x".repeat(200_000);
    let message = AppError::input(opsledger_app::Origin::default(), Some("f"), huge).to_string();
    assert!(message.len() < opsledger_app::error::MAX_DETAIL_CHARS + 100);
    assert!(message.contains("200000 bytes in all"), "{message}");
}

on_both_backends!(a_year_past_9999_on_the_last_row_appends_nothing_and_says_where);
async fn a_year_past_9999_on_the_last_row_appends_nothing_and_says_where(target: Target) {
    let store = onboarded(&target).await;
    let before = head(&store).await;
    let dir = tempfile::tempdir().unwrap();
    let mapping = dir.path().join("mapping.json");
    std::fs::write(
        &mapping,
        json!({"name": "t", "has_header": true,
               "columns": {"call_id": "id", "queue_entry": "entry", "queue_exit": "exit",
                           "outcome": "outcome"},
               "time": {"format": "%Y-%m-%d %H:%M:%S", "zone": "UTC"},
               "outcomes": {"HANG": "abandoned"}})
        .to_string(),
    )
    .unwrap();
    let file = dir.path().join("calls.csv");
    let mut text = String::from("id,entry,exit,outcome\n");
    for i in 0..3000 {
        // chrono reads a year past 9999 only with its sign, as a real export might write it.
        let year = if i == 2999 { "+10000" } else { "2022" };
        let (h, m) = (i / 60 % 24, i % 60);
        text.push_str(&format!(
            "r{i},{year}-07-{:02} {h:02}:{m:02}:00,{year}-07-{:02} {h:02}:{m:02}:30,HANG\n",
            1 + i / 1440,
            1 + i / 1440
        ));
    }
    std::fs::write(&file, text).unwrap();
    let error = opsledger_app::import::import(
        &target,
        ImportRequest {
            client: CLIENT.to_owned(),
            skip_invalid: false,
            report_file: None,
            source: ImportSource::Csv {
                mapping: mapping.display().to_string(),
                file: file.clone(),
            },
        },
        &NoProgress,
    )
    .await
    .unwrap_err();
    let message = error.to_string();
    // Row 3000 is line 3001, after the header.
    assert!(
        message.starts_with(&format!("{}:3001: occurred_at: ", file.display())),
        "{message}"
    );
    assert!(message.ends_with("nothing was appended"), "{message}");
    assert_eq!(head(&store).await, before);
}
