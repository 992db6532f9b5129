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

/// R-AMD-1's notice period in days, the one place `decide` and the rules in force read it from
/// (the catalog's Readings): the agreement in force for the client at the notice, when it sets
/// one; else the SOP's own value, as changed by SOP amendments of R-AMD-1 itself in effect at
/// the notice (from their stated instant: a change of the notice period cannot wait for its own
/// notice); else the default. `agreement` is `None` for the agency-wide SOP floor.
pub fn amendment_notice_days(
    agreement: Option<&ServiceAgreement>,
    sop_amendments: &[SopAmendmentPublished],
    at: DateTime<Utc>,
) -> u64 {
    if let Some(RuleValue::Days(n)) = agreement.and_then(|a| a.rule_override(RuleId::Amd1)) {
        return n;
    }
    let mut best: Option<(DateTime<Utc>, u64)> = None;
    for amendment in sop_amendments.iter().filter(|a| a.effective_at <= at) {
        let change = amendment
            .changes
            .iter()
            .rev()
            .find(|c| c.rule == RuleId::Amd1);
        if let Some(RuleValue::Days(n)) = change.map(|c| &c.value) {
            if best.map_or(true, |(when, _)| amendment.effective_at >= when) {
                best = Some((amendment.effective_at, *n));
            }
        }
    }
    best.map_or(SOP_AMENDMENT_NOTICE_DAYS, |(_, n)| n)
}

/// The instant an SOP amendment takes effect for everyone: its stated effective instant, but a
/// material change never earlier than the SOP's own R-AMD-1 notice after it was published. This
/// is the agency-wide floor `decide` holds a publication to; each client's own instant is
/// [`sop_amendment_takes_effect_for`].
pub fn sop_amendment_takes_effect_at(amendment: &SopAmendmentPublished) -> DateTime<Utc> {
    takes_effect(amendment, None, &[])
}

/// As [`sop_amendment_takes_effect_at`], with the SOP's own R-AMD-1 period as changed by the
/// amendments already published (`decide` holds a new publication to this floor).
pub fn sop_amendment_floor(
    amendment: &SopAmendmentPublished,
    sop_amendments: &[SopAmendmentPublished],
) -> DateTime<Utc> {
    takes_effect(amendment, None, sop_amendments)
}

/// The instant an SOP amendment takes effect for one client: a material change never earlier
/// than that client's R-AMD-1 notice period ([`amendment_notice_days`]) after it was published
/// and notified, counted in the client's local calendar days.
pub fn sop_amendment_takes_effect_for(
    amendment: &SopAmendmentPublished,
    rules: &ClientRules<'_>,
) -> DateTime<Utc> {
    // A client not yet onboarded when notified is held to its first agreement's terms.
    let agreement = rules
        .agreement_at(amendment.at)
        .or_else(|| rules.agreements.first().map(|v| &v.agreement));
    takes_effect(amendment, agreement, rules.sop_amendments)
}

fn takes_effect(
    amendment: &SopAmendmentPublished,
    agreement: Option<&ServiceAgreement>,
    sop_amendments: &[SopAmendmentPublished],
) -> DateTime<Utc> {
    if !amendment.material {
        return amendment.effective_at;
    }
    let days = amendment_notice_days(agreement, sop_amendments, amendment.at);
    let earliest = match agreement {
        Some(a) => a.calendar.add_local_days(amendment.at, days).ok(),
        // The agency itself has no calendar: its floor counts days in UTC.
        None => i64::try_from(days)
            .ok()
            .and_then(Duration::try_days)
            .and_then(|d| amendment.at.checked_add_signed(d)),
    };
    earliest.map_or(amendment.effective_at, |e| amendment.effective_at.max(e))
}

/// The SOP's own value of a rule at an instant: the default as changed by the SOP amendments in
/// effect then (the one taking effect last wins; ties go to the later published), each taking
/// effect at the instant `effect` gives it.
fn sop_value_with(
    rule: RuleId,
    sop_amendments: &[SopAmendmentPublished],
    at: DateTime<Utc>,
    effect: impl Fn(&SopAmendmentPublished) -> DateTime<Utc>,
) -> RuleValue {
    let mut best: Option<(DateTime<Utc>, &RuleValue)> = None;
    for amendment in sop_amendments {
        let effective = effect(amendment);
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

/// The SOP's own value of a rule at an instant, agency-wide (amendments from the SOP floor).
pub fn sop_value_at(
    rule: RuleId,
    sop_amendments: &[SopAmendmentPublished],
    at: DateTime<Utc>,
) -> RuleValue {
    sop_value_with(rule, sop_amendments, at, sop_amendment_takes_effect_at)
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
    // Each SOP amendment applies to this client from its own R-AMD-1 notice on.
    sop_value_with(lookup, rules.sop_amendments, at, |a| {
        sop_amendment_takes_effect_for(a, rules)
    })
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
            client_name: None,
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
