//! The desk's pages rendered from a ledger recorded on PostgreSQL (see `support`): each page
//! matches its snapshot (`views/tests/snapshots/`, `cargo insta review` after a change); the
//! way from a month to a missed R-ESC-1's dispute view and on to each stream's timeline and
//! the evidence bundle is there as links; the filter by verdict lists exactly that verdict;
//! every string from the ledger or the request is escaped; and every page keeps the
//! accessibility rules the brief sets (one `<h1>`, headings in order, labelled inputs, scoped
//! table headers, `lang`).

mod support;

use opsledger_app::retention::Action;
use opsledger_views::desk::{
    access_log_page, clients_page, desk_timeline_page, dispute_page, error_page, login_page,
    month_page, obligations_page, retention_page, stylesheet, AccessFilterShown, ErrorKind, Links,
    VerdictKind, Viewer, OBLIGATIONS_LISTED,
};

use support::retention::retention_fixture;
use support::{
    access_rows, enc, fixture, month, october, pages, TestLinks, AUDITOR, OPERATOR, READER,
    SCRIPT_NAME,
};

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
        sees_retention: false,
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
        // One style element, the stylesheet a CSP allows by hash, and no style attribute.
        assert_eq!(page.matches("<style>").count(), 1, "{name}");
        assert!(
            page.contains(&format!("<style>{}</style>", stylesheet())),
            "{name}: style"
        );
        assert!(!page.contains(" style="), "{name}: a style attribute");
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

/// The values of `property:#rgb` or `property:#rrggbb` declarations in a style sheet, where
/// the property name starts right after `{` or `;` (so `color` is not `border-color`).
fn declared(style: &str, property: &str) -> Vec<String> {
    let mut out = Vec::new();
    for lead in ['{', ';'] {
        let needle = format!("{lead}{property}:#");
        for (i, _) in style.match_indices(&needle) {
            let hex: String = style[i + needle.len()..]
                .chars()
                .take_while(char::is_ascii_hexdigit)
                .collect();
            out.push(hex);
        }
    }
    out.sort();
    out.dedup();
    out
}

/// WCAG 2 relative luminance of `rgb` or `rrggbb`.
fn luminance(hex: &str) -> f64 {
    let full: String = if hex.len() == 3 {
        hex.chars().flat_map(|c| [c, c]).collect()
    } else {
        hex.to_owned()
    };
    let channel = |i: usize| {
        let c = f64::from(u8::from_str_radix(&full[i..i + 2], 16).unwrap()) / 255.0;
        if c <= 0.039_28 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    };
    0.2126 * channel(0) + 0.7152 * channel(2) + 0.0722 * channel(4)
}

fn contrast(a: &str, b: &str) -> f64 {
    let (la, lb) = (luminance(a), luminance(b));
    (la.max(lb) + 0.05) / (la.min(lb) + 0.05)
}

#[test]
fn every_text_colour_reaches_4_5_to_1_on_every_background_the_pages_use() {
    assert!((contrast("000", "fff") - 21.0).abs() < 0.01);
    for (name, page) in pages() {
        let from = page.find("<style>").unwrap();
        let to = page.find("</style>").unwrap();
        let style = &page[from..to];
        let texts = declared(style, "color");
        let grounds = declared(style, "background");
        assert!(
            texts.len() >= 5 && grounds.len() >= 5,
            "{name}: {texts:?} {grounds:?}"
        );
        for text in &texts {
            for ground in &grounds {
                let ratio = contrast(text, ground);
                assert!(ratio >= 4.5, "{name}: #{text} on #{ground} is {ratio:.2}:1");
            }
        }
    }
}

#[test]
fn a_page_lists_at_most_its_limit_of_obligations_and_says_so() {
    let f = fixture();
    let mut report = f.harbor.obligations.clone();
    let met = report
        .obligations
        .iter()
        .find(|o| VerdictKind::of(&o.verdict) == VerdictKind::Met)
        .unwrap()
        .clone();
    let before = report.obligations.len();
    report
        .obligations
        .extend(std::iter::repeat(met).take(OBLIGATIONS_LISTED));
    let met_count = report
        .obligations
        .iter()
        .filter(|o| VerdictKind::of(&o.verdict) == VerdictKind::Met)
        .count();
    assert!(met_count > OBLIGATIONS_LISTED && report.obligations.len() > before);
    let page = obligations_page(
        &TestLinks,
        &AUDITOR,
        &report,
        &f.harbor.profile,
        &f.harbor.provenance,
        Some(VerdictKind::Met),
    );
    assert_eq!(obligation_rows(&page), OBLIGATIONS_LISTED);
    assert!(page.contains(&format!(
        "{met_count} obligations. The first {OBLIGATIONS_LISTED} are listed"
    )));
    // Under the limit nothing is cut and nothing says so.
    let missed = obligations_page(
        &TestLinks,
        &AUDITOR,
        &f.harbor.obligations,
        &f.harbor.profile,
        &f.harbor.provenance,
        Some(VerdictKind::Missed),
    );
    assert!(!missed.contains("are listed"));
}

#[test]
fn an_excused_obligation_shows_the_window_that_excused_it() {
    let f = fixture();
    let e = &f.excused_dispute;
    let applied = &e.obligations[0].windows_applied;
    assert_eq!(applied.len(), 1, "{applied:?}");
    let page = dispute_page(&TestLinks, &AUDITOR, e, Some("Harbor Clinic"));
    assert!(page.contains("<span class=excused-text>excused by window fm-outage</span>"));
    assert!(page.contains(&format!(
        "<li>window <code>fm-outage</code> (reading {}): ",
        applied[0].reading
    )));
    assert!(!page.contains("none bore on it"));
}

#[test]
fn every_obligation_links_to_its_dispute_view_client_level_ones_by_their_printed_id() {
    let f = fixture();
    let report = &f.harbor.obligations;
    let all = obligations_page(
        &TestLinks,
        &AUDITOR,
        report,
        &f.harbor.profile,
        &f.harbor.provenance,
        None,
    );
    let client_level: Vec<_> = report
        .obligations
        .iter()
        .filter(|o| opsledger_views::desk::subject_stream(&o.subject).is_none())
        .collect();
    assert!(
        !client_level.is_empty(),
        "the fixture has obligations of the client rather than of one record"
    );
    for o in &report.obligations {
        let id = opsledger_views::desk::explain_id(o).expect("every obligation has an id");
        let link = href(&TestLinks.explain(&id));
        assert!(all.contains(&link), "no dispute link {link} for {}", o.id);
    }
    for o in client_level {
        assert_eq!(
            opsledger_views::desk::explain_id(o).as_deref(),
            Some(o.id.as_str())
        );
    }
}

/// The trail of a dispute view, as the page writes it.
fn trail(page: &str) -> &str {
    let from = page.find("<nav aria-label=Breadcrumb").expect("a trail");
    let to = page[from..].find("</nav>").expect("the trail ends") + from;
    &page[from..to]
}

#[test]
fn a_month_level_dispute_leads_back_to_its_own_month_not_the_month_its_clock_starts_in() {
    let f = fixture();
    let e = &f.month_dispute;
    let starts: Vec<_> = e
        .obligations
        .iter()
        .filter_map(|o| o.obligation.clock_start)
        .collect();
    let page = dispute_page(&TestLinks, &AUDITOR, e, Some("Harbor Clinic"));
    let trail = trail(&page);
    assert!(
        trail.contains(&href(&TestLinks.month("harbor-clinic", october())))
            && trail.contains("Harbor Clinic · October 2026"),
        "clock starts {starts:?}, trail {trail}"
    );
    assert!(!trail.contains("November"), "{trail}");
    // The heading names the client by its name and the month in words, not by the ids.
    let h1 = &page[page.find("<h1>").unwrap()..page.find("</h1>").unwrap()];
    assert!(
        h1.contains("of Harbor Clinic, October 2026") && !h1.contains("harbor-clinic"),
        "{h1}"
    );
}

#[test]
fn a_dispute_resting_on_no_event_says_why_instead_of_an_empty_table() {
    let f = fixture();
    let e = &f.month_dispute;
    assert!(e.events.is_empty(), "{:?}", e.events);
    assert!(!e.obligations.is_empty());
    let page = dispute_page(&TestLinks, &AUDITOR, e, Some("Harbor Clinic"));
    let events = &page[page.find("<h2>Events</h2>").expect("an events section")..];
    assert!(!events.contains("<table"), "an empty table: {events}");
    assert!(
        events.contains(
            "<p>No event recorded: no obligation of this record cites an event as evidence"
        ),
        "{events}"
    );
    for o in &e.obligations {
        assert!(
            events.contains(&format!(
                "<li>{} is judged on the absence of the events that would meet it",
                o.rule
            )),
            "{}: {events}",
            o.rule
        );
    }
    // A dispute with events still lists them.
    let with_events = dispute_page(&TestLinks, &AUDITOR, &f.dispute, Some("Harbor Clinic"));
    assert!(!with_events.contains("No event recorded"));
    assert!(with_events.contains("The events the answer rests on"));
}

/// The rows of the retention page's table: (record, what a run would do, why).
fn retention_rows(page: &str) -> Vec<(String, String, String)> {
    let body = &page[page.find("<tbody>").expect("a table")..];
    body.split("<tr>")
        .skip(1)
        .map(|row| {
            let cell = |label: &str| {
                let start = row
                    .find(&format!("data-label=\"{label}\">"))
                    .unwrap_or_else(|| panic!("{label} in {row}"))
                    + label.len()
                    + 14;
                let end = row[start..].find("</t").unwrap() + start;
                row[start..end].to_owned()
            };
            (cell("record"), cell("a run would"), cell("why"))
        })
        .collect()
}

#[test]
fn the_retention_page_says_what_a_run_would_do_with_each_record_and_by_which_rule() {
    let r = retention_fixture();
    let l = &TestLinks;

    // Before the client data's deadline: nothing would be deleted; the June call is past its
    // own deadline, the October one within R-RET-1's minimum.
    assert_eq!(r.lakeside_before.action, None);
    let page = retention_page(l, &OPERATOR, r.lakeside_before.page());
    assert!(page.contains(
        "<strong>Nothing yet.</strong> R-RET-2's deletion deadline for the client's data is"
    ));
    let rows = retention_rows(&page);
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert!(
        rows.iter()
            .all(|(_, fate, _)| fate == "<strong>keep</strong>"),
        "{rows:?}"
    );
    assert_eq!(rows[0].0, "all client data");
    assert!(
        rows[0]
            .2
            .contains("R-RET-1: minimum retention until Mon 4 Jan 2027"),
        "{rows:?}"
    );
    assert!(
        rows[1].0.contains("lake-0001")
            && rows[1]
                .2
                .starts_with("R-RET-2: past its own deletion deadline"),
        "{rows:?}"
    );
    assert!(
        rows[2].0.contains("lake-0002")
            && rows[2].2.starts_with("R-RET-1: minimum retention until"),
        "{rows:?}"
    );
    // Times in the client's zone (Europe/London, GMT in winter).
    assert!(page.contains("GMT"), "{page}");

    // After it: a run would shred every record with the client's key.
    assert!(
        matches!(r.lakeside_after.action, Some(Action::WouldDelete { .. })),
        "{:?}",
        r.lakeside_after.action
    );
    let page = retention_page(l, &OPERATOR, r.lakeside_after.page());
    assert!(page.contains("<strong>Delete all of the client's data.</strong>"));
    let rows = retention_rows(&page);
    assert!(
        rows.iter()
            .all(|(_, fate, why)| fate == "<strong>delete</strong>"
                && why.starts_with("R-RET-2: the client's deletion deadline")),
        "{rows:?}"
    );

    // Under a legal hold nothing is due, and every record says which hold keeps it.
    assert_eq!(r.quayside_after.action, None);
    let page = retention_page(l, &OPERATOR, r.quayside_after.page());
    assert!(page.contains("<strong>Nothing.</strong> Legal hold lh-quay-1 is active"));
    assert_eq!(
        page.matches("data-label=\"deadline (R-RET-2)\">suspended by the legal hold</td>")
            .count(),
        r.quayside_after.report.records.len()
    );
    let rows = retention_rows(&page);
    assert!(
        rows.iter()
            .all(|(_, fate, why)| fate == "<strong>keep</strong>"
                && why.contains("R-RET-2: legal hold <code>lh-quay-1</code> suspends deletion")),
        "{rows:?}"
    );
}

#[test]
fn the_client_and_month_pages_link_to_the_retention_dry_run_for_operators_only() {
    let f = fixture();
    let l = &TestLinks;
    let link = href(&l.retention("harbor-clinic", october()));
    assert!(month_page(l, &OPERATOR, month(&f.harbor)).contains(&link));
    assert!(clients_page(l, &OPERATOR, &f.clients).contains(&link));
    for viewer in [&AUDITOR, &READER] {
        assert!(!month_page(l, viewer, month(&f.harbor)).contains(&link));
        assert!(!clients_page(l, viewer, &f.clients).contains("retention"));
    }
}
