//! The read audit: every read that returns ledger data is recorded (who, when, which client,
//! which query, how many rows) in the access log, and only auditors may read that log back.

use opsledger_domain::ids::ClientId;
use opsledger_store::desk::MAX_ACCESS_QUERY_BYTES;
use opsledger_store::{AccessEntry, AccessFilter, DeskStore, NewAccess, VerifyReport};

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

/// Records that `principal` read `rows` rows or events of `client` (`None`: agency-wide or
/// several clients) with `query`; returns the entry's sequence number.
pub async fn record_access(
    desk: &dyn DeskStore,
    principal: &Principal,
    client: Option<&ClientId>,
    query: &str,
    rows: u64,
    clock: &dyn Clock,
) -> AppResult<u64> {
    let entry = desk
        .append_access(NewAccess {
            at: clock.now(),
            user_name: principal.user.clone(),
            role: principal.role.name().to_owned(),
            client_id: client.map(|c| c.as_str().to_owned()),
            query: loggable(query),
            rows,
        })
        .await
        .map_err(|e| AppError::store_while("recording a read in the access log", e))?;
    Ok(entry.seq)
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
