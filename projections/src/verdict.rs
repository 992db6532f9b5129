//! Verdicts and the one deadline judgement every clocked rule goes through.
//!
//! A clocked rule is judged by [`judge_deadline`]: the rule value in force at the clock start
//! (from `domain::rules_in_force::value_at`) is turned into a due instant by
//! `domain::deadlines::rule_due_at`; the meeting event at or before the due instant is met; a later
//! one, or none by the evaluation instant, is missed unless an excused window excuses it. A met
//! obligation stays met even inside a window.
//!
//! Excused windows excuse narrowly (the catalog's Readings), and only windows whose cause
//! concerns the rule (`domain::excuses::cause_concerns`) count, and a window awaiting the
//! client's answer only for the rules its communication named ([`ExcusedWindow::concerns`]).
//! Windows come from events (`crate::model`): excused-window events, credentials expired or
//! revoked until restored or provided again, an unnotified volume change until the client's
//! call-volume notice, a communication until its answer:
//! - (a) a window holding the whole performance interval, clock start to due instant (closed),
//!   excuses it outright;
//! - (b) a window holding the due instant extends the deadline by the part of the window after
//!   the clock started: the clock stands still while the window is open, so the new due instant
//!   is the window's end plus the time that was left when it opened. A meeting event by the
//!   extended deadline is excused (it would be late without the window); a later one, or none
//!   by the evaluation instant, is missed by the time past the extended deadline. While a window
//!   holding the due instant is still open the extended deadline is not known yet: pending.
//! - A window that merely overlaps the interval, without holding its end, excuses nothing: the
//!   agency had time outside it to perform.

use chrono::{DateTime, SecondsFormat, Utc};
use opsledger_domain::calendar::BusinessCalendar;
use opsledger_domain::deadlines::rule_due_at;
use opsledger_domain::events::ExcuseCause;
use opsledger_domain::excuses::{cause_concerns, cause_label};
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
    /// It would be missed, but an excused window whose cause concerns the rule excused it.
    Excused {
        /// The windows that excused it.
        window_ids: Vec<ExcusedWindowId>,
        /// Which reading applied: the window's cause and times, and whether it held the whole
        /// performance or extended the deadline (and to when).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reading: Option<String>,
    },
    /// R-ESC-2: the last tier of the escalation chain was unreachable, so there was no next
    /// contact to attempt; neither met nor missed.
    ChainExhausted {
        /// The last tier of the chain, the one marked unreachable.
        last_tier: u32,
    },
    /// No fact of the family the rule is judged on (shifts, report deliveries, QA reviews and
    /// summaries) was recorded for the client by the time the obligation fell due, as the basis
    /// sees the log: the ledger cannot tell a miss from a fact it was never given, so this is
    /// neither met nor missed and never counts in a miss count or a rate (issue 11). From the
    /// first fact of the family on, obligations are judged as usual.
    NoData {
        /// The family of facts never recorded (`shifts`, `report_deliveries`, `qa_reviews`).
        family: DataFamily,
        /// What was looked for, and up to when.
        reason: String,
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

/// A family of facts some rules are judged on, whose absence from the log is "no data recorded"
/// rather than a miss (see [`Verdict::NoData`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DataFamily {
    /// Shift starts and ends (R-COV-1).
    Shifts,
    /// Monthly report deliveries and quarterly reviews (R-REP-1, R-REP-2, R-REP-3).
    ReportDeliveries,
    /// QA reviews (selection, completion) and QA summary deliveries (R-QA-1, R-QA-4).
    QaReviews,
    /// Invoices issued (R-BIL-1's monthly invoice).
    Invoices,
}

impl DataFamily {
    /// The family as reports spell it (its serde name).
    pub fn label(self) -> &'static str {
        match self {
            DataFamily::Shifts => "shifts",
            DataFamily::ReportDeliveries => "report_deliveries",
            DataFamily::QaReviews => "qa_reviews",
            DataFamily::Invoices => "invoices",
        }
    }

    /// The events that make up the family, for the report's definitions.
    pub fn facts(self) -> &'static str {
        match self {
            DataFamily::Shifts => "shift started or ended",
            DataFamily::ReportDeliveries => "monthly report delivered or quarterly review held",
            DataFamily::QaReviews => {
                "call selected for review, review completed, or QA summary delivered"
            }
            DataFamily::Invoices => "invoice issued",
        }
    }

    /// The family a rule is judged on, for the rules "no data recorded" applies to.
    pub fn of_rule(rule: RuleId) -> Option<DataFamily> {
        match rule {
            RuleId::Cov1 => Some(DataFamily::Shifts),
            RuleId::Rep1 | RuleId::Rep2 | RuleId::Rep3 => Some(DataFamily::ReportDeliveries),
            RuleId::Qa1 | RuleId::Qa4 => Some(DataFamily::QaReviews),
            RuleId::Bil1 => Some(DataFamily::Invoices),
            _ => None,
        }
    }
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
    /// R-ESC-2 chains exhausted (left out of the serialized form when none).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub chain_exhausted: u64,
    /// No data recorded for the rule's family of facts: neither met nor missed, and in no rate
    /// (left out of the serialized form when none).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub no_data: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
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
            Verdict::ChainExhausted { .. } => &mut self.chain_exhausted,
            Verdict::NoData { .. } => &mut self.no_data,
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
    /// The only rules it excuses (a window awaiting the client's answer: the rules its
    /// communication named); empty means every rule its cause concerns, except for a window
    /// awaiting the client's answer, which then excuses nothing.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<RuleId>,
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
                rules: w.rules.clone(),
            }
        })
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

/// An instant as reports print it: RFC 3339 in UTC, whole seconds.
pub fn stamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

impl ExcusedWindow {
    /// "force_majeure 2024-03-01T15:00:00Z–2024-03-01T16:00:00Z" (an open window ends in "…");
    /// a window limited to some rules names them: "awaiting_client_response (R-DOC-2) …".
    pub fn describe(&self) -> String {
        let to = self.to.map_or_else(|| "…".to_owned(), stamp);
        let rules = if self.rules.is_empty() {
            String::new()
        } else {
            let names: Vec<String> = self.rules.iter().map(ToString::to_string).collect();
            format!(" ({})", names.join(", "))
        };
        format!(
            "{}{rules} {}–{}",
            cause_label(self.cause),
            stamp(self.from),
            to
        )
    }

    /// Whether the window can excuse an obligation under `rule`: its cause concerns the rule
    /// (`domain::excuses::cause_concerns`) and, when it is limited to some rules, the rule is
    /// one of them.
    pub fn concerns(&self, rule: RuleId) -> bool {
        // A wait for the client's answer excuses only what the communication named, so one
        // naming nothing (an excused-window event appended past `decide`) excuses nothing.
        let limited = !self.rules.is_empty() || self.cause == ExcuseCause::AwaitingClientResponse;
        cause_concerns(self.cause, rule) && (!limited || self.rules.contains(&rule))
    }

    /// Whether the window holds an instant; both ends included, since a deadline at the very
    /// instant a window closes left no time outside it either.
    fn holds(&self, at: DateTime<Utc>) -> bool {
        self.from <= at && self.to.map_or(true, |end| at <= end)
    }
}

/// How the excused windows bear on one obligation (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Excusal {
    /// No window concerning the rule holds the due instant.
    None,
    /// Reading (a): a window held the whole performance interval.
    Whole(ExcusedWindow),
    /// Reading (b): windows held the due instant and extended it; `due` is `None` while the
    /// last of them is still open.
    Extended {
        /// The extending windows, in the order they applied.
        windows: Vec<ExcusedWindow>,
        /// The extended due instant.
        due: Option<DateTime<Utc>>,
    },
}

/// How the windows of causes concerning `rule` bear on a performance due at `due` whose clock
/// started at `clock_start`.
pub fn excusal(
    rule: RuleId,
    clock_start: DateTime<Utc>,
    due: DateTime<Utc>,
    windows: &[ExcusedWindow],
) -> Excusal {
    let relevant: Vec<&ExcusedWindow> = windows.iter().filter(|w| w.concerns(rule)).collect();
    if let Some(w) = relevant
        .iter()
        .find(|w| w.holds(clock_start) && w.holds(due))
    {
        return Excusal::Whole((*w).clone());
    }
    let mut extended = due;
    let mut used: Vec<ExcusedWindow> = Vec::new();
    // Each window extends at most once, so this ends after at most `relevant.len()` rounds.
    while let Some(w) = relevant
        .iter()
        .find(|w| w.holds(extended) && !used.iter().any(|u| u.window_id == w.window_id))
    {
        used.push((*w).clone());
        let Some(end) = w.to else {
            return Excusal::Extended {
                windows: used,
                due: None,
            };
        };
        let stood_still = end - w.from.max(clock_start);
        extended = extended.checked_add_signed(stood_still).unwrap_or(extended);
    }
    if used.is_empty() {
        Excusal::None
    } else {
        Excusal::Extended {
            windows: used,
            due: Some(extended),
        }
    }
}

/// A judged deadline: the due instant (if any), the verdict, and a note saying which reading
/// of an excused window applied when one did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Judged {
    /// Due instant.
    pub due_at: Option<DateTime<Utc>>,
    /// Verdict.
    pub verdict: Verdict,
    /// Which reading applied, when a window bore on the verdict.
    pub note: Option<String>,
}

/// Judges a clocked rule (see the module docs).
// The judgement needs the rule (for its windows' causes), its value, the calendar, the clock
// start, the meeting, the windows and the evaluation instant: all of them, every time.
#[allow(clippy::too_many_arguments)]
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
            note: None,
        };
    }
    let due = match rule_due_at(rule, value, calendar, clock_start) {
        Ok(Some(due)) => due,
        Ok(None) => {
            return Judged {
                due_at: None,
                verdict: Verdict::NotComputable {
                    reason: format!("{rule} value {value:?} has no deadline"),
                },
                note: None,
            }
        }
        Err(e) => {
            return Judged {
                due_at: None,
                verdict: Verdict::NotComputable {
                    reason: format!("{rule}: {e}"),
                },
                note: None,
            }
        }
    };
    judge_due(rule, due, clock_start, meeting, windows, evaluated_at)
}

/// Judges a known due instant (see the module docs).
pub fn judge_due(
    rule: RuleId,
    due: DateTime<Utc>,
    clock_start: DateTime<Utc>,
    meeting: Option<DateTime<Utc>>,
    windows: &[ExcusedWindow],
    evaluated_at: DateTime<Utc>,
) -> Judged {
    let judged = |verdict: Verdict, note: Option<String>| Judged {
        due_at: Some(due),
        verdict,
        note,
    };
    if let Some(m) = meeting.filter(|m| *m <= due) {
        return judged(Verdict::Met { met_at: m }, None);
    }
    let pending = |due_at: Option<DateTime<Utc>>| Verdict::Pending {
        due_at,
        held_by: Vec::new(),
    };
    if meeting.is_none() && evaluated_at <= due {
        return judged(pending(Some(due)), None);
    }
    let missed = |from: DateTime<Utc>| Verdict::Missed {
        by: Shortfall {
            amount: secs_late(from, meeting.unwrap_or(evaluated_at)),
            unit: Unit::Seconds,
        },
        met_at: meeting,
    };
    match excusal(rule, clock_start, due, windows) {
        Excusal::None => judged(missed(due), None),
        Excusal::Whole(w) => {
            let reading = format!(
                "excused: {} held the whole performance, {}–{}",
                w.describe(),
                stamp(clock_start),
                stamp(due)
            );
            judged(
                Verdict::Excused {
                    window_ids: vec![w.window_id.clone()],
                    reading: Some(reading),
                },
                None,
            )
        }
        Excusal::Extended { windows, due: ext } => {
            let described: Vec<String> = windows.iter().map(ExcusedWindow::describe).collect();
            let ext_text = ext.map_or_else(
                || "until the window closes".to_owned(),
                |e| format!("to {}", stamp(e)),
            );
            let reading = format!(
                "{} held the deadline {}; the clock stood still in it, extending the deadline {ext_text}",
                described.join(", "),
                stamp(due)
            );
            let in_time = match (ext, meeting) {
                (None, _) => true,
                (Some(e), Some(m)) => m <= e,
                (Some(e), None) => evaluated_at <= e,
            };
            if !in_time {
                return judged(
                    missed(ext.unwrap_or(due)),
                    Some(format!("not excused beyond the extension: {reading}")),
                );
            }
            if meeting.is_none() {
                return judged(pending(ext), Some(reading));
            }
            judged(
                Verdict::Excused {
                    window_ids: windows.iter().map(|w| w.window_id.clone()).collect(),
                    reading: Some(format!("excused: {reading}")),
                },
                None,
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn open_window(from: &str) -> ExcusedWindow {
        ExcusedWindow {
            window_id: ExcusedWindowId::new("w").unwrap(),
            cause: ExcuseCause::ForceMajeure,
            from: at(from),
            to: None,
            evidence: vec![],
            rules: vec![],
        }
    }

    #[test]
    fn a_deadline_inside_a_window_still_open_is_pending_until_it_closes() {
        // Due 10:00, a window opened at 09:30 and still open at 11:00: not yet missed.
        let windows = [open_window("2024-10-08T09:30:00Z")];
        let start = at("2024-10-08T09:00:00Z");
        let due = at("2024-10-08T10:00:00Z");
        let unmet = judge_due(
            RuleId::Doc2,
            due,
            start,
            None,
            &windows,
            at("2024-10-08T11:00:00Z"),
        );
        assert_eq!(
            unmet.verdict,
            Verdict::Pending {
                due_at: None,
                held_by: vec![]
            }
        );
        // Delivered late while it is open: excused, naming the open window.
        let late = at("2024-10-08T10:30:00Z");
        let met = judge_due(RuleId::Doc2, due, start, Some(late), &windows, late);
        assert!(matches!(
            met.verdict,
            Verdict::Excused { reading: Some(ref r), .. } if r.contains("…")
        ));
        // Without a window the same delivery is missed by 30 minutes.
        let missed = judge_due(RuleId::Doc2, due, start, Some(late), &[], late);
        assert_eq!(
            missed.verdict,
            Verdict::Missed {
                by: Shortfall {
                    amount: 1_800,
                    unit: Unit::Seconds
                },
                met_at: Some(late)
            }
        );
    }
}
