//! An as-of basis sees the latest classification of a call that it can see, whichever of
//! several it is (a review found that a basis seeing the middle of three got the first).

use chrono::{DateTime, Duration, TimeZone, Utc};
use opsledger_domain::events::CallOutcome;
use opsledger_domain::ids::CallId;
use opsledger_projections::model::{CallRecord, Classification};
use opsledger_projections::{AsOf, EventRef};
use uuid::Uuid;

fn at(minutes: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 10, 5, 9, 0, 0).unwrap() + Duration::minutes(minutes)
}

fn event(position: u64, minutes: i64) -> EventRef {
    EventRef {
        position,
        event_id: Uuid::from_u128(u128::from(position)),
        recorded_at: at(minutes + 60),
        occurred_at: at(minutes),
    }
}

fn classified(position: u64, minutes: i64, urgent: bool, outcome: CallOutcome) -> Classification {
    Classification {
        event: event(position, minutes),
        urgent,
        urgent_by_nature: urgent,
        outcome,
    }
}

fn call_classified_three_times() -> CallRecord {
    CallRecord {
        call_id: CallId::new("c-1").unwrap(),
        client: 0,
        queue: None,
        connected: event(1, 0),
        answered: None,
        voicemail: None,
        abandoned: None,
        completed: None,
        classifications: vec![
            classified(10, 5, false, CallOutcome::Inquiry),
            classified(20, 10, true, CallOutcome::Action),
            classified(30, 15, false, CallOutcome::Booking),
        ],
        first_documentation: None,
        complete_documentation: None,
        documentation_delivered: None,
        urgent_escalation_attempt: None,
        reviewed: None,
    }
}

#[test]
fn each_basis_gets_the_latest_classification_it_sees() {
    let call = call_classified_three_times();
    let outcome = |as_of: AsOf| call.classification(&as_of).map(|c| c.outcome);

    assert_eq!(outcome(AsOf::Position(5)), None);
    assert_eq!(outcome(AsOf::Position(10)), Some(CallOutcome::Inquiry));
    // The middle one: seen at positions 20..29, at occurred 10..14 min, recorded 70..74 min.
    assert_eq!(outcome(AsOf::Position(25)), Some(CallOutcome::Action));
    assert_eq!(outcome(AsOf::OccurredAt(at(12))), Some(CallOutcome::Action));
    assert_eq!(outcome(AsOf::RecordedAt(at(72))), Some(CallOutcome::Action));
    assert!(call.classification(&AsOf::Position(25)).unwrap().urgent);
    assert_eq!(outcome(AsOf::Position(30)), Some(CallOutcome::Booking));
    assert_eq!(outcome(AsOf::Head), Some(CallOutcome::Booking));
}
