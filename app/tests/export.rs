//! Evidence bundles through the application layer: the clock passed in is the instant the
//! annotations' verdicts are computed at, and the written bundle verifies offline.

use chrono::{TimeZone, Utc};
use opsledger_app::export::{self, ExportRequest};
use opsledger_app::record;
use opsledger_app::store::bundle::BundleReport;
use opsledger_app::{Actor, AppError, FixedClock, NoProgress, Target};

const ONBOARD: &str = include_str!("../../examples/lab-client.ndjson");

#[tokio::test]
async fn verdicts_are_computed_at_the_given_clock_and_the_bundle_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let target = Target::File(dir.path().join("t.ledger"));
    let store = target.create().await.unwrap();
    let facts = record::read_commands("onboard", ONBOARD.as_bytes()).unwrap();
    let metadata = record::metadata("test", &Actor::unknown());
    record::record(&store, facts, &metadata, false, &NoProgress)
        .await
        .unwrap();

    let now = Utc.with_ymd_and_hms(2030, 5, 6, 7, 8, 9).unwrap();
    let out = dir.path().join("bundle.json");
    let exported =
        export::export_client(&target, "issabel-lab", &out, &FixedClock(now), &NoProgress)
            .await
            .unwrap();
    assert_eq!(exported.disclosed, 1);
    let bundle: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(
        bundle["annotations"]["verdicts_computed_at"],
        serde_json::json!(now)
    );
    let check = export::verify_bundle(&out, None).unwrap();
    assert!(matches!(check.report, BundleReport::Intact { .. }));
    assert!(check.annotated);

    // Without `force`, an existing file is refused and left as it was.
    let again = ExportRequest {
        out: out.clone(),
        client: Some("issabel-lab".to_owned()),
        ..ExportRequest::default()
    };
    let error = export::export(&target, again, &FixedClock(now), &NoProgress)
        .await
        .unwrap_err();
    assert!(
        matches!(error, AppError::InvalidRequest { .. }),
        "{error:?}"
    );
    assert!(export::verify_bundle(&out, None).unwrap().annotated);
}

#[test]
fn a_file_that_is_not_a_bundle_is_unreadable_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("junk.json");
    std::fs::write(&path, "not json at all").unwrap();
    match export::verify_bundle(&path, None) {
        Err(AppError::UnreadableBundle { file, .. }) => assert!(file.ends_with("junk.json")),
        other => panic!("expected an unreadable bundle, got {other:?}"),
    }
}
