//! An invoice is settled only by payments in its own currency: a payment of the same number of
//! minor units in another currency leaves R-BIL-2 unmet (a review found they were summed).

mod support;

use opsledger_domain::agreement::{Coverage, Tier};
use opsledger_domain::events::{DomainEvent, InvoiceIssued, PaymentReceived};
use opsledger_domain::ids::{ClientId, InvoiceId, PaymentId};
use opsledger_domain::money::{Currency, Money};
use opsledger_domain::rules::RuleId;
use opsledger_projections::verdict::Verdict;
use opsledger_projections::{AsOf, Period, Projections};
use support::{agreement, d, onboard, position, t};

fn acme() -> ClientId {
    ClientId::new("acme").unwrap()
}

fn payment(id: &str, currency: Currency, at: &str) -> DomainEvent {
    DomainEvent::PaymentReceived(PaymentReceived {
        client_id: acme(),
        invoice_id: InvoiceId::new("inv-1").unwrap(),
        payment_id: PaymentId::new(id).unwrap(),
        at: t(at),
        amount: Money::new(100_000, currency),
        excess_as_credit: false,
    })
}

fn bil2_verdict(payments: Vec<DomainEvent>) -> Verdict {
    let start = t("2024-09-01T04:00:00Z");
    let mut log = vec![
        (
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
        ),
        (
            t("2024-09-02T14:00:00Z"),
            DomainEvent::InvoiceIssued(InvoiceIssued {
                client_id: acme(),
                invoice_id: InvoiceId::new("inv-1").unwrap(),
                at: t("2024-09-02T14:00:00Z"),
                invoice_date: d(2024, 9, 2),
                period_start: d(2024, 9, 1),
                period_end: d(2024, 9, 30),
                lines: vec![],
                total: Money::new(100_000, Currency::USD),
                due_date: d(2024, 9, 16),
                final_invoice: false,
            }),
        ),
    ];
    log.extend(payments.into_iter().map(|p| (p.occurred_at(), p)));
    let projections = Projections::rebuild(&position(log)).unwrap();
    let report = projections
        .obligation_report(
            &acme(),
            Period {
                from: t("2024-09-01T04:00:00Z"),
                to: t("2024-10-01T04:00:00Z"),
            },
            AsOf::Head,
            t("2024-10-01T00:00:00Z"),
        )
        .unwrap();
    let bil2: Vec<_> = report
        .obligations
        .iter()
        .filter(|o| o.rule == RuleId::Bil2)
        .collect();
    assert_eq!(bil2.len(), 1, "{bil2:#?}");
    bil2[0].verdict.clone()
}

#[test]
fn a_payment_in_another_currency_does_not_settle_the_invoice() {
    let pounds = bil2_verdict(vec![payment(
        "p-gbp",
        Currency::GBP,
        "2024-09-10T14:00:00Z",
    )]);
    assert!(matches!(pounds, Verdict::Missed { .. }), "{pounds:?}");

    let dollars = bil2_verdict(vec![payment(
        "p-usd",
        Currency::USD,
        "2024-09-10T14:00:00Z",
    )]);
    assert!(matches!(dollars, Verdict::Met { .. }), "{dollars:?}");
}
