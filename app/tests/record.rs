//! Recording through the application layer: refusals keep the refusing rule as data (whether
//! they stop the input or are skipped), the actor and source reach the metadata, progress
//! hears of every appended event, and refused input names its file and line.

use std::sync::{Arc, Mutex};

use opsledger_app::record::{self, Fact};
use opsledger_app::store::{EventStore, SqliteStore};
use opsledger_app::{Actor, AppError, NoProgress, Origin, Progress};
use opsledger_domain::rules::RuleId;

const ONBOARD: &str = include_str!("../../examples/lab-client.ndjson");

/// Deleting call records of a fortnight ago: R-RET-1 keeps them 90 days.
const TOO_EARLY_DELETION: &str = r#"{"command":"record_data_deletion","args":{"client_id":"issabel-lab","deletion_id":"early","at":"2022-07-15T00:00:00Z","scope":{"kind":"call_records_before","before":"2022-07-01T00:00:00Z"}}}"#;

fn store(dir: &tempfile::TempDir) -> Arc<dyn EventStore> {
    Arc::new(SqliteStore::create_new(dir.path().join("t.ledger")).unwrap())
}

fn facts(name: &str, text: &str) -> Vec<Fact> {
    record::read_commands(name, text.as_bytes()).unwrap()
}

/// Progress that remembers what it heard.
#[derive(Debug, Default)]
struct Heard(Mutex<Vec<String>>);

impl Progress for Heard {
    fn start(&self, total: u64) {
        self.0.lock().unwrap().push(format!("start {total}"));
    }
    fn advance(&self, n: u64) {
        self.0.lock().unwrap().push(format!("advance {n}"));
    }
    fn finish(&self) {
        self.0.lock().unwrap().push("finish".to_owned());
    }
}

#[tokio::test]
async fn a_refusal_stops_the_input_and_keeps_its_rule_and_place() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir);
    let metadata = record::metadata("test", &Actor::unknown());
    record::record(
        &store,
        facts("onboard", ONBOARD),
        &metadata,
        false,
        &NoProgress,
    )
    .await
    .unwrap();
    let input = format!("\n{TOO_EARLY_DELETION}\n");
    let error = record::record(
        &store,
        facts("deletions.ndjson", &input),
        &metadata,
        false,
        &NoProgress,
    )
    .await
    .unwrap_err();
    match &error {
        AppError::Refused {
            rule,
            origin,
            refusal,
        } => {
            assert_eq!(*rule, Some(RuleId::Ret1));
            assert_eq!(refusal.rule(), Some(RuleId::Ret1));
            assert_eq!(
                *origin,
                Origin {
                    file: "deletions.ndjson".to_owned(),
                    line: 2
                }
            );
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    let message = error.to_string();
    assert!(
        message.starts_with("deletions.ndjson:2: refused: R-RET-1"),
        "{message}"
    );
    assert_eq!(store.head().await.unwrap().unwrap().position, 0);
}

#[tokio::test]
async fn skipped_refusals_are_listed_with_their_rule_and_the_rest_is_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir);
    let input = format!("{}\n{TOO_EARLY_DELETION}\n", ONBOARD.trim());
    let heard = Heard::default();
    let done = record::record(
        &store,
        facts("mixed.ndjson", &input),
        &record::metadata("test", &Actor::named("alice")),
        true,
        &heard,
    )
    .await
    .unwrap();
    assert_eq!(done.appended, 1);
    assert_eq!(done.refused.len(), 1);
    assert_eq!(done.refused[0].rule, Some(RuleId::Ret1));
    assert_eq!(done.refused[0].origin.line, 2);
    assert_eq!(
        *heard.0.lock().unwrap(),
        vec!["start 1", "advance 1", "finish"]
    );
    let recorded = store.read_all(0, 10).await.unwrap();
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].metadata.actor.as_deref(), Some("alice"));
    assert_eq!(recorded[0].metadata.source.as_deref(), Some("test"));
}

#[test]
fn a_malformed_command_line_is_refused_input_naming_its_line() {
    let error =
        record::read_commands("cmds.ndjson", "\n{\"command\": 3}\n".as_bytes()).unwrap_err();
    assert!(
        matches!(&error, AppError::Input { origin, .. } if origin.line == 2 && origin.file == "cmds.ndjson"),
        "{error:?}"
    );
}
