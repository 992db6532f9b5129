//! What every request shares: the ledger's store, the head the follower last saw, the clock,
//! the login limiter and the server's settings.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use opsledger_app::access::{AccessRecorder, DeskLedger};
use opsledger_app::store::{EventStore, Head};
use opsledger_app::{Clock, Target};
use serde::Serialize;
use tokio::sync::watch;

use crate::cache::AnswerCache;
use crate::limiter::LoginLimiter;

/// How `opsledger serve` runs.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// The ledger served.
    pub target: Target,
    /// Where to listen (port 0: any free port, which [`crate::Running::addr`] then tells).
    pub listen: SocketAddr,
    /// Where "now" comes from (deadlines pending are judged at it; sessions expire by it).
    pub clock: Arc<dyn Clock>,
    /// Request bounds.
    pub limits: Limits,
    /// Mark the session cookie `Secure`: set when the desk is reached over TLS (a terminating
    /// proxy in front of it), never on plain loopback HTTP, where browsers would drop it.
    pub secure_cookies: bool,
}

/// The bounds every request is held to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The largest request body read (the login form is the only body the desk takes); a
    /// larger one is answered 413.
    pub max_body_bytes: usize,
    /// The longest query string; a longer one is answered 414.
    pub max_query_bytes: usize,
    /// How long a request may take to produce its response (408 after it). Streams already
    /// started (the head's event stream, a bundle) are not cut by it.
    pub request_timeout: Duration,
    /// The most events one page of `/api/v1/events` returns.
    pub max_page_events: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: 16 * 1024,
            max_query_bytes: 4096,
            request_timeout: Duration::from_secs(30),
            max_page_events: 1000,
        }
    }
}

/// The head of the log a response reflects: its last position and that event's hash (both
/// `None` for an empty ledger).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct Reflects {
    pub position: Option<u64>,
    pub head_hash: Option<String>,
}

impl From<Option<&Head>> for Reflects {
    fn from(head: Option<&Head>) -> Self {
        Self {
            position: head.map(|h| h.position),
            head_hash: head.map(|h| h.hash.to_hex()),
        }
    }
}

/// The state every handler reads.
#[derive(Debug)]
pub struct Desk {
    /// The ledger with its desk tables (users, tokens, sessions, the access log) and, on
    /// PostgreSQL, the way to read as a user's database role.
    pub ledger: DeskLedger,
    /// Records reads in the access log with group commit: concurrent requests share one
    /// commit instead of queueing behind the log's head row one by one.
    pub recorder: AccessRecorder,
    /// The ledger as the server's own role opens it: the projector (it keeps the read model
    /// current) and the writer of the access log.
    pub store: Arc<dyn EventStore>,
    /// The head the follower last saw; it moves within a poll interval of an append.
    pub head: watch::Receiver<Reflects>,
    /// The answers of reports and dispute views, and the bound on computing them.
    pub answers: Arc<AnswerCache>,
    pub clock: Arc<dyn Clock>,
    pub limits: Limits,
    pub logins: LoginLimiter,
    pub secure_cookies: bool,
}

/// The shared state as handlers receive it.
pub type Shared = Arc<Desk>;
