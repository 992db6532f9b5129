//! "No data is not a miss" (issue 11): a rule judged on a family of facts (shifts, report
//! deliveries, QA reviews and summaries) the client's log never recorded gets "no data recorded",
//! counted apart from missed; from the family's first fact on, it is judged as usual.
//!
//! The client is Professional, 24/7, in New York, onboarded 1 September 2024.

mod support;

use opsledger_domain::agreement::{Coverage, Tier};
use opsledger_domain::events::{
    DomainEvent, MonthlyReportDelivered, MonthlyReportKind, QaSummaryDelivered, ShiftEnded,
    ShiftStarted,
};
use opsledger_domain::ids::{AgentId, ClientId, ReportId, ShiftId};
use opsledger_domain::rules::RuleId;
use opsledger_projections::obligations::{ObligationReport, RuleSummary, Subject};
use opsledger_projections::verdict::{DataFamily, Verdict};
use opsledger_projections::{AsOf, Period, Projections, YearMonth};
use support::{agreement, onboard, position, t};

fn acme() -> ClientId {
    ClientId::new("acme").unwrap()
}

fn ledger(events: Vec<DomainEvent>) -> Projections {
    let start = t("2024-09-01T04:00:00Z");
    let mut all = vec![(
        start,
        onboard(
            &acme(),
            start,
            agreement(
                Tier::Professional,
                Coverage::TwentyFourSeven,
                "America/New_York",
            ),
        ),
    )];
    let mut events = events;
    events.sort_by_key(DomainEvent::occurred_at);
    all.extend(events.into_iter().map(|e| (e.occurred_at(), e)));
    Projections::rebuild(&position(all)).unwrap()
}

fn report(p: &Projections, as_of: AsOf) -> ObligationReport {
    p.obligation_report(
        &acme(),
        Period {
            from: t("2024-09-01T04:00:00Z"),
            to: t("2024-11-01T04:00:00Z"),
        },
        as_of,
        t("2024-12-01T00:00:00Z"),
    )
    .unwrap()
}

fn line(r: &ObligationReport, rule: RuleId) -> &RuleSummary {
    r.rules.iter().find(|l| l.rule == rule).unwrap()
}

fn month_verdict(r: &ObligationReport, rule: RuleId, month: u32) -> &Verdict {
    let month = YearMonth::new(2024, month).unwrap();
    &r.obligations
        .iter()
        .find(|o| o.rule == rule && o.subject == Subject::Month { month })
        .unwrap_or_else(|| panic!("no {rule} obligation for {month:?}"))
        .verdict
}

fn shift(id: &str, agent: &str, from: &str, to: &str) -> [DomainEvent; 2] {
    let shift_id = ShiftId::new(id).unwrap();
    let agent_id = AgentId::new(agent).unwrap();
    [
        DomainEvent::ShiftStarted(ShiftStarted {
            client_id: acme(),
            shift_id: shift_id.clone(),
            at: t(from),
            agent_id: agent_id.clone(),
        }),
        DomainEvent::ShiftEnded(ShiftEnded {
            client_id: acme(),
            shift_id,
            at: t(to),
            agent_id,
        }),
    ]
}

fn performance_report(month: u32, at: &str) -> DomainEvent {
    DomainEvent::MonthlyReportDelivered(MonthlyReportDelivered {
        client_id: acme(),
        report_id: ReportId::new(format!("perf-{month}")).unwrap(),
        at: t(at),
        year: 2024,
        month,
        kind: MonthlyReportKind::Performance,
    })
}

fn qa_summary(month: u32, at: &str) -> DomainEvent {
    DomainEvent::QaSummaryDelivered(QaSummaryDelivered {
        client_id: acme(),
        report_id: ReportId::new(format!("qa-{month}")).unwrap(),
        at: t(at),
        year: 2024,
        month,
    })
}

#[test]
fn a_family_never_recorded_is_no_data_not_missed() {
    let r = report(&ledger(vec![]), AsOf::Head);
    for rule in [RuleId::Cov1, RuleId::Rep1, RuleId::Qa4] {
        let l = line(&r, rule);
        assert_eq!(l.tally.missed, 0, "{l:?}");
        assert_eq!(l.tally.missed_raw(), 0, "{l:?}");
        assert!(l.tally.no_data > 0, "{l:?}");
        assert!(
            l.note
                .as_deref()
                .is_some_and(|n| n.contains("no data recorded")),
            "{l:?}"
        );
    }
    assert!(matches!(
        month_verdict(&r, RuleId::Rep1, 9),
        Verdict::NoData {
            family: DataFamily::ReportDeliveries,
            ..
        }
    ));
    // R-COV-1: the whole judged span, onboarding to the period's end, is one "no data" part.
    let cov: Vec<_> = r
        .obligations
        .iter()
        .filter(|o| o.rule == RuleId::Cov1)
        .collect();
    assert_eq!(cov.len(), 1, "{cov:#?}");
    assert!(matches!(
        cov[0].verdict,
        Verdict::NoData {
            family: DataFamily::Shifts,
            ..
        }
    ));
}

#[test]
fn from_the_first_fact_of_a_family_on_obligations_are_judged_as_usual() {
    let mut events = Vec::new();
    // Two agents from 10 October 04:00 to 20 October 04:00, nobody after.
    events.extend(shift(
        "s1",
        "a1",
        "2024-10-10T04:00:00Z",
        "2024-10-20T04:00:00Z",
    ));
    events.extend(shift(
        "s2",
        "a2",
        "2024-10-10T04:00:00Z",
        "2024-10-20T04:00:00Z",
    ));
    // September's performance report was never delivered; October's was, on 4 November, the
    // first report delivery in the log. September's QA summary was delivered on 4 October,
    // October's never.
    events.push(performance_report(10, "2024-11-04T15:00:00Z"));
    events.push(qa_summary(9, "2024-10-04T15:00:00Z"));
    let p = ledger(events);
    let r = report(&p, AsOf::Head);

    // R-COV-1: before the first shift, no data; between the shifts, met; after them, a gap.
    let cov: Vec<_> = r
        .obligations
        .iter()
        .filter(|o| o.rule == RuleId::Cov1)
        .collect();
    let no_data: Vec<_> = cov
        .iter()
        .filter(|o| matches!(o.verdict, Verdict::NoData { .. }))
        .collect();
    assert_eq!(no_data.len(), 1, "{cov:#?}");
    assert_eq!(
        no_data[0].subject,
        Subject::Coverage {
            from: t("2024-09-01T04:00:00Z"),
            to: t("2024-10-10T04:00:00Z"),
            agents_on_duty: 0,
        }
    );
    let missed: Vec<_> = cov
        .iter()
        .filter(|o| matches!(o.verdict, Verdict::Missed { .. }))
        .map(|o| o.subject.clone())
        .collect();
    assert_eq!(
        missed,
        vec![Subject::Coverage {
            from: t("2024-10-20T04:00:00Z"),
            to: t("2024-11-01T04:00:00Z"),
            agents_on_duty: 0,
        }]
    );

    // R-REP-1: September fell due (7 October) before the first delivery: no data. October's
    // came in time.
    assert!(matches!(
        month_verdict(&r, RuleId::Rep1, 9),
        Verdict::NoData { .. }
    ));
    assert!(matches!(
        month_verdict(&r, RuleId::Rep1, 10),
        Verdict::Met { .. }
    ));
    // R-QA-4: September's summary met; October's fell due after the first summary: missed.
    assert!(matches!(
        month_verdict(&r, RuleId::Qa4, 9),
        Verdict::Met { .. }
    ));
    assert!(matches!(
        month_verdict(&r, RuleId::Qa4, 10),
        Verdict::Missed { .. }
    ));
    assert_eq!(line(&r, RuleId::Qa4).tally.missed, 1);
    assert_eq!(line(&r, RuleId::Qa4).tally.no_data, 0);
}

#[test]
fn never_recorded_is_read_from_the_log_as_the_basis_sees_it() {
    // The QA summary for September was delivered on 4 October. As the ledger knew it on
    // 1 October nothing of the family had happened yet; as of the head it has.
    let p = ledger(vec![qa_summary(9, "2024-10-04T15:00:00Z")]);
    let then = report(&p, AsOf::RecordedAt(t("2024-10-01T00:00:00Z")));
    let now = report(&p, AsOf::Head);
    assert!(matches!(
        month_verdict(&then, RuleId::Qa4, 10),
        Verdict::NoData { .. }
    ));
    assert!(matches!(
        month_verdict(&now, RuleId::Qa4, 10),
        Verdict::Missed { .. }
    ));
}

// ------------------------------------------------------------------ R-BIL-1 per service month

fn october_invoice(issued: &str) -> DomainEvent {
    use opsledger_domain::events::InvoiceIssued;
    use opsledger_domain::ids::InvoiceId;
    use opsledger_domain::money::{Currency, Money};
    DomainEvent::InvoiceIssued(InvoiceIssued {
        client_id: acme(),
        invoice_id: InvoiceId::new("inv-oct").unwrap(),
        at: t(issued),
        invoice_date: support::d(2024, 9, 25),
        period_start: support::d(2024, 10, 1),
        period_end: support::d(2024, 10, 31),
        lines: vec![],
        total: Money::new(100_000, Currency::USD),
        due_date: support::d(2024, 10, 9),
        final_invoice: false,
    })
}

#[test]
fn a_service_month_without_an_invoice_is_missed_once_billing_is_in_use() {
    // No invoice at all: billing is not recorded in this ledger, so both months are no data.
    let r = report(&ledger(vec![]), AsOf::Head);
    let l = line(&r, RuleId::Bil1);
    assert_eq!((l.tally.missed, l.tally.no_data), (0, 2), "{l:?}");
    assert!(matches!(
        month_verdict(&r, RuleId::Bil1, 9),
        Verdict::NoData {
            family: DataFamily::Invoices,
            ..
        }
    ));

    // October billed in advance on 25 September: billing is in use, so September, which no
    // invoice bills, is missed even though it came before the first invoice; October is judged
    // per invoice, once, and met.
    let r = report(
        &ledger(vec![october_invoice("2024-09-25T14:00:00Z")]),
        AsOf::Head,
    );
    let september = r
        .obligations
        .iter()
        .find(|o| {
            o.rule == RuleId::Bil1
                && o.subject
                    == Subject::Month {
                        month: YearMonth::new(2024, 9).unwrap(),
                    }
        })
        .unwrap();
    assert!(
        matches!(september.verdict, Verdict::Missed { .. }),
        "{september:?}"
    );
    // Due by the end of the first local day of service (1 September, New York).
    assert_eq!(september.due_at, Some(t("2024-09-02T04:00:00Z")));
    let bil1: Vec<_> = r
        .obligations
        .iter()
        .filter(|o| o.rule == RuleId::Bil1)
        .map(|o| (o.subject.clone(), o.verdict.clone()))
        .collect();
    assert_eq!(bil1.len(), 2, "{bil1:#?}");
    assert!(bil1
        .iter()
        .any(|(s, v)| matches!(s, Subject::Invoice { .. }) && matches!(v, Verdict::Met { .. })));
    let l = line(&r, RuleId::Bil1);
    assert_eq!((l.tally.met, l.tally.missed, l.tally.no_data), (1, 1, 0));

    // Before the first day of service has ended, a month with no invoice yet is pending.
    let early = ledger(vec![]);
    let r = early
        .obligation_report(
            &acme(),
            Period {
                from: t("2024-09-01T04:00:00Z"),
                to: t("2024-09-02T04:00:00Z"),
            },
            AsOf::Head,
            t("2024-09-01T20:00:00Z"),
        )
        .unwrap();
    assert!(matches!(
        month_verdict(&r, RuleId::Bil1, 9),
        Verdict::Pending { .. }
    ));
}
