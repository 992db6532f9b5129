//! The retention page's fixture: a ledger of its own (so the other pages' snapshots keep their
//! positions) with two terminated clients on PostgreSQL, one under a legal hold, each with a
//! call old enough to be past R-RET-1's minimum and a recent one, and the models the server
//! hands the retention page, computed as it computes them.

use std::sync::{Arc, OnceLock};

use chrono::{DateTime, Utc};
use opsledger_app::report::{self, Basis};
use opsledger_app::retention::{self, Action};
use opsledger_app::store::EventStore;
use opsledger_app::{record, Actor, FixedClock, NoProgress, Target};
use opsledger_projections::profile::ClientProfile;
use opsledger_projections::retention::RetentionReport;
use opsledger_projections::{AsOf, YearMonth};
use opsledger_views::desk::RetentionDryRun;
use serde_json::{json, Value};

/// The terminated client with no hold.
pub const LAKESIDE: &str = "lakeside-vets";
/// The terminated client under legal hold `lh-quay-1`.
pub const QUAYSIDE: &str = "quayside-dental";
/// Before the client's data's deadline: an old call is overdue, a recent one is kept by
/// R-RET-1's minimum, the client's data is not yet due.
pub const BEFORE_DEADLINE: &str = "2026-12-15T12:00:00Z";
/// After every deadline: a run deletes the client's data unless a hold refuses it.
pub const AFTER_DEADLINE: &str = "2027-02-01T12:00:00Z";

/// One client's retention page models at one instant.
#[derive(Debug)]
pub struct RetentionModels {
    pub report: RetentionReport,
    pub action: Option<Action>,
    pub profile: ClientProfile,
    pub position: Option<u64>,
}

impl RetentionModels {
    pub fn page(&self) -> RetentionDryRun<'_> {
        RetentionDryRun {
            report: &self.report,
            action: self.action.as_ref(),
            profile: &self.profile,
            month: december(),
            position: self.position,
        }
    }
}

/// The retention fixture: each client before and after the client data's deadline.
#[derive(Debug)]
pub struct RetentionFixture {
    pub lakeside_before: RetentionModels,
    pub lakeside_after: RetentionModels,
    pub quayside_after: RetentionModels,
}

pub fn december() -> YearMonth {
    "2026-12".parse().unwrap()
}

fn event_id(n: u32) -> String {
    format!("6f70736c-6564-6765-7200-6469737077{n:02x}")
}

/// The commands of one terminated client: onboarded in May, a call in June and one in
/// October, notice given in September, effective on 31 October (UTC).
fn client_commands(client: &str, name: &str, first: u32, hold: bool) -> Vec<Value> {
    let dispute = include_str!("../../../examples/dispute-esc1.ndjson");
    let mut onboard: Value = serde_json::from_str(dispute.lines().next().unwrap()).unwrap();
    onboard["event_id"] = json!(event_id(first));
    onboard["args"]["client_id"] = json!(client);
    onboard["args"]["at"] = json!("2026-05-01T08:00:00Z");
    onboard["args"]["agreement"]["client_name"] = json!(name);
    onboard["args"]["agreement"]["go_live_date"] = json!("2026-05-01");
    let mut out = vec![onboard];
    let code = &client[..4];
    for (i, at) in ["2026-06-10T10:00:00Z", "2026-10-06T10:00:00Z"]
        .iter()
        .enumerate()
    {
        let call = format!("{code}-000{}", i + 1);
        let n = first + 1 + u32::try_from(i).unwrap() * 3;
        let connected = DateTime::parse_from_rfc3339(at)
            .unwrap()
            .with_timezone(&Utc);
        out.push(json!({"event_id": event_id(n), "command": "connect_call", "args": {
            "client_id": client, "call_id": call, "at": at, "queue": "main", "caller_number": null}}));
        out.push(
            json!({"event_id": event_id(n + 1), "command": "answer_call", "args": {
            "client_id": client, "call_id": call, "at": connected + chrono::Duration::seconds(5),
            "agent_id": "agent-7"}}),
        );
        out.push(
            json!({"event_id": event_id(n + 2), "command": "complete_call", "args": {
            "client_id": client, "call_id": call, "at": connected + chrono::Duration::minutes(3)}}),
        );
    }
    out.push(
        json!({"event_id": event_id(first + 7), "command": "give_termination_notice", "args": {
        "client_id": client, "notice_id": format!("{code}-notice"), "at": "2026-09-15T09:00:00Z",
        "by": "client", "effective_at": "2026-10-31T00:00:00Z"}}),
    );
    out.push(
        json!({"event_id": event_id(first + 8), "command": "record_termination_effective", "args": {
        "client_id": client, "at": "2026-10-31T00:00:00Z"}}),
    );
    if hold {
        out.push(
            json!({"event_id": event_id(first + 9), "command": "place_legal_hold", "args": {
            "client_id": client, "hold_id": "lh-quay-1", "at": "2026-11-20T09:00:00Z",
            "matter": "a regulator's inquiry"}}),
        );
    }
    out
}

async fn models(store: &Arc<dyn EventStore>, client: &str, judged: &str) -> RetentionModels {
    let at = super::at(judged);
    let id = report::client_id(client).unwrap();
    let view = report::view_for_report(store, &id, AsOf::Head, "retention", Some(december()))
        .await
        .unwrap();
    let basis = Basis {
        evaluated_at: Some(at),
        ..Basis::default()
    };
    let report = report::retention(&view, &id, december(), &basis, &FixedClock(at)).unwrap();
    let profile = view.client_profile(&id, AsOf::Head, at).unwrap();
    let action = retention::dry_run_for(store, &id, at).await.unwrap();
    let position = store.head().await.unwrap().map(|h| h.position);
    RetentionModels {
        report,
        action,
        profile,
        position,
    }
}

async fn build() -> RetentionFixture {
    let url = opsledger_tests::pg::server().fresh_database().await;
    let target = Target::Postgres(url);
    let store = target.create().await.unwrap();
    let mut lines = client_commands(LAKESIDE, "Lakeside Vets", 0x30, false);
    lines.extend(client_commands(QUAYSIDE, "Quayside Dental", 0x40, true));
    let text: Vec<String> = lines.iter().map(Value::to_string).collect();
    let facts = record::read_commands("retention fixture", text.join("\n").as_bytes()).unwrap();
    let metadata = record::metadata("test", &Actor::named("alice"));
    record::record(&store, facts, &metadata, false, &NoProgress)
        .await
        .unwrap();
    let store = report::up_to_date(&target, &NoProgress).await.unwrap();
    RetentionFixture {
        lakeside_before: models(&store, LAKESIDE, BEFORE_DEADLINE).await,
        lakeside_after: models(&store, LAKESIDE, AFTER_DEADLINE).await,
        quayside_after: models(&store, QUAYSIDE, AFTER_DEADLINE).await,
    }
}

/// The retention fixture, recorded once per test binary.
pub fn retention_fixture() -> &'static RetentionFixture {
    static FIXTURE: OnceLock<RetentionFixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
            .block_on(build())
    })
}
