//! The read audit: every read that returns ledger data is recorded (who, when, which client,
//! which query, how many rows) in the access log, and only auditors may read that log back.

use opsledger_domain::ids::ClientId;
use std::sync::Arc;

use opsledger_store::desk::{validate_access, MAX_ACCESS_QUERY_BYTES};
use opsledger_store::{AccessEntry, AccessFilter, DeskStore, NewAccess, StoreError, VerifyReport};
use tokio::sync::{mpsc, oneshot};

use super::Principal;
use crate::clock::Clock;
use crate::error::{AppError, AppResult};

/// Most entries one read of the access log returns.
pub const MAX_ACCESS_PAGE: usize = 10_000;

/// Which entries of the access log to show.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AccessLogQuery {
    pub client: Option<ClientId>,
    pub user: Option<String>,
    /// The first sequence number to show.
    pub from_seq: u64,
    /// At most this many entries (capped at [`MAX_ACCESS_PAGE`]).
    pub limit: usize,
}

/// The query as the log keeps it: control characters written as escapes (a log line stays
/// one line) and cut at [`MAX_ACCESS_QUERY_BYTES`] on a character boundary, so recording a
/// read never fails because of what was asked.
fn loggable(query: &str) -> String {
    let mut out = String::with_capacity(query.len().min(MAX_ACCESS_QUERY_BYTES));
    for ch in query.chars() {
        let piece: String = if ch.is_control() {
            ch.escape_default().collect()
        } else {
            ch.to_string()
        };
        if out.len() + piece.len() > MAX_ACCESS_QUERY_BYTES {
            break;
        }
        out.push_str(&piece);
    }
    out
}

fn new_access(
    principal: &Principal,
    client: Option<&ClientId>,
    query: &str,
    rows: u64,
    clock: &dyn Clock,
) -> NewAccess {
    NewAccess {
        at: clock.now(),
        user_name: principal.user.clone(),
        role: principal.role.name().to_owned(),
        client_id: client.map(|c| c.as_str().to_owned()),
        query: loggable(query),
        rows,
    }
}

fn recording_failed(e: StoreError) -> AppError {
    AppError::store_while("recording a read in the access log", e)
}

/// Records that `principal` read `rows` rows or events of `client` (`None`: agency-wide or
/// several clients) with `query`; returns the entry's sequence number. One commit per call:
/// a server answering many requests at once records through an [`AccessRecorder`].
pub async fn record_access(
    desk: &dyn DeskStore,
    principal: &Principal,
    client: Option<&ClientId>,
    query: &str,
    rows: u64,
    clock: &dyn Clock,
) -> AppResult<u64> {
    let entry = desk
        .append_access(new_access(principal, client, query, rows, clock))
        .await
        .map_err(recording_failed)?;
    Ok(entry.seq)
}

/// Most entries one commit of an [`AccessRecorder`] takes.
pub const MAX_RECORDER_BATCH: usize = 256;
/// Reads that may wait for the recorder before callers feel back-pressure.
const RECORDER_QUEUE: usize = 4096;

struct Pending {
    access: NewAccess,
    reply: oneshot::Sender<AppResult<u64>>,
}

/// Records reads with group commit, as the event writer appends: every entry waiting when a
/// commit starts goes into it, so concurrent requests share one transaction and one flush
/// instead of queueing one commit each behind the access log's head row. Cheap to clone; the
/// background task ends when the last clone is dropped.
#[derive(Clone, Debug)]
pub struct AccessRecorder {
    queue: mpsc::Sender<Pending>,
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pending")
            .field("access", &self.access)
            .finish()
    }
}

impl AccessRecorder {
    /// Starts the recording task on the current tokio runtime.
    pub fn start(desk: Arc<dyn DeskStore>) -> Self {
        let (queue, mut pending) = mpsc::channel::<Pending>(RECORDER_QUEUE);
        tokio::spawn(async move {
            while let Some(first) = pending.recv().await {
                let mut batch = vec![first];
                while batch.len() < MAX_RECORDER_BATCH {
                    match pending.try_recv() {
                        Ok(next) => batch.push(next),
                        Err(_) => break,
                    }
                }
                let accesses = batch.iter().map(|p| p.access.clone()).collect();
                match desk.append_access_batch(accesses).await {
                    Ok(entries) => {
                        for (p, entry) in batch.into_iter().zip(entries) {
                            // A caller that stopped waiting still has its read recorded.
                            let _ = p.reply.send(Ok(entry.seq));
                        }
                    }
                    Err(_) => {
                        // Entries were validated before queueing, so this is the store
                        // failing; each is tried alone so each caller gets its own answer.
                        for p in batch {
                            let result = desk
                                .append_access(p.access)
                                .await
                                .map(|e| e.seq)
                                .map_err(recording_failed);
                            let _ = p.reply.send(result);
                        }
                    }
                }
            }
        });
        Self { queue }
    }

    /// [`record_access`] through the group commit; returns once the entry is committed.
    pub async fn record(
        &self,
        principal: &Principal,
        client: Option<&ClientId>,
        query: &str,
        rows: u64,
        clock: &dyn Clock,
    ) -> AppResult<u64> {
        let access = new_access(principal, client, query, rows, clock);
        // A bad entry is refused here, so it cannot fail the others' commit.
        validate_access(&access).map_err(recording_failed)?;
        let stopped = || AppError::Internal("the access recorder has stopped".to_owned());
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Pending { access, reply })
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

/// The access log's entries matching `query`, for the ledger's administrator (the shell).
pub async fn access_log(
    desk: &dyn DeskStore,
    query: &AccessLogQuery,
) -> AppResult<Vec<AccessEntry>> {
    let filter = AccessFilter {
        client_id: query.client.as_ref().map(|c| c.as_str().to_owned()),
        user_name: query.user.clone(),
        from_seq: query.from_seq,
    };
    let limit = match query.limit {
        0 => MAX_ACCESS_PAGE,
        n => n.min(MAX_ACCESS_PAGE),
    };
    desk.read_access(&filter, limit)
        .await
        .map_err(|e| AppError::store_while("reading the access log", e))
}

/// [`access_log`] for a desk user: auditors only, since the log names every reader and client.
pub async fn access_log_for(
    desk: &dyn DeskStore,
    principal: &Principal,
    query: &AccessLogQuery,
) -> AppResult<Vec<AccessEntry>> {
    if !principal.may_audit() {
        return Err(AppError::Forbidden {
            user: principal.user.clone(),
            client: None,
        });
    }
    access_log(desk, query).await
}

/// Walks the access log's chain; a broken report names the first entry that is wrong.
pub async fn verify_access_log(desk: &dyn DeskStore) -> AppResult<VerifyReport> {
    desk.verify_access()
        .await
        .map_err(|e| AppError::store_while("verifying the access log", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_kept_on_one_line_and_bounded() {
        assert_eq!(loggable("GET /a?b=1"), "GET /a?b=1");
        assert_eq!(loggable("a\nb"), "a\\nb");
        let long = "é".repeat(MAX_ACCESS_QUERY_BYTES);
        let kept = loggable(&long);
        assert!(kept.len() <= MAX_ACCESS_QUERY_BYTES);
        assert_eq!(kept.len(), MAX_ACCESS_QUERY_BYTES);
    }
}
