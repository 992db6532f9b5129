//! The login page: a form posting `user` and `password` to [`Links::login`], with a slot for
//! the message of a failed attempt. No CSRF token: the session cookie is SameSite=Strict, so a
//! form on another site cannot post with it, and a login form holds no session yet.

use super::{layout, Links, Page};
use crate::esc;

/// The login page. `error` is the message of a failed attempt, shown above the form and
/// announced by screen readers; `user` refills the name field after one.
pub fn login_page(links: &dyn Links, error: Option<&str>, user: Option<&str>) -> String {
    let alert = error
        .map(|e| format!("<p class=alert role=alert>{}</p>", esc(e)))
        .unwrap_or_default();
    let body = format!(
        "{alert}<form class=login method=post action=\"{action}\"><label for=user>User name</label><input id=user name=user type=text autocomplete=username required value=\"{user}\"><label for=password>Password</label><input id=password name=password type=password autocomplete=current-password required><button type=submit>Sign in</button></form><p>Accounts are created by an operator with <code>opsledger user add</code>.</p>",
        action = esc(&links.login()),
        user = esc(user.unwrap_or("")),
    );
    layout(
        links,
        None,
        &Page {
            title: "Sign in".to_owned(),
            meta: String::new(),
            trail: Vec::new(),
            body,
        },
    )
}
