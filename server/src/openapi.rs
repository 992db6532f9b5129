//! The OpenAPI 3.1 document of the JSON API, written by hand from one table of operations (the
//! API is small and read-only; a derive crate would add more build than it saves). A test
//! checks that the table and the router list the same routes.

use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};

use crate::api::PREFIX;

/// Where a parameter goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum In {
    Path,
    Query,
}

/// One parameter: name, place, JSON schema type and format, whether required, and what it is.
type Param = (
    &'static str,
    In,
    &'static str,
    Option<&'static str>,
    bool,
    &'static str,
);

/// One documented operation.
#[derive(Debug)]
struct Operation {
    method: &'static str,
    path: &'static str,
    summary: &'static str,
    params: &'static [Param],
    /// The media type of a successful answer.
    produces: &'static str,
}

const BASIS: [Param; 4] = [
    (
        "as_of_position",
        In::Query,
        "integer",
        Some("int64"),
        false,
        "Answer on the log up to and including this global position.",
    ),
    (
        "as_of_recorded",
        In::Query,
        "string",
        Some("date-time"),
        false,
        "Answer on what the ledger had recorded by this instant.",
    ),
    (
        "as_of_occurred",
        In::Query,
        "string",
        Some("date-time"),
        false,
        "Answer on the facts that had occurred by this instant, as known now.",
    ),
    (
        "evaluated_at",
        In::Query,
        "string",
        Some("date-time"),
        false,
        "The instant pending deadlines are judged at (default: now, or the as-of instant).",
    ),
];

const REPORT_PARAMS: [Param; 7] = [
    ("client", In::Path, "string", None, true, "The client id."),
    (
        "kind",
        In::Path,
        "string",
        None,
        true,
        "sla, obligations, billing or retention.",
    ),
    (
        "month",
        In::Query,
        "string",
        None,
        false,
        "The month, YYYY-MM (client-local; UTC for retention); required, except for billing, which takes none.",
    ),
    BASIS[0],
    BASIS[1],
    BASIS[2],
    BASIS[3],
];

const EXPLAIN_PARAMS: [Param; 5] = [
    ("id", In::Path, "string", None, true, "A call, escalation or invoice id as reports print it, with or without its stream prefix, or RULE:ID for one obligation."),
    BASIS[0],
    BASIS[1],
    BASIS[2],
    BASIS[3],
];

const EVENTS_PARAMS: [Param; 11] = [
    (
        "stream",
        In::Query,
        "string",
        None,
        false,
        "Only this stream.",
    ),
    (
        "category",
        In::Query,
        "string",
        None,
        false,
        "Only these categories (repeat the parameter).",
    ),
    (
        "type",
        In::Query,
        "string",
        None,
        false,
        "Only these event types (repeat the parameter).",
    ),
    (
        "client",
        In::Query,
        "string",
        None,
        false,
        "Only this client's events (a client reader's own client by default).",
    ),
    (
        "correlation",
        In::Query,
        "string",
        Some("uuid"),
        false,
        "Only events with this correlation id.",
    ),
    (
        "occurred_from",
        In::Query,
        "string",
        Some("date-time"),
        false,
        "Occurred at or after this instant.",
    ),
    (
        "occurred_to",
        In::Query,
        "string",
        Some("date-time"),
        false,
        "Occurred before this instant.",
    ),
    (
        "recorded_from",
        In::Query,
        "string",
        Some("date-time"),
        false,
        "Recorded at or after this instant.",
    ),
    (
        "recorded_to",
        In::Query,
        "string",
        Some("date-time"),
        false,
        "Recorded before this instant.",
    ),
    (
        "after",
        In::Query,
        "string",
        None,
        false,
        "The cursor: `next_cursor` of the previous page.",
    ),
    (
        "limit",
        In::Query,
        "integer",
        None,
        false,
        "Events per page, 1 to 1000 (default 100).",
    ),
];

/// Every operation of the API, in the order the router adds them.
const OPERATIONS: &[Operation] = &[
    Operation {
        method: "get",
        path: "/clients",
        summary: "The clients the caller may read: id, name, time zone, plan, standing, first and last event.",
        params: &[("at", In::Query, "string", Some("date-time"), false, "The instant standing and plan are judged at (default: now).")],
        produces: "application/json",
    },
    Operation {
        method: "get",
        path: "/clients/{client}/reports/{kind}",
        summary: "A report (sla, obligations, billing, retention) with its provenance, as `opsledger report KIND --format json`.",
        params: &REPORT_PARAMS,
        produces: "application/json",
    },
    Operation {
        method: "get",
        path: "/clients/{client}/bundle",
        summary: "The evidence bundle of every event of the client, with verdicts, as a download; verify it offline with `opsledger verify --bundle`.",
        params: &[
            ("client", In::Path, "string", None, true, "The client id."),
            ("stream", In::Query, "string", None, false, "Only this stream of the client (a call, escalation or invoice id as reports print it, or its stream id)."),
        ],
        produces: "application/json",
    },
    Operation {
        method: "get",
        path: "/explain/{id}",
        summary: "The dispute view of a call, escalation, invoice or one obligation: rule, value in force and its source, clock start, due, verdict, excused windows and the events that prove it.",
        params: &EXPLAIN_PARAMS,
        produces: "application/json",
    },
    Operation {
        method: "get",
        path: "/streams/{stream}/timeline",
        summary: "The whole story of one stream (call, escalation, invoice, client) with the obligations it opened and their verdicts.",
        params: &[
            ("stream", In::Path, "string", None, true, "A stream id or a call, escalation, invoice or client id as reports print it."),
            BASIS[3],
        ],
        produces: "application/json",
    },
    Operation {
        method: "get",
        path: "/events",
        summary: "The log as recorded, filtered, one page at a time (cursor paging).",
        params: &EVENTS_PARAMS,
        produces: "application/json",
    },
    Operation {
        method: "get",
        path: "/access-log",
        summary: "The read audit (auditors only): who read which client with which query and how many rows, and whether its hash chain verifies.",
        params: &[
            ("client", In::Query, "string", None, false, "Only reads of this client."),
            ("user", In::Query, "string", None, false, "Only reads by this desk user."),
            ("after", In::Query, "string", None, false, "The cursor: `next_cursor` of the previous page."),
            ("limit", In::Query, "integer", None, false, "Entries per page, 1 to 1000 (default 100)."),
        ],
        produces: "application/json",
    },
    Operation {
        method: "get",
        path: "/retention/dry-run",
        summary: "Operators only: what `opsledger retention apply` would do now (R-RET-2 deletions due, legal holds refusing them); writes nothing.",
        params: &[BASIS[3]],
        produces: "application/json",
    },
    Operation {
        method: "get",
        path: "/head",
        summary: "The head of the log: last position, its hash and when it was recorded.",
        params: &[],
        produces: "application/json",
    },
    Operation {
        method: "get",
        path: "/head/events",
        summary: "Server-sent events: one `head` event now and one each time the head moves.",
        params: &[],
        produces: "text/event-stream",
    },
    Operation {
        method: "get",
        path: "/openapi.json",
        summary: "This document.",
        params: &[],
        produces: "application/json",
    },
];

/// The documented routes as (method, path relative to the API's prefix).
pub fn documented() -> Vec<(&'static str, &'static str)> {
    OPERATIONS.iter().map(|o| (o.method, o.path)).collect()
}

fn parameter(p: &Param) -> Value {
    let (name, place, kind, format, required, description) = *p;
    let mut schema = json!({ "type": kind });
    if let Some(format) = format {
        schema["format"] = json!(format);
    }
    json!({
        "name": name,
        "in": if place == In::Path { "path" } else { "query" },
        "required": required,
        "description": description,
        "schema": schema,
    })
}

fn error_response(description: &str) -> Value {
    json!({ "description": description, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } })
}

/// The document.
pub fn openapi() -> Value {
    let mut paths = Map::new();
    for op in OPERATIONS {
        let mut responses = json!({
            "200": {
                "description": "The answer; JSON answers carry `reflects: {position, head_hash}`, and every answer the headers opsledger-position and opsledger-head-hash.",
                "content": { op.produces: {} },
            },
            "400": error_response("A parameter is missing, unknown or invalid; `error.parameter` names it."),
            "401": error_response("No credentials, or credentials that do not authenticate."),
            "403": error_response("The caller may not read this client's data."),
            "404": error_response("No such client, record, stream or report kind."),
        });
        if op.path == "/clients/{client}/reports/{kind}" || op.path == "/explain/{id}" {
            responses["503"] = error_response(
                "Too many reports and dispute views are being computed; retry after the Retry-After header's seconds.",
            );
        }
        if op.path == "/openapi.json" {
            responses = json!({ "200": { "description": "This document.", "content": { "application/json": {} } } });
        }
        let mut operation = json!({
            "summary": op.summary,
            "parameters": op.params.iter().map(parameter).collect::<Vec<_>>(),
            "responses": responses,
        });
        if op.path != "/openapi.json" {
            operation["security"] = json!([{ "bearer": [] }, { "session": [] }]);
        }
        let entry = paths
            .entry(format!("{PREFIX}{}", op.path))
            .or_insert_with(|| json!({}));
        entry[op.method] = operation;
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "opsledger desk API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Read-only access to an opsledger ledger: clients, reports as of a position or an instant, dispute views, timelines, events and evidence bundles. Every read is recorded in the access log.",
        },
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearer": { "type": "http", "scheme": "bearer", "description": "A token from `opsledger token create USER`." },
                "session": { "type": "apiKey", "in": "cookie", "name": crate::auth::SESSION_COOKIE },
            },
            "schemas": {
                "Error": {
                    "type": "object",
                    "properties": {
                        "error": {
                            "type": "object",
                            "properties": {
                                "status": { "type": "integer" },
                                "message": { "type": "string" },
                                "parameter": { "type": ["string", "null"] },
                            },
                        },
                    },
                },
            },
        },
    })
}

/// `GET /openapi.json`.
pub async fn document() -> Response {
    axum::Json(openapi()).into_response()
}
