//! Obligations of escalations: R-ESC-2 along the chain and R-ESC-3 for digests of non-urgent items.

use chrono::{DateTime, Duration, Utc};
use opsledger_domain::events::Urgency;
use opsledger_domain::rules::{RuleId, RuleValue};

use super::{Ctx, Subject};
use crate::model::EscalationRecord;
use crate::verdict::{judge_deadline, stamp, Verdict};

pub(super) fn escalations(ctx: &mut Ctx<'_>) {
    let model = ctx.model;
    let client = ctx.client;
    for slot in &client.escalations {
        let Some(esc) = model.escalations.get(*slot) else {
            continue;
        };
        if !ctx.as_of.sees(&esc.opened) {
            continue;
        }
        // R-ESC-2: each unreachable mark in the period, met by an attempt further down the chain.
        for mark in &esc.unreachable {
            if !ctx.in_period(&mark.event) {
                continue;
            }
            let next = esc
                .attempts
                .iter()
                .filter(|a| ctx.as_of.sees(&a.event))
                .find(|a| a.tier > mark.tier && a.event.occurred_at >= mark.event.occurred_at)
                .map(|a| a.event);
            let subject = Subject::Escalation {
                escalation_id: esc.escalation_id.clone(),
                tier: Some(mark.tier),
            };
            // With no tier below the unreachable one in the chain in force, nobody is left to
            // attempt: the chain is exhausted, its own verdict, never a miss growing forever.
            let at = mark.event.occurred_at;
            let exhausted = next.is_none()
                && !ctx
                    .rules
                    .agreement_at(at)
                    .escalation_chain
                    .iter()
                    .any(|c| c.tier > mark.tier);
            if exhausted {
                ctx.push(
                    RuleId::Esc2,
                    subject,
                    Some(at),
                    ctx.value(RuleId::Esc2, at),
                    None,
                    Verdict::ChainExhausted {
                        last_tier: mark.tier,
                    },
                    &[mark.event],
                    None,
                );
                continue;
            }
            ctx.deadline(RuleId::Esc2, subject, mark.event, next);
        }
        // R-ESC-3: a non-urgent item reaches the client in the digest due at the end of the
        // interval it was raised in.
        if esc.urgency == Urgency::NonUrgent && ctx.in_period(&esc.opened) {
            digest_interval(ctx, esc);
        }
    }
}

/// R-ESC-3 for one non-urgent item (the catalog's Readings): intervals of the agreed length
/// are anchored at the onboarding, or at the effective instant of the agreement version in force
/// when that version set another interval; the clock starts when the interval the item was
/// raised in closes, and the digest is due then, within the same tolerance as "immediately"
/// (`RuleValue::Immediate`, 60 s), since compiling it takes a moment. It is met by a digest that
/// lists the item under a period holding the instant it was raised.
fn digest_interval(ctx: &mut Ctx<'_>, esc: &EscalationRecord) {
    let subject = Subject::Escalation {
        escalation_id: esc.escalation_id.clone(),
        tier: None,
    };
    let raised = esc.opened.occurred_at;
    let value = ctx.value(RuleId::Esc3, raised);
    let closes = match value {
        RuleValue::Minutes(mins) => digest_due(ctx, raised, &value, mins),
        _ => None,
    };
    let Some(closes) = closes else {
        // Unconfigured, not applicable, another shape or an interval that cannot be placed:
        // judged by the value alone, as before the Readings.
        ctx.deadline(
            RuleId::Esc3,
            subject,
            esc.opened,
            ctx.seen(esc.digest_covering),
        );
        return;
    };
    let calendar = &ctx.rules.agreement_at(raised).calendar;
    let met = ctx.seen(esc.digest_covering);
    let judged = judge_deadline(
        RuleId::Esc3,
        &RuleValue::Immediate,
        calendar,
        closes,
        met.map(|m| m.occurred_at),
        &ctx.windows,
        ctx.evaluated_at,
    );
    let evidence = [Some(esc.opened), met];
    ctx.record(
        RuleId::Esc3,
        subject,
        Some(closes),
        value,
        judged.due_at,
        judged.verdict,
        &evidence,
        Some(judged.note.unwrap_or_else(|| {
            format!("the interval it was raised in closed at {}", stamp(closes))
        }))
        .as_deref(),
    );
}

/// The instant the R-ESC-3 interval holding `raised` closes, with intervals of `mins` minutes
/// anchored as `digest_interval` says; `None` when the interval is not positive, the anchor
/// lies after the item, or the instant overflows.
fn digest_due(
    ctx: &Ctx<'_>,
    raised: DateTime<Utc>,
    value: &RuleValue,
    mins: u64,
) -> Option<DateTime<Utc>> {
    let onboarded = ctx.client.onboarded.occurred_at;
    let anchor = if ctx.value(RuleId::Esc3, onboarded) == *value {
        onboarded
    } else {
        ctx.rules
            .agreements
            .iter()
            .rev()
            .find(|v| v.effective_at <= raised)
            .map_or(onboarded, |v| v.effective_at)
    };
    let interval = i64::try_from(mins)
        .ok()
        .filter(|m| *m > 0)
        .and_then(Duration::try_minutes)?;
    if anchor > raised {
        return None;
    }
    let elapsed_ms = (raised - anchor).num_milliseconds();
    elapsed_ms
        .checked_div(interval.num_milliseconds())
        .and_then(|k| k.checked_add(1))
        .and_then(|k| interval.checked_mul(i32::try_from(k).ok()?))
        .and_then(|d| anchor.checked_add_signed(d))
}
