//! Obligations of quality: reviews and their findings (R-ANS-3/4), R-QA-1 coverage of a month's
//! calls, quality issues (R-QA-2) and conduct breaches (R-QA-5).

use chrono::{DateTime, Utc};
use opsledger_domain::agreement::AccountKind;
use opsledger_domain::deadlines::due_at;
use opsledger_domain::events::{BreachKind, Finding};
use opsledger_domain::rules::{RuleId, RuleValue, BASIS_POINTS_PER_WHOLE};

use super::{Ctx, Obligation, ProtocolFinding, Subject};
use crate::model::{BreachRecord, ClientRecord, ReadModel, RulesView};
use crate::position::{AsOf, Period, YearMonth};
use crate::sla::basis_points;
use crate::verdict::{no_deadline_verdict, Shortfall, Unit, Verdict};

/// The privacy and intake-protocol breaches of a medical or legal account in the obligations.
pub(super) fn protocol_findings(
    model: &ReadModel,
    client: &ClientRecord,
    rules: &RulesView,
    as_of: &AsOf,
    period: Period,
    obligations: &[Obligation],
) -> Vec<ProtocolFinding> {
    client
        .breaches
        .iter()
        .filter_map(|s| model.breaches.get(*s))
        .filter(|b| {
            as_of.sees(&b.issue.identified) && period.contains(b.issue.identified.occurred_at)
        })
        .filter(|b| {
            matches!(
                b.kind,
                BreachKind::Confidentiality | BreachKind::IntakeProtocol
            )
        })
        .filter_map(|b| {
            let at = b.issue.identified.occurred_at;
            let account_kind = rules.agreement_at(at).account_kind;
            if account_kind == AccountKind::General {
                return None;
            }
            let subject = Subject::Breach {
                breach_id: b.issue.id.clone(),
            };
            let verdict = obligations
                .iter()
                .find(|o| o.rule == RuleId::Qa5 && o.subject == subject)?
                .verdict
                .clone();
            Some(ProtocolFinding {
                account_kind,
                breach_id: b.issue.id.clone(),
                kind: b.kind,
                identified_at: at,
                verdict,
            })
        })
        .collect()
}

fn finding_verdict(rule: RuleId, finding: Finding, at: DateTime<Utc>) -> Verdict {
    match finding {
        Finding::Pass => Verdict::Met { met_at: at },
        Finding::Fail => Verdict::Missed {
            by: Shortfall {
                amount: 1,
                unit: Unit::Findings,
            },
            met_at: None,
        },
        Finding::NotApplicable => Verdict::NotApplicable {
            reason: format!("{rule}: the reviewer found it not applicable to this call"),
        },
    }
}

pub(super) fn reviews(ctx: &mut Ctx<'_>) {
    let model = ctx.model;
    let client = ctx.client;
    for slot in &client.reviews {
        let Some(review) = model.reviews.get(*slot) else {
            continue;
        };
        if !ctx.as_of.sees(&review.opened) {
            continue;
        }
        let completed = ctx.seen(review.completed);
        // R-QA-3: client-requested reviews completed within the agreed business days.
        if review.requested_by_client && ctx.in_period(&review.opened) {
            ctx.deadline(
                RuleId::Qa3,
                Subject::Review {
                    review_id: review.review_id.clone(),
                },
                review.opened,
                completed,
            );
        }
        // R-ANS-3 / R-ANS-4: judged by the findings of reviews completed in the period.
        if let (Some(done), Some(findings)) = (completed, review.findings) {
            if ctx.period.contains(done.occurred_at) {
                for (rule, finding) in [
                    (RuleId::Ans3, findings.greeting),
                    (RuleId::Ans4, findings.language),
                ] {
                    let value = ctx.value(rule, done.occurred_at);
                    ctx.push(
                        rule,
                        Subject::Review {
                            review_id: review.review_id.clone(),
                        },
                        None,
                        value,
                        None,
                        finding_verdict(rule, finding, done.occurred_at),
                        &[review.opened, done],
                        Some("judged by the review's QA finding"),
                    );
                }
            }
        }
    }
}

/// R-QA-2 for quality issues and R-QA-5 (with R-ANS-3 where it applies) for conduct breaches
/// identified in the period.
pub(super) fn issues(ctx: &mut Ctx<'_>) {
    let model = ctx.model;
    let client = ctx.client;
    for slot in &client.quality_issues {
        if let Some(i) = model.quality_issues.get(*slot) {
            if ctx.in_period(&i.identified) {
                let subject = Subject::QualityIssue {
                    issue_id: i.id.clone(),
                };
                ctx.deadline(RuleId::Qa2, subject, i.identified, ctx.seen(i.closed));
            }
        }
    }
    for slot in &client.breaches {
        if let Some(b) = model.breaches.get(*slot) {
            if ctx.in_period(&b.issue.identified) {
                breach(ctx, b);
            }
        }
    }
}

/// R-QA-5 for one conduct breach, and R-ANS-3 for a disclosure of the agency's name (the
/// catalog's Readings, "Affiliation [6, 11.5]"): disclosing the agency's name is a conduct breach
/// and a greeting breach unless the agreement in force when it was identified authorises
/// disclosure (`affiliation_disclosure_authorized`); then it is neither, and R-QA-5 is not
/// applicable to it. The greeting breach has no clock: it is missed by the one finding.
fn breach(ctx: &mut Ctx<'_>, b: &BreachRecord) {
    let identified = b.issue.identified;
    let at = identified.occurred_at;
    let subject = || Subject::Breach {
        breach_id: b.issue.id.clone(),
    };
    if b.kind == BreachKind::AffiliationDisclosed {
        if ctx.rules.agreement_at(at).affiliation_disclosure_authorized {
            ctx.push(
                RuleId::Qa5,
                subject(),
                Some(at),
                ctx.value(RuleId::Qa5, at),
                None,
                Verdict::NotApplicable {
                    reason: "R-QA-5: the agreement in force authorises disclosing the agency's name, so the disclosure is no breach".to_owned(),
                },
                &[identified],
                None,
            );
            return;
        }
        ctx.push(
            RuleId::Ans3,
            subject(),
            None,
            ctx.value(RuleId::Ans3, at),
            None,
            Verdict::Missed {
                by: Shortfall {
                    amount: 1,
                    unit: Unit::Findings,
                },
                met_at: None,
            },
            &[identified],
            Some("the agent disclosed the agency's name, which the agreement does not authorise: a greeting breach"),
        );
    }
    ctx.deadline(RuleId::Qa5, subject(), identified, ctx.seen(b.issue.closed));
}

/// R-QA-1 (the catalog's Readings): the month's answered calls reviewed by the deadline of that
/// month's QA summary (R-REP-1's, with which R-QA-4 is delivered; R-REP-2's where R-REP-1 does
/// not apply) count. The verdict is fixed at that deadline: reviews completed later never change
/// it. The base is answered calls, since a call never answered cannot be reviewed.
pub(super) fn month_qa_coverage(ctx: &mut Ctx<'_>, month: YearMonth, bounds: Period) {
    let value = ctx.value(RuleId::Qa1, bounds.to);
    let required = match value {
        RuleValue::BasisPoints(bp) => bp,
        _ => {
            let verdict =
                no_deadline_verdict(RuleId::Qa1, &value).unwrap_or(Verdict::NotComputable {
                    reason: "R-QA-1 needs a share in basis points".to_owned(),
                });
            ctx.push(
                RuleId::Qa1,
                Subject::Month { month },
                Some(bounds.to),
                value,
                None,
                verdict,
                &[],
                None,
            );
            return;
        }
    };
    let calendar = &ctx.rules.agreement_at(bounds.from).calendar;
    let summary_due = [RuleId::Rep1, RuleId::Rep2].into_iter().find_map(|rule| {
        let v = ctx.value(rule, bounds.from);
        due_at(&v, calendar, bounds.from).ok().flatten()
    });
    // Without a report deadline (neither report rule applies) the month end is the moment.
    let judged_at = summary_due.unwrap_or(bounds.to);
    let mut answered: u64 = 0;
    let mut reviewed: u64 = 0;
    let mut evidence = Vec::new();
    for slot in ctx
        .client
        .calls_by_month
        .get(&month)
        .map_or(&[][..], Vec::as_slice)
    {
        let Some(call) = ctx.model.calls.get(*slot) else {
            continue;
        };
        if ctx.as_of.sees(&call.connected) && ctx.as_of.sees_opt(call.answered.as_ref()) {
            answered += 1;
            if let Some(r) = ctx
                .seen(call.reviewed)
                .filter(|r| r.occurred_at <= judged_at)
            {
                reviewed += 1;
                evidence.push(r);
            }
        }
    }
    let achieved = basis_points(reviewed, answered);
    let verdict = if ctx.evaluated_at < judged_at {
        Verdict::Pending {
            due_at: Some(judged_at),
            held_by: Vec::new(),
        }
    } else if reviewed.saturating_mul(BASIS_POINTS_PER_WHOLE) >= required.saturating_mul(answered) {
        Verdict::Met { met_at: judged_at }
    } else {
        Verdict::Missed {
            by: Shortfall {
                amount: required.saturating_sub(achieved.unwrap_or(0)),
                unit: Unit::BasisPoints,
            },
            met_at: None,
        }
    };
    // Reviews are the meeting events here: with any review counted the month has data.
    let verdict = ctx.unless_no_data(RuleId::Qa1, Some(judged_at), reviewed > 0, verdict);
    ctx.push(
        RuleId::Qa1,
        Subject::Month { month },
        Some(bounds.to),
        value,
        Some(judged_at),
        verdict,
        &evidence,
        Some(
            format!(
                "{reviewed} of {answered} answered calls reviewed by the QA summary deadline; unanswered calls cannot be reviewed and are not in the base"
            )
            .as_str(),
        ),
    );
}
