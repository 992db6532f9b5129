//! Which value of a rule applied to a client at an instant: the single bitemporal lookup.
//!
//! Precedence, from weakest to strongest: the SOP default; SOP amendments in effect at the
//! instant (a material one never earlier than R-AMD-1's notice after publication); the client's
//! agreement version in force at the instant, which governs over the SOP where it sets a value
//! [3]. Every judgement of a fact asks [`value_at`] with the instant of that fact.

use chrono::{DateTime, Duration, Utc};

use crate::agreement::{AgreementVersion, ServiceAgreement};
use crate::events::SopAmendmentPublished;
use crate::rules::{sop_default, RuleId, RuleValue, SOP_AMENDMENT_NOTICE_DAYS};

/// The history a rule lookup needs for one client: its agreement versions in recorded order,
/// and the agency's SOP amendments in published order.
#[derive(Debug, Clone, Copy)]
pub struct ClientRules<'a> {
    /// Agreement versions (onboarding first, then amendments), in recorded order.
    pub agreements: &'a [AgreementVersion],
    /// SOP amendments, in published order.
    pub sop_amendments: &'a [SopAmendmentPublished],
}

impl<'a> ClientRules<'a> {
    /// The agreement in force at an instant.
    pub fn agreement_at(&self, at: DateTime<Utc>) -> Option<&'a ServiceAgreement> {
        agreement_at(self.agreements, at)
    }

    /// The value of a rule at an instant (see [`value_at`]).
    pub fn value_at(&self, rule: RuleId, at: DateTime<Utc>) -> RuleValue {
        value_at(rule, self, at)
    }
}

/// The agreement in force at an instant: the latest-recorded version whose effective instant
/// is not after `at`. A later amendment therefore supersedes earlier ones from its effective
/// instant on, even when it is backdated. `None` before the first version takes effect.
pub fn agreement_at(
    agreements: &[AgreementVersion],
    at: DateTime<Utc>,
) -> Option<&ServiceAgreement> {
    agreements
        .iter()
        .rev()
        .find(|v| v.effective_at <= at)
        .map(|v| &v.agreement)
}

/// The instant an SOP amendment takes effect: its stated effective instant, but a material
/// change never earlier than R-AMD-1's notice period after it was published and notified.
pub fn sop_amendment_takes_effect_at(amendment: &SopAmendmentPublished) -> DateTime<Utc> {
    if amendment.material {
        let earliest = amendment.at + Duration::days(notice_days_i64());
        amendment.effective_at.max(earliest)
    } else {
        amendment.effective_at
    }
}

fn notice_days_i64() -> i64 {
    i64::try_from(SOP_AMENDMENT_NOTICE_DAYS).expect("a small constant")
}

/// The SOP's own value of a rule at an instant: the default as changed by the SOP amendments in
/// effect then (the one taking effect last wins; ties go to the later published).
pub fn sop_value_at(
    rule: RuleId,
    sop_amendments: &[SopAmendmentPublished],
    at: DateTime<Utc>,
) -> RuleValue {
    let mut best: Option<(DateTime<Utc>, &RuleValue)> = None;
    for amendment in sop_amendments {
        let effective = sop_amendment_takes_effect_at(amendment);
        if effective > at {
            continue;
        }
        if let Some(change) = amendment.changes.iter().rev().find(|c| c.rule == rule) {
            if best.map_or(true, |(when, _)| effective >= when) {
                best = Some((effective, &change.value));
            }
        }
    }
    best.map_or_else(|| sop_default(rule), |(_, v)| v.clone())
}

/// Which value of rule `rule` applied to the client at instant `at`.
pub fn value_at(rule: RuleId, rules: &ClientRules<'_>, at: DateTime<Utc>) -> RuleValue {
    // The catalog defines R-AMD-2 as "see R-BIL-4": one value, two ids.
    let lookup = if rule == RuleId::Amd2 {
        RuleId::Bil4
    } else {
        rule
    };
    if let Some(value) = rules
        .agreement_at(at)
        .and_then(|agreement| agreement.rule_override(lookup))
    {
        return value;
    }
    sop_value_at(lookup, rules.sop_amendments, at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agreement::{
        AccountKind, Coverage, Jurisdiction, RuleOverride, ServiceAgreement, Tier,
    };
    use crate::calendar::BusinessCalendar;
    use crate::ids::{AgreementAmendmentId, SopAmendmentId};
    use crate::money::Currency;
    use chrono::NaiveDate;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn agreement(answer_secs: Option<u64>) -> ServiceAgreement {
        ServiceAgreement {
            tier: Tier::Essential,
            account_kind: AccountKind::Medical,
            jurisdiction: Jurisdiction::Uk,
            calendar: BusinessCalendar::standard(chrono_tz::Europe::London),
            coverage: Coverage::BusinessHours,
            voicemail_enabled: false,
            urgent_call_natures: vec![],
            escalation_chain: vec![],
            documentation_delivery_mins: None,
            non_urgent_digest_interval_mins: None,
            next_contact_after_unreachable_mins: None,
            notice_period_days: None,
            payment_terms_days: None,
            retention_after_termination_days: None,
            additional_languages: vec![],
            affiliation_disclosure_authorized: false,
            rates: vec![],
            currency: Currency::GBP,
            go_live_date: NaiveDate::from_ymd_opt(2024, 1, 1).unwrap(),
            rule_overrides: answer_secs
                .map(|s| RuleOverride {
                    rule: RuleId::Ans1,
                    value: RuleValue::Seconds(s),
                })
                .into_iter()
                .collect(),
        }
    }

    fn version(effective: &str, recorded: &str, secs: Option<u64>) -> AgreementVersion {
        AgreementVersion {
            effective_at: at(effective),
            recorded_at: at(recorded),
            amendment_id: Some(
                AgreementAmendmentId::new(recorded.replace([':', '+'], "")).unwrap(),
            ),
            agreement: agreement(secs),
        }
    }

    #[test]
    fn the_latest_recorded_version_in_effect_governs_even_when_backdated() {
        let versions = [
            version("2024-01-01T00:00:00Z", "2024-01-01T00:00:00Z", None),
            version("2024-03-01T00:00:00Z", "2024-02-01T00:00:00Z", Some(12)),
            // Recorded later, effective earlier: supersedes the March version from February on.
            version("2024-02-15T00:00:00Z", "2024-02-20T00:00:00Z", Some(15)),
        ];
        let rules = ClientRules {
            agreements: &versions,
            sop_amendments: &[],
        };
        assert_eq!(
            rules.value_at(RuleId::Ans1, at("2024-02-01T00:00:00Z")),
            RuleValue::Seconds(8)
        );
        assert_eq!(
            rules.value_at(RuleId::Ans1, at("2024-02-16T00:00:00Z")),
            RuleValue::Seconds(15)
        );
        assert_eq!(
            rules.value_at(RuleId::Ans1, at("2024-04-01T00:00:00Z")),
            RuleValue::Seconds(15)
        );
        assert_eq!(
            rules.value_at(RuleId::Bil5, at("2024-04-01T00:00:00Z")),
            RuleValue::Currency(Currency::GBP)
        );
        // Before any agreement is in force only the SOP applies.
        assert_eq!(
            rules.value_at(RuleId::Bil5, at("2023-12-01T00:00:00Z")),
            RuleValue::Currency(Currency::USD)
        );
    }

    #[test]
    fn a_non_material_sop_change_applies_from_its_effective_instant() {
        let amendment = SopAmendmentPublished {
            amendment_id: SopAmendmentId::new("s1").unwrap(),
            at: at("2024-03-01T00:00:00Z"),
            effective_at: at("2024-03-02T00:00:00Z"),
            material: false,
            changes: vec![RuleOverride {
                rule: RuleId::Qa2,
                value: RuleValue::Hours(12),
            }],
            summary: "faster coaching".to_owned(),
        };
        let sop = [amendment];
        assert_eq!(
            sop_value_at(RuleId::Qa2, &sop, at("2024-03-01T12:00:00Z")),
            RuleValue::Hours(24)
        );
        assert_eq!(
            sop_value_at(RuleId::Qa2, &sop, at("2024-03-02T00:00:00Z")),
            RuleValue::Hours(12)
        );
    }
}
