//! Obligations of coverage: R-COV-1 over the parts of a period, with the value in force in each
//! part and the excused windows cut out.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use opsledger_domain::ids::AgentId;
use opsledger_domain::rules::{RuleId, RuleValue};

use super::no_data::no_data;
use super::{Ctx, Subject};
use crate::verdict::{
    no_deadline_verdict, secs_late, DataFamily, ExcusedWindow, Shortfall, Unit, Verdict,
};

/// R-COV-1 with the value in force at each instant (the catalog's Readings): the period is cut
/// wherever an agreement version or SOP amendment takes effect, and each part is judged with its
/// own value, so coverage amended to 24/7 mid-month is judged from the amendment on.
pub(super) fn coverage(ctx: &mut Ctx<'_>) {
    let client = ctx.client;
    let from = ctx.period.from.max(client.onboarded.occurred_at);
    let mut to = ctx.period.to.min(ctx.evaluated_at);
    if let Some(t) = ctx.seen(client.terminated) {
        to = to.min(t.occurred_at);
    }
    if from >= to {
        return;
    }
    let mut cuts = vec![from];
    cuts.extend(ctx.rules.changes_between(from, to));
    cuts.push(to);
    let mut not_applicable: Option<(RuleValue, Verdict)> = None;
    let mut judged_any = false;
    for part in cuts.windows(2) {
        let (part_from, part_to) = (part[0], part[1]);
        let value = ctx.value(RuleId::Cov1, part_from);
        match value {
            RuleValue::Agents(required) => {
                judged_any = true;
                // Before the client's first recorded shift the ledger knows nothing of who was
                // on duty: that part is "no data recorded", the rest is judged (issue 11).
                let data_from = ctx
                    .data_from
                    .from(DataFamily::Shifts)
                    .map_or(part_to, |d| d.clamp(part_from, part_to));
                if data_from > part_from {
                    ctx.push(
                        RuleId::Cov1,
                        Subject::Coverage {
                            from: part_from,
                            to: data_from,
                            agents_on_duty: 0,
                        },
                        Some(part_from),
                        value.clone(),
                        None,
                        no_data(DataFamily::Shifts, data_from),
                        &[],
                        Some("no shift recorded for the client before the end of this part; agents on duty unknown"),
                    );
                }
                if data_from < part_to {
                    coverage_part(ctx, data_from, part_to, required, value);
                }
            }
            other => {
                if let Some(verdict) = no_deadline_verdict(RuleId::Cov1, &other) {
                    not_applicable.get_or_insert((other, verdict));
                }
            }
        }
    }
    // A period with no part under a number of agents has one line saying why.
    if let (false, Some((value, verdict))) = (judged_any, not_applicable) {
        ctx.push(
            RuleId::Cov1,
            Subject::Client,
            Some(from),
            value,
            None,
            verdict,
            &[],
            None,
        );
    }
}

/// R-COV-1 over `[from, to)`, where `required` agents are in force throughout.
fn coverage_part(
    ctx: &mut Ctx<'_>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    required: u64,
    value: RuleValue,
) {
    let model = ctx.model;
    let client = ctx.client;
    // Sweep the shift boundaries in time order, counting distinct agents on duty.
    let mut boundaries: Vec<(DateTime<Utc>, i8, &AgentId)> = Vec::new();
    for slot in &client.shifts {
        let Some(s) = model.shifts.get(*slot) else {
            continue;
        };
        if !ctx.as_of.sees(&s.started) {
            continue;
        }
        let end = ctx.seen(s.ended).map(|e| e.occurred_at);
        if s.started.occurred_at >= to || end.is_some_and(|e| e <= from) {
            continue;
        }
        boundaries.push((s.started.occurred_at.max(from), 1, &s.agent_id));
        if let Some(e) = end.filter(|e| *e < to) {
            boundaries.push((e, -1, &s.agent_id));
        }
    }
    // Ends before starts at the same instant, so a hand-over at one instant is not double-counted
    // and a gap of zero length is not reported.
    boundaries.sort_by_key(|(at, delta, _)| (*at, *delta));
    let mut on_duty: BTreeMap<&AgentId, u64> = BTreeMap::new();
    let mut cursor = from;
    let mut gaps: Vec<(DateTime<Utc>, DateTime<Utc>, u64)> = Vec::new();
    let mut i = 0;
    while cursor < to {
        // Apply every boundary at the cursor.
        while let Some((at, delta, agent)) = boundaries.get(i) {
            if *at > cursor {
                break;
            }
            let n = on_duty.entry(agent).or_insert(0);
            if *delta > 0 {
                *n += 1;
            } else {
                *n = n.saturating_sub(1);
            }
            if *n == 0 {
                on_duty.remove(agent);
            }
            i += 1;
        }
        let next = boundaries.get(i).map_or(to, |(at, _, _)| (*at).min(to));
        let agents = u64::try_from(on_duty.len()).unwrap_or(u64::MAX);
        if agents < required {
            match gaps.last_mut() {
                Some((_, end, n)) if *end == cursor && *n == agents => *end = next,
                _ => gaps.push((cursor, next, agents)),
            }
        }
        cursor = next;
    }
    if gaps.is_empty() {
        ctx.push(
            RuleId::Cov1,
            Subject::Coverage {
                from,
                to,
                agents_on_duty: required,
            },
            Some(from),
            value,
            None,
            Verdict::Met { met_at: to },
            &[],
            Some("no interval with fewer agents on duty than required"),
        );
        return;
    }
    // Redundant coverage is a performance due at every instant, so a window excuses exactly the
    // part of a gap it holds (reading (a)); the rest of the gap is missed.
    for (gap_from, gap_to, agents) in gaps {
        for (part_from, part_to, window) in
            split_by_windows(RuleId::Cov1, gap_from, gap_to, &ctx.windows)
        {
            let verdict = match window {
                None => Verdict::Missed {
                    by: Shortfall {
                        amount: secs_late(part_from, part_to),
                        unit: Unit::Seconds,
                    },
                    met_at: None,
                },
                Some(w) => Verdict::Excused {
                    window_ids: vec![w.window_id.clone()],
                    reading: Some(format!(
                        "excused: {} held this part of the gap",
                        w.describe()
                    )),
                },
            };
            ctx.push(
                RuleId::Cov1,
                Subject::Coverage {
                    from: part_from,
                    to: part_to,
                    agents_on_duty: agents,
                },
                Some(part_from),
                value.clone(),
                None,
                verdict,
                &[],
                None,
            );
        }
    }
}

/// The parts of `[from, to)` held by a window whose cause concerns `rule` (with that window)
/// and the parts held by none, in time order; empty parts are left out.
fn split_by_windows(
    rule: RuleId,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    windows: &[ExcusedWindow],
) -> Vec<(DateTime<Utc>, DateTime<Utc>, Option<ExcusedWindow>)> {
    let mut relevant: Vec<&ExcusedWindow> = windows
        .iter()
        .filter(|w| w.concerns(rule) && w.from < to && w.to.map_or(true, |e| e > from))
        .collect();
    relevant.sort_by_key(|w| w.from);
    let mut parts = Vec::new();
    let mut cursor = from;
    for w in relevant {
        let start = w.from.max(cursor);
        let end = w.to.map_or(to, |e| e.min(to));
        if start >= end {
            continue;
        }
        if start > cursor {
            parts.push((cursor, start, None));
        }
        parts.push((start, end, Some(w.clone())));
        cursor = end;
    }
    if cursor < to {
        parts.push((cursor, to, None));
    }
    parts
}
