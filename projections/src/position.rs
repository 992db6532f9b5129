//! Positions and time bases: the positioned input event, references to events, and the `AsOf` basis of every report.
//!
//! The log gives every event a gap-free global position and the instant it was recorded; the
//! event itself says when the fact occurred. A report can be asked as of any of the three:
//! what the ledger held after a position, what it knew at a recorded-at instant, or what had
//! happened by an occurred-at instant (late-arriving events make the last two differ).

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use opsledger_domain::events::DomainEvent;
use serde::{Deserialize, Serialize};
use thiserror::Error;
use uuid::Uuid;

/// One event as read from the log, in global order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PositionedEvent {
    /// Gap-free global position, starting at 0.
    pub position: u64,
    /// The event id assigned when it was appended.
    pub event_id: Uuid,
    /// When the store recorded it; non-decreasing with position.
    pub recorded_at: DateTime<Utc>,
    /// The decoded event.
    pub event: DomainEvent,
}

impl PositionedEvent {
    /// The reference a read model keeps to this event.
    pub fn reference(&self) -> EventRef {
        EventRef {
            position: self.position,
            event_id: self.event_id,
            recorded_at: self.recorded_at,
            occurred_at: self.event.occurred_at(),
        }
    }
}

/// A reference to one event of the log with its three time coordinates; verdicts cite these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct EventRef {
    /// Global position.
    pub position: u64,
    /// Event id.
    pub event_id: Uuid,
    /// When the store recorded it.
    pub recorded_at: DateTime<Utc>,
    /// When the fact occurred (the payload's `at`).
    pub occurred_at: DateTime<Utc>,
}

/// The basis a report is produced on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "basis", content = "value")]
pub enum AsOf {
    /// Everything applied so far (up to the checkpoint).
    Head,
    /// Events at positions up to and including this one.
    Position(u64),
    /// Events recorded at or before this instant: what the ledger knew then.
    RecordedAt(DateTime<Utc>),
    /// Events applied so far whose fact occurred at or before this instant: what had happened
    /// by then, as known now.
    OccurredAt(DateTime<Utc>),
}

impl AsOf {
    /// Whether an event is part of the history this basis describes.
    pub fn sees(&self, event: &EventRef) -> bool {
        match self {
            AsOf::Head => true,
            AsOf::Position(p) => event.position <= *p,
            AsOf::RecordedAt(t) => event.recorded_at <= *t,
            AsOf::OccurredAt(t) => event.occurred_at <= *t,
        }
    }

    /// Whether an optional event exists and is seen.
    pub fn sees_opt(&self, event: Option<&EventRef>) -> bool {
        event.is_some_and(|e| self.sees(e))
    }
}

/// A calendar month (client-local when it buckets calls).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct YearMonth {
    /// Year.
    pub year: i32,
    /// Month, 1–12.
    pub month: u32,
}

/// A month that is not `YYYY-MM` with a month of 1–12 and a year in [`YearMonth::YEARS`].
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{0:?} is not a month of the form YYYY-MM (years 1970 to 9999)")]
pub struct InvalidMonth(pub String);

impl YearMonth {
    /// The years a month may be in: those of the instants the ledger stores. Bounding them
    /// keeps every day of the month and of the next one within the calendar's range, so no
    /// month given on a command line can panic a report (issue 12, finding 9).
    pub const YEARS: std::ops::RangeInclusive<i32> = 1970..=9999;

    /// A month; `None` unless `month` is 1–12 and `year` is in [`Self::YEARS`].
    pub fn new(year: i32, month: u32) -> Option<Self> {
        ((1..=12).contains(&month) && Self::YEARS.contains(&year)).then_some(Self { year, month })
    }

    /// The month of a date.
    pub fn of(date: NaiveDate) -> Self {
        Self {
            year: date.year(),
            month: date.month(),
        }
    }

    /// Its first day.
    pub fn first_day(self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.year, self.month, 1).expect("month validated at construction")
    }

    /// The following month.
    pub fn next(self) -> Self {
        if self.month == 12 {
            Self {
                year: self.year + 1,
                month: 1,
            }
        } else {
            Self {
                year: self.year,
                month: self.month + 1,
            }
        }
    }
}

impl fmt::Display for YearMonth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

impl FromStr for YearMonth {
    type Err = InvalidMonth;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || InvalidMonth(s.to_owned());
        let (y, m) = s.split_once('-').ok_or_else(bad)?;
        let year: i32 = y.parse().map_err(|_| bad())?;
        let month: u32 = m.parse().map_err(|_| bad())?;
        Self::new(year, month).ok_or_else(bad)
    }
}

impl TryFrom<String> for YearMonth {
    type Error = InvalidMonth;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl From<YearMonth> for String {
    fn from(value: YearMonth) -> Self {
        value.to_string()
    }
}

/// A half-open interval of instants `[from, to)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Period {
    /// Inclusive start.
    pub from: DateTime<Utc>,
    /// Exclusive end.
    pub to: DateTime<Utc>,
}

impl Period {
    /// Whether an instant falls inside.
    pub fn contains(&self, at: DateTime<Utc>) -> bool {
        self.from <= at && at < self.to
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Any text a user can type either parses into a month whose days exist, or is a typed
        /// error; `262142-12` used to parse and then panic the report (issue 12, finding 9).
        #[test]
        fn every_month_that_parses_has_its_days(year in any::<i32>(), month in any::<u32>(), junk in ".{0,12}") {
            for text in [format!("{year}-{month}"), format!("{year}-{month:02}"), junk] {
                if let Ok(m) = text.parse::<YearMonth>() {
                    prop_assert!(YearMonth::YEARS.contains(&m.first_day().year()));
                    prop_assert!(m.next().first_day() > m.first_day());
                }
            }
        }
    }

    #[test]
    fn months_past_the_ledgers_years_are_refused() {
        for bad in [
            "262142-12",
            "10000-01",
            "1969-12",
            "-1-01",
            "2026-13",
            "2026-0",
        ] {
            assert!(bad.parse::<YearMonth>().is_err(), "{bad}");
        }
        assert!("9999-12".parse::<YearMonth>().is_ok());
        assert!("1970-01".parse::<YearMonth>().is_ok());
    }
}
