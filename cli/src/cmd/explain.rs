//! `opsledger explain`: arguments, and the dispute view `opsledger_app::explain` builds, as one
//! screen of text for a person or as JSON with the full model.

use std::fmt::Write as _;
use std::io::Write as _;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use clap::{Args, ValueEnum};
use opsledger_app::explain::{EntityKind, ExplainedObligation, Explanation};
use opsledger_app::report::Basis;
use opsledger_app::{SystemClock, Target};
use opsledger_projections::source::ValueSource;
use opsledger_projections::AsOf;

use crate::progress::Bar;

/// How the explanation is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExplainFormat {
    /// One screen of text.
    Table,
    /// The full model as JSON.
    Json,
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// What to explain: an obligation id as reports print it, RULE:SUBJECT (e.g.
    /// R-ESC-1:1656680400.12, R-QA-1:acme-dental/2026-10, R-BIL-3:acme-dental/suspension@2547),
    /// or a subject alone: a call, escalation, invoice, review, quality issue, breach or account
    /// issue id (with or without its stream prefix), or CLIENT/MONTH, CLIENT/QUARTER (2026-Q4),
    /// CLIENT/FROM/TO, CLIENT/KIND@POSITION.
    id: String,
    /// Explain on the log up to and including this global position.
    #[arg(long, conflicts_with_all = ["as_of_recorded", "as_of_occurred"])]
    as_of_position: Option<u64>,
    /// Explain on what the ledger had recorded by this instant (RFC 3339): "what did we know then?".
    #[arg(long, conflicts_with = "as_of_occurred")]
    as_of_recorded: Option<DateTime<Utc>>,
    /// Explain on the facts that had occurred by this instant (RFC 3339), as known now.
    #[arg(long)]
    as_of_occurred: Option<DateTime<Utc>>,
    /// The instant pending deadlines are judged at (default: now, or the as-of instant).
    #[arg(long)]
    evaluated_at: Option<DateTime<Utc>>,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    format: ExplainFormat,
}

pub async fn run(target: &Target, args: ExplainArgs) -> anyhow::Result<()> {
    let basis = Basis {
        as_of_position: args.as_of_position,
        as_of_recorded: args.as_of_recorded,
        as_of_occurred: args.as_of_occurred,
        evaluated_at: args.evaluated_at,
    };
    let explanation =
        opsledger_app::explain::explain(target, &args.id, &basis, &SystemClock, &Bar::projecting())
            .await?;
    let text = match args.format {
        ExplainFormat::Json => serde_json::to_string_pretty(&explanation)?,
        ExplainFormat::Table => screen(&explanation),
    };
    // Written rather than printed, so a reader that stops early (`| head`) ends the command
    // quietly (main treats a broken pipe as success) instead of a panic.
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", text.trim_end())?;
    out.flush()?;
    Ok(())
}

/// An instant in the client's zone with the zone's abbreviation, then in UTC (its date only
/// when it differs from the local one).
pub fn when(at: DateTime<Utc>, zone: Tz) -> String {
    let local = at.with_timezone(&zone);
    let utc = if local.date_naive() == at.date_naive() {
        at.format("%H:%M:%S")
    } else {
        at.format("%Y-%m-%d %H:%M:%S")
    };
    format!("{} ({utc} UTC)", local.format("%Y-%m-%d %H:%M:%S %Z"))
}

fn basis_text(as_of: &AsOf) -> String {
    match as_of {
        AsOf::Head => "the whole log".to_owned(),
        AsOf::Position(p) => format!("the log up to position {p}"),
        AsOf::RecordedAt(t) => format!("what was recorded by {}", t.to_rfc3339()),
        AsOf::OccurredAt(t) => format!("what had occurred by {}", t.to_rfc3339()),
    }
}

fn source_text(o: &ExplainedObligation, zone: Tz) -> String {
    match &o.value_source {
        ValueSource::SopDefault => "the SOP default (no agreement or SOP amendment sets it)".to_owned(),
        ValueSource::SopAmendment {
            amendment_id,
            event,
            takes_effect_at,
        } => format!(
            "SOP amendment {amendment_id} at position {}, event {}, in effect for this client from {}",
            event.position,
            event.event_id,
            when(*takes_effect_at, zone)
        ),
        ValueSource::Agreement {
            amendment_id,
            event,
            effective_at,
            explicit_override,
        } => {
            let which = amendment_id.as_ref().map_or_else(
                || "the onboarding agreement".to_owned(),
                |a| format!("agreement amendment {a}"),
            );
            let how = if *explicit_override {
                "a rule override"
            } else {
                "its terms"
            };
            format!(
                "{which} ({how}) at position {}, event {}, governing from {}",
                event.position,
                event.event_id,
                when(*effective_at, zone)
            )
        }
    }
}

/// The explanation as one screen of text.
pub fn screen(e: &Explanation) -> String {
    let zone: Tz = e.time_zone.parse().unwrap_or(chrono_tz::UTC);
    let mut out = String::new();
    // Writing to a String cannot fail; the results are ignored on purpose.
    let _ = match e.asked.kind {
        EntityKind::Client => writeln!(
            out,
            "{} of client {} (stream {})",
            e.asked.id, e.client_id, e.asked.stream_id
        ),
        kind => writeln!(
            out,
            "{} {} ({}) of client {}",
            kind.words(),
            e.asked.id,
            e.asked.stream_id,
            e.client_id
        ),
    };
    let _ = writeln!(
        out,
        "times in {} with UTC in brackets; on {}; pending deadlines judged at {}",
        e.time_zone,
        basis_text(&e.as_of),
        when(e.evaluated_at, zone)
    );
    if e.obligations.is_empty() {
        let _ = writeln!(
            out,
            "\nno obligation of this record falls due under the rules"
        );
    }
    for o in &e.obligations {
        let ob = &o.obligation;
        let _ = writeln!(out, "\n{}  {}", o.rule, o.rule_text);
        let _ = writeln!(out, "  obligation id    {}", ob.id);
        let _ = writeln!(out, "  value in force   {}", o.value_text);
        let _ = writeln!(out, "  set by           {}", source_text(o, zone));
        if let Some(start) = ob.clock_start {
            let _ = writeln!(out, "  clock start      {}", when(start, zone));
        }
        if let Some(due) = ob.due_at {
            let _ = writeln!(out, "  due              {}", when(due, zone));
        }
        let _ = writeln!(out, "  verdict          {}", o.outcome);
        match &ob.verdict {
            opsledger_projections::verdict::Verdict::Met { met_at }
            | opsledger_projections::verdict::Verdict::Missed {
                met_at: Some(met_at),
                ..
            } => {
                let _ = writeln!(out, "  performed        {}", when(*met_at, zone));
            }
            _ => {}
        }
        if o.windows_applied.is_empty() {
            let _ = writeln!(
                out,
                "  excused windows  none bore on it ({} seen for the client)",
                e.excused_windows_seen.len()
            );
        }
        for w in &o.windows_applied {
            let _ = writeln!(out, "  excused window   {}", w.explanation);
        }
        let evidence: Vec<String> = ob
            .evidence
            .iter()
            .filter(|r| r.position != u64::MAX)
            .map(|r| {
                let stream = e
                    .events
                    .iter()
                    .find(|x| x.position == r.position)
                    .map_or("", |x| x.stream_id.as_str());
                format!("#{} {stream}", r.position)
            })
            .collect();
        let _ = writeln!(out, "  evidence         {}", evidence.join(", "));
        if let Some(note) = &ob.note {
            let _ = writeln!(out, "  note             {note}");
        }
    }
    let _ = writeln!(
        out,
        "\nevents ({} in {} streams: {})",
        e.events.len(),
        e.streams.len(),
        e.streams.join(", ")
    );
    for ev in &e.events {
        // The obligations an event proves come first, then what it is in its record's story.
        let (judged, story): (Vec<&String>, Vec<&String>) =
            ev.roles.iter().partition(|r| r.starts_with("R-"));
        let roles: Vec<&str> = judged
            .into_iter()
            .chain(story)
            .map(String::as_str)
            .collect();
        let _ = writeln!(
            out,
            "  #{} {} in {}: {}",
            ev.position,
            ev.event_type,
            ev.stream_id,
            roles.join("; ")
        );
        let _ = writeln!(
            out,
            "     occurred {} · recorded {}",
            when(ev.occurred_at, zone),
            when(ev.recorded_at, zone)
        );
        let mut meta = vec![format!("event {}", ev.event_id)];
        if let Some(p) = ev.caused_by_position {
            meta.push(format!("caused by #{p}"));
        } else if let Some(c) = ev.causation_id {
            meta.push(format!("caused by event {c} (not shown)"));
        }
        if let Some(c) = ev.correlation_id {
            meta.push(format!("correlation {c}"));
        }
        if let Some(s) = &ev.source {
            meta.push(format!("source {s}"));
        }
        let _ = writeln!(out, "     {}", meta.join(" · "));
    }
    for note in &e.notes {
        let _ = writeln!(out, "  note: {note}");
    }
    match (e.position, &e.head_hash) {
        (Some(p), Some(h)) => {
            let _ = writeln!(
                out,
                "\nthis answer reflects the log up to position {p}, head hash {h}"
            );
        }
        _ => {
            let _ = writeln!(out, "\nthis answer reflects an empty log");
        }
    }
    out
}
