//! Deadlines: turning a rule value in force and the instant its clock started into a due instant.
//!
//! Projections call [`due_at`] with the value from `rules_in_force::value_at` (taken at the
//! clock start) and the client's calendar in force then, so every rule's deadline is computed the
//! same way. Rules without a computable deadline (shares, counts, qualitative standards,
//! unconfigured or not applicable) give `None`.

use chrono::{DateTime, Datelike, Duration, Months, NaiveDate, Utc};

use crate::calendar::{BusinessCalendar, CalendarError};
use crate::rules::{RuleId, RuleValue, SOP_IMMEDIATE_TOLERANCE_SECS};

/// Months in a calendar quarter.
const MONTHS_PER_QUARTER: u32 = 3;
/// Months in a year.
const MONTHS_PER_YEAR: u32 = 12;

/// The instant by which a rule with value `value`, whose clock started at `clock_start`, is due.
///
/// For [`RuleValue::NthBusinessDayOfNextMonth`], `clock_start` is any instant inside the month
/// being reported; the deadline is the end of the Nth business day of the following month.
pub fn due_at(
    value: &RuleValue,
    calendar: &BusinessCalendar,
    clock_start: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, CalendarError> {
    let elapsed = |d: Option<Duration>, n: u64| -> Result<Option<DateTime<Utc>>, CalendarError> {
        let d = d.ok_or(CalendarError::OutOfRange(n))?;
        clock_start
            .checked_add_signed(d)
            .map(Some)
            .ok_or(CalendarError::OutOfRange(n))
    };
    let signed = |n: u64| i64::try_from(n).map_err(|_| CalendarError::OutOfRange(n));
    Ok(match value {
        RuleValue::Seconds(n) => elapsed(Duration::try_seconds(signed(*n)?), *n)?,
        RuleValue::Minutes(n) => elapsed(Duration::try_minutes(signed(*n)?), *n)?,
        RuleValue::Hours(n) => elapsed(Duration::try_hours(signed(*n)?), *n)?,
        RuleValue::Days(n) => Some(calendar.add_local_days(clock_start, *n)?),
        RuleValue::Years(n) => {
            let months = u32::try_from(*n)
                .ok()
                .and_then(|y| y.checked_mul(MONTHS_PER_YEAR))
                .ok_or(CalendarError::OutOfRange(*n))?;
            Some(
                clock_start
                    .checked_add_months(Months::new(months))
                    .ok_or(CalendarError::OutOfRange(*n))?,
            )
        }
        RuleValue::BusinessDays(n) => Some(calendar.add_business_days(clock_start, *n)?),
        RuleValue::BusinessHours(n) => Some(calendar.add_business_hours(clock_start, *n)?),
        RuleValue::BusinessHoursElseFirstHourOfNextPeriod(n) => {
            if calendar.is_within_business_hours(clock_start) {
                Some(calendar.add_business_hours(clock_start, *n)?)
            } else {
                Some(calendar.end_of_first_business_hour_of_next_period(clock_start)?)
            }
        }
        RuleValue::NthBusinessDayOfNextMonth(n) => {
            let day = calendar.nth_business_day_of_next_month(clock_start, *n)?;
            Some(calendar.end_of_local_day(day))
        }
        RuleValue::WithinCalendarQuarter => {
            Some(calendar.end_of_local_day(last_day_of_quarter(calendar.local_date(clock_start))))
        }
        RuleValue::Immediate => elapsed(
            Duration::try_seconds(signed(SOP_IMMEDIATE_TOLERANCE_SECS)?),
            SOP_IMMEDIATE_TOLERANCE_SECS,
        )?,
        RuleValue::SameBusinessDay => Some(calendar.end_of_business_day(clock_start)?),
        RuleValue::BasisPoints(_)
        | RuleValue::Agents(_)
        | RuleValue::WithMonthlyReport
        | RuleValue::NoLaterThanPeriodStart
        | RuleValue::NoticeMustPrecede
        | RuleValue::OnOrAfterTerminationDate
        | RuleValue::TrailingFeesMonths(_)
        | RuleValue::Currency(_)
        | RuleValue::Languages(_)
        | RuleValue::Qualitative
        | RuleValue::NotApplicable
        | RuleValue::Unconfigured => None,
    })
}

/// R-RET-2's deletion deadline with legal holds (the catalog's Readings): the deadline `due` of
/// a clock started at `clock_start` is extended by the time legal holds were active while the
/// clock ran; the clock stands still while any hold is active. `holds` are `(placed, released)`
/// intervals, `released` being `None` for a hold still active. Times are measured and added on
/// the client's local wall clock, so a hold from noon to noon extends by whole days and a
/// daylight-saving change never moves the deadline by an hour.
///
/// Returns `None` while a hold that stopped the clock is still active: the deadline is not known
/// until it is released. A hold placed after the (extended) deadline had passed does not extend
/// it: the deletion was already late. One definition, used by the obligation verdict and the
/// retention report.
pub fn extended_by_holds(
    calendar: &BusinessCalendar,
    clock_start: DateTime<Utc>,
    due: DateTime<Utc>,
    holds: &[(DateTime<Utc>, Option<DateTime<Utc>>)],
) -> Option<DateTime<Utc>> {
    let local = |at: DateTime<Utc>| at.with_timezone(&calendar.time_zone).naive_local();
    let mut intervals: Vec<(DateTime<Utc>, Option<DateTime<Utc>>)> = holds
        .iter()
        .map(|(placed, released)| ((*placed).max(clock_start), *released))
        .filter(|(from, released)| released.map_or(true, |r| r > *from))
        .collect();
    intervals.sort_by_key(|(from, _)| *from);
    let mut extended = due;
    // The end of the hold time already counted, so overlapping holds count once.
    let mut counted_until = clock_start;
    for (from, released) in intervals {
        if from > extended {
            break;
        }
        let from = from.max(counted_until);
        let until = released?;
        if until > from {
            let held = local(until) - local(from);
            extended = local(extended)
                .checked_add_signed(held)
                .map_or(extended, |moved| calendar.to_utc(moved));
            counted_until = until;
        }
    }
    Some(extended)
}

/// The deadline of rule `rule` with value `value` whose clock started at `clock_start`: the one
/// place where a rule's reading of its value is decided (the catalog's Readings), used by
/// `decide`, the verdicts and the reports alike.
///
/// Days are the client's local calendar days. Rules worded "within N days of X" (R-RET-2: data
/// deleted within 30 days of termination; R-BIL-2: payment due within 14 days of the invoice
/// date) run to the end of the N-th local day after X's local date; every other count of days
/// ("takes effect N days after", "kept at least N days") is the same local wall-clock time N
/// local days later ([`due_at`]).
pub fn rule_due_at(
    rule: RuleId,
    value: &RuleValue,
    calendar: &BusinessCalendar,
    clock_start: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, CalendarError> {
    match (rule, value) {
        (RuleId::Ret2 | RuleId::Bil2, RuleValue::Days(n)) => {
            Ok(Some(calendar.end_of_nth_local_day_after(clock_start, *n)?))
        }
        _ => due_at(value, calendar, clock_start),
    }
}

/// The last local date of the calendar quarter containing `date`.
pub fn last_day_of_quarter(date: NaiveDate) -> NaiveDate {
    let quarter_index = date.month0() / MONTHS_PER_QUARTER;
    let first_month_next = (quarter_index + 1) * MONTHS_PER_QUARTER + 1;
    let first_of_next = if first_month_next > MONTHS_PER_YEAR {
        NaiveDate::from_ymd_opt(date.year() + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(date.year(), first_month_next, 1)
    };
    first_of_next
        .and_then(|d| d.pred_opt())
        .expect("quarter ends of supported years are valid dates")
}

/// The calendar quarter (1–4) of a date.
pub fn quarter_of(date: NaiveDate) -> u32 {
    date.month0() / MONTHS_PER_QUARTER + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn holds_extend_by_their_active_time_once_and_only_while_the_clock_runs() {
        let utc = BusinessCalendar::standard(chrono_tz::UTC);
        let start = at("2024-07-01T00:00:00Z");
        let due = at("2024-07-31T00:00:00Z");
        // Placed before the clock started: only the part after it counts (5 days).
        let before = [(at("2024-06-01T00:00:00Z"), Some(at("2024-07-06T00:00:00Z")))];
        assert_eq!(
            extended_by_holds(&utc, start, due, &before),
            Some(at("2024-08-05T00:00:00Z"))
        );
        // Two overlapping holds, 10–20 July and 15–25 July: 15 days, counted once.
        let overlapping = [
            (at("2024-07-10T00:00:00Z"), Some(at("2024-07-20T00:00:00Z"))),
            (at("2024-07-15T00:00:00Z"), Some(at("2024-07-25T00:00:00Z"))),
        ];
        assert_eq!(
            extended_by_holds(&utc, start, due, &overlapping),
            Some(at("2024-08-15T00:00:00Z"))
        );
        // Still active: unknown. Placed after the deadline passed: no extension.
        assert_eq!(
            extended_by_holds(&utc, start, due, &[(at("2024-07-10T00:00:00Z"), None)]),
            None
        );
        assert_eq!(
            extended_by_holds(&utc, start, due, &[(at("2024-08-10T00:00:00Z"), None)]),
            Some(due)
        );
    }
}
