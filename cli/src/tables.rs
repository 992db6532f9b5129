//! Reports as people read them in a terminal: summaries first, then what went wrong as a
//! list; verdicts, rule values and durations in words; instants to the second in the client's
//! zone, named. The JSON and CSV forms (`render.rs`) stay the full model; these tables read
//! the same JSON, so a field added to a report never breaks them, it is only not shown.

use std::io::Write;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use comfy_table::{presets::UTF8_FULL_CONDENSED, CellAlignment, ContentArrangement, Table};
use serde_json::Value;

use crate::render::{count, cut, CELL_CHARS};

pub mod billing;
pub mod retention;

/// Who a report is about, as its tables name it.
#[derive(Debug, Clone)]
pub struct ClientContext {
    pub client_id: String,
    pub name: Option<String>,
    /// The zone of the client's business calendar: every instant is shown in it.
    pub zone: Tz,
}

impl ClientContext {
    fn title(&self) -> String {
        match &self.name {
            Some(name) => format!("{name} ({})", self.client_id),
            None => self.client_id.clone(),
        }
    }

    /// An instant in the client's zone, to the second (the zone is named in the heading).
    fn time(&self, at: DateTime<Utc>) -> String {
        at.with_timezone(&self.zone)
            .format("%Y-%m-%d %H:%M:%S")
            .to_string()
    }

    /// An instant in the client's zone with the zone named, and in UTC.
    fn time_both(&self, at: DateTime<Utc>) -> String {
        format!(
            "{} {} ({} UTC)",
            self.time(at),
            self.zone.name(),
            at.format("%Y-%m-%d %H:%M:%S")
        )
    }

    fn time_of(&self, value: &Value) -> Option<String> {
        instant(value).map(|t| self.time(t))
    }
}

/// What `report obligations` is asked to show.
#[derive(Debug, Clone, Default)]
pub struct ObligationFilter {
    pub rule: Option<String>,
    /// A verdict as the JSON names it (`met`, `missed`, `pending`, ...).
    pub verdict: Option<String>,
    pub queue: Option<String>,
}

fn instant(value: &Value) -> Option<DateTime<Utc>> {
    value.as_str()?.parse().ok()
}

fn number(value: &Value) -> Option<u64> {
    value.as_u64()
}

/// A duration in milliseconds as a person says it: "450 ms", "4.1 s", "2 min 32 s",
/// "3 h 5 min", "2 d 4 h".
pub fn duration_ms(ms: u64) -> String {
    if ms < 1000 {
        return format!("{ms} ms");
    }
    if ms < 10_000 {
        // Tenths of a second carry meaning for answer times under ten seconds.
        let tenths = (ms + 50) / 100;
        return format!("{}.{} s", tenths / 10, tenths % 10);
    }
    duration_secs(ms.div_ceil(1000))
}

/// A duration in whole seconds as a person says it: "45 s", "2 min 32 s", "1 h", "3 d 4 h".
pub fn duration_secs(secs: u64) -> String {
    let (d, h, m, s) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    let parts: Vec<String> = [(d, "d"), (h, "h"), (m, "min"), (s, "s")]
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, unit)| format!("{n} {unit}"))
        .collect();
    match parts.len() {
        0 => "0 s".to_owned(),
        // The two largest units are precise enough for a reader; JSON keeps the exact figure.
        _ => parts.into_iter().take(2).collect::<Vec<_>>().join(" "),
    }
}

/// Basis points as a percentage with two decimals.
pub fn percent(basis_points: u64) -> String {
    format!("{}.{:02} %", basis_points / 100, basis_points % 100)
}

/// A rule value (`{"kind": "seconds", "value": 8}`) in words.
pub fn rule_value(value: &Value) -> String {
    let kind = value["kind"].as_str().unwrap_or("?");
    let n = number(&value["value"]);
    match (kind, n) {
        ("seconds", Some(n)) => duration_secs(n),
        ("minutes", Some(n)) => duration_secs(n.saturating_mul(60)),
        ("hours", Some(n)) => duration_secs(n.saturating_mul(3600)),
        ("days", Some(n)) => count(n, "day", "days"),
        ("years", Some(n)) => count(n, "year", "years"),
        ("business_days", Some(n)) => count(n, "business day", "business days"),
        ("business_hours", Some(n)) => count(n, "business hour", "business hours"),
        ("basis_points", Some(n)) => percent(n),
        ("agents", Some(n)) => count(n, "agent", "agents"),
        ("trailing_fees_months", Some(n)) => format!(
            "the fees paid in the {} preceding",
            count(n, "month", "months")
        ),
        ("nth_business_day_of_next_month", Some(n)) => {
            format!("business day {n} of the next month")
        }
        ("business_hours_else_first_hour_of_next_period", Some(n)) => format!(
            "{} (else the first hour of the next period)",
            count(n, "business hour", "business hours")
        ),
        _ => {
            let words = kind.replace('_', " ");
            match &value["value"] {
                Value::Null => words,
                Value::Array(items) => format!(
                    "{words}: {}",
                    items
                        .iter()
                        .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_owned))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                Value::String(s) => format!("{words}: {s}"),
                other => format!("{words}: {other}"),
            }
        }
    }
}

/// A shortfall (`{"amount": 152, "unit": "seconds"}`) in words.
fn shortfall(by: &Value) -> String {
    let amount = number(&by["amount"]).unwrap_or(0);
    match by["unit"].as_str() {
        Some("seconds") => duration_secs(amount),
        Some("days") => count(amount, "day", "days"),
        Some("basis_points") => format!("{} points", percent(amount).trim_end_matches(" %")),
        Some("findings") => count(amount, "finding", "findings"),
        _ => by.to_string(),
    }
}

/// A verdict in words: "met", "missed by 2 min 32 s", "pending (due 2026-11-05 17:00:00)".
pub fn verdict(value: &Value, ctx: &ClientContext) -> String {
    match value["verdict"].as_str().unwrap_or("?") {
        "met" => "met".to_owned(),
        "missed" => {
            let by = &value["by"];
            let how = if by["unit"] == "findings" {
                format!("missed: {} failed", shortfall(by))
            } else {
                format!("missed by {}", shortfall(by))
            };
            match ctx.time_of(&value["met_at"]) {
                Some(at) => format!("{how} (done {at})"),
                None => format!("{how}, never met"),
            }
        }
        "pending" => {
            let held: Vec<&str> = value["held_by"]
                .as_array()
                .map(|h| h.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            match (ctx.time_of(&value["due_at"]), held.is_empty()) {
                (_, false) => format!("pending: held by {}", held.join(", ")),
                (Some(due), true) => format!("pending (due {due})"),
                (None, true) => "pending".to_owned(),
            }
        }
        "excused" => {
            let windows: Vec<&str> = value["window_ids"]
                .as_array()
                .map(|w| w.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            format!("excused by {}", windows.join(", "))
        }
        "chain_exhausted" => format!("chain exhausted (tier {} unreachable)", value["last_tier"]),
        "not_applicable" => format!(
            "not applicable: {}",
            value["reason"].as_str().unwrap_or_default()
        ),
        "unconfigured" => format!(
            "unconfigured: {} missing",
            value["missing"].as_str().unwrap_or_default()
        ),
        "not_computable" => format!(
            "not computable: {}",
            value["reason"].as_str().unwrap_or_default()
        ),
        other => other.replace('_', " "),
    }
}

fn table(header: Vec<&str>) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(header);
    t
}

fn right_align_from(t: &mut Table, first: usize) {
    let n = t.column_count();
    for i in first..n {
        if let Some(c) = t.column_mut(i) {
            c.set_cell_alignment(CellAlignment::Right);
        }
    }
}

/// The heading every report table starts with: who, what period in their zone, on what basis.
fn heading(
    report: &Value,
    what: &str,
    ctx: &ClientContext,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    writeln!(out, "{} · {what}", ctx.title())?;
    if let (Some(from), Some(to)) = (
        instant(&report["period"]["from"]),
        instant(&report["period"]["to"]),
    ) {
        writeln!(
            out,
            "period {} to {} {} (UTC {} to {})",
            ctx.time(from),
            ctx.time(to),
            ctx.zone.name(),
            from.format("%Y-%m-%d %H:%M:%S"),
            to.format("%Y-%m-%d %H:%M:%S")
        )?;
    }
    let basis = match report["as_of"]["basis"].as_str() {
        Some("head") | None => "the whole log".to_owned(),
        Some("position") => format!("the log up to position {}", report["as_of"]["value"]),
        Some("recorded_at") => format!(
            "what was recorded by {}",
            instant(&report["as_of"]["value"]).map_or_else(String::new, |t| ctx.time_both(t))
        ),
        Some(other) => format!(
            "facts {} {}",
            other.replace('_', " "),
            instant(&report["as_of"]["value"]).map_or_else(String::new, |t| ctx.time_both(t))
        ),
    };
    let position_basis = report["as_of"]["basis"] == "position";
    let through = match (
        number(&report["provenance"]["position"]),
        report["provenance"]["head_hash"].as_str(),
    ) {
        (Some(_), Some(h)) if position_basis => format!(" (hash {})", cut(h, 13)),
        (Some(p), Some(h)) => format!(" (through position {p}, hash {})", cut(h, 13)),
        _ => String::new(),
    };
    writeln!(out, "reflects {basis}{through}")?;
    if let Some(at) = instant(&report["evaluated_at"]) {
        writeln!(out, "pending deadlines judged at {}", ctx.time_both(at))?;
    }
    Ok(())
}

fn excused_windows(
    report: &Value,
    ctx: &ClientContext,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    let windows = report["excused_windows"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if windows.is_empty() {
        return writeln!(out, "\nexcused windows: none");
    }
    let n = u64::try_from(windows.len()).unwrap_or(u64::MAX);
    writeln!(
        out,
        "\n{} ({}):",
        count(n, "excused window", "excused windows"),
        ctx.zone.name()
    )?;
    for w in &windows {
        let from = ctx.time_of(&w["from"]).unwrap_or_default();
        let to = ctx
            .time_of(&w["to"])
            .unwrap_or_else(|| "still open".to_owned());
        writeln!(
            out,
            "  - {}: {} from {from} to {to}",
            w["window_id"].as_str().unwrap_or("?"),
            w["cause"].as_str().unwrap_or("?").replace('_', " "),
        )?;
    }
    Ok(())
}

/// The verdict columns of a tally, in the order a reader scans them.
const TALLY: [(&str, &str); 7] = [
    ("met", "met"),
    ("missed", "missed"),
    ("excused", "excused"),
    ("pending", "pending"),
    ("not_applicable", "n/a"),
    ("unconfigured", "unconfigured"),
    ("not_computable", "not computable"),
];

fn tally_total(tally: &Value) -> u64 {
    tally
        .as_object()
        .map(|m| m.values().filter_map(Value::as_u64).sum())
        .unwrap_or(0)
}

/// One row per rule that had obligations; the rules with none are named after the table.
/// The note column appears only when some rule has a note.
fn rules_table(
    rules: &[(String, Value, Option<String>)],
    out: &mut dyn Write,
) -> std::io::Result<()> {
    let busy: Vec<&(String, Value, Option<String>)> = rules
        .iter()
        .filter(|(_, tally, _)| tally_total(tally) > 0)
        .collect();
    let idle: Vec<&str> = rules
        .iter()
        .filter(|(_, tally, _)| tally_total(tally) == 0)
        .map(|(rule, _, _)| rule.as_str())
        .collect();
    let noted = busy.iter().any(|(_, tally, note)| {
        note.is_some() || tally["chain_exhausted"].as_u64().is_some_and(|n| n > 0)
    });
    let mut header = vec!["rule"];
    header.extend(TALLY.iter().map(|(_, h)| *h));
    if noted {
        header.push("note");
    }
    let mut t = table(header);
    for (rule, tally, note) in busy {
        let mut row = vec![rule.clone()];
        row.extend(TALLY.iter().map(|(k, _)| {
            let n = tally[*k].as_u64().unwrap_or(0);
            // A dot for none keeps the eye on the counts that matter.
            if n == 0 {
                "·".to_owned()
            } else {
                n.to_string()
            }
        }));
        if noted {
            row.push(match tally["chain_exhausted"].as_u64().filter(|n| *n > 0) {
                Some(n) => format!("{n} chain exhausted"),
                None => cut(note.as_deref().unwrap_or_default(), CELL_CHARS),
            });
        }
        t.add_row(row);
    }
    right_align_from(&mut t, 1);
    if noted {
        if let Some(c) = t.column_mut(TALLY.len() + 1) {
            c.set_cell_alignment(CellAlignment::Left);
        }
    }
    writeln!(out, "{t}")?;
    if !idle.is_empty() {
        writeln!(out, "no obligations in the period: {}", idle.join(", "))?;
    }
    Ok(())
}

/// `report sla` as a person reads it: the call figures by queue, QA coverage, the rules'
/// tallies, excused windows and coverage gaps.
pub fn sla(
    report: &Value,
    ctx: &ClientContext,
    queue: Option<&str>,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let month = report["month"].as_str().unwrap_or("?");
    heading(report, &format!("service levels, {month}"), ctx, out)?;
    let mut columns: Vec<(String, &Value)> = Vec::new();
    match queue {
        None => {
            columns.push(("all queues".to_owned(), &report["calls"]));
            if let Some(queues) = report["by_queue"].as_object() {
                for (name, figures) in queues {
                    columns.push((format!("queue {name}"), figures));
                }
            }
        }
        Some(q) => match report["by_queue"].get(q) {
            Some(figures) => columns.push((format!("queue {q}"), figures)),
            None => {
                let known: Vec<&str> = report["by_queue"]
                    .as_object()
                    .map(|m| m.keys().map(String::as_str).collect())
                    .unwrap_or_default();
                return Err(crate::Usage(format!(
                    "no calls named queue {q:?} in this month; queues: {}",
                    if known.is_empty() {
                        "none".to_owned()
                    } else {
                        known.join(", ")
                    }
                ))
                .into());
            }
        },
    }
    let target = rule_value(&report["answer_target"]);
    let max_wait = rule_value(&report["max_queue_time"]);
    type Figure = Box<dyn Fn(&Value) -> String>;
    let count_of = |key: &'static str| -> Figure {
        Box::new(move |f: &Value| {
            f[key]
                .as_u64()
                .map_or_else(|| "–".to_owned(), |n| n.to_string())
        })
    };
    let ms_of = |key: &'static str| -> Figure {
        Box::new(move |f: &Value| f[key].as_u64().map_or_else(|| "–".to_owned(), duration_ms))
    };
    let rows: Vec<(String, Figure)> = vec![
        ("offered".to_owned(), count_of("offered")),
        ("answered".to_owned(), count_of("answered")),
        (
            format!("answered within {target} (R-ANS-1)"),
            count_of("answered_within_target"),
        ),
        (
            "service level (R-ANS-1)".to_owned(),
            Box::new(|f: &Value| {
                f["service_level_basis_points"]
                    .as_u64()
                    .map_or_else(|| "– (no resolved call)".to_owned(), percent)
            }),
        ),
        (
            "average speed of answer".to_owned(),
            ms_of("average_speed_of_answer_ms"),
        ),
        ("longest wait".to_owned(), ms_of("longest_wait_ms")),
        (
            format!("waits over {max_wait} (R-ANS-2)"),
            count_of("max_queue_breaches"),
        ),
        ("abandoned".to_owned(), count_of("abandoned")),
        (
            format!("  of which within {target}"),
            count_of("abandoned_within_target"),
        ),
        ("voicemail".to_owned(), count_of("voicemail")),
        (
            "unresolved (no outcome yet)".to_owned(),
            count_of("unresolved"),
        ),
        ("average talk time".to_owned(), ms_of("average_talk_ms")),
    ];
    let mut header = vec!["calls".to_owned()];
    header.extend(columns.iter().map(|(name, _)| name.clone()));
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(header);
    let excused_calls: u64 = columns
        .iter()
        .filter_map(|(_, f)| f["calls_in_excused_windows"].as_u64())
        .max()
        .unwrap_or(0);
    for (label, figure) in &rows {
        let mut row = vec![label.clone()];
        for (_, figures) in &columns {
            let normal = figure(&figures["normal"]);
            let raw = figure(&figures["raw"]);
            // Under normal conditions (calls in excused windows left out) first; the raw
            // figure beside it only where the windows changed it.
            row.push(if normal == raw {
                normal
            } else {
                format!("{normal} (raw {raw})")
            });
        }
        t.add_row(row);
    }
    let mut row = vec!["calls in excused windows".to_owned()];
    for (_, figures) in &columns {
        row.push(
            figures["calls_in_excused_windows"]
                .as_u64()
                .unwrap_or(0)
                .to_string(),
        );
    }
    t.add_row(row);
    right_align_from(&mut t, 1);
    writeln!(out, "\n{t}")?;
    if excused_calls > 0 {
        writeln!(
            out,
            "figures leave out calls whose wait overlaps an excused window; (raw …) counts every call"
        )?;
    }

    let qa = &report["qa_coverage"];
    let required = rule_value(&qa["required"]);
    let (answered, reviewed) = (
        qa["answered"].as_u64().unwrap_or(0),
        qa["reviewed"].as_u64().unwrap_or(0),
    );
    let share = qa["reviewed_basis_points"].as_u64();
    let standing = match (share, number(&qa["required"]["value"])) {
        (Some(s), Some(r)) if s >= r => " — met",
        (Some(_), Some(_)) => " — short",
        _ => "",
    };
    writeln!(
        out,
        "\nQA coverage (R-QA-1): {reviewed} of {} reviewed{}, required {required}{standing}",
        count(answered, "answered call", "answered calls"),
        share.map_or_else(String::new, |s| format!(" ({})", percent(s))),
    )?;

    writeln!(out, "\nobligations by rule")?;
    let rules: Vec<(String, Value, Option<String>)> = report["rules"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.clone(), None))
                .collect()
        })
        .unwrap_or_default();
    rules_table(&rules, out)?;
    excused_windows(report, ctx, out)?;
    let gaps = report["coverage_gaps"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if gaps.is_empty() {
        writeln!(out, "coverage gaps (R-COV-1): none")?;
    } else {
        let n = u64::try_from(gaps.len()).unwrap_or(u64::MAX);
        writeln!(
            out,
            "{} (R-COV-1, {}):",
            count(n, "coverage gap", "coverage gaps"),
            ctx.zone.name()
        )?;
        for g in &gaps {
            writeln!(
                out,
                "  - {} to {}: {} on duty, {} ({})",
                ctx.time_of(&g["from"]).unwrap_or_default(),
                ctx.time_of(&g["to"]).unwrap_or_default(),
                count(g["agents_on_duty"].as_u64().unwrap_or(0), "agent", "agents"),
                verdict(&g["verdict"], ctx),
                g["id"].as_str().unwrap_or("?")
            )?;
        }
    }
    Ok(())
}

/// Whether an obligation is what the filter asks for; `queue_of` names a call's queue.
fn wanted(o: &Value, filter: &ObligationFilter, queue_of: &dyn Fn(&str) -> Option<String>) -> bool {
    if filter.rule.as_deref().is_some_and(|r| {
        !o["rule"]
            .as_str()
            .is_some_and(|x| x.eq_ignore_ascii_case(r))
    }) {
        return false;
    }
    if filter
        .verdict
        .as_deref()
        .is_some_and(|v| o["verdict"]["verdict"].as_str() != Some(v))
    {
        return false;
    }
    if let Some(q) = &filter.queue {
        let call = o["subject"]["call_id"].as_str();
        if !call.and_then(queue_of).is_some_and(|name| &name == q) {
            return false;
        }
    }
    true
}

/// `report obligations` as a person reads it: the per-rule summary, then the obligations that
/// were not met (or, with `--verdict`, those of that verdict) as a list.
pub fn obligations(
    report: &Value,
    ctx: &ClientContext,
    filter: &ObligationFilter,
    queue_of: &dyn Fn(&str) -> Option<String>,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    heading(report, "obligations and verdicts", ctx, out)?;
    let all = report["obligations"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let chosen: Vec<&Value> = all.iter().filter(|o| wanted(o, filter, queue_of)).collect();
    let filtered = filter.rule.is_some() || filter.verdict.is_some() || filter.queue.is_some();

    writeln!(
        out,
        "\nobligations by rule{}",
        if filtered { " (as filtered)" } else { "" }
    )?;
    let rules: Vec<(String, Value, Option<String>)> = if filtered {
        // Tally what the filter kept, so the summary and the list below agree.
        let mut by_rule: Vec<(String, Value, Option<String>)> = Vec::new();
        for o in &chosen {
            let rule = o["rule"].as_str().unwrap_or("?").to_owned();
            let key = o["verdict"]["verdict"].as_str().unwrap_or("?").to_owned();
            let slot = match by_rule.iter().position(|(r, _, _)| *r == rule) {
                Some(i) => i,
                None => {
                    by_rule.push((rule, serde_json::json!({}), None));
                    by_rule.len() - 1
                }
            };
            let tally = &mut by_rule[slot].1;
            tally[&key] = Value::from(tally[&key].as_u64().unwrap_or(0) + 1);
        }
        by_rule
    } else {
        report["rules"]
            .as_array()
            .map(|rules| {
                rules
                    .iter()
                    .map(|r| {
                        (
                            r["rule"].as_str().unwrap_or("?").to_owned(),
                            r["tally"].clone(),
                            r["note"].as_str().map(str::to_owned),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    rules_table(&rules, out)?;
    excused_windows(report, ctx, out)?;

    // Without --verdict the list is of what needs attention: everything not met or not
    // applicable. With it, exactly that verdict.
    let listed: Vec<&Value> = chosen
        .into_iter()
        .filter(|o| {
            filter.verdict.is_some()
                || !matches!(
                    o["verdict"]["verdict"].as_str(),
                    Some("met" | "not_applicable")
                )
        })
        .collect();
    let n = u64::try_from(listed.len()).unwrap_or(u64::MAX);
    let what = match &filter.verdict {
        Some(v) => format!(
            "{} {}",
            count(n, "obligation", "obligations"),
            v.replace('_', " ")
        ),
        None => format!("{} not met", count(n, "obligation", "obligations")),
    };
    writeln!(out, "\n{what} (times in {}):", ctx.zone.name())?;
    if listed.is_empty() {
        return Ok(());
    }
    let mut t = table(vec![
        "obligation (id for explain)",
        "value in force",
        "clock start",
        "due",
        "verdict",
        "evidence",
    ]);
    for o in listed {
        let evidence: Vec<String> = o["evidence"]
            .as_array()
            .map(|e| {
                e.iter()
                    .filter_map(|r| r["position"].as_u64())
                    .map(|p| format!("#{p}"))
                    .collect()
            })
            .unwrap_or_default();
        t.add_row(vec![
            // Whole, never cut: it is what `explain` and `timeline` take.
            o["id"].as_str().unwrap_or("?").to_owned(),
            cut(&rule_value(&o["rule_value"]), CELL_CHARS / 2),
            ctx.time_of(&o["clock_start"]).unwrap_or_default(),
            ctx.time_of(&o["due_at"]).unwrap_or_default(),
            cut(&verdict(&o["verdict"], ctx), CELL_CHARS),
            cut(&evidence.join(" "), CELL_CHARS / 2),
        ]);
    }
    writeln!(out, "{t}")?;
    writeln!(
        out,
        "the whole story of one: opsledger explain <obligation id> (or timeline <obligation id>)"
    )?;
    Ok(())
}

#[cfg(test)]
mod tests;
