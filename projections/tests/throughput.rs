//! A rough throughput check, ignored by default: `cargo test --release -p opsledger-projections --test throughput -- --ignored --nocapture`.
//!
//! Not a timed test (timings vary by machine): it prints events per second for a rebuild and
//! the time of one monthly SLA report, for the benchmark to confirm.

mod support;

use std::time::Instant;

use chrono::Duration;
use opsledger_domain::agreement::{Coverage, Tier};
use opsledger_domain::events::{CallAnswered, CallCompleted, CallConnected, DomainEvent};
use opsledger_domain::ids::{AgentId, CallId, ClientId};
use opsledger_projections::{AsOf, Projections, YearMonth};
use support::{agreement, onboard, position, t};

#[test]
#[ignore = "prints throughput; run in release"]
fn rebuild_throughput() {
    let client = ClientId::new("bulk").unwrap();
    let agent = AgentId::new("a1").unwrap();
    let start = t("2024-01-01T00:00:00Z");
    let mut events = vec![(
        start,
        onboard(
            &client,
            start,
            agreement(
                Tier::Enterprise,
                Coverage::TwentyFourSeven,
                "America/New_York",
            ),
        ),
    )];
    let calls: i64 = 333_333;
    for i in 0..calls {
        let at = start + Duration::seconds(i * 20);
        let call_id = CallId::new(format!("bulk:{i}")).unwrap();
        events.push((
            at,
            DomainEvent::CallConnected(CallConnected {
                client_id: client.clone(),
                call_id: call_id.clone(),
                at,
                queue: Some("main".to_owned()),
                caller_number: None,
            }),
        ));
        let a = at + Duration::seconds(i % 30);
        events.push((
            a,
            DomainEvent::CallAnswered(CallAnswered {
                client_id: client.clone(),
                call_id: call_id.clone(),
                at: a,
                agent_id: agent.clone(),
            }),
        ));
        let c = a + Duration::seconds(90);
        events.push((
            c,
            DomainEvent::CallCompleted(CallCompleted {
                client_id: client.clone(),
                call_id,
                at: c,
            }),
        ));
    }
    events.sort_by_key(|(r, _)| *r);
    let events = position(events);
    let began = Instant::now();
    let p = Projections::rebuild(&events).unwrap();
    let took = began.elapsed();
    println!(
        "rebuilt {} events in {took:?}: {:.0} events/s",
        events.len(),
        f64::from(u32::try_from(events.len()).unwrap()) / took.as_secs_f64()
    );
    let began = Instant::now();
    let report = p
        .sla_report(
            &client,
            YearMonth::new(2024, 2).unwrap(),
            AsOf::Head,
            t("2024-04-01T00:00:00Z"),
        )
        .unwrap();
    println!(
        "monthly SLA report over {} calls in {:?}",
        report.calls.raw.offered,
        began.elapsed()
    );
    let began = Instant::now();
    let bytes = p.to_json().unwrap();
    let back = Projections::from_json(&bytes).unwrap();
    println!(
        "state {} bytes, persisted and restored in {:?}",
        bytes.len(),
        began.elapsed()
    );
    assert_eq!(back.checkpoint(), p.checkpoint());
}
