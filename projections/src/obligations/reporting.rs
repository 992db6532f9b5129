//! Obligations of communication and reporting: account issues (R-COM-1) and the monthly and
//! quarterly rules (R-REP-*, R-QA-4), dispatching the other monthly rules to their areas.

use chrono::{DateTime, Utc};
use opsledger_domain::events::MonthlyReportKind;
use opsledger_domain::rules::RuleId;

use super::billing::monthly_invoice;
use super::quality::month_qa_coverage;
use super::{Ctx, Subject};
use crate::position::{EventRef, Period, YearMonth};
use crate::report::{month_period, months_in, quarter, quarter_start};
use crate::verdict::{judge_deadline, no_deadline_verdict};

/// R-COM-1 for account issues identified in the period.
pub(super) fn account_issues(ctx: &mut Ctx<'_>) {
    let model = ctx.model;
    let client = ctx.client;
    for slot in &client.account_issues {
        if let Some(i) = model.account_issues.get(*slot) {
            if ctx.in_period(&i.identified) {
                let subject = Subject::AccountIssue {
                    issue_id: i.id.clone(),
                };
                ctx.deadline(RuleId::Com1, subject, i.identified, ctx.seen(i.closed));
            }
        }
    }
}

/// A synthetic clock-start reference for month- and quarter-level rules, which no single event starts.
fn no_event(at: DateTime<Utc>) -> EventRef {
    EventRef {
        position: u64::MAX,
        event_id: uuid::Uuid::nil(),
        recorded_at: at,
        occurred_at: at,
    }
}

pub(super) fn months(ctx: &mut Ctx<'_>) {
    let client = ctx.client;
    let onboarded = client.onboarded.occurred_at;
    let terminated = ctx.seen(client.terminated).map(|t| t.occurred_at);
    for month in months_in(ctx.rules, ctx.period) {
        let bounds = month_period(ctx.rules, month);
        if bounds.to <= onboarded || terminated.is_some_and(|t| t <= bounds.from) {
            continue;
        }
        month_qa_coverage(ctx, month, bounds);
        monthly_invoice(ctx, month, bounds);
        for (rule, kind) in [
            (RuleId::Rep1, MonthlyReportKind::Performance),
            (RuleId::Rep2, MonthlyReportKind::Summary),
        ] {
            let met = ctx
                .client
                .monthly_reports
                .iter()
                .filter(|d| ctx.as_of.sees(&d.event) && d.month == month && d.kind == kind)
                .map(|d| d.event)
                .next();
            month_rule(ctx, rule, month, bounds, met, rule);
        }
        // R-QA-4 is due with the monthly performance report, so it takes R-REP-1's deadline.
        let met = ctx
            .client
            .qa_summaries
            .iter()
            .filter(|d| ctx.as_of.sees(&d.event) && d.month == month)
            .map(|d| d.event)
            .next();
        month_rule(ctx, RuleId::Qa4, month, bounds, met, RuleId::Rep1);
        // R-REP-3: quarters starting in the period.
        if (month.month - 1) % 3 == 0 {
            let q = quarter(month);
            let met = ctx
                .client
                .quarterly_reviews
                .iter()
                .filter(|r| ctx.as_of.sees(&r.event) && r.year == month.year && r.quarter == q)
                .map(|r| r.event)
                .next();
            let start = no_event(month_period(ctx.rules, quarter_start(month.year, q)).from);
            let value = ctx.value(RuleId::Rep3, start.occurred_at);
            let calendar = &ctx.rules.agreement_at(start.occurred_at).calendar;
            let judged = judge_deadline(
                RuleId::Rep3,
                &value,
                calendar,
                start.occurred_at,
                met.map(|m| m.occurred_at),
                &ctx.windows,
                ctx.evaluated_at,
            );
            let verdict =
                ctx.unless_no_data(RuleId::Rep3, judged.due_at, met.is_some(), judged.verdict);
            ctx.push(
                RuleId::Rep3,
                Subject::Quarter {
                    year: month.year,
                    quarter: q,
                },
                Some(start.occurred_at),
                value,
                judged.due_at,
                verdict,
                met.as_slice(),
                judged.note.as_deref(),
            );
        }
    }
}

/// A monthly delivery rule; `deadline_rule` names the rule whose value gives the deadline.
fn month_rule(
    ctx: &mut Ctx<'_>,
    rule: RuleId,
    month: YearMonth,
    bounds: Period,
    met: Option<EventRef>,
    deadline_rule: RuleId,
) {
    let own_value = ctx.value(rule, bounds.from);
    if let Some(verdict) = no_deadline_verdict(rule, &own_value) {
        ctx.push(
            rule,
            Subject::Month { month },
            Some(bounds.to),
            own_value,
            None,
            verdict,
            &[],
            None,
        );
        return;
    }
    let value = ctx.value(deadline_rule, bounds.from);
    let calendar = &ctx.rules.agreement_at(bounds.from).calendar;
    let judged = judge_deadline(
        deadline_rule,
        &value,
        calendar,
        bounds.from,
        met.map(|m| m.occurred_at),
        &ctx.windows,
        ctx.evaluated_at,
    );
    let verdict = ctx.unless_no_data(rule, judged.due_at, met.is_some(), judged.verdict);
    ctx.push(
        rule,
        Subject::Month { month },
        Some(bounds.to),
        own_value,
        judged.due_at,
        verdict,
        met.as_slice(),
        judged.note.as_deref(),
    );
}
