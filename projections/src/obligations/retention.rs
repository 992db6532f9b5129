//! Obligations of retention: R-RET-1 for deletions, R-RET-2 and R-RET-3 after termination, and the
//! legal holds that suspend them.

use chrono::{DateTime, Utc};
use opsledger_domain::deadlines::{due_at, extended_by_holds, rule_due_at};
use opsledger_domain::events::DeletionScope;
use opsledger_domain::ids::LegalHoldId;
use opsledger_domain::rules::{RuleId, RuleValue};

use super::{deadline_reading, Ctx, Subject};
use crate::model::{ClientRecord, ReadModel};
use crate::position::AsOf;
use crate::verdict::{judge_due, no_deadline_verdict, secs_late, Shortfall, Unit, Verdict};

/// R-RET-1 for deletions in the period, then R-RET-2 and R-RET-3 from the termination taking
/// effect in it.
pub(super) fn retention(ctx: &mut Ctx<'_>) {
    let last_call = last_call_at(ctx);
    deletions(ctx, last_call);
    after_termination(ctx, last_call);
}

/// R-RET-1 for each deletion in the period.
fn deletions(ctx: &mut Ctx<'_>, last_call: Option<DateTime<Utc>>) {
    let client = ctx.client;
    // R-RET-1: no deletion removes call records younger than the minimum.
    let deletions: Vec<_> = client
        .deletions
        .iter()
        .filter(|d| ctx.in_period(&d.event))
        .cloned()
        .collect();
    for d in &deletions {
        let at = d.event.occurred_at;
        let value = ctx.value(RuleId::Ret1, at);
        let newest_removed = match &d.scope {
            DeletionScope::AllClientData => last_call,
            DeletionScope::CallRecordsBefore { before } => Some(*before),
        };
        let verdict = match (newest_removed, &value) {
            (None, _) => Verdict::NotApplicable {
                reason: "no call records were covered".to_owned(),
            },
            (Some(newest), RuleValue::Days(_)) => {
                // Kept at least the days in force, counted in local calendar days.
                let calendar = &ctx.rules.agreement_at(newest).calendar;
                let keep_until = rule_due_at(RuleId::Ret1, &value, calendar, newest)
                    .ok()
                    .flatten();
                match keep_until {
                    Some(k) if at >= k => Verdict::Met { met_at: at },
                    Some(k) => Verdict::Missed {
                        by: Shortfall {
                            amount: secs_late(at, k),
                            unit: Unit::Seconds,
                        },
                        met_at: None,
                    },
                    None => Verdict::NotComputable {
                        reason: "R-RET-1 period out of range".to_owned(),
                    },
                }
            }
            (Some(_), other) => {
                no_deadline_verdict(RuleId::Ret1, other).unwrap_or(Verdict::NotComputable {
                    reason: "R-RET-1 needs days".to_owned(),
                })
            }
        };
        ctx.push(
            RuleId::Ret1,
            Subject::Deletion,
            Some(at),
            value,
            None,
            verdict,
            &[d.event],
            Some("met when every record removed had been kept for the minimum"),
        );
    }
}

/// R-RET-2 and R-RET-3, whose clocks start when the termination takes effect.
fn after_termination(ctx: &mut Ctx<'_>, last_call: Option<DateTime<Utc>>) {
    let Some(terminated) = ctx.termination_in_period() else {
        return;
    };
    let t = terminated.occurred_at;
    // R-RET-2: client data deleted within the agreed days, not before R-RET-1's minimum, and
    // not while a legal hold is active.
    let value = ctx.value(RuleId::Ret2, t);
    let calendar = &ctx.rules.agreement_at(t).calendar;
    let deleted = ctx
        .client
        .deletions
        .iter()
        .find(|d| ctx.as_of.sees(&d.event) && d.scope == DeletionScope::AllClientData)
        .map(|d| d.event);
    // R-RET-1's minimum is computed as its own verdict above computes it (one definition of
    // "kept 90 days", in the calendar in force at the last call).
    let ret1_until = last_call.and_then(|c| {
        let v = ctx.value(RuleId::Ret1, c);
        let calendar = &ctx.rules.agreement_at(c).calendar;
        rule_due_at(RuleId::Ret1, &v, calendar, c).ok().flatten()
    });
    let holds = active_holds(ctx.model, ctx.client, ctx.as_of, ctx.evaluated_at);
    // Holds count up to the deletion, if it happened: one placed after it held nothing.
    let holds_until = deleted.map_or(ctx.evaluated_at, |d| d.occurred_at);
    let hold_times = hold_intervals(ctx.model, ctx.client, ctx.as_of, holds_until);
    let (due, verdict) = match rule_due_at(RuleId::Ret2, &value, calendar, t) {
        Ok(Some(due)) => {
            let due = ret1_until.map_or(due, |r| r.max(due));
            // The time a legal hold was active is added to the deadline; while one is active
            // deletion is refused and the deadline is not known yet.
            let extended = extended_by_holds(calendar, t, due, &hold_times);
            let verdict = if deleted.is_none() && !holds.is_empty() {
                Verdict::Pending {
                    due_at: extended,
                    held_by: holds.iter().map(|h| h.to_string()).collect(),
                }
            } else if let Some(due) = extended {
                judge_due(
                    RuleId::Ret2,
                    due,
                    t,
                    deleted.map(|d| d.occurred_at),
                    &[],
                    ctx.evaluated_at,
                )
                .verdict
            } else {
                // The data was deleted while a hold was active (the domain refuses this).
                Verdict::Missed {
                    by: Shortfall {
                        amount: 1,
                        unit: Unit::Findings,
                    },
                    met_at: deleted.map(|d| d.occurred_at),
                }
            };
            (extended, verdict)
        }
        _ => (
            None,
            no_deadline_verdict(RuleId::Ret2, &value).unwrap_or(Verdict::NotComputable {
                reason: "R-RET-2 needs days".to_owned(),
            }),
        ),
    };
    // Which readings applied: local calendar days, and legal holds extending the deadline.
    let mut ret2_note = deadline_reading(RuleId::Ret2, &value)
        .unwrap_or_default()
        .to_owned();
    if !hold_times.is_empty() {
        ret2_note.push_str(&format!(
            "; extended by the time {} legal hold(s) were active after the termination (a hold suspends the deadline)",
            hold_times.len()
        ));
    }
    let mut evidence = vec![terminated];
    evidence.extend(deleted);
    ctx.push(
        RuleId::Ret2,
        Subject::Termination,
        Some(t),
        value,
        due,
        verdict,
        &evidence,
        Some(ret2_note.as_str()),
    );
    // R-RET-3: an obligation in force for a span, not a deadline.
    let value = ctx.value(RuleId::Ret3, t);
    let until = due_at(&value, calendar, t).ok().flatten();
    ctx.push(
        RuleId::Ret3,
        Subject::Termination,
        Some(t),
        value,
        until,
        Verdict::NotComputable {
            reason: "confidentiality survives until the due instant; breaches surface as R-QA-5 confidentiality findings".to_owned(),
        },
        &[terminated],
        None,
    );
}

/// When the client's last call occurred (R-RET-1 counts from it), as the basis sees the log.
///
/// "Last" is by occurred time, not by log position: an import of older calls recorded after
/// newer ones must not move the deadline back. Calls are bucketed by month, so the latest
/// call is in the latest month holding a seen call; the month before it is read too, because
/// a bucket is a client-local month and a change of zone can move its edge by up to a day.
pub(super) fn last_call_at(ctx: &Ctx<'_>) -> Option<DateTime<Utc>> {
    let mut months_with_calls = ctx
        .client
        .calls_by_month
        .values()
        .rev()
        .filter_map(|slots| {
            slots
                .iter()
                .filter_map(|s| ctx.model.calls.get(*s))
                .filter(|c| ctx.as_of.sees(&c.connected))
                .map(|c| c.connected.occurred_at)
                .max()
        });
    let latest_month = months_with_calls.next()?;
    Some(
        months_with_calls
            .next()
            .map_or(latest_month, |before| latest_month.max(before)),
    )
}

/// Every legal hold of the client as `(placed, released)` intervals, as a basis sees them at an
/// instant (a release not yet seen, or later than `at`, leaves the hold open).
pub(crate) fn hold_intervals(
    model: &ReadModel,
    client: &ClientRecord,
    as_of: &AsOf,
    at: DateTime<Utc>,
) -> Vec<(DateTime<Utc>, Option<DateTime<Utc>>)> {
    client
        .legal_holds
        .iter()
        .filter_map(|s| model.legal_holds.get(*s))
        .filter(|h| as_of.sees(&h.placed) && h.placed.occurred_at <= at)
        .map(|h| {
            let released = h
                .released
                .filter(|r| as_of.sees(r) && r.occurred_at <= at)
                .map(|r| r.occurred_at);
            (h.placed.occurred_at, released)
        })
        .collect()
}

/// Legal holds placed and not released, as a basis sees them at an instant.
pub(crate) fn active_holds(
    model: &ReadModel,
    client: &ClientRecord,
    as_of: &AsOf,
    at: DateTime<Utc>,
) -> Vec<LegalHoldId> {
    client
        .legal_holds
        .iter()
        .filter_map(|s| model.legal_holds.get(*s))
        .filter(|h| as_of.sees(&h.placed) && h.placed.occurred_at <= at)
        .filter(|h| {
            !h.released
                .is_some_and(|r| as_of.sees(&r) && r.occurred_at <= at)
        })
        .map(|h| h.hold_id.clone())
        .collect()
}
