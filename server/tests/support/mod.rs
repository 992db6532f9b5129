//! What the server's tests share: a ledger holding a generated demo month on either backend
//! (an embedded file, or a fresh database on the throwaway PostgreSQL server of
//! `opsledger-tests`), desk users on it, the server started on a free loopback port, and an
//! HTTP client.
#![allow(dead_code)]

use std::sync::Arc;

use chrono::{DateTime, Datelike, Utc};
use opsledger_app::access::{self, DeskLedger, DeskRole};
use opsledger_app::store::{EventStore, PgStore, SqliteStore};
use opsledger_app::{FixedClock, Target};
use opsledger_projections::YearMonth;
use opsledger_server::{Limits, Running, ServeConfig};
use opsledger_tests::demo_month;
use opsledger_tools::demo_data::{self, DemoMonth};
use reqwest::StatusCode;
use serde_json::Value;

/// Calls per client per business day: every rule gets exercised, quick in a debug build.
const CALLS_PER_DAY: u32 = 2;

/// Which backend a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Embedded,
    Postgres,
}

/// A ledger with the demo month recorded.
pub struct Ledger {
    pub backend: Backend,
    pub target: Target,
    /// The ledger as its owner opens it (what the server opens too).
    pub store: Arc<dyn EventStore>,
    pub month: DemoMonth,
    /// The demo month, as reports name it.
    pub ym: YearMonth,
    /// The instant the demo judges the month at; the server's clock in these tests.
    pub now: DateTime<Utc>,
    /// The ledger file's directory (embedded only), removed on drop.
    _dir: Option<tempfile::TempDir>,
}

impl std::fmt::Debug for Ledger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ledger")
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

/// A new ledger on `backend` with the demo month recorded.
pub async fn ledger(backend: Backend) -> Ledger {
    let month = demo_month::month(1, CALLS_PER_DAY);
    let start = demo_data::demo_month_start();
    let ym = YearMonth::new(start.year(), start.month()).unwrap();
    let now = opsledger_tools::demo::evaluation_instant(ym).unwrap();
    let (target, store, dir): (Target, Arc<dyn EventStore>, _) = match backend {
        Backend::Embedded => {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("desk.ledger");
            let store = Arc::new(SqliteStore::create_new(&path).unwrap());
            (Target::File(path), store, Some(dir))
        }
        Backend::Postgres => {
            let url = opsledger_tests::pg::server().fresh_database().await;
            let store = Arc::new(PgStore::connect(&url).await.unwrap());
            (Target::Postgres(url), store, None)
        }
    };
    demo_month::record(&store, &month).await;
    Ledger {
        backend,
        target,
        store,
        month,
        ym,
        now,
        _dir: dir,
    }
}

impl Ledger {
    /// The server on this ledger, on a free loopback port, its clock fixed at `now`.
    pub async fn serve(&self) -> Running {
        self.serve_with(Limits::default()).await
    }

    /// The same with other request bounds.
    pub async fn serve_with(&self, limits: Limits) -> Running {
        opsledger_server::start(ServeConfig {
            target: self.target.clone(),
            listen: "127.0.0.1:0".parse().unwrap(),
            clock: Arc::new(FixedClock(self.now)),
            limits,
            secure_cookies: false,
        })
        .await
        .unwrap()
    }

    /// The demo's client ids, in onboarding order (as the application lists them).
    pub async fn clients(&self) -> Vec<String> {
        opsledger_app::project::clients(&self.store)
            .await
            .unwrap()
            .iter()
            .map(|c| c.as_str().to_owned())
            .collect()
    }
}

/// An HTTP client that keeps no cookies of its own and follows no redirects (tests look at
/// each answer as it is).
pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The running desk and how to ask it.
pub struct Desk {
    pub base: String,
    pub http: reqwest::Client,
}

/// An answer: status, headers and body.
pub struct Answer {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    }

    /// The parameter a 400 names.
    pub fn parameter(&self) -> String {
        self.json()["error"]["parameter"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }
}

impl Desk {
    pub async fn send(&self, request: reqwest::RequestBuilder) -> Answer {
        let response = request.send().await.unwrap();
        Answer {
            status: response.status(),
            headers: response.headers().clone(),
            body: response.bytes().await.unwrap().to_vec(),
        }
    }

    pub async fn get(&self, path: &str, bearer: Option<&str>) -> Answer {
        let mut request = self.http.get(format!("{}{path}", self.base));
        if let Some(b) = bearer {
            request = request.bearer_auth(b);
        }
        self.send(request).await
    }

    pub async fn with_cookie(&self, path: &str, cookie: &str) -> Answer {
        self.send(
            self.http
                .get(format!("{}{path}", self.base))
                .header("cookie", cookie),
        )
        .await
    }

    pub async fn login(&self, user: &str, password: &str) -> Answer {
        self.send(
            self.http
                .post(format!("{}/login", self.base))
                .form(&[("user", user), ("password", password)]),
        )
        .await
    }
}

pub fn assert_status(answer: &Answer, status: StatusCode, what: &str) {
    assert_eq!(answer.status, status, "{what}: {}", answer.text());
}

/// A desk user's credentials for the test.
pub struct User {
    pub name: &'static str,
    pub password: &'static str,
    pub bearer: String,
}

/// Creates a user with a token.
pub async fn user(ledger: &Ledger, desk: &DeskLedger, name: &'static str, role: DeskRole) -> User {
    let clock = FixedClock(ledger.now);
    let password = "correct horse battery";
    desk.add_user(name, role, password, &clock).await.unwrap();
    let token = access::create_token(desk.desk(), name, &clock)
        .await
        .unwrap();
    User {
        name,
        password,
        bearer: token.bearer,
    }
}
