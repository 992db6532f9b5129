//! Business calendars and business-time arithmetic in a client's own time zone.
//!
//! A business day is a listed weekday that is not a listed holiday; its business interval runs
//! from the local opening time to the local closing time of that day, converted to UTC with the
//! client's IANA zone. All arithmetic walks those intervals in UTC, so a business hour is an hour
//! of real elapsed time inside an interval, and daylight-saving changes, weekends, holidays and
//! month ends need no special cases.
//!
//! Local times that do not exist (the spring-forward gap) resolve to the first local time after
//! the gap; ambiguous local times (the fall-back hour) resolve to the earlier instant. Both rules
//! are applied to opening and closing alike, so adding and counting stay exact inverses.

use std::collections::BTreeSet;

use chrono::{
    DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc,
    Weekday,
};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// The most consecutive days without a business interval a search walks before it gives up.
///
/// A year and a few days covers any real holiday calendar; more means the calendar is broken.
pub const MAX_CONSECUTIVE_CLOSED_DAYS: u32 = 400;

/// The longest stretch, in minutes, a local time may fall into a daylight-saving gap.
const MAX_GAP_MINUTES: i64 = 24 * 60;

const SECS_PER_HOUR: u64 = 3_600;

/// Why a calendar is invalid or a calendar computation has no answer.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CalendarError {
    /// The calendar lists no business day at all.
    #[error("the business calendar has no business days")]
    NoBusinessDays,
    /// Opening is not before closing.
    #[error("business hours must open before they close (opens {opens_at}, closes {closes_at})")]
    EmptyBusinessHours {
        /// Local opening time.
        opens_at: NaiveTime,
        /// Local closing time.
        closes_at: NaiveTime,
    },
    /// No business interval was found within the search bound.
    #[error("no business interval within {MAX_CONSECUTIVE_CLOSED_DAYS} days after {after}")]
    NoBusinessIntervalFound {
        /// The instant the search started from.
        after: DateTime<Utc>,
    },
    /// A count or duration is too large to compute with.
    #[error("business-time amount {0} is out of range")]
    OutOfRange(u64),
    /// The month has fewer business days than asked for.
    #[error("{year}-{month:02} has fewer than {n} business days")]
    NotEnoughBusinessDays {
        /// Year.
        year: i32,
        /// Month, 1–12.
        month: u32,
        /// The ordinal asked for.
        n: u64,
    },
    /// A business-day ordinal of zero was asked for.
    #[error("business-day ordinals start at 1")]
    ZeroOrdinal,
}

/// A client's business calendar: zone, business days, business hours and holidays.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BusinessCalendar {
    /// The client's IANA time zone, e.g. `America/New_York`.
    pub time_zone: Tz,
    /// Weekdays that are business days (default Monday–Friday).
    pub business_days: Vec<Weekday>,
    /// Local opening time (default 09:00).
    pub opens_at: NaiveTime,
    /// Local closing time (default 17:00); must be after `opens_at` on the same day.
    pub closes_at: NaiveTime,
    /// Local dates that are not business days although their weekday is.
    pub holidays: BTreeSet<NaiveDate>,
}

fn hm(hour: u32, minute: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(hour, minute, 0).expect("valid constant time")
}

impl BusinessCalendar {
    /// The SOP default calendar in a zone: Monday–Friday, 09:00–17:00, no holidays.
    pub fn standard(time_zone: Tz) -> Self {
        Self {
            time_zone,
            business_days: vec![
                Weekday::Mon,
                Weekday::Tue,
                Weekday::Wed,
                Weekday::Thu,
                Weekday::Fri,
            ],
            opens_at: hm(9, 0),
            closes_at: hm(17, 0),
            holidays: BTreeSet::new(),
        }
    }

    /// Checks that the calendar can ever yield a business interval.
    pub fn validate(&self) -> Result<(), CalendarError> {
        if self.business_days.is_empty() {
            return Err(CalendarError::NoBusinessDays);
        }
        if self.opens_at >= self.closes_at {
            return Err(CalendarError::EmptyBusinessHours {
                opens_at: self.opens_at,
                closes_at: self.closes_at,
            });
        }
        Ok(())
    }

    /// The client-local date of an instant.
    pub fn local_date(&self, at: DateTime<Utc>) -> NaiveDate {
        at.with_timezone(&self.time_zone).date_naive()
    }

    /// Converts a client-local date and time to UTC (gap: first time after it; overlap: earlier).
    pub fn to_utc(&self, local: NaiveDateTime) -> DateTime<Utc> {
        match self.time_zone.from_local_datetime(&local) {
            LocalResult::Single(t) => t.with_timezone(&Utc),
            LocalResult::Ambiguous(earlier, _) => earlier.with_timezone(&Utc),
            LocalResult::None => {
                for minutes in 1..=MAX_GAP_MINUTES {
                    let probe = local + Duration::minutes(minutes);
                    match self.time_zone.from_local_datetime(&probe) {
                        LocalResult::Single(t) => return t.with_timezone(&Utc),
                        LocalResult::Ambiguous(earlier, _) => return earlier.with_timezone(&Utc),
                        LocalResult::None => {}
                    }
                }
                unreachable!("no time zone has a gap longer than a day")
            }
        }
    }

    /// The instant a local date begins (local midnight, or the first time after a gap).
    pub fn start_of_local_day(&self, date: NaiveDate) -> DateTime<Utc> {
        self.to_utc(date.and_time(NaiveTime::MIN))
    }

    /// The instant a local date ends, i.e. the start of the next local day.
    pub fn end_of_local_day(&self, date: NaiveDate) -> DateTime<Utc> {
        self.start_of_local_day(date.succ_opt().expect("dates this far out are not used"))
    }

    /// The same local wall-clock time `days` local calendar days after `at` (the catalog's
    /// "takes effect N days after X"): daylight-saving changes never move it by an hour. A local
    /// time that does not exist on the target day (a spring-forward gap) becomes the first time
    /// after the gap.
    pub fn add_local_days(
        &self,
        at: DateTime<Utc>,
        days: u64,
    ) -> Result<DateTime<Utc>, CalendarError> {
        let local = at.with_timezone(&self.time_zone).naive_local();
        let moved = local
            .checked_add_days(chrono::Days::new(days))
            .ok_or(CalendarError::OutOfRange(days))?;
        Ok(self.to_utc(moved))
    }

    /// The same local wall-clock time `days` local calendar days before `at`.
    pub fn sub_local_days(
        &self,
        at: DateTime<Utc>,
        days: u64,
    ) -> Result<DateTime<Utc>, CalendarError> {
        let local = at.with_timezone(&self.time_zone).naive_local();
        let moved = local
            .checked_sub_days(chrono::Days::new(days))
            .ok_or(CalendarError::OutOfRange(days))?;
        Ok(self.to_utc(moved))
    }

    /// The end of the `days`-th local calendar day after `at`'s local date (the catalog's
    /// "within N days of X").
    pub fn end_of_nth_local_day_after(
        &self,
        at: DateTime<Utc>,
        days: u64,
    ) -> Result<DateTime<Utc>, CalendarError> {
        let date = self
            .local_date(at)
            .checked_add_days(chrono::Days::new(days))
            .ok_or(CalendarError::OutOfRange(days))?;
        Ok(self.end_of_local_day(date))
    }

    /// Whether a local date is a business day.
    pub fn is_business_day(&self, date: NaiveDate) -> bool {
        self.business_days.contains(&date.weekday()) && !self.holidays.contains(&date)
    }

    /// The business interval `[open, close)` of a local date, in UTC, if it is a business day.
    pub fn business_interval(&self, date: NaiveDate) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        if !self.is_business_day(date) {
            return None;
        }
        let open = self.to_utc(date.and_time(self.opens_at));
        let close = self.to_utc(date.and_time(self.closes_at));
        // A gap can swallow the whole interval only if the hours are shorter than the gap.
        (open < close).then_some((open, close))
    }

    /// Whether an instant lies inside business hours (opening inclusive, closing exclusive).
    pub fn is_within_business_hours(&self, at: DateTime<Utc>) -> bool {
        self.business_interval(self.local_date(at))
            .is_some_and(|(open, close)| open <= at && at < close)
    }

    /// Business intervals whose close is after `from`, in order, starting on `from`'s local date.
    fn intervals_from(
        &self,
        from: DateTime<Utc>,
    ) -> impl Iterator<Item = Result<(DateTime<Utc>, DateTime<Utc>), CalendarError>> + '_ {
        let mut date = self.local_date(from);
        let mut closed_run: u32 = 0;
        std::iter::from_fn(move || loop {
            if closed_run > MAX_CONSECUTIVE_CLOSED_DAYS {
                return Some(Err(CalendarError::NoBusinessIntervalFound { after: from }));
            }
            let current = date;
            date = date.succ_opt()?;
            match self.business_interval(current) {
                Some((open, close)) if close > from => {
                    closed_run = 0;
                    return Some(Ok((open, close)));
                }
                Some(_) => closed_run = 0,
                None => closed_run += 1,
            }
        })
    }

    /// The first business opening at or after `at`, unless `at` is inside business hours,
    /// in which case `at` itself.
    pub fn next_business_instant(&self, at: DateTime<Utc>) -> Result<DateTime<Utc>, CalendarError> {
        match self.intervals_from(at).next() {
            Some(Ok((open, _))) => Ok(open.max(at)),
            Some(Err(e)) => Err(e),
            None => Err(CalendarError::NoBusinessIntervalFound { after: at }),
        }
    }

    /// The first business opening strictly after `at` (the start of the next business period).
    pub fn next_business_open_after(
        &self,
        at: DateTime<Utc>,
    ) -> Result<DateTime<Utc>, CalendarError> {
        for interval in self.intervals_from(at) {
            let (open, _) = interval?;
            if open > at {
                return Ok(open);
            }
        }
        Err(CalendarError::NoBusinessIntervalFound { after: at })
    }

    /// Adds business time: the instant at which `amount` of business time has elapsed after
    /// `start`. Time outside business hours does not count. Adding zero returns `start`.
    ///
    /// A positive amount always lands inside business hours or exactly on a closing time.
    pub fn add_business_duration(
        &self,
        start: DateTime<Utc>,
        amount: Duration,
    ) -> Result<DateTime<Utc>, CalendarError> {
        assert!(
            amount >= Duration::zero(),
            "business time cannot be added backwards"
        );
        if amount.is_zero() {
            return Ok(start);
        }
        let mut remaining = amount;
        for interval in self.intervals_from(start) {
            let (open, close) = interval?;
            let from = open.max(start);
            let available = close - from;
            if remaining <= available {
                return Ok(from + remaining);
            }
            remaining -= available;
        }
        Err(CalendarError::NoBusinessIntervalFound { after: start })
    }

    /// Adds whole business seconds (see [`Self::add_business_duration`]).
    pub fn add_business_secs(
        &self,
        start: DateTime<Utc>,
        secs: u64,
    ) -> Result<DateTime<Utc>, CalendarError> {
        let secs_i64 = i64::try_from(secs).map_err(|_| CalendarError::OutOfRange(secs))?;
        let amount = Duration::try_seconds(secs_i64).ok_or(CalendarError::OutOfRange(secs))?;
        self.add_business_duration(start, amount)
    }

    /// Adds business hours: "4 business hours after".
    pub fn add_business_hours(
        &self,
        start: DateTime<Utc>,
        hours: u64,
    ) -> Result<DateTime<Utc>, CalendarError> {
        let secs = hours
            .checked_mul(SECS_PER_HOUR)
            .ok_or(CalendarError::OutOfRange(hours))?;
        self.add_business_secs(start, secs)
    }

    /// The business time elapsed between two instants (zero if `to` is not after `from`).
    pub fn business_duration_between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Duration {
        let mut total = Duration::zero();
        if to <= from {
            return total;
        }
        let mut date = self.local_date(from);
        let last = self.local_date(to);
        while date <= last {
            if let Some((open, close)) = self.business_interval(date) {
                let a = open.max(from);
                let b = close.min(to);
                if a < b {
                    total += b - a;
                }
            }
            match date.succ_opt() {
                Some(next) => date = next,
                None => break,
            }
        }
        total
    }

    /// Whole business seconds elapsed between two instants, rounded down.
    pub fn business_secs_between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> u64 {
        u64::try_from(self.business_duration_between(from, to).num_seconds())
            .expect("a duration clamped at zero is not negative")
    }

    /// The next business day strictly after a local date.
    pub fn next_business_day(&self, date: NaiveDate) -> Result<NaiveDate, CalendarError> {
        let mut d = date;
        for _ in 0..=MAX_CONSECUTIVE_CLOSED_DAYS {
            d = d.succ_opt().ok_or(CalendarError::NoBusinessDays)?;
            if self.is_business_day(d) {
                return Ok(d);
            }
        }
        Err(CalendarError::NoBusinessIntervalFound {
            after: self.start_of_local_day(date),
        })
    }

    /// Adds business days: "2 business days after". The start is first moved to the next
    /// business instant (a request after hours counts from the next opening); the result is the
    /// same local time of day on the Nth following business day, kept inside that day's hours.
    pub fn add_business_days(
        &self,
        start: DateTime<Utc>,
        days: u64,
    ) -> Result<DateTime<Utc>, CalendarError> {
        let begin = self.next_business_instant(start)?;
        if days == 0 {
            return Ok(begin);
        }
        let local = begin.with_timezone(&self.time_zone);
        let time_of_day = local.time();
        let mut date = local.date_naive();
        for _ in 0..days {
            date = self.next_business_day(date)?;
        }
        let (open, close) = self
            .business_interval(date)
            .expect("next_business_day returns business days");
        let target = self.to_utc(date.and_time(time_of_day));
        Ok(target.clamp(open, close))
    }

    /// Counts business days in the half-open local date range `(from, to]`.
    pub fn business_days_between(&self, from: NaiveDate, to: NaiveDate) -> u64 {
        from.iter_days()
            .skip(1)
            .take_while(|d| *d <= to)
            .filter(|d| self.is_business_day(*d))
            .fold(0_u64, |n, _| n + 1)
    }

    /// The Nth business day (1-based) of a month.
    pub fn nth_business_day_of_month(
        &self,
        year: i32,
        month: u32,
        n: u64,
    ) -> Result<NaiveDate, CalendarError> {
        if n == 0 {
            return Err(CalendarError::ZeroOrdinal);
        }
        let first = NaiveDate::from_ymd_opt(year, month, 1).ok_or(CalendarError::OutOfRange(n))?;
        let mut seen: u64 = 0;
        for date in first.iter_days().take_while(|d| d.month() == month) {
            if self.is_business_day(date) {
                seen += 1;
                if seen == n {
                    return Ok(date);
                }
            }
        }
        Err(CalendarError::NotEnoughBusinessDays { year, month, n })
    }

    /// The Nth business day of the month after the local month of `at`:
    /// "by the 5th business day of the following month".
    pub fn nth_business_day_of_next_month(
        &self,
        at: DateTime<Utc>,
        n: u64,
    ) -> Result<NaiveDate, CalendarError> {
        let (year, month) = next_month(self.local_date(at));
        self.nth_business_day_of_month(year, month, n)
    }

    /// The end of the first business hour of the next business period: the first opening
    /// strictly after `at`, plus one business hour.
    pub fn end_of_first_business_hour_of_next_period(
        &self,
        at: DateTime<Utc>,
    ) -> Result<DateTime<Utc>, CalendarError> {
        let open = self.next_business_open_after(at)?;
        self.add_business_hours(open, 1)
    }

    /// The closing instant of the business day `at` falls on, or of the next business day if
    /// `at` is after that day's close or on a closed day ("same business day").
    pub fn end_of_business_day(&self, at: DateTime<Utc>) -> Result<DateTime<Utc>, CalendarError> {
        match self.intervals_from(at).next() {
            Some(Ok((_, close))) => Ok(close),
            Some(Err(e)) => Err(e),
            None => Err(CalendarError::NoBusinessIntervalFound { after: at }),
        }
    }
}

/// The (year, month) after a date's month.
pub fn next_month(date: NaiveDate) -> (i32, u32) {
    if date.month() == 12 {
        (date.year() + 1, 1)
    } else {
        (date.year(), date.month() + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::America::New_York;
    use chrono_tz::Europe::London;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn four_business_hours_roll_over_the_weekend() {
        let cal = BusinessCalendar::standard(New_York);
        // Friday 2024-03-08 15:00 EST = 20:00Z; 2 h left Friday, 2 h on Monday (now EDT).
        let due = cal
            .add_business_hours(utc("2024-03-08T20:00:00Z"), 4)
            .unwrap();
        // Monday 2024-03-11 11:00 EDT = 15:00Z: the DST change on Sunday shifts the UTC hour.
        assert_eq!(due, utc("2024-03-11T15:00:00Z"));
    }

    #[test]
    fn holidays_are_skipped() {
        let mut cal = BusinessCalendar::standard(London);
        cal.holidays.insert(date(2024, 12, 25));
        cal.holidays.insert(date(2024, 12, 26));
        let due = cal
            .add_business_hours(utc("2024-12-24T16:00:00Z"), 2)
            .unwrap();
        assert_eq!(due, utc("2024-12-27T10:00:00Z"));
    }

    #[test]
    fn after_hours_start_counts_from_next_opening() {
        let cal = BusinessCalendar::standard(London);
        let due = cal
            .add_business_hours(utc("2024-06-03T20:00:00Z"), 1)
            .unwrap();
        // 09:00 BST = 08:00Z, plus one hour.
        assert_eq!(due, utc("2024-06-04T09:00:00Z"));
    }

    #[test]
    fn two_business_days_keep_the_time_of_day() {
        let cal = BusinessCalendar::standard(New_York);
        // Thursday 10:00 EST → Monday 10:00 EST.
        let due = cal
            .add_business_days(utc("2024-02-01T15:00:00Z"), 2)
            .unwrap();
        assert_eq!(due, utc("2024-02-05T15:00:00Z"));
    }

    #[test]
    fn nth_business_day_of_next_month_skips_weekends_and_holidays() {
        let mut cal = BusinessCalendar::standard(New_York);
        // June 2024 starts on a Saturday; 3 June is Monday.
        assert_eq!(
            cal.nth_business_day_of_next_month(utc("2024-05-15T12:00:00Z"), 5)
                .unwrap(),
            date(2024, 6, 7)
        );
        cal.holidays.insert(date(2024, 6, 4));
        assert_eq!(
            cal.nth_business_day_of_month(2024, 6, 5).unwrap(),
            date(2024, 6, 10)
        );
        assert_eq!(
            cal.nth_business_day_of_next_month(utc("2024-12-10T12:00:00Z"), 1)
                .unwrap(),
            date(2025, 1, 1)
        );
        assert!(matches!(
            cal.nth_business_day_of_month(2024, 6, 40),
            Err(CalendarError::NotEnoughBusinessDays { .. })
        ));
    }

    #[test]
    fn end_of_first_business_hour_of_next_period() {
        let cal = BusinessCalendar::standard(New_York);
        // Saturday night → Monday 10:00 EDT.
        assert_eq!(
            cal.end_of_first_business_hour_of_next_period(utc("2024-06-08T03:00:00Z"))
                .unwrap(),
            utc("2024-06-10T14:00:00Z")
        );
    }

    #[test]
    fn opening_inside_a_dst_gap_moves_to_the_end_of_the_gap() {
        let mut cal = BusinessCalendar::standard(New_York);
        cal.business_days.push(Weekday::Sun);
        cal.opens_at = hm(2, 30);
        cal.closes_at = hm(4, 0);
        // 2024-03-10: 02:00 EST jumps to 03:00 EDT (07:00Z); the interval is 03:00–04:00 EDT.
        let (open, close) = cal.business_interval(date(2024, 3, 10)).unwrap();
        assert_eq!(open, utc("2024-03-10T07:00:00Z"));
        assert_eq!(close, utc("2024-03-10T08:00:00Z"));
    }

    #[test]
    fn broken_calendars_are_refused() {
        let mut cal = BusinessCalendar::standard(London);
        cal.business_days.clear();
        assert_eq!(cal.validate(), Err(CalendarError::NoBusinessDays));
        let mut cal = BusinessCalendar::standard(London);
        cal.closes_at = cal.opens_at;
        assert!(cal.validate().is_err());
        let mut cal = BusinessCalendar::standard(London);
        let start = date(2024, 1, 1);
        for d in start.iter_days().take(500) {
            cal.holidays.insert(d);
        }
        assert!(matches!(
            cal.add_business_hours(utc("2024-01-01T00:00:00Z"), 1),
            Err(CalendarError::NoBusinessIntervalFound { .. })
        ));
    }
}
