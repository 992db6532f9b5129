//! `report billing` as a person reads it: the client's standing first (status, balance, days
//! past due, suspension, notices, liability cap), then its invoices as a list, amounts as money
//! with their currency and dates as printed on the invoices (client-local).

use std::io::Write;

use serde_json::Value;

use super::{heading, right_align_from, rule_value, table, ClientContext};
use crate::render::count;

/// Money (`{"amount_minor": 19246500, "currency": "PKR"}`) in major units with two decimals,
/// thousands grouped, and its currency: "192,465.00 PKR". Minor units are cents (R-BIL-5's
/// currencies all have two decimals); a missing amount is a dash.
pub fn money(value: &Value) -> String {
    let (Some(minor), Some(currency)) =
        (value["amount_minor"].as_i64(), value["currency"].as_str())
    else {
        return "–".to_owned();
    };
    let sign = if minor < 0 { "−" } else { "" };
    let abs = minor.unsigned_abs();
    let digits = (abs / 100).to_string();
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!("{sign}{grouped}.{:02} {currency}", abs % 100)
}

/// A billing status in words, with the rule that makes it.
fn status(report: &Value) -> String {
    let after = rule_value(&report["termination_after"]);
    match report["status"].as_str().unwrap_or("?") {
        "current" => "current: nothing open past its due date".to_owned(),
        "overdue" => "overdue: an invoice is open past its due date (R-BIL-2)".to_owned(),
        "default-noticed" => "default noticed: a notice of payment default cites an open \
                              invoice; a suspension is not permitted yet (R-BIL-3)"
            .to_owned(),
        "suspension-eligible" => {
            "suspension eligible: a suspension would be permitted now (R-BIL-3)".to_owned()
        }
        "suspended" => "suspended: service is suspended and not resumed".to_owned(),
        "termination-eligible" => format!(
            "termination eligible: an invoice is unpaid more than {after} past its due date \
             (R-TRM-2)"
        ),
        "terminated" => "terminated: the termination has taken effect".to_owned(),
        other => other.replace('-', " "),
    }
}

/// `report billing` as a table.
pub fn write(report: &Value, ctx: &ClientContext, out: &mut dyn Write) -> anyhow::Result<()> {
    heading(report, "billing", ctx, out)?;
    let on = report["on"].as_str().unwrap_or("?");
    let most = report["max_days_past_due"].as_u64().unwrap_or(0);
    let date = format!("on {on} (client-local)");
    let mut t = table(vec!["standing", &date]);
    t.add_row(vec!["status".to_owned(), status(report)]);
    t.add_row(vec![
        "balance outstanding".to_owned(),
        money(&report["balance"]),
    ]);
    t.add_row(vec![
        "most days past due".to_owned(),
        format!(
            "{} (R-TRM-2 permits immediate termination after {})",
            count(most, "day", "days"),
            rule_value(&report["termination_after"])
        ),
    ]);
    t.add_row(vec![
        "service".to_owned(),
        if report["suspended"].as_bool() == Some(true) {
            "suspended".to_owned()
        } else {
            "not suspended".to_owned()
        },
    ]);
    let cap = &report["liability_cap"];
    let payments = cap["payments"].as_array().map_or(0, Vec::len);
    t.add_row(vec![
        "liability cap (R-LIA-1)".to_owned(),
        format!(
            "{}: {},\nfrom {} to {} ({})",
            money(&cap["fees_paid"]),
            rule_value(&cap["rule_value"]),
            ctx.time_of(&cap["from"]).unwrap_or_default(),
            ctx.time_of(&cap["to"]).unwrap_or_default(),
            count(
                u64::try_from(payments).unwrap_or(u64::MAX),
                "payment",
                "payments"
            )
        ),
    ]);
    writeln!(out, "{t}")?;
    notices(report, ctx, out)?;
    invoices(report, ctx, out)
}

fn notices(report: &Value, ctx: &ClientContext, out: &mut dyn Write) -> anyhow::Result<()> {
    let notices = report["default_notices"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if notices.is_empty() {
        writeln!(out, "\nnotices of payment default (R-BIL-3): none")?;
        return Ok(());
    }
    writeln!(
        out,
        "\n{} (R-BIL-3, times in {}):",
        count(
            u64::try_from(notices.len()).unwrap_or(u64::MAX),
            "notice of payment default",
            "notices of payment default"
        ),
        ctx.zone.name()
    )?;
    for n in &notices {
        let cited: Vec<&str> = n["invoice_ids"]
            .as_array()
            .map(|ids| ids.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let open = if n["cites_open_invoice"].as_bool() == Some(true) {
            "a cited invoice is still open"
        } else {
            "every cited invoice settled since"
        };
        writeln!(
            out,
            "  - {} sent {}, citing {}: {open} (#{})",
            n["notice_id"].as_str().unwrap_or("?"),
            ctx.time_of(&n["sent_at"]).unwrap_or_default(),
            cited.join(", "),
            n["event"]["position"]
        )?;
    }
    Ok(())
}

fn invoices(report: &Value, ctx: &ClientContext, out: &mut dyn Write) -> anyhow::Result<()> {
    let invoices = report["invoices"].as_array().cloned().unwrap_or_default();
    let n = u64::try_from(invoices.len()).unwrap_or(u64::MAX);
    writeln!(
        out,
        "\n{} in issue order (dates as printed on them, client-local {}):",
        count(n, "invoice", "invoices"),
        ctx.zone.name()
    )?;
    if invoices.is_empty() {
        return Ok(());
    }
    let mut t = table(vec![
        "invoice",
        "issued",
        "service period",
        "due",
        "total",
        "paid",
        "credited",
        "outstanding",
        "standing",
    ]);
    for i in &invoices {
        let days = i["days_past_due"].as_u64().unwrap_or(0);
        let outstanding = i["outstanding"]["amount_minor"].as_i64().unwrap_or(0);
        let mut standing = match (outstanding, days) {
            (o, _) if o < 0 => "overpaid (credit)".to_owned(),
            (0, _) => "settled".to_owned(),
            (_, 0) => "open, not past due".to_owned(),
            (_, d) => format!("{} past due", count(d, "day", "days")),
        };
        if i["final_invoice"].as_bool() == Some(true) {
            standing.push_str("; final invoice (R-BIL-6)");
        }
        t.add_row(vec![
            i["invoice_id"].as_str().unwrap_or("?").to_owned(),
            i["invoice_date"].as_str().unwrap_or("?").to_owned(),
            format!(
                "{} to {}",
                i["period_start"].as_str().unwrap_or("?"),
                i["period_end"].as_str().unwrap_or("?")
            ),
            i["due_date"].as_str().unwrap_or("?").to_owned(),
            money(&i["total"]),
            money(&i["paid"]),
            money(&i["credited"]),
            money(&i["outstanding"]),
            standing,
        ]);
    }
    right_align_from(&mut t, 4);
    if let Some(c) = t.column_mut(8) {
        c.set_cell_alignment(comfy_table::CellAlignment::Left);
    }
    writeln!(out, "{t}")?;
    // The evidence of each invoice is in the JSON; explain shows it with its obligations.
    writeln!(
        out,
        "an invoice's events and obligations: opsledger explain <invoice>"
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ctx() -> ClientContext {
        ClientContext {
            client_id: "indus".to_owned(),
            name: Some("Indus Telehealth".to_owned()),
            zone: chrono_tz::Asia::Karachi,
        }
    }

    fn pkr(minor: i64) -> Value {
        json!({"amount_minor": minor, "currency": "PKR"})
    }

    fn event(position: u64, at: &str) -> Value {
        json!({"position": position, "event_id": "00000000-0000-0000-0000-000000000001",
            "occurred_at": at, "recorded_at": at})
    }

    #[test]
    fn money_is_in_major_units_grouped_with_its_currency() {
        assert_eq!(money(&pkr(19_246_500)), "192,465.00 PKR");
        assert_eq!(money(&pkr(5)), "0.05 PKR");
        assert_eq!(money(&pkr(-120_000)), "−1,200.00 PKR");
        assert_eq!(
            money(&json!({"amount_minor": 100_000_000, "currency": "USD"})),
            "1,000,000.00 USD"
        );
        assert_eq!(money(&Value::Null), "–");
    }

    #[test]
    fn the_billing_table_puts_the_standing_first_then_the_invoices() {
        let report = json!({
            "client_id": "indus", "as_of": {"basis": "head"}, "checkpoint": 42,
            "evaluated_at": "2026-11-11T00:00:00Z", "on": "2026-11-11", "currency": "PKR",
            "invoices": [
                {"invoice_id": "inv-09", "invoice_date": "2026-08-26", "period_start": "2026-09-01",
                 "period_end": "2026-09-30", "due_date": "2026-09-09", "total": pkr(19_318_500),
                 "paid": pkr(19_318_500), "credited": pkr(0), "outstanding": pkr(0),
                 "days_past_due": 0, "final_invoice": false,
                 "evidence": [event(14, "2026-08-26T05:00:00Z")]},
                {"invoice_id": "inv-11", "invoice_date": "2026-10-26", "period_start": "2026-11-01",
                 "period_end": "2026-11-30", "due_date": "2026-11-09", "total": pkr(19_246_500),
                 "paid": pkr(0), "credited": pkr(0), "outstanding": pkr(19_246_500),
                 "days_past_due": 2, "final_invoice": false,
                 "evidence": [event(9626, "2026-10-26T05:00:00Z")]}
            ],
            "balance": pkr(19_246_500), "max_days_past_due": 2,
            "termination_after": {"kind": "days", "value": 30},
            "default_notices": [{"notice_id": "ntc-1", "sent_at": "2026-10-02T06:00:00Z",
                "invoice_ids": ["inv-09"], "cites_open_invoice": false,
                "event": event(13, "2026-10-02T06:00:00Z")}],
            "suspended": false, "status": "overdue",
            "liability_cap": {"claim_at": "2026-11-11T00:00:00Z",
                "rule_value": {"kind": "trailing_fees_months", "value": 3},
                "from": "2026-08-11T00:00:00Z", "to": "2026-11-11T00:00:00Z",
                "fees_paid": pkr(38_691_000),
                "payments": [event(4092, "2026-10-12T03:05:00Z"), event(4093, "2026-10-12T03:06:00Z")]},
            "provenance": {"position": 12273, "head_hash": "b4343b079a9daa23ff7ed0", "request": {}},
        });
        let mut out = Vec::new();
        write(&report, &ctx(), &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        // No raw minor units or nanoseconds reach the reader.
        assert!(
            !text.contains("19246500") && !text.contains("amount_minor"),
            "{text}"
        );
        insta::assert_snapshot!("billing_table", text);
    }
}
