//! The readable tables, on report JSON built here: words, local times, and their snapshots.

use super::*;
use serde_json::json;

fn ctx() -> ClientContext {
    ClientContext {
        client_id: "acme".to_owned(),
        name: Some("Acme".to_owned()),
        zone: chrono_tz::America::New_York,
    }
}

#[test]
fn durations_are_said_in_the_two_largest_units() {
    assert_eq!(duration_ms(450), "450 ms");
    assert_eq!(duration_ms(4098), "4.1 s");
    assert_eq!(duration_ms(9960), "10.0 s");
    assert_eq!(duration_ms(45_000), "45 s");
    assert_eq!(duration_ms(207_017), "3 min 28 s");
    assert_eq!(duration_secs(152), "2 min 32 s");
    assert_eq!(duration_secs(2_793_900), "32 d 8 h");
    assert_eq!(duration_secs(3600), "1 h");
    assert_eq!(duration_secs(0), "0 s");
}

#[test]
fn verdicts_and_rule_values_are_in_words() {
    let c = ctx();
    assert_eq!(
        verdict(
            &json!({"verdict": "missed", "by": {"amount": 152, "unit": "seconds"}, "met_at": "2026-10-01T13:04:33Z"}),
            &c
        ),
        "missed by 2 min 32 s (done 2026-10-01 09:04:33)"
    );
    assert_eq!(
        verdict(
            &json!({"verdict": "missed", "by": {"amount": 1, "unit": "findings"}, "met_at": null}),
            &c
        ),
        "missed: 1 finding failed, never met"
    );
    assert_eq!(
        verdict(
            &json!({"verdict": "pending", "due_at": "2026-11-05T22:00:00Z", "held_by": []}),
            &c
        ),
        "pending (due 2026-11-05 17:00:00)"
    );
    assert_eq!(
        verdict(
            &json!({"verdict": "met", "met_at": "2026-10-01T13:02:01Z"}),
            &c
        ),
        "met"
    );
    assert_eq!(rule_value(&json!({"kind": "seconds", "value": 8})), "8 s");
    assert_eq!(rule_value(&json!({"kind": "minutes", "value": 60})), "1 h");
    assert_eq!(
        rule_value(&json!({"kind": "languages", "value": ["en", "es"]})),
        "languages: en, es"
    );
    assert_eq!(
        rule_value(&json!({"kind": "basis_points", "value": 1000})),
        "10.00 %"
    );
    assert_eq!(rule_value(&json!({"kind": "qualitative"})), "qualitative");
}

fn figures(offered: u64, answered: u64, sl: Option<u64>, asa: Option<u64>) -> Value {
    json!({"offered": offered, "answered": answered, "abandoned": 1,
        "abandoned_by_reason": {"caller_hung_up": 1, "queue_timeout": 0, "queue_empty": 0, "caller_left_with_key": 0},
        "voicemail": 0, "unresolved": 0, "answered_within_target": answered - 1,
        "abandoned_within_target": 0, "service_level_basis_points": sl,
        "max_queue_breaches": 1, "answered_wait_total_ms": 0,
        "average_speed_of_answer_ms": asa, "longest_wait_ms": 152_000,
        "talk_calls": answered, "talk_total_ms": 0, "average_talk_ms": 207_017})
}

fn provenance() -> Value {
    json!({"position": 41, "head_hash": "9f3c2a0b1d4e5f60718293a4b5c6d7e8f9", "request": {}})
}

fn window() -> Value {
    json!([{"window_id": "fm-1", "cause": "force_majeure", "from": "2026-10-20T09:10:00Z",
        "to": "2026-10-20T11:05:00Z", "evidence": []}])
}

#[test]
fn the_sla_table_is_a_summary_with_words_and_local_times() {
    let tally = |met: u64, missed: u64| {
        json!({"met": met, "missed": missed, "excused": 0, "pending": 0,
        "not_applicable": 0, "unconfigured": 0, "not_computable": 0})
    };
    let report = json!({
        "client_id": "acme", "month": "2026-10",
        "period": {"from": "2026-10-01T04:00:00Z", "to": "2026-11-01T04:00:00Z"},
        "as_of": {"basis": "head"}, "checkpoint": 42, "evaluated_at": "2026-11-10T00:00:00Z",
        "answer_target": {"kind": "seconds", "value": 8},
        "max_queue_time": {"kind": "seconds", "value": 45},
        "calls": {"raw": figures(12, 10, Some(7500), Some(4098)), "normal": figures(11, 10, Some(8182), Some(4098)), "calls_in_excused_windows": 1},
        "by_queue": {"main": {"raw": figures(12, 10, Some(7500), Some(4098)), "normal": figures(11, 10, Some(8182), Some(4098)), "calls_in_excused_windows": 1}},
        "excused_windows": window(),
        "qa_coverage": {"answered": 10, "reviewed": 1, "reviewed_basis_points": 1000, "required": {"kind": "basis_points", "value": 1000}},
        "coverage_gaps": [{"id": "R-COV-1:acme/2026-10-11T12:20:00Z/2026-10-11T12:58:00Z",
            "from": "2026-10-11T12:20:00Z", "to": "2026-10-11T12:58:00Z", "agents_on_duty": 1,
            "verdict": {"verdict": "missed", "by": {"amount": 2280, "unit": "seconds"}, "met_at": null}}],
        "rules": {"R-ANS-1": tally(9, 2), "R-ANS-2": tally(10, 1), "R-AMD-1": tally(0, 0)},
        "provenance": provenance(),
    });
    let mut out = Vec::new();
    sla(&report, &ctx(), None, &mut out).unwrap();
    insta::assert_snapshot!("sla_table", String::from_utf8(out).unwrap());
    let mut out = Vec::new();
    let unknown = sla(&report, &ctx(), Some("night"), &mut out).unwrap_err();
    assert!(unknown.to_string().contains("queues: main"), "{unknown}");
}

#[test]
fn the_obligations_table_summarises_by_rule_then_lists_what_was_not_met() {
    let evidence = json!([{"position": 7, "event_id": "00000000-0000-0000-0000-000000000007",
        "occurred_at": "2026-10-01T13:01:56Z", "recorded_at": "2026-10-01T13:01:57Z"}]);
    let obligation = |rule: &str, call: &str, verdict: Value| {
        json!({
        "id": format!("{rule}:{call}"), "rule": rule, "subject": {"kind": "call", "call_id": call},
        "clock_start": "2026-10-01T13:01:56Z", "rule_value": {"kind": "seconds", "value": 8},
        "due_at": "2026-10-01T13:02:04Z", "verdict": verdict, "evidence": evidence, "note": null})
    };
    let report = json!({
        "client_id": "acme",
        "period": {"from": "2026-10-01T04:00:00Z", "to": "2026-11-01T04:00:00Z"},
        "as_of": {"basis": "position", "value": 41}, "checkpoint": 42,
        "evaluated_at": "2026-11-10T00:00:00Z",
        "excused_windows": [],
        "rules": [
            {"rule": "R-ANS-1", "note": null, "tally": {"met": 1, "missed": 1, "excused": 0, "pending": 1, "not_applicable": 0, "unconfigured": 0, "not_computable": 0}},
            {"rule": "R-ESC-1", "note": null, "tally": {"met": 0, "missed": 1, "excused": 0, "pending": 0, "not_applicable": 0, "unconfigured": 0, "not_computable": 0}},
            {"rule": "R-QA-5", "note": "needs a review", "tally": {"met": 0, "missed": 0, "excused": 0, "pending": 0, "not_applicable": 0, "unconfigured": 0, "not_computable": 0}}],
        "obligations": [
            obligation("R-ANS-1", "c-1", json!({"verdict": "met", "met_at": "2026-10-01T13:02:01Z"})),
            obligation("R-ANS-1", "c-2", json!({"verdict": "missed", "by": {"amount": 152, "unit": "seconds"}, "met_at": "2026-10-01T13:04:36Z"})),
            obligation("R-ANS-1", "c-3", json!({"verdict": "pending", "due_at": "2026-11-12T14:00:00Z", "held_by": []})),
            {"id": "R-ESC-1:e-1", "rule": "R-ESC-1", "subject": {"kind": "escalation", "escalation_id": "e-1", "tier": null},
                "clock_start": "2026-10-01T13:10:00Z", "rule_value": {"kind": "minutes", "value": 3},
                "due_at": "2026-10-01T13:13:00Z", "verdict": {"verdict": "missed", "by": {"amount": 2_793_900, "unit": "seconds"}, "met_at": null},
                "evidence": evidence, "note": null},
        ],
        "provenance": provenance(),
    });
    let queue_of = |call: &str| (call == "c-2").then(|| "main".to_owned());
    let mut out = Vec::new();
    obligations(
        &report,
        &ctx(),
        &ObligationFilter::default(),
        &queue_of,
        &mut out,
    )
    .unwrap();
    insta::assert_snapshot!("obligations_table", String::from_utf8(out).unwrap());

    let by_queue = ObligationFilter {
        queue: Some("main".to_owned()),
        ..ObligationFilter::default()
    };
    let mut out = Vec::new();
    obligations(&report, &ctx(), &by_queue, &queue_of, &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(
        text.contains("1 obligation not met")
            && text.contains("R-ANS-1:c-2")
            && !text.contains("c-3"),
        "{text}"
    );

    let met = ObligationFilter {
        verdict: Some("met".to_owned()),
        rule: Some("r-ans-1".to_owned()),
        queue: None,
    };
    let mut out = Vec::new();
    obligations(&report, &ctx(), &met, &queue_of, &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(
        text.contains("1 obligation met")
            && text.contains("R-ANS-1:c-1")
            && !text.contains("R-ANS-1:c-2"),
        "{text}"
    );
}
