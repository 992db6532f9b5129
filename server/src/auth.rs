//! Who is asking: the caller of a request, from a bearer token (the API) or the session
//! cookie (the pages), and the checks every read makes before it touches a client's data.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use opsledger_app::access::{self, DeskRole, Principal};
use opsledger_app::AppError;
use opsledger_domain::ids::ClientId;

use crate::error::ApiError;
use crate::state::Shared;

/// The name of the session cookie.
pub const SESSION_COOKIE: &str = "opsledger_session";

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Caller(pub Principal);

impl Caller {
    /// Refuses (403) unless the caller may read `client`'s data.
    pub fn may_read(&self, client: &ClientId) -> Result<(), ApiError> {
        if self.0.may_read(client) {
            Ok(())
        } else {
            Err(ApiError::Forbidden {
                user: self.0.user.clone(),
                client: client.as_str().to_owned(),
            })
        }
    }

    /// Refuses (403) unless the caller may read every client's data (agency-wide streams).
    pub fn may_read_all(&self) -> Result<(), ApiError> {
        if self.0.may_read_all() {
            Ok(())
        } else {
            Err(ApiError::NotAllClients {
                user: self.0.user.clone(),
            })
        }
    }

    /// Refuses (403) unless the caller is an operator; `what` names what was asked for.
    pub fn must_operate(&self, what: &str) -> Result<(), ApiError> {
        if matches!(self.0.role, DeskRole::Operator) {
            Ok(())
        } else {
            Err(ApiError::OperatorsOnly {
                user: self.0.user.clone(),
                what: what.to_owned(),
            })
        }
    }

    /// The one client a client reader is limited to.
    pub fn own_client(&self) -> Option<&ClientId> {
        match &self.0.role {
            DeskRole::ClientReader(client) => Some(client),
            DeskRole::Auditor | DeskRole::Operator => None,
        }
    }
}

/// The bearer token of an `Authorization` header, if one is given.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

/// The session cookie's value, if the request carries one.
pub fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            (name == SESSION_COOKIE).then_some(value)
        })
}

/// The caller a request's credentials authenticate: a bearer token when one is sent (a wrong
/// one is not rescued by a cookie), else the session cookie.
pub async fn authenticate(desk: &Shared, headers: &HeaderMap) -> Result<Caller, ApiError> {
    let principal = if let Some(token) = bearer(headers) {
        access::authenticate_token(desk.ledger.desk(), token, &*desk.clock).await
    } else if let Some(cookie) = session_cookie(headers) {
        access::authenticate_session(desk.ledger.desk(), cookie, &*desk.clock).await
    } else {
        return Err(ApiError::Unauthenticated);
    };
    match principal {
        Ok(principal) => Ok(Caller(principal)),
        Err(AppError::Unauthenticated { reason }) => {
            // Every failure is the same 401 to the caller; why is for the operator.
            tracing::info!(%reason, "refused credentials");
            Err(ApiError::Unauthenticated)
        }
        Err(e) => Err(e.into()),
    }
}

impl FromRequestParts<Shared> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, desk: &Shared) -> Result<Self, ApiError> {
        authenticate(desk, &parts.headers).await
    }
}
