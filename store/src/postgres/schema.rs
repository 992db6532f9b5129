//! The PostgreSQL schema as an ordered list of migrations, applied on connect.
//!
//! A migration is never edited once released; a change is a new migration appended to
//! [`MIGRATIONS`]. The events table refuses UPDATE, DELETE and TRUNCATE through triggers, so
//! even the owning role cannot rewrite history by mistake (a superuser can still disable the
//! triggers, which is why the hash chain exists).

use deadpool_postgres::Object;

use crate::error::StoreError;

/// One schema migration.
#[derive(Debug)]
pub struct Migration {
    pub version: u32,
    pub description: &'static str,
    pub sql: &'static str,
}

/// Arbitrary but fixed key for the advisory lock that serializes migrations across processes.
const MIGRATION_LOCK_KEY: i64 = 0x6f70_736c_6467_0001;

/// The NOTIFY channel writers signal once per committed transaction.
pub const NOTIFY_CHANNEL: &str = "opsledger_events";

pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        description: "events, head, immutability guards",
        sql: r#"
CREATE TABLE ledger_head (
    id               smallint PRIMARY KEY CHECK (id = 1),
    next_position    bigint NOT NULL CHECK (next_position >= 0),
    head_hash        bytea NOT NULL CHECK (length(head_hash) = 32),
    last_recorded_at timestamptz
);
INSERT INTO ledger_head VALUES (1, 0, '\x0000000000000000000000000000000000000000000000000000000000000000', NULL);

CREATE TABLE events (
    global_position bigint PRIMARY KEY CHECK (global_position >= 0),
    event_id        uuid NOT NULL,
    stream_id       text NOT NULL,
    category        text NOT NULL,
    stream_version  bigint NOT NULL CHECK (stream_version >= 0),
    event_type      text NOT NULL,
    schema_version  integer NOT NULL CHECK (schema_version >= 1),
    client_id       text,
    occurred_at     timestamptz NOT NULL,
    recorded_at     timestamptz NOT NULL,
    correlation_id  uuid,
    causation_id    uuid,
    actor           text,
    source          text,
    data            text NOT NULL,
    prev_hash       bytea NOT NULL,
    hash            bytea NOT NULL,
    CONSTRAINT events_event_id_key UNIQUE (event_id),
    CONSTRAINT events_stream_version_key UNIQUE (stream_id, stream_version)
);
CREATE INDEX events_category_idx ON events (category, global_position);
CREATE INDEX events_event_type_idx ON events (event_type, global_position);
CREATE INDEX events_client_idx ON events (client_id, global_position);
CREATE INDEX events_occurred_at_idx ON events (occurred_at);
CREATE INDEX events_recorded_at_idx ON events USING brin (recorded_at);
CREATE INDEX events_correlation_idx ON events (correlation_id) WHERE correlation_id IS NOT NULL;

CREATE FUNCTION opsledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    RAISE EXCEPTION 'opsledger: % on % is refused; the event log is append-only', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$fn$;
CREATE TRIGGER events_refuse_update_delete BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION opsledger_refuse_change();
CREATE TRIGGER events_refuse_truncate BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION opsledger_refuse_change();
CREATE TRIGGER ledger_head_refuse_delete BEFORE DELETE ON ledger_head
    FOR EACH ROW EXECUTE FUNCTION opsledger_refuse_change();
CREATE TRIGGER ledger_head_refuse_truncate BEFORE TRUNCATE ON ledger_head
    FOR EACH STATEMENT EXECUTE FUNCTION opsledger_refuse_change();

CREATE FUNCTION opsledger_head_forward_only() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    IF NEW.next_position < OLD.next_position THEN
        RAISE EXCEPTION 'opsledger: the head may only move forward (% -> %)', OLD.next_position, NEW.next_position
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END
$fn$;
CREATE TRIGGER ledger_head_forward_only BEFORE UPDATE ON ledger_head
    FOR EACH ROW EXECUTE FUNCTION opsledger_head_forward_only();

REVOKE UPDATE, DELETE, TRUNCATE ON events FROM PUBLIC;
"#,
    },
    Migration {
        version: 2,
        description: "projection snapshots",
        sql: r#"
CREATE TABLE projections (
    name          text PRIMARY KEY,
    next_position bigint NOT NULL CHECK (next_position >= 0),
    state         bytea NOT NULL,
    saved_at      timestamptz NOT NULL DEFAULT now()
);
"#,
    },
];

/// The newest schema version this build knows.
pub fn latest_version() -> u32 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

/// Applies every migration the database lacks, each in its own transaction, under an
/// advisory lock so two processes starting together do not race.
pub async fn migrate(conn: &mut Object) -> Result<u32, StoreError> {
    let tx = conn.transaction().await.map_err(super::pg_error)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK_KEY])
        .await
        .map_err(super::pg_error)?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            version integer PRIMARY KEY,
            description text NOT NULL,
            applied_at timestamptz NOT NULL DEFAULT now())",
    )
    .await
    .map_err(super::pg_error)?;
    let row = tx
        .query_one(
            "SELECT coalesce(max(version), 0) FROM schema_migrations",
            &[],
        )
        .await
        .map_err(super::pg_error)?;
    let current: i32 = row.get(0);
    let current = u32::try_from(current).unwrap_or(0);
    let known = latest_version();
    if current > known {
        return Err(StoreError::SchemaFromTheFuture {
            found: current,
            known,
        });
    }
    for m in MIGRATIONS.iter().filter(|m| m.version > current) {
        tx.batch_execute(m.sql)
            .await
            .map_err(|e| StoreError::Migration {
                version: m.version,
                detail: e.to_string(),
            })?;
        let version = i32::try_from(m.version).expect("migration versions are small");
        tx.execute(
            "INSERT INTO schema_migrations (version, description) VALUES ($1, $2)",
            &[&version, &m.description],
        )
        .await
        .map_err(super::pg_error)?;
    }
    tx.commit().await.map_err(super::pg_error)?;
    Ok(known)
}
