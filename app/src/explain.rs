//! Dispute views: any obligation a report lists, or every obligation of one record (a call,
//! escalation, invoice, review, issue or breach) or of a client's month, quarter, interval or
//! fact, explained in one answer (the
//! rule and its catalog text, the value in force and the record that set it, clock start, due
//! instant, verdict and by how much, the excused windows that bore on it, and every event that
//! proves it with its occurred and recorded times), and the resolution of ids "as printed
//! anywhere" into the stream they name.
//!
//! The judgement itself is pure ([`explain_view`]) over one client's view (`project::client_view`
//! through `report::view_for`, so the as-of bases are those of `report`); [`explain`] adds what
//! only the log holds: each event's stream, type, metadata and opened data, the events sharing a
//! correlation id with them, and the position and hash the answer reflects.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, FixedOffset, Utc};
use chrono_tz::Tz;
use opsledger_domain::ids::ClientId;
use opsledger_domain::rules::RuleId;
use opsledger_projections::model::{ClientRecord, ReadModel};
use opsledger_projections::obligation_id::{self, SubjectRef};
use opsledger_projections::obligations::{Obligation, Subject};
use opsledger_projections::source::{value_source, ValueSource};
use opsledger_projections::verdict::{excusal, windows_seen, Excusal, ExcusedWindow, Verdict};
use opsledger_projections::{AsOf, EventRef, Period, Projections, ReportError};
use opsledger_store::{Direction, EventFilter, EventStore, StoreError, StreamId};
use serde::Serialize;
use uuid::Uuid;

use crate::clock::Clock;
use crate::crypto::Sealer;
use crate::error::{AppError, AppResult};
use crate::ledger::Target;
use crate::progress::Progress;
use crate::report::{self, Basis};

mod lookup;
mod scope;
mod words;
pub use lookup::{client_of_printed, printed_stream};
use scope::{record_scope, Wanted};
pub use words::{human_secs, money, outcome, rule_text, value_text};

/// What `explain` (and, for its stream forms, `timeline`) accepts, for the hint on an unknown id.
pub const ACCEPTED_FORMS: &str = "an obligation id as reports print it, RULE:SUBJECT (e.g. \
     R-ESC-1:1656680400.12, R-ESC-2:esc-7/tier-1, R-QA-1:acme-dental/2026-10, \
     R-REP-3:acme-dental/2026-Q4, R-BIL-3:acme-dental/suspension@2547), or its subject alone: a \
     call, escalation, invoice, review, quality issue, breach or account issue id (with or \
     without its stream prefix: call-…, escalation-…, invoice-…, review-…, qualityissue-…, \
     breach-…, accountissue-…) or CLIENT/MONTH, CLIENT/QUARTER, CLIENT/FROM/TO, \
     CLIENT/KIND@POSITION";

/// Events sharing a correlation id with the evidence are listed when the group holds at most
/// this many; a larger group is a batch (an import run, a demo month), not one dispute's story.
pub const CORRELATION_GROUP_LIMIT: usize = 50;

/// The kinds of record `explain` answers about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EntityKind {
    /// A call.
    Call,
    /// An escalation.
    Escalation,
    /// An invoice.
    Invoice,
    /// A QA review.
    Review,
    /// A quality issue.
    QualityIssue,
    /// A conduct breach.
    Breach,
    /// An account issue.
    AccountIssue,
    /// Something of a client that is not one record: a month, a quarter, an interval, or a
    /// fact of the client's own stream.
    Client,
}

impl EntityKind {
    /// Every kind of record, in the order a bare id is tried.
    pub const ALL: [EntityKind; 7] = [
        EntityKind::Call,
        EntityKind::Escalation,
        EntityKind::Invoice,
        EntityKind::Review,
        EntityKind::QualityIssue,
        EntityKind::Breach,
        EntityKind::AccountIssue,
    ];

    /// The stream category of its records.
    pub fn category(self) -> &'static str {
        match self {
            EntityKind::Call => "call",
            EntityKind::Escalation => "escalation",
            EntityKind::Invoice => "invoice",
            EntityKind::Review => "review",
            EntityKind::QualityIssue => "qualityissue",
            EntityKind::Breach => "breach",
            EntityKind::AccountIssue => "accountissue",
            EntityKind::Client => "client",
        }
    }

    /// How the answer names it: "call", "quality issue", ….
    pub fn words(self) -> &'static str {
        match self {
            EntityKind::QualityIssue => "quality issue",
            EntityKind::AccountIssue => "account issue",
            other => other.category(),
        }
    }

    fn of_category(category: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.category() == category)
    }
}

/// What was asked about, once resolved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Asked {
    /// The id as given.
    pub given: String,
    /// What it names.
    pub kind: EntityKind,
    /// The id without its stream prefix.
    pub id: String,
    /// Its stream.
    pub stream_id: String,
    /// The one rule asked about (`RULE:ID`), or every obligation of the record.
    pub rule: Option<RuleId>,
    /// R-ESC-2's unreachable tier, when the id named one (`ID/tier-N`).
    pub tier: Option<u32>,
}

/// What `explain_view` explains, once the stream of its id is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// A record by kind and id (without its stream prefix), and R-ESC-2's tier if one was asked.
    Record {
        /// The kind of record.
        kind: EntityKind,
        /// Its id.
        id: String,
        /// The unreachable tier.
        tier: Option<u32>,
    },
    /// Something of the client that is not one record: its obligations are those whose printed
    /// subject is `subject`, among those of `period`.
    Client {
        /// The subject as parsed from the printed id.
        subject: SubjectRef,
        /// The period whose obligations hold it.
        period: Period,
    },
}

/// Splits `R-ESC-1:rest` into the rule and the rest; any other text is all id.
pub fn split_rule(raw: &str) -> (Option<RuleId>, &str) {
    match raw.split_once(':') {
        Some((rule, rest)) => match rule.parse::<RuleId>() {
            Ok(rule) => (Some(rule), rest),
            Err(_) => (None, raw),
        },
        None => (None, raw),
    }
}

/// The error for an id that names nothing, with the forms accepted.
pub fn unknown_id(raw: &str, forms: &str) -> AppError {
    AppError::InvalidRequest {
        what: format!("{raw:?}"),
        detail: format!("no record of the ledger has this id; accepted forms: {forms}"),
    }
}

async fn stream_exists(store: &Arc<dyn EventStore>, stream: &StreamId) -> AppResult<bool> {
    match store.read_stream(stream, 0, Direction::Forward, 1).await {
        Ok(events) => Ok(!events.is_empty()),
        Err(StoreError::StreamNotFound { .. }) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// The stream an id as printed anywhere names: the stream itself when one has exactly this
/// id, else the stream of `categories` (tried in order) holding it. Reports print calls,
/// escalations and invoices by their bare id, so `1656680400.12` finds `call-1656680400.12`.
/// A bare id found in more than one category is refused as ambiguous, naming the streams.
/// `None` when nothing matches.
pub async fn resolve_stream(
    store: &Arc<dyn EventStore>,
    raw: &str,
    categories: &[&str],
) -> AppResult<Option<StreamId>> {
    if let Ok(exact) = StreamId::parse(raw) {
        if stream_exists(store, &exact).await? {
            return Ok(Some(exact));
        }
    }
    let mut found = Vec::new();
    for category in categories {
        let Ok(candidate) = StreamId::new(category, raw) else {
            continue;
        };
        if stream_exists(store, &candidate).await? {
            found.push(candidate);
        }
    }
    if found.len() > 1 {
        let names: Vec<&str> = found.iter().map(StreamId::as_str).collect();
        return Err(AppError::InvalidRequest {
            what: format!("{raw:?}"),
            detail: format!(
                "names more than one record ({}); give the one you mean with its prefix",
                names.join(", ")
            ),
        });
    }
    Ok(found.pop())
}

/// Where the value in force came from, with the catalog text of the rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExplainedObligation {
    /// The rule judged.
    pub rule: RuleId,
    /// The rule as the catalog states it, and its seed section.
    pub rule_text: String,
    /// The obligation as the obligation report has it (value, clock start, due, verdict,
    /// evidence, note).
    pub obligation: Obligation,
    /// The value in force, in words ("3 min").
    pub value_text: String,
    /// Where that value came from.
    pub value_source: ValueSource,
    /// The instant the value was looked up at.
    pub value_at: DateTime<Utc>,
    /// The verdict in words: "missed by 4 min 12 s", "met 1 min 5 s before the due instant".
    pub outcome: String,
    /// The excused windows that bore on the verdict and the reading that applied.
    pub windows_applied: Vec<AppliedWindow>,
}

/// One excused window and how it bore on an obligation (the catalog's Readings).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AppliedWindow {
    /// The window.
    pub window: ExcusedWindow,
    /// `a` (it held the whole performance interval) or `b` (it held the due instant and
    /// extended the deadline).
    pub reading: char,
    /// The reading in words.
    pub explanation: String,
}

/// One event the answer rests on: why it is shown, and its place in the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ShownEvent {
    /// Global position.
    pub position: u64,
    /// Event id.
    pub event_id: Uuid,
    /// Its stream.
    pub stream_id: String,
    /// Its type.
    pub event_type: String,
    /// When the fact occurred, UTC.
    pub occurred_at: DateTime<Utc>,
    /// The same instant in the client's zone.
    pub occurred_local: DateTime<FixedOffset>,
    /// When the ledger recorded it, UTC.
    pub recorded_at: DateTime<Utc>,
    /// The same instant in the client's zone.
    pub recorded_local: DateTime<FixedOffset>,
    /// Why it is shown: "R-ESC-1 clock start", "escalation e-1 (of this call)", ….
    pub roles: Vec<String>,
    /// The correlation id of its metadata.
    pub correlation_id: Option<Uuid>,
    /// The causation id of its metadata.
    pub causation_id: Option<Uuid>,
    /// The position of the causing event when it is among the events shown.
    pub caused_by_position: Option<u64>,
    /// Who or what recorded it.
    pub actor: Option<String>,
    /// The system it came from.
    pub source: Option<String>,
    /// Its data, personal fields opened (or `[shredded]`).
    pub data: serde_json::Value,
}

/// The dispute view of one record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Explanation {
    /// What was asked.
    pub asked: Asked,
    /// The client.
    pub client_id: String,
    /// The client's IANA time zone (of the agreement in force at the record's first event).
    pub time_zone: String,
    /// The basis the answer is given on.
    pub as_of: AsOf,
    /// The instant pending deadlines were judged at.
    pub evaluated_at: DateTime<Utc>,
    /// The obligations of the record, in catalog order.
    pub obligations: Vec<ExplainedObligation>,
    /// The excused windows the basis sees for the client (whether or not they applied).
    pub excused_windows_seen: Vec<ExcusedWindow>,
    /// Every event shown, in log order.
    pub events: Vec<ShownEvent>,
    /// The streams those events belong to, in first-shown order.
    pub streams: Vec<String>,
    /// What was not followed, and why.
    pub notes: Vec<String>,
    /// The last log position the answer reflects (`None` for an empty view).
    pub position: Option<u64>,
    /// The hash of the event at that position.
    pub head_hash: Option<String>,
}

/// The pure part of an explanation: the judged obligations and the events they rest on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draft {
    /// The client's zone.
    pub time_zone: Tz,
    /// The obligations.
    pub obligations: Vec<ExplainedObligation>,
    /// The windows the basis sees.
    pub windows: Vec<ExcusedWindow>,
    /// Each event to show, by position, with why.
    pub events: BTreeMap<u64, (EventRef, Vec<String>)>,
}

impl Draft {
    fn show(&mut self, event: EventRef, role: impl Into<String>) {
        // Month- and quarter-level obligations cite synthetic clock starts with no event.
        if event.position == u64::MAX {
            return;
        }
        let role = role.into();
        let entry = self
            .events
            .entry(event.position)
            .or_insert_with(|| (event, Vec::new()));
        if !entry.1.contains(&role) {
            entry.1.push(role);
        }
    }
}

/// One instant past `at`: the end of a period holding exactly the instants up to `at`.
fn just_after(at: DateTime<Utc>) -> DateTime<Utc> {
    at + Duration::nanoseconds(1)
}

fn not_seen(kind: EntityKind, id: &str) -> AppError {
    AppError::InvalidRequest {
        what: format!("{} {id}", kind.category()),
        detail: "is not recorded as of the requested basis".to_owned(),
    }
}

/// Explains what `lookup` names in one client's view (one record's obligations, or those of
/// the client whose printed subject it is), as of a basis, judging pending deadlines at
/// `evaluated_at`; `rule` keeps that rule's alone. Pure: the same view and arguments give the
/// same draft.
pub fn explain_view(
    view: &Projections,
    client_id: &ClientId,
    lookup: &Lookup,
    rule: Option<RuleId>,
    as_of: AsOf,
    evaluated_at: DateTime<Utc>,
) -> AppResult<Draft> {
    let model = view.model();
    let client = model
        .clients
        .by_key(client_id)
        .filter(|c| as_of.sees(&c.onboarded))
        .ok_or_else(|| AppError::Report(ReportError::UnknownClient(client_id.clone())))?;
    let rules = model.rules_view(client, &as_of);
    let windows = windows_seen(model, client, &as_of);
    let mut draft = Draft {
        time_zone: chrono_tz::UTC,
        obligations: Vec::new(),
        windows: windows.clone(),
        events: BTreeMap::new(),
    };
    let (period, wanted): (Period, Wanted<'_>) = match lookup {
        Lookup::Record { kind, id, tier } => {
            let (instants, of_record) = record_scope(model, client, &as_of, *kind, id, &mut draft)?;
            let first = instants.iter().min().copied().unwrap_or(evaluated_at);
            let last = instants.iter().max().copied().unwrap_or(evaluated_at);
            let tier = *tier;
            // `ID/tier-N` names R-ESC-2's obligation for that unreachable tier alone.
            let of_tier = move |o: &Obligation| match (tier, &o.subject) {
                (None, _) => true,
                (Some(t), Subject::Escalation { tier: Some(x), .. }) => *x == t,
                (Some(_), _) => false,
            };
            (
                Period {
                    from: first,
                    to: just_after(last),
                },
                Box::new(move |o: &Obligation| of_record(o) && of_tier(o)),
            )
        }
        Lookup::Client { subject, period } => {
            let subject = subject.clone();
            (
                *period,
                Box::new(move |o: &Obligation| {
                    obligation_id::parse(&o.id).is_ok_and(|p| p.subject == subject)
                }),
            )
        }
    };
    draft.time_zone = rules.agreement_at(period.from).calendar.time_zone;
    let report = view.obligation_report(client_id, period, as_of, evaluated_at)?;
    for o in report
        .obligations
        .into_iter()
        .filter(|o| wanted(o) && rule.map_or(true, |r| r == o.rule))
    {
        let explained = explain_obligation(model, client, &as_of, &windows, draft.time_zone, o);
        let rule = explained.rule;
        for (i, e) in explained.obligation.evidence.iter().enumerate() {
            draft.show(*e, evidence_role(&explained.obligation, i, e));
        }
        if let ValueSource::Agreement { event, .. } | ValueSource::SopAmendment { event, .. } =
            &explained.value_source
        {
            draft.show(*event, format!("set the {rule} value in force"));
        }
        for w in &explained.windows_applied {
            for e in &w.window.evidence {
                draft.show(
                    *e,
                    format!("excused window {} ({rule})", w.window.window_id),
                );
            }
        }
        draft.obligations.push(explained);
    }
    if let Some(r) = rule {
        if draft.obligations.is_empty() {
            let what = match lookup {
                Lookup::Record { kind, id, .. } => format!("{} {id}", kind.words()),
                Lookup::Client { subject, .. } => format!("{subject:?}"),
            };
            return Err(AppError::InvalidRequest {
                what: format!("{r} for {what}"),
                detail: "no such obligation as of the requested basis".to_owned(),
            });
        }
    }
    Ok(draft)
}

/// Why an obligation cites its `i`-th evidence event: the first is its clock start (when the
/// obligation has one at that instant), an event at the meeting instant met or performed it.
fn evidence_role(o: &Obligation, i: usize, e: &EventRef) -> String {
    let rule = o.rule;
    let met_at = match &o.verdict {
        Verdict::Met { met_at } => Some(*met_at),
        Verdict::Missed { met_at, .. } => *met_at,
        _ => None,
    };
    if i == 0 && o.clock_start == Some(e.occurred_at) {
        format!("{rule} clock start")
    } else if i > 0 && met_at == Some(e.occurred_at) {
        match &o.verdict {
            Verdict::Met { .. } => format!("{rule} met by it"),
            _ => format!("{rule} performed by it, late"),
        }
    } else {
        format!("{rule} evidence")
    }
}

fn explain_obligation(
    model: &ReadModel,
    client: &ClientRecord,
    as_of: &AsOf,
    windows: &[ExcusedWindow],
    zone: Tz,
    o: Obligation,
) -> ExplainedObligation {
    let stamp = |at: DateTime<Utc>| local(at, zone);
    let describe = |w: &ExcusedWindow| {
        let cause = serde_json::to_value(w.cause)
            .ok()
            .and_then(|c| c.as_str().map(|c| c.replace('_', " ")))
            .unwrap_or_default();
        format!(
            "window {} ({cause}, {} to {})",
            w.window_id,
            stamp(w.from),
            w.to.map_or_else(|| "still open".to_owned(), stamp)
        )
    };
    // The value is looked up at the clock start, except R-ESC-3's, whose clock starts when the
    // interval closes but whose interval is the one in force when the item was raised.
    let value_at = match (o.rule, o.evidence.first()) {
        (RuleId::Esc3, Some(raised)) => raised.occurred_at,
        _ => o
            .clock_start
            .or_else(|| o.evidence.first().map(|e| e.occurred_at))
            .unwrap_or(DateTime::<Utc>::MIN_UTC),
    };
    let source = value_source(model, client, as_of, o.rule, value_at);
    let windows_applied = match (&o.verdict, o.clock_start, o.due_at) {
        // A met obligation stays met even inside a window: no window bore on it.
        (Verdict::Met { .. }, _, _) => Vec::new(),
        (_, Some(start), Some(due)) => match excusal(o.rule, start, due, windows) {
            Excusal::None => Vec::new(),
            Excusal::Whole(w) => vec![AppliedWindow {
                explanation: format!(
                    "reading (a): {} held the whole performance interval, {} to {}",
                    describe(&w),
                    stamp(start),
                    stamp(due)
                ),
                window: w,
                reading: 'a',
            }],
            Excusal::Extended { windows, due: ext } => windows
                .into_iter()
                .map(|w| AppliedWindow {
                    explanation: format!(
                        "reading (b): {} held the due instant {}; the clock stood still while it was open, extending the deadline {}",
                        describe(&w),
                        stamp(due),
                        ext.map_or_else(|| "until it closes".to_owned(), |e| format!("to {}", stamp(e)))
                    ),
                    window: w,
                    reading: 'b',
                })
                .collect(),
        },
        _ => Vec::new(),
    };
    ExplainedObligation {
        rule: o.rule,
        rule_text: rule_text(o.rule).to_owned(),
        value_text: value_text(&o.rule_value),
        value_source: source,
        value_at,
        outcome: outcome(&o, zone),
        windows_applied,
        obligation: o,
    }
}

/// An instant in the client's zone, to the second, with the zone named.
pub fn local(at: DateTime<Utc>, zone: Tz) -> String {
    format!(
        "{} {}",
        at.with_timezone(&zone).format("%Y-%m-%d %H:%M:%S"),
        zone.name()
    )
}

/// The explanation of `raw` (see [`ACCEPTED_FORMS`]) on `basis`: as of a position, only the log
/// up to it is read; pending deadlines are judged at `basis.evaluated_at(clock)`.
pub async fn explain(
    target: &Target,
    raw: &str,
    basis: &Basis,
    clock: &dyn Clock,
    progress: &dyn Progress,
) -> AppResult<Explanation> {
    let store = report::up_to_date(target, progress).await?;
    explain_in(&store, raw, basis, clock).await
}

/// [`explain`] on a store already open (a server keeps one open and its read model current).
pub async fn explain_in(
    store: &Arc<dyn EventStore>,
    raw: &str,
    basis: &Basis,
    clock: &dyn Clock,
) -> AppResult<Explanation> {
    let resolved = lookup::resolve(store, raw).await?;
    let client = resolved.client.clone();
    let as_of = basis.as_of();
    let evaluated_at = basis.evaluated_at(clock);
    let view = report::view_for(store, &client, as_of).await?;
    let found = resolved.lookup(&view, as_of)?;
    let draft = explain_view(&view, &client, &found, resolved.rule, as_of, evaluated_at)?;
    let position = view.checkpoint().checked_sub(1);
    let (events, notes) = read_events(store, &draft, as_of, position).await?;
    let mut streams: Vec<String> = Vec::new();
    for e in &events {
        if !streams.contains(&e.stream_id) {
            streams.push(e.stream_id.clone());
        }
    }
    let head_hash = match position {
        Some(p) => store.read_all(p, 1).await?.first().map(|e| e.hash.to_hex()),
        None => None,
    };
    Ok(Explanation {
        asked: Asked {
            given: raw.to_owned(),
            kind: resolved.kind,
            id: resolved.id,
            stream_id: resolved.stream.to_string(),
            rule: resolved.rule,
            tier: resolved.tier,
        },
        client_id: client.as_str().to_owned(),
        time_zone: draft.time_zone.name().to_owned(),
        as_of,
        evaluated_at,
        obligations: draft.obligations,
        excused_windows_seen: draft.windows,
        events,
        streams,
        notes,
        position,
        head_hash,
    })
}

/// Reads every event of the draft from the log, adds the events sharing a correlation id with
/// them (small groups only, within the basis), and links causation among what is shown.
async fn read_events(
    store: &Arc<dyn EventStore>,
    draft: &Draft,
    as_of: AsOf,
    position: Option<u64>,
) -> AppResult<(Vec<ShownEvent>, Vec<String>)> {
    let mut recorded = BTreeMap::new();
    for (p, (_, roles)) in &draft.events {
        if let Some(e) = store.read_all(*p, 1).await?.into_iter().next() {
            recorded.insert(*p, (e, roles.clone()));
        }
    }
    let mut notes = Vec::new();
    let correlations: Vec<Uuid> = {
        let mut ids: Vec<Uuid> = recorded
            .values()
            .filter_map(|(e, _)| e.metadata.correlation_id)
            .collect();
        ids.sort();
        ids.dedup();
        ids
    };
    let client = recorded.values().find_map(|(e, _)| e.client_id.clone());
    for correlation in correlations {
        let filter = EventFilter {
            correlation_id: Some(correlation),
            client_id: client.clone(),
            ..EventFilter::default()
        };
        let group = store
            .read_filtered(&filter, 0, CORRELATION_GROUP_LIMIT + 1)
            .await?;
        if group.len() > CORRELATION_GROUP_LIMIT {
            notes.push(format!(
                "correlation {correlation} groups more than {CORRELATION_GROUP_LIMIT} events (a batch such as an import run or a demo month): its other events are not listed"
            ));
            continue;
        }
        for e in group {
            let reference = EventRef {
                position: e.global_position,
                event_id: e.event_id,
                recorded_at: e.recorded_at,
                occurred_at: e.occurred_at,
            };
            let within = position.is_some_and(|p| e.global_position <= p) && as_of.sees(&reference);
            if !within {
                continue;
            }
            let role = format!("same correlation {correlation}");
            let entry = recorded
                .entry(e.global_position)
                .or_insert_with(|| (e, Vec::new()));
            if entry.1.is_empty() {
                entry.1.push(role);
            }
        }
    }
    let by_id: BTreeMap<Uuid, u64> = recorded
        .values()
        .map(|(e, _)| (e.event_id, e.global_position))
        .collect();
    let mut sealer = Sealer::new(Arc::clone(store));
    let zone = draft.time_zone;
    let mut shown = Vec::new();
    for (_, (e, roles)) in recorded {
        let data = sealer.open_data(&e).await?;
        shown.push(ShownEvent {
            position: e.global_position,
            event_id: e.event_id,
            stream_id: e.stream_id.to_string(),
            event_type: e.event_type.clone(),
            occurred_at: e.occurred_at,
            occurred_local: e.occurred_at.with_timezone(&zone).fixed_offset(),
            recorded_at: e.recorded_at,
            recorded_local: e.recorded_at.with_timezone(&zone).fixed_offset(),
            roles,
            correlation_id: e.metadata.correlation_id,
            causation_id: e.metadata.causation_id,
            caused_by_position: e.metadata.causation_id.and_then(|c| by_id.get(&c).copied()),
            actor: e.metadata.actor.clone(),
            source: e.metadata.source.clone(),
            data,
        });
    }
    Ok((shown, notes))
}
