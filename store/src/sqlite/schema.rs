//! The SQLite file's layout: connection settings, the versioned schema migrations, and
//! opening a ledger file (creating and migrating it when needed).

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior};

use crate::error::StoreError;

use super::rows::map_sqlite_error;

/// Page size for new ledgers; it only takes effect before the first table is created. Every
/// random event id dirties one page of the event-id index, and each dirty page is written
/// whole to the WAL at commit, so small pages keep that write amplification down (8 KiB pages
/// measured markedly slower for bulk appends than 4 KiB).
const PAGE_SIZE_BYTES: u32 = 4096;
/// Page cache per writer connection, in KiB (a negative `cache_size` means KiB). The writer
/// touches the right edge of the log plus random pages of the event-id and stream indexes.
const WRITER_CACHE_KIB: i64 = 128 * 1024;
/// Page cache per read connection, in KiB.
const READER_CACHE_KIB: i64 = 32 * 1024;
/// Memory-mapped I/O stays off. With it, a page SQLite reaches through the mapping that the
/// file system cannot back (a full disk, a file extended during a checkpoint) raises SIGBUS
/// and kills the process; the disk-full fault test hit exactly that. Plain reads turn the
/// same condition into an error the ledger reports.
const MMAP_BYTES: i64 = 0;
/// WAL pages after which a commit checkpoints into the main file. Well above SQLite's default
/// of 1000: a checkpoint writes each page once however often it changed since the last one,
/// so fewer checkpoints mean fewer writes of the hot, randomly updated index pages.
const WAL_AUTOCHECKPOINT_PAGES: i64 = 20_000;
/// How long a connection waits for another process's lock before reporting busy.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// Prepared statements kept per connection.
pub(crate) const STATEMENT_CACHE: usize = 64;

/// Schema migrations in order; migration `n` (1-based) is `MIGRATIONS[n - 1]`. Never edit
/// one that has shipped: add the next instead.
const MIGRATIONS: &[&str] = &[
    // 1: the event log, its head row and the immutability triggers.
    "CREATE TABLE events (
        global_position INTEGER PRIMARY KEY,
        event_id        BLOB    NOT NULL UNIQUE,
        stream_id       TEXT    NOT NULL,
        category        TEXT    NOT NULL,
        stream_version  INTEGER NOT NULL,
        event_type      TEXT    NOT NULL,
        schema_version  INTEGER NOT NULL,
        client_id       TEXT,
        occurred_at     INTEGER NOT NULL,
        recorded_at     INTEGER NOT NULL,
        correlation_id  BLOB,
        causation_id    BLOB,
        actor           TEXT,
        source          TEXT,
        data            TEXT    NOT NULL,
        prev_hash       BLOB    NOT NULL,
        hash            BLOB    NOT NULL
    );
    -- A named unique index rather than a table constraint, so filtered reads can name it.
    CREATE UNIQUE INDEX events_stream_version ON events (stream_id, stream_version);
    CREATE INDEX events_category ON events (category, global_position);
    CREATE INDEX events_event_type ON events (event_type, global_position);
    CREATE INDEX events_client ON events (client_id, global_position);
    CREATE INDEX events_occurred_at ON events (occurred_at);
    CREATE INDEX events_recorded_at ON events (recorded_at);
    CREATE INDEX events_correlation ON events (correlation_id) WHERE correlation_id IS NOT NULL;
    CREATE TABLE ledger_head (
        id               INTEGER PRIMARY KEY CHECK (id = 0),
        next_position    INTEGER NOT NULL,
        head_hash        BLOB    NOT NULL,
        last_recorded_at INTEGER
    );
    INSERT INTO ledger_head (id, next_position, head_hash, last_recorded_at)
        VALUES (0, 0, zeroblob(32), NULL);
    CREATE TRIGGER events_refuse_update BEFORE UPDATE ON events
    BEGIN
        SELECT RAISE(ABORT, 'events are append-only: UPDATE is refused');
    END;
    CREATE TRIGGER events_refuse_delete BEFORE DELETE ON events
    BEGIN
        SELECT RAISE(ABORT, 'events are append-only: DELETE is refused');
    END;
    CREATE TRIGGER ledger_head_refuse_delete BEFORE DELETE ON ledger_head
    BEGIN
        SELECT RAISE(ABORT, 'the ledger head row cannot be deleted');
    END;",
    // 2: projection snapshots (state and checkpoint in one row, so one write saves both).
    "CREATE TABLE projections (
        name          TEXT    PRIMARY KEY,
        next_position INTEGER NOT NULL CHECK (next_position >= 0),
        state         BLOB    NOT NULL,
        saved_at      INTEGER NOT NULL
    );",
    // 3: per-client data keys for crypto-shredding, apart from the log (ADR 0004). A destroyed
    // row keeps its client id with a NULL key, so a key can never be created for that client
    // again; the triggers make that final even for another tool opening the file.
    "CREATE TABLE data_keys (
        client_id        TEXT    PRIMARY KEY,
        key              BLOB    CHECK (key IS NULL OR length(key) = 32),
        created_at       INTEGER NOT NULL,
        destroyed_at     INTEGER,
        destroyed_reason TEXT,
        CHECK ((key IS NULL) = (destroyed_at IS NOT NULL))
    );
    CREATE TRIGGER data_keys_refuse_delete BEFORE DELETE ON data_keys
    BEGIN
        SELECT RAISE(ABORT, 'data key rows are permanent: DELETE is refused');
    END;
    CREATE TRIGGER data_keys_destroyed_is_final BEFORE UPDATE ON data_keys
        WHEN OLD.destroyed_at IS NOT NULL OR NEW.key IS NOT NULL
    BEGIN
        SELECT RAISE(ABORT, 'a data key can only be destroyed, once');
    END;",
    // 4: read models published per client (on PostgreSQL scoped by row-level security).
    "CREATE TABLE client_read_models (
        client_id     TEXT    NOT NULL,
        name          TEXT    NOT NULL,
        next_position INTEGER NOT NULL CHECK (next_position >= 0),
        body          TEXT    NOT NULL,
        saved_at      INTEGER NOT NULL,
        PRIMARY KEY (client_id, name)
    );",
    // 5: read-model fact rows, one per event, keyed by its position (ADR 0006), and their
    // checkpoint. The rows are derived data: a rebuild deletes and rewrites them, and
    // `verify --read-models` re-derives them from the log to catch an edit.
    "CREATE TABLE rm_fact (
        position    INTEGER PRIMARY KEY,
        event_id    BLOB    NOT NULL,
        client_id   TEXT,
        area        TEXT    NOT NULL,
        entity      TEXT    NOT NULL,
        kind        TEXT    NOT NULL,
        occurred_at INTEGER NOT NULL,
        recorded_at INTEGER NOT NULL,
        body        TEXT    NOT NULL
    );
    CREATE INDEX rm_fact_client ON rm_fact (client_id, position);
    CREATE INDEX rm_fact_entity ON rm_fact (entity, position);
    CREATE TABLE rm_checkpoint (
        id            INTEGER PRIMARY KEY CHECK (id = 0),
        next_position INTEGER NOT NULL CHECK (next_position >= 0),
        version       INTEGER NOT NULL CHECK (version >= 0),
        saved_at      INTEGER NOT NULL
    );",
    // 6: the period index (ADR 0006): a monthly report finds the entities of the high-volume
    // areas (calls) that have a fact in its month by client, area and occurred-at, and reads
    // the client's small standing areas by client and area, instead of every row it has.
    "CREATE INDEX rm_fact_period ON rm_fact (client_id, area, occurred_at);",
    // 7: the desk's users, tokens, sessions and the read audit (ADR 0007), apart from the
    // event log. The access log is append-only like `events`, chained through its own head
    // row; users and tokens are never deleted (the access log names them), only disabled or
    // revoked, once.
    "CREATE TABLE desk_users (
        name          TEXT    PRIMARY KEY,
        role          TEXT    NOT NULL,
        client_id     TEXT,
        password_hash TEXT    NOT NULL,
        created_at    INTEGER NOT NULL,
        disabled_at   INTEGER
    );
    CREATE TABLE desk_tokens (
        id          TEXT    PRIMARY KEY,
        user_name   TEXT    NOT NULL REFERENCES desk_users (name),
        secret_hash BLOB    NOT NULL CHECK (length(secret_hash) = 32),
        created_at  INTEGER NOT NULL,
        revoked_at  INTEGER
    );
    CREATE TABLE desk_sessions (
        id_hash    BLOB    PRIMARY KEY CHECK (length(id_hash) = 32),
        user_name  TEXT    NOT NULL REFERENCES desk_users (name),
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
    );
    CREATE INDEX desk_sessions_expires ON desk_sessions (expires_at);
    CREATE TABLE access_log (
        seq       INTEGER PRIMARY KEY CHECK (seq >= 0),
        at        INTEGER NOT NULL,
        user_name TEXT    NOT NULL,
        role      TEXT    NOT NULL,
        client_id TEXT,
        query     TEXT    NOT NULL,
        rows      INTEGER NOT NULL CHECK (rows >= 0),
        prev_hash BLOB    NOT NULL CHECK (length(prev_hash) = 32),
        hash      BLOB    NOT NULL CHECK (length(hash) = 32)
    );
    CREATE INDEX access_log_client ON access_log (client_id, seq);
    CREATE INDEX access_log_user ON access_log (user_name, seq);
    CREATE TABLE access_log_head (
        id        INTEGER PRIMARY KEY CHECK (id = 0),
        next_seq  INTEGER NOT NULL CHECK (next_seq >= 0),
        head_hash BLOB    NOT NULL CHECK (length(head_hash) = 32)
    );
    INSERT INTO access_log_head (id, next_seq, head_hash) VALUES (0, 0, zeroblob(32));
    CREATE TRIGGER access_log_refuse_update BEFORE UPDATE ON access_log
    BEGIN
        SELECT RAISE(ABORT, 'the access log is append-only: UPDATE is refused');
    END;
    CREATE TRIGGER access_log_refuse_delete BEFORE DELETE ON access_log
    BEGIN
        SELECT RAISE(ABORT, 'the access log is append-only: DELETE is refused');
    END;
    CREATE TRIGGER access_log_head_refuse_delete BEFORE DELETE ON access_log_head
    BEGIN
        SELECT RAISE(ABORT, 'the access log head row cannot be deleted');
    END;
    CREATE TRIGGER access_log_head_forward_only BEFORE UPDATE ON access_log_head
        WHEN NEW.next_seq < OLD.next_seq
    BEGIN
        SELECT RAISE(ABORT, 'the access log head may only move forward');
    END;
    CREATE TRIGGER desk_users_refuse_delete BEFORE DELETE ON desk_users
    BEGIN
        SELECT RAISE(ABORT, 'desk users are disabled, never deleted');
    END;
    CREATE TRIGGER desk_tokens_refuse_delete BEFORE DELETE ON desk_tokens
    BEGIN
        SELECT RAISE(ABORT, 'desk tokens are revoked, never deleted');
    END;",
    // 8: the projection snapshot table of migration 2 goes. The read model's fact rows
    // (migration 5, ADR 0006) replaced the one-blob snapshot, and nothing has read or written
    // the table since; a ledger of an earlier release loses it, and its stale blob, here.
    "DROP TABLE IF EXISTS projections;",
];

/// The schema version this build writes and understands.
pub(crate) fn known_version() -> u32 {
    u32::try_from(MIGRATIONS.len()).expect("fewer than 4 billion migrations")
}

fn file_error(path: &Path, detail: impl Into<String>) -> StoreError {
    StoreError::File {
        path: path.display().to_string(),
        detail: detail.into(),
    }
}

/// Opens the write connection of a ledger file, creating the file if missing, and brings its
/// schema up to date. Returns the connection and whether the file is read-only to us.
pub(crate) fn open_writer(path: &Path) -> Result<(Connection, bool), StoreError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let mut conn = Connection::open_with_flags(path, flags).map_err(|e| map_open_error(path, e))?;
    let read_only = conn
        .is_readonly(rusqlite::MAIN_DB)
        .map_err(|e| map_open_error(path, e))?;
    configure(&conn, WRITER_CACHE_KIB).map_err(|e| map_open_error(path, e))?;
    if !read_only {
        // Both must precede the first table: the page size is fixed once the file has content
        // and cannot change at all in WAL mode.
        conn.pragma_update(None, "page_size", PAGE_SIZE_BYTES)
            .map_err(|e| map_open_error(path, e))?;
        let mode: String = conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
            .map_err(|e| map_open_error(path, e))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(file_error(
                path,
                format!("cannot switch the journal to WAL mode (it stays {mode})"),
            ));
        }
        conn.pragma_update(None, "wal_autocheckpoint", WAL_AUTOCHECKPOINT_PAGES)
            .map_err(|e| map_open_error(path, e))?;
    }
    migrate(&mut conn, path, read_only)?;
    Ok((conn, read_only))
}

/// Opens a read connection on a ledger the writer has already opened and migrated.
pub(crate) fn open_reader(path: &Path) -> Result<Connection, StoreError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(|e| map_open_error(path, e))?;
    configure(&conn, READER_CACHE_KIB).map_err(|e| map_open_error(path, e))?;
    Ok(conn)
}

/// Settings every connection needs. `synchronous=FULL` makes a returned append durable:
/// the WAL is fsynced at every commit.
fn configure(conn: &Connection, cache_kib: i64) -> rusqlite::Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "cache_size", -cache_kib)?;
    conn.pragma_update(None, "mmap_size", MMAP_BYTES)?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    // Freed bytes are overwritten with zeros on every connection, so that a destroyed data
    // key (or anything else freed) does not linger in a page whichever connection frees it.
    conn.pragma_update(None, "secure_delete", "ON")?;
    Ok(())
}

/// Open-time failures all concern the file, even those SQLite reports generically.
fn map_open_error(path: &Path, error: rusqlite::Error) -> StoreError {
    match map_sqlite_error(path, error) {
        StoreError::Sqlite(e) => file_error(path, e.to_string()),
        other => other,
    }
}

fn table_exists(conn: &Connection, name: &str) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1",
        [name],
        |_| Ok(()),
    )
    .optional()
    .map(|found| found.is_some())
}

fn current_version(conn: &Connection) -> rusqlite::Result<u32> {
    conn.query_row(
        "SELECT coalesce(max(version), 0) FROM schema_migrations",
        [],
        |row| row.get(0),
    )
}

/// Applies every migration the file lacks, each in its own write transaction, re-reading the
/// version inside it so two processes opening a new file at once do not both migrate.
fn migrate(conn: &mut Connection, path: &Path, read_only: bool) -> Result<(), StoreError> {
    let known = known_version();
    let io = |e| map_open_error(path, e);
    let has_table = table_exists(conn, "schema_migrations").map_err(io)?;
    if !has_table {
        let other_tables: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table'",
                [],
                |row| row.get(0),
            )
            .map_err(io)?;
        if other_tables > 0 {
            return Err(file_error(
                path,
                "a SQLite database, but not an opsledger ledger (no schema_migrations table)",
            ));
        }
    }
    let found = if has_table {
        current_version(conn).map_err(io)?
    } else {
        0
    };
    if found > known {
        return Err(StoreError::SchemaFromTheFuture { found, known });
    }
    if found == known {
        return Ok(());
    }
    if read_only {
        return Err(file_error(
            path,
            format!(
                "the file is read-only and its schema (version {found}) needs migrating to {known}"
            ),
        ));
    }
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(io)?;
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            version    INTEGER PRIMARY KEY,
            applied_at INTEGER NOT NULL
        )",
    )
    .map_err(io)?;
    let found = current_version(&tx).map_err(io)?;
    if found > known {
        return Err(StoreError::SchemaFromTheFuture { found, known });
    }
    for version in found + 1..=known {
        let index = usize::try_from(version - 1).expect("migration numbers fit in usize");
        let failed = |e: rusqlite::Error| StoreError::Migration {
            version,
            detail: e.to_string(),
        };
        tx.execute_batch(MIGRATIONS[index]).map_err(failed)?;
        tx.execute(
            "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, ?2)",
            (version, chrono::Utc::now().timestamp_micros()),
        )
        .map_err(failed)?;
    }
    tx.commit().map_err(io)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_file_gets_every_migration_and_reopening_is_a_no_op() {
        let dir = tempfile_dir();
        let path = dir.join("ledger.sqlite");
        let (conn, read_only) = open_writer(&path).unwrap();
        assert!(!read_only);
        assert_eq!(current_version(&conn).unwrap(), known_version());
        let page_size: u32 = conn
            .pragma_query_value(None, "page_size", |r| r.get(0))
            .unwrap();
        assert_eq!(page_size, PAGE_SIZE_BYTES);
        drop(conn);
        let (conn, _) = open_writer(&path).unwrap();
        let rows: i64 = conn
            .query_row("SELECT count(*) FROM schema_migrations", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, i64::from(known_version()));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_newer_schema_is_refused() {
        let dir = tempfile_dir();
        let path = dir.join("ledger.sqlite");
        let (conn, _) = open_writer(&path).unwrap();
        conn.execute(
            "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, 0)",
            [known_version() + 1],
        )
        .unwrap();
        drop(conn);
        assert!(matches!(
            open_writer(&path),
            Err(StoreError::SchemaFromTheFuture { found, known }) if found == known + 1
        ));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_foreign_database_is_refused() {
        let dir = tempfile_dir();
        let path = dir.join("other.sqlite");
        Connection::open(&path)
            .unwrap()
            .execute_batch("CREATE TABLE things (x INTEGER)")
            .unwrap();
        assert!(matches!(open_writer(&path), Err(StoreError::File { .. })));
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// A fresh directory under the system temp dir; `tempfile` is not a dependency here.
    fn tempfile_dir() -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("opsledger-schema-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}
