//! Verdicts and the one deadline judgement every clocked rule goes through.
//!
//! A clocked rule is judged by [`judge_deadline`]: the rule value in force at the clock start
//! (from `domain::rules_in_force::value_at`) is turned into a due instant by
//! `domain::deadlines::due_at`; the meeting event at or before the due instant is met; a later
//! one, or none by the evaluation instant, is missed, unless the interval from clock start to
//! due instant overlaps an excused window of the client, in which case it is excused. A met
//! obligation stays met even inside a window.

use chrono::{DateTime, Utc};
use opsledger_domain::calendar::BusinessCalendar;
use opsledger_domain::deadlines::due_at;
use opsledger_domain::events::ExcuseCause;
use opsledger_domain::ids::ExcusedWindowId;
use opsledger_domain::rules::{RuleId, RuleValue};
use serde::{Deserialize, Serialize};

use crate::model::{ClientRecord, ReadModel};
use crate::position::{AsOf, EventRef};

/// The unit a shortfall is counted in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// Whole seconds (rounded up).
    Seconds,
    /// Whole days.
    Days,
    /// Basis points of a share (1 % = 100).
    BasisPoints,
    /// Fields or findings that were missing or failed.
    Findings,
}

/// By how much an obligation was missed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shortfall {
    /// The amount.
    pub amount: u64,
    /// Its unit.
    pub unit: Unit,
}

/// The verdict on one obligation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "verdict")]
pub enum Verdict {
    /// The meeting event came in time.
    Met {
        /// When it came (for a rule without a meeting instant, the instant judged).
        met_at: DateTime<Utc>,
    },
    /// Missed.
    Missed {
        /// By how much (late by, or short by).
        by: Shortfall,
        /// When the meeting event finally came, if it did.
        met_at: Option<DateTime<Utc>>,
    },
    /// Not yet due, or held.
    Pending {
        /// When it falls due, if the rule has a due instant.
        due_at: Option<DateTime<Utc>>,
        /// Legal holds suspending it (R-RET-2).
        held_by: Vec<String>,
    },
    /// It would be missed, but its clock ran in an excused window.
    Excused {
        /// The windows overlapping the interval from clock start to due instant.
        window_ids: Vec<ExcusedWindowId>,
    },
    /// The rule does not apply here (tier, coverage, or the facts of the case).
    NotApplicable {
        /// Why.
        reason: String,
    },
    /// The agreement lacks a value the rule needs; never silently met.
    Unconfigured {
        /// What is missing.
        missing: String,
    },
    /// Events alone cannot judge it.
    NotComputable {
        /// Why, and where the judgement lives instead.
        reason: String,
    },
}

/// Counts of verdicts, raw and under normal operating conditions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    /// Met.
    pub met: u64,
    /// Missed outside any excused window.
    pub missed: u64,
    /// Would be missed, excused by a window; counted as missed in the raw view.
    pub excused: u64,
    /// Pending.
    pub pending: u64,
    /// Not applicable.
    pub not_applicable: u64,
    /// Unconfigured.
    pub unconfigured: u64,
    /// Not computable from events.
    pub not_computable: u64,
}

impl Tally {
    /// Counts one verdict.
    pub fn add(&mut self, verdict: &Verdict) {
        let slot = match verdict {
            Verdict::Met { .. } => &mut self.met,
            Verdict::Missed { .. } => &mut self.missed,
            Verdict::Excused { .. } => &mut self.excused,
            Verdict::Pending { .. } => &mut self.pending,
            Verdict::NotApplicable { .. } => &mut self.not_applicable,
            Verdict::Unconfigured { .. } => &mut self.unconfigured,
            Verdict::NotComputable { .. } => &mut self.not_computable,
        };
        *slot = slot.saturating_add(1);
    }

    /// Missed counting excused ones too (the raw view).
    pub fn missed_raw(&self) -> u64 {
        self.missed.saturating_add(self.excused)
    }
}

/// An excused window as a report basis sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExcusedWindow {
    /// Window.
    pub window_id: ExcusedWindowId,
    /// Cause.
    pub cause: ExcuseCause,
    /// Start.
    pub from: DateTime<Utc>,
    /// End; `None` while still open as far as the basis knows.
    pub to: Option<DateTime<Utc>>,
    /// The opening and (if seen) closing events.
    pub evidence: Vec<EventRef>,
}

impl ExcusedWindow {
    /// Whether `[from, to]` (closed; a point when equal) overlaps the window `[from, to)`.
    pub fn overlaps(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> bool {
        self.from <= to && self.to.map_or(true, |end| end > from)
    }
}

/// The excused windows of a client an `AsOf` basis sees, in opening order.
pub fn windows_seen(model: &ReadModel, client: &ClientRecord, as_of: &AsOf) -> Vec<ExcusedWindow> {
    client
        .excused_windows
        .iter()
        .filter_map(|slot| model.excused_windows.get(*slot))
        .filter(|w| as_of.sees(&w.opened))
        .map(|w| {
            let closed = w.closed.filter(|c| as_of.sees(c));
            let mut evidence = vec![w.opened];
            evidence.extend(closed);
            ExcusedWindow {
                window_id: w.window_id.clone(),
                cause: w.cause,
                from: w.opened.occurred_at,
                to: closed.map(|c| c.occurred_at),
                evidence,
            }
        })
        .collect()
}

/// The ids of windows overlapping `[from, to]`.
pub fn overlapping(
    windows: &[ExcusedWindow],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Vec<ExcusedWindowId> {
    windows
        .iter()
        .filter(|w| w.overlaps(from, to))
        .map(|w| w.window_id.clone())
        .collect()
}

/// Whole seconds from `a` to `b`, rounded up; 0 when `b` is not after `a`.
pub fn secs_late(a: DateTime<Utc>, b: DateTime<Utc>) -> u64 {
    let ms = (b - a).num_milliseconds();
    let ms = u64::try_from(ms).unwrap_or(0);
    ms.div_ceil(1_000)
}

/// What a rule value means when it has no deadline, or `None` when it has one to compute.
pub fn no_deadline_verdict(rule: RuleId, value: &RuleValue) -> Option<Verdict> {
    match value {
        RuleValue::NotApplicable => Some(Verdict::NotApplicable {
            reason: format!(
                "{rule} does not apply under the agreement in force (tier or coverage)"
            ),
        }),
        RuleValue::Unconfigured => Some(Verdict::Unconfigured {
            missing: format!("{rule} needs a value the agreement does not set"),
        }),
        _ => None,
    }
}

/// A judged deadline: the due instant (if any) and the verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Judged {
    /// Due instant.
    pub due_at: Option<DateTime<Utc>>,
    /// Verdict.
    pub verdict: Verdict,
}

/// Judges a clocked rule (see the module docs).
pub fn judge_deadline(
    rule: RuleId,
    value: &RuleValue,
    calendar: &BusinessCalendar,
    clock_start: DateTime<Utc>,
    meeting: Option<DateTime<Utc>>,
    windows: &[ExcusedWindow],
    evaluated_at: DateTime<Utc>,
) -> Judged {
    if let Some(verdict) = no_deadline_verdict(rule, value) {
        return Judged {
            due_at: None,
            verdict,
        };
    }
    let due = match due_at(value, calendar, clock_start) {
        Ok(Some(due)) => due,
        Ok(None) => {
            return Judged {
                due_at: None,
                verdict: Verdict::NotComputable {
                    reason: format!("{rule} value {value:?} has no deadline"),
                },
            }
        }
        Err(e) => {
            return Judged {
                due_at: None,
                verdict: Verdict::NotComputable {
                    reason: format!("{rule}: {e}"),
                },
            }
        }
    };
    Judged {
        due_at: Some(due),
        verdict: judge_due(due, clock_start, meeting, windows, evaluated_at),
    }
}

/// Judges a known due instant (see the module docs).
pub fn judge_due(
    due: DateTime<Utc>,
    clock_start: DateTime<Utc>,
    meeting: Option<DateTime<Utc>>,
    windows: &[ExcusedWindow],
    evaluated_at: DateTime<Utc>,
) -> Verdict {
    let late_until = match meeting {
        Some(m) if m <= due => return Verdict::Met { met_at: m },
        Some(m) => m,
        None if evaluated_at <= due => {
            return Verdict::Pending {
                due_at: Some(due),
                held_by: Vec::new(),
            }
        }
        None => evaluated_at,
    };
    let window_ids = overlapping(windows, clock_start, due);
    if !window_ids.is_empty() {
        return Verdict::Excused { window_ids };
    }
    Verdict::Missed {
        by: Shortfall {
            amount: secs_late(due, late_until),
            unit: Unit::Seconds,
        },
        met_at: meeting,
    }
}
