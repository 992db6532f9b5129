//! The head of the log: where it is now, and a server-sent event stream that tells a page each
//! time the follower sees it move.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{OriginalUri, RawQuery, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::stream::{self, Stream, StreamExt};
use opsledger_app::AppError;
use serde_json::json;

use super::handlers::query_text;
use super::reflecting;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::params::Params;
use crate::reads::audit;
use crate::state::{Reflects, Shared};

/// How often an idle event stream sends a comment, so proxies keep it open.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// `GET /head`: the last position, its hash and when it was recorded.
pub async fn head(
    State(desk): State<Shared>,
    caller: Caller,
    uri: OriginalUri,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    Params::parse(query.as_deref())?.finish()?;
    let head = desk.store.head().await.map_err(AppError::from)?;
    audit(&desk, &caller, caller.own_client(), &query_text(&uri), 1).await?;
    let recorded_at = head.as_ref().map(|h| h.recorded_at);
    Ok(reflecting(
        Reflects::from(head.as_ref()),
        json!({ "recorded_at": recorded_at }),
    ))
}

/// One `head` event: the position and hash as JSON.
fn head_event(reflects: &Reflects) -> Event {
    Event::default()
        .event("head")
        .json_data(reflects)
        .unwrap_or_else(|_| Event::default().event("head"))
}

/// `GET /head/events`: `text/event-stream` of `head` events, the current head first, then one
/// each time the head moves (within the follower's poll interval of an append).
pub async fn head_events(
    State(desk): State<Shared>,
    caller: Caller,
    uri: OriginalUri,
    RawQuery(query): RawQuery,
) -> Result<impl IntoResponse, ApiError> {
    Params::parse(query.as_deref())?.finish()?;
    audit(&desk, &caller, caller.own_client(), &query_text(&uri), 1).await?;
    let mut watch = desk.head.clone();
    let first = head_event(&watch.borrow_and_update());
    let moves = stream::unfold(watch, |mut watch| async move {
        watch.changed().await.ok()?;
        let event = head_event(&watch.borrow_and_update());
        Some((event, watch))
    });
    let events: std::pin::Pin<Box<dyn Stream<Item = Result<Event, Infallible>> + Send>> =
        Box::pin(stream::once(async move { first }).chain(moves).map(Ok));
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(KEEP_ALIVE)))
}
