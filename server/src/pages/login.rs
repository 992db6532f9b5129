//! Signing in and out of the pages: the login form, its check (rate-limited per user name and
//! per peer address), the session cookie it sets, and sign-out.

use std::net::SocketAddr;
use std::time::Instant;

use axum::extract::rejection::FormRejection;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Form;
use opsledger_app::access::{self, SESSION_LIFETIME};
use opsledger_app::AppError;
use opsledger_views::desk;
use serde::Deserialize;

use super::{page_response, DeskLinks, PageError};
use crate::auth::{session_cookie, SESSION_COOKIE};
use crate::error::ApiError;
use crate::state::Shared;

/// What the login form posts.
#[derive(Debug, Deserialize)]
pub struct LoginForm {
    user: String,
    password: String,
}

/// `GET /login`: the form.
pub async fn form() -> Response {
    page_response(StatusCode::OK, desk::login_page(&DeskLinks, None, None))
}

/// The form again, with why the last try failed.
fn refused(status: StatusCode, message: &str, user: &str) -> Response {
    page_response(
        status,
        desk::login_page(&DeskLinks, Some(message), Some(user)),
    )
}

/// The session cookie: readable by no script (HttpOnly), sent on no request another site
/// starts (SameSite=Strict), over TLS only when the desk is served so (Secure).
fn session_cookie_header(secret: &str, max_age_secs: i64, secure: bool) -> Option<HeaderValue> {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={secret}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age_secs}{secure}"
    ))
    .ok()
}

/// A redirect after a form post (303: the browser follows it with a GET).
fn see_other(to: &'static str) -> Response {
    (StatusCode::SEE_OTHER, [(header::LOCATION, to)]).into_response()
}

/// `POST /login`: checks the user name and password; on success sets the session cookie and
/// sends the browser to the client list.
pub async fn submit(
    State(desk): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    form: Result<Form<LoginForm>, FormRejection>,
) -> Result<Response, PageError> {
    let Form(form) = match form {
        Ok(form) => form,
        // A body over the limit keeps its 413; a form without the fields is a 400.
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return Ok(rejection.into_response())
        }
        Err(rejection) => {
            return Err(ApiError::bad("(form)", rejection.body_text()).into());
        }
    };
    let now = Instant::now();
    if let Some(wait) = desk.logins.refused(&form.user, peer.ip(), now) {
        let mut response = refused(
            StatusCode::TOO_MANY_REQUESTS,
            &format!("Too many failed sign-ins; try again in {wait} s."),
            &form.user,
        );
        if let Ok(v) = HeaderValue::from_str(&wait.to_string()) {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return Ok(response);
    }
    match access::login(desk.ledger.desk(), &form.user, &form.password, &*desk.clock).await {
        Ok((_, secret)) => {
            desk.logins.succeeded(&form.user);
            let mut response = see_other("/");
            let cookie = session_cookie_header(
                &secret.0,
                SESSION_LIFETIME.num_seconds(),
                desk.secure_cookies,
            )
            .ok_or_else(|| {
                ApiError::App(AppError::Internal(
                    "a session cookie that is not a header value".to_owned(),
                ))
            })?;
            response.headers_mut().insert(header::SET_COOKIE, cookie);
            Ok(response)
        }
        Err(AppError::Unauthenticated { reason }) => {
            tracing::info!(user = %form.user, %reason, "sign-in refused");
            desk.logins.failed(&form.user, peer.ip(), now);
            // One message whatever the reason, so a guesser learns nothing of which names exist.
            Ok(refused(
                StatusCode::UNAUTHORIZED,
                "Wrong user name or password.",
                &form.user,
            ))
        }
        Err(e) => Err(ApiError::from(e).into()),
    }
}

/// `POST /logout`: ends the session and clears the cookie.
pub async fn logout(State(desk): State<Shared>, headers: HeaderMap) -> Result<Response, PageError> {
    if let Some(cookie) = session_cookie(&headers) {
        access::logout(desk.ledger.desk(), cookie)
            .await
            .map_err(ApiError::from)?;
    }
    let mut response = see_other("/login");
    if let Some(clear) = session_cookie_header("", 0, desk.secure_cookies) {
        response.headers_mut().insert(header::SET_COOKIE, clear);
    }
    Ok(response)
}
