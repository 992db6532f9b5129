//! The error page: what went wrong in words, with the status it answers, and the way on (sign
//! in, or back to the client list).

use super::{layout, Links, Page, Viewer};
use crate::esc;

/// The failures a page request ends in, each with its HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// 400: a parameter or the address is not valid.
    BadRequest,
    /// 401: nobody is signed in, or the session expired.
    Unauthenticated,
    /// 403: signed in, but the page belongs to a client this user may not read.
    Forbidden,
    /// 404: no such client, record or page.
    NotFound,
    /// 413: the request is larger than the desk accepts.
    TooLarge,
    /// 429: too many login attempts.
    TooManyRequests,
    /// 500: the server failed.
    Internal,
}

impl ErrorKind {
    /// The HTTP status.
    pub fn status(self) -> u16 {
        match self {
            Self::BadRequest => 400,
            Self::Unauthenticated => 401,
            Self::Forbidden => 403,
            Self::NotFound => 404,
            Self::TooLarge => 413,
            Self::TooManyRequests => 429,
            Self::Internal => 500,
        }
    }

    /// The page's heading.
    pub fn title(self) -> &'static str {
        match self {
            Self::BadRequest => "The request is not valid",
            Self::Unauthenticated => "Please sign in",
            Self::Forbidden => "You may not see this page",
            Self::NotFound => "Not found",
            Self::TooLarge => "The request is too large",
            Self::TooManyRequests => "Too many attempts",
            Self::Internal => "Something went wrong",
        }
    }

    /// What it means for the reader.
    fn explanation(self) -> &'static str {
        match self {
            Self::BadRequest => "The address or one of its parameters could not be understood.",
            Self::Unauthenticated => "This page needs you to be signed in, and you are not (or your session has ended).",
            Self::Forbidden => "You are signed in, but your account may not read this client's records. Every request is recorded in the access log.",
            Self::NotFound => "Nothing in the ledger has this address: the client, record or page does not exist.",
            Self::TooLarge => "The request carried more data than the desk accepts.",
            Self::TooManyRequests => "There were too many sign-in attempts in a short time. Wait a minute and try again.",
            Self::Internal => "The server could not answer. The failure is in its log; trying again later may help.",
        }
    }
}

/// The error page. `viewer` is who is signed in, if anyone; `detail` is the server's one
/// sentence about this failure (the parameter that was wrong, the id not found), if any.
pub fn error_page(
    links: &dyn Links,
    viewer: Option<&Viewer<'_>>,
    kind: ErrorKind,
    detail: Option<&str>,
) -> String {
    let detail = detail
        .map(|d| format!("<p class=alert>{}</p>", esc(d)))
        .unwrap_or_default();
    let way_on = match (kind, viewer) {
        (ErrorKind::Unauthenticated, _) | (_, None) => format!(
            "<p><a href=\"{}\">Go to the sign-in page</a></p>",
            esc(&links.login())
        ),
        (_, Some(_)) => format!(
            "<p><a href=\"{}\">Back to the client list</a></p>",
            esc(&links.clients())
        ),
    };
    let body = format!("<p>{}</p>{detail}{way_on}", kind.explanation());
    layout(
        links,
        viewer,
        &Page {
            title: kind.title().to_owned(),
            meta: format!("Error {}", kind.status()),
            trail: Vec::new(),
            body,
        },
    )
}
