//! The desk in a real browser: headless Chromium driven through chromedriver (W3C WebDriver,
//! spoken here over HTTP), as a person would use it. An auditor signs in, goes from a client's
//! month to its missed R-ESC-1 obligations, opens one's dispute view with its evidence and
//! downloads the evidence bundle, which verifies offline; then a client reader signs in and
//! cannot reach another client's month. Chromium or chromedriver missing is a failure naming
//! how to install them, never a skip.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use opsledger_app::access::{DeskLedger, DeskRole};
use opsledger_app::report;
use opsledger_app::store::bundle::{self, BundleReport, EvidenceBundle};
use opsledger_app::FixedClock;
use opsledger_domain::ids::ClientId;
use opsledger_projections::verdict::Verdict;
use opsledger_projections::AsOf;
use serde_json::{json, Value};
use support::Backend;

const PASSWORD: &str = "correct horse battery";
/// WebDriver's key for an element reference in its answers.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

fn find(name: &str, env: &str, debian_package: &str) -> PathBuf {
    if let Ok(path) = std::env::var(env) {
        return PathBuf::from(path);
    }
    for dir in ["/usr/bin", "/usr/local/bin", "/usr/lib/chromium"] {
        let path = Path::new(dir).join(name);
        if path.exists() {
            return path;
        }
    }
    panic!(
        "{name} is not installed, and the browser test is never skipped. Run scripts/setup as \
         root (it installs Debian's chromium and chromium-driver), or `apt-get install \
         {debian_package}`, or set {env} to its path."
    );
}

/// chromedriver on a free loopback port, stopped when dropped.
struct Driver {
    child: Child,
    base: String,
    http: reqwest::Client,
}

impl Drop for Driver {
    fn drop(&mut self) {
        // Ours to stop; it may have exited already.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One browser session.
struct Browser<'d> {
    driver: &'d Driver,
    session: String,
}

impl Driver {
    async fn start() -> Driver {
        let binary = find("chromedriver", "OPSLEDGER_CHROMEDRIVER", "chromium-driver");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(binary)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let driver = Driver {
            child,
            base: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::new(),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let ready = driver
                .http
                .get(format!("{}/status", driver.base))
                .send()
                .await
                .ok();
            if let Some(r) = ready {
                let status: Value = r.json().await.unwrap_or(Value::Null);
                if status["value"]["ready"] == true {
                    return driver;
                }
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver did not become ready"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn browser(&self, downloads: &Path) -> Browser<'_> {
        let chromium = find("chromium", "OPSLEDGER_CHROMIUM", "chromium");
        let capabilities = json!({
            "capabilities": { "alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": {
                    "binary": chromium,
                    "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                             "--disable-dev-shm-usage", "--window-size=1280,900"],
                    "prefs": {
                        "download.default_directory": downloads,
                        "download.prompt_for_download": false,
                    },
                },
            }},
        });
        let answer: Value = self
            .http
            .post(format!("{}/session", self.base))
            .json(&capabilities)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let session = answer["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no browser session: {answer}"))
            .to_owned();
        Browser {
            driver: self,
            session,
        }
    }
}

impl Browser<'_> {
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/session/{}{path}", self.driver.base, self.session);
        let mut request = self.driver.http.request(method, url);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let answer: Value = request.send().await.unwrap().json().await.unwrap();
        if answer["value"]["error"].is_string() {
            panic!("WebDriver {path}: {}", answer["value"]);
        }
        answer["value"].clone()
    }

    async fn go(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", Some(json!({ "url": url })))
            .await;
    }

    async fn url(&self) -> String {
        self.call(reqwest::Method::GET, "/url", None)
            .await
            .as_str()
            .unwrap()
            .to_owned()
    }

    async fn element(&self, css: &str) -> String {
        let found = self
            .call(
                reqwest::Method::POST,
                "/element",
                Some(json!({ "using": "css selector", "value": css })),
            )
            .await;
        found[ELEMENT].as_str().unwrap().to_owned()
    }

    async fn click(&self, css: &str) {
        let id = self.element(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{id}/click"),
            Some(json!({})),
        )
        .await;
    }

    async fn type_into(&self, css: &str, text: &str) {
        let id = self.element(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{id}/value"),
            Some(json!({ "text": text })),
        )
        .await;
    }

    /// The text the page shows (what a person reads).
    async fn text(&self) -> String {
        let body = self.element("body").await;
        self.call(reqwest::Method::GET, &format!("/element/{body}/text"), None)
            .await
            .as_str()
            .unwrap()
            .to_owned()
    }

    async fn sign_in(&self, base: &str, user: &str) {
        self.go(&format!("{base}/login")).await;
        self.type_into("input#user", user).await;
        self.type_into("input#password", PASSWORD).await;
        self.click("form.login button[type=submit]").await;
        // Signed in, the browser is sent to the client list.
        self.wait_for_url(&format!("{base}/")).await;
    }

    /// Waits until the page's address is `url` (a form's answer may still be loading).
    async fn wait_for_url(&self, url: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let now = self.url().await;
            if now == url {
                return;
            }
            assert!(Instant::now() < deadline, "still at {now}, expected {url}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn quit(self) {
        let url = format!("{}/session/{}", self.driver.base, self.session);
        // The session ends with the driver anyway.
        let _ = self.driver.http.delete(url).send().await;
    }
}

/// A client whose month holds a missed R-ESC-1 obligation, as the application judges it.
async fn client_with_a_missed_escalation(ledger: &support::Ledger) -> String {
    for client in ledger.clients().await {
        let id = ClientId::new(&client).unwrap();
        let view = report::view_for(&ledger.store, &id, AsOf::Head)
            .await
            .unwrap();
        let period = view.month_period(&id, ledger.ym, AsOf::Head).unwrap();
        let obligations = view
            .obligation_report(&id, period, AsOf::Head, ledger.now)
            .unwrap();
        if obligations
            .obligations
            .iter()
            .any(|o| o.rule.to_string() == "R-ESC-1" && matches!(o.verdict, Verdict::Missed { .. }))
        {
            return client;
        }
    }
    panic!("the demo month holds no missed R-ESC-1 obligation");
}

/// Waits for a finished download in `dir` and returns it.
async fn downloaded(dir: &Path) -> PathBuf {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let done: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        if let Some(file) = done.into_iter().next() {
            return file;
        }
        assert!(
            Instant::now() < deadline,
            "no bundle was downloaded into {}",
            dir.display()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_auditor_resolves_a_dispute_and_a_client_reader_stays_in_its_client() {
    let ledger = support::ledger(Backend::Embedded).await;
    let client = client_with_a_missed_escalation(&ledger).await;
    let other = ledger
        .clients()
        .await
        .into_iter()
        .find(|c| *c != client)
        .unwrap();
    let desk = DeskLedger::open(&ledger.target).await.unwrap();
    let clock = FixedClock(ledger.now);
    desk.add_user("ann", DeskRole::Auditor, PASSWORD, &clock)
        .await
        .unwrap();
    desk.add_user(
        "cora",
        DeskRole::ClientReader(ClientId::new(&client).unwrap()),
        PASSWORD,
        &clock,
    )
    .await
    .unwrap();
    let mut running = ledger.serve().await;
    let base = running.url();
    let downloads = tempfile::tempdir().unwrap();
    let driver = Driver::start().await;
    let browser = driver.browser(downloads.path()).await;

    browser.sign_in(&base, "ann").await;
    assert_eq!(
        browser.url().await,
        format!("{base}/"),
        "signed in, the client list"
    );
    assert!(browser.text().await.contains("Signed in as ann"));
    let month = ledger.ym;
    browser
        .go(&format!("{base}/clients/{client}/{month}"))
        .await;
    browser
        .click(&format!(
            "a[href='/clients/{client}/{month}/obligations?verdict=missed']"
        ))
        .await;
    assert!(browser.url().await.ends_with("obligations?verdict=missed"));
    browser.click("a[href^='/explain/R-ESC-1']").await;
    let dispute = browser.text().await;
    assert!(
        browser.url().await.contains("/explain/R-ESC-1"),
        "{dispute}"
    );
    assert!(dispute.contains("R-ESC-1"), "{dispute}");
    assert!(dispute.to_lowercase().contains("missed"), "{dispute}");
    // The evidence: the call's timeline, one of the streams the dispute rests on.
    browser.click("a[href^='/timeline/call-']").await;
    assert!(browser.url().await.contains("/timeline/call-"));
    browser.go(&dispute_url(&browser).await).await;
    browser.click("a[href*='/bundle']").await;
    let file = downloaded(downloads.path()).await;
    let bundle: EvidenceBundle = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert!(
        matches!(bundle::verify(&bundle), BundleReport::Intact { disclosed, .. } if disclosed > 0),
        "the downloaded bundle verifies offline"
    );
    browser.click("form.signout button[type=submit]").await;
    browser.wait_for_url(&format!("{base}/login")).await;

    browser.sign_in(&base, "cora").await;
    let home = browser.text().await;
    assert!(home.contains(&client) && !home.contains(&other), "{home}");
    browser.go(&format!("{base}/clients/{other}/{month}")).await;
    let refused = browser.text().await;
    assert!(refused.contains("You may not see this page"), "{refused}");
    browser
        .go(&format!("{base}/api/v1/clients/{other}/bundle"))
        .await;
    assert!(browser.text().await.contains("may not read client"));
    browser.quit().await;
    running.stop().await.unwrap();
}

/// The dispute view the browser came from: the one before the timeline in its history.
async fn dispute_url(browser: &Browser<'_>) -> String {
    browser
        .call(reqwest::Method::POST, "/back", Some(json!({})))
        .await;
    browser.url().await
}
