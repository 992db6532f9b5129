//! The API's ledger reads: clients, reports, the dispute view, timelines, events and evidence
//! bundles. Each checks the caller, reads through `app`, records the read in the access log
//! and states the head it reflects.

use axum::extract::{OriginalUri, Path, RawQuery, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use opsledger_app::access;
use opsledger_app::events::EventPages;
use opsledger_app::report::{self, Basis, ReportRequest};
use opsledger_app::store::bundle::BundleEntry;
use opsledger_app::store::VerifyReport;
use opsledger_app::store::{EventFilter, Head, RecordedEvent, StreamId, TimeRange};
use opsledger_app::{export, retention, timeline, AppError};
use opsledger_domain::ids::ClientId;
use opsledger_projections::YearMonth;
use serde_json::{json, Value};

use super::{answered, reflecting, reflecting_body};
use crate::auth::Caller;
use crate::cache::{Answer, Key, Scope};
use crate::error::ApiError;
use crate::params::Params;
use crate::reads::{
    audit, explanation, head, readable_client, readable_stream, readable_subject, reader,
    reader_at, visible_clients, Reads,
};
use crate::state::{Reflects, Shared};

/// The report kinds, as the path names them.
pub const REPORT_KINDS: [&str; 4] = ["sla", "obligations", "billing", "retention"];
/// The stream categories a timeline's id is looked up in (as `opsledger timeline`).
pub const TIMELINE_CATEGORIES: [&str; 4] = ["call", "escalation", "invoice", "client"];
/// Events per page when `limit` is not given.
const DEFAULT_PAGE_EVENTS: usize = 100;

/// The request as the access log records it: path and query.
pub fn query_text(uri: &OriginalUri) -> String {
    uri.0
        .path_and_query()
        .map_or_else(|| uri.0.path().to_owned(), |pq| pq.as_str().to_owned())
}

fn count(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// `GET /clients`: the clients the caller may read, as `opsledger clients` lists them.
pub async fn clients(
    State(desk): State<Shared>,
    caller: Caller,
    uri: OriginalUri,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let mut params = Params::parse(query.as_deref())?;
    let at = params.instant("at")?;
    params.finish()?;
    let Reads { store, reflects } = reader(&desk, &caller).await?;
    let at = at.unwrap_or_else(|| desk.clock.now());
    let visible = visible_clients(&desk, &caller, &store, at, &query_text(&uri)).await?;
    Ok(reflecting(reflects, json!({ "clients": visible })))
}

/// How many rows a report holds: the entries of its lists (obligations, invoices, windows…),
/// at least one for the report itself.
fn report_rows(report: &Value) -> u64 {
    let listed: usize = report
        .as_object()
        .map(|m| m.values().filter_map(Value::as_array).map(Vec::len).sum())
        .unwrap_or(0);
    count(listed.max(1))
}

/// `GET /clients/{client}/reports/{kind}`: a report as `opsledger report KIND --format json`
/// gives it, with the same as-of options.
pub async fn report(
    State(desk): State<Shared>,
    caller: Caller,
    Path((client, kind)): Path<(String, String)>,
    uri: OriginalUri,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let Some(kind) = REPORT_KINDS.iter().copied().find(|k| *k == kind) else {
        return Err(ApiError::NotFound {
            what: format!("report kind {kind:?} (one of {})", REPORT_KINDS.join(", ")),
        });
    };
    let mut params = Params::parse(query.as_deref())?;
    let month = params.month("month")?;
    let basis = params.basis()?;
    params.finish()?;
    match (kind, month) {
        ("billing", Some(_)) => {
            return Err(ApiError::bad(
                "month",
                "the billing report is of the client's whole account, not of a month",
            ))
        }
        ("billing", None) | (_, Some(_)) => {}
        (_, None) => {
            return Err(ApiError::bad(
                "month",
                format!("the {kind} report needs a month, YYYY-MM"),
            ))
        }
    }
    let client = readable_client(&desk, &caller, &client, "client").await?;
    // The caller was checked above, before the cache is asked: a cached answer is served
    // only to a caller who may read it, and only to the scope it was computed under.
    let question = format!(
        "report {kind} {client} month={month:?} {}",
        basis_text(&desk, &basis)
    );
    cached(&desk, &caller, &client, &uri, question, |head| {
        report_answer(&desk, &caller, &client, kind, month, &basis, head)
    })
    .await
}

/// The answer to `question` about `client`: the cached one for the caller's scope and the
/// current head, or `compute`'s at that head. The caller has been checked before; the read is
/// recorded either way, since a cached answer is a read like any other.
async fn cached<F, Fut>(
    desk: &Shared,
    caller: &Caller,
    client: &ClientId,
    uri: &OriginalUri,
    question: String,
    compute: F,
) -> Result<Response, ApiError>
where
    F: FnOnce(Option<Head>) -> Fut,
    Fut: std::future::Future<Output = Result<Answer, ApiError>>,
{
    let head = head(desk).await?;
    let key = Key {
        scope: Scope::of(&caller.0),
        question,
        position: head.as_ref().map(|h| h.position),
    };
    let answer = desk.answers.get_or_compute(key, || compute(head)).await?;
    audit(desk, caller, Some(client), &query_text(uri), answer.rows).await?;
    Ok(answered(&answer))
}

/// The as-of basis of a question as the cache keys it. An answer evaluated at "now" is keyed
/// by the second it was asked in, so it is shared within that second and no longer: later
/// it would judge pending deadlines at a stale instant.
fn basis_text(desk: &Shared, basis: &Basis) -> String {
    let evaluated = basis
        .evaluated_at
        .or(basis.as_of_recorded)
        .or(basis.as_of_occurred)
        .map_or_else(
            || format!("now@{}", desk.clock.now().timestamp()),
            |t| t.to_rfc3339(),
        );
    format!(
        "position={:?} recorded={:?} occurred={:?} evaluated={evaluated}",
        basis.as_of_position, basis.as_of_recorded, basis.as_of_occurred
    )
}

/// A report computed on the caller's reads up to `head`, serialised once.
async fn report_answer(
    desk: &Shared,
    caller: &Caller,
    client: &ClientId,
    kind: &str,
    month: Option<YearMonth>,
    basis: &Basis,
    head: Option<Head>,
) -> Result<Answer, ApiError> {
    let store = reader_at(desk, caller, head).await?.store;
    let view = report::view_for_report(&store, client, basis.as_of(), kind, month)
        .await
        .map_err(as_of_parameter)?;
    let request = ReportRequest {
        report: kind.to_owned(),
        client: client.as_str().to_owned(),
        month,
        as_of: basis.as_of(),
        evaluated_at: basis.evaluated_at(&*desk.clock),
    };
    let provenance = report::provenance(&store, &view, request.clone()).await?;
    let value = report::with_provenance(report::compute(&view, &request)?, &provenance)?;
    let rows = report_rows(&value);
    let reflects = Reflects {
        position: provenance.position,
        head_hash: provenance.head_hash.clone(),
    };
    let body = reflecting_body(&reflects, json!({ "report": value }))?;
    Ok(Answer {
        body,
        rows,
        reflects,
    })
}

/// The application names the CLI's option (`--as-of-position`); the API's parameter is
/// `as_of_position`.
pub(crate) fn as_of_parameter(error: AppError) -> ApiError {
    match error {
        AppError::InvalidRequest { what, detail } if what == "--as-of-position" => {
            ApiError::bad("as_of_position", detail)
        }
        other => other.into(),
    }
}

/// `GET /explain/{id}`: the dispute view of a call, escalation, invoice or one obligation of
/// it (`RULE:ID`), as `opsledger explain --format json`.
pub async fn explain(
    State(desk): State<Shared>,
    caller: Caller,
    Path(id): Path<String>,
    uri: OriginalUri,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let mut params = Params::parse(query.as_deref())?;
    let basis = params.basis()?;
    params.finish()?;
    let client = readable_subject(&desk, &caller, &id).await?;
    // As for reports: the caller is checked before the cache is asked.
    let question = format!("explain {id} {}", basis_text(&desk, &basis));
    cached(&desk, &caller, &client, &uri, question, |head| {
        explain_answer(&desk, &caller, &id, &basis, head)
    })
    .await
}

/// A dispute view computed on the caller's reads up to `head`, serialised once.
async fn explain_answer(
    desk: &Shared,
    caller: &Caller,
    id: &str,
    basis: &Basis,
    head: Option<Head>,
) -> Result<Answer, ApiError> {
    let store = reader_at(desk, caller, head).await?.store;
    let explanation = explanation(desk, &store, id, basis).await?;
    let reflects = Reflects {
        position: explanation.position,
        head_hash: explanation.head_hash.clone(),
    };
    let rows = count(explanation.events.len());
    let body = reflecting_body(&reflects, json!({ "explanation": explanation }))?;
    Ok(Answer {
        body,
        rows,
        reflects,
    })
}

/// An event as the API gives it: the envelope as recorded, `data` as a JSON object (as
/// `opsledger events --format json`).
pub fn event_json(e: &RecordedEvent) -> Result<Value, ApiError> {
    let mut value = serde_json::to_value(e).map_err(AppError::from)?;
    value["data"] = e.data_json().map_err(|source| AppError::NotJson {
        position: e.global_position,
        source,
    })?;
    Ok(value)
}

/// `GET /streams/{stream}/timeline`: the whole story of one stream with the obligations it
/// opened, as `opsledger timeline --format json`.
pub async fn timeline(
    State(desk): State<Shared>,
    caller: Caller,
    Path(stream): Path<String>,
    uri: OriginalUri,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let mut params = Params::parse(query.as_deref())?;
    let evaluated_at = params.instant("evaluated_at")?;
    params.finish()?;
    let (resolved, client) = readable_stream(&desk, &caller, &stream, &TIMELINE_CATEGORIES).await?;
    let Reads { store, reflects } = reader(&desk, &caller).await?;
    let mut found =
        timeline::timeline_in(&store, resolved.as_str(), evaluated_at, &*desk.clock).await?;
    // Events appended after the head was read are left for the next request, so the answer
    // is exactly the stream up to the head it states.
    let head = reflects.position;
    found
        .events
        .retain(|e| head.is_some_and(|h| e.global_position <= h));
    let events = found
        .events
        .iter()
        .map(event_json)
        .collect::<Result<Vec<_>, _>>()?;
    audit(
        &desk,
        &caller,
        client.as_ref(),
        &query_text(&uri),
        count(events.len()),
    )
    .await?;
    Ok(reflecting(
        reflects,
        json!({
            "timeline": {
                "stream_id": found.stream_id,
                "client_id": found.client_id,
                "events": events,
                "obligations": found.obligations,
                "unreadable": found.unreadable,
            }
        }),
    ))
}

/// `GET /events`: the log as recorded, with the CLI's filters, one page at a time: `after`
/// is the cursor (the last position of the previous page), `limit` the page size.
pub async fn events(
    State(desk): State<Shared>,
    caller: Caller,
    uri: OriginalUri,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let mut params = Params::parse(query.as_deref())?;
    let client = params.take("client")?;
    let stream = params
        .take("stream")?
        .map(|s| StreamId::parse(&s).map_err(|e| ApiError::bad("stream", e.to_string())))
        .transpose()?;
    let mut filter = EventFilter {
        categories: params.take_all("category"),
        event_types: params.take_all("type"),
        client_id: None,
        stream_id: stream,
        correlation_id: params.parsed("correlation", "a UUID")?,
        occurred: TimeRange {
            from: params.instant("occurred_from")?,
            to: params.instant("occurred_to")?,
        },
        recorded: TimeRange {
            from: params.instant("recorded_from")?,
            to: params.instant("recorded_to")?,
        },
    };
    let after: Option<u64> = params.parsed("after", "a cursor (a log position)")?;
    let limit: usize = params
        .parsed("limit", "a number of events")?
        .unwrap_or(DEFAULT_PAGE_EVENTS);
    params.finish()?;
    let max = desk.limits.max_page_events;
    if limit == 0 || limit > max {
        return Err(ApiError::bad(
            "limit",
            format!("{limit} is not between 1 and {max}"),
        ));
    }
    // A client reader reads its own client's events only; no client given means its own.
    let client = match (client, caller.own_client()) {
        (Some(raw), _) => Some(readable_client(&desk, &caller, &raw, "client").await?),
        (None, Some(own)) => Some(own.clone()),
        (None, None) => None,
    };
    filter.client_id = client.as_ref().map(|c| c.as_str().to_owned());
    let Reads { store, reflects } = reader(&desk, &caller).await?;
    let Some(head) = reflects.position else {
        audit(&desk, &caller, client.as_ref(), &query_text(&uri), 0).await?;
        return Ok(reflecting(
            reflects,
            json!({ "events": [], "next_cursor": null }),
        ));
    };
    let from = match after {
        None => 0,
        Some(a) => a
            .checked_add(1)
            .ok_or_else(|| ApiError::bad("after", "past the last position"))?,
    };
    let mut pages = EventPages::new(store, filter, from, limit);
    let mut events = Vec::new();
    let mut last = None;
    let mut past_head = false;
    while let Some(page) = pages.next_page().await? {
        for e in &page {
            if e.global_position > head {
                past_head = true;
                break;
            }
            last = Some(e.global_position);
            events.push(event_json(e)?);
        }
    }
    // More to read when the page was cut at its limit and the log goes on below the head.
    let more = !past_head && pages.continues_at().await?.is_some_and(|next| next <= head);
    let next_cursor = if more {
        last.map(|p| p.to_string())
    } else {
        None
    };
    audit(
        &desk,
        &caller,
        client.as_ref(),
        &query_text(&uri),
        count(events.len()),
    )
    .await?;
    Ok(reflecting(
        reflects,
        json!({ "events": events, "next_cursor": next_cursor }),
    ))
}

/// `GET /clients/{client}/bundle`: the evidence bundle of every event of the client (or of
/// its one stream `stream`), with verdicts, as a download (`opsledger export --client` writes the same bundle to a file).
pub async fn bundle(
    State(desk): State<Shared>,
    caller: Caller,
    Path(client): Path<String>,
    uri: OriginalUri,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let mut params = Params::parse(query.as_deref())?;
    let stream = params.take("stream")?;
    params.finish()?;
    let client = readable_client(&desk, &caller, &client, "client").await?;
    // A stream narrows the bundle to one record of the client; one of another client (or
    // agency-wide) is refused as the timeline would refuse it.
    let stream = match stream {
        Some(raw) => {
            let (stream, owner) =
                readable_stream(&desk, &caller, &raw, &TIMELINE_CATEGORIES).await?;
            if owner.as_ref() != Some(&client) {
                return Err(ApiError::bad(
                    "stream",
                    format!("{stream} is not a stream of client {client}"),
                ));
            }
            Some(stream)
        }
        None => None,
    };
    // The bundle proves the chain up to its head, which needs every covered event's hash:
    // on PostgreSQL a client reader's role may not read other clients' rows, so the server's
    // own store builds it (the caller was checked above; other clients' events appear in a
    // bundle as digests only).
    let bundle =
        export::client_bundle(&desk.store, client.as_str(), stream.as_ref(), &*desk.clock).await?;
    let disclosed = bundle
        .entries
        .iter()
        .filter(|e| matches!(e, BundleEntry::Disclosed(_)))
        .count();
    audit(
        &desk,
        &caller,
        Some(&client),
        &query_text(&uri),
        count(disclosed),
    )
    .await?;
    let reflects = Reflects {
        position: Some(bundle.head.position),
        head_hash: Some(bundle.head.hash.to_hex()),
    };
    let body = serde_json::to_vec_pretty(&bundle).map_err(AppError::from)?;
    let mut response = ([(header::CONTENT_TYPE, "application/json")], body).into_response();
    let name = format!(
        "attachment; filename=\"opsledger-bundle-{}-{}.json\"",
        client.as_str(),
        bundle.head.position
    );
    if let Ok(value) = HeaderValue::from_str(&name) {
        response
            .headers_mut()
            .insert(header::CONTENT_DISPOSITION, value);
    }
    super::reflect_headers(&reflects, &mut response);
    Ok(response)
}

/// `GET /access-log`: the read audit, auditors only: entries from the cursor `after` (the last
/// sequence number of the previous page), `limit` at most, filtered by `client` and `user`,
/// and whether the log's chain verifies.
pub async fn access_log(
    State(desk): State<Shared>,
    caller: Caller,
    uri: OriginalUri,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let mut params = Params::parse(query.as_deref())?;
    let client = params
        .take("client")?
        .map(|c| {
            opsledger_domain::ids::ClientId::new(&c)
                .map_err(|e| ApiError::bad("client", e.to_string()))
        })
        .transpose()?;
    let user = params.take("user")?;
    let after: Option<u64> = params.parsed("after", "a cursor (a sequence number)")?;
    let limit: usize = params
        .parsed("limit", "a number of entries")?
        .unwrap_or(DEFAULT_PAGE_EVENTS);
    params.finish()?;
    let max = desk.limits.max_page_events;
    if limit == 0 || limit > max {
        return Err(ApiError::bad(
            "limit",
            format!("{limit} is not between 1 and {max}"),
        ));
    }
    let from_seq = match after {
        None => 0,
        Some(a) => a
            .checked_add(1)
            .ok_or_else(|| ApiError::bad("after", "past the last sequence number"))?,
    };
    let query = access::AccessLogQuery {
        client,
        user,
        from_seq,
        // One more than asked, to know whether a next page exists.
        limit: limit + 1,
    };
    let mut entries = access::access_log_for(desk.ledger.desk(), &caller.0, &query).await?;
    let more = entries.len() > limit;
    entries.truncate(limit);
    let next_cursor = if more {
        entries.last().map(|e| e.seq.to_string())
    } else {
        None
    };
    let chain = match access::verify_access_log(desk.ledger.desk()).await? {
        VerifyReport::Intact { events, .. } => json!({ "intact": true, "entries": events }),
        VerifyReport::Broken {
            position, reason, ..
        } => {
            json!({ "intact": false, "first_broken_entry": position, "reason": reason.to_string() })
        }
    };
    let rows = count(entries.len());
    let entries: Vec<Value> = entries
        .into_iter()
        .map(|e| {
            json!({
                "seq": e.seq,
                "at": e.at,
                "user": e.user_name,
                "role": e.role,
                "client_id": e.client_id,
                "query": e.query,
                "rows": e.rows,
                "hash": e.hash.to_hex(),
            })
        })
        .collect();
    // The audit is audited too: who read who read what.
    audit(&desk, &caller, None, &query_text(&uri), rows).await?;
    let head = desk.store.head().await.map_err(AppError::from)?;
    let reflects = Reflects::from(head.as_ref());
    Ok(reflecting(
        reflects,
        json!({ "entries": entries, "next_cursor": next_cursor, "chain": chain }),
    ))
}

/// One action of a retention run, as JSON.
fn retention_action(action: &retention::Action) -> Value {
    use retention::Action;
    match action {
        Action::Deleted {
            client_id,
            deadline,
            key_destroyed_now,
        } => {
            json!({ "action": "deleted", "client_id": client_id, "deadline": deadline, "key_destroyed_now": key_destroyed_now })
        }
        Action::WouldDelete {
            client_id,
            deadline,
        } => {
            json!({ "action": "would_delete", "client_id": client_id, "deadline": deadline })
        }
        Action::Refused {
            client_id,
            rule,
            refusal,
        } => json!({
            "action": "refused",
            "client_id": client_id,
            "rule": rule.map(|r| r.to_string()),
            "refusal": refusal.to_string(),
        }),
        Action::KeyDestroyedForRecordedDeletion { client_id } => {
            json!({ "action": "key_destroyed_for_recorded_deletion", "client_id": client_id })
        }
        Action::WouldDestroyKeyForRecordedDeletion { client_id } => {
            json!({ "action": "would_destroy_key_for_recorded_deletion", "client_id": client_id })
        }
        Action::Failed { client_id, error } => {
            json!({ "action": "failed", "client_id": client_id, "error": error })
        }
    }
}

/// `GET /retention/dry-run`: what `opsledger retention apply` would do now (R-RET-2
/// deletions due, legal holds refusing them), for operators only; it writes nothing.
pub async fn retention_dry_run(
    State(desk): State<Shared>,
    caller: Caller,
    uri: OriginalUri,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let mut params = Params::parse(query.as_deref())?;
    let evaluated_at = params.instant("evaluated_at")?;
    params.finish()?;
    if !matches!(caller.0.role, access::DeskRole::Operator) {
        return Err(ApiError::App(AppError::Forbidden {
            user: caller.0.user.clone(),
            client: None,
        }));
    }
    let head = desk.store.head().await.map_err(AppError::from)?;
    let at = evaluated_at.unwrap_or_else(|| desk.clock.now());
    // A dry run writes nothing, so the server's own store may run it: an operator reads
    // every client anyway.
    let actions = retention::apply(
        &desk.store,
        at,
        true,
        &opsledger_app::Actor::named(caller.0.user.clone()),
        &opsledger_app::NoProgress,
    )
    .await?;
    audit(
        &desk,
        &caller,
        None,
        &query_text(&uri),
        count(actions.len()),
    )
    .await?;
    let actions: Vec<Value> = actions.iter().map(retention_action).collect();
    Ok(reflecting(
        Reflects::from(head.as_ref()),
        json!({ "evaluated_at": at, "actions": actions }),
    ))
}
