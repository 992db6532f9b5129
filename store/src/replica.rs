//! What a store read on a replica can say about how far behind its primary it is.
//!
//! Only PostgreSQL has replicas (a hot standby fed by streaming replication); the embedded
//! file and a primary answer `None`. A standby sees the log exactly as the primary committed it
//! up to the WAL it has replayed: the head it reports is the last position replayed, and every
//! lower position is there too (see `docs/adr/0001-ordering.md`).

use chrono::{DateTime, Utc};

/// A standby's replication state, read from the standby itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaLag {
    /// The WAL position received from the primary and flushed here (`pg_last_wal_receive_lsn`,
    /// as text such as `0/3000148`); `None` when the standby has received nothing by streaming
    /// since it started (e.g. it recovered from archive only).
    pub received_lsn: Option<String>,
    /// The WAL position replayed, hence visible to reads here (`pg_last_wal_replay_lsn`).
    pub replayed_lsn: Option<String>,
    /// WAL bytes received but not yet replayed: work the standby has and has not done yet.
    /// `None` when either position is unknown.
    pub unreplayed_wal_bytes: Option<u64>,
    /// When the primary committed the last transaction replayed here
    /// (`pg_last_xact_replay_timestamp`); `None` if none has been replayed since start.
    pub last_replayed_commit_at: Option<DateTime<Utc>>,
    /// Milliseconds from that commit to now by the standby's clock. While the primary commits
    /// nothing this grows without the standby being behind, so it bounds the lag from above
    /// only while writes flow. Negative skews between the two clocks read as zero.
    pub since_last_replayed_commit_ms: Option<u64>,
}
