//! The audit of the indexes on `events`: each one, the query of this backend that needs it,
//! and why it is the kind it is. `tests/tests/pg_indexes.rs` checks that the database has
//! exactly these indexes and that each query's plan uses its index, so an index nothing needs
//! or a query that lost its index fails a test instead of costing every append silently.
//!
//! Every index is paid for on each append (the COPY into `events` updates all of them), so the
//! list is kept to what a read path needs. Two of the columns a filter reads are time columns:
//! `recorded_at` never runs backwards along `global_position` (the append plan takes the
//! later of the clock and the head's `recorded_at`), so a BRIN index of a few pages answers its
//! ranges; `occurred_at` does not follow position (imports record past calls long after they
//! happened, interleaved with live ones), so BRIN would match nearly every block range and the
//! index stays a B-tree.

/// One index on `events` and what needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventIndex {
    /// The index's name in the database.
    pub name: &'static str,
    /// Its access method (`btree` or `brin`).
    pub method: &'static str,
    /// The store operations whose queries use it.
    pub needed_by: &'static str,
}

/// Every index on `events`, in the order of the schema.
pub const EVENT_INDEXES: &[EventIndex] = &[
    EventIndex {
        name: "events_pkey",
        method: "btree",
        needed_by: "read_all and subscriptions (global_position >= n ORDER BY \
                    global_position LIMIT m), verify's chunks (global_position BETWEEN a \
                    AND b ORDER BY global_position), the hash at one position, and the order \
                    of every filtered read; also the uniqueness of positions",
    },
    EventIndex {
        name: "events_event_id_key",
        method: "btree",
        needed_by: "append: idempotent retries and reused ids (event_id = ANY($1)); also the \
                    uniqueness of event ids",
    },
    EventIndex {
        name: "events_stream_version_key",
        method: "btree",
        needed_by: "read_stream (stream_id = $1 AND stream_version >= $2), the version of each \
                    appended stream (max(stream_version) per stream), the filter by stream; also \
                    the uniqueness of stream versions",
    },
    EventIndex {
        name: "events_category_idx",
        method: "btree",
        needed_by: "read_filtered by category (category = ANY($2) ORDER BY global_position)",
    },
    EventIndex {
        name: "events_event_type_idx",
        method: "btree",
        needed_by: "read_filtered by event type (event_type = ANY($2) ORDER BY global_position)",
    },
    EventIndex {
        name: "events_client_idx",
        method: "btree",
        needed_by: "read_filtered by client (client_id = $2 ORDER BY global_position), a \
                    client's evidence bundle, and the client reader's row-level security policy",
    },
    EventIndex {
        name: "events_occurred_at_idx",
        method: "btree",
        needed_by: "read_filtered by occurrence time (occurred_at >= $2 AND occurred_at < $3)",
    },
    EventIndex {
        name: "events_recorded_at_idx",
        method: "brin",
        needed_by: "read_filtered by recording time (recorded_at >= $2 AND recorded_at < $3)",
    },
    EventIndex {
        name: "events_correlation_idx",
        method: "btree",
        needed_by: "read_filtered by correlation id (correlation_id = $2), a correlation's \
                    evidence bundle; partial, since most events have none",
    },
];
