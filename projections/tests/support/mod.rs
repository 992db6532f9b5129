//! Fixtures shared by the projection tests: agreements, positioned events, instants.
#![allow(dead_code)]

use chrono::{DateTime, NaiveDate, Utc};
use opsledger_domain::agreement::{AccountKind, Coverage, Jurisdiction, ServiceAgreement, Tier};
use opsledger_domain::calendar::BusinessCalendar;
use opsledger_domain::events::{ClientOnboarded, DomainEvent};
use opsledger_domain::ids::ClientId;
use opsledger_domain::money::Currency;
use opsledger_projections::PositionedEvent;
use uuid::Uuid;

pub fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

pub fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

/// A standard Mon–Fri 09:00–17:00 calendar in a zone named by its IANA id (the projections crate
/// does not depend on chrono-tz, so the zone goes through serde).
pub fn calendar(zone: &str) -> BusinessCalendar {
    serde_json::from_value(serde_json::json!({
        "time_zone": zone,
        "business_days": ["Mon", "Tue", "Wed", "Thu", "Fri"],
        "opens_at": "09:00:00",
        "closes_at": "17:00:00",
        "holidays": [],
    }))
    .unwrap()
}

pub fn agreement(tier: Tier, coverage: Coverage, zone: &str) -> ServiceAgreement {
    ServiceAgreement {
        client_name: None,
        tier,
        account_kind: AccountKind::General,
        jurisdiction: Jurisdiction::Us,
        calendar: calendar(zone),
        coverage,
        voicemail_enabled: true,
        urgent_call_natures: vec!["burst pipe".to_owned()],
        escalation_chain: vec![],
        documentation_delivery_mins: Some(60),
        non_urgent_digest_interval_mins: Some(240),
        next_contact_after_unreachable_mins: None,
        notice_period_days: None,
        payment_terms_days: None,
        retention_after_termination_days: None,
        additional_languages: vec![],
        affiliation_disclosure_authorized: false,
        rates: vec![],
        currency: Currency::USD,
        go_live_date: d(2022, 6, 1),
        rule_overrides: vec![],
    }
}

pub fn onboard(client: &ClientId, at: DateTime<Utc>, agreement: ServiceAgreement) -> DomainEvent {
    DomainEvent::ClientOnboarded(ClientOnboarded {
        client_id: client.clone(),
        at,
        agreement,
    })
}

/// Positions events from 0 with deterministic ids; `recorded_at` comes with each event.
pub fn position(events: Vec<(DateTime<Utc>, DomainEvent)>) -> Vec<PositionedEvent> {
    events
        .into_iter()
        .enumerate()
        .map(|(i, (recorded_at, event))| {
            let position = u64::try_from(i).unwrap();
            PositionedEvent {
                position,
                event_id: Uuid::from_u128(u128::from(position) + 1),
                recorded_at,
                event,
            }
        })
        .collect()
}
