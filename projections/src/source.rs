//! Where a rule value in force came from: the SOP default, an SOP amendment, or the client's agreement version (onboarding or amendment), with the event that recorded it.
//!
//! The obligations keep the value in force but not its origin, and a dispute needs both: "3 min,
//! because the amendment recorded at position 812 set it". This module answers the same lookup
//! as `domain::rules_in_force::value_at`, with the same precedence (the agreement version in
//! force governs where it sets a value, else the SOP amendment taking effect last for this
//! client, else the SOP default), over the agreement versions and amendments the basis sees, and
//! names the record that decided it.

use chrono::{DateTime, Utc};
use opsledger_domain::ids::{AgreementAmendmentId, SopAmendmentId};
use opsledger_domain::rules::RuleId;
use opsledger_domain::rules_in_force::sop_amendment_takes_effect_for;
use serde::{Deserialize, Serialize};

use crate::model::{ClientRecord, ReadModel};
use crate::position::{AsOf, EventRef};

/// The origin of the value of a rule in force at an instant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "source")]
pub enum ValueSource {
    /// No agreement version or SOP amendment sets it: the catalog's default applies.
    SopDefault,
    /// An SOP amendment in effect for the client at the instant changed it.
    SopAmendment {
        /// The amendment.
        amendment_id: SopAmendmentId,
        /// Its publication event.
        event: EventRef,
        /// When it took effect for this client (after its R-AMD-1 notice when material).
        takes_effect_at: DateTime<Utc>,
    },
    /// The agreement version in force at the instant sets it.
    Agreement {
        /// The amendment that introduced the version; `None` for the onboarding agreement.
        amendment_id: Option<AgreementAmendmentId>,
        /// The onboarding or amendment event.
        event: EventRef,
        /// When the version governs from.
        effective_at: DateTime<Utc>,
        /// Whether an explicit entry of the agreement's `rule_overrides` sets it, rather than
        /// its terms (tier, coverage or a dedicated field such as the payment terms).
        explicit_override: bool,
    },
}

/// Where the value of `rule` in force for `client` at `at` came from, as `as_of` sees the log.
///
/// It mirrors `domain::rules_in_force::value_at` step for step, so the source named is the one
/// whose value the obligations judged with.
pub fn value_source(
    model: &ReadModel,
    client: &ClientRecord,
    as_of: &AsOf,
    rule: RuleId,
    at: DateTime<Utc>,
) -> ValueSource {
    // The catalog defines R-AMD-2 as "see R-BIL-4": one value, two ids.
    let lookup = if rule == RuleId::Amd2 {
        RuleId::Bil4
    } else {
        rule
    };
    let seen: Vec<_> = client
        .agreements
        .iter()
        .filter(|a| as_of.sees(&a.event))
        .collect();
    // The latest-recorded version in effect at the instant governs (see `agreement_at`).
    if let Some(record) = seen.iter().rev().find(|a| a.version.effective_at <= at) {
        if record.version.agreement.rule_override(lookup).is_some() {
            return ValueSource::Agreement {
                amendment_id: record.version.amendment_id.clone(),
                event: record.event,
                effective_at: record.version.effective_at,
                explicit_override: record
                    .version
                    .agreement
                    .rule_overrides
                    .iter()
                    .any(|o| o.rule == lookup),
            };
        }
    }
    let rules = model.rules_view(client, as_of);
    let client_rules = rules.client_rules();
    let mut best: Option<(DateTime<Utc>, &crate::model::SopRecord)> = None;
    for record in model.sop_amendments.iter().filter(|s| as_of.sees(&s.event)) {
        let effective = sop_amendment_takes_effect_for(&record.amendment, &client_rules);
        if effective > at || !record.amendment.changes.iter().any(|c| c.rule == lookup) {
            continue;
        }
        // The one taking effect last wins; ties go to the later published, as in `value_at`.
        if best.map_or(true, |(when, _)| effective >= when) {
            best = Some((effective, record));
        }
    }
    match best {
        Some((takes_effect_at, record)) => ValueSource::SopAmendment {
            amendment_id: record.amendment.amendment_id.clone(),
            event: record.event,
            takes_effect_at,
        },
        None => ValueSource::SopDefault,
    }
}
