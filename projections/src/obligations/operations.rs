//! Obligations of operations: R-AMD-1 for the agency's SOP amendments.

use opsledger_domain::rules::RuleId;
use opsledger_domain::rules_in_force::sop_amendment_takes_effect_for;

use super::{Ctx, Subject};
use crate::verdict::Verdict;

pub(super) fn sop_amendments(ctx: &mut Ctx<'_>) {
    let amendments: Vec<_> = ctx
        .model
        .sop_amendments
        .iter()
        .filter(|s| ctx.in_period(&s.event))
        .cloned()
        .collect();
    for s in amendments {
        let a = &s.amendment;
        let subject = Subject::SopAmendment {
            amendment_id: a.amendment_id.clone(),
        };
        let value = ctx.value(RuleId::Amd1, a.at);
        if !a.material {
            ctx.push(
                RuleId::Amd1,
                subject,
                Some(a.at),
                value,
                None,
                Verdict::NotApplicable {
                    reason: "R-AMD-1 covers material changes only".to_owned(),
                },
                &[s.event],
                None,
            );
            continue;
        }
        // R-AMD-1 per client: the notice period in force for this client (agreement, then
        // SOP, then default), counted in its local calendar days.
        let applied_from = sop_amendment_takes_effect_for(a, &ctx.rules.client_rules());
        let note = (applied_from != a.effective_at).then(|| {
            format!("stated effective {} is inside the notice period; rules in force apply it from {applied_from}", a.effective_at)
        });
        ctx.push(
            RuleId::Amd1,
            subject,
            Some(a.at),
            value,
            Some(applied_from),
            Verdict::Met {
                met_at: applied_from,
            },
            &[s.event],
            note.as_deref(),
        );
    }
}
