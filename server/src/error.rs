//! The server's failures: [`ServerError`] for starting and running it, [`ApiError`] for one
//! request, and the one mapping of application and store errors to HTTP statuses.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use opsledger_app::store::StoreError;
use opsledger_app::AppError;
use opsledger_projections::ReportError;
use serde_json::json;

/// Why the server could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The ledger could not be opened or brought up to date.
    #[error("opening the ledger")]
    Ledger(#[source] AppError),
    /// The listening address could not be bound.
    #[error("listening on {addr}")]
    Bind {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    /// The HTTP server failed while running.
    #[error("serving HTTP")]
    Serve(#[source] std::io::Error),
}

/// Why one request was refused or failed; each maps to one HTTP status.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No credentials, or credentials that do not authenticate (401).
    #[error("authentication required: send `Authorization: Bearer TOKEN` or log in")]
    Unauthenticated,
    /// The user may not read this client's data (403).
    #[error("user {user} may not read client {client}")]
    Forbidden { user: String, client: String },
    /// The user may read one client only and asked for agency-wide data (403).
    #[error("user {user} may read one client's data only")]
    NotAllClients { user: String },
    /// What only operators may see (the retention dry run) asked for by another role (403).
    #[error("user {user} is not an operator: {what} is for operators only")]
    OperatorsOnly { user: String, what: String },
    /// The thing asked for does not exist (404).
    #[error("{what} not found")]
    NotFound { what: String },
    /// A parameter is missing, unknown or invalid (400); `parameter` names it.
    #[error("parameter {parameter}: {detail}")]
    BadParameter { parameter: String, detail: String },
    /// Too many failed logins for this user name or from this peer (429).
    #[error("too many login attempts; retry in {retry_after_secs} s")]
    TooManyAttempts { retry_after_secs: u64 },
    /// Too many expensive reads are being computed; the caller retries later (503).
    #[error("the desk is busy; retry in {retry_after_secs} s")]
    Busy { retry_after_secs: u64 },
    /// The application layer failed or refused.
    #[error(transparent)]
    App(#[from] AppError),
}

impl ApiError {
    /// A refused parameter.
    pub fn bad(parameter: impl Into<String>, detail: impl Into<String>) -> Self {
        ApiError::BadParameter {
            parameter: parameter.into(),
            detail: detail.into(),
        }
    }

    /// The HTTP status of this failure.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Unauthenticated => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden { .. }
            | ApiError::NotAllClients { .. }
            | ApiError::OperatorsOnly { .. } => StatusCode::FORBIDDEN,
            ApiError::NotFound { .. } => StatusCode::NOT_FOUND,
            ApiError::BadParameter { .. } => StatusCode::BAD_REQUEST,
            ApiError::TooManyAttempts { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Busy { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::App(app) => app_status(app),
        }
    }

    /// The parameter at fault, when one is.
    fn parameter(&self) -> Option<&str> {
        match self {
            ApiError::BadParameter { parameter, .. } => Some(parameter),
            ApiError::App(AppError::InvalidRequest { what, .. }) => Some(what),
            _ => None,
        }
    }
}

/// The status of an application failure. Exhaustive on purpose, like the CLI's exit codes: a
/// new kind of failure must be given its status here.
fn app_status(error: &AppError) -> StatusCode {
    match error {
        AppError::InvalidRequest { .. }
        | AppError::InvalidClient { .. }
        | AppError::Input { .. }
        | AppError::Refused { .. } => StatusCode::BAD_REQUEST,
        AppError::Report(ReportError::UnknownClient(_)) => StatusCode::NOT_FOUND,
        AppError::Unauthenticated { .. } => StatusCode::UNAUTHORIZED,
        AppError::Forbidden { .. } => StatusCode::FORBIDDEN,
        AppError::Report(ReportError::NotYetApplied { .. }) => StatusCode::BAD_REQUEST,
        AppError::Store(store) | AppError::StoreWhile { source: store, .. } => store_status(store),
        AppError::NoLedger { .. } | AppError::ReadModelFromTheFuture { .. } => {
            StatusCode::SERVICE_UNAVAILABLE
        }
        AppError::KeyDestroyedDeletionNotRecorded { source, .. } => app_status(source),
        AppError::ChainBroken { .. }
        | AppError::NotDerived { .. }
        | AppError::UnreadableBundle { .. }
        | AppError::Io { .. }
        | AppError::Crypto { .. }
        | AppError::NotJson { .. }
        | AppError::Decode { .. }
        | AppError::Apply { .. }
        | AppError::Fact(_)
        | AppError::Report(_)
        | AppError::Bundle(_)
        | AppError::Json(_)
        | AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The status of a store failure: the database refusing the user's role is a 403, a store
/// that cannot be reached a 503, a malformed stream id a 400.
fn store_status(error: &StoreError) -> StatusCode {
    match error {
        StoreError::PermissionDenied { .. } => StatusCode::FORBIDDEN,
        StoreError::InvalidStreamId { .. } => StatusCode::BAD_REQUEST,
        StoreError::StreamNotFound { .. } => StatusCode::NOT_FOUND,
        StoreError::ConnectionLost { .. } | StoreError::Unavailable(_) => {
            StatusCode::SERVICE_UNAVAILABLE
        }
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        // A server error's detail stays in the log: it may name tables or paths.
        // A busy desk is not a failure: the caller is told so and when to retry.
        let message = if status.is_server_error() && !matches!(self, ApiError::Busy { .. }) {
            tracing::error!(error = %error_chain(&self), "request failed");
            "internal error; see the server's log".to_owned()
        } else {
            self.to_string()
        };
        let body = json!({
            "error": {
                "status": status.as_u16(),
                "message": message,
                "parameter": self.parameter(),
            }
        });
        let mut response = (status, axum::Json(body)).into_response();
        if let ApiError::TooManyAttempts { retry_after_secs }
        | ApiError::Busy { retry_after_secs } = self
        {
            if let Ok(value) = HeaderValue::from_str(&retry_after_secs.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
        }
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"opsledger\""),
            );
        }
        response
    }
}

/// The error and its causes on one line, for the log.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(e) = cause {
        text.push_str(": ");
        text.push_str(&e.to_string());
        cause = e.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_busy_desk_says_so_and_when_to_retry() {
        let response = ApiError::Busy {
            retry_after_secs: 1,
        }
        .into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[header::RETRY_AFTER], "1");
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            body["error"]["message"], "the desk is busy; retry in 1 s",
            "{body}"
        );
    }

    #[tokio::test]
    async fn a_server_error_keeps_its_detail_in_the_log() {
        let response =
            ApiError::App(AppError::Internal("table rm_fact is gone".into())).into_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        assert!(!String::from_utf8_lossy(&body).contains("rm_fact"));
    }
}
