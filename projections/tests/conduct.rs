//! Conduct readings of the rule catalog (issue 16): affiliation [6, 11.5] and account kind
//! [11.8]. Given conduct breaches, when the obligations are reported, then the verdicts and the
//! separate listing the Readings ask for.
//!
//! The client is Professional, 24/7, in New York, onboarded 1 September 2024.

mod support;

use opsledger_domain::agreement::{AccountKind, Coverage, ServiceAgreement, Tier};
use opsledger_domain::events::{
    BreachKind, ConductBreachIdentified, CorrectiveAction, CorrectiveActionTaken, DomainEvent,
};
use opsledger_domain::ids::{AgentId, BreachId, ClientId};
use opsledger_domain::rules::RuleId;
use opsledger_projections::obligations::{ObligationReport, Subject};
use opsledger_projections::verdict::{Shortfall, Unit, Verdict};
use opsledger_projections::{AsOf, Period, Projections};
use support::{agreement, onboard, position, t};

fn acme() -> ClientId {
    ClientId::new("acme").unwrap()
}

fn base() -> ServiceAgreement {
    agreement(
        Tier::Professional,
        Coverage::TwentyFourSeven,
        "America/New_York",
    )
}

/// A breach identified at 14:00 UTC on 8 October and corrected at 18:00 UTC the same day.
fn breach(id: &str, kind: BreachKind) -> [DomainEvent; 2] {
    let breach_id = BreachId::new(id).unwrap();
    let agent_id = AgentId::new("a1").unwrap();
    [
        DomainEvent::ConductBreachIdentified(ConductBreachIdentified {
            client_id: acme(),
            breach_id: breach_id.clone(),
            at: t("2024-10-08T14:00:00Z"),
            agent_id: agent_id.clone(),
            call_id: None,
            kind,
            notes: None,
        }),
        DomainEvent::CorrectiveActionTaken(CorrectiveActionTaken {
            client_id: acme(),
            breach_id,
            at: t("2024-10-08T18:00:00Z"),
            agent_id,
            action: CorrectiveAction::Coaching,
        }),
    ]
}

fn report(agreement: ServiceAgreement, events: Vec<DomainEvent>) -> ObligationReport {
    let start = t("2024-09-01T04:00:00Z");
    let mut all = vec![(start, onboard(&acme(), start, agreement))];
    all.extend(events.into_iter().map(|e| (e.occurred_at(), e)));
    let p = Projections::rebuild(&position(all)).unwrap();
    p.obligation_report(
        &acme(),
        Period {
            from: t("2024-10-01T04:00:00Z"),
            to: t("2024-11-01T04:00:00Z"),
        },
        AsOf::Head,
        t("2024-12-01T00:00:00Z"),
    )
    .unwrap()
}

fn of_breach<'a>(r: &'a ObligationReport, rule: RuleId, id: &str) -> Vec<&'a Verdict> {
    let subject = Subject::Breach {
        breach_id: BreachId::new(id).unwrap(),
    };
    r.obligations
        .iter()
        .filter(|o| o.rule == rule && o.subject == subject)
        .map(|o| &o.verdict)
        .collect()
}

#[test]
fn an_unauthorised_disclosure_is_a_conduct_and_a_greeting_breach() {
    let r = report(
        base(),
        breach("b1", BreachKind::AffiliationDisclosed).to_vec(),
    );
    // R-QA-5: corrected the same business day, so met; the report names that reading.
    let qa5 = of_breach(&r, RuleId::Qa5, "b1");
    assert!(matches!(qa5[..], [Verdict::Met { .. }]), "{qa5:?}");
    let note = r
        .obligations
        .iter()
        .find(|o| o.rule == RuleId::Qa5)
        .and_then(|o| o.note.clone())
        .unwrap_or_default();
    assert!(note.contains("same business day"), "{note}");
    // R-ANS-3: the greeting was breached by the disclosure.
    assert_eq!(
        of_breach(&r, RuleId::Ans3, "b1"),
        vec![&Verdict::Missed {
            by: Shortfall {
                amount: 1,
                unit: Unit::Findings
            },
            met_at: None
        }]
    );
}

#[test]
fn an_authorised_disclosure_is_no_breach_at_all() {
    let mut authorised = base();
    authorised.affiliation_disclosure_authorized = true;
    let r = report(
        authorised,
        breach("b1", BreachKind::AffiliationDisclosed).to_vec(),
    );
    let qa5 = of_breach(&r, RuleId::Qa5, "b1");
    assert!(
        matches!(qa5[..], [Verdict::NotApplicable { ref reason }] if reason.contains("authorises")),
        "{qa5:?}"
    );
    assert!(of_breach(&r, RuleId::Ans3, "b1").is_empty());
    // Other kinds of breach stay breaches under the authorisation.
    let mut authorised = base();
    authorised.affiliation_disclosure_authorized = true;
    let r = report(authorised, breach("b2", BreachKind::OffBrand).to_vec());
    assert!(matches!(
        of_breach(&r, RuleId::Qa5, "b2")[..],
        [Verdict::Met { .. }]
    ));
}

#[test]
fn medical_and_legal_accounts_list_privacy_and_intake_breaches_apart() {
    let mut events = Vec::new();
    events.extend(breach("privacy", BreachKind::Confidentiality));
    events.extend(breach("intake", BreachKind::IntakeProtocol));
    events.extend(breach("brand", BreachKind::OffBrand));
    events.sort_by_key(DomainEvent::occurred_at);
    for kind in [AccountKind::Medical, AccountKind::Legal] {
        let mut a = base();
        a.account_kind = kind;
        let r = report(a, events.clone());
        let listed: Vec<_> = r
            .protocol_findings
            .iter()
            .map(|f| (f.breach_id.as_str(), f.kind, f.account_kind))
            .collect();
        assert_eq!(
            listed,
            vec![
                ("privacy", BreachKind::Confidentiality, kind),
                ("intake", BreachKind::IntakeProtocol, kind),
            ]
        );
        // Each is an R-QA-5 conduct breach, judged as such.
        assert!(r
            .protocol_findings
            .iter()
            .all(|f| matches!(f.verdict, Verdict::Met { .. })));
        assert_eq!(of_breach(&r, RuleId::Qa5, "intake").len(), 1);
    }
    // A general account has no such listing; its breaches are still R-QA-5's.
    let r = report(base(), events);
    assert!(r.protocol_findings.is_empty());
    assert_eq!(of_breach(&r, RuleId::Qa5, "intake").len(), 1);
    let json = serde_json::to_value(&r).unwrap();
    assert!(json.get("protocol_findings").is_none());
}
