//! One scenario per catalog rule id: given events, when a command or an instant, then events,
//! a refusal naming the rule, or a deadline.

mod support;

use opsledger_domain::agreement::{Coverage, RuleOverride, Tier};
use opsledger_domain::command::{
    Command, DocumentCall, GiveTerminationNotice, TerminateImmediately,
};
use opsledger_domain::deadlines::{due_at, rule_due_at};
use opsledger_domain::events::PaymentReceived;
use opsledger_domain::events::{
    AccountIssueIdentified, AgreementAmended, BreachKind, CallClassified, CallOutcome,
    CallSelectedForReview, ClientDataDeleted, ClientReviewRequested, ConductBreachIdentified,
    CorrectiveAction, CorrectiveActionTaken, DeletionScope, DigestDelivered,
    DocumentationDelivered, DomainEvent, EscalationContactAttempted, EscalationContactUnreachable,
    EscalationOpened, Finding, ImmediateCause, LegalHoldPlaced, LegalHoldReleased, Party,
    PaymentDefaultNoticeSent, PriceChangeNotified, QualityIssueAddressed, QualityIssueIdentified,
    ReviewCompleted, ReviewFindings, ServiceSuspended, SopAmendmentPublished,
    TerminationTookEffect, Urgency,
};
use opsledger_domain::ids::PaymentId;
use opsledger_domain::ids::{
    AccountIssueId, AgreementAmendmentId, BreachId, DeletionId, DigestId, EscalationId, InvoiceId,
    LegalHoldId, NoticeId, QualityIssueId, ReviewId, SopAmendmentId,
};
use opsledger_domain::money::{Currency, Money};
use opsledger_domain::rules::{RuleId, RuleValue};
use opsledger_domain::rules_in_force::sop_amendment_takes_effect_at;
use support::*;

fn due(g: &Given, rule: RuleId, clock_start: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    let value = g.value(rule, clock_start);
    due_at(&value, &g.calendar(clock_start), t(clock_start)).unwrap()
}

fn amended(
    effective: &str,
    agreement: opsledger_domain::agreement::ServiceAgreement,
) -> DomainEvent {
    AgreementAmended {
        client_id: client(),
        amendment_id: AgreementAmendmentId::new("amd-1").unwrap(),
        at: t("2024-02-01T00:00:00Z"),
        effective_at: t(effective),
        agreement,
    }
    .into()
}

fn escalation(id: &str, urgency: Urgency) -> EscalationOpened {
    EscalationOpened {
        client_id: client(),
        escalation_id: EscalationId::new(id).unwrap(),
        call_id: Some(call("c1")),
        at: t("2024-03-04T15:02:00Z"),
        urgency,
        summary: Some("water everywhere".to_owned()),
    }
}

fn a_call() -> Vec<DomainEvent> {
    vec![
        onboarded(Tier::Professional),
        connected("c1", "2024-03-04T15:00:00Z"),
        answered("c1", "2024-03-04T15:00:05Z"),
        completed("c1", "2024-03-04T15:01:00Z"),
    ]
}

// ---------------------------------------------------------------- calls

#[test]
fn r_ans_1_answer_target_is_8_seconds_after_connect_unless_the_agreement_overrides_it() {
    let mut amended_agreement = agreement(Tier::Professional);
    amended_agreement.rule_overrides.push(RuleOverride {
        rule: RuleId::Ans1,
        value: RuleValue::Seconds(20),
    });
    let g = given([
        onboarded(Tier::Professional),
        amended("2024-03-01T00:00:00Z", amended_agreement),
    ]);
    assert_eq!(
        g.value(RuleId::Ans1, "2024-02-15T12:00:00Z"),
        RuleValue::Seconds(8)
    );
    assert_eq!(
        due(&g, RuleId::Ans1, "2024-02-15T12:00:00Z"),
        Some(t("2024-02-15T12:00:08Z"))
    );
    // Bitemporal: the override governs only from its effective instant.
    assert_eq!(
        g.value(RuleId::Ans1, "2024-03-01T00:00:00Z"),
        RuleValue::Seconds(20)
    );
}

#[test]
fn r_ans_2_maximum_queue_is_45_seconds_and_voicemail_follows_the_agreement() {
    let mut no_voicemail = agreement(Tier::Essential);
    no_voicemail.voicemail_enabled = false;
    let mut g = given([
        onboarded_with(client(), no_voicemail),
        connected("c1", "2024-03-04T15:00:00Z"),
        answered("c1", "2024-03-04T15:00:50Z"),
    ]);
    assert_eq!(
        due(&g, RuleId::Ans2, "2024-03-04T15:00:00Z"),
        Some(t("2024-03-04T15:00:45Z"))
    );
    let agreement_then = g.state.clients[&client()]
        .agreement_at(t("2024-03-04T15:00:00Z"))
        .unwrap();
    assert!(!agreement_then.voicemail_enabled);
    // A call already picked up cannot also go to voicemail.
    let err = g
        .when(Command::RouteToVoicemail(
            opsledger_domain::events::CallRoutedToVoicemail {
                client_id: client(),
                call_id: call("c1"),
                at: t("2024-03-04T15:00:55Z"),
            },
        ))
        .unwrap_err();
    assert!(err.to_string().contains("answered"), "{err}");
}

fn findings(greeting: Finding, language: Finding) -> ReviewFindings {
    ReviewFindings {
        script_adherence: Finding::Pass,
        documentation_accuracy: Finding::Pass,
        escalation_compliance: Finding::NotApplicable,
        greeting,
        language,
    }
}

fn review_completed(f: ReviewFindings) -> Command {
    Command::CompleteReview(ReviewCompleted {
        client_id: client(),
        review_id: ReviewId::new("r1").unwrap(),
        call_id: call("c1"),
        at: t("2024-03-05T15:00:00Z"),
        reviewer_id: agent("qa1"),
        findings: f,
        notes: Some("greeted as the agency".to_owned()),
    })
}

fn selected() -> Command {
    Command::SelectCallForReview(CallSelectedForReview {
        client_id: client(),
        review_id: ReviewId::new("r1").unwrap(),
        call_id: call("c1"),
        at: t("2024-03-05T14:00:00Z"),
    })
}

#[test]
fn r_ans_3_greeting_is_judged_by_a_recorded_qa_finding() {
    let mut g = given(a_call());
    assert_eq!(
        g.value(RuleId::Ans3, "2024-03-04T15:00:00Z"),
        RuleValue::Qualitative
    );
    g.ok(selected());
    let events = g.ok(review_completed(findings(Finding::Fail, Finding::Pass)));
    match &events[0] {
        DomainEvent::ReviewCompleted(r) => assert_eq!(r.findings.greeting, Finding::Fail),
        other => panic!("{other:?}"),
    }
}

#[test]
fn r_ans_4_language_is_english_unless_the_agreement_adds_others() {
    let mut bilingual = agreement(Tier::Professional);
    bilingual.additional_languages = vec!["es".to_owned()];
    let g = given([
        onboarded(Tier::Professional),
        amended("2024-03-01T00:00:00Z", bilingual),
    ]);
    assert_eq!(
        g.value(RuleId::Ans4, "2024-02-01T00:00:00Z"),
        RuleValue::Languages(vec!["en".to_owned()])
    );
    assert_eq!(
        g.value(RuleId::Ans4, "2024-03-02T00:00:00Z"),
        RuleValue::Languages(vec!["en".to_owned(), "es".to_owned()])
    );
}

fn document(name: Option<&str>, contact: Option<&str>) -> Command {
    Command::DocumentCall(DocumentCall {
        client_id: client(),
        call_id: call("c1"),
        at: t("2024-03-04T15:05:00Z"),
        agent_id: agent("a1"),
        caller_name: name.map(str::to_owned),
        caller_contact: contact.map(str::to_owned),
        nature_of_call: Some("burst pipe".to_owned()),
        action_taken: Some("plumber dispatched".to_owned()),
    })
}

#[test]
fn r_doc_1_documentation_records_which_of_the_four_fields_are_present() {
    let mut g = given(a_call());
    let partial = g.ok(document(Some("Jo Bloggs"), Some("  ")));
    let DomainEvent::CallDocumented(doc) = &partial[0] else {
        panic!()
    };
    assert!(
        !doc.fields_present.all_present(),
        "blank contact is not documented"
    );
    let full = g.ok(document(Some("Jo Bloggs"), Some("+1 555 0123")));
    let DomainEvent::CallDocumented(doc) = &full[0] else {
        panic!()
    };
    assert!(doc.fields_present.all_present());
    // The flags live outside the personal fields, so shredding cannot change the verdict.
    assert!(!full[0].personal_fields().contains(&"/fields_present"));
}

#[test]
fn r_doc_2_delivery_window_is_unconfigured_without_an_agreement_value() {
    let mut silent = agreement(Tier::Essential);
    silent.documentation_delivery_mins = None;
    let mut g = given([
        onboarded_with(client(), silent),
        connected("c1", "2024-03-04T15:00:00Z"),
        answered("c1", "2024-03-04T15:00:05Z"),
        completed("c1", "2024-03-04T15:01:00Z"),
    ]);
    assert_eq!(
        g.value(RuleId::Doc2, "2024-03-04T15:01:00Z"),
        RuleValue::Unconfigured
    );
    assert_eq!(due(&g, RuleId::Doc2, "2024-03-04T15:01:00Z"), None);
    let deliver = Command::DeliverDocumentation(DocumentationDelivered {
        client_id: client(),
        call_id: call("c1"),
        at: t("2024-03-04T15:10:00Z"),
        channel: "crm".to_owned(),
    });
    let err = g.when(deliver.clone()).unwrap_err();
    assert!(err.to_string().contains("not documented"), "{err}");
    g.ok(document(Some("Jo"), Some("+1 555")));
    g.ok(deliver);
    let g2 = given(a_call());
    assert_eq!(
        due(&g2, RuleId::Doc2, "2024-03-04T15:01:00Z"),
        Some(t("2024-03-04T16:01:00Z"))
    );
}

// ---------------------------------------------------------------- escalations

#[test]
fn r_esc_1_urgent_escalation_is_due_3_minutes_after_call_completion() {
    let mut g = given(a_call());
    g.ok(Command::ClassifyCall(CallClassified {
        client_id: client(),
        call_id: call("c1"),
        at: t("2024-03-04T15:01:10Z"),
        nature: "burst pipe".to_owned(),
        urgent: true,
        outcome: CallOutcome::Action,
    }));
    assert!(g.state.clients[&client()]
        .agreement_or_first(t("2024-03-04T15:01:00Z"))
        .is_urgent_nature("Burst Pipe"));
    assert_eq!(
        due(&g, RuleId::Esc1, "2024-03-04T15:01:00Z"),
        Some(t("2024-03-04T15:04:00Z"))
    );
    g.ok(Command::OpenEscalation(escalation("e1", Urgency::Urgent)));
}

fn attempt(tier: u32, contact: &str, at: &str) -> Command {
    Command::AttemptContact(EscalationContactAttempted {
        client_id: client(),
        escalation_id: EscalationId::new("e1").unwrap(),
        at: t(at),
        tier,
        contact_ref: contact.to_owned(),
    })
}

#[test]
fn r_esc_2_unreachable_contact_moves_down_the_chain_and_off_chain_contacts_are_refused() {
    let mut g = given(a_call());
    g.ok(Command::OpenEscalation(escalation("e1", Urgency::Urgent)));
    g.ok(attempt(1, "on-call-1", "2024-03-04T15:02:10Z"));
    g.ok(Command::MarkContactUnreachable(
        EscalationContactUnreachable {
            client_id: client(),
            escalation_id: EscalationId::new("e1").unwrap(),
            at: t("2024-03-04T15:03:00Z"),
            tier: 1,
            contact_ref: "on-call-1".to_owned(),
        },
    ));
    assert_eq!(
        g.value(RuleId::Esc2, "2024-03-04T15:03:00Z"),
        RuleValue::Immediate
    );
    g.refused_by(RuleId::Esc2, attempt(3, "ceo", "2024-03-04T15:03:05Z"));
    g.refused_by(
        RuleId::Esc2,
        attempt(2, "on-call-1", "2024-03-04T15:03:05Z"),
    );
    g.ok(attempt(2, "manager", "2024-03-04T15:03:05Z"));
}

#[test]
fn r_esc_3_urgent_items_cannot_be_deferred_to_the_non_urgent_digest() {
    let mut g = given(a_call());
    g.ok(Command::OpenEscalation(escalation("e1", Urgency::Urgent)));
    g.ok(Command::OpenEscalation(escalation(
        "e2",
        Urgency::NonUrgent,
    )));
    assert_eq!(
        g.value(RuleId::Esc3, "2024-03-04T15:00:00Z"),
        RuleValue::Minutes(240)
    );
    let digest = |ids: &[&str]| {
        Command::DeliverDigest(DigestDelivered {
            client_id: client(),
            digest_id: DigestId::new("d1").unwrap(),
            at: t("2024-03-04T19:00:00Z"),
            period_start: t("2024-03-04T15:00:00Z"),
            period_end: t("2024-03-04T19:00:00Z"),
            escalation_ids: ids.iter().map(|i| EscalationId::new(*i).unwrap()).collect(),
            channel: "email".to_owned(),
        })
    };
    g.refused_by(RuleId::Esc3, digest(&["e1", "e2"]));
    g.ok(digest(&["e2"]));
}

// ---------------------------------------------------------------- quality

#[test]
fn r_qa_1_at_least_ten_percent_of_calls_are_reviewed() {
    let mut g = given(a_call());
    assert_eq!(
        g.value(RuleId::Qa1, "2024-03-31T00:00:00Z"),
        RuleValue::BasisPoints(1_000)
    );
    g.ok(selected());
    assert!(!g.state.reviews[&ReviewId::new("r1").unwrap()].requested_by_client);
}

fn issue() -> Command {
    Command::IdentifyQualityIssue(QualityIssueIdentified {
        client_id: client(),
        issue_id: QualityIssueId::new("q1").unwrap(),
        at: t("2024-03-05T15:00:00Z"),
        agent_id: agent("a1"),
        call_id: Some(call("c1")),
        review_id: None,
        rule: Some(RuleId::Doc1),
        notes: None,
    })
}

#[test]
fn r_qa_2_quality_issue_is_addressed_with_the_same_agent_within_24_hours() {
    let mut g = given(a_call());
    g.ok(issue());
    assert_eq!(
        due(&g, RuleId::Qa2, "2024-03-05T15:00:00Z"),
        Some(t("2024-03-06T15:00:00Z"))
    );
    let address = |who: &str| {
        Command::AddressQualityIssue(QualityIssueAddressed {
            client_id: client(),
            issue_id: QualityIssueId::new("q1").unwrap(),
            at: t("2024-03-06T10:00:00Z"),
            agent_id: agent(who),
        })
    };
    g.refused_by(RuleId::Qa2, address("a2"));
    g.ok(address("a1"));
}

#[test]
fn r_qa_3_client_requested_review_is_due_2_business_days_later() {
    let mut g = given(a_call());
    // Friday 2024-03-08 14:00 EST.
    g.ok(Command::RequestClientReview(ClientReviewRequested {
        client_id: client(),
        review_id: ReviewId::new("r9").unwrap(),
        call_id: call("c1"),
        at: t("2024-03-08T19:00:00Z"),
    }));
    assert!(g.state.reviews[&ReviewId::new("r9").unwrap()].requested_by_client);
    // Tuesday 14:00 EDT (DST began on Sunday 10 March).
    assert_eq!(
        due(&g, RuleId::Qa3, "2024-03-08T19:00:00Z"),
        Some(t("2024-03-12T18:00:00Z"))
    );
}

#[test]
fn r_qa_4_qa_summary_applies_to_professional_and_enterprise_only() {
    let pro = given([onboarded(Tier::Professional)]);
    assert_eq!(
        pro.value(RuleId::Qa4, "2024-03-01T00:00:00Z"),
        RuleValue::WithMonthlyReport
    );
    let essential = given([onboarded(Tier::Essential)]);
    assert_eq!(
        essential.value(RuleId::Qa4, "2024-03-01T00:00:00Z"),
        RuleValue::NotApplicable
    );
}

#[test]
fn r_qa_5_conduct_breach_is_corrected_the_same_business_day_with_the_agent_concerned() {
    let mut g = given(a_call());
    g.ok(Command::IdentifyConductBreach(ConductBreachIdentified {
        client_id: client(),
        breach_id: BreachId::new("b1").unwrap(),
        at: t("2024-03-04T16:00:00Z"),
        agent_id: agent("a1"),
        call_id: Some(call("c1")),
        kind: BreachKind::AffiliationDisclosed,
        notes: None,
    }));
    // Monday 11:00 EST → Monday 17:00 EST.
    assert_eq!(
        due(&g, RuleId::Qa5, "2024-03-04T16:00:00Z"),
        Some(t("2024-03-04T22:00:00Z"))
    );
    let correct = |who: &str| {
        Command::TakeCorrectiveAction(CorrectiveActionTaken {
            client_id: client(),
            breach_id: BreachId::new("b1").unwrap(),
            at: t("2024-03-04T17:00:00Z"),
            agent_id: agent(who),
            action: CorrectiveAction::Reassignment,
        })
    };
    g.refused_by(RuleId::Qa5, correct("a9"));
    g.ok(correct("a1"));
}

// ---------------------------------------------------------------- coverage, communication, reporting

#[test]
fn r_cov_1_redundant_coverage_applies_to_24_7_accounts_only() {
    let g = given([onboarded(Tier::Enterprise)]);
    assert_eq!(
        g.value(RuleId::Cov1, "2024-03-01T00:00:00Z"),
        RuleValue::Agents(2)
    );
    let mut office = agreement(Tier::Enterprise);
    office.coverage = Coverage::BusinessHours;
    let g = given([onboarded_with(client(), office)]);
    assert_eq!(
        g.value(RuleId::Cov1, "2024-03-01T00:00:00Z"),
        RuleValue::NotApplicable
    );
}

#[test]
fn r_com_1_account_issue_is_due_4_business_hours_later_or_after_the_first_hour_of_the_next_period()
{
    let mut g = given([onboarded(Tier::Professional)]);
    g.ok(Command::IdentifyAccountIssue(AccountIssueIdentified {
        client_id: client(),
        issue_id: AccountIssueId::new("i1").unwrap(),
        at: t("2024-03-06T20:00:00Z"),
        summary: None,
    }));
    // Wednesday 15:00 EST: 2 h today, 2 h Thursday → Thursday 11:00 EST.
    assert_eq!(
        due(&g, RuleId::Com1, "2024-03-06T20:00:00Z"),
        Some(t("2024-03-07T16:00:00Z"))
    );
    // Friday 20:00 EST (after hours) → Monday 10:00 EDT.
    assert_eq!(
        due(&g, RuleId::Com1, "2024-03-09T01:00:00Z"),
        Some(t("2024-03-11T14:00:00Z"))
    );
}

#[test]
fn r_rep_1_performance_report_is_due_by_the_5th_business_day_of_the_next_month() {
    let g = given([onboarded(Tier::Professional)]);
    // Reporting May 2024 → 5th business day of June is Friday 7 June; due by its end.
    assert_eq!(
        due(&g, RuleId::Rep1, "2024-05-15T12:00:00Z"),
        Some(t("2024-06-08T04:00:00Z"))
    );
    let e = given([onboarded(Tier::Essential)]);
    assert_eq!(
        e.value(RuleId::Rep1, "2024-05-15T12:00:00Z"),
        RuleValue::NotApplicable
    );
}

#[test]
fn r_rep_2_essential_summary_is_due_by_the_7th_business_day_of_the_next_month() {
    let g = given([onboarded(Tier::Essential)]);
    // 7th business day of June 2024 is Tuesday 11 June.
    assert_eq!(
        due(&g, RuleId::Rep2, "2024-05-15T12:00:00Z"),
        Some(t("2024-06-12T04:00:00Z"))
    );
    let p = given([onboarded(Tier::Professional)]);
    assert_eq!(
        p.value(RuleId::Rep2, "2024-05-15T12:00:00Z"),
        RuleValue::NotApplicable
    );
}

#[test]
fn r_rep_3_quarterly_review_is_due_within_the_calendar_quarter() {
    let g = given([onboarded(Tier::Enterprise)]);
    // Q2 2024 ends 30 June; due by local midnight (EDT).
    assert_eq!(
        due(&g, RuleId::Rep3, "2024-04-01T12:00:00Z"),
        Some(t("2024-07-01T04:00:00Z"))
    );
}

// ---------------------------------------------------------------- records and data

fn delete(scope: DeletionScope, at: &str) -> Command {
    Command::RecordDataDeletion(ClientDataDeleted {
        client_id: client(),
        deletion_id: DeletionId::new("del-1").unwrap(),
        at: t(at),
        scope,
    })
}

#[test]
fn r_ret_1_call_records_are_kept_at_least_90_days() {
    let mut g = given(a_call());
    g.refused_by(
        RuleId::Ret1,
        delete(
            DeletionScope::CallRecordsBefore {
                before: t("2024-03-05T00:00:00Z"),
            },
            "2024-05-01T00:00:00Z",
        ),
    );
    g.ok(delete(
        DeletionScope::CallRecordsBefore {
            before: t("2024-03-05T00:00:00Z"),
        },
        "2024-06-04T00:00:00Z",
    ));
}

#[test]
fn r_ret_2_deletion_after_termination_is_suspended_by_a_legal_hold() {
    let mut g = given([
        onboarded(Tier::Essential),
        TerminationTookEffect {
            client_id: client(),
            at: t("2024-06-01T00:00:00Z"),
        }
        .into(),
    ]);
    assert_eq!(
        due(&g, RuleId::Ret2, "2024-06-01T00:00:00Z"),
        Some(t("2024-07-01T00:00:00Z"))
    );
    g.ok(Command::PlaceLegalHold(LegalHoldPlaced {
        client_id: client(),
        hold_id: LegalHoldId::new("h1").unwrap(),
        at: t("2024-06-10T00:00:00Z"),
        matter: "subpoena 42".to_owned(),
    }));
    g.refused_by(
        RuleId::Ret2,
        delete(DeletionScope::AllClientData, "2024-06-20T00:00:00Z"),
    );
    g.ok(Command::ReleaseLegalHold(LegalHoldReleased {
        client_id: client(),
        hold_id: LegalHoldId::new("h1").unwrap(),
        at: t("2024-08-01T00:00:00Z"),
    }));
    g.ok(delete(DeletionScope::AllClientData, "2024-08-02T00:00:00Z"));
    // A longer retention agreed in writing overrides the SOP's 30 days.
    let mut longer = agreement(Tier::Essential);
    longer.retention_after_termination_days = Some(365);
    let g = given([onboarded_with(client(), longer)]);
    assert_eq!(
        g.value(RuleId::Ret2, "2024-06-01T00:00:00Z"),
        RuleValue::Days(365)
    );
}

#[test]
fn r_ret_3_confidentiality_survives_termination_for_3_years() {
    let g = given([onboarded(Tier::Essential)]);
    assert_eq!(
        due(&g, RuleId::Ret3, "2024-06-01T00:00:00Z"),
        Some(t("2027-06-01T00:00:00Z"))
    );
}

#[test]
fn r_ret_4_caller_data_is_scoped_to_its_client() {
    let mut g = given([
        onboarded(Tier::Essential),
        onboarded_with(other_client(), agreement(Tier::Essential)),
        connected("c1", "2024-03-04T15:00:00Z"),
    ]);
    assert_eq!(
        g.value(RuleId::Ret4, "2024-03-04T15:00:00Z"),
        RuleValue::Qualitative
    );
    let err = g
        .when(Command::SelectCallForReview(CallSelectedForReview {
            client_id: other_client(),
            review_id: ReviewId::new("r1").unwrap(),
            call_id: call("c1"),
            at: t("2024-03-05T00:00:00Z"),
        }))
        .unwrap_err();
    assert!(err.to_string().contains("belongs to client acme"), "{err}");
}

// ---------------------------------------------------------------- billing

#[test]
fn r_bil_1_invoices_are_due_before_the_period_they_bill() {
    let g = given([onboarded(Tier::Essential)]);
    assert_eq!(
        g.value(RuleId::Bil1, "2024-03-01T00:00:00Z"),
        RuleValue::NoLaterThanPeriodStart
    );
}

#[test]
fn r_bil_2_payment_is_due_14_days_after_the_invoice_date_unless_agreed_otherwise() {
    let mut g = given([onboarded(Tier::Essential)]);
    let events = g.ok(Command::IssueInvoice(issue_invoice_command(
        "inv-1",
        "2024-03-01T12:00:00Z",
        d(2024, 3, 1),
        usd(100_000),
    )));
    let DomainEvent::InvoiceIssued(inv) = &events[0] else {
        panic!()
    };
    assert_eq!(inv.due_date, d(2024, 3, 15));
    let mut early =
        issue_invoice_command("inv-2", "2024-04-01T12:00:00Z", d(2024, 4, 1), usd(100_000));
    early.due_date = Some(d(2024, 4, 5));
    g.refused_by(RuleId::Bil2, Command::IssueInvoice(early));
    let mut net30 = agreement(Tier::Essential);
    net30.payment_terms_days = Some(30);
    let g = given([onboarded_with(client(), net30)]);
    assert_eq!(
        g.value(RuleId::Bil2, "2024-03-01T00:00:00Z"),
        RuleValue::Days(30)
    );
}

fn default_notice(invoices: &[&str], at: &str) -> Command {
    Command::SendPaymentDefaultNotice(PaymentDefaultNoticeSent {
        client_id: client(),
        notice_id: NoticeId::new("n1").unwrap(),
        at: t(at),
        invoice_ids: invoices
            .iter()
            .map(|i| InvoiceId::new(*i).unwrap())
            .collect(),
    })
}

fn suspend(at: &str) -> Command {
    Command::SuspendService(ServiceSuspended {
        client_id: client(),
        at: t(at),
        notice_id: NoticeId::new("n1").unwrap(),
    })
}

#[test]
fn r_bil_3_suspension_only_after_a_written_notice_of_payment_default() {
    let mut g = given([
        onboarded(Tier::Essential),
        invoice(
            "inv-1",
            "2024-03-01T12:00:00Z",
            d(2024, 3, 1),
            d(2024, 3, 15),
            100_000,
        ),
    ]);
    g.refused_by(RuleId::Bil3, suspend("2024-03-20T12:00:00Z"));
    g.refused_by(
        RuleId::Bil3,
        default_notice(&["inv-1"], "2024-03-10T12:00:00Z"),
    );
    g.ok(default_notice(&["inv-1"], "2024-03-20T12:00:00Z"));
    g.ok(suspend("2024-03-25T12:00:00Z"));
}

#[test]
fn r_bil_4_price_change_takes_effect_only_30_days_after_notice() {
    let mut g = given([onboarded(Tier::Essential)]);
    let change = |effective: &str| {
        Command::NotifyPriceChange(PriceChangeNotified {
            client_id: client(),
            notice_id: NoticeId::new("p1").unwrap(),
            at: t("2024-03-01T00:00:00Z"),
            effective_at: t(effective),
            rates: vec![],
        })
    };
    g.refused_by(RuleId::Bil4, change("2024-03-20T00:00:00Z"));
    g.ok(change("2024-03-31T00:00:00Z"));
}

#[test]
fn r_bil_5_invoices_are_in_the_agreed_currency() {
    let mut g = given([onboarded(Tier::Essential)]);
    assert_eq!(
        g.value(RuleId::Bil5, "2024-03-01T00:00:00Z"),
        RuleValue::Currency(Currency::USD)
    );
    g.refused_by(
        RuleId::Bil5,
        Command::IssueInvoice(issue_invoice_command(
            "inv-1",
            "2024-03-01T12:00:00Z",
            d(2024, 3, 1),
            Money::new(100, Currency::GBP),
        )),
    );
}

#[test]
fn r_bil_6_only_the_final_invoice_follows_the_termination() {
    let mut g = given([onboarded(Tier::Essential)]);
    let mut final_invoice =
        issue_invoice_command("inv-f", "2024-06-02T12:00:00Z", d(2024, 6, 2), usd(5_000));
    final_invoice.final_invoice = true;
    g.refused_by(RuleId::Bil6, Command::IssueInvoice(final_invoice.clone()));
    g.state.apply(
        &TerminationTookEffect {
            client_id: client(),
            at: t("2024-06-01T00:00:00Z"),
        }
        .into(),
    );
    g.refused_by(
        RuleId::Bil6,
        Command::IssueInvoice(issue_invoice_command(
            "inv-9",
            "2024-06-02T12:00:00Z",
            d(2024, 6, 2),
            usd(5_000),
        )),
    );
    g.ok(Command::IssueInvoice(final_invoice));
}

#[test]
fn r_lia_1_liability_cap_is_three_months_of_fees() {
    let g = given([onboarded(Tier::Essential)]);
    assert_eq!(
        g.value(RuleId::Lia1, "2024-03-01T00:00:00Z"),
        RuleValue::TrailingFeesMonths(3)
    );
}

// ---------------------------------------------------------------- termination and amendments

fn notice(effective: Option<&str>) -> Command {
    Command::GiveTerminationNotice(GiveTerminationNotice {
        client_id: client(),
        notice_id: NoticeId::new("t1").unwrap(),
        at: t("2024-05-01T00:00:00Z"),
        by: Party::Client,
        effective_at: effective.map(t),
    })
}

#[test]
fn r_trm_1_termination_by_notice_takes_effect_after_the_notice_period() {
    let mut g = given([onboarded(Tier::Essential)]);
    g.refused_by(RuleId::Trm1, notice(Some("2024-05-15T00:00:00Z")));
    let events = g.ok(notice(None));
    let DomainEvent::TerminationNoticeGiven(n) = &events[0] else {
        panic!()
    };
    assert_eq!(n.effective_at, t("2024-05-31T00:00:00Z"));
    g.refused_by(
        RuleId::Trm1,
        Command::RecordTerminationEffective(TerminationTookEffect {
            client_id: client(),
            at: t("2024-05-20T00:00:00Z"),
        }),
    );
    g.ok(Command::RecordTerminationEffective(TerminationTookEffect {
        client_id: client(),
        at: t("2024-05-31T00:00:00Z"),
    }));
    let mut sixty = agreement(Tier::Essential);
    sixty.notice_period_days = Some(60);
    let mut g = given([onboarded_with(client(), sixty)]);
    g.refused_by(RuleId::Trm1, notice(Some("2024-06-01T00:00:00Z")));
}

fn terminate_for_non_payment(at: &str) -> Command {
    Command::TerminateImmediately(TerminateImmediately {
        client_id: client(),
        at: t(at),
        cause: ImmediateCause::NonPayment {
            invoice_ids: vec![InvoiceId::new("inv-1").unwrap()],
        },
    })
}

#[test]
fn r_trm_2_refuses_immediate_termination_for_non_payment_without_overdue_invoice() {
    let mut g = given([
        onboarded(Tier::Essential),
        invoice(
            "inv-1",
            "2024-03-01T12:00:00Z",
            d(2024, 3, 1),
            d(2024, 3, 15),
            100_000,
        ),
    ]);
    // 14 April is 30 days past due: not yet beyond 30.
    let message = g.refused_by(
        RuleId::Trm2,
        terminate_for_non_payment("2024-04-14T16:00:00Z"),
    );
    assert!(message.contains("inv-1 is 30 days past due"), "{message}");
    let events = g.ok(terminate_for_non_payment("2024-04-15T16:00:00Z"));
    assert_eq!(events.len(), 2, "immediate termination also takes effect");
    assert!(matches!(events[1], DomainEvent::TerminationTookEffect(_)));
}

#[test]
fn r_trm_2_permits_immediate_termination_citing_unlawful_conduct() {
    let mut g = given([onboarded(Tier::Essential)]);
    g.ok(Command::TerminateImmediately(TerminateImmediately {
        client_id: client(),
        at: t("2024-04-15T16:00:00Z"),
        cause: ImmediateCause::UnlawfulClientConduct,
    }));
}

fn sop_amendment(id: &str, material: bool, published: &str, effective: &str) -> Command {
    Command::PublishSopAmendment(SopAmendmentPublished {
        amendment_id: SopAmendmentId::new(id).unwrap(),
        at: t(published),
        effective_at: t(effective),
        material,
        changes: vec![RuleOverride {
            rule: RuleId::Ans1,
            value: RuleValue::Seconds(10),
        }],
        summary: "answer target relaxed".to_owned(),
    })
}

#[test]
fn r_amd_1_material_sop_change_takes_effect_no_earlier_than_14_days_after_notice() {
    let mut g = given([onboarded(Tier::Essential)]);
    g.refused_by(
        RuleId::Amd1,
        sop_amendment("s1", true, "2024-03-01T00:00:00Z", "2024-03-08T00:00:00Z"),
    );
    let events = g.ok(sop_amendment(
        "s1",
        true,
        "2024-03-01T00:00:00Z",
        "2024-03-15T00:00:00Z",
    ));
    assert_eq!(events[0].client_id(), opsledger_domain::ids::AGENCY_SCOPE);
    assert_eq!(events[0].stream_id(), "sop-s1");
    assert_eq!(
        g.value(RuleId::Ans1, "2024-03-14T23:59:59Z"),
        RuleValue::Seconds(8)
    );
    assert_eq!(
        g.value(RuleId::Ans1, "2024-03-15T00:00:00Z"),
        RuleValue::Seconds(10)
    );
    // Even an imported event that claims an earlier date is held to the notice period.
    let DomainEvent::SopAmendmentPublished(mut p) = events[0].clone() else {
        panic!()
    };
    p.effective_at = t("2024-03-02T00:00:00Z");
    assert_eq!(sop_amendment_takes_effect_at(&p), t("2024-03-15T00:00:00Z"));
    // The agreement governs over the SOP [3].
    let mut own = agreement(Tier::Essential);
    own.rule_overrides.push(RuleOverride {
        rule: RuleId::Ans1,
        value: RuleValue::Seconds(6),
    });
    let mut g = given([onboarded_with(client(), own)]);
    g.ok(sop_amendment(
        "s1",
        true,
        "2024-03-01T00:00:00Z",
        "2024-03-15T00:00:00Z",
    ));
    assert_eq!(
        g.value(RuleId::Ans1, "2024-04-01T00:00:00Z"),
        RuleValue::Seconds(6)
    );
}

#[test]
fn r_amd_2_pricing_adjustment_follows_r_bil_4() {
    let mut own = agreement(Tier::Essential);
    own.rule_overrides.push(RuleOverride {
        rule: RuleId::Bil4,
        value: RuleValue::Days(45),
    });
    let g = given([onboarded_with(client(), own)]);
    assert_eq!(
        g.value(RuleId::Amd2, "2024-03-01T00:00:00Z"),
        RuleValue::Days(45)
    );
    let g = given([onboarded(Tier::Essential)]);
    assert_eq!(
        g.value(RuleId::Amd2, "2024-03-01T00:00:00Z"),
        g.value(RuleId::Bil4, "2024-03-01T00:00:00Z")
    );
}

#[test]
fn every_catalog_rule_has_a_scenario_in_this_file() {
    let source = include_str!("rules.rs");
    for rule in RuleId::ALL {
        let prefix = format!("fn {}_", rule.as_str().to_lowercase().replace('-', "_"));
        assert!(source.contains(&prefix), "no scenario test for {rule}");
    }
}

// ---------------------------------------------------------------- local calendar days

#[test]
fn days_are_local_calendar_days_so_daylight_saving_never_moves_a_deadline_by_an_hour() {
    // Notice at midnight New York on 1 March (EST); 30 days later is midnight on 31 March
    // (EDT), 04:00 UTC, not 05:00 UTC.
    let mut g = given([onboarded(Tier::Essential)]);
    let give = |effective: &str| {
        Command::GiveTerminationNotice(GiveTerminationNotice {
            client_id: client(),
            notice_id: NoticeId::new("t1").unwrap(),
            at: t("2024-03-01T05:00:00Z"),
            by: Party::Client,
            effective_at: Some(t(effective)),
        })
    };
    g.refused_by(RuleId::Trm1, give("2024-03-31T03:59:59Z"));
    g.ok(give("2024-03-31T04:00:00Z"));
    // "Within 30 days" of a termination runs to the end of the 30th local day after it.
    let calendar = g.calendar("2024-10-15T16:00:00Z");
    assert_eq!(
        rule_due_at(
            RuleId::Ret2,
            &RuleValue::Days(30),
            &calendar,
            t("2024-10-15T16:00:00Z")
        )
        .unwrap(),
        Some(t("2024-11-15T05:00:00Z"))
    );
    // "At least 90 days" from a call, across the autumn change: same local time.
    assert_eq!(
        due_at(&RuleValue::Days(90), &calendar, t("2024-09-01T16:00:00Z")).unwrap(),
        Some(t("2024-11-30T17:00:00Z"))
    );
}

#[test]
fn r_bil_3_the_notice_must_be_strictly_earlier_and_the_invoice_unpaid_past_due_at_suspension() {
    let mut g = given([
        onboarded(Tier::Essential),
        invoice(
            "inv-1",
            "2024-03-01T12:00:00Z",
            d(2024, 3, 1),
            d(2024, 3, 15),
            100_000,
        ),
    ]);
    g.ok(default_notice(&["inv-1"], "2024-03-20T12:00:00Z"));
    // At the very instant of the notice: not after it.
    g.refused_by(RuleId::Bil3, suspend("2024-03-20T12:00:00Z"));
    // Paid in full after the notice: nothing is unpaid past due any more.
    g.ok(Command::ReceivePayment(PaymentReceived {
        client_id: client(),
        invoice_id: InvoiceId::new("inv-1").unwrap(),
        payment_id: PaymentId::new("pay-1").unwrap(),
        at: t("2024-03-22T12:00:00Z"),
        amount: Money::new(100_000, Currency::USD),
        excess_as_credit: false,
    }));
    g.refused_by(RuleId::Bil3, suspend("2024-03-25T12:00:00Z"));
}

#[test]
fn r_amd_1_notice_is_per_client_from_the_value_in_force_for_that_client() {
    // This client's agreement sets 30 days' notice of material SOP changes: a change published
    // 1 March stated to apply from 15 March applies to it only 30 local days after the notice.
    let mut thirty = agreement(Tier::Essential);
    thirty.rule_overrides.push(RuleOverride {
        rule: RuleId::Amd1,
        value: RuleValue::Days(30),
    });
    let mut g = given([onboarded_with(client(), thirty)]);
    g.ok(sop_amendment(
        "s1",
        true,
        "2024-03-01T17:00:00Z",
        "2024-03-15T17:00:00Z",
    ));
    assert_eq!(
        g.value(RuleId::Ans1, "2024-03-20T00:00:00Z"),
        RuleValue::Seconds(8)
    );
    // 30 local days after noon EST on 1 March is noon EDT on 31 March.
    assert_eq!(
        g.value(RuleId::Ans1, "2024-03-31T15:59:59Z"),
        RuleValue::Seconds(8)
    );
    assert_eq!(
        g.value(RuleId::Ans1, "2024-03-31T16:00:00Z"),
        RuleValue::Seconds(10)
    );
}
