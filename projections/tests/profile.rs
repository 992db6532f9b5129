//! A client's profile (name and zone) as a basis sees it: the name the agreement in force
//! states, a later amendment's name only from its effective instant and only once recorded.

mod support;

use opsledger_domain::agreement::{Coverage, Tier};
use opsledger_domain::events::{AgreementAmended, DomainEvent};
use opsledger_domain::ids::{AgreementAmendmentId, ClientId};
use opsledger_projections::{AsOf, Projections};
use support::{agreement, onboard, position, t};

#[test]
fn the_profile_names_the_client_as_the_agreement_in_force_does() {
    let client = ClientId::new("acme").unwrap();
    let mut first = agreement(
        Tier::Professional,
        Coverage::TwentyFourSeven,
        "America/New_York",
    );
    first.client_name = Some("Acme Dental".to_owned());
    let mut renamed = first.clone();
    renamed.client_name = Some("Acme Family Dental".to_owned());
    let events = position(vec![
        (
            t("2026-01-01T00:00:00Z"),
            onboard(&client, t("2026-01-01T00:00:00Z"), first),
        ),
        (
            t("2026-02-01T00:00:00Z"),
            DomainEvent::AgreementAmended(AgreementAmended {
                client_id: client.clone(),
                amendment_id: AgreementAmendmentId::new("am-1").unwrap(),
                at: t("2026-02-01T00:00:00Z"),
                effective_at: t("2026-03-01T00:00:00Z"),
                agreement: renamed,
            }),
        ),
    ]);
    let projections = Projections::rebuild(&events).unwrap();

    let before = projections
        .client_profile(&client, AsOf::Head, t("2026-02-15T00:00:00Z"))
        .unwrap();
    assert_eq!(before.display_name(), "Acme Dental");
    assert_eq!(before.time_zone, chrono_tz::America::New_York);
    let after = projections
        .client_profile(&client, AsOf::Head, t("2026-03-15T00:00:00Z"))
        .unwrap();
    assert_eq!(after.display_name(), "Acme Family Dental");
    // As of the onboarding alone, the amendment is not known yet.
    let then = projections
        .client_profile(&client, AsOf::Position(0), t("2026-03-15T00:00:00Z"))
        .unwrap();
    assert_eq!(then.display_name(), "Acme Dental");
    // A client without a name in its agreement is shown by its id.
    let mut unnamed = agreement(Tier::Professional, Coverage::TwentyFourSeven, "UTC");
    unnamed.client_name = None;
    let other = ClientId::new("lab").unwrap();
    let projections = Projections::rebuild(&position(vec![(
        t("2026-01-01T00:00:00Z"),
        onboard(&other, t("2026-01-01T00:00:00Z"), unnamed),
    )]))
    .unwrap();
    let profile = projections
        .client_profile(&other, AsOf::Head, t("2026-01-02T00:00:00Z"))
        .unwrap();
    assert_eq!(profile.display_name(), "lab");
    assert!(projections
        .client_profile(&client, AsOf::Head, t("2026-01-02T00:00:00Z"))
        .is_err());
}
