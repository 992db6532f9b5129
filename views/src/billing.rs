//! The billing page: the account's status, balance and days past due as tiles, then the
//! invoices, the payment default notices and the R-LIA-1 liability cap with its evidence.

use opsledger_app::report::Provenance;
use opsledger_projections::billing::{BillingReport, BillingStatus};
use opsledger_projections::profile::ClientProfile;

use super::{
    basis_words, document, esc, evidence_html, local, money, provenance_html, rule_value_words,
    table, tile,
};

fn status_words(status: BillingStatus) -> (&'static str, &'static str) {
    match status {
        BillingStatus::Current => ("met", "current: nothing open past due"),
        BillingStatus::Overdue => ("pending", "overdue: an invoice is open past its due date"),
        BillingStatus::DefaultNoticed => (
            "pending",
            "default noticed: a notice cites an open invoice; suspension not permitted yet",
        ),
        BillingStatus::SuspensionEligible => (
            "missed",
            "suspension eligible: a suspension would be permitted now (R-BIL-3)",
        ),
        BillingStatus::Suspended => ("missed", "suspended"),
        BillingStatus::TerminationEligible => (
            "missed",
            "termination eligible: an invoice is unpaid beyond R-TRM-2's days past due",
        ),
        BillingStatus::Terminated => ("missed", "terminated"),
    }
}

/// The billing state of a client as one HTML document.
pub fn billing_page(
    report: &BillingReport,
    profile: &ClientProfile,
    provenance: &Provenance,
) -> String {
    let zone = profile.time_zone;
    let title = format!(
        "{} — billing on {}",
        profile.display_name(),
        report.on.format("%-d %B %Y")
    );
    let meta = format!(
        "Basis: {} · judged at {}",
        esc(&basis_words(&report.as_of, zone)),
        esc(&local(report.evaluated_at, zone))
    );
    let (state, words) = status_words(report.status);
    let mut body = String::from("<section class=tiles aria-label=\"headline figures\">");
    body.push_str(&tile(
        "Status",
        words.split(':').next().unwrap_or(words),
        state,
        words,
    ));
    body.push_str(&tile(
        "Balance",
        &money(&report.balance),
        "info",
        &format!(
            "{} invoices, currency {}",
            report.invoices.len(),
            report.currency
        ),
    ));
    body.push_str(&tile(
        "Most days past due",
        &report.max_days_past_due.to_string(),
        if report.max_days_past_due == 0 {
            "met"
        } else {
            "pending"
        },
        &format!(
            "termination may follow after {} (R-TRM-2)",
            rule_value_words(&report.termination_after)
        ),
    ));
    body.push_str(&tile(
        "Liability cap (R-LIA-1)",
        &money(&report.liability_cap.fees_paid),
        "info",
        &format!(
            "fees paid, {}",
            rule_value_words(&report.liability_cap.rule_value)
        ),
    ));
    body.push_str("</section>");

    let rows: Vec<Vec<String>> = report
        .invoices
        .iter()
        .map(|i| {
            vec![
                format!(
                    "<code>{}</code>{}",
                    esc(i.invoice_id.as_str()),
                    if i.final_invoice { " (final)" } else { "" }
                ),
                i.invoice_date.format("%-d %b %Y").to_string(),
                format!(
                    "{} to {}",
                    i.period_start.format("%-d %b %Y"),
                    i.period_end.format("%-d %b %Y")
                ),
                i.due_date.format("%-d %b %Y").to_string(),
                esc(&money(&i.total)),
                esc(&money(&i.paid)),
                esc(&money(&i.credited)),
                esc(&money(&i.outstanding)),
                if i.days_past_due > 0 {
                    format!("<span class=missed-text>{}</span>", i.days_past_due)
                } else {
                    "0".to_owned()
                },
                i.evidence
                    .iter()
                    .map(|e| e.position.to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            ]
        })
        .collect();
    body.push_str("<h2>Invoices</h2>");
    if rows.is_empty() {
        body.push_str("<p>No invoice issued.</p>");
    } else {
        body.push_str(&table(
            "Invoices, oldest first (dates are the client's local dates)",
            &[
                "invoice",
                "issued",
                "period",
                "due",
                "total",
                "paid",
                "credited",
                "outstanding",
                "days past due",
                "evidence positions",
            ],
            &rows,
        ));
    }
    body.push_str("<h2>Payment default notices</h2>");
    if report.default_notices.is_empty() {
        body.push_str("<p>None sent.</p>");
    } else {
        let rows: Vec<Vec<String>> = report
            .default_notices
            .iter()
            .map(|n| {
                vec![
                    format!("<code>{}</code>", esc(n.notice_id.as_str())),
                    esc(&local(n.sent_at, zone)),
                    esc(&n
                        .invoice_ids
                        .iter()
                        .map(|i| i.as_str().to_owned())
                        .collect::<Vec<_>>()
                        .join(", ")),
                    if n.cites_open_invoice { "yes" } else { "no" }.to_owned(),
                    format!(
                        "{}<br>occurred {}",
                        evidence_html(std::slice::from_ref(&n.event)),
                        esc(&local(n.event.occurred_at, zone))
                    ),
                ]
            })
            .collect();
        body.push_str(&table(
            "Notices",
            &[
                "notice",
                "sent",
                "invoices cited",
                "cites an open invoice",
                "evidence",
            ],
            &rows,
        ));
    }
    let cap = &report.liability_cap;
    body.push_str(&format!(
        "<h2>Liability cap (R-LIA-1)</h2><p>For a claim arising {}, the cap is the fees paid from {} to {}: <strong>{}</strong> ({}). Service is {}.</p>",
        esc(&local(cap.claim_at, zone)),
        esc(&local(cap.from, zone)),
        esc(&local(cap.to, zone)),
        esc(&money(&cap.fees_paid)),
        esc(&rule_value_words(&cap.rule_value)),
        if report.suspended { "suspended" } else { "not suspended" }
    ));
    if !cap.payments.is_empty() {
        body.push_str("<details><summary>The payments counted</summary>");
        body.push_str(&evidence_html(&cap.payments));
        body.push_str("</details>");
    }
    body.push_str(&provenance_html(provenance));
    document(&title, profile, &meta, &body)
}
