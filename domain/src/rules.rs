//! The rule catalog: stable rule ids (`R-ANS-1` …), the typed values a rule can take, and the SOP defaults.
//!
//! The ids are a permanent format: they appear in events, errors, tests and reports, so
//! `as_str` returns exactly the catalog spelling and the serde form is the same string.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::money::Currency;

/// SOP target answer time [11.1] (R-ANS-1).
pub const SOP_ANSWER_TARGET_SECS: u64 = 8;
/// SOP maximum queue time [11.1] (R-ANS-2).
pub const SOP_MAX_QUEUE_SECS: u64 = 45;
/// SOP urgent escalation window [11.3] (R-ESC-1).
pub const SOP_URGENT_ESCALATION_MINS: u64 = 3;
/// What "immediately" allows [11.3] (R-ESC-2, the catalog's Readings): a next-tier attempt
/// within this many seconds of the unreachable mark is immediate.
pub const SOP_IMMEDIATE_TOLERANCE_SECS: u64 = 60;
/// SOP share of calls reviewed per month, in basis points [11.4] (R-QA-1): 10 %.
pub const SOP_REVIEW_SHARE_BASIS_POINTS: u64 = 1_000;
/// SOP window to address a quality issue with the agent [11.4] (R-QA-2).
pub const SOP_QUALITY_ISSUE_HOURS: u64 = 24;
/// SOP window to complete a client-requested review [11.4] (R-QA-3).
pub const SOP_CLIENT_REVIEW_BUSINESS_DAYS: u64 = 2;
/// SOP agents on duty at every instant of a 24/7 account [11.6] (R-COV-1).
pub const SOP_REDUNDANT_AGENTS: u64 = 2;
/// SOP window to communicate an account issue found in business hours [11.7] (R-COM-1).
pub const SOP_ACCOUNT_ISSUE_BUSINESS_HOURS: u64 = 4;
/// SOP business day of the next month for the Professional/Enterprise report [11.7] (R-REP-1).
pub const SOP_PERFORMANCE_REPORT_BUSINESS_DAY: u64 = 5;
/// SOP business day of the next month for the Essential summary [11.7] (R-REP-2).
pub const SOP_SUMMARY_REPORT_BUSINESS_DAY: u64 = 7;
/// SOP minimum retention of call records [11.2] (R-RET-1).
pub const SOP_CALL_RECORD_RETENTION_DAYS: u64 = 90;
/// SOP deletion deadline after termination [9] (R-RET-2).
pub const SOP_DELETION_AFTER_TERMINATION_DAYS: u64 = 30;
/// SOP survival of confidentiality after termination [6] (R-RET-3).
pub const SOP_CONFIDENTIALITY_SURVIVAL_YEARS: u64 = 3;
/// SOP payment terms [5] (R-BIL-2).
pub const SOP_PAYMENT_TERMS_DAYS: u64 = 14;
/// SOP notice before a price change [5] (R-BIL-4, R-AMD-2).
pub const SOP_PRICE_CHANGE_NOTICE_DAYS: u64 = 30;
/// SOP months of fees that cap liability [8] (R-LIA-1).
pub const SOP_LIABILITY_CAP_MONTHS: u64 = 3;
/// SOP termination notice period [9] (R-TRM-1).
pub const SOP_TERMINATION_NOTICE_DAYS: u64 = 30;
/// SOP days past due after which non-payment permits immediate termination [9] (R-TRM-2).
pub const SOP_NON_PAYMENT_TERMINATION_DAYS: u64 = 30;
/// SOP notice before a material SOP change takes effect [12] (R-AMD-1).
pub const SOP_AMENDMENT_NOTICE_DAYS: u64 = 14;

/// Basis points in 100 %.
pub const BASIS_POINTS_PER_WHOLE: u64 = 10_000;

/// A rule of the catalog, by its stable id.
#[allow(missing_docs)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum RuleId {
    #[serde(rename = "R-ANS-1")]
    Ans1,
    #[serde(rename = "R-ANS-2")]
    Ans2,
    #[serde(rename = "R-ANS-3")]
    Ans3,
    #[serde(rename = "R-ANS-4")]
    Ans4,
    #[serde(rename = "R-DOC-1")]
    Doc1,
    #[serde(rename = "R-DOC-2")]
    Doc2,
    #[serde(rename = "R-ESC-1")]
    Esc1,
    #[serde(rename = "R-ESC-2")]
    Esc2,
    #[serde(rename = "R-ESC-3")]
    Esc3,
    #[serde(rename = "R-QA-1")]
    Qa1,
    #[serde(rename = "R-QA-2")]
    Qa2,
    #[serde(rename = "R-QA-3")]
    Qa3,
    #[serde(rename = "R-QA-4")]
    Qa4,
    #[serde(rename = "R-QA-5")]
    Qa5,
    #[serde(rename = "R-COV-1")]
    Cov1,
    #[serde(rename = "R-COM-1")]
    Com1,
    #[serde(rename = "R-REP-1")]
    Rep1,
    #[serde(rename = "R-REP-2")]
    Rep2,
    #[serde(rename = "R-REP-3")]
    Rep3,
    #[serde(rename = "R-RET-1")]
    Ret1,
    #[serde(rename = "R-RET-2")]
    Ret2,
    #[serde(rename = "R-RET-3")]
    Ret3,
    #[serde(rename = "R-RET-4")]
    Ret4,
    #[serde(rename = "R-BIL-1")]
    Bil1,
    #[serde(rename = "R-BIL-2")]
    Bil2,
    #[serde(rename = "R-BIL-3")]
    Bil3,
    #[serde(rename = "R-BIL-4")]
    Bil4,
    #[serde(rename = "R-BIL-5")]
    Bil5,
    #[serde(rename = "R-BIL-6")]
    Bil6,
    #[serde(rename = "R-LIA-1")]
    Lia1,
    #[serde(rename = "R-TRM-1")]
    Trm1,
    #[serde(rename = "R-TRM-2")]
    Trm2,
    #[serde(rename = "R-AMD-1")]
    Amd1,
    #[serde(rename = "R-AMD-2")]
    Amd2,
}

/// A string that is not a rule id of the catalog.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{0:?} is not a rule id of the catalog")]
pub struct UnknownRuleId(pub String);

impl RuleId {
    /// Every rule id of the catalog, in catalog order.
    pub const ALL: [RuleId; 34] = [
        RuleId::Ans1,
        RuleId::Ans2,
        RuleId::Ans3,
        RuleId::Ans4,
        RuleId::Doc1,
        RuleId::Doc2,
        RuleId::Esc1,
        RuleId::Esc2,
        RuleId::Esc3,
        RuleId::Qa1,
        RuleId::Qa2,
        RuleId::Qa3,
        RuleId::Qa4,
        RuleId::Qa5,
        RuleId::Cov1,
        RuleId::Com1,
        RuleId::Rep1,
        RuleId::Rep2,
        RuleId::Rep3,
        RuleId::Ret1,
        RuleId::Ret2,
        RuleId::Ret3,
        RuleId::Ret4,
        RuleId::Bil1,
        RuleId::Bil2,
        RuleId::Bil3,
        RuleId::Bil4,
        RuleId::Bil5,
        RuleId::Bil6,
        RuleId::Lia1,
        RuleId::Trm1,
        RuleId::Trm2,
        RuleId::Amd1,
        RuleId::Amd2,
    ];

    /// The catalog spelling, e.g. `"R-TRM-2"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            RuleId::Ans1 => "R-ANS-1",
            RuleId::Ans2 => "R-ANS-2",
            RuleId::Ans3 => "R-ANS-3",
            RuleId::Ans4 => "R-ANS-4",
            RuleId::Doc1 => "R-DOC-1",
            RuleId::Doc2 => "R-DOC-2",
            RuleId::Esc1 => "R-ESC-1",
            RuleId::Esc2 => "R-ESC-2",
            RuleId::Esc3 => "R-ESC-3",
            RuleId::Qa1 => "R-QA-1",
            RuleId::Qa2 => "R-QA-2",
            RuleId::Qa3 => "R-QA-3",
            RuleId::Qa4 => "R-QA-4",
            RuleId::Qa5 => "R-QA-5",
            RuleId::Cov1 => "R-COV-1",
            RuleId::Com1 => "R-COM-1",
            RuleId::Rep1 => "R-REP-1",
            RuleId::Rep2 => "R-REP-2",
            RuleId::Rep3 => "R-REP-3",
            RuleId::Ret1 => "R-RET-1",
            RuleId::Ret2 => "R-RET-2",
            RuleId::Ret3 => "R-RET-3",
            RuleId::Ret4 => "R-RET-4",
            RuleId::Bil1 => "R-BIL-1",
            RuleId::Bil2 => "R-BIL-2",
            RuleId::Bil3 => "R-BIL-3",
            RuleId::Bil4 => "R-BIL-4",
            RuleId::Bil5 => "R-BIL-5",
            RuleId::Bil6 => "R-BIL-6",
            RuleId::Lia1 => "R-LIA-1",
            RuleId::Trm1 => "R-TRM-1",
            RuleId::Trm2 => "R-TRM-2",
            RuleId::Amd1 => "R-AMD-1",
            RuleId::Amd2 => "R-AMD-2",
        }
    }

    /// The section of the seed Terms and SOP the rule comes from.
    pub const fn seed_section(self) -> &'static str {
        match self {
            RuleId::Ans1 | RuleId::Ans2 | RuleId::Ans3 | RuleId::Ans4 => "11.1",
            RuleId::Doc1 | RuleId::Doc2 | RuleId::Ret1 => "11.2",
            RuleId::Esc1 | RuleId::Esc2 | RuleId::Esc3 => "11.3",
            RuleId::Qa1 | RuleId::Qa2 | RuleId::Qa3 | RuleId::Qa4 => "11.4",
            RuleId::Qa5 => "11.5",
            RuleId::Cov1 => "11.6",
            RuleId::Com1 | RuleId::Rep1 | RuleId::Rep2 | RuleId::Rep3 => "11.7",
            RuleId::Ret2 | RuleId::Trm1 | RuleId::Trm2 => "9",
            RuleId::Ret3 => "6",
            RuleId::Ret4 => "11.8",
            RuleId::Bil1
            | RuleId::Bil2
            | RuleId::Bil3
            | RuleId::Bil4
            | RuleId::Bil5
            | RuleId::Amd2 => "5",
            RuleId::Bil6 => "9",
            RuleId::Lia1 => "8",
            RuleId::Amd1 => "12",
        }
    }
}

impl fmt::Display for RuleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RuleId {
    type Err = UnknownRuleId;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RuleId::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| UnknownRuleId(s.to_owned()))
    }
}

/// The value a rule takes for one client at one instant.
///
/// Each variant carries its unit in its name, so a value can be turned into a deadline without
/// knowing which rule it came from (see `deadlines::due_at`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum RuleValue {
    /// Elapsed seconds after the clock starts.
    Seconds(u64),
    /// Elapsed minutes after the clock starts.
    Minutes(u64),
    /// Elapsed hours after the clock starts.
    Hours(u64),
    /// Client-local calendar days after the clock starts: the same local wall-clock time that
    /// many days later, or for rules worded "within N days" the end of the N-th local day
    /// (`deadlines::rule_due_at`). Never 24-hour blocks: daylight saving moves no deadline.
    Days(u64),
    /// Elapsed years (anniversary in UTC) after the clock starts.
    Years(u64),
    /// Business days of the client's calendar, same local time of day.
    BusinessDays(u64),
    /// Business hours of the client's calendar.
    BusinessHours(u64),
    /// In business hours: this many business hours; after hours: the end of the first
    /// business hour of the next business period (R-COM-1).
    BusinessHoursElseFirstHourOfNextPeriod(u64),
    /// By the end of the Nth business day of the month after the period.
    NthBusinessDayOfNextMonth(u64),
    /// Before the end of the calendar quarter the clock started in.
    WithinCalendarQuarter,
    /// At once: the meeting event must come within [`SOP_IMMEDIATE_TOLERANCE_SECS`] of the
    /// clock start (the catalog's stated tolerance for "immediately"; an agreement that wants
    /// another sets a number of seconds or minutes instead).
    Immediate,
    /// By the end of the business day the clock started on (the next one if after hours).
    SameBusinessDay,
    /// A share, in basis points (1 % = 100).
    BasisPoints(u64),
    /// A number of agents.
    Agents(u64),
    /// Delivered together with the monthly report (R-QA-4).
    WithMonthlyReport,
    /// Issued no later than the first day of the period billed (R-BIL-1).
    NoLaterThanPeriodStart,
    /// A written notice must precede the act (R-BIL-3).
    NoticeMustPrecede,
    /// Issued on or after the termination's effective date (R-BIL-6).
    OnOrAfterTerminationDate,
    /// A cap equal to the fees paid in this many preceding months (R-LIA-1).
    TrailingFeesMonths(u64),
    /// The billing currency (R-BIL-5).
    Currency(Currency),
    /// Languages calls may be conducted in, as lowercase tags (R-ANS-4).
    Languages(Vec<String>),
    /// A standard judged by QA findings or access scoping, with no number to compute.
    Qualitative,
    /// The rule does not apply to this client (e.g. its tier or coverage).
    NotApplicable,
    /// The rule needs an agreement value and the agreement sets none; never silently met.
    Unconfigured,
}

/// The SOP default of a rule, before any SOP amendment or agreement override.
pub fn sop_default(rule: RuleId) -> RuleValue {
    match rule {
        RuleId::Ans1 => RuleValue::Seconds(SOP_ANSWER_TARGET_SECS),
        RuleId::Ans2 => RuleValue::Seconds(SOP_MAX_QUEUE_SECS),
        RuleId::Ans3 | RuleId::Doc1 | RuleId::Ret4 => RuleValue::Qualitative,
        RuleId::Ans4 => RuleValue::Languages(vec!["en".to_owned()]),
        RuleId::Doc2 | RuleId::Esc3 => RuleValue::Unconfigured,
        RuleId::Esc1 => RuleValue::Minutes(SOP_URGENT_ESCALATION_MINS),
        RuleId::Esc2 => RuleValue::Immediate,
        RuleId::Qa5 => RuleValue::SameBusinessDay,
        RuleId::Qa1 => RuleValue::BasisPoints(SOP_REVIEW_SHARE_BASIS_POINTS),
        RuleId::Qa2 => RuleValue::Hours(SOP_QUALITY_ISSUE_HOURS),
        RuleId::Qa3 => RuleValue::BusinessDays(SOP_CLIENT_REVIEW_BUSINESS_DAYS),
        RuleId::Qa4 => RuleValue::WithMonthlyReport,
        RuleId::Cov1 => RuleValue::Agents(SOP_REDUNDANT_AGENTS),
        RuleId::Com1 => {
            RuleValue::BusinessHoursElseFirstHourOfNextPeriod(SOP_ACCOUNT_ISSUE_BUSINESS_HOURS)
        }
        RuleId::Rep1 => RuleValue::NthBusinessDayOfNextMonth(SOP_PERFORMANCE_REPORT_BUSINESS_DAY),
        RuleId::Rep2 => RuleValue::NthBusinessDayOfNextMonth(SOP_SUMMARY_REPORT_BUSINESS_DAY),
        RuleId::Rep3 => RuleValue::WithinCalendarQuarter,
        RuleId::Ret1 => RuleValue::Days(SOP_CALL_RECORD_RETENTION_DAYS),
        RuleId::Ret2 => RuleValue::Days(SOP_DELETION_AFTER_TERMINATION_DAYS),
        RuleId::Ret3 => RuleValue::Years(SOP_CONFIDENTIALITY_SURVIVAL_YEARS),
        RuleId::Bil1 => RuleValue::NoLaterThanPeriodStart,
        RuleId::Bil2 => RuleValue::Days(SOP_PAYMENT_TERMS_DAYS),
        RuleId::Bil3 => RuleValue::NoticeMustPrecede,
        RuleId::Bil4 | RuleId::Amd2 => RuleValue::Days(SOP_PRICE_CHANGE_NOTICE_DAYS),
        RuleId::Bil5 => RuleValue::Currency(Currency::USD),
        RuleId::Bil6 => RuleValue::OnOrAfterTerminationDate,
        RuleId::Lia1 => RuleValue::TrailingFeesMonths(SOP_LIABILITY_CAP_MONTHS),
        RuleId::Trm1 => RuleValue::Days(SOP_TERMINATION_NOTICE_DAYS),
        RuleId::Trm2 => RuleValue::Days(SOP_NON_PAYMENT_TERMINATION_DAYS),
        RuleId::Amd1 => RuleValue::Days(SOP_AMENDMENT_NOTICE_DAYS),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_id_round_trips_through_its_catalog_spelling() {
        for rule in RuleId::ALL {
            assert_eq!(rule.as_str().parse::<RuleId>(), Ok(rule));
            let json = serde_json::to_string(&rule).unwrap();
            assert_eq!(json, format!("\"{}\"", rule.as_str()));
        }
        assert!("R-XYZ-9".parse::<RuleId>().is_err());
    }

    #[test]
    fn every_catalog_id_in_the_spec_is_listed() {
        // The spec's tables are the authority; this list is copied from them by hand.
        let spec = [
            "R-ANS-1", "R-ANS-2", "R-ANS-3", "R-ANS-4", "R-DOC-1", "R-DOC-2", "R-ESC-1", "R-ESC-2",
            "R-ESC-3", "R-QA-1", "R-QA-2", "R-QA-3", "R-QA-4", "R-QA-5", "R-COV-1", "R-COM-1",
            "R-REP-1", "R-REP-2", "R-REP-3", "R-RET-1", "R-RET-2", "R-RET-3", "R-RET-4", "R-BIL-1",
            "R-BIL-2", "R-BIL-3", "R-BIL-4", "R-BIL-5", "R-BIL-6", "R-LIA-1", "R-TRM-1", "R-TRM-2",
            "R-AMD-1", "R-AMD-2",
        ];
        let ours: Vec<&str> = RuleId::ALL.iter().map(|r| r.as_str()).collect();
        assert_eq!(ours, spec);
    }

    #[test]
    fn rule_values_serialize_with_a_kind_tag() {
        let json = serde_json::to_string(&RuleValue::Seconds(8)).unwrap();
        assert_eq!(json, r#"{"kind":"seconds","value":8}"#);
        let json = serde_json::to_string(&RuleValue::Unconfigured).unwrap();
        assert_eq!(json, r#"{"kind":"unconfigured"}"#);
    }
}
