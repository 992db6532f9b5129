//! The desk's pages: server-rendered HTML from `opsledger_views::desk`, reached with the session
//! cookie of a login. This module owns the URL scheme (the views ask [`DeskLinks`] for every
//! address), the headers every page carries (a content security policy that allows no script
//! and nothing fetched from elsewhere) and the error pages.

mod ledger;
mod login;
mod retention;

use std::future::Future;
use std::sync::OnceLock;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use base64::Engine as _;
use opsledger_app::access::DeskRole;
use opsledger_projections::YearMonth;
use opsledger_views::desk::{self, ErrorKind, Links, VerdictKind, Viewer};
use sha2::{Digest, Sha256};

use crate::auth::{self, Caller};
use crate::error::ApiError;
use crate::state::Shared;

/// The pages' policy: no script at all, no style but the pages' one stylesheet (allowed by
/// its hash, so an injected `<style>` would not apply), nothing fetched from elsewhere, forms
/// post only here, and no other site may frame a page.
fn content_security_policy() -> &'static str {
    static POLICY: OnceLock<String> = OnceLock::new();
    POLICY.get_or_init(|| {
        let digest = Sha256::digest(desk::stylesheet().as_bytes());
        format!(
            "default-src 'none'; script-src 'none'; style-src 'sha256-{}'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
            base64::engine::general_purpose::STANDARD.encode(digest)
        )
    })
}

/// The pages' router.
pub fn router() -> Router<Shared> {
    Router::new()
        .route("/", get(ledger::home))
        .route("/login", get(login::form).post(login::submit))
        .route("/logout", post(login::logout))
        .route("/clients/{client}/{month}", get(ledger::month))
        .route(
            "/clients/{client}/{month}/obligations",
            get(ledger::obligations),
        )
        .route(
            "/clients/{client}/{month}/retention",
            get(retention::retention),
        )
        .route("/explain/{id}", get(ledger::dispute))
        .route("/timeline/{stream}", get(ledger::timeline))
        .route("/access-log", get(ledger::access_log))
}

/// Percent-encodes one path segment or query value: everything but the unreserved characters.
pub fn encode(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The desk's URL scheme.
#[derive(Debug, Clone, Copy, Default)]
pub struct DeskLinks;

impl Links for DeskLinks {
    fn clients(&self) -> String {
        "/".to_owned()
    }

    fn login(&self) -> String {
        "/login".to_owned()
    }

    fn logout(&self) -> String {
        "/logout".to_owned()
    }

    fn month(&self, client_id: &str, month: YearMonth) -> String {
        format!("/clients/{}/{month}", encode(client_id))
    }

    fn obligations(
        &self,
        client_id: &str,
        month: YearMonth,
        verdict: Option<VerdictKind>,
    ) -> String {
        let base = format!("/clients/{}/{month}/obligations", encode(client_id));
        match verdict {
            Some(v) => format!("{base}?verdict={}", v.slug()),
            None => base,
        }
    }

    fn explain(&self, id: &str) -> String {
        format!("/explain/{}", encode(id))
    }

    fn timeline(&self, stream_id: &str) -> String {
        format!("/timeline/{}", encode(stream_id))
    }

    fn bundle(&self, client_id: &str, stream_id: Option<&str>) -> String {
        // The API's download answers the session cookie as well as a bearer token.
        let base = format!(
            "{}/clients/{}/bundle",
            crate::api::PREFIX,
            encode(client_id)
        );
        match stream_id {
            Some(s) => format!("{base}?stream={}", encode(s)),
            None => base,
        }
    }

    fn access_log(&self) -> String {
        "/access-log".to_owned()
    }

    fn retention(&self, client_id: &str, month: YearMonth) -> String {
        format!("/clients/{}/{month}/retention", encode(client_id))
    }
}

/// Who is signed in, owned, for building a [`Viewer`].
#[derive(Debug, Clone)]
pub struct SignedIn {
    user: String,
    role: String,
    auditor: bool,
    operator: bool,
}

impl SignedIn {
    fn of(caller: &Caller) -> Self {
        let role = match &caller.0.role {
            DeskRole::Auditor => "auditor".to_owned(),
            DeskRole::Operator => "operator".to_owned(),
            DeskRole::ClientReader(c) => format!("client reader of {c}"),
        };
        Self {
            user: caller.0.user.clone(),
            role,
            auditor: caller.0.may_audit(),
            operator: matches!(caller.0.role, DeskRole::Operator),
        }
    }

    fn viewer(&self) -> Viewer<'_> {
        Viewer {
            user: &self.user,
            role: &self.role,
            sees_access_log: self.auditor,
            sees_retention: self.operator,
        }
    }
}

/// A page's refusal or failure, rendered as the error page with its status.
#[derive(Debug)]
pub struct PageError {
    error: ApiError,
    viewer: Option<SignedIn>,
}

impl PageError {
    fn of(caller: &Caller) -> impl FnOnce(ApiError) -> Self + '_ {
        move |error| PageError {
            error,
            viewer: Some(SignedIn::of(caller)),
        }
    }
}

impl From<ApiError> for PageError {
    fn from(error: ApiError) -> Self {
        PageError {
            error,
            viewer: None,
        }
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let status = self.error.status();
        let kind = match status {
            StatusCode::BAD_REQUEST => ErrorKind::BadRequest,
            StatusCode::UNAUTHORIZED => ErrorKind::Unauthenticated,
            StatusCode::FORBIDDEN => ErrorKind::Forbidden,
            StatusCode::NOT_FOUND => ErrorKind::NotFound,
            StatusCode::PAYLOAD_TOO_LARGE => ErrorKind::TooLarge,
            StatusCode::TOO_MANY_REQUESTS => ErrorKind::TooManyRequests,
            _ => ErrorKind::Internal,
        };
        let detail = if status.is_server_error() {
            tracing::error!(error = %self.error, "page failed");
            None
        } else {
            Some(self.error.to_string())
        };
        let viewer = self.viewer.as_ref().map(SignedIn::viewer);
        let html = desk::error_page(&DeskLinks, viewer.as_ref(), kind, detail.as_deref());
        page_response(status, html)
    }
}

/// An HTML page with the pages' headers.
pub fn page_response(status: StatusCode, html: String) -> Response {
    let mut response = (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        html,
    )
        .into_response();
    let headers = response.headers_mut();
    if let Ok(policy) = HeaderValue::from_str(content_security_policy()) {
        headers.insert(header::CONTENT_SECURITY_POLICY, policy);
    }
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

/// A page's body computed by `page` for `caller`, answered with the pages' headers; a refusal
/// or failure becomes the error page, with `caller` still shown as signed in.
pub async fn answer(
    caller: &Caller,
    page: impl Future<Output = Result<String, ApiError>>,
) -> Result<Response, PageError> {
    match page.await {
        Ok(html) => Ok(page_response(StatusCode::OK, html)),
        Err(error) => Err(PageError::of(caller)(error)),
    }
}

/// The signed-in caller of a page, by the session cookie only (see [`page_caller`]); without
/// one the request is answered with the 401 error page.
#[derive(Debug)]
pub struct PageCaller(pub Caller);

impl FromRequestParts<Shared> for PageCaller {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, desk: &Shared) -> Result<Self, PageError> {
        page_caller(desk, &parts.headers).await.map(PageCaller)
    }
}

/// The caller of a page: the session cookie only (a page is never reached with a token).
pub async fn page_caller(desk: &Shared, headers: &HeaderMap) -> Result<Caller, PageError> {
    if auth::session_cookie(headers).is_none() {
        return Err(ApiError::Unauthenticated.into());
    }
    let mut only_cookie = headers.clone();
    only_cookie.remove(header::AUTHORIZATION);
    Ok(auth::authenticate(desk, &only_cookie).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_segments_are_percent_encoded() {
        assert_eq!(encode("R-ESC-1:call-a/b c"), "R-ESC-1%3Acall-a%2Fb%20c");
        assert_eq!(encode("acme_dental.1~"), "acme_dental.1~");
        let month = YearMonth::new(2026, 10).unwrap();
        assert_eq!(
            DeskLinks.obligations("a b", month, Some(VerdictKind::NoData)),
            "/clients/a%20b/2026-10/obligations?verdict=no_data"
        );
    }
}
