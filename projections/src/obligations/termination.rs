//! Obligations of termination: notices (R-TRM-1) and immediate termination (R-TRM-2).

use opsledger_domain::events::ImmediateCause;
use opsledger_domain::rules::{RuleId, RuleValue};

use super::{notice_period, settled_by, Ctx, Subject};
use crate::position::AsOf;
use crate::verdict::{Shortfall, Unit, Verdict};

/// R-TRM-1 for termination notices and R-TRM-2 for immediate terminations given in the period.
pub(super) fn termination(ctx: &mut Ctx<'_>) {
    let model = ctx.model;
    let client = ctx.client;
    let notices: Vec<_> = client
        .termination_notices
        .iter()
        .filter(|n| ctx.in_period(&n.event))
        .cloned()
        .collect();
    for n in notices {
        notice_period(
            ctx,
            RuleId::Trm1,
            Subject::TerminationNotice,
            n.event,
            n.effective_at,
        );
    }
    // R-TRM-2: an immediate termination citing non-payment needs a cited invoice unpaid beyond
    // the rule's days past its due date; the other causes are recorded citations.
    let immediates: Vec<_> = client
        .immediate_terminations
        .iter()
        .filter(|i| ctx.in_period(&i.event))
        .cloned()
        .collect();
    for imm in immediates {
        let at = imm.event.occurred_at;
        let value = ctx.value(RuleId::Trm2, at);
        let calendar = &ctx.rules.agreement_at(at).calendar;
        let (verdict, note) = match (&imm.cause, &value) {
            (ImmediateCause::NonPayment { invoice_ids }, RuleValue::Days(days)) => {
                let today = calendar.local_date(at);
                let qualifying = invoice_ids.iter().any(|id| {
                    model.invoices.by_key(id).is_some_and(|inv| {
                        let open = settled_by(inv, &AsOf::Position(imm.event.position)).is_none();
                        let past_due = (today - inv.due_date).num_days();
                        open && u64::try_from(past_due).is_ok_and(|d| d > *days)
                    })
                });
                if qualifying {
                    (Verdict::Met { met_at: at }, None)
                } else {
                    (
                        Verdict::Missed {
                            by: Shortfall {
                                amount: 1,
                                unit: Unit::Findings,
                            },
                            met_at: None,
                        },
                        Some("no cited invoice was unpaid beyond the permitted days past due"),
                    )
                }
            }
            _ => (
                Verdict::Met { met_at: at },
                Some("cause cited; conduct causes are not verifiable from events"),
            ),
        };
        ctx.push(
            RuleId::Trm2,
            Subject::ImmediateTermination,
            Some(at),
            value,
            None,
            verdict,
            &[imm.event],
            note,
        );
    }
}
