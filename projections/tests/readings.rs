//! One scenario per reading of the rule catalog's "Readings" section (issue 16): given events,
//! when the obligations are reported at an evaluation instant, then the verdict the Terms support.
//!
//! Every client here is Professional, 24/7, in New York, onboarded 1 September 2024.

mod support;

use opsledger_domain::agreement::RuleOverride;
use opsledger_domain::agreement::{Coverage, EscalationContact, ServiceAgreement, Tier};
use opsledger_domain::events::DigestDelivered;
use opsledger_domain::events::SopAmendmentPublished;
use opsledger_domain::events::{
    AgreementAmended, CallAnswered, CallClassified, CallCompleted, CallConnected, CallOutcome,
    CallSelectedForReview, DocumentationDelivered, DomainEvent, EscalationContactAttempted,
    EscalationContactUnreachable, EscalationOpened, ExcuseCause, ExcusedWindowClosed,
    ExcusedWindowOpened, Finding, QualityIssueAddressed, QualityIssueIdentified, ReviewCompleted,
    ReviewFindings, ShiftStarted, Urgency,
};
use opsledger_domain::events::{InvoiceIssued, PaymentReceived};
use opsledger_domain::events::{LegalHoldPlaced, LegalHoldReleased, TerminationTookEffect};
use opsledger_domain::events::{MonthlyReportDelivered, MonthlyReportKind, QaSummaryDelivered};
use opsledger_domain::events::{PaymentDefaultNoticeSent, ServiceSuspended};
use opsledger_domain::ids::DigestId;
use opsledger_domain::ids::NoticeId;
use opsledger_domain::ids::ReportId;
use opsledger_domain::ids::SopAmendmentId;
use opsledger_domain::ids::{
    AgentId, AgreementAmendmentId, CallId, ClientId, EscalationId, ExcusedWindowId, LegalHoldId,
    QualityIssueId, ReviewId, ShiftId,
};
use opsledger_domain::ids::{InvoiceId, PaymentId};
use opsledger_domain::money::{Currency, Money};
use opsledger_domain::rules::{RuleId, RuleValue};
use opsledger_projections::billing::BillingStatus;
use opsledger_projections::obligations::{Obligation, ObligationReport, Subject};
use opsledger_projections::verdict::{Shortfall, Unit, Verdict};
use opsledger_projections::{AsOf, Period, Projections, YearMonth};
use support::{agreement, d, onboard, position, t};

fn acme() -> ClientId {
    ClientId::new("acme").unwrap()
}

fn call(id: &str) -> CallId {
    CallId::new(id).unwrap()
}

fn agent() -> AgentId {
    AgentId::new("a1").unwrap()
}

fn base_agreement() -> ServiceAgreement {
    agreement(
        Tier::Professional,
        Coverage::TwentyFourSeven,
        "America/New_York",
    )
}

/// Events recorded when they occurred, in the order given, after onboarding with `agreement`.
fn ledger(agreement: ServiceAgreement, events: Vec<DomainEvent>) -> Projections {
    let start = t("2024-09-01T04:00:00Z");
    let mut all = vec![(start, onboard(&acme(), start, agreement))];
    all.extend(events.into_iter().map(|e| (e.occurred_at(), e)));
    Projections::rebuild(&position(all)).unwrap()
}

fn report(p: &Projections, from: &str, to: &str, evaluated_at: &str) -> ObligationReport {
    p.obligation_report(
        &acme(),
        Period {
            from: t(from),
            to: t(to),
        },
        AsOf::Head,
        t(evaluated_at),
    )
    .unwrap()
}

fn only(r: &ObligationReport, rule: RuleId) -> &Obligation {
    let found: Vec<_> = r.obligations.iter().filter(|o| o.rule == rule).collect();
    assert_eq!(found.len(), 1, "{rule}: {found:#?}");
    found[0]
}

fn month_of(r: &ObligationReport, rule: RuleId, year: i32, month: u32) -> &Obligation {
    let month = YearMonth::new(year, month).unwrap();
    r.obligations
        .iter()
        .find(|o| o.rule == rule && o.subject == Subject::Month { month })
        .unwrap_or_else(|| panic!("no {rule} obligation for {month:?}"))
}

fn window(id: &str, cause: ExcuseCause, from: &str, to: &str) -> [DomainEvent; 2] {
    let window_id = ExcusedWindowId::new(id).unwrap();
    [
        DomainEvent::ExcusedWindowOpened(ExcusedWindowOpened {
            client_id: acme(),
            window_id: window_id.clone(),
            at: t(from),
            cause,
            note: None,
        }),
        DomainEvent::ExcusedWindowClosed(ExcusedWindowClosed {
            client_id: acme(),
            window_id,
            at: t(to),
        }),
    ]
}

/// A call connected at `at`, answered after `wait_secs`, completed a minute later, classified.
fn answered_call(
    id: &str,
    at: &str,
    wait_secs: i64,
    nature: &str,
    urgent: bool,
) -> Vec<DomainEvent> {
    let at = t(at);
    let picked = at + chrono::Duration::seconds(wait_secs);
    let done = picked + chrono::Duration::minutes(1);
    vec![
        DomainEvent::CallConnected(CallConnected {
            client_id: acme(),
            call_id: call(id),
            at,
            queue: None,
            caller_number: None,
        }),
        DomainEvent::CallAnswered(CallAnswered {
            client_id: acme(),
            call_id: call(id),
            at: picked,
            agent_id: agent(),
        }),
        DomainEvent::CallCompleted(CallCompleted {
            client_id: acme(),
            call_id: call(id),
            at: done,
        }),
        DomainEvent::CallClassified(CallClassified {
            client_id: acme(),
            call_id: call(id),
            at: done,
            nature: nature.to_owned(),
            urgent,
            outcome: CallOutcome::Action,
        }),
    ]
}

fn delivered(id: &str, at: &str) -> DomainEvent {
    DomainEvent::DocumentationDelivered(DocumentationDelivered {
        client_id: acme(),
        call_id: call(id),
        at: t(at),
        channel: "crm".to_owned(),
    })
}

fn find_call<'a>(r: &'a ObligationReport, rule: RuleId, id: &str) -> &'a Obligation {
    r.obligations
        .iter()
        .find(|o| o.rule == rule && o.subject == Subject::Call { call_id: call(id) })
        .unwrap_or_else(|| panic!("no {rule} obligation for {id}"))
}

fn secs(amount: u64) -> Shortfall {
    Shortfall {
        amount,
        unit: Unit::Seconds,
    }
}

fn is_missed(v: &Verdict) -> bool {
    matches!(v, Verdict::Missed { .. })
}

/// September 2024's performance report and QA summary, delivered at `at`.
fn september_delivered(at: &str) -> [DomainEvent; 2] {
    [
        DomainEvent::MonthlyReportDelivered(MonthlyReportDelivered {
            client_id: acme(),
            report_id: ReportId::new("perf-2024-09").unwrap(),
            at: t(at),
            year: 2024,
            month: 9,
            kind: MonthlyReportKind::Performance,
        }),
        DomainEvent::QaSummaryDelivered(QaSummaryDelivered {
            client_id: acme(),
            report_id: ReportId::new("qa-2024-09").unwrap(),
            at: t(at),
            year: 2024,
            month: 9,
        }),
    ]
}

// ------------------------------------------------------------------ 1. narrow excused windows

#[test]
fn a_short_window_inside_a_month_excuses_neither_its_reports_nor_an_issue_it_does_not_hold() {
    let mut events = Vec::new();
    // A one-minute force-majeure window on 2 October.
    events.extend(window(
        "fm-oct",
        ExcuseCause::ForceMajeure,
        "2024-10-02T16:00:00Z",
        "2024-10-02T16:01:00Z",
    ));
    // A quality issue identified 1 October and addressed 6 October: 24 h elapsed on 2 October
    // 13:00 UTC, before the window opened.
    events.push(DomainEvent::QualityIssueIdentified(
        QualityIssueIdentified {
            client_id: acme(),
            issue_id: QualityIssueId::new("qi-1").unwrap(),
            at: t("2024-10-01T13:00:00Z"),
            agent_id: agent(),
            call_id: None,
            review_id: None,
            rule: None,
            notes: None,
        },
    ));
    events.push(DomainEvent::QualityIssueAddressed(QualityIssueAddressed {
        client_id: acme(),
        issue_id: QualityIssueId::new("qi-1").unwrap(),
        at: t("2024-10-06T13:00:00Z"),
        agent_id: agent(),
    }));
    // September's report and QA summary were delivered, so report deliveries are recorded for
    // this client and a missing one is a miss, not "no data recorded" (issue 11).
    events.extend(september_delivered("2024-10-04T15:00:00Z"));
    events.sort_by_key(DomainEvent::occurred_at);
    let p = ledger(base_agreement(), events);
    let r = report(
        &p,
        "2024-10-01T04:00:00Z",
        "2024-11-01T04:00:00Z",
        "2024-12-01T00:00:00Z",
    );
    // Nothing was delivered for October, and neither deadline (5th business day of November)
    // fell inside the window: missed.
    assert!(is_missed(&month_of(&r, RuleId::Rep1, 2024, 10).verdict));
    assert!(is_missed(&month_of(&r, RuleId::Qa4, 2024, 10).verdict));
    assert_eq!(
        only(&r, RuleId::Qa2).verdict,
        Verdict::Missed {
            by: secs(4 * 86_400),
            met_at: Some(t("2024-10-06T13:00:00Z")),
        }
    );
}

#[test]
fn a_window_excuses_only_the_rules_its_cause_concerns() {
    let mut events = Vec::new();
    // Expired credentials from 14:00 to 16:00: they excuse documentation delivery, not answering.
    events.extend(window(
        "cred",
        ExcuseCause::MissingCredentials,
        "2024-10-08T14:00:00Z",
        "2024-10-08T16:00:00Z",
    ));
    // c1 waits 20 s at 14:10 (R-ANS-1 missed by 12 s whatever the credentials); completed 14:11:20,
    // documentation due 15:11:20 inside the window, delivered 15:30 (after the unexcused due).
    events.extend(answered_call(
        "c1",
        "2024-10-08T14:10:00Z",
        20,
        "billing question",
        false,
    ));
    events.push(delivered("c1", "2024-10-08T15:30:00Z"));
    events.sort_by_key(DomainEvent::occurred_at);
    let p = ledger(base_agreement(), events);
    let r = report(
        &p,
        "2024-10-08T04:00:00Z",
        "2024-10-09T04:00:00Z",
        "2024-12-01T00:00:00Z",
    );
    assert_eq!(
        find_call(&r, RuleId::Ans1, "c1").verdict,
        Verdict::Missed {
            by: secs(12),
            met_at: Some(t("2024-10-08T14:10:20Z")),
        }
    );
    let doc2 = &find_call(&r, RuleId::Doc2, "c1").verdict;
    match doc2 {
        Verdict::Excused {
            window_ids,
            reading,
        } => {
            assert_eq!(window_ids, &vec![ExcusedWindowId::new("cred").unwrap()]);
            let reading = reading.as_deref().unwrap_or_default();
            assert!(reading.contains("missing_credentials"), "{reading}");
            assert!(reading.contains("2024-10-08T14:00:00Z"), "{reading}");
        }
        other => panic!("R-DOC-2 should be excused, is {other:?}"),
    }
}

#[test]
fn a_deadline_inside_a_window_is_extended_by_the_overlap_and_no_further() {
    let mut events = Vec::new();
    // Force majeure 14:30–15:30. c1 completed 14:01:05, documentation due 15:01:05 inside the
    // window; the clock stood still for the hour of the window after it started: due 16:01:05.
    events.extend(window(
        "fm",
        ExcuseCause::ForceMajeure,
        "2024-10-08T14:30:00Z",
        "2024-10-08T15:30:00Z",
    ));
    events.extend(answered_call(
        "c1",
        "2024-10-08T14:00:00Z",
        5,
        "billing question",
        false,
    ));
    events.push(delivered("c1", "2024-10-08T15:45:00Z"));
    // c2 completed 14:01:05 too, delivered ten minutes after the extended deadline.
    events.extend(answered_call(
        "c2",
        "2024-10-08T14:00:00Z",
        5,
        "billing question",
        false,
    ));
    events.push(delivered("c2", "2024-10-08T16:11:05Z"));
    events.sort_by_key(DomainEvent::occurred_at);
    let p = ledger(base_agreement(), events);
    let r = report(
        &p,
        "2024-10-08T04:00:00Z",
        "2024-10-09T04:00:00Z",
        "2024-12-01T00:00:00Z",
    );
    assert!(matches!(
        find_call(&r, RuleId::Doc2, "c1").verdict,
        Verdict::Excused { .. }
    ));
    assert_eq!(
        find_call(&r, RuleId::Doc2, "c2").verdict,
        Verdict::Missed {
            by: secs(600),
            met_at: Some(t("2024-10-08T16:11:05Z")),
        }
    );
}

// ------------------------------------------------------------------ 2. urgency from the agreement

#[test]
fn a_call_of_an_urgent_nature_is_urgent_whatever_the_agents_flag() {
    // The support agreement lists "burst pipe" as urgent. c1 is classified not urgent but is of
    // that nature; c2 is of another nature but flagged urgent (the flag may add urgency); c3 is
    // neither. Nobody escalated: R-ESC-1 is missed for c1 and c2, and c3 has no R-ESC-1.
    let mut events = Vec::new();
    events.extend(answered_call(
        "c1",
        "2024-10-08T14:00:00Z",
        5,
        "Burst Pipe",
        false,
    ));
    events.extend(answered_call(
        "c2",
        "2024-10-08T14:10:00Z",
        5,
        "gas smell",
        true,
    ));
    events.extend(answered_call(
        "c3",
        "2024-10-08T14:20:00Z",
        5,
        "billing question",
        false,
    ));
    events.sort_by_key(DomainEvent::occurred_at);
    let p = ledger(base_agreement(), events);
    let r = report(
        &p,
        "2024-10-08T04:00:00Z",
        "2024-10-09T04:00:00Z",
        "2024-12-01T00:00:00Z",
    );
    assert!(is_missed(&find_call(&r, RuleId::Esc1, "c1").verdict));
    assert!(is_missed(&find_call(&r, RuleId::Esc1, "c2").verdict));
    // The report says which reading made each call urgent.
    let note = |id| {
        find_call(&r, RuleId::Esc1, id)
            .note
            .clone()
            .unwrap_or_default()
    };
    assert!(
        note("c1").contains("list of urgent natures"),
        "{}",
        note("c1")
    );
    assert!(
        note("c2").contains("agent classified it urgent"),
        "{}",
        note("c2")
    );
    assert!(!r.obligations.iter().any(|o| o.rule == RuleId::Esc1
        && o.subject
            == Subject::Call {
                call_id: call("c3")
            }));
}

// ------------------------------------------------------------------ 3. R-ESC-2 "immediately"

fn chain_agreement() -> ServiceAgreement {
    let mut a = base_agreement();
    a.escalation_chain = (1..=2)
        .map(|tier| EscalationContact {
            tier,
            contact_ref: format!("on-call-{tier}"),
            name: None,
            contact: None,
        })
        .collect();
    a
}

fn escalation(id: &str, at: &str) -> DomainEvent {
    DomainEvent::EscalationOpened(EscalationOpened {
        client_id: acme(),
        escalation_id: EscalationId::new(id).unwrap(),
        call_id: None,
        at: t(at),
        urgency: Urgency::Urgent,
        summary: None,
    })
}

fn attempt(id: &str, tier: u32, at: &str) -> DomainEvent {
    DomainEvent::EscalationContactAttempted(EscalationContactAttempted {
        client_id: acme(),
        escalation_id: EscalationId::new(id).unwrap(),
        at: t(at),
        tier,
        contact_ref: format!("on-call-{tier}"),
    })
}

fn unreachable(id: &str, tier: u32, at: &str) -> DomainEvent {
    DomainEvent::EscalationContactUnreachable(EscalationContactUnreachable {
        client_id: acme(),
        escalation_id: EscalationId::new(id).unwrap(),
        at: t(at),
        tier,
        contact_ref: format!("on-call-{tier}"),
    })
}

fn esc2<'a>(r: &'a ObligationReport, id: &str, tier: u32) -> &'a Obligation {
    r.obligations
        .iter()
        .find(|o| {
            o.rule == RuleId::Esc2
                && o.subject
                    == Subject::Escalation {
                        escalation_id: EscalationId::new(id).unwrap(),
                        tier: Some(tier),
                    }
        })
        .unwrap_or_else(|| panic!("no R-ESC-2 obligation for {id} tier {tier}"))
}

#[test]
fn the_next_tier_within_sixty_seconds_is_immediate_and_an_exhausted_chain_is_its_own_verdict() {
    let events = vec![
        escalation("e1", "2024-10-08T14:00:00Z"),
        attempt("e1", 1, "2024-10-08T14:00:10Z"),
        unreachable("e1", 1, "2024-10-08T14:00:40Z"),
        // Ten seconds after the mark: immediate.
        attempt("e1", 2, "2024-10-08T14:00:50Z"),
        // The last tier is unreachable too: nobody is left to try.
        unreachable("e1", 2, "2024-10-08T14:01:30Z"),
        escalation("e2", "2024-10-08T15:00:00Z"),
        attempt("e2", 1, "2024-10-08T15:00:10Z"),
        unreachable("e2", 1, "2024-10-08T15:00:40Z"),
        // Ninety seconds after the mark: thirty seconds beyond the tolerance.
        attempt("e2", 2, "2024-10-08T15:02:10Z"),
    ];
    let p = ledger(chain_agreement(), events);
    let r = report(
        &p,
        "2024-10-08T04:00:00Z",
        "2024-10-09T04:00:00Z",
        "2024-12-01T00:00:00Z",
    );
    assert_eq!(
        esc2(&r, "e1", 1).verdict,
        Verdict::Met {
            met_at: t("2024-10-08T14:00:50Z")
        }
    );
    // Met 50 s after the mark: the report names the 60 s reading of "immediately".
    let note = esc2(&r, "e1", 1).note.clone().unwrap_or_default();
    assert!(note.contains("within 60 s"), "{note}");
    assert_eq!(
        esc2(&r, "e1", 2).verdict,
        Verdict::ChainExhausted { last_tier: 2 }
    );
    assert_eq!(
        esc2(&r, "e2", 1).verdict,
        Verdict::Missed {
            by: secs(30),
            met_at: Some(t("2024-10-08T15:02:10Z")),
        }
    );
    let line = r.rules.iter().find(|s| s.rule == RuleId::Esc2).unwrap();
    assert_eq!(
        (
            line.tally.met,
            line.tally.missed,
            line.tally.chain_exhausted
        ),
        (1, 1, 1)
    );
}

// ------------------------------------------------------------------ 5. R-QA-1's judging moment

fn reviewed(call_id: &str, review: &str, selected: &str, done: &str) -> [DomainEvent; 2] {
    let pass = Finding::Pass;
    [
        DomainEvent::CallSelectedForReview(CallSelectedForReview {
            client_id: acme(),
            review_id: ReviewId::new(review).unwrap(),
            call_id: call(call_id),
            at: t(selected),
        }),
        DomainEvent::ReviewCompleted(ReviewCompleted {
            client_id: acme(),
            review_id: ReviewId::new(review).unwrap(),
            call_id: call(call_id),
            at: t(done),
            reviewer_id: agent(),
            findings: ReviewFindings {
                script_adherence: pass,
                documentation_accuracy: pass,
                escalation_compliance: pass,
                greeting: pass,
                language: pass,
            },
            notes: None,
        }),
    ]
}

#[test]
fn qa_coverage_counts_reviews_by_the_qa_summary_deadline_and_never_flips_after_it() {
    // Ten answered October calls and one unanswered one (not in the base). October's QA
    // summary is due with the performance report: end of Thursday 7 November (New York).
    let mut events = Vec::new();
    for i in 0..10 {
        events.extend(answered_call(
            &format!("c{i}"),
            &format!("2024-10-1{i}T14:00:00Z"),
            5,
            "billing question",
            false,
        ));
    }
    events.push(DomainEvent::CallConnected(CallConnected {
        client_id: acme(),
        call_id: call("lost"),
        at: t("2024-10-20T14:00:00Z"),
        queue: None,
        caller_number: None,
    }));
    // The only review is completed on 20 November, after the deadline.
    events.extend(reviewed(
        "c0",
        "rv-0",
        "2024-11-01T14:00:00Z",
        "2024-11-20T14:00:00Z",
    ));
    events.sort_by_key(DomainEvent::occurred_at);
    let p = ledger(base_agreement(), events);
    let qa1 = |evaluated: &str| {
        let r = report(
            &p,
            "2024-10-01T04:00:00Z",
            "2024-11-01T04:00:00Z",
            evaluated,
        );
        month_of(&r, RuleId::Qa1, 2024, 10).clone()
    };
    // Before the deadline: pending, due at the QA summary's deadline.
    assert_eq!(
        qa1("2024-11-05T00:00:00Z").verdict,
        Verdict::Pending {
            due_at: Some(t("2024-11-08T05:00:00Z")),
            held_by: vec![]
        }
    );
    let missed = Verdict::Missed {
        by: Shortfall {
            amount: 1_000,
            unit: Unit::BasisPoints,
        },
        met_at: None,
    };
    assert_eq!(qa1("2024-11-10T00:00:00Z").verdict, missed);
    // The late review does not change the verdict.
    let later = qa1("2024-12-01T00:00:00Z");
    assert_eq!(later.verdict, missed);
    assert_eq!(later.due_at, Some(t("2024-11-08T05:00:00Z")));
    assert!(later
        .note
        .as_deref()
        .is_some_and(|n| n.contains("0 of 10 answered calls")));
}

// ------------------------------------------------------------------ 6. R-COV-1 per instant

#[test]
fn coverage_amended_to_around_the_clock_mid_month_is_judged_from_the_amendment_on() {
    let mut hours = base_agreement();
    hours.coverage = Coverage::BusinessHours;
    let amended = DomainEvent::AgreementAmended(AgreementAmended {
        client_id: acme(),
        amendment_id: AgreementAmendmentId::new("am-247").unwrap(),
        at: t("2024-10-10T14:00:00Z"),
        effective_at: t("2024-10-15T04:00:00Z"),
        agreement: base_agreement(),
    });
    // One agent from the 15th at 04:00 to the 16th at 04:00, then two.
    let shifts = vec![
        DomainEvent::ShiftStarted(ShiftStarted {
            client_id: acme(),
            shift_id: ShiftId::new("s1").unwrap(),
            at: t("2024-10-01T04:00:00Z"),
            agent_id: agent(),
        }),
        DomainEvent::ShiftStarted(ShiftStarted {
            client_id: acme(),
            shift_id: ShiftId::new("s2").unwrap(),
            at: t("2024-10-16T04:00:00Z"),
            agent_id: AgentId::new("a2").unwrap(),
        }),
    ];
    let mut events = vec![amended];
    events.extend(shifts);
    events.sort_by_key(DomainEvent::occurred_at);
    let p = ledger(hours, events);
    let r = report(
        &p,
        "2024-10-01T04:00:00Z",
        "2024-11-01T04:00:00Z",
        "2024-12-01T00:00:00Z",
    );
    let gaps: Vec<_> = r
        .obligations
        .iter()
        .filter_map(Obligation::coverage_gap)
        .collect();
    assert_eq!(gaps.len(), 1, "{gaps:#?}");
    assert_eq!(
        (gaps[0].from, gaps[0].to, gaps[0].agents_on_duty),
        (t("2024-10-15T04:00:00Z"), t("2024-10-16T04:00:00Z"), 1)
    );
    assert_eq!(
        gaps[0].verdict,
        Verdict::Missed {
            by: secs(86_400),
            met_at: None
        }
    );
}

// ------------------------------------------------------------------ 7. R-RET-2 and legal holds

/// R-RET-2's deadline in the hold scenario: the end of 31 October (New York, 30 local days after
/// 1 October), plus the 66 local days the hold was active: the end of 5 January, EST.
const RET2_EXTENDED_DUE: &str = "2025-01-06T05:00:00Z";

#[test]
fn a_legal_hold_extends_the_deletion_deadline_by_the_time_it_was_active() {
    let hold = LegalHoldId::new("lh-1").unwrap();
    let events = vec![
        DomainEvent::TerminationTookEffect(TerminationTookEffect {
            client_id: acme(),
            at: t("2024-10-01T16:00:00Z"),
        }),
        DomainEvent::LegalHoldPlaced(LegalHoldPlaced {
            client_id: acme(),
            hold_id: hold.clone(),
            at: t("2024-10-10T16:00:00Z"),
            matter: "subpoena".to_owned(),
        }),
        DomainEvent::LegalHoldReleased(LegalHoldReleased {
            client_id: acme(),
            hold_id: hold,
            at: t("2024-12-15T17:00:00Z"),
        }),
    ];
    let p = ledger(base_agreement(), events);
    let ret2 = |evaluated: &str| {
        let r = report(
            &p,
            "2024-10-01T04:00:00Z",
            "2024-11-01T04:00:00Z",
            evaluated,
        );
        only(&r, RuleId::Ret2).clone()
    };
    // While the hold is active: pending, held.
    assert_eq!(
        ret2("2024-11-20T00:00:00Z").verdict,
        Verdict::Pending {
            due_at: None,
            held_by: vec!["lh-1".to_owned()]
        }
    );
    // The report says the hold extended the deadline.
    let note = ret2("2024-12-16T00:00:00Z").note.unwrap_or_default();
    assert!(note.contains("legal hold"), "{note}");
    // The day after the release the deletion is not late: the hold's 66 days were added.
    let extended = t(RET2_EXTENDED_DUE);
    assert_eq!(
        ret2("2024-12-16T00:00:00Z").verdict,
        Verdict::Pending {
            due_at: Some(extended),
            held_by: vec![]
        }
    );
    let late = ret2("2025-01-20T00:00:00Z");
    assert_eq!(late.due_at, Some(extended));
    assert!(is_missed(&late.verdict));
}

// ------------------------------------------------- 8 and 9. local calendar days, printed due dates

fn invoice(id: &str, invoice_date: (u32, u32), due: (u32, u32)) -> DomainEvent {
    let date = d(2024, invoice_date.0, invoice_date.1);
    DomainEvent::InvoiceIssued(InvoiceIssued {
        client_id: acme(),
        invoice_id: InvoiceId::new(id).unwrap(),
        at: t(&format!("{date}T14:00:00Z")),
        invoice_date: date,
        period_start: d(2024, 12, 1),
        period_end: d(2024, 12, 31),
        lines: vec![],
        total: Money::new(100_000, Currency::USD),
        due_date: d(2024, due.0, due.1),
        final_invoice: false,
    })
}

fn paid(id: &str, at: &str) -> DomainEvent {
    DomainEvent::PaymentReceived(PaymentReceived {
        client_id: acme(),
        invoice_id: InvoiceId::new(id).unwrap(),
        payment_id: PaymentId::new(format!("pay-{id}")).unwrap(),
        at: t(at),
        amount: Money::new(100_000, Currency::USD),
        excess_as_credit: false,
    })
}

fn bil2<'a>(r: &'a ObligationReport, id: &str) -> &'a Obligation {
    r.obligations
        .iter()
        .find(|o| {
            o.rule == RuleId::Bil2
                && o.subject
                    == Subject::Invoice {
                        invoice_id: InvoiceId::new(id).unwrap(),
                    }
        })
        .unwrap_or_else(|| panic!("no R-BIL-2 obligation for {id}"))
}

#[test]
fn payment_is_due_by_the_end_of_the_printed_local_due_date_across_daylight_saving() {
    let events = vec![
        // Printed due date 24 September, later than the 14 days' terms; paid on the 20th.
        invoice("inv-long", (9, 2), (9, 24)),
        paid("inv-long", "2024-09-20T14:00:00Z"),
        // Dated 25 October, due 8 November (clocks went back on 3 November); paid at 23:30 New
        // York time on the due date, which is 04:30 UTC on the 9th.
        invoice("inv-dst", (10, 25), (11, 8)),
        paid("inv-dst", "2024-11-09T04:30:00Z"),
    ];
    let p = ledger(base_agreement(), events);
    let r = report(
        &p,
        "2024-09-01T04:00:00Z",
        "2024-12-01T05:00:00Z",
        "2024-12-01T05:00:00Z",
    );
    let long = bil2(&r, "inv-long");
    assert_eq!(long.due_at, Some(t("2024-09-25T04:00:00Z")));
    assert_eq!(
        long.verdict,
        Verdict::Met {
            met_at: t("2024-09-20T14:00:00Z")
        }
    );
    let dst = bil2(&r, "inv-dst");
    assert_eq!(dst.due_at, Some(t("2024-11-09T05:00:00Z")));
    assert_eq!(
        dst.verdict,
        Verdict::Met {
            met_at: t("2024-11-09T04:30:00Z")
        }
    );
}

#[test]
fn deletion_is_due_by_the_end_of_the_thirtieth_local_day_after_termination() {
    // Terminated 15 October 12:00 New York; the 30th local day after is 14 November (EST):
    // deletion is due by its end, 05:00 UTC on the 15th.
    let events = vec![DomainEvent::TerminationTookEffect(TerminationTookEffect {
        client_id: acme(),
        at: t("2024-10-15T16:00:00Z"),
    })];
    let p = ledger(base_agreement(), events);
    let r = report(
        &p,
        "2024-10-01T04:00:00Z",
        "2024-11-01T04:00:00Z",
        "2024-11-15T04:59:59Z",
    );
    let ret2 = only(&r, RuleId::Ret2);
    assert_eq!(ret2.due_at, Some(t("2024-11-15T05:00:00Z")));
    assert!(matches!(ret2.verdict, Verdict::Pending { .. }));
}

// ------------------------------------------------------------------ 10. one R-BIL-3

fn default_notice(at: &str) -> DomainEvent {
    DomainEvent::PaymentDefaultNoticeSent(PaymentDefaultNoticeSent {
        client_id: acme(),
        notice_id: NoticeId::new("n-1").unwrap(),
        at: t(at),
        invoice_ids: vec![InvoiceId::new("inv-1").unwrap()],
    })
}

fn suspended(at: &str) -> DomainEvent {
    DomainEvent::ServiceSuspended(ServiceSuspended {
        client_id: acme(),
        at: t(at),
        notice_id: NoticeId::new("n-1").unwrap(),
    })
}

#[test]
fn a_suspension_needs_a_strictly_earlier_notice_and_an_invoice_unpaid_past_due_at_that_instant() {
    // Due 16 September, unpaid; noticed 20 September 14:00 UTC.
    let unpaid = || {
        vec![
            invoice("inv-1", (9, 2), (9, 16)),
            default_notice("2024-09-20T14:00:00Z"),
        ]
    };
    let bil3 = |p: &Projections| {
        let r = report(
            p,
            "2024-09-01T04:00:00Z",
            "2024-10-01T04:00:00Z",
            "2024-10-01T04:00:00Z",
        );
        only(&r, RuleId::Bil3).verdict.clone()
    };
    // Suspended at the notice's own instant: missed, and the billing status agrees that a
    // suspension was not yet permitted then.
    let mut same = unpaid();
    same.push(suspended("2024-09-20T14:00:00Z"));
    let p = ledger(base_agreement(), same);
    assert!(is_missed(&bil3(&p)));
    let p = ledger(base_agreement(), unpaid());
    let status = |at: &str| p.billing_report(&acme(), AsOf::Head, t(at)).unwrap().status;
    assert_eq!(
        status("2024-09-20T14:00:00Z"),
        BillingStatus::DefaultNoticed
    );
    assert_eq!(
        status("2024-09-20T14:00:01Z"),
        BillingStatus::SuspensionEligible
    );
    // A second later it is met.
    let mut later = unpaid();
    later.push(suspended("2024-09-20T14:00:01Z"));
    assert_eq!(
        bil3(&ledger(base_agreement(), later)),
        Verdict::Met {
            met_at: t("2024-09-20T14:00:00Z")
        }
    );
    // Paid in full before the suspension: nothing was unpaid past due, so it is missed, and
    // the status after the payment is no longer suspension-eligible.
    let mut settled = unpaid();
    settled.push(paid("inv-1", "2024-09-22T14:00:00Z"));
    settled.push(suspended("2024-09-23T14:00:00Z"));
    let p = ledger(base_agreement(), settled);
    assert!(is_missed(&bil3(&p)));
    assert_eq!(
        p.billing_report(&acme(), AsOf::Head, t("2024-09-22T20:00:00Z"))
            .unwrap()
            .status,
        BillingStatus::Current
    );
}

// ------------------------------------------------------------------ 4. R-ESC-3 intervals

fn non_urgent(id: &str, at: &str) -> DomainEvent {
    DomainEvent::EscalationOpened(EscalationOpened {
        client_id: acme(),
        escalation_id: EscalationId::new(id).unwrap(),
        call_id: None,
        at: t(at),
        urgency: Urgency::NonUrgent,
        summary: None,
    })
}

fn digest(id: &str, at: &str, from: &str, to: &str, items: &[&str]) -> DomainEvent {
    DomainEvent::DigestDelivered(DigestDelivered {
        client_id: acme(),
        digest_id: DigestId::new(id).unwrap(),
        at: t(at),
        period_start: t(from),
        period_end: t(to),
        escalation_ids: items
            .iter()
            .map(|i| EscalationId::new(*i).unwrap())
            .collect(),
        channel: "email".to_owned(),
    })
}

fn esc3<'a>(r: &'a ObligationReport, id: &str) -> &'a Obligation {
    r.obligations
        .iter()
        .find(|o| {
            o.rule == RuleId::Esc3
                && o.subject
                    == Subject::Escalation {
                        escalation_id: EscalationId::new(id).unwrap(),
                        tier: None,
                    }
        })
        .unwrap_or_else(|| panic!("no R-ESC-3 obligation for {id}"))
}

#[test]
fn a_digest_is_due_at_the_end_of_the_interval_its_items_were_raised_in_and_must_cover_them() {
    // Four-hour intervals anchored at onboarding (04:00 UTC): 12:00–16:00 closes at 16:00.
    let events = vec![
        non_urgent("n1", "2024-10-08T13:00:00Z"),
        non_urgent("n2", "2024-10-08T14:00:00Z"),
        non_urgent("n3", "2024-10-08T15:50:00Z"),
        // Covers n1 in time; lists n2 under a period that does not hold it.
        digest(
            "d1",
            "2024-10-08T16:00:30Z",
            "2024-10-08T12:00:00Z",
            "2024-10-08T16:00:00Z",
            &["n1"],
        ),
        digest(
            "d0",
            "2024-10-08T16:00:40Z",
            "2024-10-08T08:00:00Z",
            "2024-10-08T12:00:00Z",
            &["n2"],
        ),
        // n3 goes out in the next interval's digest: an hour late for its own.
        digest(
            "d2",
            "2024-10-08T17:00:00Z",
            "2024-10-08T12:00:00Z",
            "2024-10-08T17:00:00Z",
            &["n3"],
        ),
    ];
    let p = ledger(base_agreement(), events);
    let r = report(
        &p,
        "2024-10-08T04:00:00Z",
        "2024-10-09T04:00:00Z",
        "2024-12-01T00:00:00Z",
    );
    let n1 = esc3(&r, "n1");
    assert_eq!(n1.clock_start, Some(t("2024-10-08T16:00:00Z")));
    assert_eq!(
        n1.verdict,
        Verdict::Met {
            met_at: t("2024-10-08T16:00:30Z")
        }
    );
    assert!(is_missed(&esc3(&r, "n2").verdict));
    assert_eq!(
        esc3(&r, "n3").verdict,
        Verdict::Missed {
            by: secs(3_540),
            met_at: Some(t("2024-10-08T17:00:00Z")),
        }
    );
}

// ------------------------------------------------------------------ 11. R-AMD-1 per client

#[test]
fn a_material_sop_change_applies_to_a_client_only_after_its_own_agreed_notice() {
    let mut thirty = base_agreement();
    thirty.rule_overrides.push(RuleOverride {
        rule: RuleId::Amd1,
        value: RuleValue::Days(30),
    });
    let mut events = vec![DomainEvent::SopAmendmentPublished(SopAmendmentPublished {
        amendment_id: SopAmendmentId::new("s1").unwrap(),
        at: t("2024-10-01T16:00:00Z"),
        effective_at: t("2024-10-15T16:00:00Z"),
        material: true,
        changes: vec![RuleOverride {
            rule: RuleId::Ans1,
            value: RuleValue::Seconds(20),
        }],
        summary: "answer target relaxed".to_owned(),
    })];
    // Answered after 15 s on 20 October: within the amended 20 s, but the amendment does not
    // apply to this client until 31 October, so the 8 s target judges it.
    events.extend(answered_call(
        "c1",
        "2024-10-20T14:00:00Z",
        15,
        "billing question",
        false,
    ));
    let p = ledger(thirty, events);
    let r = report(
        &p,
        "2024-10-01T04:00:00Z",
        "2024-11-01T04:00:00Z",
        "2024-12-01T00:00:00Z",
    );
    let ans1 = find_call(&r, RuleId::Ans1, "c1");
    assert_eq!(ans1.rule_value, RuleValue::Seconds(8));
    assert!(is_missed(&ans1.verdict));
    let amd1 = only(&r, RuleId::Amd1);
    assert_eq!(amd1.rule_value, RuleValue::Days(30));
    assert_eq!(amd1.due_at, Some(t("2024-10-31T16:00:00Z")));
}
