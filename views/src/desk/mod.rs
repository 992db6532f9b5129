//! The desk's pages (issue 14): the web pages `opsledger serve` sends, as pure functions from
//! the application's models to full HTML documents. One module per page; this one owns what
//! they share: the [`Links`] the server implements (so no URL scheme is written here), the
//! signed-in [`Viewer`], the verdict filter, and the [`layout`] every page is put into.
//!
//! The pages carry no script and fetch nothing: their styles are inline, like the CLI's views,
//! whose content the month report, the obligations and the timeline reuse. Every string from
//! the ledger or the request is escaped where it is written; URLs from [`Links`] are escaped
//! as attribute values too, so an implementation only has to percent-encode its path segments.
//!
//! # For the server
//!
//! - Each page takes what the application library returns, computed as
//!   `views/tests/support/mod.rs` computes it: `app::clients::list` for [`clients_page`];
//!   `report::view_for_report` then `sla_report`, `obligation_report` (same period, basis and
//!   evaluation instant), `client_profile` and `report::provenance` for [`month_page`] and
//!   [`obligations_page`]; `app::explain::explain` for [`dispute_page`];
//!   `app::timeline::timeline` plus the client's profile for [`desk_timeline_page`];
//!   `report::view_for_report(.., "retention", ..)` then `report::retention`, the client's
//!   profile and `app::retention::dry_run_for` at the same instant for [`retention_page`].
//! - A `verdict` query parameter is read with [`VerdictKind::from_slug`]; `None` is a 400.
//! - Failures render with [`error_page`]; [`ErrorKind::status`] is the response's status.
//! - Content-Security-Policy: the pages carry no script and no `style` attribute, and one
//!   `<style>` element whose text is [`stylesheet`], so `default-src 'none'; style-src
//!   'sha256-<base64 of SHA-256 of stylesheet()>'; form-action 'self'; frame-ancestors 'none';
//!   base-uri 'none'` suffices (the charts are inline SVG, nothing is fetched).
//! - The access log's rows come from the access log's entries field by field, the hash as hex.

mod access_log;
mod clients;
mod dispute;
mod error;
mod login;
mod month;
mod obligations;
mod retention;
mod timeline;

pub use access_log::{access_log_page, AccessFilterShown, AccessRow};
pub use clients::clients_page;
pub use dispute::dispute_page;
pub use error::{error_page, ErrorKind};
pub use login::login_page;
pub use month::{month_page, MonthReport};
pub use obligations::{obligations_page, OBLIGATIONS_LISTED};
pub use retention::{retention_page, RetentionDryRun, RETENTION_LISTED};
pub use timeline::desk_timeline_page;

use std::fmt::Write as _;

use opsledger_projections::obligations::{Obligation, Subject};
use opsledger_projections::verdict::Verdict;
use opsledger_projections::YearMonth;

use crate::{esc, STYLE};

/// Where the desk's pages live. The server implements it; the views call it for every link
/// and form action, so the URL scheme is the server's alone. Ids are passed as the ledger
/// prints them; an implementation percent-encodes them into its paths.
pub trait Links {
    /// The client list, the desk's home.
    fn clients(&self) -> String;
    /// The login form's page and the address it posts `user` and `password` to.
    fn login(&self) -> String;
    /// The address the sign-out button posts to.
    fn logout(&self) -> String;
    /// One client's month report.
    fn month(&self, client_id: &str, month: YearMonth) -> String;
    /// One client's obligations of a month, those of one verdict or all of them.
    fn obligations(
        &self,
        client_id: &str,
        month: YearMonth,
        verdict: Option<VerdictKind>,
    ) -> String;
    /// The dispute view of `id`: a call, escalation or invoice, or one obligation of it as
    /// `RULE:STREAM` (e.g. `R-ESC-1:call-hc-0001`), which `opsledger explain` accepts.
    fn explain(&self, id: &str) -> String;
    /// The timeline of a stream (e.g. `call-hc-0001`).
    fn timeline(&self, stream_id: &str) -> String;
    /// The evidence bundle of a client's events, or of one stream of the client when given.
    fn bundle(&self, client_id: &str, stream_id: Option<&str>) -> String;
    /// The access log (shown to auditors only). Its filter form sends `client` and `user`.
    fn access_log(&self) -> String;
    /// The retention dry run of one client, its deletions due in `month` (shown to operators
    /// only).
    fn retention(&self, client_id: &str, month: YearMonth) -> String;
}

/// Who is signed in, as the page header shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Viewer<'a> {
    /// The user's name.
    pub user: &'a str,
    /// The role in words ("auditor", "client reader of acme-dental").
    pub role: &'a str,
    /// Whether the access log is theirs to read (auditors), so the header links to it.
    pub sees_access_log: bool,
    /// Whether the retention dry run is theirs to read (operators), so the month page links
    /// to it.
    pub sees_retention: bool,
}

/// The verdicts an obligations page can be filtered by: one per kind of [`Verdict`], named as
/// the JSON form of a report names it (`met`, `missed`, `no_data` …).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum VerdictKind {
    Missed,
    Unconfigured,
    Excused,
    Pending,
    Met,
    ChainExhausted,
    NoData,
    NotApplicable,
    NotComputable,
}

impl VerdictKind {
    /// Every kind, in the order a page lists them (what needs attention first).
    pub const ALL: [VerdictKind; 9] = [
        VerdictKind::Missed,
        VerdictKind::Unconfigured,
        VerdictKind::Excused,
        VerdictKind::Pending,
        VerdictKind::Met,
        VerdictKind::ChainExhausted,
        VerdictKind::NoData,
        VerdictKind::NotApplicable,
        VerdictKind::NotComputable,
    ];

    /// The kind of a verdict.
    pub fn of(verdict: &Verdict) -> Self {
        match verdict {
            Verdict::Met { .. } => Self::Met,
            Verdict::Missed { .. } => Self::Missed,
            Verdict::Pending { .. } => Self::Pending,
            Verdict::Excused { .. } => Self::Excused,
            Verdict::ChainExhausted { .. } => Self::ChainExhausted,
            Verdict::NoData { .. } => Self::NoData,
            Verdict::NotApplicable { .. } => Self::NotApplicable,
            Verdict::Unconfigured { .. } => Self::Unconfigured,
            Verdict::NotComputable { .. } => Self::NotComputable,
        }
    }

    /// Its name in URLs and JSON (`no_data`).
    pub fn slug(self) -> &'static str {
        match self {
            Self::Missed => "missed",
            Self::Unconfigured => "unconfigured",
            Self::Excused => "excused",
            Self::Pending => "pending",
            Self::Met => "met",
            Self::ChainExhausted => "chain_exhausted",
            Self::NoData => "no_data",
            Self::NotApplicable => "not_applicable",
            Self::NotComputable => "not_computable",
        }
    }

    /// The kind a slug names; `None` for anything else (a 400 for the server).
    pub fn from_slug(slug: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.slug() == slug)
    }

    /// Its name for people ("no data recorded").
    pub fn words(self) -> &'static str {
        match self {
            Self::Missed => "missed",
            Self::Unconfigured => "unconfigured",
            Self::Excused => "excused",
            Self::Pending => "pending",
            Self::Met => "met",
            Self::ChainExhausted => "chain exhausted",
            Self::NoData => "no data recorded",
            Self::NotApplicable => "not applicable",
            Self::NotComputable => "not computable",
        }
    }
}

/// The dispute-view id of an obligation: `RULE:STREAM` (`R-ESC-1:call-hc-0001`) when its
/// subject is a call, escalation or invoice, else the id reports print (`R-QA-1:acme/2026-10`,
/// `R-COV-1:acme/FROM/TO` …), which `explain` answers about as well. The stream form is used
/// where there is one so that an id two kinds of record share is never ambiguous. `None` only
/// for an obligation read from a report written before reports printed ids.
pub fn explain_id(obligation: &Obligation) -> Option<String> {
    subject_stream(&obligation.subject)
        .map(|stream| format!("{}:{stream}", obligation.rule))
        .or_else(|| (!obligation.id.is_empty()).then(|| obligation.id.clone()))
}

/// The stream of an obligation's subject, when it has one of its own.
pub fn subject_stream(subject: &Subject) -> Option<String> {
    match subject {
        Subject::Call { call_id } => Some(format!("call-{call_id}")),
        Subject::Escalation { escalation_id, .. } => Some(format!("escalation-{escalation_id}")),
        Subject::Invoice { invoice_id } => Some(format!("invoice-{invoice_id}")),
        _ => None,
    }
}

/// A link: `href` is escaped here, `html` is already HTML, `purpose` (for assistive
/// technology) names where it leads when the text alone does not.
pub(crate) fn anchor(href: &str, html: &str, purpose: &str) -> String {
    if purpose.is_empty() {
        format!("<a href=\"{}\">{html}</a>", esc(href))
    } else {
        format!(
            "<a href=\"{}\" title=\"{}\">{html}</a>",
            esc(href),
            esc(purpose)
        )
    }
}

/// One step of the trail above a page's heading: its words and, but for the page itself, its
/// address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Crumb {
    pub label: String,
    pub href: Option<String>,
}

impl Crumb {
    /// A step that links.
    pub fn link(label: impl Into<String>, href: String) -> Self {
        Self {
            label: label.into(),
            href: Some(href),
        }
    }

    /// The page itself.
    pub fn here(label: impl Into<String>) -> Self {
        Self {
            label: label.into(),
            href: None,
        }
    }
}

/// What a page puts into the layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// The tab's title and the page's one `<h1>`.
    pub title: String,
    /// The line under the heading, already HTML (empty for none).
    pub meta: String,
    /// The trail from the client list to this page (empty for none).
    pub trail: Vec<Crumb>,
    /// The body, HTML, whose headings start at `<h2>`.
    pub body: String,
}

/// The whole document of a desk page: a skip link, the header with the desk's navigation and
/// who is signed in (none on the login and some error pages), the trail, the heading and the
/// body.
pub fn layout(links: &dyn Links, viewer: Option<&Viewer<'_>>, page: &Page) -> String {
    let mut header = String::from("<header class=desk-bar><p class=brand>opsledger desk</p>");
    if let Some(v) = viewer {
        header.push_str("<nav aria-label=Desk><ul>");
        let _ = write!(
            header,
            "<li><a href=\"{}\">Clients</a></li>",
            esc(&links.clients())
        );
        if v.sees_access_log {
            let _ = write!(
                header,
                "<li><a href=\"{}\">Access log</a></li>",
                esc(&links.access_log())
            );
        }
        header.push_str("</ul></nav>");
        let _ = write!(
            header,
            "<form class=signout method=post action=\"{}\"><p>Signed in as <strong>{}</strong> ({}) <button type=submit>Sign out</button></p></form>",
            esc(&links.logout()),
            esc(v.user),
            esc(v.role)
        );
    }
    header.push_str("</header>");
    let mut trail = String::new();
    if !page.trail.is_empty() {
        trail.push_str("<nav aria-label=Breadcrumb class=trail><ol>");
        for crumb in &page.trail {
            match &crumb.href {
                Some(href) => {
                    let _ = write!(
                        trail,
                        "<li><a href=\"{}\">{}</a></li>",
                        esc(href),
                        esc(&crumb.label)
                    );
                }
                None => {
                    let _ = write!(
                        trail,
                        "<li><span aria-current=page>{}</span></li>",
                        esc(&crumb.label)
                    );
                }
            }
        }
        trail.push_str("</ol></nav>");
    }
    let meta = if page.meta.is_empty() {
        String::new()
    } else {
        format!("<p class=meta>{}</p>", page.meta)
    };
    format!(
        "<!doctype html><html lang=en><head><meta charset=utf-8><meta name=viewport content=\"width=device-width, initial-scale=1\"><title>{t} · opsledger desk</title><style>{style}</style></head><body><a class=skip href=\"#main\">Skip to the content</a>{header}{trail}<main id=main tabindex=-1><h1>{t}</h1>{meta}{body}</main><footer><p>Served by opsledger from the hash-chained event log.</p></footer></body></html>",
        t = esc(&page.title),
        body = page.body,
        style = stylesheet(),
    )
}

/// The text of every desk page's one `<style>` element, the same on every page. The pages have
/// no `style` attribute and no script, so a server's Content-Security-Policy can allow exactly
/// this text: `style-src 'sha256-…'` with the base64 SHA-256 of these bytes, and `script-src
/// 'none'`.
pub fn stylesheet() -> String {
    format!("{STYLE}{DESK_STYLE}")
}

/// The desk's additions to the views' styles. Links are #0b4f9c on white (7.9:1) and the bar's
/// text #1a1a1a on #eef1f5; the focus ring is a 3 px outline in #0b4f9c with an offset, so it
/// shows on every background the pages use.
const DESK_STYLE: &str = "\
a{color:#0b4f9c}a:visited{color:#5a2d91}\
a:focus-visible,button:focus-visible,input:focus-visible,summary:focus-visible,main:focus-visible{outline:3px solid #0b4f9c;outline-offset:2px}\
.skip{position:absolute;left:-9999px}.skip:focus{position:static;display:inline-block;padding:.3em .6em;background:#fff}\
.desk-bar{display:flex;flex-wrap:wrap;align-items:center;gap:.4em 1.2em;background:#eef1f5;border-radius:4px;padding:.4em .8em;margin-bottom:.6em}\
.desk-bar p{margin:0}.brand{font-weight:700}\
.desk-bar ul{list-style:none;display:flex;flex-wrap:wrap;gap:.2em 1em;margin:0;padding:0}\
.signout{margin-left:auto}\
button{font:inherit;color:#1a1a1a;background:#fff;border:1px solid #6b6b6b;border-radius:4px;padding:.25em .8em;cursor:pointer}\
.trail ol{list-style:none;display:flex;flex-wrap:wrap;gap:.2em;margin:.4em 0;padding:0;font-size:.9em}\
.trail li+li::before{content:'›';margin:0 .4em;color:#4a4a4a}\
.actions{display:flex;flex-wrap:wrap;gap:.4em 1.2em;padding:0;list-style:none}\
form.login{max-width:22em;display:grid;gap:.5em}\
form.login input{font:inherit;padding:.35em .5em;border:1px solid #6b6b6b;border-radius:4px;width:100%}\
form.filter{display:flex;flex-wrap:wrap;gap:.5em 1em;align-items:end}\
form.filter label{display:grid;font-size:.9em}\
form.filter input{font:inherit;padding:.25em .4em;border:1px solid #6b6b6b;border-radius:4px}\
.alert{border:1px solid #b3261e;border-left:6px solid #b3261e;background:#fbeceb;color:#1a1a1a;padding:.5em .8em;border-radius:4px}\
.notice{border:1px solid #6b6b6b;border-left:6px solid #0b4f9c;background:#eef1f5;color:#1a1a1a;padding:.5em .8em;border-radius:4px}\
dl.facts{display:grid;grid-template-columns:minmax(8em,max-content) 1fr;gap:.2em .8em;margin:.5em 0}\
dl.facts dt{font-weight:600;color:#333}dl.facts dd{margin:0;overflow-wrap:anywhere}\
section.obligation{border:1px solid #ccc;border-radius:4px;padding:.2em 1em .6em;margin:1em 0}section.obligation h2{margin-top:.5em}\
@media (max-width:640px){.signout{margin-left:0}table.cards tbody th{white-space:normal}dl.facts{grid-template-columns:1fr}dl.facts dd{margin-bottom:.4em}}";
