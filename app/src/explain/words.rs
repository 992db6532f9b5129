//! The words of a dispute view: durations, rule values and verdicts as people say them, and the
//! catalog's statement of each rule.

use chrono_tz::Tz;
use opsledger_domain::money::Money;
use opsledger_domain::rules::{RuleId, RuleValue, BASIS_POINTS_PER_WHOLE};
use opsledger_projections::obligations::Obligation;
use opsledger_projections::verdict::{Unit, Verdict};

/// Money in major units with two decimals, thousands grouped, and its currency:
/// "193,185.00 PKR" (R-BIL-5's currencies have two decimals; the JSON keeps minor units).
pub fn money(m: &Money) -> String {
    let sign = if m.amount_minor < 0 { "−" } else { "" };
    let abs = m.amount_minor.unsigned_abs();
    let digits = (abs / 100).to_string();
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!("{sign}{grouped}.{:02} {}", abs % 100, m.currency)
}

/// A duration in whole seconds, for people: "4 min 12 s", "2 h 5 min", "3 d 4 h".
pub fn human_secs(secs: u64) -> String {
    let (d, h, m, s) = (
        secs / 86_400,
        secs % 86_400 / 3_600,
        secs % 3_600 / 60,
        secs % 60,
    );
    let parts: Vec<String> = [(d, "d"), (h, "h"), (m, "min"), (s, "s")]
        .into_iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, unit)| format!("{n} {unit}"))
        .collect();
    match parts.as_slice() {
        [] => "0 s".to_owned(),
        // Two units say enough to a reader; the exact figure is in the JSON.
        [a] => a.clone(),
        [a, b, ..] => format!("{a} {b}"),
    }
}

/// A rule value in words.
pub fn value_text(value: &RuleValue) -> String {
    let plural = |n: u64, one: &str, many: &str| {
        if n == 1 {
            format!("1 {one}")
        } else {
            format!("{n} {many}")
        }
    };
    match value {
        RuleValue::Seconds(n) => human_secs(*n),
        RuleValue::Minutes(n) => human_secs(n.saturating_mul(60)),
        RuleValue::Hours(n) => human_secs(n.saturating_mul(3_600)),
        RuleValue::Days(n) => plural(*n, "day (client-local)", "days (client-local)"),
        RuleValue::Years(n) => plural(*n, "year", "years"),
        RuleValue::BusinessDays(n) => plural(*n, "business day", "business days"),
        RuleValue::BusinessHours(n) => plural(*n, "business hour", "business hours"),
        RuleValue::BusinessHoursElseFirstHourOfNextPeriod(n) => format!(
            "{} in business hours, else the end of the first business hour of the next period",
            plural(*n, "business hour", "business hours")
        ),
        RuleValue::NthBusinessDayOfNextMonth(n) => {
            format!("business day {n} of the next month")
        }
        RuleValue::WithinCalendarQuarter => "within the calendar quarter".to_owned(),
        RuleValue::Immediate => format!(
            "immediately (within {} s)",
            opsledger_domain::rules::SOP_IMMEDIATE_TOLERANCE_SECS
        ),
        RuleValue::SameBusinessDay => "the same business day".to_owned(),
        RuleValue::BasisPoints(bp) => format!("{} %", percent(*bp)),
        RuleValue::Agents(n) => plural(*n, "agent", "agents"),
        RuleValue::WithMonthlyReport => "with the monthly report".to_owned(),
        RuleValue::NoLaterThanPeriodStart => "no later than the period's first day".to_owned(),
        RuleValue::NoticeMustPrecede => "a written notice must precede it".to_owned(),
        RuleValue::OnOrAfterTerminationDate => "on or after the termination date".to_owned(),
        RuleValue::TrailingFeesMonths(n) => format!("fees of the {n} preceding months"),
        RuleValue::Currency(c) => c.to_string(),
        RuleValue::Languages(l) => l.join(", "),
        RuleValue::Qualitative => {
            "qualitative (no number: judged by the events themselves)".to_owned()
        }
        RuleValue::NotApplicable => "not applicable".to_owned(),
        RuleValue::Unconfigured => "unconfigured".to_owned(),
    }
}

fn percent(bp: u64) -> String {
    let per_percent = BASIS_POINTS_PER_WHOLE / 100;
    format!("{}.{:02}", bp / per_percent, bp % per_percent)
}

/// The verdict in words, with by how much.
pub fn outcome(o: &Obligation, zone: Tz) -> String {
    match &o.verdict {
        Verdict::Met { met_at } => match o.due_at {
            Some(due) if *met_at <= due => {
                let early = u64::try_from((due - *met_at).num_seconds()).unwrap_or(0);
                format!("met, {} before the due instant", human_secs(early))
            }
            _ => "met".to_owned(),
        },
        Verdict::Missed { by, met_at } => {
            let amount = match by.unit {
                Unit::Seconds => human_secs(by.amount),
                Unit::Days => format!("{} day(s)", by.amount),
                Unit::BasisPoints => format!("{} percentage points", percent(by.amount)),
                Unit::Findings => format!("{} finding(s) or field(s)", by.amount),
            };
            match met_at {
                Some(_) => format!("missed by {amount} (performed late)"),
                None => format!("missed by {amount} (not performed by the evaluation instant)"),
            }
        }
        Verdict::Pending { due_at, held_by } if !held_by.is_empty() => {
            format!("pending, held by {}", held_by.join(", "))
        }
        Verdict::Pending {
            due_at: Some(due), ..
        } => format!("pending, due {}", super::local(*due, zone)),
        Verdict::Pending { .. } => "pending".to_owned(),
        Verdict::Excused { window_ids, .. } => {
            let ids: Vec<&str> = window_ids.iter().map(|w| w.as_str()).collect();
            format!("excused by window {}", ids.join(", "))
        }
        Verdict::ChainExhausted { last_tier } => {
            format!("chain exhausted: tier {last_tier}, the last of the chain, was unreachable")
        }
        Verdict::NoData { reason, .. } => format!("no data recorded: {reason}"),
        Verdict::NotApplicable { reason } => format!("not applicable: {reason}"),
        Verdict::Unconfigured { missing } => format!("unconfigured: {missing}"),
        Verdict::NotComputable { reason } => format!("not computable: {reason}"),
    }
}

/// The catalog's statement of a rule (`../shared/spec/sop-rules.md`), with its seed section.
pub fn rule_text(rule: RuleId) -> String {
    let text = match rule {
        RuleId::Ans1 => "answer target: clock starts when the call enters the queue; met by agent pickup",
        RuleId::Ans2 => "maximum queue time: clock starts when the call enters the queue; met by pickup, or voicemail routing when voicemail is enabled",
        RuleId::Ans3 => "greeting under the client's name, never the agency's; judged by QA findings",
        RuleId::Ans4 => "language English unless the agreement adds others; judged by QA findings",
        RuleId::Doc1 => "a call resulting in an action, inquiry or booking is documented with caller name, contact, nature of call and action taken",
        RuleId::Doc2 => "documentation delivered to the client's designated channel: clock starts when the call completes",
        RuleId::Esc1 => "urgent escalation initiated: clock starts when the call completes; met by the first escalation attempt to the chain",
        RuleId::Esc2 => "unreachable contact: clock starts when a contact is marked unreachable; met by an attempt to the next tier",
        RuleId::Esc3 => "non-urgent items compiled and delivered at the agreed interval: met by a digest covering the item",
        RuleId::Qa1 => "share of answered calls reviewed per account per calendar month",
        RuleId::Qa2 => "quality issue addressed with the agent: clock starts when the issue is identified",
        RuleId::Qa3 => "client-requested review completed: clock starts when the request is received",
        RuleId::Qa4 => "monthly QA summary to Professional and Enterprise accounts, with the monthly report",
        RuleId::Qa5 => "agent conduct breach addressed immediately (same business day)",
        RuleId::Cov1 => "a 24/7 account has at least two agents on duty at every instant",
        RuleId::Com1 => "account issue communicated to the client: clock starts when the issue is identified",
        RuleId::Rep1 => "monthly performance report to Professional and Enterprise accounts",
        RuleId::Rep2 => "monthly summary report to Essential accounts",
        RuleId::Rep3 => "quarterly business review within the calendar quarter",
        RuleId::Ret1 => "call records kept at least the minimum from the call",
        RuleId::Ret2 => "client data deleted after termination, unless a legal hold or longer agreed retention applies",
        RuleId::Ret3 => "confidentiality obligations survive termination",
        RuleId::Ret4 => "caller data used only for the account on which it was received",
        RuleId::Bil1 => "invoices issued monthly, no later than the first day of the period billed",
        RuleId::Bil2 => "payment due by the invoice's due date",
        RuleId::Bil3 => "suspension for late payment only after a written notice of payment default",
        RuleId::Bil4 => "a price change takes effect only after written notice",
        RuleId::Bil5 => "invoices in the agreed currency (USD unless agreed otherwise)",
        RuleId::Bil6 => "final invoice on termination, issued on or after the effective date",
        RuleId::Lia1 => "liability capped at the fees paid in the months preceding the claim",
        RuleId::Trm1 => "termination by notice takes effect after the notice period",
        RuleId::Trm2 => "immediate termination only for a permitted cause, cited",
        RuleId::Amd1 => "a material SOP change takes effect only after notice to clients",
        RuleId::Amd2 => "pricing adjustment: see R-BIL-4",
    };
    format!("{text} [SOP {}]", rule.seed_section())
}
