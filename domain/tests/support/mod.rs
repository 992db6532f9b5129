//! Given/when/then helpers and fixtures shared by the scenario tests.
#![allow(dead_code)]

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::America::New_York;
use opsledger_domain::agreement::{
    AccountKind, Coverage, EscalationContact, Jurisdiction, Rate, ServiceAgreement, Tier,
};
use opsledger_domain::calendar::BusinessCalendar;
use opsledger_domain::command::{Command, IssueInvoice};
use opsledger_domain::decide::decide;
use opsledger_domain::error::DomainError;
use opsledger_domain::events::{
    CallAnswered, CallCompleted, CallConnected, ClientOnboarded, DomainEvent, InvoiceIssued,
    InvoiceLine,
};
use opsledger_domain::ids::{AgentId, CallId, ClientId, InvoiceId};
use opsledger_domain::money::{Currency, Money};
use opsledger_domain::rules::{RuleId, RuleValue};
use opsledger_domain::rules_in_force::value_at;
use opsledger_domain::state::LedgerState;

pub fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

pub fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

pub fn client() -> ClientId {
    ClientId::new("acme").unwrap()
}

pub fn other_client() -> ClientId {
    ClientId::new("globex").unwrap()
}

pub fn call(id: &str) -> CallId {
    CallId::new(id).unwrap()
}

pub fn agent(id: &str) -> AgentId {
    AgentId::new(id).unwrap()
}

pub fn usd(minor: i64) -> Money {
    Money::new(minor, Currency::USD)
}

pub fn agreement(tier: Tier) -> ServiceAgreement {
    ServiceAgreement {
        client_name: None,
        tier,
        account_kind: AccountKind::General,
        jurisdiction: Jurisdiction::Us,
        calendar: BusinessCalendar::standard(New_York),
        coverage: Coverage::TwentyFourSeven,
        voicemail_enabled: true,
        urgent_call_natures: vec!["burst pipe".to_owned()],
        escalation_chain: vec![
            EscalationContact {
                tier: 1,
                contact_ref: "on-call-1".to_owned(),
                name: Some("Pat Doe".to_owned()),
                contact: Some("+1 555 0100".to_owned()),
            },
            EscalationContact {
                tier: 2,
                contact_ref: "manager".to_owned(),
                name: Some("Sam Roe".to_owned()),
                contact: Some("+1 555 0101".to_owned()),
            },
        ],
        documentation_delivery_mins: Some(60),
        non_urgent_digest_interval_mins: Some(240),
        next_contact_after_unreachable_mins: None,
        notice_period_days: None,
        payment_terms_days: None,
        retention_after_termination_days: None,
        additional_languages: vec![],
        affiliation_disclosure_authorized: false,
        rates: vec![Rate {
            item: "monthly_base".to_owned(),
            unit_price: usd(100_000),
        }],
        currency: Currency::USD,
        go_live_date: d(2024, 1, 2),
        rule_overrides: vec![],
    }
}

pub const ONBOARDED: &str = "2024-01-01T00:00:00Z";

pub fn onboarded_with(client_id: ClientId, agreement: ServiceAgreement) -> DomainEvent {
    ClientOnboarded {
        client_id,
        at: t(ONBOARDED),
        agreement,
    }
    .into()
}

pub fn onboarded(tier: Tier) -> DomainEvent {
    onboarded_with(client(), agreement(tier))
}

pub fn connected(id: &str, at: &str) -> DomainEvent {
    CallConnected {
        client_id: client(),
        call_id: call(id),
        at: t(at),
        queue: Some("main".to_owned()),
        caller_number: Some("+1 555 0199".to_owned()),
    }
    .into()
}

pub fn answered(id: &str, at: &str) -> DomainEvent {
    CallAnswered {
        client_id: client(),
        call_id: call(id),
        at: t(at),
        agent_id: agent("a1"),
    }
    .into()
}

pub fn completed(id: &str, at: &str) -> DomainEvent {
    CallCompleted {
        client_id: client(),
        call_id: call(id),
        at: t(at),
    }
    .into()
}

/// A monthly invoice with one line, issued at `at`, due on `due`.
pub fn invoice(
    id: &str,
    at: &str,
    invoice_date: NaiveDate,
    due: NaiveDate,
    amount_minor: i64,
) -> DomainEvent {
    InvoiceIssued {
        client_id: client(),
        invoice_id: InvoiceId::new(id).unwrap(),
        at: t(at),
        invoice_date,
        period_start: invoice_date,
        period_end: invoice_date,
        lines: vec![InvoiceLine {
            description: "monthly base".to_owned(),
            quantity: 1,
            unit_price: usd(amount_minor),
            amount: usd(amount_minor),
        }],
        total: usd(amount_minor),
        due_date: due,
        final_invoice: false,
    }
    .into()
}

pub fn issue_invoice_command(
    id: &str,
    at: &str,
    invoice_date: NaiveDate,
    amount: Money,
) -> IssueInvoice {
    IssueInvoice {
        client_id: client(),
        invoice_id: InvoiceId::new(id).unwrap(),
        at: t(at),
        invoice_date,
        period_start: invoice_date,
        period_end: invoice_date,
        lines: vec![InvoiceLine {
            description: "monthly base".to_owned(),
            quantity: 1,
            unit_price: amount,
            amount,
        }],
        total: amount,
        due_date: None,
        final_invoice: false,
    }
}

/// A history, ready for a command or a rule question.
pub struct Given {
    pub state: LedgerState,
    pub history: Vec<DomainEvent>,
}

pub fn given(events: impl IntoIterator<Item = DomainEvent>) -> Given {
    let history: Vec<DomainEvent> = events.into_iter().collect();
    Given {
        state: LedgerState::from_events(&history),
        history,
    }
}

impl Given {
    /// Decides a command; on success the events are folded in so scenarios can chain.
    pub fn when(&mut self, command: Command) -> Result<Vec<DomainEvent>, DomainError> {
        let events = decide(&self.state, command)?;
        for e in &events {
            self.state.apply(e);
            self.history.push(e.clone());
        }
        Ok(events)
    }

    /// Decides a command that must succeed.
    pub fn ok(&mut self, command: Command) -> Vec<DomainEvent> {
        match self.when(command) {
            Ok(events) => events,
            Err(e) => panic!("expected success, got: {e}"),
        }
    }

    /// Decides a command that must be refused by `rule`, returning the message.
    pub fn refused_by(&mut self, rule: RuleId, command: Command) -> String {
        match self.when(command) {
            Ok(events) => panic!("expected {rule} to refuse, got {events:?}"),
            Err(e) => {
                assert_eq!(e.rule(), Some(rule), "unexpected refusal: {e}");
                let message = e.to_string();
                assert!(
                    message.starts_with(rule.as_str()),
                    "message must name the rule: {message}"
                );
                message
            }
        }
    }

    /// The value of a rule for the default client at an instant.
    pub fn value(&self, rule: RuleId, at: &str) -> RuleValue {
        let rules = self
            .state
            .client_rules(&client())
            .expect("client onboarded");
        value_at(rule, &rules, t(at))
    }

    /// The default client's calendar in force at an instant.
    pub fn calendar(&self, at: &str) -> BusinessCalendar {
        self.state.clients[&client()]
            .agreement_or_first(t(at))
            .calendar
            .clone()
    }
}
