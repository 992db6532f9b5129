//! What every read of ledger data does around the application call, for the API and the pages
//! alike: the store the caller reads through (on PostgreSQL, scoped to the caller's database
//! role, so row-level security decides as well), the checks that a client exists and that the
//! caller may read it, the head read before answering, and the access log entry after.

use std::sync::Arc;

use opsledger_app::explain::{client_of_printed, printed_stream};
use opsledger_app::store::{Direction, EventFilter, EventStore, Head, StreamId};
use opsledger_domain::ids::ClientId;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::scoped::RequestReads;
use crate::state::{Reflects, Shared};

/// What one request reads through, and the head it reflects.
#[derive(Debug)]
pub struct Reads {
    /// The rows as the caller may see them (see [`crate::scoped`]).
    pub store: Arc<dyn EventStore>,
    /// The head every read of the request is bounded by.
    pub reflects: Reflects,
}

/// The store the caller's reads go through: on PostgreSQL a handle reading in one transaction
/// as the caller's database role (row-level security scopes it; it ends when the request drops
/// it), on the embedded file the store itself (the checks here scope it); in both, the head
/// fixed before the reads begin.
pub async fn reader(desk: &Shared, caller: &Caller) -> Result<Reads, ApiError> {
    let head = head(desk).await?;
    reader_at(desk, caller, head).await
}

/// The head of the log now, as the server's own store reads it.
pub async fn head(desk: &Shared) -> Result<Option<Head>, ApiError> {
    Ok(desk
        .store
        .head()
        .await
        .map_err(opsledger_app::AppError::from)?)
}

/// [`reader`] bounded by a head read before: the answer cache keys an answer by the head it
/// reflects, so the computation must read up to that head and no further.
pub async fn reader_at(
    desk: &Shared,
    caller: &Caller,
    head: Option<Head>,
) -> Result<Reads, ApiError> {
    let rows = desk.ledger.reads_for(&caller.0).await?;
    let reflects = Reflects::from(head.as_ref());
    let store: Arc<dyn EventStore> =
        Arc::new(RequestReads::new(rows, Arc::clone(&desk.store), head));
    Ok(Reads { store, reflects })
}

/// Records in the access log that `caller` read `rows` rows of `client` (or agency-wide
/// data) by `query`. A read whose audit cannot be written is not answered.
pub async fn audit(
    desk: &Shared,
    caller: &Caller,
    client: Option<&ClientId>,
    query: &str,
    rows: u64,
) -> Result<(), ApiError> {
    desk.recorder
        .record(&caller.0, client, query, rows, &*desk.clock)
        .await?;
    Ok(())
}

/// A client id from a path: malformed is a 400 naming `parameter`, another client than the
/// caller's a 403 (before existence is checked, so a client reader learns nothing of other
/// clients), never onboarded a 404.
pub async fn readable_client(
    desk: &Shared,
    caller: &Caller,
    raw: &str,
    parameter: &str,
) -> Result<ClientId, ApiError> {
    let client = ClientId::new(raw).map_err(|e| ApiError::bad(parameter, e.to_string()))?;
    caller.may_read(&client)?;
    let filter = EventFilter {
        event_types: vec!["client.onboarded".to_owned()],
        client_id: Some(client.as_str().to_owned()),
        ..EventFilter::default()
    };
    // Existence is asked of the server's own store: on PostgreSQL a scoped store would hide
    // another client's onboarding, but the caller was already checked to be allowed.
    let found = desk
        .store
        .read_filtered(&filter, 0, 1)
        .await
        .map_err(opsledger_app::AppError::from)?;
    if found.is_empty() {
        return Err(ApiError::NotFound {
            what: format!("client {client}"),
        });
    }
    Ok(client)
}

/// The clients listed at `at` that the caller may read (every one for an auditor or operator,
/// its own for a client reader), recorded in the access log as one read of `query`.
pub async fn visible_clients(
    desk: &Shared,
    caller: &Caller,
    store: &Arc<dyn EventStore>,
    at: chrono::DateTime<chrono::Utc>,
    query: &str,
) -> Result<Vec<opsledger_app::clients::ClientSummary>, ApiError> {
    let listed = opsledger_app::clients::list(store, at).await?;
    let visible: Vec<_> = listed
        .into_iter()
        .filter(|c| ClientId::new(&c.client_id).is_ok_and(|id| caller.0.may_read(&id)))
        .collect();
    let rows = u64::try_from(visible.len()).unwrap_or(u64::MAX);
    audit(desk, caller, caller.own_client(), query, rows).await?;
    Ok(visible)
}

/// The dispute view of `id` for the caller, as the API and the page both answer it: its client
/// checked first, the explanation computed on the caller's reads, the read recorded as `query`.
pub async fn explained(
    desk: &Shared,
    caller: &Caller,
    id: &str,
    basis: &opsledger_app::report::Basis,
    query: &str,
) -> Result<opsledger_app::explain::Explanation, ApiError> {
    let client = readable_subject(desk, caller, id).await?;
    let store = reader(desk, caller).await?.store;
    let explanation = explanation(desk, &store, id, basis).await?;
    let rows = u64::try_from(explanation.events.len()).unwrap_or(u64::MAX);
    audit(desk, caller, Some(&client), query, rows).await?;
    Ok(explanation)
}

/// The dispute view of `id` computed on `store` (the caller's reads), its as-of parameter
/// named as the API names it.
pub async fn explanation(
    desk: &Shared,
    store: &Arc<dyn EventStore>,
    id: &str,
    basis: &opsledger_app::report::Basis,
) -> Result<opsledger_app::explain::Explanation, ApiError> {
    opsledger_app::explain::explain_in(store, id, basis, &*desk.clock)
        .await
        .map_err(crate::api::handlers::as_of_parameter)
}

/// The client an id as `explain` takes it belongs to (a record's, or a client's month, quarter,
/// interval or fact), checked against the caller: 404 when no record has the id, 403 when the
/// caller may not read that client. Resolved through the server's own store, as
/// [`readable_stream`] is, so both backends refuse alike.
pub async fn readable_subject(
    desk: &Shared,
    caller: &Caller,
    raw: &str,
) -> Result<ClientId, ApiError> {
    let client = client_of_printed(&desk.store, raw)
        .await?
        .ok_or_else(|| ApiError::NotFound {
            what: format!("record {raw:?}"),
        })?;
    caller.may_read(&client)?;
    Ok(client)
}

/// The stream an id names (as `explain` and `timeline` resolve it) and the client its first
/// event names, checked against the caller: 404 when nothing has the id, 403 when the caller
/// may not read the client (or, for an agency-wide stream, every client).
pub async fn readable_stream(
    desk: &Shared,
    caller: &Caller,
    raw: &str,
    categories: &[&str],
) -> Result<(StreamId, Option<ClientId>), ApiError> {
    // Resolved through the server's own store, so both backends refuse alike (403), where a
    // scoped store on PostgreSQL would not find another client's stream at all (404).
    let stream = printed_stream(&desk.store, raw, categories)
        .await?
        .ok_or_else(|| ApiError::NotFound {
            what: format!("record {raw:?}"),
        })?;
    let first = desk
        .store
        .read_stream(&stream, 0, Direction::Forward, 1)
        .await
        .map_err(opsledger_app::AppError::from)?;
    let client = first
        .first()
        .and_then(|e| e.client_id.as_deref())
        .map(|c| {
            ClientId::new(c).map_err(|e| {
                ApiError::App(opsledger_app::AppError::InvalidClient {
                    given: c.to_owned(),
                    error: e,
                })
            })
        })
        .transpose()?;
    match &client {
        Some(c) => caller.may_read(c)?,
        None => caller.may_read_all()?,
    }
    Ok((stream, client))
}
