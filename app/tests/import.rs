//! Importing through the application library, on both backends: every row read is accounted
//! for exactly once, the per-row report names real lines of the files read, what was imported
//! is what the ledger holds, and importing the same files again adds nothing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use opsledger_app::import::{self, ImportRequest, ImportSource};
use opsledger_app::record;
use opsledger_app::store::EventStore;
use opsledger_app::{Actor, NoProgress, Target};

const ONBOARD: &str = include_str!("../../examples/lab-client.ndjson");

fn lab_data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/asterisk-issabel-lab-2022")
}

fn queue_logs() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(lab_data())
        .expect("../shared/data/asterisk-issabel-lab-2022 is beside the repository")
        .map(|entry| entry.unwrap().path())
        .filter(|path| {
            path.file_name()
                .is_some_and(|name| name.to_string_lossy().starts_with("queue_log"))
        })
        .collect();
    files.sort();
    assert!(files.len() >= 2, "the lab data has rotated queue_logs");
    files
}

/// The lines of a file as the importer numbers them: physical lines, the first is line 1.
fn physical_lines(path: &Path) -> Vec<String> {
    let bytes = std::fs::read(path).unwrap();
    String::from_utf8_lossy(&bytes)
        .lines()
        .map(str::to_owned)
        .collect()
}

fn request(report_file: PathBuf) -> ImportRequest {
    ImportRequest {
        client: "issabel-lab".to_owned(),
        skip_invalid: false,
        report_file: Some(report_file),
        source: ImportSource::QueueLog {
            zone: chrono_tz::UTC,
            layout: None,
            files: queue_logs(),
        },
    }
}

async fn events_of_client(store: &Arc<dyn EventStore>) -> u64 {
    let page = store.read_all(0, 100_000).await.unwrap();
    u64::try_from(
        page.iter()
            .filter(|e| e.client_id.as_deref() == Some("issabel-lab"))
            .count(),
    )
    .unwrap()
}

async fn every_row_is_accounted_for_and_a_rerun_adds_nothing(target: Target, dir: &Path) {
    let store = target.create().await.unwrap();
    let metadata = record::metadata("test", &Actor::unknown());
    let onboard = record::read_commands("lab-client.ndjson", ONBOARD.as_bytes()).unwrap();
    record::record(&store, onboard, &metadata, false, &NoProgress)
        .await
        .unwrap();

    let report_file = dir.join("rows.tsv");
    let first = import::import(&target, request(report_file.clone()), &NoProgress)
        .await
        .unwrap();

    // Every row read has exactly one disposition, and the counts add up to the rows read.
    let counts = first.accounting.counts();
    let counted: u64 = counts.values().sum();
    assert_eq!(counted, first.accounting.rows_read(), "{counts:?}");
    let lines_in_files: u64 = queue_logs()
        .iter()
        .map(|f| u64::try_from(physical_lines(f).len()).unwrap())
        .sum();
    assert_eq!(
        first.accounting.rows_read(),
        lines_in_files,
        "every physical line of the input is a row read"
    );
    assert!(first.calls > 0, "the lab data holds queue calls");
    assert_eq!(first.recorded.appended, first.events);
    assert_eq!(events_of_client(&store).await, first.events + 1);

    // The per-row report names real lines: one entry per row, each `file:line` within its file.
    let report = std::fs::read_to_string(&report_file).unwrap();
    let mut per_file: BTreeMap<String, u64> = BTreeMap::new();
    let mut entries = report.lines();
    assert_eq!(entries.next(), Some("place\tdisposition\tdetail"));
    for entry in entries {
        let (place, _) = entry.split_once('\t').expect("file:line<TAB>disposition");
        let (file, line) = place.rsplit_once(':').expect("file:line");
        let line: usize = line.parse().expect("a line number");
        let lines = physical_lines(Path::new(file));
        assert!(
            (1..=lines.len()).contains(&line),
            "{place} is not a line of {file} ({} lines)",
            lines.len()
        );
        *per_file.entry(file.to_owned()).or_default() += 1;
    }
    assert_eq!(
        per_file.values().sum::<u64>(),
        first.accounting.rows_read(),
        "one report entry per row read"
    );

    // Importing the same files again appends nothing and accounts for the same rows.
    let second = import::import(&target, request(dir.join("rows-again.tsv")), &NoProgress)
        .await
        .unwrap();
    assert_eq!(second.recorded.appended, 0, "a rerun adds nothing");
    assert_eq!(second.accounting.rows_read(), first.accounting.rows_read());
    assert_eq!(events_of_client(&store).await, first.events + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn importing_the_lab_queue_logs_accounts_for_every_row_embedded() {
    let dir = tempfile::tempdir().unwrap();
    let target = Target::File(dir.path().join("lab.ledger"));
    every_row_is_accounted_for_and_a_rerun_adds_nothing(target, dir.path()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn importing_the_lab_queue_logs_accounts_for_every_row_on_postgres() {
    let dir = tempfile::tempdir().unwrap();
    let url = opsledger_tests::pg::server().fresh_database().await;
    every_row_is_accounted_for_and_a_rerun_adds_nothing(Target::Postgres(url), dir.path()).await;
}
