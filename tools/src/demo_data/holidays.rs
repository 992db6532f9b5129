//! Public holidays the demo clients list in their agreements, computed per jurisdiction and year.
//!
//! These are the holidays each client chose to close on, not a legal calendar: the agreement's
//! list is what the ledger honours. Islamic holidays observed in Pakistan move with the lunar
//! calendar and are left out, because a client would list the announced dates each year.

use chrono::{Datelike, Duration, NaiveDate, Weekday};

/// Which holiday list a client follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HolidayRegion {
    /// US federal holidays, moved to the nearest weekday when they fall on a weekend.
    UnitedStates,
    /// Bank holidays of England and Wales, with their substitute days.
    EnglandAndWales,
    /// Pakistan's fixed-date public holidays.
    Pakistan,
}

/// The holidays of a region in a year, ascending.
pub(crate) fn holidays(region: HolidayRegion, year: i32) -> Vec<NaiveDate> {
    let mut days: Vec<NaiveDate> = match region {
        HolidayRegion::UnitedStates => us_federal(year),
        HolidayRegion::EnglandAndWales => england_and_wales(year),
        HolidayRegion::Pakistan => [(2, 5), (3, 23), (5, 1), (8, 14), (11, 9), (12, 25)]
            .iter()
            .filter_map(|(m, d)| NaiveDate::from_ymd_opt(year, *m, *d))
            .collect(),
    };
    days.sort_unstable();
    days.dedup();
    days
}

/// The `n`th (1-based) given weekday of a month.
pub(crate) fn nth_weekday(year: i32, month: u32, weekday: Weekday, n: u32) -> Option<NaiveDate> {
    NaiveDate::from_weekday_of_month_opt(year, month, weekday, u8::try_from(n).ok()?)
}

/// The last given weekday of a month.
fn last_weekday(year: i32, month: u32, weekday: Weekday) -> Option<NaiveDate> {
    let first_of_next = if month == 12 {
        NaiveDate::from_ymd_opt(year + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(year, month + 1, 1)
    }?;
    let mut day = first_of_next.pred_opt()?;
    while day.weekday() != weekday {
        day = day.pred_opt()?;
    }
    Some(day)
}

/// A fixed-date US holiday on a Saturday is observed the Friday before, on a Sunday the Monday
/// after.
fn us_observed(date: NaiveDate) -> NaiveDate {
    match date.weekday() {
        Weekday::Sat => date - Duration::days(1),
        Weekday::Sun => date + Duration::days(1),
        _ => date,
    }
}

fn us_federal(year: i32) -> Vec<NaiveDate> {
    let fixed = [(1, 1), (6, 19), (7, 4), (11, 11), (12, 25)]
        .iter()
        .filter_map(|(m, d)| NaiveDate::from_ymd_opt(year, *m, *d))
        .map(us_observed);
    let floating = [
        nth_weekday(year, 1, Weekday::Mon, 3),
        nth_weekday(year, 2, Weekday::Mon, 3),
        last_weekday(year, 5, Weekday::Mon),
        nth_weekday(year, 9, Weekday::Mon, 1),
        nth_weekday(year, 10, Weekday::Mon, 2),
        nth_weekday(year, 11, Weekday::Thu, 4),
    ];
    fixed.chain(floating.into_iter().flatten()).collect()
}

/// Easter Sunday in the Gregorian calendar (the anonymous Gregorian algorithm).
fn easter_sunday(year: i32) -> Option<NaiveDate> {
    let a = year % 19;
    let b = year / 100;
    let c = year % 100;
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = u32::try_from((h + l - 7 * m + 114) / 31).ok()?;
    let day = u32::try_from((h + l - 7 * m + 114) % 31 + 1).ok()?;
    NaiveDate::from_ymd_opt(year, month, day)
}

fn england_and_wales(year: i32) -> Vec<NaiveDate> {
    let mut days = Vec::new();
    if let Some(new_year) = NaiveDate::from_ymd_opt(year, 1, 1) {
        days.push(match new_year.weekday() {
            Weekday::Sat => new_year + Duration::days(2),
            Weekday::Sun => new_year + Duration::days(1),
            _ => new_year,
        });
    }
    if let Some(easter) = easter_sunday(year) {
        days.push(easter - Duration::days(2));
        days.push(easter + Duration::days(1));
    }
    days.extend(nth_weekday(year, 5, Weekday::Mon, 1));
    days.extend(last_weekday(year, 5, Weekday::Mon));
    days.extend(last_weekday(year, 8, Weekday::Mon));
    if let Some(christmas) = NaiveDate::from_ymd_opt(year, 12, 25) {
        // Christmas and Boxing Day each move to the next free weekday when they fall on a weekend.
        let (christmas_observed, boxing_observed) = match christmas.weekday() {
            Weekday::Fri => (christmas, christmas + Duration::days(3)),
            Weekday::Sat => (christmas + Duration::days(2), christmas + Duration::days(3)),
            Weekday::Sun => (christmas + Duration::days(2), christmas + Duration::days(1)),
            _ => (christmas, christmas + Duration::days(1)),
        };
        days.push(christmas_observed);
        days.push(boxing_observed);
    }
    days
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn known_holidays_land_on_their_published_dates() {
        let us = holidays(HolidayRegion::UnitedStates, 2026);
        assert!(us.contains(&d(2026, 10, 12)), "Columbus Day 2026");
        assert!(us.contains(&d(2026, 11, 26)), "Thanksgiving 2026");
        assert!(
            us.contains(&d(2026, 7, 3)),
            "Independence Day 2026 observed on Friday"
        );
        let uk = holidays(HolidayRegion::EnglandAndWales, 2026);
        assert!(uk.contains(&d(2026, 4, 3)), "Good Friday 2026");
        assert!(uk.contains(&d(2026, 12, 28)), "Boxing Day 2026 substitute");
        assert_eq!(easter_sunday(2027), Some(d(2027, 3, 28)));
        assert!(holidays(HolidayRegion::Pakistan, 2026).contains(&d(2026, 11, 9)));
    }
}
