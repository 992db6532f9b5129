//! The monthly SLA report of one client: call answer figures (R-ANS-1, R-ANS-2) per month and queue, with every clocked rule's tally beside them.
//!
//! # Definitions
//!
//! - **Month**: the client-local calendar month (the agreement's time zone) in which the call
//!   entered the queue. A call belongs to the month it was connected in, whatever happened later.
//! - **Offered**: every call that entered the queue (`call.connected`). The clock of R-ANS-1 and
//!   R-ANS-2 starts there.
//! - **Answered**: an agent picked it up (`call.answered`); **voicemail**: routed to voicemail;
//!   **abandoned**: left the queue without pickup (`call.abandoned`, any reason, broken down by
//!   reason: the caller hung up, the queue timed out, no agent could take calls, or the caller
//!   pressed a key). **Unresolved**: offered with none of these yet (still queued, or its outcome
//!   lies beyond an import's cut-off); it counts as offered but in no other figure, and is left
//!   out of every rate, like a pending deadline: nobody knows yet whether it was answered in time.
//! - **Wait**: from entering the queue to pickup, voicemail routing or abandonment, in
//!   milliseconds (Asterisk logs whole seconds).
//! - **Answered within target (R-ANS-1)**: answered at or before the target in force at the
//!   clock start. With the SOP's 8 s, a wait of exactly 8 s is within target, 8.001 s is not.
//! - **Impossible wait**: a call whose recorded wait ends before it began is counted as such
//!   and left out of every rate and wait figure (the domain refuses it; only a raw append can
//!   record one).
//! - **Service level**: answered within target ÷ resolved calls (offered minus unresolved), in
//!   basis points (1 % = 100, rounded half up). A call abandoned before the target elapsed stays
//!   in the denominator (it was offered and not answered within target); `abandoned_within_target` is reported so that a
//!   reader can compute the variant that excludes short abandons.
//! - **Maximum queue time breach (R-ANS-2)**: the wait ended after the maximum in force. The SOP
//!   says "more than 45 seconds", so a wait of exactly 45 s is not a breach. An abandoned call
//!   breaches only if it waited longer than the maximum, per the catalog; pickup or voicemail
//!   routing end the wait. A call still unresolved is not judged here (the obligation report
//!   judges it against its evaluation instant).
//! - **Average speed of answer**: total wait of answered calls ÷ answered, in milliseconds,
//!   rounded half up; the total is reported too, so the exact rational is available.
//! - **Longest wait**: the longest wait of any resolved call (answered, voicemail, abandoned).
//! - **Talk time**: completion minus pickup, over answered calls whose completion is known.
//! - **Normal operating conditions**: the same figures over the calls whose wait does not
//!   overlap an excused window of the client whose cause concerns answer times (force
//!   majeure, unnotified volume change; `[connected, end of wait]`, a point for an unresolved
//!   call); every window is listed. Clocked rules' tallies give `excused` apart from
//!   `missed`: the raw view counts both as missed.
//! - **No data recorded** (`no_data` in a rule's tally): an obligation judged on a family of
//!   facts the log never recorded for this client by its due instant, as the report's basis
//!   sees the log: shifts (R-COV-1, the part before the first shift), report deliveries and
//!   quarterly reviews (R-REP-1/2/3), QA reviews and summaries (R-QA-1/4), invoices (R-BIL-1's
//!   monthly invoice, only while the client has no invoice at all). It is neither met nor
//!   missed, in no miss count and no rate; from the family's first fact on, obligations are
//!   judged as usual (`crate::obligations`).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use opsledger_domain::deadlines::due_at;
use opsledger_domain::events::AbandonReason;
use opsledger_domain::ids::ClientId;
use opsledger_domain::rules::{RuleId, RuleValue, BASIS_POINTS_PER_WHOLE};
use serde::{Deserialize, Serialize};

use crate::model::{CallRecord, ReadModel, RulesView};
use crate::obligations::{self, CoverageGap};
use crate::position::{AsOf, Period, YearMonth};
use crate::report::{month_period, resolve_client, ReportError};
use crate::verdict::{windows_seen, ExcusedWindow, Tally};

/// Abandoned calls by reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AbandonedByReason {
    /// The caller hung up (Asterisk `ABANDON`).
    pub caller_hung_up: u64,
    /// The queue's timeout removed the caller (`EXITWITHTIMEOUT`).
    pub queue_timeout: u64,
    /// No agent could take calls (`EXITEMPTY`).
    pub queue_empty: u64,
    /// The caller pressed a key to leave (`EXITWITHKEY`).
    pub caller_left_with_key: u64,
}

/// Call answer figures over a set of calls (see the module docs for definitions).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallFigures {
    /// Calls that entered the queue.
    pub offered: u64,
    /// Picked up by an agent.
    pub answered: u64,
    /// Left the queue without pickup.
    pub abandoned: u64,
    /// Abandoned, by reason.
    pub abandoned_by_reason: AbandonedByReason,
    /// Routed to voicemail.
    pub voicemail: u64,
    /// Offered with no outcome known yet.
    pub unresolved: u64,
    /// Offered with a wait that ends before it began (an answer or abandonment recorded before
    /// the queue entry). The domain refuses such a record; one that reached the log anyway (a
    /// raw append) is counted here and left out of every rate and wait figure, since its
    /// wait is not known.
    #[serde(default)]
    pub impossible_wait: u64,
    /// Answered within the R-ANS-1 target.
    pub answered_within_target: u64,
    /// Abandoned before the R-ANS-1 target elapsed.
    pub abandoned_within_target: u64,
    /// Answered within target ÷ resolved calls (offered minus unresolved), basis points; `None`
    /// with no resolved call.
    pub service_level_basis_points: Option<u64>,
    /// Waits longer than the R-ANS-2 maximum (breaches).
    pub max_queue_breaches: u64,
    /// Sum of the waits of answered calls, milliseconds.
    pub answered_wait_total_ms: u64,
    /// Average speed of answer, milliseconds; `None` with no answered call.
    pub average_speed_of_answer_ms: Option<u64>,
    /// Longest wait of a resolved call, milliseconds.
    pub longest_wait_ms: Option<u64>,
    /// Answered calls whose completion is known.
    pub talk_calls: u64,
    /// Sum of their talk times, milliseconds.
    pub talk_total_ms: u64,
    /// Average talk time, milliseconds.
    pub average_talk_ms: Option<u64>,
}

/// Figures raw and under normal operating conditions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlaFigures {
    /// Every call.
    pub raw: CallFigures,
    /// Calls whose wait overlaps no excused window.
    pub normal: CallFigures,
    /// Calls left out of `normal`.
    pub calls_in_excused_windows: u64,
}

/// QA coverage of the month against R-QA-1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QaCoverage {
    /// Answered calls of the month.
    pub answered: u64,
    /// Of them, with a completed review.
    pub reviewed: u64,
    /// Reviewed ÷ answered, basis points (rounded half up); `None` with no answered call.
    pub reviewed_basis_points: Option<u64>,
    /// The R-QA-1 value in force at the month's end.
    pub required: RuleValue,
}

/// The SLA report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlaReport {
    /// Client.
    pub client_id: ClientId,
    /// Month (client-local).
    pub month: YearMonth,
    /// The month as instants.
    pub period: Period,
    /// The basis the report was produced on.
    pub as_of: AsOf,
    /// The projection checkpoint when it was produced.
    pub checkpoint: u64,
    /// The instant pending obligations were judged at.
    pub evaluated_at: DateTime<Utc>,
    /// R-ANS-1 target in force at the month's start (each call is judged with its own).
    pub answer_target: RuleValue,
    /// R-ANS-2 maximum in force at the month's start (each call is judged with its own).
    pub max_queue_time: RuleValue,
    /// All queues together.
    pub calls: SlaFigures,
    /// Per queue name, for calls that named one.
    pub by_queue: BTreeMap<String, SlaFigures>,
    /// Excused windows overlapping the month.
    pub excused_windows: Vec<ExcusedWindow>,
    /// R-QA-1 coverage.
    pub qa_coverage: QaCoverage,
    /// R-COV-1 gaps in the month.
    pub coverage_gaps: Vec<CoverageGap>,
    /// Every rule's tally over the month's obligations (R-ESC-1 urgent escalations, R-QA-2/3,
    /// R-DOC-1/2, R-COM-1, R-REP-* and the rest), keyed by rule id.
    pub rules: BTreeMap<RuleId, Tally>,
}

/// Rounded-half-up `num / den`.
fn div_round(num: u64, den: u64) -> Option<u64> {
    if den == 0 {
        return None;
    }
    Some(num.saturating_add(den / 2) / den)
}

/// Basis points of `part` in `whole`, rounded half up.
pub(crate) fn basis_points(part: u64, whole: u64) -> Option<u64> {
    div_round(part.saturating_mul(BASIS_POINTS_PER_WHOLE), whole)
}

fn ms_between(a: DateTime<Utc>, b: DateTime<Utc>) -> u64 {
    u64::try_from((b - a).num_milliseconds()).unwrap_or(0)
}

/// One call as a basis sees it.
struct SeenCall {
    wait_end: Option<DateTime<Utc>>,
    answered: bool,
    voicemail: bool,
    abandoned: Option<AbandonReason>,
    talk_ms: Option<u64>,
}

fn see(call: &CallRecord, as_of: &AsOf) -> SeenCall {
    let answered = call.answered.filter(|e| as_of.sees(e));
    let voicemail = call.voicemail.filter(|e| as_of.sees(e));
    let abandoned = call.abandoned.filter(|a| as_of.sees(&a.event));
    let wait_end = answered
        .or(voicemail)
        .map(|e| e.occurred_at)
        .or(abandoned.map(|a| a.event.occurred_at));
    let talk_ms = match (answered, call.completed.filter(|e| as_of.sees(e))) {
        (Some(a), Some(c)) => Some(ms_between(a.occurred_at, c.occurred_at)),
        _ => None,
    };
    SeenCall {
        wait_end,
        answered: answered.is_some(),
        voicemail: answered.is_none() && voicemail.is_some(),
        abandoned: if answered.is_none() && voicemail.is_none() {
            abandoned.map(|a| a.reason)
        } else {
            None
        },
        talk_ms,
    }
}

#[derive(Default)]
struct Accumulator {
    f: CallFigures,
}

impl Accumulator {
    fn add(
        &mut self,
        seen: &SeenCall,
        connected: DateTime<Utc>,
        target: Option<DateTime<Utc>>,
        max: Option<DateTime<Utc>>,
    ) {
        let f = &mut self.f;
        f.offered += 1;
        let Some(end) = seen.wait_end else {
            f.unresolved += 1;
            return;
        };
        if end < connected {
            f.impossible_wait += 1;
            return;
        }
        let wait_ms = ms_between(connected, end);
        f.longest_wait_ms = Some(f.longest_wait_ms.map_or(wait_ms, |w| w.max(wait_ms)));
        let within_target = target.is_some_and(|t| end <= t);
        if max.is_some_and(|m| end > m) {
            f.max_queue_breaches += 1;
        }
        if seen.answered {
            f.answered += 1;
            f.answered_wait_total_ms = f.answered_wait_total_ms.saturating_add(wait_ms);
            if within_target {
                f.answered_within_target += 1;
            }
            if let Some(talk) = seen.talk_ms {
                f.talk_calls += 1;
                f.talk_total_ms = f.talk_total_ms.saturating_add(talk);
            }
        } else if seen.voicemail {
            f.voicemail += 1;
        } else if let Some(reason) = seen.abandoned {
            f.abandoned += 1;
            if within_target {
                f.abandoned_within_target += 1;
            }
            let r = &mut f.abandoned_by_reason;
            match reason {
                AbandonReason::CallerHungUp => r.caller_hung_up += 1,
                AbandonReason::QueueTimeout => r.queue_timeout += 1,
                AbandonReason::QueueEmpty => r.queue_empty += 1,
                AbandonReason::CallerLeftWithKey => r.caller_left_with_key += 1,
            }
        }
    }

    fn finish(mut self) -> CallFigures {
        let f = &mut self.f;
        // Unresolved calls are left out of the rate, as a pending deadline is: counting them as
        // failures would report a miss the ledger has no evidence of (issue 11).
        let resolved = f
            .offered
            .saturating_sub(f.unresolved)
            .saturating_sub(f.impossible_wait);
        f.service_level_basis_points = basis_points(f.answered_within_target, resolved);
        f.average_speed_of_answer_ms = div_round(f.answered_wait_total_ms, f.answered);
        f.average_talk_ms = div_round(f.talk_total_ms, f.talk_calls);
        self.f
    }
}

#[derive(Default)]
struct FiguresAccumulator {
    raw: Accumulator,
    normal: Accumulator,
    excused: u64,
}

impl FiguresAccumulator {
    fn finish(self) -> SlaFigures {
        SlaFigures {
            raw: self.raw.finish(),
            normal: self.normal.finish(),
            calls_in_excused_windows: self.excused,
        }
    }
}

/// The due instant of an answer rule for a call (`None` if the value has no deadline).
fn answer_due(rules: &RulesView, rule: RuleId, connected: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let value = rules.value(rule, connected);
    let calendar = &rules.agreement_at(connected).calendar;
    due_at(value, calendar, connected).ok().flatten()
}

/// The SLA report of a client for a client-local month, as of a basis; pending obligations are
/// judged at `evaluated_at`.
pub fn monthly_report(
    model: &ReadModel,
    checkpoint: u64,
    client_id: &ClientId,
    month: YearMonth,
    as_of: AsOf,
    evaluated_at: DateTime<Utc>,
) -> Result<SlaReport, ReportError> {
    let client = resolve_client(model, checkpoint, client_id, &as_of)?;
    let rules = model.rules_view(client, &as_of);
    let period = month_period(&rules, month);
    let windows: Vec<ExcusedWindow> = windows_seen(model, client, &as_of)
        .into_iter()
        .filter(|w| w.overlaps(period.from, period.to) && w.from < period.to)
        .collect();

    let mut all = FiguresAccumulator::default();
    let mut by_queue: BTreeMap<u32, FiguresAccumulator> = BTreeMap::new();
    let mut answered_calls: u64 = 0;
    let mut reviewed_calls: u64 = 0;
    let slots = client
        .calls_by_month
        .get(&month)
        .map_or(&[][..], Vec::as_slice);
    for slot in slots {
        let Some(call) = model.calls.get(*slot) else {
            continue;
        };
        if !as_of.sees(&call.connected) {
            continue;
        }
        let connected = call.connected.occurred_at;
        let seen = see(call, &as_of);
        let target = answer_due(&rules, RuleId::Ans1, connected);
        let max = answer_due(&rules, RuleId::Ans2, connected);
        let end = seen.wait_end.unwrap_or(connected);
        // Only windows whose cause concerns answer times take a call out of normal conditions:
        // missing credentials, for one, do not slow answering.
        let excused = windows
            .iter()
            .any(|w| w.concerns(RuleId::Ans1) && w.overlaps(connected, end));
        let add = |acc: &mut FiguresAccumulator| {
            acc.raw.add(&seen, connected, target, max);
            if excused {
                acc.excused += 1;
            } else {
                acc.normal.add(&seen, connected, target, max);
            }
        };
        add(&mut all);
        if let Some(q) = call.queue {
            add(by_queue.entry(q).or_default());
        }
        if seen.answered {
            answered_calls += 1;
            if as_of.sees_opt(call.reviewed.as_ref()) {
                reviewed_calls += 1;
            }
        }
    }

    // Only tallies are reported here, so obligations are counted without being kept (R-COV-1
    // gaps excepted); the obligation report lists them.
    let obligations =
        obligations::for_client(model, client, &rules, &as_of, period, evaluated_at, false);
    let mut tallies: BTreeMap<RuleId, Tally> =
        RuleId::ALL.iter().map(|r| (*r, Tally::default())).collect();
    tallies.extend(obligations.tallies);
    let coverage_gaps: Vec<CoverageGap> = obligations
        .obligations
        .iter()
        .filter_map(|o| o.coverage_gap())
        .collect();

    let month_end = period.to;
    Ok(SlaReport {
        client_id: client_id.clone(),
        month,
        period,
        as_of,
        checkpoint,
        evaluated_at,
        answer_target: rules.value(RuleId::Ans1, period.from).clone(),
        max_queue_time: rules.value(RuleId::Ans2, period.from).clone(),
        calls: all.finish(),
        by_queue: by_queue
            .into_iter()
            .map(|(q, acc)| {
                let name = usize::try_from(q)
                    .ok()
                    .and_then(|i| model.queues.get(i))
                    .cloned()
                    .unwrap_or_default();
                (name, acc.finish())
            })
            .collect(),
        excused_windows: windows,
        qa_coverage: QaCoverage {
            answered: answered_calls,
            reviewed: reviewed_calls,
            reviewed_basis_points: basis_points(reviewed_calls, answered_calls),
            required: rules.value(RuleId::Qa1, month_end).clone(),
        },
        coverage_gaps,
        rules: tallies,
    })
}
