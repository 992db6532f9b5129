//! R-RET-1 counts from the client's last call by when it occurred, not by where it sits in
//! the log: an older call imported after a newer one must not bring the deletion date forward.

mod support;

use opsledger_domain::agreement::{Coverage, Tier};
use opsledger_domain::events::{CallConnected, DomainEvent, TerminationTookEffect};
use opsledger_domain::ids::{CallId, ClientId};
use opsledger_domain::rules::RuleId;
use opsledger_projections::{AsOf, Period, Projections};
use support::{agreement, onboard, position, t};

fn acme() -> ClientId {
    ClientId::new("acme").unwrap()
}

fn connected(id: &str, at: &str) -> DomainEvent {
    DomainEvent::CallConnected(CallConnected {
        client_id: acme(),
        call_id: CallId::new(id).unwrap(),
        at: t(at),
        queue: None,
        caller_number: None,
    })
}

#[test]
fn the_last_call_is_the_latest_to_occur_even_when_recorded_first() {
    let start = t("2024-09-01T04:00:00Z");
    let onboarding = onboard(
        &acme(),
        start,
        agreement(
            Tier::Professional,
            Coverage::TwentyFourSeven,
            "America/New_York",
        ),
    );
    let termination = DomainEvent::TerminationTookEffect(TerminationTookEffect {
        client_id: acme(),
        at: t("2024-10-01T16:00:00Z"),
    });
    // The newer call (28 September) is recorded before an older one (2 September) that an
    // import brought in later.
    let log = vec![
        (start, onboarding),
        (
            t("2024-09-28T16:00:00Z"),
            connected("newer", "2024-09-28T16:00:00Z"),
        ),
        (
            t("2024-09-29T16:00:00Z"),
            connected("older", "2024-09-02T16:00:00Z"),
        ),
        (t("2024-10-01T16:00:00Z"), termination),
    ];
    let projections = Projections::rebuild(&position(log)).unwrap();
    let report = projections
        .obligation_report(
            &acme(),
            Period {
                from: t("2024-10-01T04:00:00Z"),
                to: t("2024-11-01T04:00:00Z"),
            },
            AsOf::Head,
            t("2024-10-15T00:00:00Z"),
        )
        .unwrap();
    let ret2: Vec<_> = report
        .obligations
        .iter()
        .filter(|o| o.rule == RuleId::Ret2)
        .collect();
    assert_eq!(ret2.len(), 1, "{ret2:#?}");
    // R-RET-1 keeps call records 90 local calendar days from the last call, 28 September
    // 12:00 New York: until 27 December 12:00 EST. That is later than R-RET-2's 30 days after
    // termination, so it is the deletion deadline. Counting from the 2 September call would
    // give 1 December.
    assert_eq!(
        ret2[0].due_at,
        Some(t("2024-12-27T17:00:00Z")),
        "{:#?}",
        ret2[0]
    );
}
