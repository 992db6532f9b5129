//! Property tests of business-time arithmetic across zones with and without DST.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use opsledger_domain::calendar::BusinessCalendar;
use proptest::prelude::*;

const ZONES: [Tz; 6] = [
    chrono_tz::America::New_York,
    chrono_tz::Europe::London,
    chrono_tz::Australia::Sydney,
    chrono_tz::Asia::Karachi,
    chrono_tz::America::Sao_Paulo,
    chrono_tz::Australia::Lord_Howe,
];

fn calendar_strategy() -> impl Strategy<Value = BusinessCalendar> {
    (
        0..ZONES.len(),
        0_u32..12,
        1_u32..12,
        prop::collection::vec(0_u32..7, 1..7),
        prop::collection::vec(0_i64..800, 0..20),
        0_u32..4,
    )
        .prop_map(|(zone, open_h, len_h, days, holidays, open_q)| {
            let opens_at = NaiveTime::from_hms_opt(open_h, open_q * 15, 0).unwrap();
            let close_h = (open_h + len_h).min(23);
            let closes_at = NaiveTime::from_hms_opt(close_h, 45, 0).unwrap();
            let base = NaiveDate::from_ymd_opt(2023, 1, 1).unwrap();
            let mut business_days: Vec<Weekday> = days
                .into_iter()
                .map(|d| Weekday::try_from(u8::try_from(d).unwrap()).unwrap())
                .collect();
            business_days.sort_by_key(|d| d.num_days_from_monday());
            business_days.dedup();
            BusinessCalendar {
                time_zone: ZONES[zone],
                business_days,
                opens_at,
                closes_at,
                holidays: holidays
                    .into_iter()
                    .map(|n| base + Duration::days(n))
                    .collect(),
            }
        })
}

fn instant_strategy() -> impl Strategy<Value = DateTime<Utc>> {
    // 2023-01-01 to about 2025-03, to the second.
    (0_i64..70_000_000).prop_map(|s| Utc.timestamp_opt(1_672_531_200 + s, 0).unwrap())
}

fn within_or_at_close(cal: &BusinessCalendar, at: DateTime<Utc>) -> bool {
    cal.business_interval(cal.local_date(at))
        .is_some_and(|(open, close)| open <= at && at <= close)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn adding_business_time_lands_inside_business_hours(
        cal in calendar_strategy(),
        start in instant_strategy(),
        secs in 1_u64..(200 * 3_600),
    ) {
        let end = cal.add_business_secs(start, secs).unwrap();
        prop_assert!(end > start);
        prop_assert!(within_or_at_close(&cal, end), "{end} outside hours");
    }

    #[test]
    fn adding_then_counting_gives_back_the_same_amount(
        cal in calendar_strategy(),
        start in instant_strategy(),
        secs in 0_u64..(200 * 3_600),
    ) {
        let end = cal.add_business_secs(start, secs).unwrap();
        prop_assert_eq!(cal.business_secs_between(start, end), secs);
    }

    #[test]
    fn counting_is_additive(
        cal in calendar_strategy(),
        a in instant_strategy(),
        gap1 in 0_i64..2_000_000,
        gap2 in 0_i64..2_000_000,
    ) {
        let b = a + Duration::seconds(gap1);
        let c = b + Duration::seconds(gap2);
        prop_assert_eq!(
            cal.business_duration_between(a, b) + cal.business_duration_between(b, c),
            cal.business_duration_between(a, c)
        );
    }

    #[test]
    fn adding_business_days_lands_on_a_business_day_in_hours(
        cal in calendar_strategy(),
        start in instant_strategy(),
        days in 0_u64..30,
    ) {
        let end = cal.add_business_days(start, days).unwrap();
        prop_assert!(end >= start);
        prop_assert!(cal.is_business_day(cal.local_date(end)));
        prop_assert!(within_or_at_close(&cal, end));
        let begin = cal.next_business_instant(start).unwrap();
        prop_assert_eq!(cal.business_days_between(cal.local_date(begin), cal.local_date(end)), days);
    }

    #[test]
    fn nth_business_day_of_next_month_is_a_business_day_of_that_month(
        cal in calendar_strategy(),
        at in instant_strategy(),
        n in 1_u64..5,
    ) {
        let local = cal.local_date(at);
        if let Ok(day) = cal.nth_business_day_of_next_month(at, n) {
            prop_assert!(cal.is_business_day(day));
            let expected_month = if local.month() == 12 { 1 } else { local.month() + 1 };
            prop_assert_eq!(day.month(), expected_month);
            let first = day.with_day(1).unwrap().pred_opt().unwrap();
            prop_assert_eq!(cal.business_days_between(first, day), n);
        }
    }

    #[test]
    fn first_hour_of_next_period_is_one_business_hour_after_an_opening(
        cal in calendar_strategy(),
        at in instant_strategy(),
    ) {
        let end = cal.end_of_first_business_hour_of_next_period(at).unwrap();
        let open = cal.next_business_open_after(at).unwrap();
        prop_assert!(open > at);
        prop_assert_eq!(cal.business_secs_between(open, end), 3_600);
    }
}
