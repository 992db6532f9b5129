//! Agency communications awaiting the client's answer [4 Timely Response] (issue 16): what the
//! ledger accepts and refuses. The excused windows they open are the projections' (see
//! `projections/tests/windows.rs`).

mod support;

use opsledger_domain::agreement::Tier;
use opsledger_domain::command::Command;
use opsledger_domain::error::DomainError;
use opsledger_domain::events::{
    CommunicationAnswered, CommunicationSent, ExcuseCause, ExcusedWindowOpened,
};
use opsledger_domain::ids::{CommunicationId, ExcusedWindowId};
use opsledger_domain::rules::RuleId;
use support::*;

fn send(at: &str) -> Command {
    Command::SendCommunication(CommunicationSent {
        client_id: client(),
        communication_id: CommunicationId::new("m1").unwrap(),
        at: t(at),
        affects: vec![RuleId::Doc2],
        subject: None,
    })
}

fn answer(at: &str) -> Command {
    Command::AnswerCommunication(CommunicationAnswered {
        client_id: client(),
        communication_id: CommunicationId::new("m1").unwrap(),
        at: t(at),
    })
}

#[test]
fn a_communication_is_answered_once_after_it_was_sent() {
    let mut g = given([onboarded(Tier::Professional)]);
    assert!(matches!(
        g.when(answer("2024-03-05T09:00:00Z")),
        Err(DomainError::UnknownEntity { .. })
    ));
    assert_eq!(g.ok(send("2024-03-04T16:00:00Z")).len(), 1);
    // Sending again, identically, is a no-op.
    assert!(g.ok(send("2024-03-04T16:00:00Z")).is_empty());
    // An answer before the communication was sent is refused.
    assert!(g.when(answer("2024-03-04T15:00:00Z")).is_err());
    assert_eq!(g.ok(answer("2024-03-05T09:00:00Z")).len(), 1);
    // The same answer again is a no-op; a different second answer is refused.
    assert!(g.ok(answer("2024-03-05T09:00:00Z")).is_empty());
    assert!(matches!(
        g.when(answer("2024-03-06T09:00:00Z")),
        Err(DomainError::InvalidTransition { .. })
    ));
}

#[test]
fn a_free_standing_window_awaiting_the_client_is_refused() {
    let mut g = given([onboarded(Tier::Professional)]);
    let open = |cause| {
        Command::OpenExcusedWindow(ExcusedWindowOpened {
            client_id: client(),
            window_id: ExcusedWindowId::new("w1").unwrap(),
            at: t("2024-03-04T16:00:00Z"),
            cause,
            note: None,
        })
    };
    assert!(matches!(
        g.when(open(ExcuseCause::AwaitingClientResponse)),
        Err(DomainError::InvalidTransition { .. })
    ));
    assert_eq!(g.ok(open(ExcuseCause::ForceMajeure)).len(), 1);
}
