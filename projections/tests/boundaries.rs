//! A boundary table per clocked rule: the due instant its value gives from a clock start
//! (`domain::deadlines::rule_due_at`, the one reading of each rule), and the verdict of a
//! meeting exactly at it (met) and one second over (missed by one second), with clock starts
//! across the New York daylight-saving changes (10 March and 3 November 2024) and month ends.

mod support;

use chrono::Duration;
use opsledger_domain::deadlines::rule_due_at;
use opsledger_domain::events::ExcuseCause;
use opsledger_domain::excuses::cause_concerns;
use opsledger_domain::ids::ExcusedWindowId;
use opsledger_domain::rules::{RuleId, RuleValue};
use opsledger_projections::verdict::{judge_deadline, ExcusedWindow, Shortfall, Unit, Verdict};
use support::{calendar, t};

struct Row {
    rule: RuleId,
    value: RuleValue,
    clock_start: &'static str,
    due: &'static str,
    why: &'static str,
}

fn rows() -> Vec<Row> {
    use RuleValue as V;
    vec![
        Row {
            rule: RuleId::Ans1,
            value: V::Seconds(8),
            clock_start: "2024-03-10T06:59:55Z",
            due: "2024-03-10T07:00:03Z",
            why: "elapsed seconds straddle the spring-forward instant unchanged",
        },
        Row {
            rule: RuleId::Ans2,
            value: V::Seconds(45),
            clock_start: "2024-03-31T23:59:30Z",
            due: "2024-04-01T00:00:15Z",
            why: "elapsed seconds across a month end",
        },
        Row {
            rule: RuleId::Esc1,
            value: V::Minutes(3),
            clock_start: "2024-11-03T05:59:00Z",
            due: "2024-11-03T06:02:00Z",
            why: "elapsed minutes across the fall-back instant",
        },
        Row {
            rule: RuleId::Esc2,
            value: V::Immediate,
            clock_start: "2024-10-31T23:59:30Z",
            due: "2024-11-01T00:00:30Z",
            why: "immediately: within 60 s, across a month end",
        },
        Row {
            rule: RuleId::Qa2,
            value: V::Hours(24),
            clock_start: "2024-03-09T17:00:00Z",
            due: "2024-03-10T17:00:00Z",
            why: "24 elapsed hours, whatever the wall clock does",
        },
        Row {
            rule: RuleId::Qa3,
            value: V::BusinessDays(2),
            clock_start: "2024-03-08T16:30:00Z",
            due: "2024-03-12T15:30:00Z",
            why: "Friday 11:30 EST plus two business days is Tuesday 11:30 EDT",
        },
        Row {
            rule: RuleId::Qa5,
            value: V::SameBusinessDay,
            clock_start: "2024-02-29T15:00:00Z",
            due: "2024-02-29T22:00:00Z",
            why: "the end of the business day, 17:00 EST, on the last day of February",
        },
        Row {
            rule: RuleId::Com1,
            value: V::BusinessHoursElseFirstHourOfNextPeriod(4),
            clock_start: "2024-03-08T20:00:00Z",
            due: "2024-03-11T15:00:00Z",
            why: "15:00 EST Friday: two hours then, two more from 09:00 EDT Monday (11:00 EDT)",
        },
        Row {
            rule: RuleId::Rep1,
            value: V::NthBusinessDayOfNextMonth(5),
            clock_start: "2024-10-01T04:00:00Z",
            due: "2024-11-08T05:00:00Z",
            why: "the end of the 5th business day of November, after the fall-back",
        },
        Row {
            rule: RuleId::Ret1,
            value: V::Days(90),
            clock_start: "2024-09-01T16:00:00Z",
            due: "2024-11-30T17:00:00Z",
            why: "at least 90 days: same local time, noon EDT to noon EST",
        },
        Row {
            rule: RuleId::Ret2,
            value: V::Days(30),
            clock_start: "2024-10-15T16:00:00Z",
            due: "2024-11-15T05:00:00Z",
            why: "within 30 days: to the end of the 30th local day, EST",
        },
        Row {
            rule: RuleId::Bil2,
            value: V::Days(14),
            clock_start: "2024-10-31T04:00:00Z",
            due: "2024-11-15T05:00:00Z",
            why: "dated 31 October: due by the end of 14 November, across the change",
        },
        Row {
            rule: RuleId::Bil4,
            value: V::Days(30),
            clock_start: "2024-10-20T16:00:00Z",
            due: "2024-11-19T17:00:00Z",
            why: "takes effect 30 days after: the same local time, noon",
        },
        Row {
            rule: RuleId::Trm1,
            value: V::Days(30),
            clock_start: "2024-03-01T05:00:00Z",
            due: "2024-03-31T04:00:00Z",
            why: "local midnight to local midnight across the spring-forward",
        },
        Row {
            rule: RuleId::Amd1,
            value: V::Days(14),
            clock_start: "2024-01-31T17:00:00Z",
            due: "2024-02-14T17:00:00Z",
            why: "14 days across a month end, no change of offset",
        },
    ]
}

#[test]
fn every_clocked_rule_is_met_exactly_at_its_due_instant_and_missed_one_second_over() {
    let ny = calendar("America/New_York");
    for row in rows() {
        let start = t(row.clock_start);
        let due = t(row.due);
        assert_eq!(
            rule_due_at(row.rule, &row.value, &ny, start).unwrap(),
            Some(due),
            "{}: {}",
            row.rule,
            row.why
        );
        let at_target = judge_deadline(row.rule, &row.value, &ny, start, Some(due), &[], due);
        assert_eq!(
            at_target.verdict,
            Verdict::Met { met_at: due },
            "{}",
            row.rule
        );
        let over = due + Duration::seconds(1);
        let one_over = judge_deadline(row.rule, &row.value, &ny, start, Some(over), &[], over);
        assert_eq!(
            one_over.verdict,
            Verdict::Missed {
                by: Shortfall {
                    amount: 1,
                    unit: Unit::Seconds
                },
                met_at: Some(over)
            },
            "{}",
            row.rule
        );
        // Not yet met exactly at the due instant is still pending; a second later, missed.
        let pending = judge_deadline(row.rule, &row.value, &ny, start, None, &[], due);
        assert!(
            matches!(pending.verdict, Verdict::Pending { due_at: Some(d), .. } if d == due),
            "{}",
            row.rule
        );
    }
}

#[test]
fn a_window_holding_the_performance_excuses_one_second_over_only_when_its_cause_concerns_the_rule()
{
    let ny = calendar("America/New_York");
    for row in rows() {
        for cause in [
            ExcuseCause::ForceMajeure,
            ExcuseCause::MissingCredentials,
            ExcuseCause::UnnotifiedVolumeChange,
            ExcuseCause::AwaitingClientResponse,
        ] {
            // A window awaiting the client's answer excuses only the rules its communication
            // named; here R-DOC-2 (documentation delivery waiting on the client's instructions).
            let rules = if cause == ExcuseCause::AwaitingClientResponse {
                vec![RuleId::Doc2]
            } else {
                vec![]
            };
            let start = t(row.clock_start);
            let due = t(row.due);
            let window = ExcusedWindow {
                window_id: ExcusedWindowId::new("w").unwrap(),
                cause,
                from: start - Duration::seconds(1),
                to: Some(due + Duration::minutes(10)),
                evidence: vec![],
                rules: rules.clone(),
            };
            let over = due + Duration::seconds(1);
            let judged = judge_deadline(
                row.rule,
                &row.value,
                &ny,
                start,
                Some(over),
                std::slice::from_ref(&window),
                over,
            );
            let excused = matches!(judged.verdict, Verdict::Excused { .. });
            assert_eq!(
                excused,
                cause_concerns(cause, row.rule) && (rules.is_empty() || rules.contains(&row.rule)),
                "{} with a {cause:?} window: {:?}",
                row.rule,
                judged.verdict
            );
        }
    }
}
