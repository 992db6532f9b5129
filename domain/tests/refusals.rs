//! The ledger refuses impossible histories, and treats identical retries as no-ops.

mod support;

use opsledger_domain::agreement::Tier;
use opsledger_domain::command::{Command, GiveTerminationNotice, TerminateImmediately};
use opsledger_domain::error::DomainError;
use opsledger_domain::events::{
    AbandonReason, CallAbandoned, CallAnswered, ImmediateCause, Party, PaymentReceived,
    TerminationTookEffect,
};
use opsledger_domain::ids::{InvoiceId, NoticeId, PaymentId};
use support::*;

fn connect(id: &str, at: &str) -> Command {
    let opsledger_domain::events::DomainEvent::CallConnected(e) = connected(id, at) else {
        unreachable!()
    };
    Command::ConnectCall(e)
}

fn answer(id: &str, at: &str) -> Command {
    Command::AnswerCall(CallAnswered {
        client_id: client(),
        call_id: call(id),
        at: t(at),
        agent_id: agent("a1"),
    })
}

fn pay(payment: &str, amount: i64, credit: bool) -> Command {
    Command::ReceivePayment(PaymentReceived {
        client_id: client(),
        invoice_id: InvoiceId::new("inv-1").unwrap(),
        payment_id: PaymentId::new(payment).unwrap(),
        at: t("2024-03-10T12:00:00Z"),
        amount: usd(amount),
        excess_as_credit: credit,
    })
}

#[test]
fn a_call_for_an_unknown_client_is_refused() {
    let mut g = given([]);
    assert!(matches!(
        g.when(connect("c1", "2024-03-04T15:00:00Z")),
        Err(DomainError::UnknownClient { .. })
    ));
}

#[test]
fn a_call_for_a_terminated_client_is_refused() {
    let mut g = given([
        onboarded(Tier::Essential),
        TerminationTookEffect {
            client_id: client(),
            at: t("2024-03-01T00:00:00Z"),
        }
        .into(),
    ]);
    assert!(matches!(
        g.when(connect("c1", "2024-03-04T15:00:00Z")),
        Err(DomainError::ClientTerminated { .. })
    ));
}

#[test]
fn pickup_before_connect_is_refused() {
    let mut g = given([onboarded(Tier::Essential)]);
    assert!(matches!(
        g.when(answer("c1", "2024-03-04T15:00:00Z")),
        Err(DomainError::PickupBeforeConnect { .. })
    ));
    g.ok(connect("c1", "2024-03-04T15:00:10Z"));
    assert!(matches!(
        g.when(answer("c1", "2024-03-04T15:00:00Z")),
        Err(DomainError::PickupBeforeConnect { .. })
    ));
}

#[test]
fn time_running_backwards_within_a_call_is_refused() {
    let mut g = given([
        onboarded(Tier::Essential),
        connected("c1", "2024-03-04T15:00:00Z"),
        answered("c1", "2024-03-04T15:00:05Z"),
    ]);
    let err = g
        .when(Command::CompleteCall(
            opsledger_domain::events::CallCompleted {
                client_id: client(),
                call_id: call("c1"),
                at: t("2024-03-04T15:00:04Z"),
            },
        ))
        .unwrap_err();
    assert!(
        matches!(err, DomainError::TimeRunsBackwards { .. }),
        "{err}"
    );
}

#[test]
fn an_abandoned_call_cannot_be_answered() {
    let mut g = given([
        onboarded(Tier::Essential),
        connected("c1", "2024-03-04T15:00:00Z"),
    ]);
    g.ok(Command::AbandonCall(CallAbandoned {
        client_id: client(),
        call_id: call("c1"),
        at: t("2024-03-04T15:00:50Z"),
        reason: AbandonReason::CallerHungUp,
    }));
    assert!(matches!(
        g.when(answer("c1", "2024-03-04T15:00:55Z")),
        Err(DomainError::InvalidTransition { .. })
    ));
}

#[test]
fn same_id_same_content_is_a_no_op_and_different_content_is_refused() {
    let mut g = given([onboarded(Tier::Essential)]);
    assert_eq!(g.ok(connect("c1", "2024-03-04T15:00:00Z")).len(), 1);
    assert!(g.ok(connect("c1", "2024-03-04T15:00:00Z")).is_empty());
    assert!(matches!(
        g.when(connect("c1", "2024-03-04T15:00:01Z")),
        Err(DomainError::ConflictingDuplicate { .. })
    ));
    assert!(g
        .ok(Command::Onboard(match onboarded(Tier::Essential) {
            opsledger_domain::events::DomainEvent::ClientOnboarded(e) => e,
            _ => unreachable!(),
        }))
        .is_empty());
}

#[test]
fn a_payment_on_an_unknown_invoice_is_refused() {
    let mut g = given([onboarded(Tier::Essential)]);
    assert!(matches!(
        g.when(pay("p1", 100, false)),
        Err(DomainError::UnknownInvoice { .. })
    ));
}

#[test]
fn overpayment_without_explicit_credit_is_refused_but_partial_payments_are_fine() {
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
    g.ok(pay("p1", 60_000, false));
    assert!(matches!(
        g.when(pay("p2", 50_000, false)),
        Err(DomainError::Overpayment { .. })
    ));
    g.ok(pay("p2", 50_000, true));
    let outstanding = g.state.invoices[&InvoiceId::new("inv-1").unwrap()]
        .outstanding()
        .unwrap();
    assert_eq!(outstanding, usd(-10_000));
}

#[test]
fn a_second_termination_is_refused() {
    let mut g = given([onboarded(Tier::Essential)]);
    let notice = |id: &str| {
        Command::GiveTerminationNotice(GiveTerminationNotice {
            client_id: client(),
            notice_id: NoticeId::new(id).unwrap(),
            at: t("2024-05-01T00:00:00Z"),
            by: Party::Agency,
            effective_at: None,
        })
    };
    g.ok(notice("n1"));
    assert!(g.ok(notice("n1")).is_empty(), "retry is a no-op");
    assert!(matches!(
        g.when(notice("n2")),
        Err(DomainError::SecondTermination { .. })
    ));
    let immediate = Command::TerminateImmediately(TerminateImmediately {
        client_id: client(),
        at: t("2024-05-02T00:00:00Z"),
        cause: ImmediateCause::IllegalOrUnethicalRequest,
    });
    g.ok(immediate.clone());
    let again = Command::TerminateImmediately(TerminateImmediately {
        client_id: client(),
        at: t("2024-05-03T00:00:00Z"),
        cause: ImmediateCause::UnlawfulClientConduct,
    });
    assert!(matches!(
        g.when(again),
        Err(DomainError::SecondTermination { .. })
    ));
}

#[test]
fn command_streams_name_every_stream_the_decision_reads() {
    let streams = answer("c1", "2024-03-04T15:00:00Z").streams();
    assert_eq!(
        streams,
        vec!["client-acme".to_owned(), "call-c1".to_owned()]
    );
}
