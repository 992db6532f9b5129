//! The operator's retention page: what `opsledger retention apply` would do for one client if
//! run now (its dry run, [`opsledger_app::retention::dry_run_for`]) beside the client's
//! retention report, record by record, with the rule that decides each (R-RET-1's minimum,
//! R-RET-2's deadline and legal holds, R-RET-3's surviving confidentiality), every instant in
//! the client's zone.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use opsledger_app::retention::Action;
use opsledger_projections::profile::ClientProfile;
use opsledger_projections::retention::{
    RecordKind, RetentionHold, RetentionRecord, RetentionReport,
};
use opsledger_projections::YearMonth;

use super::{layout, Crumb, Links, Page, Viewer};
use crate::{duration_words, esc, local, local_and_utc, table};

/// Records the page lists at most; the tally above the table counts them all. A client's
/// every call is a record, so a busy client has thousands.
pub const RETENTION_LISTED: usize = 200;

/// What the retention page shows: the client's retention report (deletions due in `month`)
/// and what a run of `retention apply` at the report's evaluation instant would do for the
/// client (`None`: nothing is due).
#[derive(Debug, Clone, Copy)]
pub struct RetentionDryRun<'a> {
    pub report: &'a RetentionReport,
    pub action: Option<&'a Action>,
    pub profile: &'a ClientProfile,
    pub month: YearMonth,
    /// The last log position the answer reflects (`None` for an empty ledger).
    pub position: Option<u64>,
}

/// How far `at` is from `now`, in words: "in 48 d 17 h", "3 d 2 h ago", "now".
fn from_now(at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let secs = (at - now).num_seconds();
    let words = duration_words(secs.unsigned_abs());
    match secs {
        0 => "now".to_owned(),
        s if s > 0 => format!("in {words}"),
        _ => format!("{words} ago"),
    }
}

/// An instant in the client's zone with its distance from the instant judged, escaped.
fn when(at: DateTime<Utc>, now: DateTime<Utc>, zone: Tz) -> String {
    esc(&format!("{} ({})", local(at, zone), from_now(at, now)))
}

/// What the run would do for the client as a whole, in one sentence of HTML.
fn verdict_sentence(run: &RetentionDryRun<'_>, zone: Tz) -> String {
    let r = run.report;
    let now = r.evaluated_at;
    let whole = r
        .records
        .iter()
        .find(|x| x.record == RecordKind::ClientData);
    match run.action {
        Some(Action::WouldDelete { deadline, .. }) => format!(
            "<strong>Delete all of the client's data.</strong> R-RET-2's deletion deadline, {}, has passed and no legal hold refuses it: the run would destroy the client's data key, which makes every record below unreadable, and record the deletion in the ledger.",
            when(*deadline, now, zone)
        ),
        Some(Action::Refused { rule, refusal, .. }) => format!(
            "<strong>Keep everything.</strong> The deletion deadline has passed, but the domain refuses the deletion{}: {}.",
            rule.map_or_else(String::new, |rule| format!(" under {rule}")),
            esc(&refusal.to_string())
        ),
        Some(Action::WouldDestroyKeyForRecordedDeletion { .. }) => "<strong>Complete a recorded deletion.</strong> The ledger records the deletion of the client's data (R-RET-2) but its data key is still active: the run would destroy it.".to_owned(),
        Some(Action::Failed { error, .. }) => format!(
            "<strong>Not judged.</strong> Working out this client's retention failed; a run would report the same and try again next time: {}",
            esc(error)
        ),
        // A dry run never reports what a real run did; should one be passed, say it as it is.
        Some(done @ (Action::Deleted { .. } | Action::KeyDestroyedForRecordedDeletion { .. })) => {
            esc(&done.to_string())
        }
        None => match whole {
            Some(w) if w.deleted.is_some() => "<strong>Nothing.</strong> The client's data is deleted and its data key destroyed.".to_owned(),
            _ if !r.legal_holds.is_empty() => format!(
                "<strong>Nothing.</strong> Legal hold {} is active: R-RET-2 suspends deletion while a hold lasts.",
                esc(&holds_list(r))
            ),
            _ if r.terminated_at.is_none() => "<strong>Nothing.</strong> The client is not terminated, so no R-RET-2 deletion deadline runs and every record is kept.".to_owned(),
            Some(RetentionRecord { deletion_deadline: Some(d), .. }) => format!(
                "<strong>Nothing yet.</strong> R-RET-2's deletion deadline for the client's data is {}.",
                when(*d, now, zone)
            ),
            _ => "<strong>Nothing.</strong> No deletion of the client's data is due.".to_owned(),
        },
    }
}

fn holds_list(r: &RetentionReport) -> String {
    r.legal_holds
        .iter()
        .map(|h| h.as_str().to_owned())
        .collect::<Vec<_>>()
        .join(", ")
}

/// What the run would do with one record, in a word or two, and why, as HTML naming the rules.
fn fate(run: &RetentionDryRun<'_>, record: &RetentionRecord, zone: Tz) -> (&'static str, String) {
    let now = run.report.evaluated_at;
    if let Some(deleted) = record.deleted {
        return match run.action {
            Some(Action::WouldDestroyKeyForRecordedDeletion { .. }) => (
                "destroy the key",
                format!(
                    "R-RET-2: the deletion recorded at position {} covers it, but the client's data key is still active",
                    deleted.position
                ),
            ),
            _ => (
                "deleted already",
                format!(
                    "the deletion recorded at position {} covers it",
                    deleted.position
                ),
            ),
        };
    }
    match run.action {
        Some(Action::WouldDelete { deadline, .. }) => {
            return (
                "delete",
                format!(
                    "R-RET-2: the client's deletion deadline ({}) passed; destroying the client's data key shreds this record with the rest",
                    when(*deadline, now, zone)
                ),
            )
        }
        Some(Action::Refused { rule, refusal, .. }) => {
            return (
                "keep",
                format!(
                    "{}{}",
                    rule.map_or_else(String::new, |rule| format!("{rule}: ")),
                    esc(&refusal.to_string())
                ),
            )
        }
        Some(Action::Failed { .. }) => return ("not judged", "see above".to_owned()),
        _ => {}
    }
    let mut why: Vec<String> = record
        .held_by
        .iter()
        .map(|hold| match hold {
            RetentionHold::LegalHold { hold_id } => format!(
                "R-RET-2: legal hold <code>{}</code> suspends deletion",
                esc(hold_id.as_str())
            ),
            RetentionHold::MinimumRetention { until } => {
                format!(
                    "R-RET-1: minimum retention until {}",
                    when(*until, now, zone)
                )
            }
        })
        .collect();
    // The minimum's end is the deadline when it is the later of the two: say it once.
    let said = |d: DateTime<Utc>| {
        record
            .held_by
            .iter()
            .any(|h| matches!(h, RetentionHold::MinimumRetention { until } if *until == d))
    };
    match record.deletion_deadline {
        Some(d) if record.overdue => why.push(format!(
            "R-RET-2: past its own deletion deadline, {}, but a run deletes only the client's data as a whole, whose deadline has not passed",
            when(d, now, zone)
        )),
        Some(d) if d > now && !said(d) => why.push(format!(
            "R-RET-2: deletion deadline {} not reached",
            when(d, now, zone)
        )),
        Some(_) => {}
        None if run.report.terminated_at.is_none() => {
            why.push("not terminated: no R-RET-2 deadline runs".to_owned());
        }
        None if why.is_empty() => why.push("no deletion deadline is known".to_owned()),
        None => {}
    }
    ("keep", why.join("; "))
}

/// Why a record has no deletion deadline: the client is not terminated, or a legal hold
/// suspends it (R-RET-2: the deadline is unknown until the hold is released).
fn no_deadline(r: &RetentionReport) -> &'static str {
    if r.terminated_at.is_none() {
        "none: not terminated"
    } else if !r.legal_holds.is_empty() {
        "suspended by the legal hold"
    } else {
        "none yet"
    }
}

/// "1 record", "3 records".
fn records_words(n: usize) -> String {
    if n == 1 {
        "1 record".to_owned()
    } else {
        format!("{n} records")
    }
}

/// What a record is, as a reader names it.
fn record_name(record: &RecordKind) -> String {
    match record {
        RecordKind::ClientData => "all client data".to_owned(),
        RecordKind::Call { call_id } => format!("call <code>{}</code>", esc(call_id.as_str())),
    }
}

/// The client's standing as facts: termination, confidentiality, holds, deletions due.
fn standing_html(run: &RetentionDryRun<'_>, zone: Tz) -> String {
    let r = run.report;
    let now = r.evaluated_at;
    let mut dl = String::from("<dl class=facts>");
    let mut fact = |term: &str, value: String| {
        let _ = write!(dl, "<dt>{term}</dt><dd>{value}</dd>");
    };
    fact(
        "Termination",
        match r.terminated_at {
            Some(t) => format!(
                "took effect {}: R-RET-2's deletion deadlines count from it",
                when(t, now, zone)
            ),
            None => "not terminated: records are kept, no deletion deadline runs".to_owned(),
        },
    );
    if let Some(until) = r.confidentiality_until {
        fact(
            "Confidentiality (R-RET-3)",
            format!("survives until {}", when(until, now, zone)),
        );
    }
    fact(
        "Legal holds",
        if r.legal_holds.is_empty() {
            "none active".to_owned()
        } else {
            format!(
                "{} active: deletion is suspended while a hold lasts (R-RET-2)",
                esc(&holds_list(r))
            )
        },
    );
    fact(
        &format!("Deletions due in {}", run.month.first_day().format("%B %Y")),
        format!("{} (R-RET-2)", records_words(r.deletions_due.len())),
    );
    dl.push_str("</dl>");
    dl
}

/// The operator's retention page of one client.
pub fn retention_page(links: &dyn Links, viewer: &Viewer<'_>, run: RetentionDryRun<'_>) -> String {
    let zone = run.profile.time_zone;
    let r = run.report;
    let client = r.client_id.as_str();
    let name = run.profile.display_name();
    let month_words = run.month.first_day().format("%B %Y").to_string();
    let meta = format!(
        "Client {} (id <code>{}</code>) · what <code>opsledger retention apply</code> would do if run at {} · a dry run: nothing is deleted · times in {zone}, UTC beneath",
        esc(name),
        esc(client),
        esc(&local(r.evaluated_at, zone))
    );
    // Only a deletion, or a client that could not be judged, needs the operator's attention.
    let class = match run.action {
        Some(Action::WouldDelete { .. } | Action::Failed { .. }) => "alert",
        _ => "notice",
    };
    let mut body = format!(
        "<h2>What a run would do</h2><p class={class}>{}</p><h2>Standing</h2>{}",
        verdict_sentence(&run, zone),
        standing_html(&run, zone)
    );
    let fates: Vec<(&RetentionRecord, &'static str, String)> = r
        .records
        .iter()
        .map(|record| {
            let (word, why) = fate(&run, record, zone);
            (record, word, why)
        })
        .collect();
    let mut tally: BTreeMap<&str, usize> = BTreeMap::new();
    for (_, word, _) in &fates {
        *tally.entry(word).or_default() += 1;
    }
    let tally: Vec<String> = tally
        .iter()
        .map(|(word, n)| match *word {
            "deleted already" => format!("find {n} deleted already"),
            "destroy the key" => format!("destroy the key of {n}"),
            "not judged" => format!("leave {n} unjudged"),
            other => format!("{other} {n}"),
        })
        .collect();
    let _ = write!(
        body,
        "<h2>Records</h2><p>{}: the client's data as a whole, then each call in connection order. A run would {}.</p>",
        records_words(r.records.len()),
        tally.join(", ")
    );
    let rows: Vec<Vec<String>> = fates
        .iter()
        .take(RETENTION_LISTED)
        .map(|(record, word, why)| {
            vec![
                record_name(&record.record),
                record
                    .earliest_deletion
                    .map_or_else(|| "–".to_owned(), |e| local_and_utc(e, zone)),
                match record.deletion_deadline {
                    Some(d) => local_and_utc(d, zone),
                    None => no_deadline(r).to_owned(),
                },
                format!("<strong>{word}</strong>"),
                why.clone(),
            ]
        })
        .collect();
    body.push_str(&table(
        &format!("Each record's retention, times in {zone}"),
        &[
            "record",
            "earliest deletion (R-RET-1)",
            "deadline (R-RET-2)",
            "a run would",
            "why",
        ],
        &rows,
    ));
    if r.records.len() > RETENTION_LISTED {
        let _ = write!(
            body,
            "<p>The first {RETENTION_LISTED} records are listed; the other {} are counted above. The API's retention report lists them all.</p>",
            r.records.len() - RETENTION_LISTED
        );
    }
    let shell = "<code>opsledger retention apply --dry-run</code> gives the same answer for every client at the shell.";
    match run.position {
        Some(p) => {
            let _ = write!(
                body,
                "<p class=provenance>This answer reflects the ledger up to position <strong>{p}</strong>. {shell}</p>"
            );
        }
        None => {
            let _ = write!(
                body,
                "<p class=provenance>This answer reflects an empty ledger. {shell}</p>"
            );
        }
    }
    layout(
        links,
        Some(viewer),
        &Page {
            title: format!("Retention dry run — {name}"),
            meta,
            trail: vec![
                Crumb::link("Clients", links.clients()),
                Crumb::link(
                    format!("{name} · {month_words}"),
                    links.month(client, run.month),
                ),
                Crumb::here("Retention dry run"),
            ],
            body,
        },
    )
}
