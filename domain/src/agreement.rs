//! The Service Agreement: tier, account kind, jurisdiction, calendar, coverage, escalation chain,
//! and the agreed values that override SOP defaults per client [3].

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::calendar::{BusinessCalendar, CalendarError};
use crate::ids::AgreementAmendmentId;
use crate::money::{Currency, Money};
use crate::rules::{RuleId, RuleValue};

/// Service tier [11.4, 11.7].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    /// Essential: monthly summary (R-REP-2), no QA summary or quarterly review.
    Essential,
    /// Professional: monthly performance report, QA summary, quarterly review.
    Professional,
    /// Enterprise: as Professional.
    Enterprise,
}

impl Tier {
    /// Whether the tier receives the performance report, QA summary and quarterly review.
    pub fn is_professional_or_enterprise(self) -> bool {
        matches!(self, Tier::Professional | Tier::Enterprise)
    }
}

/// Account kind, which sets the data-handling regime [11.8].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountKind {
    /// General business.
    General,
    /// Medical: patient privacy protocols of the agreement apply.
    Medical,
    /// Legal: caller information is treated as potentially privileged.
    Legal,
}

/// Governing jurisdiction of the engagement [10].
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "code")]
pub enum Jurisdiction {
    /// US client: negotiation, then AAA arbitration.
    Us,
    /// UK client: English law, courts of England and Wales.
    Uk,
    /// Any other, by ISO 3166 country code; Pakistani law by default.
    Other(String),
}

/// Coverage hours of the engagement [11.1, 11.6].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Coverage {
    /// Around the clock, with redundant agents (R-COV-1).
    TwentyFourSeven,
    /// During the business hours of the client's calendar only.
    BusinessHours,
}

/// One contact of the escalation chain [11.3].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EscalationContact {
    /// Position in the chain, 1 first; tiers are strictly increasing down the chain.
    pub tier: u32,
    /// A stable, non-personal reference such as `"on-call-1"`, used by escalation events.
    pub contact_ref: String,
    /// Personal data: the contact's name (`None` once shredded).
    pub name: Option<String>,
    /// Personal data: phone or e-mail (`None` once shredded).
    pub contact: Option<String>,
}

/// A billable rate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rate {
    /// What is billed, e.g. `"monthly_base"` or `"per_call"`.
    pub item: String,
    /// Price per unit.
    pub unit_price: Money,
}

/// An explicit override of one rule's value, agreed in writing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleOverride {
    /// The rule overridden.
    pub rule: RuleId,
    /// Its agreed value.
    pub value: RuleValue,
}

/// A client's Service Agreement as in force from some instant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceAgreement {
    /// The client's name as the agreement states it, for people reading reports (the id is
    /// for machines). Added after the first events were recorded, so it is optional and left
    /// out of the payload when absent: older agreements keep their exact bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_name: Option<String>,
    /// Service tier.
    pub tier: Tier,
    /// Account kind.
    pub account_kind: AccountKind,
    /// Governing jurisdiction.
    pub jurisdiction: Jurisdiction,
    /// The client's business calendar.
    pub calendar: BusinessCalendar,
    /// Coverage hours.
    pub coverage: Coverage,
    /// Whether calls may be routed to voicemail (R-ANS-2).
    pub voicemail_enabled: bool,
    /// Call natures or keywords that the client defines as urgent (R-ESC-1).
    pub urgent_call_natures: Vec<String>,
    /// The escalation chain, tier 1 first (R-ESC-2).
    pub escalation_chain: Vec<EscalationContact>,
    /// Window to deliver documentation to the client's system (R-DOC-2); none means unconfigured.
    pub documentation_delivery_mins: Option<u64>,
    /// Interval at which non-urgent items are delivered (R-ESC-3); none means unconfigured.
    pub non_urgent_digest_interval_mins: Option<u64>,
    /// Minutes to move to the next contact after one is unreachable (R-ESC-2); none: immediate.
    pub next_contact_after_unreachable_mins: Option<u64>,
    /// Termination notice period (R-TRM-1); none means the SOP's 30 days.
    pub notice_period_days: Option<u32>,
    /// Payment terms (R-BIL-2); none means the SOP's 14 days.
    pub payment_terms_days: Option<u32>,
    /// Retention after termination agreed in writing (R-RET-2); none means the SOP's 30 days.
    pub retention_after_termination_days: Option<u32>,
    /// Languages beyond English that calls may be conducted in (R-ANS-4), lowercase tags.
    pub additional_languages: Vec<String>,
    /// Whether the client authorised agents to disclose the agency's name (R-QA-5).
    pub affiliation_disclosure_authorized: bool,
    /// Agreed rates.
    pub rates: Vec<Rate>,
    /// Billing currency (R-BIL-5).
    pub currency: Currency,
    /// The go-live date (client-local).
    pub go_live_date: NaiveDate,
    /// Any further explicit rule overrides; these win over the fields above.
    pub rule_overrides: Vec<RuleOverride>,
}

/// Why an agreement was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AgreementError {
    /// The calendar is invalid.
    #[error("invalid business calendar: {0}")]
    Calendar(#[from] CalendarError),
    /// The escalation chain's tiers are not strictly increasing from 1.
    #[error("R-ESC-2: escalation chain tiers must be strictly increasing from 1, found {0:?}")]
    EscalationTiers(Vec<u32>),
    /// A rate is in another currency than the agreement.
    #[error("R-BIL-5: rate {item:?} is in {found}, the agreement bills in {expected}")]
    RateCurrency {
        /// The rate.
        item: String,
        /// The agreement currency.
        expected: Currency,
        /// The rate currency.
        found: Currency,
    },
}

impl ServiceAgreement {
    /// Checks internal consistency.
    pub fn validate(&self) -> Result<(), AgreementError> {
        self.calendar.validate()?;
        let tiers: Vec<u32> = self.escalation_chain.iter().map(|c| c.tier).collect();
        let increasing =
            tiers.first().map_or(true, |t| *t == 1) && tiers.windows(2).all(|w| w[0] < w[1]);
        if !increasing {
            return Err(AgreementError::EscalationTiers(tiers));
        }
        if let Some(rate) = self
            .rates
            .iter()
            .find(|r| r.unit_price.currency != self.currency)
        {
            return Err(AgreementError::RateCurrency {
                item: rate.item.clone(),
                expected: self.currency,
                found: rate.unit_price.currency,
            });
        }
        Ok(())
    }

    /// The value this agreement sets for a rule, if it sets one.
    ///
    /// Tier and coverage make some rules not applicable; dedicated fields set the rules they
    /// name; explicit overrides win over both, the last one listed winning.
    pub fn rule_override(&self, rule: RuleId) -> Option<RuleValue> {
        if let Some(o) = self.rule_overrides.iter().rev().find(|o| o.rule == rule) {
            return Some(o.value.clone());
        }
        let pro = self.tier.is_professional_or_enterprise();
        match rule {
            RuleId::Rep1 | RuleId::Rep3 | RuleId::Qa4 if !pro => Some(RuleValue::NotApplicable),
            RuleId::Rep2 if pro => Some(RuleValue::NotApplicable),
            RuleId::Cov1 if self.coverage != Coverage::TwentyFourSeven => {
                Some(RuleValue::NotApplicable)
            }
            RuleId::Doc2 => self.documentation_delivery_mins.map(RuleValue::Minutes),
            RuleId::Esc3 => self.non_urgent_digest_interval_mins.map(RuleValue::Minutes),
            RuleId::Esc2 => self
                .next_contact_after_unreachable_mins
                .map(RuleValue::Minutes),
            RuleId::Trm1 => self.notice_period_days.map(|d| RuleValue::Days(d.into())),
            RuleId::Bil2 => self.payment_terms_days.map(|d| RuleValue::Days(d.into())),
            RuleId::Ret2 => self
                .retention_after_termination_days
                .map(|d| RuleValue::Days(d.into())),
            RuleId::Bil5 => Some(RuleValue::Currency(self.currency)),
            RuleId::Ans4 if !self.additional_languages.is_empty() => {
                let mut langs = vec!["en".to_owned()];
                langs.extend(self.additional_languages.iter().cloned());
                Some(RuleValue::Languages(langs))
            }
            _ => None,
        }
    }

    /// The escalation contact at a tier, if the chain has it.
    pub fn contact_at_tier(&self, tier: u32) -> Option<&EscalationContact> {
        self.escalation_chain.iter().find(|c| c.tier == tier)
    }

    /// Whether a call is urgent for R-ESC-1 (the catalog's urgency reading): a call whose
    /// recorded nature is on the client's list of urgent natures is urgent; the agent's
    /// classification may add urgency, never remove it.
    pub fn call_is_urgent(&self, nature: &str, classified_urgent: bool) -> bool {
        classified_urgent || self.is_urgent_nature(nature)
    }

    /// Whether a call nature is urgent under this agreement (case-insensitive exact match).
    pub fn is_urgent_nature(&self, nature: &str) -> bool {
        self.urgent_call_natures
            .iter()
            .any(|n| n.eq_ignore_ascii_case(nature))
    }
}

/// One version of a client's agreement with the instant it took effect.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgreementVersion {
    /// When this version governs from.
    pub effective_at: DateTime<Utc>,
    /// When it was recorded (onboarding or amendment instant).
    pub recorded_at: DateTime<Utc>,
    /// The amendment that introduced it; none for the onboarding agreement.
    pub amendment_id: Option<AgreementAmendmentId>,
    /// The agreement.
    pub agreement: ServiceAgreement,
}
