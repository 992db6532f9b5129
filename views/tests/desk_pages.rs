//! The desk's pages rendered from a ledger recorded on PostgreSQL (see `support`): each page
//! matches its snapshot (`views/tests/snapshots/`, `cargo insta review` after a change); the
//! way from a month to a missed R-ESC-1's dispute view and on to each stream's timeline and
//! the evidence bundle is there as links; the filter by verdict lists exactly that verdict;
//! every string from the ledger or the request is escaped; and every page keeps the
//! accessibility rules the brief sets (one `<h1>`, headings in order, labelled inputs, scoped
//! table headers, `lang`).

mod support;

use chrono::TimeZone as _;
use chrono::Utc;
use opsledger_views::desk::{
    access_log_page, clients_page, desk_timeline_page, dispute_page, error_page, login_page,
    month_page, obligations_page, AccessFilterShown, AccessRow, ErrorKind, Links, MonthReport,
    VerdictKind, Viewer,
};

use support::{enc, fixture, october, Month, TestLinks, SCRIPT_NAME};

const AUDITOR: Viewer<'static> = Viewer {
    user: "ada",
    role: "auditor",
    sees_access_log: true,
};

const READER: Viewer<'static> = Viewer {
    user: "rex",
    role: "client reader of harbor-clinic",
    sees_access_log: false,
};

fn month(m: &Month) -> MonthReport<'_> {
    MonthReport {
        sla: &m.sla,
        obligations: &m.obligations,
        profile: &m.profile,
        provenance: &m.provenance,
    }
}

fn access_rows() -> Vec<AccessRow> {
    vec![
        AccessRow {
            seq: 1,
            at: Utc.with_ymd_and_hms(2026, 12, 3, 7, 0, 0).unwrap(),
            user_name: "rex".to_owned(),
            role: "client_reader".to_owned(),
            client_id: Some("harbor-clinic".to_owned()),
            query: "GET /clients/harbor-clinic/2026-10".to_owned(),
            rows: 14,
            hash: "a1".repeat(32),
        },
        AccessRow {
            seq: 2,
            at: Utc.with_ymd_and_hms(2026, 12, 3, 7, 1, 30).unwrap(),
            user_name: "ada".to_owned(),
            role: "auditor".to_owned(),
            client_id: None,
            query: "GET /clients".to_owned(),
            rows: 2,
            hash: "b2".repeat(32),
        },
    ]
}

/// Every page of the desk on the fixture, by name, as an auditor sees it (the error page
/// also as nobody signed in).
fn pages() -> Vec<(&'static str, String)> {
    let f = fixture();
    let l = &TestLinks;
    vec![
        ("login", login_page(l, None, None)),
        (
            "login_failed",
            login_page(l, Some("Unknown user or wrong password."), Some("ada")),
        ),
        ("clients", clients_page(l, &AUDITOR, &f.clients)),
        ("month", month_page(l, &AUDITOR, month(&f.harbor))),
        (
            "obligations_missed",
            obligations_page(
                l,
                &AUDITOR,
                &f.harbor.obligations,
                &f.harbor.profile,
                &f.harbor.provenance,
                Some(VerdictKind::Missed),
            ),
        ),
        (
            "obligations_excused",
            obligations_page(
                l,
                &AUDITOR,
                &f.harbor.obligations,
                &f.harbor.profile,
                &f.harbor.provenance,
                Some(VerdictKind::Excused),
            ),
        ),
        (
            "dispute",
            dispute_page(l, &AUDITOR, &f.dispute, Some("Harbor Clinic")),
        ),
        (
            "timeline",
            desk_timeline_page(l, &AUDITOR, &f.timeline, Some(&f.timeline_profile)),
        ),
        (
            "access_log",
            access_log_page(
                l,
                &AUDITOR,
                &access_rows(),
                AccessFilterShown::default(),
                Some("intact, 2 entries"),
            ),
        ),
        (
            "error_403",
            error_page(
                l,
                Some(&READER),
                ErrorKind::Forbidden,
                Some("client script-co is not yours to read"),
            ),
        ),
        (
            "error_401",
            error_page(l, None, ErrorKind::Unauthenticated, None),
        ),
    ]
}

/// With `OPSLEDGER_DESK_PAGES_DIR` set, each page is also written there as `<name>.html`, for
/// a browser or `scripts/screenshots` to look at.
#[test]
fn every_desk_page_matches_its_snapshot() {
    let f = fixture();
    let out = std::env::var_os("OPSLEDGER_DESK_PAGES_DIR").map(std::path::PathBuf::from);
    for (name, page) in pages() {
        if let Some(dir) = &out {
            std::fs::create_dir_all(dir).unwrap();
            std::fs::write(dir.join(format!("{name}.html")), &page).unwrap();
        }
        insta::assert_snapshot!(name, f.redacted(&page));
    }
}

/// The `href` of a link as the page writes it (escaped for an attribute).
fn href(url: &str) -> String {
    format!("href=\"{}\"", url.replace('&', "&amp;"))
}

#[test]
fn a_missed_esc1_leads_from_the_month_to_its_dispute_view_its_timelines_and_its_bundle() {
    let f = fixture();
    let l = &TestLinks;
    let dispute_link = href(&l.explain("R-ESC-1:call-hc-0001"));
    let month = month_page(l, &AUDITOR, month(&f.harbor));
    assert!(month.contains(&dispute_link), "month page: {dispute_link}");
    let missed_link = href(&l.obligations("harbor-clinic", october(), Some(VerdictKind::Missed)));
    assert!(month.contains(&missed_link), "month page: {missed_link}");
    assert!(month.contains(&href(&l.bundle("harbor-clinic", None))));

    let missed = obligations_page(
        l,
        &AUDITOR,
        &f.harbor.obligations,
        &f.harbor.profile,
        &f.harbor.provenance,
        Some(VerdictKind::Missed),
    );
    assert!(missed.contains(&dispute_link), "missed obligations page");

    let page = dispute_page(l, &AUDITOR, &f.dispute, Some("Harbor Clinic"));
    // The value in force, the amendment that set it (position 1, linked to its event below),
    // and the times in the client's zone with UTC beneath.
    assert!(page.contains("<dd>2 min</dd>"), "value in force");
    assert!(page.contains("agreement amendment <code>esc-2min</code>"));
    assert!(page.contains("<a href=\"#event-1\">position 1</a>"));
    assert!(page.contains("<span id=event-1>1</span>"));
    assert!(
        page.contains(
            "Tue 6 Oct 2026, 14:06:00 BST<br><span class=utc>2026-10-06 13:06:00 UTC</span>"
        ),
        "due"
    );
    assert!(page.contains("missed by 3 min 12 s"), "verdict");
    assert!(f.dispute.streams.len() >= 2, "{:?}", f.dispute.streams);
    for stream in &f.dispute.streams {
        assert!(
            page.contains(&href(&l.timeline(stream))),
            "timeline of {stream}"
        );
    }
    assert!(page.contains(&href(&l.bundle("harbor-clinic", Some("call-hc-0001")))));

    let timeline = desk_timeline_page(l, &AUDITOR, &f.timeline, Some(&f.timeline_profile));
    assert!(
        timeline.contains(&dispute_link),
        "timeline's obligations link to disputes"
    );
}

/// The rule cells of a page's obligations table: one `<th scope=row …>` per obligation row.
fn obligation_rows(page: &str) -> usize {
    page.matches("<th scope=row data-label=\"rule\">").count()
}

#[test]
fn an_obligations_page_lists_exactly_the_verdict_it_is_filtered_by() {
    let f = fixture();
    let l = &TestLinks;
    let report = &f.harbor.obligations;
    let mut listed = 0;
    for kind in VerdictKind::ALL {
        let expected = report
            .obligations
            .iter()
            .filter(|o| VerdictKind::of(&o.verdict) == kind)
            .count();
        let page = obligations_page(
            l,
            &AUDITOR,
            report,
            &f.harbor.profile,
            &f.harbor.provenance,
            Some(kind),
        );
        assert_eq!(obligation_rows(&page), expected, "{}", kind.slug());
        listed += expected;
    }
    // The fixture has a miss and an excused one, so the filter has something to separate.
    for kind in [VerdictKind::Missed, VerdictKind::Excused, VerdictKind::Met] {
        assert!(
            report
                .obligations
                .iter()
                .any(|o| VerdictKind::of(&o.verdict) == kind),
            "the fixture has no {} obligation",
            kind.slug()
        );
    }
    let all = obligations_page(
        l,
        &AUDITOR,
        report,
        &f.harbor.profile,
        &f.harbor.provenance,
        None,
    );
    assert_eq!(obligation_rows(&all), listed);
    assert_eq!(listed, report.obligations.len());
}

#[test]
fn verdict_slugs_name_their_kinds_and_nothing_else() {
    for kind in VerdictKind::ALL {
        assert_eq!(VerdictKind::from_slug(kind.slug()), Some(kind));
    }
    assert_eq!(VerdictKind::from_slug("no_data"), Some(VerdictKind::NoData));
    assert_eq!(VerdictKind::from_slug("Missed"), None);
    assert_eq!(VerdictKind::from_slug(""), None);
}

#[test]
fn every_string_from_the_ledger_or_the_request_is_escaped() {
    let f = fixture();
    let l = &TestLinks;
    assert_eq!(f.script.profile.display_name(), SCRIPT_NAME);
    let nasty = "<script>alert(1)</script>";
    let mut rows = access_rows();
    rows[0].query = format!("GET /clients/{nasty}");
    rows[0].user_name = nasty.to_owned();
    let viewer = Viewer {
        user: nasty,
        role: nasty,
        sees_access_log: true,
    };
    let pages = [
        clients_page(l, &viewer, &f.clients),
        month_page(l, &viewer, month(&f.script)),
        obligations_page(
            l,
            &viewer,
            &f.script.obligations,
            &f.script.profile,
            &f.script.provenance,
            None,
        ),
        dispute_page(l, &viewer, &f.script_dispute, Some(SCRIPT_NAME)),
        desk_timeline_page(
            l,
            &viewer,
            &f.script_timeline,
            Some(&f.script_timeline_profile),
        ),
        login_page(l, Some(nasty), Some(nasty)),
        error_page(l, Some(&viewer), ErrorKind::NotFound, Some(nasty)),
        access_log_page(
            l,
            &viewer,
            &rows,
            AccessFilterShown {
                client: Some(nasty),
                user: Some("\"><script>"),
            },
            Some(nasty),
        ),
    ];
    for (i, page) in pages.iter().enumerate() {
        assert!(!page.contains("<script"), "page {i} has a raw script tag");
        assert!(
            !page.contains("<b>main"),
            "page {i} has the queue's raw tag"
        );
        assert!(
            page.contains("&lt;script"),
            "page {i} does not show the text"
        );
    }
    // The name is shown, escaped, on the client list, the month and the timeline.
    let shown = "&lt;script&gt;alert(&quot;owned&quot;)&lt;/script&gt; &amp; Co";
    for page in [&pages[0], &pages[1], &pages[4]] {
        assert!(page.contains(shown));
    }
    // A value that tries to close its attribute stays inside it.
    assert!(pages[7].contains("value=\"&quot;&gt;&lt;script&gt;\""));
    // A URL from `Links` is an attribute value too: its `&` is escaped.
    assert!(
        pages[1].contains("?verdict="),
        "month page links the verdicts"
    );
    assert!(
        !pages[1].contains("&page=1"),
        "an ampersand in a URL left raw"
    );
}

/// The heading levels of a page in document order.
fn headings(page: &str) -> Vec<u8> {
    page.match_indices("<h")
        .filter_map(|(i, _)| page.as_bytes().get(i + 2).copied())
        .filter(u8::is_ascii_digit)
        .map(|d| d - b'0')
        .collect()
}

/// The values of `attr="…"` or `attr=…` on tags named `tag`.
fn attrs(page: &str, tag: &str, attr: &str) -> Vec<Option<String>> {
    page.match_indices(&format!("<{tag} "))
        .map(|(i, _)| {
            let end = page[i..].find('>').map_or(page.len(), |e| i + e);
            let text = &page[i..end];
            text.find(&format!(" {attr}=")).map(|a| {
                let v = &text[a + attr.len() + 2..];
                match v.strip_prefix('"') {
                    Some(q) => q.split('"').next().unwrap_or("").to_owned(),
                    None => v.split([' ', '>']).next().unwrap_or("").to_owned(),
                }
            })
        })
        .collect()
}

#[test]
fn every_page_has_a_language_one_h1_headings_in_order_labelled_inputs_and_scoped_headers() {
    for (name, page) in pages() {
        assert!(page.starts_with("<!doctype html><html lang=en>"), "{name}");
        let levels = headings(&page);
        assert_eq!(levels.first(), Some(&1), "{name}: first heading {levels:?}");
        assert_eq!(
            levels.iter().filter(|l| **l == 1).count(),
            1,
            "{name}: one h1"
        );
        for pair in levels.windows(2) {
            assert!(
                pair[1] <= pair[0] + 1,
                "{name}: heading skips a level: {levels:?}"
            );
        }
        for id in attrs(&page, "input", "id") {
            let id = id.unwrap_or_else(|| panic!("{name}: an input without an id"));
            assert!(
                page.contains(&format!("<label for={id}>")),
                "{name}: input {id} has no label"
            );
        }
        for scope in attrs(&page, "th", "scope") {
            assert!(
                matches!(scope.as_deref(), Some("col" | "row")),
                "{name}: a header cell without scope"
            );
        }
        assert!(
            page.contains(":focus-visible{outline:3px"),
            "{name}: focus ring"
        );
        assert!(!page.contains("<script"), "{name}: pages carry no script");
        for fetch in [" src=", "<link", "url(", "@import"] {
            assert!(!page.contains(fetch), "{name}: fetches something ({fetch})");
        }
    }
}

#[test]
fn the_access_log_link_is_shown_to_those_who_may_read_it_only() {
    let f = fixture();
    let l = &TestLinks;
    let access = href(&l.access_log());
    assert!(clients_page(l, &AUDITOR, &f.clients).contains(&access));
    assert!(!clients_page(l, &READER, &f.clients).contains(&access));
    // Percent-encoding is the implementation's: the page writes what `Links` returns.
    assert_eq!(enc("R-ESC-1:call-hc-0001"), "R-ESC-1%3Acall-hc-0001");
}
