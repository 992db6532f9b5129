//! `report retention` as a person reads it: the client's standing (termination, the
//! confidentiality that survives it, legal holds), its records summarised by where they stand,
//! the client's data as a whole in words, then the deletions due and the overdue records as a
//! list, every instant in the client's zone with how far it is from the instant judged.

use std::io::Write;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::{duration_secs, heading, instant, table, ClientContext};
use crate::render::count;

/// How far `at` is from `now`, in words: "in 48 d 17 h", "3 d 2 h ago", "now".
fn from_now(at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let secs = (at - now).num_seconds();
    let words = duration_secs(secs.unsigned_abs());
    match secs {
        0 => "now".to_owned(),
        s if s > 0 => format!("in {words}"),
        _ => format!("{words} ago"),
    }
}

/// What a record is, as a reader names it.
fn record_name(record: &Value) -> String {
    match record["kind"].as_str() {
        Some("client_data") => "all client data".to_owned(),
        Some("call") => format!("call {}", record["call_id"].as_str().unwrap_or("?")),
        Some(other) => other.replace('_', " "),
        None => "?".to_owned(),
    }
}

/// Where one record stands, in words.
fn standing(r: &Value, ctx: &ClientContext, now: DateTime<Utc>) -> String {
    if let Some(position) = r["deleted"]["position"].as_u64() {
        return format!("deleted (#{position})");
    }
    let holds: Vec<String> = r["held_by"]
        .as_array()
        .map(|h| {
            h.iter()
                .map(|hold| match hold["kind"].as_str() {
                    Some("legal_hold") => format!(
                        "legal hold {} (R-RET-2: deletion suspended)",
                        hold["hold_id"].as_str().unwrap_or("?")
                    ),
                    Some("minimum_retention") => match instant(&hold["until"]) {
                        Some(until) => format!(
                            "R-RET-1 minimum until {} ({})",
                            ctx.time(until),
                            from_now(until, now)
                        ),
                        None => "R-RET-1 minimum".to_owned(),
                    },
                    other => other.unwrap_or("?").replace('_', " "),
                })
                .collect()
        })
        .unwrap_or_default();
    if r["overdue"].as_bool() == Some(true) {
        return "OVERDUE: past its deletion deadline, not deleted, no hold".to_owned();
    }
    // One hold a line keeps the column narrow.
    if holds.is_empty() {
        "may be deleted now".to_owned()
    } else {
        format!("kept by {}", holds.join(",\nand by "))
    }
}

fn deadline(r: &Value, ctx: &ClientContext, now: DateTime<Utc>) -> String {
    match instant(&r["deletion_deadline"]) {
        Some(at) => format!("{} ({})", ctx.time(at), from_now(at, now)),
        None => "none yet".to_owned(),
    }
}

fn earliest(r: &Value, ctx: &ClientContext, now: DateTime<Utc>) -> String {
    match instant(&r["earliest_deletion"]) {
        Some(at) => format!("{} ({})", ctx.time(at), from_now(at, now)),
        None => "–".to_owned(),
    }
}

/// `report retention` as a table; `month` names the month whose due deletions are listed.
pub fn write(
    report: &Value,
    ctx: &ClientContext,
    month: &str,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    heading(
        report,
        &format!("retention, deletions due in {month}"),
        ctx,
        out,
    )?;
    let now = instant(&report["evaluated_at"]).unwrap_or(DateTime::<Utc>::MIN_UTC);
    let records = report["records"].as_array().cloned().unwrap_or_default();
    let holds: Vec<&str> = report["legal_holds"]
        .as_array()
        .map(|h| h.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let zone = ctx.zone.name();
    let mut t = table(vec!["standing", &format!("times in {zone}")]);
    t.add_row(vec![
        "termination".to_owned(),
        match instant(&report["terminated_at"]) {
            Some(at) => format!(
                "took effect {} ({}): R-RET-2's deletion deadlines count from it",
                ctx.time(at),
                from_now(at, now)
            ),
            None => "not terminated: records are kept, no deletion deadline runs".to_owned(),
        },
    ]);
    if let Some(until) = instant(&report["confidentiality_until"]) {
        t.add_row(vec![
            "confidentiality (R-RET-3)".to_owned(),
            format!(
                "survives until {} ({})",
                ctx.time(until),
                from_now(until, now)
            ),
        ]);
    }
    t.add_row(vec![
        "legal holds".to_owned(),
        if holds.is_empty() {
            "none active".to_owned()
        } else {
            format!(
                "{} active: deletion is suspended while it lasts (R-RET-2)",
                holds.join(", ")
            )
        },
    ]);
    let calls: Vec<&Value> = records
        .iter()
        .filter(|r| r["record"]["kind"] == "call")
        .collect();
    let tally = |pick: &dyn Fn(&Value) -> bool| {
        u64::try_from(calls.iter().filter(|r| pick(r)).count()).unwrap_or(u64::MAX)
    };
    let deleted = tally(&|r| !r["deleted"].is_null());
    let overdue = tally(&|r| r["overdue"].as_bool() == Some(true));
    let held = tally(&|r| {
        r["deleted"].is_null() && r["held_by"].as_array().is_some_and(|h| !h.is_empty())
    });
    let free = u64::try_from(calls.len()).unwrap_or(u64::MAX) - deleted - held;
    t.add_row(vec![
        "call records (R-RET-1)".to_owned(),
        format!(
            "{}: {deleted} deleted, {held} kept under a minimum or hold, {free} may be deleted \
             now, {overdue} overdue",
            count(
                u64::try_from(calls.len()).unwrap_or(u64::MAX),
                "record",
                "records"
            )
        ),
    ]);
    let earliest_calls: Vec<DateTime<Utc>> = calls
        .iter()
        .filter_map(|r| instant(&r["earliest_deletion"]))
        .collect();
    if let (Some(first), Some(last)) = (earliest_calls.iter().min(), earliest_calls.iter().max()) {
        t.add_row(vec![
            "  earliest deletions".to_owned(),
            format!(
                "from {} ({}) to {} ({})",
                ctx.time(*first),
                from_now(*first, now),
                ctx.time(*last),
                from_now(*last, now)
            ),
        ]);
    }
    if let Some(client) = records
        .iter()
        .find(|r| r["record"]["kind"] == "client_data")
    {
        t.add_row(vec![
            "all client data (R-RET-2)".to_owned(),
            format!("earliest deletion {}", earliest(client, ctx, now)),
        ]);
        t.add_row(vec!["  deadline".to_owned(), deadline(client, ctx, now)]);
        t.add_row(vec!["  standing".to_owned(), standing(client, ctx, now)]);
    }
    writeln!(out, "{t}")?;
    listed(
        &format!("deletions due in {month}"),
        report["deletions_due"]
            .as_array()
            .cloned()
            .unwrap_or_default(),
        ctx,
        now,
        out,
    )?;
    let late: Vec<Value> = records
        .into_iter()
        .filter(|r| r["overdue"].as_bool() == Some(true))
        .collect();
    listed("overdue records", late, ctx, now, out)
}

/// A list of records with their window and standing, or "none".
fn listed(
    what: &str,
    records: Vec<Value>,
    ctx: &ClientContext,
    now: DateTime<Utc>,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    if records.is_empty() {
        writeln!(out, "\n{what}: none")?;
        return Ok(());
    }
    writeln!(
        out,
        "\n{what} ({}, times in {}):",
        records.len(),
        ctx.zone.name()
    )?;
    let mut t = table(vec![
        "record",
        "earliest deletion (R-RET-1)",
        "deadline (R-RET-2)",
        "standing",
    ]);
    for r in &records {
        t.add_row(vec![
            record_name(&r["record"]),
            earliest(r, ctx, now),
            deadline(r, ctx, now),
            standing(r, ctx, now),
        ]);
    }
    writeln!(out, "{t}")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ctx() -> ClientContext {
        ClientContext {
            client_id: "whitfield".to_owned(),
            name: Some("Whitfield & Cole LLP".to_owned()),
            zone: chrono_tz::America::Chicago,
        }
    }

    fn call(id: &str, earliest: &str, deadline: Option<&str>, overdue: bool, hold: bool) -> Value {
        let mut held = vec![];
        if hold {
            held.push(json!({"kind": "legal_hold", "hold_id": "lh-1"}));
        }
        json!({"record": {"kind": "call", "call_id": id}, "earliest_deletion": earliest,
            "deletion_deadline": deadline, "held_by": held, "deleted": null, "overdue": overdue})
    }

    #[test]
    fn the_retention_table_says_windows_and_deadlines_in_words() {
        let report = json!({
            "client_id": "whitfield", "as_of": {"basis": "head"}, "checkpoint": 9,
            "evaluated_at": "2026-11-11T00:00:00Z",
            "terminated_at": "2026-10-16T05:00:00Z",
            "confidentiality_until": "2029-10-16T05:00:00Z",
            "legal_holds": ["lh-1"],
            "records": [
                {"record": {"kind": "client_data"}, "earliest_deletion": "2027-01-13T22:17:10Z",
                 "deletion_deadline": null, "deleted": null, "overdue": false,
                 "held_by": [{"kind": "minimum_retention", "until": "2027-01-13T22:17:10Z"},
                             {"kind": "legal_hold", "hold_id": "lh-1"}]},
                call("c-1", "2026-10-30T14:36:58Z", Some("2026-11-05T05:00:00Z"), true, false),
                call("c-2", "2026-12-30T14:36:58Z", None, false, true),
            ],
            "deletions_due": [call("c-1", "2026-10-30T14:36:58Z", Some("2026-11-05T05:00:00Z"), true, false)],
            "provenance": {"position": 8, "head_hash": "b4343b079a9daa23ff7ed0", "request": {}},
        });
        let mut out = Vec::new();
        write(&report, &ctx(), "2026-11", &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.contains("OVERDUE") && text.contains("5 d 19 h ago"),
            "{text}"
        );
        insta::assert_snapshot!("retention_table", text);
    }

    #[test]
    fn distances_from_the_instant_judged_read_both_ways() {
        let now: DateTime<Utc> = "2026-11-11T00:00:00Z".parse().unwrap();
        let later: DateTime<Utc> = "2026-11-12T01:00:00Z".parse().unwrap();
        assert_eq!(from_now(later, now), "in 1 d 1 h");
        assert_eq!(from_now(now, later), "1 d 1 h ago");
        assert_eq!(from_now(now, now), "now");
    }
}
