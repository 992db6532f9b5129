//! The demo month: a deterministic, seeded month of agency operations for five clients, every
//! fact decided by the domain, used by `opsledger demo`, the tests and the benchmarks.
//!
//! [`generate_month`] plans a month of calls, escalations, QA, staffing, reporting, billing and
//! one termination, with the notable situations the rule catalog is about planted among
//! ordinary traffic (a late escalation, a coverage gap, a force-majeure outage, a late payment
//! and its default notice, ...). The plan is then recorded through `domain::decide` against a
//! `LedgerState` folded as it goes (see `plan`), so every event is a fact the domain accepted.
//! Nothing reads the clock: instants come from the month and the seed, in each client's own
//! time zone and business calendar.

mod calls;
mod clients;
mod holidays;
mod operations;
mod plan;
mod quality;
mod random;
mod staffing;
mod story;

#[cfg(test)]
mod tests;

#[cfg(test)]
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::rc::Rc;

use chrono::{DateTime, Datelike, Duration, Months, NaiveDate, Utc};
use opsledger_domain::agreement::{AccountKind, Coverage, Jurisdiction, Tier};
use opsledger_domain::calendar::{BusinessCalendar, CalendarError};
use opsledger_domain::command::Command;
use opsledger_domain::error::DomainError;
use opsledger_domain::ids::{ClientId, IdError};
use opsledger_domain::money::{Currency, MoneyError};
use opsledger_domain::DomainEvent;
use thiserror::Error;

use self::calls::{CallRecord, Fate};
use self::clients::ClientProfile;
use self::plan::Plan;
use self::story::Story;

/// How much traffic a demo month carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DemoScale {
    /// Mean calls offered on a business day to a client of average volume; each client scales
    /// it by its own weight, and nights and weekends by the arrival profile.
    pub calls_per_client_per_day: u32,
}

impl DemoScale {
    /// The largest scale accepted: about 25 million calls a month, far past any benchmark.
    pub const MAX_CALLS_PER_CLIENT_PER_DAY: u32 = 100_000;

    /// A month of about 200 000 events, for benchmarks.
    #[cfg(test)]
    pub const fn benchmark() -> Self {
        Self {
            calls_per_client_per_day: 250,
        }
    }
}

impl Default for DemoScale {
    /// A month of roughly ten thousand events: a demo that records in a few seconds.
    fn default() -> Self {
        Self {
            calls_per_client_per_day: 14,
        }
    }
}

/// A generated month.
#[derive(Debug, Clone)]
pub struct DemoMonth {
    /// The seed it was generated from.
    pub seed: u64,
    /// The first day of the month.
    pub month_start: NaiveDate,
    /// Every event, in occurred order: the onboarding and billing history before the month,
    /// the month itself, and the few follow-ups of its last calls that spill past its end.
    pub events: Vec<DomainEvent>,
    /// The clients, with their month's call figures.
    pub clients: Vec<ClientSummary>,
    /// The notable situations planted, in time order, for the demo's printout.
    pub notes: Vec<String>,
    /// Commands deliberately attempted to show the ledger refusing them (none was recorded).
    pub refused: Vec<RefusedCommand>,
}

/// One client of the demo month.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientSummary {
    /// Client id.
    pub client_id: ClientId,
    /// Display name.
    pub name: String,
    /// Tier.
    pub tier: Tier,
    /// Account kind.
    pub account_kind: AccountKind,
    /// Jurisdiction.
    pub jurisdiction: Jurisdiction,
    /// IANA time zone.
    pub time_zone: String,
    /// Coverage.
    pub coverage: Coverage,
    /// Whether calls may go to voicemail.
    pub voicemail_enabled: bool,
    /// Billing currency.
    pub currency: Currency,
    /// Calls that entered the queue in the month.
    pub calls_offered: u64,
    /// Calls picked up by an agent.
    pub calls_answered: u64,
    /// Answered calls picked up within the SOP's 8 s.
    pub answered_within_8_secs: u64,
    /// Calls routed to voicemail.
    pub calls_to_voicemail: u64,
    /// Calls the caller abandoned.
    pub calls_abandoned: u64,
    /// The longest queue time, in seconds.
    pub longest_wait_secs: u32,
}

/// A command the demo attempted to show a refusal; nothing was appended for it.
#[derive(Debug, Clone, PartialEq)]
pub struct RefusedCommand {
    /// When it was attempted.
    pub at: DateTime<Utc>,
    /// Whom it concerned.
    pub client_id: ClientId,
    /// What was attempted, in a sentence.
    pub attempted: String,
    /// The domain's refusal.
    pub error: DomainError,
}

/// Why a demo month could not be generated. Every variant but the first is a generator bug.
#[derive(Debug, Error)]
pub enum DemoError {
    /// The month start is not the first day of a month.
    #[error("the demo month must start on the first day of a month, not {0}")]
    NotFirstOfMonth(NaiveDate),
    /// The scale is outside what the generator supports.
    #[error("calls per client per day must be between 1 and {max}, not {found}", max = DemoScale::MAX_CALLS_PER_CLIENT_PER_DAY)]
    ScaleOutOfRange {
        /// The requested scale.
        found: u32,
    },
    /// The domain refused a planned fact.
    #[error("the domain refused a planned command at {at}: {error}\ncommand: {command:?}")]
    Refused {
        /// When it was planned.
        at: DateTime<Utc>,
        /// The command.
        command: Box<Command>,
        /// The refusal.
        #[source]
        error: DomainError,
    },
    /// The domain accepted a command planned to show a refusal.
    #[error("the domain accepted a command meant to be refused: {attempted}")]
    ShowcaseAccepted {
        /// What was attempted.
        attempted: String,
    },
    /// Two planned facts share one id, so the second was an idempotent no-op.
    #[error("a planned command at {at} recorded nothing (duplicate id): {command:?}")]
    DuplicateFact {
        /// When it was planned.
        at: DateTime<Utc>,
        /// The command.
        command: Box<Command>,
    },
    /// A command was planned at another instant than the one it carries.
    #[error("{event_type} planned at {planned} occurred at {occurred}")]
    MisplannedInstant {
        /// The planned instant.
        planned: DateTime<Utc>,
        /// The event's instant.
        occurred: DateTime<Utc>,
        /// Its type.
        event_type: &'static str,
    },
    /// A generated id was invalid.
    #[error("generated id: {0}")]
    Id(#[from] IdError),
    /// A calendar computation failed.
    #[error("calendar: {0}")]
    Calendar(#[from] CalendarError),
    /// Money arithmetic failed.
    #[error("money: {0}")]
    Money(#[from] MoneyError),
    /// An internal invariant of the generator broke.
    #[error("demo generator invariant: {0}")]
    Internal(&'static str),
}

/// The month the README's demo shows: October 2026 (it has a US holiday, the end of British
/// Summer Time and the start of a quarter).
pub fn demo_month_start() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 10, 1).expect("a valid constant date")
}

/// Generates a month of operations starting on `month_start` (the first day of a month).
///
/// The same seed, month and scale always give the same events; another seed gives other
/// traffic, times and ids with the same planted situations.
pub fn generate_month(
    seed: u64,
    month_start: NaiveDate,
    scale: DemoScale,
) -> Result<DemoMonth, DemoError> {
    if month_start.day() != 1 {
        return Err(DemoError::NotFirstOfMonth(month_start));
    }
    let calls_per_day = scale.calls_per_client_per_day;
    if calls_per_day == 0 || calls_per_day > DemoScale::MAX_CALLS_PER_CLIENT_PER_DAY {
        return Err(DemoError::ScaleOutOfRange {
            found: calls_per_day,
        });
    }
    let month = Month::new(seed, month_start, scale)?;
    let clients: Rc<[ClientProfile]> = clients::demo_clients(month_start)?.into();
    let story = Story::new(&month, &clients)?;
    let mut ctx = Ctx {
        month,
        clients,
        story,
        plan: Plan::default(),
        notes: Vec::new(),
        noted_credential_hold: false,
    };

    operations::plan_onboarding_and_prior_billing(&mut ctx)?;
    let roster = staffing::plan_shifts(&mut ctx)?;
    let traffic = calls::plan_calls(&mut ctx, &roster)?;
    calls::plan_digests(&mut ctx, &traffic)?;
    quality::plan_quality(&mut ctx, &traffic.calls)?;
    operations::plan_operations(&mut ctx, &traffic.calls)?;
    operations::plan_billing(&mut ctx, &traffic.calls)?;
    operations::plan_termination(&mut ctx, &traffic.calls)?;

    let Ctx {
        month,
        clients,
        plan,
        mut notes,
        ..
    } = ctx;
    let recorded = plan.record_all()?;
    notes.sort_by_key(|n| n.at);
    Ok(DemoMonth {
        seed,
        month_start: month.start,
        events: recorded.events,
        clients: summarize(&month, &clients, &traffic.calls),
        notes: notes.into_iter().map(|n| n.text).collect(),
        refused: recorded.refused,
    })
}

impl DemoMonth {
    /// How many events of each type the month holds, by stable type name.
    #[cfg(test)]
    pub fn event_counts(&self) -> BTreeMap<&'static str, u64> {
        let mut counts = BTreeMap::new();
        for event in &self.events {
            *counts.entry(event.event_type()).or_insert(0) += 1;
        }
        counts
    }

    /// The notes as a numbered list, one per line.
    pub fn notes_text(&self) -> String {
        let mut out = String::new();
        for (n, note) in self.notes.iter().enumerate() {
            // Writing to a String cannot fail.
            let _ = writeln!(out, "{:>3}. {note}", n + 1);
        }
        out
    }

    /// A printable summary: clients, their call figures, the planted situations and the
    /// refusals shown.
    pub fn summary_text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "Demo month {} (seed {}): {} events for {} clients",
            self.month_start.format("%B %Y"),
            self.seed,
            self.events.len(),
            self.clients.len()
        );
        for c in &self.clients {
            let _ = writeln!(
                out,
                "  {:<28} {:<12} {:<8} {:<20} offered {:>6}  answered {:>6} ({} within 8 s)  voicemail {:>4}  abandoned {:>4}  longest wait {} s",
                c.name,
                format!("{:?}", c.tier),
                format!("{:?}", c.account_kind),
                c.time_zone,
                c.calls_offered,
                c.calls_answered,
                c.answered_within_8_secs,
                c.calls_to_voicemail,
                c.calls_abandoned,
                c.longest_wait_secs
            );
        }
        let _ = writeln!(out, "Planted situations:");
        out.push_str(&self.notes_text());
        if !self.refused.is_empty() {
            let _ = writeln!(out, "Refused, as the ledger must (nothing was appended):");
            for r in &self.refused {
                let _ = writeln!(
                    out,
                    "  - {} [{}]: {}",
                    r.attempted,
                    plan::refusal_rule(&r.error),
                    r.error
                );
            }
        }
        out
    }
}

// ---------------------------------------------------------------- shared generator context

/// The month being generated and the run's identity.
#[derive(Debug, Clone)]
pub(crate) struct Month {
    /// The seed.
    pub seed: u64,
    /// First day.
    pub start: NaiveDate,
    /// First day of the following month.
    pub next_start: NaiveDate,
    /// Four hex digits from the seed, in every generated id, so two seeds never share ids.
    pub tag: String,
    /// The scale.
    pub scale: DemoScale,
}

impl Month {
    fn new(seed: u64, start: NaiveDate, scale: DemoScale) -> Result<Self, DemoError> {
        let next_start = start
            .checked_add_months(Months::new(1))
            .ok_or(DemoError::Internal("month out of range"))?;
        let tag = format!("{:04x}", random::splitmix64(seed) >> 48);
        Ok(Self {
            seed,
            start,
            next_start,
            tag,
            scale,
        })
    }

    /// The month's local dates.
    pub(crate) fn days(&self) -> impl Iterator<Item = NaiveDate> + '_ {
        self.start.iter_days().take_while(|d| *d < self.next_start)
    }

    /// The `n`th (1-based) day of the month; days past its end clamp to its last day.
    pub(crate) fn day(&self, n: u32) -> NaiveDate {
        let last = self.next_start.pred_opt().unwrap_or(self.start);
        self.start
            .checked_add_days(chrono::Days::new(u64::from(n.saturating_sub(1))))
            .map_or(last, |d| d.min(last))
    }

    /// The first day of the month `months` before (negative) or after this one.
    pub(crate) fn shifted_start(&self, months: i32) -> Result<NaiveDate, DemoError> {
        let magnitude = Months::new(months.unsigned_abs());
        if months < 0 {
            self.start.checked_sub_months(magnitude)
        } else {
            self.start.checked_add_months(magnitude)
        }
        .ok_or(DemoError::Internal("month out of range"))
    }
}

/// A planted situation's note, sorted by instant before printing.
#[derive(Debug, Clone)]
pub(crate) struct Note {
    at: DateTime<Utc>,
    text: String,
}

/// Everything the planning steps share.
#[derive(Debug)]
pub(crate) struct Ctx {
    /// The month.
    pub month: Month,
    /// The clients, by index (shared, so planning steps can read a profile while planning).
    pub clients: Rc<[ClientProfile]>,
    /// The planted situations' instants.
    pub story: Story,
    /// The plan being built.
    pub plan: Plan,
    /// Notes of planted situations.
    pub notes: Vec<Note>,
    /// Whether the credential-hold delivery was noted (it is noted once).
    pub noted_credential_hold: bool,
}

impl Ctx {
    /// Records a note about a planted situation at `at`, prefixed with the client's local time.
    pub(crate) fn note(&mut self, client: usize, at: DateTime<Utc>, text: impl AsRef<str>) {
        let (name, when) = match self.clients.get(client) {
            Some(c) => (c.name, local_stamp(c.calendar(), at)),
            None => ("agency", at.format("%a %Y-%m-%d %H:%M UTC").to_string()),
        };
        self.notes.push(Note {
            at,
            text: format!("{when} {name}: {}", text.as_ref()),
        });
    }

    /// The client at an index.
    pub(crate) fn client(&self, index: usize) -> Result<&ClientProfile, DemoError> {
        self.clients
            .get(index)
            .ok_or(DemoError::Internal("client index out of range"))
    }

    /// A client-local instant on a date.
    pub(crate) fn local(
        &self,
        client: usize,
        date: NaiveDate,
        hour: u32,
        minute: u32,
    ) -> Result<DateTime<Utc>, DemoError> {
        story::local_at(self.client(client)?, date, hour, minute)
    }

    /// The first business day of a client on or after a date.
    pub(crate) fn business_day_from(
        &self,
        client: usize,
        date: NaiveDate,
    ) -> Result<NaiveDate, DemoError> {
        story::business_day_from(self.client(client)?, date)
    }

    /// A client's `n`th business day of the month that starts on `month_start`.
    pub(crate) fn nth_business_day(
        &self,
        client: usize,
        month_start: NaiveDate,
        n: u64,
    ) -> Result<NaiveDate, DemoError> {
        Ok(self.client(client)?.calendar().nth_business_day_of_month(
            month_start.year(),
            month_start.month(),
            n,
        )?)
    }
}

/// An instant in a client's local time, e.g. `Thu 2026-10-08 03:12 PDT`.
pub(crate) fn local_stamp(calendar: &BusinessCalendar, at: DateTime<Utc>) -> String {
    at.with_timezone(&calendar.time_zone)
        .format("%a %Y-%m-%d %H:%M %Z")
        .to_string()
}

/// A whole number of seconds as a duration.
pub(crate) fn secs(n: u32) -> Duration {
    Duration::seconds(i64::from(n))
}

/// A whole number of minutes as a duration.
pub(crate) fn mins(n: u32) -> Duration {
    Duration::minutes(i64::from(n))
}

fn summarize(month: &Month, clients: &[ClientProfile], calls: &[CallRecord]) -> Vec<ClientSummary> {
    clients
        .iter()
        .enumerate()
        .map(|(index, c)| {
            let mut s = ClientSummary {
                client_id: c.id.clone(),
                name: c.name.to_owned(),
                tier: c.agreement.tier,
                account_kind: c.agreement.account_kind,
                jurisdiction: c.agreement.jurisdiction.clone(),
                time_zone: c.calendar().time_zone.name().to_owned(),
                coverage: c.agreement.coverage,
                voicemail_enabled: c.agreement.voicemail_enabled,
                currency: c.agreement.currency,
                calls_offered: 0,
                calls_answered: 0,
                answered_within_8_secs: 0,
                calls_to_voicemail: 0,
                calls_abandoned: 0,
                longest_wait_secs: 0,
            };
            for call in calls.iter().filter(|r| r.client == index) {
                debug_assert!(call.local_date >= month.start && call.local_date < month.next_start);
                s.calls_offered += 1;
                s.longest_wait_secs = s.longest_wait_secs.max(call.wait_secs);
                match call.fate {
                    Fate::Answered { .. } => {
                        s.calls_answered += 1;
                        if call.wait_secs <= calls::ANSWER_TARGET_SECS {
                            s.answered_within_8_secs += 1;
                        }
                    }
                    Fate::Voicemail { .. } => s.calls_to_voicemail += 1,
                    Fate::Abandoned { .. } => s.calls_abandoned += 1,
                }
            }
            s
        })
        .collect()
}
