//! `opsledger serve`: the auditors' and dispute desk over HTTP. A read-only JSON API under
//! `/api/v1`, server-rendered pages, login by bearer token or session cookie, every read of
//! ledger data recorded in the access log, and a follower that keeps the read model and the
//! head current while the server runs. Everything it answers comes from `app`; it parses
//! HTTP and renders, nothing more.

pub mod api;
mod auth;
mod cache;
pub mod error;
mod follower;
mod limiter;
pub mod openapi;
mod pages;
mod params;
mod reads;
mod scoped;
mod state;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use opsledger_app::access::{AccessRecorder, DeskLedger};
use opsledger_app::project::{self, Start};
use opsledger_app::NoProgress;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;

pub use api::Route;
pub use cache::{CACHE_LIMIT_BYTES, MAX_COMPUTE_WAIT};
pub use error::{ApiError, ServerError};
pub use limiter::{MAX_FAILURES as LOGIN_MAX_FAILURES, WINDOW as LOGIN_WINDOW};
pub use state::{Limits, Reflects, ServeConfig};

use crate::state::{Desk, Shared};

/// A running server.
#[derive(Debug)]
pub struct Running {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    server: JoinHandle<std::io::Result<()>>,
    follower: JoinHandle<()>,
    answers: Arc<cache::AnswerCache>,
}

impl Running {
    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its base URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// How many report and dispute-view answers were computed rather than served from the
    /// answer cache since the server started.
    pub fn answers_computed(&self) -> u64 {
        self.answers.computed()
    }

    /// Serves until `signal` completes, then stops accepting, lets requests in flight finish
    /// and returns.
    pub async fn until(mut self, signal: impl Future<Output = ()>) -> Result<(), ServerError> {
        signal.await;
        self.stop().await
    }

    /// Stops the server (requests in flight finish) and the follower.
    pub async fn stop(&mut self) -> Result<(), ServerError> {
        if let Some(stop) = self.stop.take() {
            // The server task may already have ended; then there is nobody to tell.
            let _ = stop.send(());
        }
        self.follower.abort();
        match (&mut self.server).await {
            Ok(result) => result.map_err(ServerError::Serve),
            Err(join) if join.is_cancelled() => Ok(()),
            Err(join) => Err(ServerError::Serve(std::io::Error::other(join.to_string()))),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.follower.abort();
        self.server.abort();
    }
}

/// Opens the ledger, brings its read model up to the head, starts the follower and listens.
pub async fn start(config: ServeConfig) -> Result<Running, ServerError> {
    let ledger = DeskLedger::open(&config.target)
        .await
        .map_err(ServerError::Ledger)?;
    let store = ledger.events();
    // The rows are brought up to the head once before listening, so the first reports do
    // not fold the whole log past an old checkpoint.
    project::catch_up(&store, Start::Checkpoint, &NoProgress)
        .await
        .map_err(ServerError::Ledger)?;
    let head = store
        .head()
        .await
        .map_err(|e| ServerError::Ledger(e.into()))?;
    let next = head.as_ref().map_or(0, |h| h.position + 1);
    let (head_tx, head_rx) = watch::channel(Reflects::from(head.as_ref()));
    let follower = tokio::spawn(follower::follow(Arc::clone(&store), next, head_tx));
    let recorder = AccessRecorder::start(ledger.desk_arc());
    // One computation per core: more would only share the cores and hold more memory.
    let parallel = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    let answers = Arc::new(cache::AnswerCache::new(CACHE_LIMIT_BYTES, parallel));
    let desk: Shared = Arc::new(Desk {
        ledger,
        recorder,
        store,
        head: head_rx,
        answers: Arc::clone(&answers),
        clock: config.clock,
        limits: config.limits,
        logins: limiter::LoginLimiter::default(),
        secure_cookies: config.secure_cookies,
    });
    let app = app(desk);
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| ServerError::Bind {
            addr: config.listen.to_string(),
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| ServerError::Bind {
        addr: config.listen.to_string(),
        source,
    })?;
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            // A dropped sender stops the server as well.
            let _ = stopped.await;
        })
        .await
    });
    Ok(Running {
        addr,
        stop: Some(stop),
        server,
        follower,
        answers,
    })
}

/// The whole application: the API, the pages, and the bounds every request is held to.
fn app(desk: Shared) -> Router {
    let (api, _) = api::router();
    let limits = desk.limits;
    Router::new()
        .nest(api::PREFIX, api)
        .merge(pages::router())
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(
            Arc::clone(&desk),
            bound_query,
        ))
        .layer(RequestBodyLimitLayer::new(limits.max_body_bytes))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            limits.request_timeout,
        ))
        .layer(middleware::from_fn(no_store))
        .with_state(desk)
}

/// Refuses a query string longer than the limit (414) before any handler parses it.
async fn bound_query(State(desk): State<Shared>, request: Request, next: Next) -> Response {
    let length = request.uri().query().map_or(0, str::len);
    if length > desk.limits.max_query_bytes {
        return (
            StatusCode::URI_TOO_LONG,
            axum::Json(serde_json::json!({
                "error": {
                    "status": 414,
                    "message": format!("the query string is {length} bytes; at most {} are read", desk.limits.max_query_bytes),
                    "parameter": null,
                }
            })),
        )
            .into_response();
    }
    next.run(request).await
}

/// No answer of the desk is cached by a browser or a proxy: each is ledger data as of a head,
/// readable only by the user it was given to.
async fn no_store(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

async fn not_found() -> ApiError {
    ApiError::NotFound {
        what: "this path".to_owned(),
    }
}

/// The API's routes as the router lists them, for checking the OpenAPI document.
pub fn api_routes() -> Vec<Route> {
    api::router().1
}
