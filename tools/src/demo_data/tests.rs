//! Tests of the demo month: determinism, valid histories, sane distributions, and every planted
//! situation present.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use opsledger_domain::events::{DomainEvent, ExcuseCause};
use opsledger_domain::ids::{CallId, ClientId, EscalationId, InvoiceId};
use opsledger_domain::rules::RuleId;
use opsledger_domain::{encode, LedgerState};

use super::{demo_month_start, generate_month, DemoError, DemoMonth, DemoScale};

fn month(seed: u64) -> DemoMonth {
    generate_month(seed, demo_month_start(), DemoScale::default()).unwrap()
}

fn encoded(month: &DemoMonth) -> Vec<String> {
    month
        .events
        .iter()
        .map(|e| {
            let (event_type, version, data) = encode(e);
            format!("{event_type}/{version}/{data}")
        })
        .collect()
}

/// `part / whole` as a float, for counts that fit in a u32 (any demo month's do).
fn ratio(part: usize, whole: usize) -> f64 {
    f64::from(u32::try_from(part).unwrap()) / f64::from(u32::try_from(whole).unwrap())
}

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

#[test]
fn the_same_seed_gives_the_same_month() {
    let a = month(42);
    let b = month(42);
    assert_eq!(encoded(&a), encoded(&b));
    assert_eq!(a.notes, b.notes);
    assert_eq!(a.clients, b.clients);
    assert_eq!(a.refused, b.refused);
}

#[test]
fn another_seed_gives_another_month_with_the_same_story() {
    let a = month(1);
    let b = month(2);
    assert_ne!(encoded(&a), encoded(&b));
    // The planted situations do not depend on the seed; their number is the same.
    assert_eq!(a.notes.len(), b.notes.len());
    assert_eq!(a.refused.len(), b.refused.len());
}

#[test]
fn the_default_month_is_demo_sized_and_in_occurred_order() {
    let m = month(7);
    let n = m.events.len();
    assert!((5_000..=20_000).contains(&n), "{n} events");
    assert!(m
        .events
        .windows(2)
        .all(|w| w[0].occurred_at() <= w[1].occurred_at()));
    // Nothing happens after the month but a few minutes of follow-ups of its last calls.
    let end = d(2026, 11, 1).and_hms_opt(12, 0, 0).unwrap().and_utc();
    assert!(m.events.iter().all(|e| e.occurred_at() < end));
}

#[test]
fn the_events_fold_into_a_fresh_state() {
    let m = month(11);
    let state = LedgerState::from_events(&m.events);
    assert_eq!(state.clients.len(), 5);
    let offered: u64 = m.clients.iter().map(|c| c.calls_offered).sum();
    assert_eq!(u64::try_from(state.calls.len()).unwrap(), offered);
    let whitfield = ClientId::new("whitfield-legal").unwrap();
    assert!(state.clients[&whitfield].terminated_at.is_some());
    assert_eq!(state.clients[&whitfield].legal_holds.len(), 1);
    let indus = ClientId::new("indus-telehealth").unwrap();
    assert!(state.clients[&indus].suspended_since.is_none(), "resumed");
    // Folding the events one by one through `evolve` gives the same state.
    let evolved = m
        .events
        .iter()
        .fold(LedgerState::default(), opsledger_domain::evolve);
    assert_eq!(evolved, state);
}

#[test]
fn refusals_are_exactly_the_showcased_ones() {
    let m = month(3);
    let rules: Vec<Option<RuleId>> = m.refused.iter().map(|r| r.error.rule()).collect();
    assert_eq!(m.refused.len(), 4, "{:#?}", m.refused);
    assert!(rules.contains(&Some(RuleId::Bil3)));
    assert!(rules.contains(&Some(RuleId::Trm2)));
    assert!(rules.contains(&Some(RuleId::Ret2)));
    assert!(m.refused.iter().any(|r| matches!(
        r.error,
        opsledger_domain::error::DomainError::ClientTerminated { .. }
    )));
}

/// Queue entry, pickup and end of each call, rebuilt from the events.
#[derive(Default, Clone)]
struct CallTimes {
    client: String,
    connected: Option<DateTime<Utc>>,
    answered: Option<DateTime<Utc>>,
    voicemail: Option<DateTime<Utc>>,
    abandoned: Option<DateTime<Utc>>,
    completed: Option<DateTime<Utc>>,
    urgent: bool,
}

fn call_times(events: &[DomainEvent]) -> BTreeMap<CallId, CallTimes> {
    let mut calls: BTreeMap<CallId, CallTimes> = BTreeMap::new();
    for e in events {
        match e {
            DomainEvent::CallConnected(c) => {
                let t = calls.entry(c.call_id.clone()).or_default();
                t.connected = Some(c.at);
                t.client = c.client_id.to_string();
            }
            DomainEvent::CallAnswered(c) => {
                calls.entry(c.call_id.clone()).or_default().answered = Some(c.at)
            }
            DomainEvent::CallRoutedToVoicemail(c) => {
                calls.entry(c.call_id.clone()).or_default().voicemail = Some(c.at)
            }
            DomainEvent::CallAbandoned(c) => {
                calls.entry(c.call_id.clone()).or_default().abandoned = Some(c.at)
            }
            DomainEvent::CallCompleted(c) => {
                calls.entry(c.call_id.clone()).or_default().completed = Some(c.at)
            }
            DomainEvent::CallClassified(c) => {
                calls.entry(c.call_id.clone()).or_default().urgent = c.urgent
            }
            _ => {}
        }
    }
    calls
}

fn secs_between(a: DateTime<Utc>, b: DateTime<Utc>) -> i64 {
    (b - a).num_seconds()
}

#[test]
fn waits_talk_times_and_escalations_are_realistic() {
    for seed in [5, 6] {
        let m = month(seed);
        let calls = call_times(&m.events);
        let waits: Vec<i64> = calls
            .values()
            .filter_map(|c| Some(secs_between(c.connected?, c.answered?)))
            .collect();
        let fast = waits.iter().filter(|w| **w <= 8).count();
        let share = ratio(fast, waits.len());
        assert!(
            (0.70..=0.95).contains(&share),
            "answered within 8 s: {share}"
        );
        assert!(waits.iter().any(|w| *w > 8 && *w <= 45));
        assert!(
            waits.iter().filter(|w| **w > 45).count() >= 2,
            "a few waits beyond 45 s"
        );

        let abandon_waits: Vec<i64> = calls
            .values()
            .filter_map(|c| Some(secs_between(c.connected?, c.abandoned?)))
            .collect();
        assert!(!abandon_waits.is_empty());
        let long = abandon_waits.iter().filter(|w| **w > 8).count();
        assert!(
            long * 10 >= abandon_waits.len() * 7,
            "abandons mostly after long waits"
        );

        // Voicemail only where the agreement enables it, and always before the 45 s maximum.
        for c in calls.values().filter(|c| c.voicemail.is_some()) {
            assert!(
                c.client == "acme-dental"
                    || c.client == "thames-property"
                    || c.client == "whitfield-legal"
            );
            assert!(secs_between(c.connected.unwrap(), c.voicemail.unwrap()) <= 45);
        }
        assert!(calls.values().any(|c| c.voicemail.is_some()));

        let mut talk: Vec<i64> = calls
            .values()
            .filter_map(|c| Some(secs_between(c.answered?, c.completed?)))
            .collect();
        talk.sort_unstable();
        let median = talk[talk.len() / 2];
        assert!((90..=300).contains(&median), "median talk {median} s");

        // Urgent escalations: first attempt mostly within 3 minutes of the call's end.
        let mut first_attempt: BTreeMap<EscalationId, DateTime<Utc>> = BTreeMap::new();
        let mut escalated_call: BTreeMap<EscalationId, CallId> = BTreeMap::new();
        for e in &m.events {
            match e {
                DomainEvent::EscalationOpened(o)
                    if o.urgency == opsledger_domain::events::Urgency::Urgent =>
                {
                    escalated_call.insert(o.escalation_id.clone(), o.call_id.clone().unwrap());
                }
                DomainEvent::EscalationContactAttempted(a) => {
                    first_attempt.entry(a.escalation_id.clone()).or_insert(a.at);
                }
                _ => {}
            }
        }
        let delays: Vec<i64> = escalated_call
            .iter()
            .map(|(esc, call)| secs_between(calls[call].completed.unwrap(), first_attempt[esc]))
            .collect();
        let urgent_calls = calls.values().filter(|c| c.urgent).count();
        assert_eq!(delays.len(), urgent_calls, "every urgent call escalates");
        let late = delays.iter().filter(|s| **s > 180).count();
        assert!(
            late >= 1 && late * 10 <= delays.len(),
            "{late} late of {}",
            delays.len()
        );
    }
}

/// Intervals of a client's month with fewer than two agents on duty.
fn coverage_gaps(
    events: &[DomainEvent],
    client: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    let mut changes: Vec<(DateTime<Utc>, i32)> = Vec::new();
    for e in events {
        match e {
            DomainEvent::ShiftStarted(s) if s.client_id.as_str() == client => {
                changes.push((s.at, 1))
            }
            DomainEvent::ShiftEnded(s) if s.client_id.as_str() == client => {
                changes.push((s.at, -1))
            }
            _ => {}
        }
    }
    changes.sort();
    let mut on_duty = 0;
    let mut gaps = Vec::new();
    let mut gap_start: Option<DateTime<Utc>> = None;
    for (at, delta) in changes {
        on_duty += delta;
        let t = at.clamp(from, to);
        match (on_duty < 2, gap_start) {
            (true, None) => gap_start = Some(t),
            (false, Some(s)) => {
                if t > s {
                    gaps.push((s, t));
                }
                gap_start = None;
            }
            _ => {}
        }
    }
    gaps
}

#[test]
fn every_planted_situation_is_in_the_events() {
    let m = month(2026);
    let counts = m.event_counts();
    for event_type in [
        "client.onboarded",
        "client.agreement_amended",
        "client.credentials_provided",
        "client.credentials_expired",
        "client.credentials_restored",
        "client.significant_change_notified",
        "call.connected",
        "call.answered",
        "call.routed_to_voicemail",
        "call.abandoned",
        "call.completed",
        "call.classified",
        "call.documented",
        "call.documentation_delivered",
        "escalation.opened",
        "escalation.contact_attempted",
        "escalation.contact_unreachable",
        "escalation.acknowledged",
        "escalation.digest_delivered",
        "quality.call_selected_for_review",
        "quality.client_review_requested",
        "quality.review_completed",
        "quality.issue_identified",
        "quality.issue_addressed",
        "quality.conduct_breach_identified",
        "quality.corrective_action_taken",
        "coverage.shift_started",
        "coverage.shift_ended",
        "communication.account_issue_identified",
        "communication.client_notified",
        "reporting.monthly_report_delivered",
        "reporting.qa_summary_delivered",
        "reporting.quarterly_review_conducted",
        "operations.excused_window_opened",
        "operations.excused_window_closed",
        "retention.legal_hold_placed",
        "billing.invoice_issued",
        "billing.payment_received",
        "billing.payment_default_notice_sent",
        "billing.service_suspended",
        "billing.service_resumed",
        "billing.price_change_notified",
        "termination.notice_given",
        "termination.took_effect",
    ] {
        assert!(
            counts.get(event_type).copied().unwrap_or(0) > 0,
            "no {event_type}"
        );
    }

    let events = &m.events;
    // R-DOC-1 misses among complete documentation.
    let incomplete = events
        .iter()
        .filter(|e| matches!(e, DomainEvent::CallDocumented(c) if !c.fields_present.all_present()))
        .count();
    assert!(incomplete >= 1);

    // Both excuse causes: force majeure as a window of its own, missing credentials from the
    // credentials' expiry and restoration alone (the projections derive its window from them,
    // issue 16), so the demo opens no window of its own beside them.
    let causes: BTreeSet<String> = events
        .iter()
        .filter_map(|e| match e {
            DomainEvent::ExcusedWindowOpened(w) => Some(format!("{:?}", w.cause)),
            _ => None,
        })
        .collect();
    assert!(causes.contains(&format!("{:?}", ExcuseCause::ForceMajeure)));
    assert!(!causes.contains(&format!("{:?}", ExcuseCause::MissingCredentials)));
    assert!(events
        .iter()
        .any(|e| matches!(e, DomainEvent::CredentialsExpired(_))));
    // Calls during the outage.
    let outage: Vec<(DateTime<Utc>, DateTime<Utc>)> = {
        let opened: Vec<_> = events
            .iter()
            .filter_map(|e| match e {
                DomainEvent::ExcusedWindowOpened(w) if w.cause == ExcuseCause::ForceMajeure => {
                    Some((w.window_id.clone(), w.at))
                }
                _ => None,
            })
            .collect();
        opened
            .into_iter()
            .map(|(id, from)| {
                let to = events
                    .iter()
                    .find_map(|e| match e {
                        DomainEvent::ExcusedWindowClosed(c) if c.window_id == id => Some(c.at),
                        _ => None,
                    })
                    .unwrap();
                (from, to)
            })
            .collect()
    };
    assert!(events
        .iter()
        .any(|e| matches!(e, DomainEvent::CallConnected(c)
        if outage.iter().any(|(f, t)| *f <= c.at && c.at < *t))));

    // Quality issues: most addressed within 24 h, one after.
    let mut identified = BTreeMap::new();
    let mut late_issues = 0;
    for e in events {
        match e {
            DomainEvent::QualityIssueIdentified(i) => {
                identified.insert(i.issue_id.clone(), i.at);
            }
            DomainEvent::QualityIssueAddressed(a)
                if a.at - identified[&a.issue_id] > Duration::hours(24) =>
            {
                late_issues += 1;
            }
            _ => {}
        }
    }
    assert_eq!(late_issues, 1);

    // R-QA-1: every client at or above 10 % except Whitfield & Cole.
    let calls = call_times(events);
    let month_from = d(2026, 10, 1).and_hms_opt(0, 0, 0).unwrap().and_utc() - Duration::hours(14);
    let month_to = d(2026, 11, 1).and_hms_opt(0, 0, 0).unwrap().and_utc() + Duration::hours(14);
    let mut answered: BTreeMap<String, u32> = BTreeMap::new();
    for c in calls.values().filter(|c| c.answered.is_some()) {
        *answered.entry(c.client.clone()).or_default() += 1;
    }
    let mut reviewed: BTreeMap<String, BTreeSet<CallId>> = BTreeMap::new();
    for e in events {
        if let DomainEvent::ReviewCompleted(r) = e {
            if calls[&r.call_id].answered.is_some() {
                reviewed
                    .entry(r.client_id.to_string())
                    .or_default()
                    .insert(r.call_id.clone());
            }
        }
    }
    for (client, n) in &answered {
        let share = ratio(
            reviewed.get(client).map_or(0, BTreeSet::len),
            usize::try_from(*n).unwrap(),
        );
        if client == "whitfield-legal" {
            assert!(share < 0.10, "{client} {share}");
        } else {
            assert!((0.10..=0.13).contains(&share), "{client} {share}");
        }
    }

    // R-COV-1: one short gap on Northwind, none on Thames.
    let nw = coverage_gaps(
        events,
        "northwind-hvac",
        month_from + Duration::hours(14),
        month_to - Duration::hours(14),
    );
    assert_eq!(nw.len(), 1, "{nw:?}");
    assert_eq!((nw[0].1 - nw[0].0).num_minutes(), 38);
    assert!(coverage_gaps(
        events,
        "thames-property",
        month_from + Duration::hours(14),
        month_to - Duration::hours(14)
    )
    .is_empty());

    // Billing: a partial payment, the final invoice, next month's invoices in advance.
    let mut totals: BTreeMap<InvoiceId, i64> = BTreeMap::new();
    let mut finals = 0;
    for e in events {
        if let DomainEvent::InvoiceIssued(i) = e {
            totals.insert(i.invoice_id.clone(), i.total.amount_minor);
            if i.final_invoice {
                finals += 1;
            }
            assert!(i.at < m.events.last().unwrap().occurred_at());
        }
    }
    assert_eq!(finals, 1);
    assert!(events
        .iter()
        .any(|e| matches!(e, DomainEvent::PaymentReceived(p)
        if p.amount.amount_minor < totals[&p.invoice_id])));
    assert!(events
        .iter()
        .any(|e| matches!(e, DomainEvent::InvoiceIssued(i)
        if i.period_start == d(2026, 11, 1) && i.total.currency.as_str() == "GBP")));

    assert!(!m.notes.is_empty());
    assert!(m.summary_text().contains("Planted situations"));
}

#[test]
fn other_months_generate_valid_histories() {
    // Daylight-saving changes (March, November), a short February, a December year end.
    for start in [
        d(2026, 3, 1),
        d(2027, 2, 1),
        d(2026, 11, 1),
        d(2026, 12, 1),
        d(2027, 5, 1),
    ] {
        let m = generate_month(
            9,
            start,
            DemoScale {
                calls_per_client_per_day: 6,
            },
        )
        .unwrap_or_else(|e| panic!("{start}: {e}"));
        assert_eq!(m.refused.len(), 4, "{start}");
        assert!(m.events.len() > 1_000, "{start}");
    }
}

#[test]
fn bad_input_is_refused() {
    assert!(matches!(
        generate_month(1, d(2026, 10, 2), DemoScale::default()),
        Err(DemoError::NotFirstOfMonth(_))
    ));
    assert!(matches!(
        generate_month(
            1,
            d(2026, 10, 1),
            DemoScale {
                calls_per_client_per_day: 0
            }
        ),
        Err(DemoError::ScaleOutOfRange { found: 0 })
    ));
}

#[test]
#[ignore = "benchmark-sized; run with --ignored in release"]
fn the_benchmark_scale_generates() {
    let m = generate_month(1, demo_month_start(), DemoScale::benchmark()).unwrap();
    assert!(m.events.len() > 100_000, "{}", m.events.len());
}

#[test]
#[ignore = "prints the default month for a human to read"]
fn print_the_default_month() {
    let m = month(1);
    println!("{}", m.summary_text());
    for (t, n) in m.event_counts() {
        println!("{t:<45} {n:>6}");
    }
}

#[test]
fn the_qa_note_counts_the_answered_calls_the_summary_counts() {
    let m = month(1);
    let mut checked = 0;
    for client in &m.clients {
        for note in m
            .notes
            .iter()
            .filter(|n| n.contains(&client.name) && n.contains("QA reviewed"))
        {
            let of = note
                .split(" of ")
                .nth(1)
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|n| n.parse::<u64>().ok())
                .unwrap_or_else(|| panic!("a count in {note}"));
            assert_eq!(of, client.calls_answered, "{note}");
            checked += 1;
        }
    }
    assert!(checked > 0, "the month plants an R-QA-1 miss");
}

/// The calls of `client` waiting in `[from, to)`, counted from the recorded events alone:
/// (waiting, abandoned, voicemail).
fn waiting_in(
    month: &DemoMonth,
    client: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> (usize, usize, usize) {
    let mut connected: BTreeMap<CallId, DateTime<Utc>> = BTreeMap::new();
    let mut left: BTreeMap<CallId, (DateTime<Utc>, &'static str)> = BTreeMap::new();
    for event in &month.events {
        match event {
            DomainEvent::CallConnected(c) if c.client_id.as_str() == client => {
                connected.insert(c.call_id.clone(), c.at);
            }
            DomainEvent::CallAnswered(c) => {
                left.insert(c.call_id.clone(), (c.at, "answered"));
            }
            DomainEvent::CallAbandoned(c) => {
                left.insert(c.call_id.clone(), (c.at, "abandoned"));
            }
            DomainEvent::CallRoutedToVoicemail(c) => {
                left.insert(c.call_id.clone(), (c.at, "voicemail"));
            }
            _ => {}
        }
    }
    let waiting: Vec<&str> = connected
        .iter()
        .filter_map(|(id, at)| left.get(id).map(|(end, how)| (*at, *end, *how)))
        .filter(|(at, end, _)| *at < to && *end >= from)
        .map(|(_, _, how)| how)
        .collect();
    let count = |how: &str| waiting.iter().filter(|h| **h == how).count();
    (waiting.len(), count("abandoned"), count("voicemail"))
}

#[test]
fn the_outage_note_states_the_calls_the_events_hold() {
    let m = month(1);
    let note = m
        .notes
        .iter()
        .find(|n| n.contains("telecom carrier outage"))
        .unwrap();
    let window = m
        .events
        .iter()
        .find_map(|e| match e {
            DomainEvent::ExcusedWindowOpened(w) if w.cause == ExcuseCause::ForceMajeure => Some(w),
            _ => None,
        })
        .unwrap();
    let closed = m
        .events
        .iter()
        .find_map(|e| match e {
            DomainEvent::ExcusedWindowClosed(c) if c.window_id == window.window_id => Some(c.at),
            _ => None,
        })
        .unwrap();
    for client in m.clients.iter().filter(|c| note.contains(&c.name)) {
        let (waiting, abandoned, voicemail) =
            waiting_in(&m, client.client_id.as_str(), window.at, closed);
        let said = match waiting {
            0 => format!("{} (no call waiting in it)", client.name),
            n => format!(
                "{} ({n} call{} waiting in it: {abandoned} abandoned, {voicemail} to voicemail)",
                client.name,
                if n == 1 { "" } else { "s" }
            ),
        };
        assert!(note.contains(&said), "{said} in {note}");
    }
    assert_eq!(
        m.clients.iter().filter(|c| note.contains(&c.name)).count(),
        2,
        "{note}"
    );
}
