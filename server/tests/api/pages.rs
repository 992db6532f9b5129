//! The desk's pages over HTTP: the login and its cookie, the headers every page carries, the
//! refusals, the dispute view naming its client, and the operators' retention dry run.

use opsledger_app::access::{DeskLedger, DeskRole};
use opsledger_app::report::{self, Basis};
use opsledger_app::retention::{self, Action};
use opsledger_app::FixedClock;
use opsledger_domain::ids::ClientId;
use opsledger_projections::AsOf;
use reqwest::StatusCode;

use super::disputed;
use super::support::{assert_status, user, Desk, Ledger, User};

/// The pages: the login sets a strict cookie, which the pages and the API answer; pages carry
/// CSP and no-store; a client reader is refused another client's page and the access log;
/// signing out ends the session.
pub async fn pages(
    desk: &Desk,
    auditor: &User,
    reader: &User,
    own: &str,
    other: &str,
    ledger: &Ledger,
) {
    let home = desk.get("/", None).await;
    assert_status(&home, StatusCode::SEE_OTHER, "home without a session");
    assert_eq!(home.header("location").as_deref(), Some("/login"));
    let wrong = desk.login(auditor.name, "not the password").await;
    assert_status(&wrong, StatusCode::UNAUTHORIZED, "wrong password");
    assert!(wrong.text().contains("Wrong user name or password"));
    let login = desk.login(auditor.name, auditor.password).await;
    assert_status(&login, StatusCode::SEE_OTHER, "login");
    let set = login.header("set-cookie").unwrap();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict"),
        "{set}"
    );
    assert!(!set.contains("Secure"), "plain HTTP: {set}");
    let cookie = set.split(';').next().unwrap().to_owned();
    let home = desk.with_cookie("/", &cookie).await;
    assert_status(&home, StatusCode::OK, "home");
    let csp = home.header("content-security-policy").unwrap();
    assert!(
        csp.contains("default-src 'none'") && csp.contains("script-src 'none'"),
        "{csp}"
    );
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    // The policy allows exactly the page's one stylesheet, by its hash.
    let html = home.text();
    let style = html
        .split_once("<style>")
        .and_then(|(_, rest)| rest.split_once("</style>"))
        .map(|(style, _)| style)
        .unwrap();
    let digest = {
        use base64::Engine as _;
        use sha2::Digest as _;
        base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(style.as_bytes()))
    };
    assert!(
        csp.contains(&format!("style-src 'sha256-{digest}'")),
        "{csp}"
    );
    assert_eq!(home.header("cache-control").as_deref(), Some("no-store"));
    for c in ledger.clients().await {
        assert!(home.text().contains(&c), "{c} listed");
    }
    let month = ledger.ym;
    for path in [
        format!("/clients/{own}/{month}"),
        format!("/clients/{own}/{month}/obligations?verdict=missed"),
        "/access-log".to_owned(),
    ] {
        let page = desk.with_cookie(&path, &cookie).await;
        assert_status(&page, StatusCode::OK, &path);
    }
    let bad = desk
        .with_cookie(
            &format!("/clients/{own}/{month}/obligations?verdict=sometimes"),
            &cookie,
        )
        .await;
    assert_status(&bad, StatusCode::BAD_REQUEST, "verdict");
    let api = desk.with_cookie("/api/v1/head", &cookie).await;
    assert_status(&api, StatusCode::OK, "the API answers the session cookie");
    let out = desk
        .send(
            desk.http
                .post(format!("{}/logout", desk.base))
                .header("cookie", &cookie),
        )
        .await;
    assert_status(&out, StatusCode::SEE_OTHER, "logout");
    let after = desk
        .with_cookie(&format!("/clients/{own}/{month}"), &cookie)
        .await;
    assert_status(&after, StatusCode::UNAUTHORIZED, "a page after signing out");
    let login = desk.login(reader.name, reader.password).await;
    let cookie = login
        .header("set-cookie")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    for path in [
        format!("/clients/{other}/{month}"),
        "/access-log".to_owned(),
    ] {
        let page = desk.with_cookie(&path, &cookie).await;
        assert_status(&page, StatusCode::FORBIDDEN, &path);
        assert!(page.header("content-security-policy").is_some());
    }
}

/// A session cookie of `user`, signed in through the form.
async fn session(desk: &Desk, user: &User) -> String {
    let login = desk.login(user.name, user.password).await;
    assert_status(&login, StatusCode::SEE_OTHER, user.name);
    login
        .header("set-cookie")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned()
}

/// Percent-encodes a path segment (an id as reports print it).
fn encode(segment: &str) -> String {
    segment
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The dispute page names the client by the name its agreement states, as the month page
/// does, not by its id alone.
pub async fn dispute_page_names_its_client(
    desk: &Desk,
    ledger: &Ledger,
    auditor: &User,
    own: &str,
) {
    let cookie = session(desk, auditor).await;
    let client = ClientId::new(own).unwrap();
    let view = report::view_for_report(
        &ledger.store,
        &client,
        AsOf::Head,
        "obligations",
        Some(ledger.ym),
    )
    .await
    .unwrap();
    let clock = FixedClock(ledger.now);
    let month =
        report::obligations_in_month(&view, &client, ledger.ym, &Basis::default(), &clock).unwrap();
    let (id, _) = disputed(&month.obligations);
    let name = view
        .client_profile(&client, AsOf::Head, ledger.now)
        .unwrap()
        .name
        .expect("the demo's agreements name their clients");
    let page = desk
        .with_cookie(&format!("/explain/{}", encode(&id)), &cookie)
        .await;
    assert_status(&page, StatusCode::OK, &id);
    let shown = format!(
        "Client {} (id <code>{own}</code>)",
        opsledger_views::esc(&name)
    );
    assert!(page.text().contains(&shown), "{shown}: {}", page.text());
}

/// The retention dry run's page: an operator sees, for every client, what the application
/// library's dry run says a run would do, each record counted, the holds and the client's zone;
/// the month page links to it for operators only; auditors and client readers are refused it
/// (403), even for the client a reader may read.
pub async fn retention_pages(
    desk: &Desk,
    ledger: &Ledger,
    desk_ledger: &DeskLedger,
    auditor: &User,
    reader: &User,
    own: &str,
) {
    let operator = user(ledger, desk_ledger, "otto", DeskRole::Operator).await;
    let cookie = session(desk, &operator).await;
    let month = ledger.ym;
    let clock = FixedClock(ledger.now);
    let basis = Basis {
        evaluated_at: Some(ledger.now),
        ..Basis::default()
    };
    let mut terminated = 0;
    for client in ledger.clients().await {
        let id = ClientId::new(&client).unwrap();
        let view =
            report::view_for_report(&ledger.store, &id, AsOf::Head, "retention", Some(month))
                .await
                .unwrap();
        let report = report::retention(&view, &id, month, &basis, &clock).unwrap();
        let profile = view.client_profile(&id, AsOf::Head, ledger.now).unwrap();
        let action = retention::dry_run_for(&ledger.store, &id, ledger.now)
            .await
            .unwrap();
        let path = format!("/clients/{client}/{month}/retention");
        let page = desk.with_cookie(&path, &cookie).await;
        assert_status(&page, StatusCode::OK, &path);
        assert!(page.header("content-security-policy").is_some());
        let text = page.text();
        let sentence = match &action {
            None => "<strong>Nothing",
            Some(Action::WouldDelete { .. }) => "<strong>Delete all of the client's data.</strong>",
            Some(Action::Refused { .. }) => "<strong>Keep everything.</strong>",
            Some(Action::WouldDestroyKeyForRecordedDeletion { .. }) => {
                "<strong>Complete a recorded deletion.</strong>"
            }
            Some(other) => panic!("{client}: a dry run did {other:?}"),
        };
        assert!(text.contains(sentence), "{client}: {action:?}: {text}");
        let counted = match report.records.len() {
            1 => "<p>1 record:".to_owned(),
            n => format!("<p>{n} records:"),
        };
        assert!(text.contains(&counted), "{client}: {counted}");
        assert!(text.contains(&format!("times in {}", profile.time_zone)));
        for hold in &report.legal_holds {
            assert!(text.contains(hold.as_str()), "{client}: hold {hold}");
        }
        if report.terminated_at.is_some() {
            terminated += 1;
            assert!(text.contains("R-RET-2's deletion deadlines count from it"));
        }
    }
    assert!(terminated > 0, "the demo month terminates a client");

    let link = format!("href=\"/clients/{own}/{month}/retention\"");
    let month_page = desk
        .with_cookie(&format!("/clients/{own}/{month}"), &cookie)
        .await;
    assert!(month_page.text().contains(&link), "operator's month page");
    let home = desk.with_cookie("/", &cookie).await;
    assert!(
        home.text().contains("retention dry run"),
        "operator's client list"
    );
    for (who, refused) in [("auditor", auditor), ("client reader", reader)] {
        let cookie = session(desk, refused).await;
        let month_page = desk
            .with_cookie(&format!("/clients/{own}/{month}"), &cookie)
            .await;
        assert_status(&month_page, StatusCode::OK, who);
        assert!(!month_page.text().contains(&link), "{who}'s month page");
        let home = desk.with_cookie("/", &cookie).await;
        assert!(
            !home.text().contains("retention dry run"),
            "{who}'s client list"
        );
        let page = desk
            .with_cookie(&format!("/clients/{own}/{month}/retention"), &cookie)
            .await;
        assert_status(&page, StatusCode::FORBIDDEN, who);
        assert!(
            page.text().contains("is for operators only"),
            "{who}: {}",
            page.text()
        );
    }
}
