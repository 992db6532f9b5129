//! The desk pages' fixture: a small ledger recorded on a throwaway PostgreSQL database through
//! the application library (the R-ESC-1 dispute of `examples/dispute-esc1.ndjson`, a call
//! excused by a force majeure window, and a second client whose name is a script tag), and the
//! models the server would hand the views, computed the way it computes them. The `Links`
//! the tests use, every page rendered from them, and the redaction of what depends on the day
//! the test runs.

// Each test binary that includes this module uses part of it.
#![allow(dead_code)]

pub mod retention;

use std::sync::{Arc, OnceLock};

use chrono::TimeZone as _;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use opsledger_app::clients::ClientSummary;
use opsledger_app::explain::Explanation;
use opsledger_app::report::{self, Basis, Provenance, ReportRequest};
use opsledger_app::store::EventStore;
use opsledger_app::timeline::Timeline;
use opsledger_app::{record, Actor, FixedClock, NoProgress, Target};
use opsledger_projections::obligations::{ObligationReport, Subject};
use opsledger_projections::profile::ClientProfile;
use opsledger_projections::sla::SlaReport;
use opsledger_projections::{AsOf, YearMonth};
use opsledger_views::desk::{
    access_log_page, clients_page, desk_timeline_page, dispute_page, error_page, login_page,
    month_page, obligations_page, retention_page, AccessFilterShown, AccessRow, ErrorKind, Links,
    MonthReport, VerdictKind, Viewer,
};
use serde_json::Value;

const DISPUTE: &str = include_str!("../../../examples/dispute-esc1.ndjson");

/// A force majeure window and a call escalated late inside it (R-ESC-1 excused).
const EXCUSED: &str = r#"{"event_id":"6f70736c-6564-6765-7200-64697370760c","command":"open_excused_window","args":{"client_id":"harbor-clinic","window_id":"fm-outage","at":"2026-10-07T12:00:00Z","cause":"force_majeure","note":"telephony provider outage"}}
{"event_id":"6f70736c-6564-6765-7200-64697370760d","command":"connect_call","args":{"client_id":"harbor-clinic","call_id":"hc-0002","at":"2026-10-07T12:10:00Z","queue":"triage","caller_number":null}}
{"event_id":"6f70736c-6564-6765-7200-64697370760e","command":"answer_call","args":{"client_id":"harbor-clinic","call_id":"hc-0002","at":"2026-10-07T12:10:04Z","agent_id":"agent-7"}}
{"event_id":"6f70736c-6564-6765-7200-64697370760f","command":"complete_call","args":{"client_id":"harbor-clinic","call_id":"hc-0002","at":"2026-10-07T12:20:00Z"}}
{"event_id":"6f70736c-6564-6765-7200-646973707610","command":"classify_call","args":{"client_id":"harbor-clinic","call_id":"hc-0002","at":"2026-10-07T12:20:30Z","nature":"medical_emergency","urgent":true,"outcome":"action"}}
{"event_id":"6f70736c-6564-6765-7200-646973707611","command":"open_escalation","args":{"client_id":"harbor-clinic","escalation_id":"esc-hc-0002","call_id":"hc-0002","at":"2026-10-07T12:25:00Z","urgency":"urgent","summary":null}}
{"event_id":"6f70736c-6564-6765-7200-646973707612","command":"attempt_contact","args":{"client_id":"harbor-clinic","escalation_id":"esc-hc-0002","at":"2026-10-07T12:40:00Z","tier":1,"contact_ref":"on-call-gp"}}
{"event_id":"6f70736c-6564-6765-7200-646973707613","command":"close_excused_window","args":{"client_id":"harbor-clinic","window_id":"fm-outage","at":"2026-10-07T13:00:00Z"}}"#;

/// The second client's call, with an id a script tag would like to be.
const SCRIPT_CALL: &str = r#"{"event_id":"6f70736c-6564-6765-7200-646973707621","command":"connect_call","args":{"client_id":"script-co","call_id":"sc-0001","at":"2026-10-06T13:00:00Z","queue":"<b>main</b>","caller_number":null}}
{"event_id":"6f70736c-6564-6765-7200-646973707622","command":"answer_call","args":{"client_id":"script-co","call_id":"sc-0001","at":"2026-10-06T13:00:30Z","agent_id":"agent-9"}}
{"event_id":"6f70736c-6564-6765-7200-646973707623","command":"complete_call","args":{"client_id":"script-co","call_id":"sc-0001","at":"2026-10-06T13:03:00Z"}}"#;

/// The second client's name.
pub const SCRIPT_NAME: &str = "<script>alert(\"owned\")</script> & Co";

/// The instant pending deadlines are judged at, as the CLI tests judge this dispute.
pub const JUDGED_AT: &str = "2026-11-01T00:00:00Z";

pub fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// The month the fixture's calls are in.
pub fn october() -> YearMonth {
    "2026-10".parse().unwrap()
}

/// The month page's models of one client.
#[derive(Debug)]
pub struct Month {
    pub sla: SlaReport,
    pub obligations: ObligationReport,
    pub profile: ClientProfile,
    pub provenance: Provenance,
}

/// Everything the pages are rendered from, and what redacts the day of the run.
#[derive(Debug)]
pub struct Fixture {
    pub clients: Vec<ClientSummary>,
    pub harbor: Month,
    pub script: Month,
    /// The dispute view of `R-ESC-1:call-hc-0001`.
    pub dispute: Explanation,
    /// The dispute view of `R-ESC-1:call-hc-0002`, excused by the force majeure window.
    pub excused_dispute: Explanation,
    /// The dispute view of the second client's call.
    pub script_dispute: Explanation,
    /// The dispute view of harbor-clinic's first obligation of October as a whole (a
    /// client-local month), which rests on no event.
    pub month_dispute: Explanation,
    pub timeline: Timeline,
    pub timeline_profile: ClientProfile,
    pub script_timeline: Timeline,
    pub script_timeline_profile: ClientProfile,
    /// Each event's recorded instant and hash: they change with the day the test runs.
    recorded: Vec<(DateTime<Utc>, String)>,
}

/// Sets the agreement's client name in an onboarding or amendment command.
fn with_name(line: &str, name: &str) -> String {
    let mut v: Value = serde_json::from_str(line).unwrap();
    if let Some(agreement) = v["args"].get_mut("agreement") {
        agreement["client_name"] = Value::String(name.to_owned());
    }
    v.to_string()
}

/// The commands recorded, one per line.
fn commands() -> String {
    let mut lines: Vec<String> = DISPUTE
        .lines()
        .map(|l| with_name(l, "Harbor Clinic"))
        .collect();
    lines.extend(EXCUSED.lines().map(str::to_owned));
    // The second client: harbor-clinic's onboarding under another id and name.
    let mut onboard: Value = serde_json::from_str(DISPUTE.lines().next().unwrap()).unwrap();
    onboard["event_id"] = Value::String("6f70736c-6564-6765-7200-646973707620".to_owned());
    onboard["args"]["client_id"] = Value::String("script-co".to_owned());
    onboard["args"]["agreement"]["client_name"] = Value::String(SCRIPT_NAME.to_owned());
    lines.push(onboard.to_string());
    lines.extend(SCRIPT_CALL.lines().map(str::to_owned));
    lines.join("\n")
}

async fn month_models(store: &Arc<dyn EventStore>, client: &str, judged: DateTime<Utc>) -> Month {
    let id = report::client_id(client).unwrap();
    let view = report::view_for_report(store, &id, AsOf::Head, "sla", Some(october()))
        .await
        .unwrap();
    let request = ReportRequest {
        report: "sla".to_owned(),
        client: client.to_owned(),
        month: Some(october()),
        as_of: AsOf::Head,
        evaluated_at: judged,
    };
    let provenance = report::provenance(store, &view, request).await.unwrap();
    let sla = view.sla_report(&id, october(), AsOf::Head, judged).unwrap();
    let obligations = view
        .obligation_report(&id, sla.period, AsOf::Head, judged)
        .unwrap();
    let profile = view
        .client_profile(&id, AsOf::Head, sla.period.from)
        .unwrap();
    Month {
        sla,
        obligations,
        profile,
        provenance,
    }
}

async fn timeline(
    target: &Target,
    store: &Arc<dyn EventStore>,
    stream: &str,
) -> (Timeline, ClientProfile) {
    let clock = FixedClock(at(JUDGED_AT));
    let t =
        opsledger_app::timeline::timeline(target, stream, Some(at(JUDGED_AT)), &clock, &NoProgress)
            .await
            .unwrap();
    let client = report::client_id(t.client_id.as_deref().unwrap()).unwrap();
    let view = report::view_for(store, &client, AsOf::Head).await.unwrap();
    let last = t.events.last().unwrap().occurred_at;
    let profile = view.client_profile(&client, AsOf::Head, last).unwrap();
    (t, profile)
}

async fn build() -> Fixture {
    let url = opsledger_tests::pg::server().fresh_database().await;
    let target = Target::Postgres(url);
    let store = target.create().await.unwrap();
    let facts = record::read_commands("fixture", commands().as_bytes()).unwrap();
    let metadata = record::metadata("test", &Actor::named("alice"));
    record::record(&store, facts, &metadata, false, &NoProgress)
        .await
        .unwrap();
    let store = report::up_to_date(&target, &NoProgress).await.unwrap();
    let judged = at(JUDGED_AT);
    let clock = FixedClock(judged);
    let basis = Basis {
        evaluated_at: Some(judged),
        ..Basis::default()
    };
    let explain = |id: &'static str| {
        let (target, basis, clock) = (&target, &basis, &clock);
        async move {
            opsledger_app::explain::explain(target, id, basis, clock, &NoProgress)
                .await
                .unwrap()
        }
    };
    let (timeline_model, timeline_profile) = timeline(&target, &store, "call-hc-0001").await;
    let (script_timeline, script_timeline_profile) =
        timeline(&target, &store, "call-sc-0001").await;
    let recorded = store
        .read_all(0, 1_000)
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.recorded_at, e.hash.to_hex()))
        .collect();
    let harbor = month_models(&store, "harbor-clinic", judged).await;
    let month_level = harbor
        .obligations
        .obligations
        .iter()
        .find(|o| matches!(o.subject, Subject::Month { .. }))
        .expect("harbor-clinic has an obligation of October as a whole")
        .id
        .clone();
    let month_dispute =
        opsledger_app::explain::explain(&target, &month_level, &basis, &clock, &NoProgress)
            .await
            .unwrap();
    Fixture {
        clients: opsledger_app::clients::list(&store, judged).await.unwrap(),
        harbor,
        script: month_models(&store, "script-co", judged).await,
        dispute: explain("R-ESC-1:call-hc-0001").await,
        excused_dispute: explain("R-ESC-1:call-hc-0002").await,
        script_dispute: explain("call-sc-0001").await,
        month_dispute,
        timeline: timeline_model,
        timeline_profile,
        script_timeline,
        script_timeline_profile,
        recorded,
    }
}

/// The fixture, recorded once per test binary.
pub fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
            .block_on(build())
    })
}

impl Fixture {
    /// `page` with the recorded instants and hashes (which change with the day the test runs)
    /// and the shared styles replaced by placeholders, one tag per line so a snapshot's diff shows what changed.
    pub fn redacted(&self, page: &str) -> String {
        let mut out = page.to_owned();
        let zone: Tz = "Europe/London".parse().unwrap();
        for (recorded, hash) in &self.recorded {
            out = out
                .replace(
                    &opsledger_views::local(*recorded, zone),
                    "[recorded, local]",
                )
                .replace(
                    &recorded.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
                    "[recorded, UTC]",
                )
                .replace(hash.as_str(), "[hash]");
        }
        // The styles are the same on every page; a snapshot keeps the markup.
        if let (Some(from), Some(to)) = (out.find("<style>"), out.find("</style>")) {
            out.replace_range(from + "<style>".len()..to, "[styles]");
        }
        out.replace("><", ">\n<")
    }
}

/// A URL scheme of the tests' own: paths with percent-encoded segments, a query for the
/// verdict and the bundle's stream.
#[derive(Debug)]
pub struct TestLinks;

/// Percent-encodes everything but unreserved characters.
pub fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

impl Links for TestLinks {
    fn clients(&self) -> String {
        "/".to_owned()
    }
    fn login(&self) -> String {
        "/login".to_owned()
    }
    fn logout(&self) -> String {
        "/logout".to_owned()
    }
    fn month(&self, client_id: &str, month: YearMonth) -> String {
        format!("/clients/{}/{month}", enc(client_id))
    }
    fn obligations(
        &self,
        client_id: &str,
        month: YearMonth,
        verdict: Option<VerdictKind>,
    ) -> String {
        match verdict {
            Some(v) => format!(
                "/clients/{}/{month}/obligations?verdict={}&page=1",
                enc(client_id),
                v.slug()
            ),
            None => format!("/clients/{}/{month}/obligations", enc(client_id)),
        }
    }
    fn explain(&self, id: &str) -> String {
        format!("/explain/{}", enc(id))
    }
    fn timeline(&self, stream_id: &str) -> String {
        format!("/streams/{}/timeline", enc(stream_id))
    }
    fn bundle(&self, client_id: &str, stream_id: Option<&str>) -> String {
        match stream_id {
            Some(s) => format!("/clients/{}/bundle?stream={}", enc(client_id), enc(s)),
            None => format!("/clients/{}/bundle", enc(client_id)),
        }
    }
    fn access_log(&self) -> String {
        "/access-log".to_owned()
    }
    fn retention(&self, client_id: &str, month: YearMonth) -> String {
        format!("/clients/{}/{month}/retention", enc(client_id))
    }
}

pub const AUDITOR: Viewer<'static> = Viewer {
    user: "ada",
    role: "auditor",
    sees_access_log: true,
    sees_retention: false,
};

pub const OPERATOR: Viewer<'static> = Viewer {
    user: "olga",
    role: "operator",
    sees_access_log: false,
    sees_retention: true,
};

pub const READER: Viewer<'static> = Viewer {
    user: "rex",
    role: "client reader of harbor-clinic",
    sees_access_log: false,
    sees_retention: false,
};

pub fn month(m: &Month) -> MonthReport<'_> {
    MonthReport {
        sla: &m.sla,
        obligations: &m.obligations,
        profile: &m.profile,
        provenance: &m.provenance,
    }
}

pub fn access_rows() -> Vec<AccessRow> {
    vec![
        AccessRow {
            seq: 1,
            at: Utc.with_ymd_and_hms(2026, 12, 3, 7, 0, 0).unwrap(),
            user_name: "rex".to_owned(),
            role: "client_reader".to_owned(),
            client_id: Some("harbor-clinic".to_owned()),
            query: "GET /clients/harbor-clinic/2026-10".to_owned(),
            rows: 14,
            hash: "a1".repeat(32),
        },
        AccessRow {
            seq: 2,
            at: Utc.with_ymd_and_hms(2026, 12, 3, 7, 1, 30).unwrap(),
            user_name: "ada".to_owned(),
            role: "auditor".to_owned(),
            client_id: None,
            query: "GET /clients".to_owned(),
            rows: 2,
            hash: "b2".repeat(32),
        },
    ]
}

/// Every page of the desk on the fixture, by name, as an auditor sees it (the error page
/// also as nobody signed in).
pub fn pages() -> Vec<(&'static str, String)> {
    let f = fixture();
    let l = &TestLinks;
    vec![
        ("login", login_page(l, None, None)),
        (
            "login_failed",
            login_page(l, Some("Unknown user or wrong password."), Some("ada")),
        ),
        ("clients", clients_page(l, &AUDITOR, &f.clients)),
        ("month", month_page(l, &AUDITOR, month(&f.harbor))),
        (
            "obligations_missed",
            obligations_page(
                l,
                &AUDITOR,
                &f.harbor.obligations,
                &f.harbor.profile,
                &f.harbor.provenance,
                Some(VerdictKind::Missed),
            ),
        ),
        (
            "obligations_excused",
            obligations_page(
                l,
                &AUDITOR,
                &f.harbor.obligations,
                &f.harbor.profile,
                &f.harbor.provenance,
                Some(VerdictKind::Excused),
            ),
        ),
        (
            "dispute",
            dispute_page(l, &AUDITOR, &f.dispute, Some("Harbor Clinic")),
        ),
        (
            "dispute_month",
            dispute_page(l, &AUDITOR, &f.month_dispute, Some("Harbor Clinic")),
        ),
        (
            "retention",
            retention_page(
                l,
                &OPERATOR,
                retention::retention_fixture().lakeside_before.page(),
            ),
        ),
        (
            "timeline",
            desk_timeline_page(l, &AUDITOR, &f.timeline, Some(&f.timeline_profile)),
        ),
        (
            "access_log",
            access_log_page(
                l,
                &AUDITOR,
                &access_rows(),
                AccessFilterShown::default(),
                Some("intact, 2 entries"),
            ),
        ),
        (
            "error_403",
            error_page(
                l,
                Some(&READER),
                ErrorKind::Forbidden,
                Some("client script-co is not yours to read"),
            ),
        ),
        (
            "error_401",
            error_page(l, None, ErrorKind::Unauthenticated, None),
        ),
    ]
}
