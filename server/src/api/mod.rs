//! The read-only JSON API under `/api/v1`: the routes, each listed as it is added to the router
//! so that the OpenAPI document can be checked against the router itself, and what every
//! answer carries (the head it reflects, as a field and as headers).

pub(crate) mod handlers;
mod head;

use axum::handler::Handler;
use axum::http::{header, HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, MethodRouter};
use axum::Router;
use bytes::Bytes;
use serde_json::Value;

use crate::cache::Answer;
use crate::error::ApiError;
use crate::state::{Reflects, Shared};

/// The API's prefix.
pub const PREFIX: &str = "/api/v1";

/// The header stating the last log position an answer reflects.
pub const POSITION_HEADER: &str = "opsledger-position";
/// The header stating the hash of the event at that position.
pub const HEAD_HASH_HEADER: &str = "opsledger-head-hash";

/// One route of the API: its method (lower case, as OpenAPI spells it) and its path template
/// (`{name}` for a path parameter, as both axum and OpenAPI spell it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Route {
    pub method: &'static str,
    pub path: &'static str,
}

/// A router that lists its routes as they are added.
#[derive(Debug)]
struct Listed {
    router: Router<Shared>,
    routes: Vec<Route>,
}

impl Listed {
    fn get<H, T>(mut self, path: &'static str, handler: H) -> Self
    where
        H: Handler<T, Shared>,
        T: 'static,
    {
        let method: MethodRouter<Shared> = get(handler);
        self.router = self.router.route(path, method);
        self.routes.push(Route {
            method: "get",
            path,
        });
        self
    }
}

/// The API's router (paths relative to [`PREFIX`]) and the list of its routes.
pub fn router() -> (Router<Shared>, Vec<Route>) {
    let listed = Listed {
        router: Router::new(),
        routes: Vec::new(),
    }
    .get("/clients", handlers::clients)
    .get("/clients/{client}/reports/{kind}", handlers::report)
    .get("/clients/{client}/bundle", handlers::bundle)
    .get("/explain/{id}", handlers::explain)
    .get("/streams/{stream}/timeline", handlers::timeline)
    .get("/events", handlers::events)
    .get("/access-log", handlers::access_log)
    .get("/retention/dry-run", handlers::retention_dry_run)
    .get("/head", head::head)
    .get("/head/events", head::head_events)
    .get("/openapi.json", crate::openapi::document);
    (listed.router, listed.routes)
}

/// The headers stating what an answer reflects.
pub fn reflect_headers(reflects: &Reflects, response: &mut Response) {
    let headers = response.headers_mut();
    if let Some(p) = reflects.position {
        if let Ok(v) = HeaderValue::from_str(&p.to_string()) {
            headers.insert(HeaderName::from_static(POSITION_HEADER), v);
        }
    }
    if let Some(h) = &reflects.head_hash {
        if let Ok(v) = HeaderValue::from_str(h) {
            headers.insert(HeaderName::from_static(HEAD_HASH_HEADER), v);
        }
    }
}

/// `body`'s fields with `reflects` added, serialised: the bytes [`reflecting`] would send.
pub fn reflecting_body(reflects: &Reflects, mut body: Value) -> Result<Bytes, ApiError> {
    if let Value::Object(map) = &mut body {
        map.insert(
            "reflects".to_owned(),
            serde_json::to_value(reflects).unwrap_or(Value::Null),
        );
    }
    let bytes = serde_json::to_vec(&body).map_err(opsledger_app::AppError::from)?;
    Ok(Bytes::from(bytes))
}

/// A computed (or cached) answer as a response: its bytes, and its head in headers.
pub fn answered(answer: &Answer) -> Response {
    let mut response = (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        answer.body.clone(),
    )
        .into_response();
    reflect_headers(&answer.reflects, &mut response);
    response
}

/// A JSON answer: `body`'s fields with `reflects` added, and the same in headers.
pub fn reflecting(reflects: Reflects, mut body: Value) -> Response {
    if let Value::Object(map) = &mut body {
        map.insert(
            "reflects".to_owned(),
            serde_json::to_value(&reflects).unwrap_or(Value::Null),
        );
    }
    let mut response = axum::Json(body).into_response();
    reflect_headers(&reflects, &mut response);
    response
}
