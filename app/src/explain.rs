//! Dispute views: one call, escalation, invoice or obligation explained in one answer (the
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
use opsledger_domain::ids::{CallId, ClientId, EscalationId, InvoiceId};
use opsledger_domain::rules::{RuleId, RuleValue, BASIS_POINTS_PER_WHOLE};
use opsledger_projections::model::{ClientRecord, ReadModel};
use opsledger_projections::obligations::{Obligation, Subject};
use opsledger_projections::source::{value_source, ValueSource};
use opsledger_projections::verdict::{
    excusal, windows_seen, Excusal, ExcusedWindow, Unit, Verdict,
};
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

/// What `explain` (and, for its stream forms, `timeline`) accepts, for the hint on an unknown id.
pub const ACCEPTED_FORMS: &str = "a call, escalation or invoice id as reports print it (e.g. \
     1656680400.12), the same with its stream prefix (call-…, escalation-…, invoice-…), or one \
     obligation of it as RULE:ID (e.g. R-ESC-1:1656680400.12)";

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
}

impl EntityKind {
    /// Every kind, in the order a bare id is tried.
    pub const ALL: [EntityKind; 3] = [
        EntityKind::Call,
        EntityKind::Escalation,
        EntityKind::Invoice,
    ];

    /// The stream category of its records.
    pub fn category(self) -> &'static str {
        match self {
            EntityKind::Call => "call",
            EntityKind::Escalation => "escalation",
            EntityKind::Invoice => "invoice",
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

/// Explains one record of one client's view, as of a basis, judging pending deadlines at
/// `evaluated_at`. Pure: the same view and arguments give the same draft.
pub fn explain_view(
    view: &Projections,
    client_id: &ClientId,
    kind: EntityKind,
    id: &str,
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
    let bad_id = |e| AppError::InvalidRequest {
        what: format!("{} id {id:?}", kind.category()),
        detail: format!("{e}"),
    };
    let mut draft = Draft {
        time_zone: chrono_tz::UTC,
        obligations: Vec::new(),
        windows: windows.clone(),
        events: BTreeMap::new(),
    };
    // The instants whose obligations are collected, and which obligations are this record's.
    let mut instants: Vec<DateTime<Utc>> = Vec::new();
    let wanted: Box<dyn Fn(&Obligation) -> bool + '_> = match kind {
        EntityKind::Call => {
            let call_id = CallId::new(id).map_err(bad_id)?;
            let slot = model.calls.slot(&call_id);
            let call = model
                .calls
                .by_key(&call_id)
                .filter(|c| as_of.sees(&c.connected))
                .ok_or_else(|| not_seen(kind, id))?;
            instants.push(call.connected.occurred_at);
            show_call(&mut draft, call, &as_of, "this call");
            for esc in client
                .escalations
                .iter()
                .filter_map(|s| model.escalations.get(*s))
                .filter(|e| e.call.is_some() && e.call == slot)
            {
                show_escalation(
                    &mut draft,
                    esc,
                    &as_of,
                    &format!("escalation {} of this call", esc.escalation_id),
                );
            }
            Box::new(
                move |o: &Obligation| matches!(&o.subject, Subject::Call { call_id: c } if *c == call_id),
            )
        }
        EntityKind::Escalation => {
            let escalation_id = EscalationId::new(id).map_err(bad_id)?;
            let esc = model
                .escalations
                .by_key(&escalation_id)
                .filter(|e| as_of.sees(&e.opened))
                .ok_or_else(|| not_seen(kind, id))?;
            instants.push(esc.opened.occurred_at);
            instants.extend(esc.unreachable.iter().map(|m| m.event.occurred_at));
            show_escalation(&mut draft, esc, &as_of, "this escalation");
            let call = esc.call.and_then(|s| model.calls.get(s));
            if let Some(call) = call {
                instants.push(call.connected.occurred_at);
                show_call(
                    &mut draft,
                    call,
                    &as_of,
                    &format!("call {} it escalates", call.call_id),
                );
            }
            let call_id = call.map(|c| c.call_id.clone());
            // The escalation's own rules, and R-ESC-1 of the call it escalates, which its
            // first attempt meets.
            Box::new(move |o: &Obligation| match &o.subject {
                Subject::Escalation {
                    escalation_id: e, ..
                } => *e == escalation_id,
                Subject::Call { call_id: c } => {
                    o.rule == RuleId::Esc1 && call_id.as_ref() == Some(c)
                }
                _ => false,
            })
        }
        EntityKind::Invoice => {
            let invoice_id = InvoiceId::new(id).map_err(bad_id)?;
            let invoice = model
                .invoices
                .by_key(&invoice_id)
                .filter(|i| as_of.sees(&i.issued))
                .ok_or_else(|| not_seen(kind, id))?;
            instants.push(invoice.issued.occurred_at);
            draft.show(invoice.issued, "this invoice: issued");
            for p in invoice.payments.iter().filter(|p| as_of.sees(&p.event)) {
                draft.show(p.event, format!("payment of {} (minor units)", p.amount));
            }
            for c in invoice.credits.iter().filter(|c| as_of.sees(&c.event)) {
                draft.show(
                    c.event,
                    format!("credit note of {} (minor units)", c.amount),
                );
            }
            let mut suspensions = Vec::new();
            for notice in client
                .default_notices
                .iter()
                .filter(|n| as_of.sees(&n.event) && n.invoice_ids.contains(&invoice_id))
            {
                draft.show(
                    notice.event,
                    format!(
                        "payment default notice {} citing this invoice",
                        notice.notice_id
                    ),
                );
                for s in client
                    .suspensions
                    .iter()
                    .filter(|s| s.notice_id == notice.notice_id && as_of.sees(&s.event))
                {
                    instants.push(s.event.occurred_at);
                    suspensions.push(s.event.position);
                    draft.show(
                        s.event,
                        format!("suspension relying on notice {}", notice.notice_id),
                    );
                    if let Some(r) = s.resumed.filter(|r| as_of.sees(r)) {
                        draft.show(r, "service resumed after that suspension");
                    }
                }
            }
            Box::new(move |o: &Obligation| match &o.subject {
                Subject::Invoice { invoice_id: i } => *i == invoice_id,
                Subject::Suspension => o.evidence.iter().any(|e| suspensions.contains(&e.position)),
                _ => false,
            })
        }
    };
    let first = instants.iter().min().copied().unwrap_or(evaluated_at);
    let last = instants.iter().max().copied().unwrap_or(evaluated_at);
    draft.time_zone = rules.agreement_at(first).calendar.time_zone;
    let period = Period {
        from: first,
        to: just_after(last),
    };
    let report = view.obligation_report(client_id, period, as_of, evaluated_at)?;
    for o in report
        .obligations
        .into_iter()
        .filter(|o| wanted(o) && rule.map_or(true, |r| r == o.rule))
    {
        let explained = explain_obligation(model, client, &as_of, &windows, o);
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
            return Err(AppError::InvalidRequest {
                what: format!("{r}:{id}"),
                detail: format!(
                    "{r} opened no obligation for {} {id} as of the requested basis",
                    kind.category()
                ),
            });
        }
    }
    Ok(draft)
}

fn show_call(
    draft: &mut Draft,
    call: &opsledger_projections::model::CallRecord,
    as_of: &AsOf,
    whose: &str,
) {
    let mut show = |e: Option<EventRef>, what: &str| {
        if let Some(e) = e.filter(|e| as_of.sees(e)) {
            draft.show(e, format!("{whose}: {what}"));
        }
    };
    show(Some(call.connected), "entered the queue");
    show(call.answered, "answered");
    show(call.voicemail, "routed to voicemail");
    show(call.abandoned.map(|a| a.event), "left the queue");
    show(call.completed, "completed");
    for classification in &call.classifications {
        show(Some(classification.event), "classified");
    }
    show(call.first_documentation.map(|d| d.event), "documented");
    show(call.complete_documentation, "documented in full");
    show(call.documentation_delivered, "documentation delivered");
}

fn show_escalation(
    draft: &mut Draft,
    esc: &opsledger_projections::model::EscalationRecord,
    as_of: &AsOf,
    whose: &str,
) {
    if as_of.sees(&esc.opened) {
        draft.show(esc.opened, format!("{whose}: opened"));
    }
    for a in esc.attempts.iter().filter(|a| as_of.sees(&a.event)) {
        draft.show(
            a.event,
            format!("{whose}: contact attempted, tier {}", a.tier),
        );
    }
    for m in esc.unreachable.iter().filter(|m| as_of.sees(&m.event)) {
        draft.show(m.event, format!("{whose}: tier {} unreachable", m.tier));
    }
    if let Some(d) = esc.digest.filter(|d| as_of.sees(d)) {
        draft.show(d, format!("{whose}: listed in a digest"));
    }
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
    o: Obligation,
) -> ExplainedObligation {
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
                    w.describe(),
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
                        w.describe(),
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
        outcome: outcome(&o),
        windows_applied,
        obligation: o,
    }
}

fn stamp(at: DateTime<Utc>) -> String {
    opsledger_projections::verdict::stamp(at)
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
pub fn outcome(o: &Obligation) -> String {
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
        } => format!("pending, due {}", stamp(*due)),
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
    let (rule, rest) = split_rule(raw.trim());
    let categories: Vec<&str> = EntityKind::ALL.iter().map(|k| k.category()).collect();
    let stream = resolve_stream(store, rest, &categories)
        .await?
        .ok_or_else(|| unknown_id(raw, ACCEPTED_FORMS))?;
    let Some(kind) = EntityKind::of_category(stream.category()) else {
        return Err(AppError::InvalidRequest {
            what: format!("{raw:?}"),
            detail: format!(
                "names the stream {stream}, which explain does not answer about; accepted forms: {ACCEPTED_FORMS} (see `opsledger timeline` for any stream)"
            ),
        });
    };
    let id = stream
        .as_str()
        .split_once('-')
        .map_or("", |(_, id)| id)
        .to_owned();
    let first = store.read_stream(&stream, 0, Direction::Forward, 1).await?;
    let client = first
        .first()
        .and_then(|e| e.client_id.clone())
        .ok_or_else(|| AppError::InvalidRequest {
            what: stream.to_string(),
            detail: "its first event names no client".to_owned(),
        })?;
    let client = report::client_id(&client)?;
    let as_of = basis.as_of();
    let evaluated_at = basis.evaluated_at(clock);
    let view = report::view_for(store, &client, as_of).await?;
    let draft = explain_view(&view, &client, kind, &id, rule, as_of, evaluated_at)?;
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
            kind,
            id,
            stream_id: stream.to_string(),
            rule,
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
