//! Reading from a hot standby: recognising one, waking subscribers without LISTEN/NOTIFY, and
//! reporting its replication lag.
//!
//! A standby cannot run `LISTEN` ("cannot execute LISTEN during recovery"), and the primary's
//! `NOTIFY` never reaches it anyway. Subscribers stay correct without it: they read "everything
//! from my next position", and replay makes commits visible in commit order, which is position
//! order because positions are assigned under the head lock held to commit. So on a standby the
//! wake-up task polls the replicated head instead, at [`STANDBY_POLL_INTERVAL`]; it can only
//! make subscribers look sooner, never let them skip.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::watch;

use super::pg_error;
use crate::error::Result;
use crate::replica::ReplicaLag;

/// How often the wake-up task of a handle on a standby reads the replicated head. Subscribers
/// also poll on their own every `SUBSCRIPTION_POLL_INTERVAL`; this shorter interval is what a
/// subscriber on a standby waits at most past replay for an event, when the role may read the
/// head.
pub const STANDBY_POLL_INTERVAL: Duration = Duration::from_millis(50);

/// True when the server is a standby in recovery (`pg_is_in_recovery()`).
pub(crate) async fn in_recovery(client: &tokio_postgres::Client) -> Result<bool> {
    Ok(client
        .query_one("SELECT pg_is_in_recovery()", &[])
        .await
        .map_err(pg_error)?
        .get(0))
}

/// Polls the replicated head on a standby and forwards its advances to the subscribers' wake
/// channel, until the server leaves recovery (it was promoted: the caller then reconnects and
/// listens for NOTIFYs like on any primary) or the connection fails. A role that may not read
/// the head (a client reader) learns nothing here, and its subscribers rely on their own poll.
pub(crate) async fn follow_replay(client: &tokio_postgres::Client, wake: &Arc<watch::Sender<u64>>) {
    // Privileges are checked for every table a statement names, evaluated or not, so a role
    // that may not read the head gets a statement that does not name it.
    let sql = match client
        .query_one("SELECT has_table_privilege('ledger_head', 'SELECT')", &[])
        .await
    {
        Ok(row) if row.get::<_, bool>(0) => {
            "SELECT pg_is_in_recovery(), (SELECT next_position FROM ledger_head WHERE id = 1)"
        }
        Ok(_) => "SELECT pg_is_in_recovery(), NULL::bigint",
        Err(e) => {
            tracing::debug!(error = %e, "opsledger standby poll cannot check its privileges");
            return;
        }
    };
    let statement = match client.prepare(sql).await {
        Ok(statement) => statement,
        Err(e) => {
            tracing::debug!(error = %e, "opsledger standby poll cannot prepare its query");
            return;
        }
    };
    let mut ticks = tokio::time::interval(STANDBY_POLL_INTERVAL);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let row = match client.query_one(&statement, &[]).await {
            Ok(row) => row,
            Err(e) => {
                tracing::debug!(error = %e, "opsledger standby poll failed");
                return;
            }
        };
        let recovering: bool = row.get(0);
        if !recovering {
            return;
        }
        let next: Option<i64> = row.get(1);
        if let Some(next) = next.and_then(|n| u64::try_from(n).ok()) {
            wake.send_if_modified(|v| {
                let advanced = next > *v;
                if advanced {
                    *v = next;
                }
                advanced
            });
        }
    }
}

/// The replication state of a standby, or `None` on a server not in recovery.
pub(crate) async fn lag(client: &tokio_postgres::Client) -> Result<Option<ReplicaLag>> {
    let row = client
        .query_one(
            "SELECT pg_is_in_recovery(), \
             pg_last_wal_receive_lsn()::text, \
             pg_last_wal_replay_lsn()::text, \
             pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())::bigint, \
             pg_last_xact_replay_timestamp(), \
             (extract(epoch FROM clock_timestamp() - pg_last_xact_replay_timestamp()) * 1000)::bigint",
            &[],
        )
        .await
        .map_err(pg_error)?;
    let recovering: bool = row.get(0);
    if !recovering {
        return Ok(None);
    }
    let unreplayed: Option<i64> = row.get(3);
    let since_ms: Option<i64> = row.get(5);
    let last_commit: Option<DateTime<Utc>> = row.get(4);
    Ok(Some(ReplicaLag {
        received_lsn: row.get(1),
        replayed_lsn: row.get(2),
        // Replay can run ahead of what the receiver reports (WAL restored at startup), which
        // reads as a negative difference: nothing is waiting, so it is zero.
        unreplayed_wal_bytes: unreplayed.map(|b| u64::try_from(b).unwrap_or(0)),
        last_replayed_commit_at: last_commit,
        since_last_replayed_commit_ms: since_ms.map(|ms| u64::try_from(ms).unwrap_or(0)),
    }))
}
