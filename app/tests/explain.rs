//! The dispute view on both backends: a recorded R-ESC-1 miss is explained by one call, with
//! the rule, the agreement amendment that set its value (position and event), the due
//! instant, "missed by", the evidence in the call's and the escalation's streams, the events
//! correlated with them, and the head it reflects; as-of bases move the answer as they move
//! reports; bare ids as reports print them reach `timeline` and `explain`, and an unknown id
//! gets the accepted forms; obligations not about one call, escalation or invoice (an account
//! issue, a month, a quarter, a client fact) are explained by their printed ids.

use chrono::{DateTime, Utc};
use opsledger_app::explain::{self, EntityKind};
use opsledger_app::record;
use opsledger_app::report::Basis;
use opsledger_app::store::Metadata;
use opsledger_app::{Actor, AppError, FixedClock, NoProgress, Target};
use opsledger_domain::rules::{RuleId, RuleValue};
use opsledger_projections::source::ValueSource;
use opsledger_projections::verdict::{Unit, Verdict};
use uuid::Uuid;

const DISPUTE: &str = include_str!("../../examples/dispute-esc1.ndjson");

/// Raised with the escalation, in the same business transaction: reached through the
/// correlation id alone (no payload names the call or the escalation).
const CORRELATED_ISSUE: &str = r#"{"event_id":"6f70736c-6564-6765-7200-646973707509","command":"identify_account_issue","args":{"client_id":"harbor-clinic","issue_id":"ai-hc-0001","at":"2026-10-06T13:10:00Z","summary":"urgent escalation late"}}"#;

/// Recorded after the dispute: an SOP amendment shortening R-ANS-2 (recorded at position 9,
/// effective before the call), an invoice (position 10), and a second urgent call escalated
/// late inside a force majeure window that held its whole R-ESC-1 interval, and a third
/// whose R-ESC-1 deadline fell in a window of lapsed credentials, which extended it.
const LATER: &str = r#"{"event_id":"6f70736c-6564-6765-7200-64697370750a","command":"publish_sop_amendment","args":{"amendment_id":"sop-ans2-30s","at":"2026-09-25T00:00:00Z","effective_at":"2026-09-26T00:00:00Z","material":false,"changes":[{"rule":"R-ANS-2","value":{"kind":"seconds","value":30}}],"summary":"shorter maximum queue time"}}
{"event_id":"6f70736c-6564-6765-7200-64697370750b","command":"issue_invoice","args":{"client_id":"harbor-clinic","invoice_id":"inv-2026-10","at":"2026-09-30T09:00:00Z","invoice_date":"2026-09-30","period_start":"2026-10-01","period_end":"2026-10-31","lines":[{"description":"monthly base","quantity":1,"unit_price":{"amount_minor":10000,"currency":"GBP"},"amount":{"amount_minor":10000,"currency":"GBP"}}],"total":{"amount_minor":10000,"currency":"GBP"},"due_date":null,"final_invoice":false}}
{"event_id":"6f70736c-6564-6765-7200-64697370750c","command":"open_excused_window","args":{"client_id":"harbor-clinic","window_id":"fm-outage","at":"2026-10-07T12:00:00Z","cause":"force_majeure","note":"telephony provider outage"}}
{"event_id":"6f70736c-6564-6765-7200-64697370750d","command":"connect_call","args":{"client_id":"harbor-clinic","call_id":"hc-0002","at":"2026-10-07T12:10:00Z","queue":"triage","caller_number":null}}
{"event_id":"6f70736c-6564-6765-7200-64697370750e","command":"answer_call","args":{"client_id":"harbor-clinic","call_id":"hc-0002","at":"2026-10-07T12:10:04Z","agent_id":"agent-7"}}
{"event_id":"6f70736c-6564-6765-7200-64697370750f","command":"complete_call","args":{"client_id":"harbor-clinic","call_id":"hc-0002","at":"2026-10-07T12:20:00Z"}}
{"event_id":"6f70736c-6564-6765-7200-646973707510","command":"classify_call","args":{"client_id":"harbor-clinic","call_id":"hc-0002","at":"2026-10-07T12:20:30Z","nature":"medical_emergency","urgent":true,"outcome":"action"}}
{"event_id":"6f70736c-6564-6765-7200-646973707511","command":"open_escalation","args":{"client_id":"harbor-clinic","escalation_id":"esc-hc-0002","call_id":"hc-0002","at":"2026-10-07T12:25:00Z","urgency":"urgent","summary":null}}
{"event_id":"6f70736c-6564-6765-7200-646973707512","command":"attempt_contact","args":{"client_id":"harbor-clinic","escalation_id":"esc-hc-0002","at":"2026-10-07T12:40:00Z","tier":1,"contact_ref":"on-call-gp"}}
{"event_id":"6f70736c-6564-6765-7200-646973707513","command":"close_excused_window","args":{"client_id":"harbor-clinic","window_id":"fm-outage","at":"2026-10-07T13:00:00Z"}}
{"event_id":"6f70736c-6564-6765-7200-646973707520","command":"connect_call","args":{"client_id":"harbor-clinic","call_id":"hc-0003","at":"2026-10-08T12:50:00Z","queue":"triage","caller_number":null}}
{"event_id":"6f70736c-6564-6765-7200-646973707521","command":"answer_call","args":{"client_id":"harbor-clinic","call_id":"hc-0003","at":"2026-10-08T12:50:03Z","agent_id":"agent-7"}}
{"event_id":"6f70736c-6564-6765-7200-646973707522","command":"complete_call","args":{"client_id":"harbor-clinic","call_id":"hc-0003","at":"2026-10-08T13:00:00Z"}}
{"event_id":"6f70736c-6564-6765-7200-646973707523","command":"classify_call","args":{"client_id":"harbor-clinic","call_id":"hc-0003","at":"2026-10-08T13:00:20Z","nature":"medical_emergency","urgent":true,"outcome":"action"}}
{"event_id":"6f70736c-6564-6765-7200-646973707524","command":"open_excused_window","args":{"client_id":"harbor-clinic","window_id":"creds-lapsed","at":"2026-10-08T13:01:00Z","cause":"missing_credentials","note":null}}
{"event_id":"6f70736c-6564-6765-7200-646973707525","command":"open_escalation","args":{"client_id":"harbor-clinic","escalation_id":"esc-hc-0003","call_id":"hc-0003","at":"2026-10-08T13:05:00Z","urgency":"urgent","summary":null}}
{"event_id":"6f70736c-6564-6765-7200-646973707526","command":"close_excused_window","args":{"client_id":"harbor-clinic","window_id":"creds-lapsed","at":"2026-10-08T13:10:00Z"}}
{"event_id":"6f70736c-6564-6765-7200-646973707527","command":"attempt_contact","args":{"client_id":"harbor-clinic","escalation_id":"esc-hc-0003","at":"2026-10-08T13:10:30Z","tier":1,"contact_ref":"on-call-gp"}}"#;

const CORRELATION: Uuid = Uuid::from_u128(0x5eed_0000_0000_0000_0000_0000_0000_0e5c);

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// The ledger of `examples/dispute-esc1.ndjson`: the escalation, its late attempt and an
/// account issue recorded under one correlation id; the rest without one.
async fn record_dispute(target: &Target) {
    let store = target.create().await.unwrap();
    let lines: Vec<&str> = DISPUTE.lines().collect();
    let (plain, escalation) = lines.split_at(6);
    let metadata = record::metadata("test", &Actor::named("alice"));
    let facts = record::read_commands("plain", plain.join("\n").as_bytes()).unwrap();
    record::record(&store, facts, &metadata, false, &NoProgress)
        .await
        .unwrap();
    let correlated = Metadata {
        correlation_id: Some(CORRELATION),
        ..metadata
    };
    let text = format!("{}\n{CORRELATED_ISSUE}", escalation.join("\n"));
    let facts = record::read_commands("escalation", text.as_bytes()).unwrap();
    record::record(&store, facts, &correlated, false, &NoProgress)
        .await
        .unwrap();
    let facts = record::read_commands("later", LATER.as_bytes()).unwrap();
    let metadata = record::metadata("test", &Actor::named("alice"));
    record::record(&store, facts, &metadata, false, &NoProgress)
        .await
        .unwrap();
}

fn judged_at(evaluated_at: &str) -> Basis {
    Basis {
        evaluated_at: Some(at(evaluated_at)),
        ..Basis::default()
    }
}

async fn explains_a_recorded_esc1_miss(target: Target) {
    record_dispute(&target).await;
    let clock = FixedClock(at("2026-12-01T00:00:00Z"));
    let e = explain::explain(
        &target,
        "R-ESC-1:hc-0001",
        &judged_at("2026-11-01T00:00:00Z"),
        &clock,
        &NoProgress,
    )
    .await
    .unwrap();
    assert_eq!(e.asked.kind, EntityKind::Call);
    assert_eq!(e.asked.stream_id, "call-hc-0001");
    assert_eq!(e.client_id, "harbor-clinic");
    assert_eq!(e.time_zone, "Europe/London");
    assert_eq!(e.obligations.len(), 1);
    let o = &e.obligations[0];
    assert_eq!(o.rule, RuleId::Esc1);
    assert!(o.rule_text.contains("urgent escalation"), "{}", o.rule_text);
    // The amendment recorded at position 1 set 2 min, overriding the SOP's 3 min.
    assert_eq!(o.obligation.rule_value, RuleValue::Minutes(2));
    assert_eq!(o.value_text, "2 min");
    match &o.value_source {
        ValueSource::Agreement {
            amendment_id,
            event,
            explicit_override,
            ..
        } => {
            assert_eq!(amendment_id.as_ref().unwrap().as_str(), "esc-2min");
            assert_eq!(event.position, 1);
            assert!(*explicit_override);
        }
        other => panic!("expected the amendment, got {other:?}"),
    }
    assert_eq!(o.obligation.clock_start, Some(at("2026-10-06T13:04:00Z")));
    assert_eq!(o.obligation.due_at, Some(at("2026-10-06T13:06:00Z")));
    match &o.obligation.verdict {
        Verdict::Missed { by, met_at } => {
            assert_eq!((by.amount, by.unit), (192, Unit::Seconds));
            assert_eq!(*met_at, Some(at("2026-10-06T13:09:12Z")));
        }
        other => panic!("expected a miss, got {other:?}"),
    }
    assert!(
        o.outcome.starts_with("missed by 3 min 12 s"),
        "{}",
        o.outcome
    );
    assert!(o.windows_applied.is_empty());
    // The evidence: the completion in the call's stream, the attempt in the escalation's.
    let evidence: Vec<(u64, &str)> = o
        .obligation
        .evidence
        .iter()
        .map(|r| {
            let shown = e.events.iter().find(|x| x.position == r.position).unwrap();
            (r.position, shown.stream_id.as_str())
        })
        .collect();
    assert_eq!(
        evidence,
        vec![(4, "call-hc-0001"), (7, "escalation-esc-hc-0001")]
    );
    let attempt = e.events.iter().find(|x| x.position == 7).unwrap();
    assert_eq!(attempt.event_type, "escalation.contact_attempted");
    assert!(attempt
        .roles
        .contains(&"R-ESC-1 performed by it, late".to_owned()));
    assert_eq!(
        attempt.occurred_local.to_rfc3339(),
        "2026-10-06T14:09:12+01:00"
    );
    assert!(attempt.recorded_at >= attempt.occurred_at);
    assert_eq!(attempt.correlation_id, Some(CORRELATION));
    // The amendment is shown as what set the value; the account issue through its correlation.
    let amendment = e.events.iter().find(|x| x.position == 1).unwrap();
    assert_eq!(amendment.event_type, "client.agreement_amended");
    let issue = e.events.iter().find(|x| x.position == 8).unwrap();
    assert_eq!(issue.stream_id, "accountissue-ai-hc-0001");
    assert_eq!(issue.roles, vec![format!("same correlation {CORRELATION}")]);
    assert_eq!(issue.data["summary"], "urgent escalation late");
    assert!(e.streams.contains(&"accountissue-ai-hc-0001".to_owned()));
    // It reflects the head.
    let store = target.open().await.unwrap();
    let head = store.head().await.unwrap().unwrap();
    assert_eq!(e.position, Some(head.position));
    assert_eq!(e.head_hash.as_deref(), Some(head.hash.to_hex().as_str()));

    // As of position 6, before the attempt was recorded: not performed at all.
    let before_attempt = Basis {
        as_of_position: Some(6),
        ..judged_at("2026-11-01T00:00:00Z")
    };
    let e6 = explain::explain(
        &target,
        "R-ESC-1:hc-0001",
        &before_attempt,
        &clock,
        &NoProgress,
    )
    .await
    .unwrap();
    assert_eq!(e6.position, Some(6));
    let o6 = &e6.obligations[0];
    assert!(
        matches!(o6.obligation.verdict, Verdict::Missed { met_at: None, .. }),
        "{:?}",
        o6.obligation.verdict
    );
    assert!(e6.events.iter().all(|x| x.position <= 6));
    // Judged a minute after completion, the same basis says pending, due at 13:06.
    let early = Basis {
        as_of_position: Some(6),
        ..judged_at("2026-10-06T13:05:00Z")
    };
    let early = explain::explain(&target, "R-ESC-1:hc-0001", &early, &clock, &NoProgress)
        .await
        .unwrap();
    assert!(matches!(
        early.obligations[0].obligation.verdict,
        Verdict::Pending { .. }
    ));
    // Before the call was recorded it cannot be explained.
    let before_call = Basis {
        as_of_position: Some(1),
        ..Basis::default()
    };
    let error = explain::explain(&target, "hc-0001", &before_call, &clock, &NoProgress)
        .await
        .unwrap_err();
    assert!(error.to_string().contains("not recorded as of"), "{error}");

    // The bare call id gives every obligation of the call; R-ANS-1 from the SOP default.
    let all = explain::explain(
        &target,
        "hc-0001",
        &judged_at("2026-11-01T00:00:00Z"),
        &clock,
        &NoProgress,
    )
    .await
    .unwrap();
    let rules: Vec<RuleId> = all.obligations.iter().map(|o| o.rule).collect();
    assert!(
        rules.contains(&RuleId::Ans1) && rules.contains(&RuleId::Esc1),
        "{rules:?}"
    );
    let ans1 = all
        .obligations
        .iter()
        .find(|o| o.rule == RuleId::Ans1)
        .unwrap();
    assert_eq!(ans1.value_source, ValueSource::SopDefault);
    assert!(
        ans1.outcome.starts_with("met, 3 s before"),
        "{}",
        ans1.outcome
    );

    // R-ANS-2 came from the SOP amendment recorded at position 9; as of position 8 the ledger
    // did not know it yet and the SOP default applied.
    let ans2 = all
        .obligations
        .iter()
        .find(|o| o.rule == RuleId::Ans2)
        .unwrap();
    assert_eq!(ans2.obligation.rule_value, RuleValue::Seconds(30));
    match &ans2.value_source {
        ValueSource::SopAmendment {
            amendment_id,
            event,
            ..
        } => {
            assert_eq!(amendment_id.as_str(), "sop-ans2-30s");
            assert_eq!(event.position, 9);
        }
        other => panic!("expected the SOP amendment, got {other:?}"),
    }
    let before_sop = Basis {
        as_of_position: Some(8),
        ..judged_at("2026-11-01T00:00:00Z")
    };
    let then = explain::explain(&target, "R-ANS-2:hc-0001", &before_sop, &clock, &NoProgress)
        .await
        .unwrap();
    assert_eq!(
        then.obligations[0].obligation.rule_value,
        RuleValue::Seconds(45)
    );
    assert_eq!(then.obligations[0].value_source, ValueSource::SopDefault);

    // An invoice, by its bare id: issued in time (R-BIL-1), unpaid past its due date (R-BIL-2).
    let invoice = explain::explain(
        &target,
        "inv-2026-10",
        &judged_at("2026-11-01T00:00:00Z"),
        &clock,
        &NoProgress,
    )
    .await
    .unwrap();
    assert_eq!(invoice.asked.kind, EntityKind::Invoice);
    assert_eq!(invoice.asked.stream_id, "invoice-inv-2026-10");
    let verdict = |rule: RuleId| {
        invoice
            .obligations
            .iter()
            .find(|o| o.rule == rule)
            .map(|o| o.obligation.verdict.clone())
    };
    assert!(matches!(verdict(RuleId::Bil1), Some(Verdict::Met { .. })));
    assert!(
        matches!(
            verdict(RuleId::Bil2),
            Some(Verdict::Missed { met_at: None, .. })
        ),
        "{:?}",
        verdict(RuleId::Bil2)
    );
    let issued = invoice.events.iter().find(|e| e.position == 10).unwrap();
    assert_eq!(issued.stream_id, "invoice-inv-2026-10");
    assert!(
        issued.roles.contains(&"R-BIL-1 clock start".to_owned()),
        "{:?}",
        issued.roles
    );
    // R-BIL-5's currency was set by the onboarding agreement, in force when it was issued.
    let onboarding = invoice.events.iter().find(|e| e.position == 0).unwrap();
    assert!(onboarding
        .roles
        .contains(&"set the R-BIL-5 value in force".to_owned()));

    // The second call's late escalation is excused by reading (a), naming the window and
    // showing the events that opened and closed it.
    let excused = explain::explain(
        &target,
        "R-ESC-1:hc-0002",
        &judged_at("2026-11-01T00:00:00Z"),
        &clock,
        &NoProgress,
    )
    .await
    .unwrap();
    let o = &excused.obligations[0];
    assert!(
        matches!(o.obligation.verdict, Verdict::Excused { .. }),
        "{:?}",
        o.obligation.verdict
    );
    assert_eq!(o.outcome, "excused by window fm-outage");
    assert_eq!(o.windows_applied.len(), 1);
    assert_eq!(o.windows_applied[0].reading, 'a');
    assert!(o.windows_applied[0]
        .explanation
        .contains("held the whole performance interval"));
    let window_events: Vec<&str> = excused
        .events
        .iter()
        .filter(|e| {
            e.roles
                .contains(&"excused window fm-outage (R-ESC-1)".to_owned())
        })
        .map(|e| e.event_type.as_str())
        .collect();
    assert_eq!(
        window_events,
        vec![
            "operations.excused_window_opened",
            "operations.excused_window_closed"
        ]
    );

    // The third call's deadline (13:02) fell in a window opened at 13:01 and closed at 13:10:
    // reading (b) extends it by the 9 minutes the clock stood still, to 13:11, and the attempt
    // at 13:10:30 is excused.
    let extended = explain::explain(
        &target,
        "R-ESC-1:hc-0003",
        &judged_at("2026-11-01T00:00:00Z"),
        &clock,
        &NoProgress,
    )
    .await
    .unwrap();
    let o = &extended.obligations[0];
    assert!(
        matches!(o.obligation.verdict, Verdict::Excused { .. }),
        "{:?}",
        o.obligation.verdict
    );
    assert_eq!(o.windows_applied.len(), 1);
    assert_eq!(o.windows_applied[0].reading, 'b');
    assert!(
        o.windows_applied[0]
            .explanation
            .contains("extending the deadline to 2026-10-08 14:11:00 Europe/London"),
        "{}",
        o.windows_applied[0].explanation
    );

    // The escalation, by its bare id, answers with the call's R-ESC-1 too.
    let esc = explain::explain(
        &target,
        "esc-hc-0001",
        &judged_at("2026-11-01T00:00:00Z"),
        &clock,
        &NoProgress,
    )
    .await
    .unwrap();
    assert_eq!(esc.asked.kind, EntityKind::Escalation);
    assert!(esc.obligations.iter().any(|o| o.rule == RuleId::Esc1));

    // Timelines take the ids reports print.
    let t = opsledger_app::timeline::timeline(&target, "hc-0001", None, &clock, &NoProgress)
        .await
        .unwrap();
    assert_eq!(t.stream_id, "call-hc-0001");
    let t = opsledger_app::timeline::timeline(&target, "esc-hc-0001", None, &clock, &NoProgress)
        .await
        .unwrap();
    assert_eq!(t.stream_id, "escalation-esc-hc-0001");

    // An unknown id names the accepted forms, for explain and timeline alike.
    for error in [
        explain::explain(&target, "hc-9999", &Basis::default(), &clock, &NoProgress)
            .await
            .unwrap_err(),
        opsledger_app::timeline::timeline(&target, "hc-9999", None, &clock, &NoProgress)
            .await
            .unwrap_err(),
    ] {
        assert!(
            matches!(error, AppError::InvalidRequest { .. }),
            "{error:?}"
        );
        assert!(error.to_string().contains("accepted forms"), "{error}");
    }
    // A rule that opened nothing for the call is refused, naming the rule.
    let error = explain::explain(
        &target,
        "R-BIL-2:hc-0001",
        &Basis::default(),
        &clock,
        &NoProgress,
    )
    .await
    .unwrap_err();
    assert!(error.to_string().contains("R-BIL-2"), "{error}");
}

/// What is not one call, escalation or invoice is explained too, by the id reports print:
/// an account issue, a client's month and quarter, and a fact of the client's stream; a bad
/// or foreign id is refused saying why; `timeline` takes the same ids.
async fn explains_every_kind_of_subject(target: Target) {
    record_dispute(&target).await;
    let clock = FixedClock(at("2026-12-01T00:00:00Z"));
    let basis = judged_at("2026-11-01T00:00:00Z");
    let ask = |id: &'static str| {
        let (target, basis, clock) = (&target, &basis, &clock);
        async move { explain::explain(target, id, basis, clock, &NoProgress).await }
    };

    let issue = ask("R-COM-1:ai-hc-0001").await.unwrap();
    assert_eq!(issue.asked.kind, EntityKind::AccountIssue);
    assert_eq!(issue.obligations.len(), 1);
    assert_eq!(issue.obligations[0].obligation.id, "R-COM-1:ai-hc-0001");
    assert!(issue
        .events
        .iter()
        .any(|e| e.stream_id == "accountissue-ai-hc-0001"));

    // A month: every obligation of the month, each printed with the same subject.
    let month = ask("harbor-clinic/2026-10").await.unwrap();
    assert_eq!(month.asked.kind, EntityKind::Client);
    assert_eq!(month.asked.stream_id, "client-harbor-clinic");
    let rules: Vec<RuleId> = month.obligations.iter().map(|o| o.rule).collect();
    assert!(rules.contains(&RuleId::Qa1), "{rules:?}");
    for o in &month.obligations {
        assert!(
            o.obligation.id.ends_with(":harbor-clinic/2026-10"),
            "{}",
            o.obligation.id
        );
    }
    let qa1 = ask("R-QA-1:harbor-clinic/2026-10").await.unwrap();
    assert_eq!(qa1.obligations.len(), 1);
    assert_eq!(qa1.obligations[0].rule, RuleId::Qa1);
    assert_eq!(qa1.time_zone, "Europe/London");
    // The month is the client's local month: R-QA-1 is judged at its end, local midnight
    // (GMT by then).
    assert_eq!(
        qa1.obligations[0].obligation.clock_start,
        Some(at("2026-11-01T00:00:00Z"))
    );
    let quarter = ask("R-REP-3:harbor-clinic/2026-Q4").await.unwrap();
    assert_eq!(quarter.obligations.len(), 1);
    assert_eq!(
        quarter.obligations[0].obligation.id,
        "R-REP-3:harbor-clinic/2026-Q4"
    );
    // The quarter opens at local midnight on 1 October (BST).
    assert_eq!(
        quarter.obligations[0].obligation.clock_start,
        Some(at("2026-09-30T23:00:00Z"))
    );

    // An SOP amendment as it applies to the client: its event is the agency's, not the
    // client's, and is found all the same (non-material: R-AMD-1 does not apply).
    let sop = ask("R-AMD-1:harbor-clinic/sop-amendment@9").await.unwrap();
    assert_eq!(sop.obligations.len(), 1);
    assert!(matches!(
        sop.obligations[0].obligation.verdict,
        Verdict::NotApplicable { .. }
    ));

    // Bad forms and facts that are not there are refused saying why.
    let bad = ask("R-REP-3:harbor-clinic/2026-Q7").await.unwrap_err();
    assert!(bad.to_string().contains("2026-Q4"), "{bad}");
    let none = ask("R-BIL-3:harbor-clinic/suspension@1").await.unwrap_err();
    assert!(none.to_string().contains("no such obligation"), "{none}");
    let far = ask("harbor-clinic/suspension@99999").await.unwrap_err();
    assert!(far.to_string().contains("holds no event"), "{far}");

    let story = opsledger_app::timeline::timeline(
        &target,
        "R-QA-1:harbor-clinic/2026-10",
        Some(at("2026-11-01T00:00:00Z")),
        &clock,
        &NoProgress,
    )
    .await
    .unwrap();
    assert_eq!(story.stream_id, "client-harbor-clinic");
    // An excused window as reports print it ("excused by fm-outage").
    let window = opsledger_app::timeline::timeline(
        &target,
        "fm-outage",
        Some(at("2026-11-01T00:00:00Z")),
        &clock,
        &NoProgress,
    )
    .await
    .unwrap();
    assert_eq!(window.stream_id, "excusedwindow-fm-outage");
}

#[tokio::test]
async fn every_kind_of_subject_is_explained_embedded() {
    let dir = tempfile::tempdir().unwrap();
    explains_every_kind_of_subject(Target::File(dir.path().join("t.ledger"))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kind_of_subject_is_explained_on_postgres() {
    let url = opsledger_tests::pg::server().fresh_database().await;
    explains_every_kind_of_subject(Target::Postgres(url)).await;
}

#[tokio::test]
async fn a_recorded_esc1_miss_is_explained_by_one_call_embedded() {
    let dir = tempfile::tempdir().unwrap();
    explains_a_recorded_esc1_miss(Target::File(dir.path().join("t.ledger"))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recorded_esc1_miss_is_explained_by_one_call_on_postgres() {
    let url = opsledger_tests::pg::server().fresh_database().await;
    explains_a_recorded_esc1_miss(Target::Postgres(url)).await;
}

#[test]
fn payments_and_credits_read_as_money_not_minor_units() {
    use opsledger_domain::money::{Currency, Money};
    assert_eq!(
        explain::money(&Money::new(19_318_500, Currency::PKR)),
        "193,185.00 PKR"
    );
    assert_eq!(explain::money(&Money::new(-5, Currency::GBP)), "−0.05 GBP");
}

#[test]
fn durations_read_in_two_units_at_most() {
    assert_eq!(explain::human_secs(0), "0 s");
    assert_eq!(explain::human_secs(192), "3 min 12 s");
    assert_eq!(explain::human_secs(2_793_900), "32 d 8 h");
    assert_eq!(explain::human_secs(3_600), "1 h");
}

#[test]
fn a_rule_prefix_is_split_off_only_when_it_is_a_rule() {
    assert_eq!(
        explain::split_rule("R-ESC-1:hc-1"),
        (Some(RuleId::Esc1), "hc-1")
    );
    assert_eq!(explain::split_rule("hc:1"), (None, "hc:1"));
}
