//! Staffing: agent shifts on every account (R-COV-1), and who is on duty to take a call.
//!
//! Around-the-clock accounts run three local eight-hour slots with two agents each; a slot's
//! agents start ten minutes before it and leave five minutes after it, so hand-overs overlap and
//! the only gap is the planted one, when an agent goes home sick and the relief arrives late.
//! Scheduled accounts staff their business hours, ten minutes either side.

use std::rc::Rc;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use opsledger_domain::command::Command;
use opsledger_domain::events::{ShiftEnded, ShiftStarted};
use opsledger_domain::ids::{AgentId, ShiftId};

use super::clients::{Team, NORTHWIND};
use super::random::Sampler;
use super::story::{local_at, Window};
use super::{Ctx, DemoError};

/// Minutes an agent arrives before the slot starts.
const ARRIVE_EARLY_MINS: i64 = 10;
/// Minutes an agent stays after the slot ends.
const LEAVE_LATE_MINS: i64 = 5;
/// Minutes a scheduled account's agents are on duty before opening and after closing.
const DAYTIME_MARGIN_MINS: i64 = 10;
/// No shift is longer than this, which bounds the on-duty search.
const LONGEST_SHIFT_HOURS: i64 = 16;

/// One planned shift.
#[derive(Debug, Clone)]
pub(crate) struct Shift {
    /// Agent.
    pub agent: AgentId,
    /// Start.
    pub start: DateTime<Utc>,
    /// End.
    pub end: DateTime<Utc>,
}

/// Every client's shifts, sorted by start.
#[derive(Debug, Clone, Default)]
pub(crate) struct Roster {
    per_client: Vec<Vec<Shift>>,
}

impl Roster {
    /// Agents on duty on a client's account at an instant.
    pub(crate) fn on_duty(&self, client: usize, at: DateTime<Utc>) -> Vec<&AgentId> {
        let Some(shifts) = self.per_client.get(client) else {
            return Vec::new();
        };
        let upto = shifts.partition_point(|s| s.start <= at);
        let earliest = at - Duration::hours(LONGEST_SHIFT_HOURS);
        let mut agents: Vec<&AgentId> = shifts[..upto]
            .iter()
            .rev()
            .take_while(|s| s.start >= earliest)
            .filter(|s| s.end > at)
            .map(|s| &s.agent)
            .collect();
        agents.sort();
        agents.dedup();
        agents
    }

    /// A random agent on duty at an instant.
    pub(crate) fn pick_on_duty(
        &self,
        client: usize,
        at: DateTime<Utc>,
        rng: &mut Sampler,
    ) -> Result<AgentId, DemoError> {
        let agents = self.on_duty(client, at);
        if agents.is_empty() {
            return Err(DemoError::Internal(
                "a call arrived when no agent was on duty",
            ));
        }
        Ok(agents[rng.index(agents.len())].clone())
    }
}

fn overlaps_blackout(blackouts: &[Window], start: DateTime<Utc>) -> bool {
    blackouts.iter().any(|w| w.contains(start))
}

/// Plans every client's shifts for the month and returns the roster.
pub(crate) fn plan_shifts(ctx: &mut Ctx) -> Result<Roster, DemoError> {
    let mut roster = Roster::default();
    for client in 0..ctx.clients.len() {
        let shifts = client_shifts(ctx, client)?;
        let clients = Rc::clone(&ctx.clients);
        let profile = &clients[client];
        let client_id = profile.id.clone();
        let code = profile.code;
        let tag = ctx.month.tag.clone();
        for (n, shift) in shifts.iter().enumerate() {
            let local_day = profile.calendar().local_date(shift.start);
            let shift_id = ShiftId::new(format!(
                "sh-{code}-{}-{n:04}-{tag}",
                local_day.format("%Y%m%d")
            ))?;
            ctx.plan.record(
                shift.start,
                Command::StartShift(ShiftStarted {
                    client_id: client_id.clone(),
                    shift_id: shift_id.clone(),
                    at: shift.start,
                    agent_id: shift.agent.clone(),
                }),
            );
            ctx.plan.record(
                shift.end,
                Command::EndShift(ShiftEnded {
                    client_id: client_id.clone(),
                    shift_id,
                    at: shift.end,
                    agent_id: shift.agent.clone(),
                }),
            );
        }
        roster.per_client.push(shifts);
    }
    let gap = ctx.story.coverage_gap;
    ctx.note(
        NORTHWIND,
        gap.from,
        format!(
            "night agent goes home sick; relief arrives {} min later, so one agent is on duty (R-COV-1 gap)",
            (gap.to - gap.from).num_minutes()
        ),
    );
    Ok(roster)
}

fn client_shifts(ctx: &Ctx, client: usize) -> Result<Vec<Shift>, DemoError> {
    let profile = ctx.client(client)?;
    let calendar = profile.calendar();
    let blackouts = ctx.story.blackouts(client);
    let mut shifts = Vec::new();
    let days: Vec<NaiveDate> = ctx.month.days().collect();
    for (day_index, date) in days.iter().copied().enumerate() {
        match &profile.team {
            Team::RoundTheClock { slots, relief } => {
                let boundaries = [
                    calendar.start_of_local_day(date),
                    local_at(profile, date, 8, 0)?,
                    local_at(profile, date, 16, 0)?,
                    calendar.end_of_local_day(date),
                ];
                for (slot, pool) in slots.iter().enumerate() {
                    let start = boundaries[slot] - Duration::minutes(ARRIVE_EARLY_MINS);
                    let end = boundaries[slot + 1] + Duration::minutes(LEAVE_LATE_MINS);
                    if overlaps_blackout(&blackouts, start) {
                        continue;
                    }
                    let first = &pool[day_index % pool.len()];
                    let second = &pool[(day_index + 1) % pool.len()];
                    shifts.push(Shift {
                        agent: first.clone(),
                        start,
                        end,
                    });
                    let gap = ctx.story.coverage_gap;
                    if client == NORTHWIND && start < gap.from && gap.from < end {
                        // The planted gap: the second agent leaves early, the relief comes late.
                        shifts.push(Shift {
                            agent: second.clone(),
                            start,
                            end: gap.from,
                        });
                        shifts.push(Shift {
                            agent: relief.clone(),
                            start: gap.to,
                            end,
                        });
                    } else {
                        shifts.push(Shift {
                            agent: second.clone(),
                            start,
                            end,
                        });
                    }
                }
            }
            Team::Daytime { pool, per_day } => {
                let Some((open, close)) = calendar.business_interval(date) else {
                    continue;
                };
                let start = open - Duration::minutes(DAYTIME_MARGIN_MINS);
                let end = close + Duration::minutes(DAYTIME_MARGIN_MINS);
                if overlaps_blackout(&blackouts, start) || overlaps_blackout(&blackouts, open) {
                    continue;
                }
                for k in 0..(*per_day).min(pool.len()) {
                    shifts.push(Shift {
                        agent: pool[(day_index + k) % pool.len()].clone(),
                        start,
                        end,
                    });
                }
            }
        }
    }
    shifts.sort_by_key(|s| s.start);
    Ok(shifts)
}
