//! Excused windows that the facts themselves open and close (issue 16, the catalog's Readings:
//! "windows come from events"): credentials expiring or revoked until restored, a call-volume
//! change unnotified until the client's notice, and an agency communication awaiting the
//! client's answer, which excuses only the rules it names.
//!
//! The client is Professional, 24/7, in New York, onboarded 1 September 2024. Documentation
//! (R-DOC-2) is due an hour after the call completes.

mod support;

use opsledger_domain::agreement::{Coverage, Tier};
use opsledger_domain::events::{
    CallAnswered, CallClassified, CallCompleted, CallConnected, CallOutcome, ChangeKind,
    CommunicationAnswered, CommunicationSent, CredentialsExpired, CredentialsRestored,
    CredentialsRevoked, DocumentationDelivered, DomainEvent, ExcuseCause, ExcusedWindowOpened,
    SignificantChangeNotified,
};
use opsledger_domain::ids::{
    AgentId, CallId, ChangeId, ClientId, CommunicationId, CredentialId, ExcusedWindowId,
};
use opsledger_domain::rules::RuleId;
use opsledger_projections::obligations::{Obligation, ObligationReport, Subject};
use opsledger_projections::verdict::Verdict;
use opsledger_projections::{AsOf, Period, Projections};
use support::{agreement, onboard, position, t};

fn acme() -> ClientId {
    ClientId::new("acme").unwrap()
}

fn call(id: &str) -> CallId {
    CallId::new(id).unwrap()
}

/// A call connected at `at`, answered after `wait_secs`, completed a minute later, classified
/// as needing documentation.
fn answered_call(id: &str, at: &str, wait_secs: i64) -> Vec<DomainEvent> {
    let at = t(at);
    let picked = at + chrono::Duration::seconds(wait_secs);
    let done = picked + chrono::Duration::minutes(1);
    vec![
        DomainEvent::CallConnected(CallConnected {
            client_id: acme(),
            call_id: call(id),
            at,
            queue: None,
            caller_number: None,
        }),
        DomainEvent::CallAnswered(CallAnswered {
            client_id: acme(),
            call_id: call(id),
            at: picked,
            agent_id: AgentId::new("a1").unwrap(),
        }),
        DomainEvent::CallCompleted(CallCompleted {
            client_id: acme(),
            call_id: call(id),
            at: done,
        }),
        DomainEvent::CallClassified(CallClassified {
            client_id: acme(),
            call_id: call(id),
            at: done,
            nature: "billing question".to_owned(),
            urgent: false,
            outcome: CallOutcome::Action,
        }),
    ]
}

fn delivered(id: &str, at: &str) -> DomainEvent {
    DomainEvent::DocumentationDelivered(DocumentationDelivered {
        client_id: acme(),
        call_id: call(id),
        at: t(at),
        channel: "crm".to_owned(),
    })
}

fn report(events: Vec<DomainEvent>) -> ObligationReport {
    let start = t("2024-09-01T04:00:00Z");
    let mut all = vec![(
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
    let mut events = events;
    events.sort_by_key(DomainEvent::occurred_at);
    all.extend(events.into_iter().map(|e| (e.occurred_at(), e)));
    Projections::rebuild(&position(all))
        .unwrap()
        .obligation_report(
            &acme(),
            Period {
                from: t("2024-10-08T04:00:00Z"),
                to: t("2024-10-09T04:00:00Z"),
            },
            AsOf::Head,
            t("2024-12-01T00:00:00Z"),
        )
        .unwrap()
}

fn find_call<'a>(r: &'a ObligationReport, rule: RuleId, id: &str) -> &'a Obligation {
    r.obligations
        .iter()
        .find(|o| o.rule == rule && o.subject == Subject::Call { call_id: call(id) })
        .unwrap_or_else(|| panic!("no {rule} obligation for {id}"))
}

fn excused_by(v: &Verdict) -> Option<(Vec<String>, String)> {
    match v {
        Verdict::Excused {
            window_ids,
            reading,
        } => Some((
            window_ids.iter().map(|w| w.as_str().to_owned()).collect(),
            reading.clone().unwrap_or_default(),
        )),
        _ => None,
    }
}

/// c1 waits 20 s at 14:10 (R-ANS-1 missed by 12 s), completes 14:11:20; its documentation is
/// due 15:11:20 and delivered 15:30.
fn late_documentation() -> Vec<DomainEvent> {
    let mut events = answered_call("c1", "2024-10-08T14:10:00Z", 20);
    events.push(delivered("c1", "2024-10-08T15:30:00Z"));
    events
}

#[test]
fn expired_credentials_open_a_window_until_restored() {
    let cred = CredentialId::new("crm-1").unwrap();
    let mut events = late_documentation();
    events.push(DomainEvent::CredentialsExpired(CredentialsExpired {
        client_id: acme(),
        credential_id: cred.clone(),
        at: t("2024-10-08T14:00:00Z"),
    }));
    // Revoked as well while expired: still one window.
    events.push(DomainEvent::CredentialsRevoked(CredentialsRevoked {
        client_id: acme(),
        credential_id: cred.clone(),
        at: t("2024-10-08T14:30:00Z"),
    }));
    events.push(DomainEvent::CredentialsRestored(CredentialsRestored {
        client_id: acme(),
        credential_id: cred,
        at: t("2024-10-08T16:00:00Z"),
    }));
    let r = report(events);
    assert_eq!(r.excused_windows.len(), 1, "{:#?}", r.excused_windows);
    let w = &r.excused_windows[0];
    assert_eq!(w.cause, ExcuseCause::MissingCredentials);
    assert_eq!(
        (w.from, w.to),
        (t("2024-10-08T14:00:00Z"), Some(t("2024-10-08T16:00:00Z")))
    );
    // Documentation goes into the client's system: excused by the credentials window.
    let (ids, reading) = excused_by(&find_call(&r, RuleId::Doc2, "c1").verdict)
        .expect("R-DOC-2 excused by the credentials window");
    assert!(ids[0].starts_with("credentials:crm-1:"), "{ids:?}");
    assert!(reading.contains("missing_credentials"), "{reading}");
    // Answering needs no client system: still missed.
    assert!(matches!(
        find_call(&r, RuleId::Ans1, "c1").verdict,
        Verdict::Missed { .. }
    ));
}

#[test]
fn credentials_restored_before_the_deadline_excuse_nothing() {
    let cred = CredentialId::new("crm-1").unwrap();
    let mut events = late_documentation();
    events.push(DomainEvent::CredentialsExpired(CredentialsExpired {
        client_id: acme(),
        credential_id: cred.clone(),
        at: t("2024-10-08T14:00:00Z"),
    }));
    events.push(DomainEvent::CredentialsRestored(CredentialsRestored {
        client_id: acme(),
        credential_id: cred,
        at: t("2024-10-08T14:20:00Z"),
    }));
    let r = report(events);
    assert!(matches!(
        find_call(&r, RuleId::Doc2, "c1").verdict,
        Verdict::Missed { .. }
    ));
}

#[test]
fn a_call_volume_notice_closes_the_unnotified_change_window() {
    let mut events = vec![DomainEvent::ExcusedWindowOpened(ExcusedWindowOpened {
        client_id: acme(),
        window_id: ExcusedWindowId::new("surge").unwrap(),
        at: t("2024-10-08T10:00:00Z"),
        cause: ExcuseCause::UnnotifiedVolumeChange,
        note: None,
    })];
    // While unnotified: a 20 s wait at 11:00 is excused. After the notice at 12:00: missed.
    events.extend(answered_call("before", "2024-10-08T11:00:00Z", 20));
    events.push(DomainEvent::SignificantChangeNotified(
        SignificantChangeNotified {
            client_id: acme(),
            change_id: ChangeId::new("ch-1").unwrap(),
            at: t("2024-10-08T12:00:00Z"),
            kind: ChangeKind::CallVolume,
            effective_at: None,
            details: None,
        },
    ));
    events.extend(answered_call("after", "2024-10-08T12:30:00Z", 20));
    let r = report(events);
    assert_eq!(r.excused_windows[0].to, Some(t("2024-10-08T12:00:00Z")));
    assert!(excused_by(&find_call(&r, RuleId::Ans1, "before").verdict).is_some());
    assert!(matches!(
        find_call(&r, RuleId::Ans1, "after").verdict,
        Verdict::Missed { .. }
    ));
}

fn communication(affects: Vec<RuleId>) -> [DomainEvent; 2] {
    let id = CommunicationId::new("ask-crm-fields").unwrap();
    [
        DomainEvent::CommunicationSent(CommunicationSent {
            client_id: acme(),
            communication_id: id.clone(),
            at: t("2024-10-08T14:00:00Z"),
            affects,
            subject: None,
        }),
        DomainEvent::CommunicationAnswered(CommunicationAnswered {
            client_id: acme(),
            communication_id: id,
            at: t("2024-10-08T16:00:00Z"),
        }),
    ]
}

#[test]
fn awaiting_the_clients_answer_excuses_only_the_rules_the_communication_names() {
    // The agency asked where documentation should go; it depends on the answer.
    let mut events = late_documentation();
    events.extend(communication(vec![RuleId::Doc2]));
    let r = report(events);
    let w = &r.excused_windows[0];
    assert_eq!(w.cause, ExcuseCause::AwaitingClientResponse);
    assert_eq!(w.rules, vec![RuleId::Doc2]);
    let (_, reading) = excused_by(&find_call(&r, RuleId::Doc2, "c1").verdict)
        .expect("R-DOC-2 waits on the answer");
    assert!(
        reading.contains("awaiting_client_response (R-DOC-2)"),
        "{reading}"
    );
    // The same wait excuses nothing the communication did not name.
    assert!(matches!(
        find_call(&r, RuleId::Ans1, "c1").verdict,
        Verdict::Missed { .. }
    ));

    // A communication about something else leaves documentation judged as usual.
    let mut events = late_documentation();
    events.extend(communication(vec![RuleId::Esc1]));
    let r = report(events);
    assert!(matches!(
        find_call(&r, RuleId::Doc2, "c1").verdict,
        Verdict::Missed { .. }
    ));
}

#[test]
fn a_wait_for_the_client_naming_no_rule_excuses_nothing() {
    // `decide` refuses such a window; appended past it, it still excuses nothing.
    let mut events = late_documentation();
    events.push(DomainEvent::ExcusedWindowOpened(ExcusedWindowOpened {
        client_id: acme(),
        window_id: ExcusedWindowId::new("wait").unwrap(),
        at: t("2024-10-08T14:00:00Z"),
        cause: ExcuseCause::AwaitingClientResponse,
        note: None,
    }));
    let r = report(events);
    assert!(matches!(
        find_call(&r, RuleId::Doc2, "c1").verdict,
        Verdict::Missed { .. }
    ));
}
