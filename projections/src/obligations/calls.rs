//! Obligations of calls: R-ANS-1/2 from the queue, R-DOC-1/2 from documentation and R-ESC-1 for
//! urgent calls.

use opsledger_domain::deadlines::due_at;
use opsledger_domain::rules::RuleId;

use super::{Ctx, Lazy, MakeSubject, Subject};
use crate::position::EventRef;
use crate::report::months_in;
use crate::verdict::{judge_due, no_deadline_verdict, Shortfall, Unit, Verdict};

pub(super) fn calls(ctx: &mut Ctx<'_>) {
    let model = ctx.model;
    let client = ctx.client;
    let months = months_in(ctx.rules, ctx.period);
    let mut slots: Vec<u32> = Vec::new();
    for m in months {
        if let Some(s) = client.calls_by_month.get(&m) {
            slots.extend_from_slice(s);
        }
    }
    for slot in slots {
        let Some(call) = model.calls.get(slot) else {
            continue;
        };
        if !ctx.in_period(&call.connected) {
            continue;
        }
        let subject = || {
            Lazy(|| Subject::Call {
                call_id: call.call_id.clone(),
            })
        };
        let start = call.connected;
        let answered = ctx.seen(call.answered);
        let voicemail = ctx.seen(call.voicemail);
        let abandoned = call
            .abandoned
            .filter(|a| ctx.as_of.sees(&a.event))
            .map(|a| a.event);
        let left = if answered.is_none() {
            voicemail.or(abandoned)
        } else {
            None
        };
        let voicemail_enabled = ctx.rules.agreement_at(start.occurred_at).voicemail_enabled;
        // R-ANS-1: pickup only.
        answer_rule(ctx, RuleId::Ans1, &subject, start, answered, left);
        // R-ANS-2: pickup, or voicemail routing when voicemail is enabled.
        let meets_max = answered.or(voicemail.filter(|_| voicemail_enabled));
        let left_max = if meets_max.is_none() { left } else { None };
        answer_rule(ctx, RuleId::Ans2, &subject, start, meets_max, left_max);

        let Some(completed) = ctx.seen(call.completed) else {
            continue;
        };
        let class = call.classification(ctx.as_of);
        let needs_docs = class.map(|c| c.outcome.requires_documentation());
        // R-DOC-1.
        match needs_docs {
            None => ctx.push(
                RuleId::Doc1,
                subject(),
                Some(completed.occurred_at),
                ctx.value(RuleId::Doc1, completed.occurred_at),
                None,
                Verdict::Pending {
                    due_at: None,
                    held_by: Vec::new(),
                },
                &[completed],
                Some("awaiting the agent's classification of the call"),
            ),
            Some(false) => {}
            Some(true) => {
                let complete = ctx.seen(call.complete_documentation);
                let first = call
                    .first_documentation
                    .filter(|d| ctx.as_of.sees(&d.event));
                let (verdict, evidence) = match (complete, first) {
                    (Some(c), _) => (
                        Verdict::Met {
                            met_at: c.occurred_at,
                        },
                        [Some(completed), Some(c)],
                    ),
                    (None, Some(d)) => (
                        Verdict::Missed {
                            by: Shortfall {
                                amount: d.missing_fields,
                                unit: Unit::Findings,
                            },
                            met_at: None,
                        },
                        [Some(completed), Some(d.event)],
                    ),
                    (None, None) => (
                        Verdict::Pending {
                            due_at: None,
                            held_by: Vec::new(),
                        },
                        [Some(completed), None],
                    ),
                };
                ctx.record(
                    RuleId::Doc1,
                    subject(),
                    Some(completed.occurred_at),
                    ctx.value(RuleId::Doc1, completed.occurred_at),
                    None,
                    verdict,
                    &evidence,
                    None,
                );
                // R-DOC-2.
                ctx.deadline(
                    RuleId::Doc2,
                    subject(),
                    completed,
                    ctx.seen(call.documentation_delivered),
                );
            }
        }
        // R-ESC-1.
        if let Some(c) = class.filter(|c| c.urgent) {
            let why = if c.urgent_by_nature {
                "urgent because its nature is on the client's list of urgent natures (the agent's flag may add urgency, never remove it)"
            } else {
                "urgent because the agent classified it urgent (its nature is not on the client's list)"
            };
            ctx.deadline_noted(
                RuleId::Esc1,
                subject(),
                completed,
                ctx.seen(call.urgent_escalation_attempt),
                Some(why),
            );
        }
    }
}

fn answer_rule<S: MakeSubject>(
    ctx: &mut Ctx<'_>,
    rule: RuleId,
    subject: &impl Fn() -> S,
    start: EventRef,
    met_by: Option<EventRef>,
    left: Option<EventRef>,
) {
    match (met_by, left) {
        (None, Some(left)) => {
            let value = ctx.value(rule, start.occurred_at);
            let calendar = &ctx.rules.agreement_at(start.occurred_at).calendar;
            let due = due_at(&value, calendar, start.occurred_at).ok().flatten();
            let (verdict, note) = match due {
                Some(due) if left.occurred_at <= due => (
                    Verdict::NotApplicable {
                        reason: format!("{rule}: the call left the queue before the limit elapsed"),
                    },
                    None,
                ),
                Some(due) => {
                    // Judged as a performance that came when the caller left, so the windows
                    // bear on it as on any other; leaving is not a meeting event, though.
                    let judged = judge_due(
                        rule,
                        due,
                        start.occurred_at,
                        Some(left.occurred_at),
                        &ctx.windows,
                        ctx.evaluated_at,
                    );
                    match judged.verdict {
                        Verdict::Missed { by, .. } => (
                            Verdict::Missed { by, met_at: None },
                            Some(judged.note.unwrap_or_else(|| {
                                "left the queue without pickup after the limit".to_owned()
                            })),
                        ),
                        other => (other, judged.note),
                    }
                }
                None => (
                    no_deadline_verdict(rule, &value).unwrap_or(Verdict::NotComputable {
                        reason: format!("{rule} value has no deadline"),
                    }),
                    None,
                ),
            };
            ctx.push(
                rule,
                subject(),
                Some(start.occurred_at),
                value,
                due,
                verdict,
                &[start, left],
                note.as_deref(),
            );
        }
        (met_by, _) => ctx.deadline(rule, subject(), start, met_by),
    }
}
