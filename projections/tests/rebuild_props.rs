//! Property: rebuilding in one go equals applying in random chunks with a persist/restore round trip between chunks, byte for byte.

mod support;

use chrono::{DateTime, Duration, Utc};
use opsledger_domain::agreement::{Coverage, Tier};
use opsledger_domain::events::{
    AbandonReason, AgreementAmended, CallAbandoned, CallAnswered, CallClassified, CallCompleted,
    CallConnected, CallDocumented, CallOutcome, CallRoutedToVoicemail, CallSelectedForReview,
    ClientDataDeleted, DeletionScope, DocumentationDelivered, DocumentedFields, DomainEvent,
    EscalationContactAttempted, EscalationContactUnreachable, EscalationOpened, ExcuseCause,
    ExcusedWindowClosed, ExcusedWindowOpened, Finding, InvoiceIssued, LegalHoldPlaced,
    MonthlyReportDelivered, MonthlyReportKind, PaymentDefaultNoticeSent, PaymentReceived,
    ReviewCompleted, ReviewFindings, ServiceSuspended, ShiftEnded, ShiftStarted,
    TerminationTookEffect, Urgency,
};
use opsledger_domain::ids::{
    AgentId, AgreementAmendmentId, CallId, ClientId, DeletionId, EscalationId, ExcusedWindowId,
    InvoiceId, LegalHoldId, NoticeId, PaymentId, ReportId, ReviewId, ShiftId,
};
use opsledger_domain::money::{Currency, Money};
use opsledger_projections::{
    Applied, ApplyError, AsOf, Period, PositionedEvent, Projections, YearMonth,
};
use proptest::prelude::*;
use support::{agreement, d, onboard, position, t};

/// One generated step: which fact, which client, which entity, how much time passes, how late it
/// is recorded.
type Op = (u8, u8, u8, u32, u32);

fn client(i: u8) -> ClientId {
    ClientId::new(format!("c{}", i % 3)).unwrap()
}

fn event(op: Op, at: DateTime<Utc>) -> DomainEvent {
    let (kind, c, e, _, _) = op;
    let client_id = client(c);
    let call_id = CallId::new(format!("{client_id}:call{e}")).unwrap();
    let agent = AgentId::new(format!("a{}", e % 3)).unwrap();
    let esc = EscalationId::new(format!("{client_id}:esc{e}")).unwrap();
    let review = ReviewId::new(format!("{client_id}:rev{e}")).unwrap();
    let window = ExcusedWindowId::new(format!("{client_id}:w{}", e % 2)).unwrap();
    let shift = ShiftId::new(format!("{client_id}:s{e}")).unwrap();
    let invoice = InvoiceId::new(format!("{client_id}:inv{e}")).unwrap();
    let usd = |m: i64| Money::new(m, Currency::USD);
    match kind {
        0 => onboard(
            &client_id,
            at,
            agreement(
                Tier::Professional,
                Coverage::TwentyFourSeven,
                "America/New_York",
            ),
        ),
        1 => DomainEvent::AgreementAmended(AgreementAmended {
            client_id,
            amendment_id: AgreementAmendmentId::new(format!("am{e}")).unwrap(),
            at,
            effective_at: at - Duration::days(i64::from(e)),
            agreement: agreement(Tier::Essential, Coverage::BusinessHours, "Europe/London"),
        }),
        2 | 3 => DomainEvent::CallConnected(CallConnected {
            client_id,
            call_id,
            at,
            queue: (e % 2 == 0).then(|| format!("q{e}")),
            caller_number: None,
        }),
        4 => DomainEvent::CallAnswered(CallAnswered {
            client_id,
            call_id,
            at,
            agent_id: agent,
        }),
        5 => DomainEvent::CallAbandoned(CallAbandoned {
            client_id,
            call_id,
            at,
            reason: AbandonReason::CallerHungUp,
        }),
        6 => DomainEvent::CallRoutedToVoicemail(CallRoutedToVoicemail {
            client_id,
            call_id,
            at,
        }),
        7 => DomainEvent::CallCompleted(CallCompleted {
            client_id,
            call_id,
            at,
        }),
        8 => DomainEvent::CallClassified(CallClassified {
            client_id,
            call_id,
            at,
            nature: "burst pipe".to_owned(),
            urgent: e % 2 == 0,
            outcome: if e % 3 == 0 {
                CallOutcome::NoAction
            } else {
                CallOutcome::Action
            },
        }),
        9 => DomainEvent::CallDocumented(CallDocumented {
            client_id,
            call_id,
            at,
            agent_id: agent,
            caller_name: None,
            caller_contact: None,
            nature_of_call: None,
            action_taken: None,
            fields_present: DocumentedFields {
                caller_name: true,
                caller_contact: e % 2 == 0,
                nature_of_call: true,
                action_taken: true,
            },
        }),
        10 => DomainEvent::DocumentationDelivered(DocumentationDelivered {
            client_id,
            call_id,
            at,
            channel: "crm".to_owned(),
        }),
        11 => DomainEvent::EscalationOpened(EscalationOpened {
            client_id,
            escalation_id: esc,
            call_id: Some(call_id),
            at,
            urgency: if e % 2 == 0 {
                Urgency::Urgent
            } else {
                Urgency::NonUrgent
            },
            summary: None,
        }),
        12 => DomainEvent::EscalationContactAttempted(EscalationContactAttempted {
            client_id,
            escalation_id: esc,
            at,
            tier: u32::from(e % 3) + 1,
            contact_ref: "x".to_owned(),
        }),
        13 => DomainEvent::EscalationContactUnreachable(EscalationContactUnreachable {
            client_id,
            escalation_id: esc,
            at,
            tier: 1,
            contact_ref: "x".to_owned(),
        }),
        14 => DomainEvent::CallSelectedForReview(CallSelectedForReview {
            client_id,
            review_id: review,
            call_id,
            at,
        }),
        15 => DomainEvent::ReviewCompleted(ReviewCompleted {
            client_id,
            review_id: review,
            call_id,
            at,
            reviewer_id: agent,
            findings: ReviewFindings {
                script_adherence: Finding::Pass,
                documentation_accuracy: Finding::Pass,
                escalation_compliance: Finding::Pass,
                greeting: if e % 2 == 0 {
                    Finding::Pass
                } else {
                    Finding::Fail
                },
                language: Finding::Pass,
            },
            notes: None,
        }),
        16 => DomainEvent::ExcusedWindowOpened(ExcusedWindowOpened {
            client_id,
            window_id: window,
            at,
            cause: ExcuseCause::ForceMajeure,
            note: None,
        }),
        17 => DomainEvent::ExcusedWindowClosed(ExcusedWindowClosed {
            client_id,
            window_id: window,
            at,
        }),
        18 => DomainEvent::ShiftStarted(ShiftStarted {
            client_id,
            shift_id: shift,
            at,
            agent_id: agent,
        }),
        19 => DomainEvent::ShiftEnded(ShiftEnded {
            client_id,
            shift_id: shift,
            at,
            agent_id: agent,
        }),
        20 => DomainEvent::InvoiceIssued(InvoiceIssued {
            client_id,
            invoice_id: invoice,
            at,
            invoice_date: at.date_naive(),
            period_start: at.date_naive(),
            period_end: at.date_naive() + Duration::days(30),
            lines: vec![],
            total: usd(10_000),
            due_date: at.date_naive() + Duration::days(14),
            final_invoice: e == 5,
        }),
        21 => DomainEvent::PaymentReceived(PaymentReceived {
            client_id,
            invoice_id: invoice,
            payment_id: PaymentId::new(format!("p{}", at.timestamp())).unwrap(),
            at,
            amount: usd(5_000),
            excess_as_credit: false,
        }),
        22 => DomainEvent::PaymentDefaultNoticeSent(PaymentDefaultNoticeSent {
            client_id,
            notice_id: NoticeId::new(format!("n{e}")).unwrap(),
            at,
            invoice_ids: vec![invoice],
        }),
        23 => DomainEvent::ServiceSuspended(ServiceSuspended {
            client_id,
            at,
            notice_id: NoticeId::new(format!("n{e}")).unwrap(),
        }),
        24 => DomainEvent::TerminationTookEffect(TerminationTookEffect { client_id, at }),
        25 => DomainEvent::LegalHoldPlaced(LegalHoldPlaced {
            client_id,
            hold_id: LegalHoldId::new(format!("h{e}")).unwrap(),
            at,
            matter: "m".to_owned(),
        }),
        26 => DomainEvent::ClientDataDeleted(ClientDataDeleted {
            client_id,
            deletion_id: DeletionId::new(format!("del{e}")).unwrap(),
            at,
            scope: if e % 2 == 0 {
                DeletionScope::AllClientData
            } else {
                DeletionScope::CallRecordsBefore {
                    before: at - Duration::days(100),
                }
            },
        }),
        _ => DomainEvent::MonthlyReportDelivered(MonthlyReportDelivered {
            client_id,
            report_id: ReportId::new(format!("r{}", at.timestamp())).unwrap(),
            at,
            year: 2024,
            month: u32::from(e % 12) + 1,
            kind: MonthlyReportKind::Performance,
        }),
    }
}

/// Turns ops into a positioned history: occurrence time advances by each op's seconds, and each
/// event is recorded a little later (so some arrive after events that occurred after them),
/// keeping recorded-at non-decreasing.
fn history(ops: &[Op]) -> Vec<PositionedEvent> {
    let mut occurred = t("2024-01-31T20:00:00Z");
    let mut recorded = occurred;
    let mut events = vec![
        (
            recorded,
            onboard(
                &client(0),
                occurred,
                agreement(
                    Tier::Professional,
                    Coverage::TwentyFourSeven,
                    "America/New_York",
                ),
            ),
        ),
        (
            recorded,
            onboard(
                &client(1),
                occurred,
                agreement(Tier::Essential, Coverage::BusinessHours, "UTC"),
            ),
        ),
    ];
    for op in ops {
        occurred += Duration::seconds(i64::from(op.3));
        recorded = recorded.max(occurred + Duration::seconds(i64::from(op.4)));
        events.push((recorded, event(*op, occurred)));
    }
    position(events)
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    prop::collection::vec(
        (0_u8..28, 0_u8..3, 0_u8..6, 0_u32..20_000, 0_u32..50_000),
        0..150,
    )
}

fn reports_json(p: &Projections) -> String {
    let evaluated = t("2024-03-01T00:00:00Z");
    let mut out = String::new();
    for c in 0..2 {
        let id = client(c);
        let sla = p
            .sla_report(&id, YearMonth::new(2024, 2).unwrap(), AsOf::Head, evaluated)
            .unwrap();
        let period = Period {
            from: t("2024-01-01T00:00:00Z"),
            to: t("2024-04-01T00:00:00Z"),
        };
        let ob = p
            .obligation_report(&id, period, AsOf::Head, evaluated)
            .unwrap();
        let bill = p.billing_report(&id, AsOf::Head, evaluated).unwrap();
        let ret = p
            .retention_report(&id, AsOf::Head, evaluated, period)
            .unwrap();
        out.push_str(&serde_json::to_string(&(sla, ob, bill, ret)).unwrap());
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn chunked_with_round_trips_equals_rebuild(ops in ops(), cuts in prop::collection::vec(0_usize..40, 1..8)) {
        let events = history(&ops);
        let whole = Projections::rebuild(&events).unwrap();
        let whole_json = whole.to_json().unwrap();

        let mut p = Projections::new();
        let mut start: usize = 0;
        for cut in cuts.iter().chain(std::iter::once(&usize::MAX)) {
            let end = start.saturating_add(*cut).min(events.len());
            // Re-reading the previous chunk's tail is harmless: below the checkpoint is a no-op.
            let from = start.saturating_sub(2);
            p.apply_all(&events[from..end]).unwrap();
            let bytes = p.to_json().unwrap();
            p = Projections::from_json(&bytes).unwrap();
            start = end;
        }
        prop_assert_eq!(p.checkpoint(), u64::try_from(events.len()).unwrap());
        prop_assert_eq!(&p.to_json().unwrap(), &whole_json);
        prop_assert_eq!(reports_json(&p), reports_json(&whole));
    }

    #[test]
    fn as_of_a_position_equals_a_rebuild_up_to_it(ops in ops(), at in 0_usize..200) {
        let events = history(&ops);
        let head = Projections::rebuild(&events).unwrap();
        // Both clients are onboarded at positions 0 and 1.
        let at = at.clamp(1, events.len() - 1);
        let prefix = Projections::rebuild(&events[..=at]).unwrap();
        let evaluated = t("2024-03-01T00:00:00Z");
        let position = u64::try_from(at).unwrap();
        for c in 0..2 {
            let id = client(c);
            let month = YearMonth::new(2024, 2).unwrap();
            let mut a = head.sla_report(&id, month, AsOf::Position(position), evaluated).unwrap();
            let b = prefix.sla_report(&id, month, AsOf::Head, evaluated).unwrap();
            // Only the stated basis and checkpoint differ.
            a.as_of = b.as_of;
            a.checkpoint = b.checkpoint;
            prop_assert_eq!(a, b);
        }
    }
}

#[test]
fn below_the_checkpoint_is_a_no_op_and_a_gap_is_an_error() {
    let events = history(&[(2, 0, 1, 10, 0), (4, 0, 1, 5, 0), (7, 0, 1, 60, 0)]);
    let mut p = Projections::new();
    p.apply_all(&events[..3]).unwrap();
    let before = p.to_json().unwrap();
    assert_eq!(p.apply(&events[1]).unwrap(), Applied::AlreadyApplied);
    assert_eq!(p.to_json().unwrap(), before);
    assert_eq!(
        p.apply(&events[4]).unwrap_err(),
        ApplyError::Gap {
            expected: 3,
            found: 4
        }
    );
    assert_eq!(p.checkpoint(), 3);
    let mut late = events[3].clone();
    late.recorded_at = events[2].recorded_at - Duration::seconds(1);
    assert!(matches!(
        p.apply(&late),
        Err(ApplyError::RecordedAtWentBack { .. })
    ));
    assert_eq!(p.apply(&events[3]).unwrap(), Applied::Applied);
    assert_eq!(p.checkpoint(), 4);
    let _ = d(2024, 1, 1);
}
