//! A call answered before it entered the queue (a negative wait, which the domain refuses but
//! a raw append could record) is counted as an impossible wait, never as answered within
//! target, and stays out of the service level and the average speed of answer.

mod support;

use opsledger_domain::agreement::{Coverage, Tier};
use opsledger_domain::events::{CallAnswered, CallConnected, DomainEvent};
use opsledger_domain::ids::{AgentId, CallId, ClientId};
use opsledger_projections::{AsOf, Projections, YearMonth};
use support::{agreement, onboard, position, t};

fn acme() -> ClientId {
    ClientId::new("acme").unwrap()
}

fn call(id: &str, connected: &str, answered: &str) -> [DomainEvent; 2] {
    [
        DomainEvent::CallConnected(CallConnected {
            client_id: acme(),
            call_id: CallId::new(id).unwrap(),
            at: t(connected),
            queue: None,
            caller_number: None,
        }),
        DomainEvent::CallAnswered(CallAnswered {
            client_id: acme(),
            call_id: CallId::new(id).unwrap(),
            at: t(answered),
            agent_id: AgentId::new("a1").unwrap(),
        }),
    ]
}

#[test]
fn a_negative_wait_is_counted_apart_and_left_out_of_the_rates() {
    let start = t("2024-09-01T04:00:00Z");
    let mut log = vec![(
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
    let events = call("late", "2024-09-10T14:00:00Z", "2024-09-10T14:00:20Z")
        .into_iter()
        .chain(call(
            "before",
            "2024-09-11T14:00:00Z",
            "2024-09-11T13:59:00Z",
        ));
    // Recorded when the facts arrived: in log order, whatever their occurred times say.
    log.extend(events.enumerate().map(|(i, e)| {
        let minutes = i64::try_from(i).unwrap();
        (
            t("2024-09-12T00:00:00Z") + chrono::Duration::minutes(minutes),
            e,
        )
    }));
    let projections = Projections::rebuild(&position(log)).unwrap();
    let report = projections
        .sla_report(
            &acme(),
            YearMonth::new(2024, 9).unwrap(),
            AsOf::Head,
            t("2024-10-01T00:00:00Z"),
        )
        .unwrap();
    let raw = report.calls.raw;
    assert_eq!(raw.offered, 2);
    assert_eq!(raw.impossible_wait, 1);
    assert_eq!(
        raw.answered, 1,
        "only the call with a real wait is counted answered"
    );
    assert_eq!(
        raw.answered_within_target, 0,
        "the 20 s wait missed the 8 s target"
    );
    assert_eq!(raw.service_level_basis_points, Some(0));
    assert_eq!(raw.average_speed_of_answer_ms, Some(20_000));
}
