//! Access scoped to the client (R-RET-4), enforced by PostgreSQL: each test logs in as a real
//! writer, auditor or client-reader role and tries to step outside it
//! (`docs/adr/0005-database-roles.md`). The last tests scan the PostgreSQL backend's sources
//! for SQL built with `format!` from anything but constants.
//!
//! Roles belong to the whole cluster while every test has a database of its own, so each
//! login role gets a unique name. The throwaway server trusts local connections, so the
//! passwords set here are stored but never checked; what is under test is the role's grants.

use chrono::{TimeZone, Utc};
use opsledger_store::postgres::roles::{create_login_role, RoleKind};
use opsledger_store::{
    ChainBreak, DataKey, EventFilter, EventStore, ExpectedVersion, FactCheckpoint, Metadata,
    NewEvent, PgStore, PositionRange, StoreError, StreamAppend, StreamId, VerifyReport,
};
use opsledger_tests::pg;
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, Config, NoTls};
use uuid::Uuid;

/// Events each client gets in [`seeded`], and the agency-wide ones (no client).
const ACME_EVENTS: u64 = 5;
const GLOBEX_EVENTS: u64 = 3;
const AGENCY_EVENTS: u64 = 2;
const ALL_EVENTS: u64 = ACME_EVENTS + GLOBEX_EVENTS + AGENCY_EVENTS;
/// More rows than the writer sends with one pipelined INSERT, so the group takes the bulk
/// path (binary COPY for the owner; refused under row-level security, see the writer).
const BULK_EVENTS: u64 = 300;

/// A read-model checkpoint of version 1 at `next_position`.
fn checkpoint(next_position: u64) -> FactCheckpoint {
    FactCheckpoint {
        next_position,
        version: 1,
    }
}

fn event(n: u64, client: Option<&str>) -> NewEvent {
    NewEvent {
        event_id: Uuid::from_u128(u128::from(n) + 1),
        event_type: "call.connected".into(),
        schema_version: 1,
        client_id: client.map(str::to_owned),
        occurred_at: Utc.with_ymd_and_hms(2026, 10, 1, 9, 0, 0).unwrap()
            + chrono::Duration::seconds(i64::try_from(n).unwrap()),
        data: serde_json::json!({"n": n.to_string()}),
        metadata: Metadata::default(),
    }
}

/// A migrated ledger with events of two clients and the agency, a read-model checkpoint and a
/// data key, written by the owning (superuser) role.
struct Ledger {
    url: String,
    owner: PgStore,
}

async fn seeded() -> Ledger {
    let url = pg::server().fresh_database().await;
    let owner = PgStore::connect(&url).await.unwrap();
    let mut n = 0;
    for (client, count) in [
        (Some("acme"), ACME_EVENTS),
        (Some("globex"), GLOBEX_EVENTS),
        (None, AGENCY_EVENTS),
    ] {
        for _ in 0..count {
            let stream = StreamId::new("call", &format!("c{n}")).unwrap();
            owner
                .append(&stream, ExpectedVersion::NoStream, vec![event(n, client)])
                .await
                .unwrap();
            n += 1;
        }
    }
    owner
        .write_facts(0, checkpoint(ALL_EVENTS), Vec::new())
        .await
        .unwrap();
    assert!(matches!(
        owner.data_key("acme", true).await.unwrap(),
        DataKey::Active(_)
    ));
    Ledger { url, owner }
}

/// Creates a LOGIN role of `kind` with a unique name and returns a configuration that logs in
/// as it.
async fn login(url: &str, prefix: &str, kind: RoleKind) -> (String, Config) {
    let name = format!("{prefix}_{}", Uuid::new_v4().simple());
    let password = format!("pw-{}", Uuid::new_v4());
    create_login_role(url, &kind, &name, &password)
        .await
        .unwrap();
    let mut config: Config = url.parse().unwrap();
    config.user(&name);
    config.password(&password);
    (name, config)
}

async fn raw(config: &Config) -> Client {
    let (client, connection) = config.connect(NoTls).await.unwrap();
    tokio::spawn(connection);
    client
}

async fn count(client: &Client, sql: &str) -> i64 {
    client.query_one(sql, &[]).await.unwrap().get(0)
}

/// Runs each statement and requires the database to refuse it with SQLSTATE 42501
/// (insufficient_privilege), whether from a missing grant, a policy or a trigger.
async fn all_refused(client: &Client, who: &str, statements: &[&str]) {
    for sql in statements {
        match client.batch_execute(sql).await {
            Ok(()) => panic!("{who} was allowed: {sql}"),
            Err(e) => assert_eq!(
                e.code(),
                Some(&SqlState::INSUFFICIENT_PRIVILEGE),
                "{who}: {sql}: {e:?}"
            ),
        }
    }
}

/// An INSERT into `events` that would pass every constraint, so only privileges refuse it.
const FORGED_EVENT: &str = "INSERT INTO events (global_position, event_id, stream_id, category, \
     stream_version, event_type, schema_version, client_id, occurred_at, recorded_at, data, \
     prev_hash, hash) VALUES (1000000, gen_random_uuid(), 'call-forged', 'call', 0, \
     'call.connected', 1, 'acme', now(), now(), '{}', '\\x00', '\\x00')";

/// What no role but the owner may do to the schema, whoever asks.
const SCHEMA_CHANGES: [&str; 7] = [
    "ALTER TABLE events DISABLE TRIGGER ALL",
    "ALTER TABLE events DISABLE ROW LEVEL SECURITY",
    "DROP POLICY events_client_reader_read ON events",
    "SET session_replication_role = replica",
    "CREATE TABLE public.planted (x int)",
    "CREATE FUNCTION public.planted() RETURNS int LANGUAGE sql AS 'SELECT 1'",
    "SELECT opsledger_create_login_role('planted', 'writer', \
     'SCRAM-SHA-256$4096:c2FsdA==$c3RvcmVk:c2VydmVy', NULL)",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_writer_appends_and_keeps_keys_but_cannot_rewrite_history() {
    let ledger = seeded().await;
    let (_, config) = login(&ledger.url, "writer", RoleKind::Writer).await;
    // The read-write path: migrations are current, so connecting needs no DDL.
    let store = PgStore::connect_with(config.clone()).await.unwrap();
    let one = store
        .append(
            &StreamId::parse("call-w1").unwrap(),
            ExpectedVersion::NoStream,
            vec![event(100, Some("acme"))],
        )
        .await
        .unwrap();
    assert_eq!(one.positions, vec![ALL_EVENTS]);
    let bulk: Vec<NewEvent> = (0..BULK_EVENTS)
        .map(|k| event(1000 + k, Some("globex")))
        .collect();
    let out = store
        .append_batch(vec![StreamAppend {
            stream_id: StreamId::parse("call-wbulk").unwrap(),
            expected_version: ExpectedVersion::NoStream,
            events: bulk,
        }])
        .await
        .unwrap();
    assert_eq!(
        out[0].positions.len(),
        usize::try_from(BULK_EVENTS).unwrap()
    );
    let total = ALL_EVENTS + 1 + BULK_EVENTS;
    assert_eq!(
        store.read_all(0, 10_000).await.unwrap().len(),
        usize::try_from(total).unwrap()
    );
    assert!(store
        .verify(PositionRange::default())
        .await
        .unwrap()
        .is_intact());
    assert!(ledger
        .owner
        .verify(PositionRange::default())
        .await
        .unwrap()
        .is_intact());
    // Only the projector (the owner) writes the read model: the writer reads its checkpoint,
    // and the database refuses it a page or a reset.
    assert_eq!(
        store.fact_checkpoint().await.unwrap(),
        Some(checkpoint(ALL_EVENTS))
    );
    for err in [
        store
            .write_facts(ALL_EVENTS, checkpoint(total), Vec::new())
            .await
            .unwrap_err(),
        store
            .reset_facts(Some(checkpoint(ALL_EVENTS)), 1)
            .await
            .unwrap_err(),
    ] {
        assert!(
            matches!(err, StoreError::PermissionDenied { .. }),
            "{err:?}"
        );
    }
    // The writer encrypts, so it reads, creates and destroys keys.
    assert!(matches!(
        store.data_key("acme", false).await.unwrap(),
        DataKey::Active(_)
    ));
    assert!(matches!(
        store.data_key("initech", true).await.unwrap(),
        DataKey::Active(_)
    ));
    assert!(store
        .destroy_data_key("initech", "contract ended")
        .await
        .unwrap());

    let client = raw(&config).await;
    all_refused(
        &client,
        "the writer",
        &[
            "UPDATE events SET data = '{}' WHERE global_position = 1",
            "DELETE FROM events WHERE global_position = 1",
            "TRUNCATE events",
            "UPDATE ledger_head SET id = 2",
            "UPDATE ledger_head SET next_position = 0",
            "DELETE FROM ledger_head",
            "DELETE FROM rm_fact",
            "TRUNCATE rm_fact",
            "UPDATE rm_checkpoint SET version = 0",
            "DELETE FROM data_keys",
            "TRUNCATE data_keys",
            "UPDATE data_keys SET client_id = 'other'",
            "SELECT * FROM client_readers",
            "INSERT INTO client_readers VALUES ('someone', 'acme')",
            "SET ROLE opsledger_auditor",
        ],
    )
    .await;
    all_refused(&client, "the writer", &SCHEMA_CHANGES).await;
    assert_eq!(
        count(&client, "SELECT count(*) FROM events").await,
        i64::try_from(total).unwrap()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_auditor_reads_and_verifies_everything_but_keys_and_writes_nothing() {
    let ledger = seeded().await;
    let (_, config) = login(&ledger.url, "auditor", RoleKind::Auditor).await;
    let store = PgStore::connect_read_only_with(config.clone())
        .await
        .unwrap();
    assert!(store.is_read_only());
    assert_eq!(
        store.read_all(0, 1000).await.unwrap().len(),
        usize::try_from(ALL_EVENTS).unwrap()
    );
    assert_eq!(
        store.head().await.unwrap().unwrap().position,
        ALL_EVENTS - 1
    );
    assert!(store
        .verify(PositionRange::default())
        .await
        .unwrap()
        .is_intact());
    let acme = EventFilter {
        client_id: Some("acme".into()),
        ..EventFilter::default()
    };
    assert_eq!(
        store.read_filtered(&acme, 0, 1000).await.unwrap().len(),
        usize::try_from(ACME_EVENTS).unwrap()
    );
    assert_eq!(
        store.fact_checkpoint().await.unwrap(),
        Some(checkpoint(ALL_EVENTS))
    );

    // The read-only handle refuses writes before they reach the database.
    let err = store
        .append(
            &StreamId::parse("call-a1").unwrap(),
            ExpectedVersion::Any,
            vec![event(200, Some("acme"))],
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::ReadOnly), "{err:?}");
    let err = store
        .write_facts(ALL_EVENTS, checkpoint(ALL_EVENTS + 1), Vec::new())
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::ReadOnly), "{err:?}");
    let err = store
        .reset_facts(Some(checkpoint(ALL_EVENTS)), 1)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::ReadOnly), "{err:?}");
    let err = store.destroy_data_key("acme", "audit").await.unwrap_err();
    assert!(matches!(err, StoreError::ReadOnly), "{err:?}");
    // Keys never reach auditors: the database itself refuses the read.
    let err = store.data_key("acme", false).await.unwrap_err();
    assert!(
        matches!(err, StoreError::PermissionDenied { .. }),
        "{err:?}"
    );

    // A read-write handle opened as the auditor is refused by the database, with a typed error.
    let writable = PgStore::connect_with(config.clone()).await.unwrap();
    let err = writable
        .append(
            &StreamId::parse("call-a2").unwrap(),
            ExpectedVersion::NoStream,
            vec![event(201, Some("acme"))],
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::PermissionDenied { .. }),
        "{err:?}"
    );

    let client = raw(&config).await;
    all_refused(
        &client,
        "the auditor",
        &[
            FORGED_EVENT,
            "UPDATE events SET data = '{}' WHERE global_position = 1",
            "DELETE FROM events",
            "TRUNCATE events",
            "UPDATE ledger_head SET next_position = next_position + 1",
            "SELECT 1 FROM ledger_head FOR UPDATE",
            "INSERT INTO rm_checkpoint (id, next_position, version) VALUES (0, 0, 0)",
            "UPDATE rm_checkpoint SET next_position = 0",
            "DELETE FROM rm_fact",
            "SELECT * FROM data_keys",
            "SELECT count(*) FROM data_keys",
            "INSERT INTO data_keys (client_id, key) VALUES ('x', NULL)",
            "INSERT INTO client_readers VALUES ('someone', 'acme')",
            "UPDATE client_readers SET client_id = 'globex'",
            "INSERT INTO schema_migrations VALUES (99, 'forged')",
            "SET ROLE opsledger_writer",
        ],
    )
    .await;
    all_refused(&client, "the auditor", &SCHEMA_CHANGES).await;
    assert_eq!(
        count(&client, "SELECT count(*) FROM events").await,
        i64::try_from(ALL_EVENTS).unwrap()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_reader_sees_its_own_clients_events_and_nothing_else() {
    let ledger = seeded().await;
    let acme_kind = RoleKind::ClientReader {
        client_id: "acme".into(),
    };
    let (acme_name, acme) = login(&ledger.url, "acme", acme_kind).await;
    let (_, globex) = login(
        &ledger.url,
        "globex",
        RoleKind::ClientReader {
            client_id: "globex".into(),
        },
    )
    .await;

    let client = raw(&acme).await;
    assert_eq!(
        count(&client, "SELECT count(*) FROM events").await,
        i64::try_from(ACME_EVENTS).unwrap()
    );
    let clients: Vec<Option<String>> = client
        .query("SELECT DISTINCT client_id FROM events", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(clients, vec![Some("acme".to_owned())]);
    for other in [
        "SELECT count(*) FROM events WHERE client_id = 'globex'",
        "SELECT count(*) FROM events WHERE client_id IS NULL",
        "SELECT count(*) FROM events WHERE client_id <> 'acme' OR client_id IS NULL",
    ] {
        assert_eq!(count(&client, other).await, 0, "{other}");
    }
    // The mapping table shows the reader its own row only.
    assert_eq!(
        count(&client, "SELECT count(*) FROM client_readers").await,
        1
    );
    let globex_client = raw(&globex).await;
    assert_eq!(
        count(&globex_client, "SELECT count(*) FROM events").await,
        i64::try_from(GLOBEX_EVENTS).unwrap()
    );

    all_refused(
        &client,
        "a client reader",
        &[
            "SELECT * FROM data_keys",
            "SELECT * FROM ledger_head",
            FORGED_EVENT,
            "UPDATE events SET client_id = 'acme' WHERE client_id = 'globex'",
            "DELETE FROM events",
            "INSERT INTO client_readers VALUES ('someone', 'globex')",
            "UPDATE client_readers SET client_id = 'globex'",
            "DELETE FROM client_readers",
            "SET ROLE opsledger_auditor",
            "SET ROLE opsledger_writer",
            // With row security off, a query that policies would filter is an error, never a
            // way around them.
            "SET row_security = off; SELECT count(*) FROM events",
        ],
    )
    .await;
    client.batch_execute("RESET row_security").await.unwrap();
    all_refused(&client, "a client reader", &SCHEMA_CHANGES).await;
    // Acting as the bare group role finds no mapping, and so no events: the policy fails
    // closed.
    client
        .batch_execute("SET ROLE opsledger_client_reader")
        .await
        .unwrap();
    assert_eq!(count(&client, "SELECT count(*) FROM events").await, 0);
    client.batch_execute("RESET ROLE").await.unwrap();

    // Through the store: the reads are scoped by the database, everything else is refused.
    let store = PgStore::connect_read_only_with(acme.clone()).await.unwrap();
    let all = store.read_all(0, 1000).await.unwrap();
    assert_eq!(all.len(), usize::try_from(ACME_EVENTS).unwrap());
    assert!(all.iter().all(|e| e.client_id.as_deref() == Some("acme")));
    let globex_filter = EventFilter {
        client_id: Some("globex".into()),
        ..EventFilter::default()
    };
    assert!(store
        .read_filtered(&globex_filter, 0, 1000)
        .await
        .unwrap()
        .is_empty());
    for err in [
        store.head().await.unwrap_err(),
        store.verify(PositionRange::default()).await.unwrap_err(),
        store.data_key("acme", false).await.unwrap_err(),
    ] {
        assert!(
            matches!(err, StoreError::PermissionDenied { .. }),
            "{err:?}"
        );
    }
    let err = store
        .append(
            &StreamId::parse("call-r1").unwrap(),
            ExpectedVersion::Any,
            vec![event(300, Some("acme"))],
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::ReadOnly), "{err:?}");

    // Roles belong to the cluster, mappings and CONNECT to one ledger: another ledger
    // database refuses the login (migration 8). Were it let in, it would be mapped to no
    // client there and see nothing; the owner grants CONNECT to show that too.
    let other = seeded().await;
    let mut elsewhere: Config = other.url.parse().unwrap();
    elsewhere.user(&acme_name);
    let refused = elsewhere.connect(NoTls).await.map(|_| ()).unwrap_err();
    assert_eq!(
        refused.code(),
        Some(&SqlState::INSUFFICIENT_PRIVILEGE),
        "{refused:?}"
    );
    let other_owner = raw_owner(&other.url).await;
    let other_db: String = other_owner
        .query_one("SELECT current_database()", &[])
        .await
        .unwrap()
        .get(0);
    // Both names are generated by the tests, never input.
    other_owner
        .batch_execute(&format!(
            "GRANT CONNECT ON DATABASE {other_db} TO {acme_name}"
        ))
        .await
        .unwrap();
    let elsewhere = raw(&elsewhere).await;
    assert_eq!(count(&elsewhere, "SELECT count(*) FROM events").await, 0);
    assert_eq!(
        count(&raw_owner(&other.url).await, "SELECT count(*) FROM events").await,
        i64::try_from(ALL_EVENTS).unwrap()
    );
}

async fn raw_owner(url: &str) -> Client {
    raw(&url.parse().unwrap()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_roles_are_validated_on_both_sides_and_never_replaced() {
    // Refused before any connection is attempted: port 1 has no server.
    for bad in [
        "Robert",
        "x; DROP ROLE postgres",
        "a\"b",
        "pg_admin",
        "opsledger_writer",
    ] {
        let err = create_login_role("host=127.0.0.1 port=1", &RoleKind::Auditor, bad, "pw")
            .await
            .unwrap_err();
        assert!(
            matches!(err, StoreError::InvalidLoginRole { .. }),
            "{bad}: {err:?}"
        );
    }

    let ledger = seeded().await;
    let (name, _) = login(&ledger.url, "twice", RoleKind::Auditor).await;
    let err = create_login_role(&ledger.url, &RoleKind::Writer, &name, "other")
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::RoleExists { .. }), "{err:?}");
    // The second attempt changed nothing: the role is still an auditor only.
    let owner = raw_owner(&ledger.url).await;
    let member_of_writer: bool = owner
        .query_one(
            "SELECT pg_has_role($1, 'opsledger_writer', 'MEMBER')",
            &[&name],
        )
        .await
        .unwrap()
        .get(0);
    assert!(!member_of_writer);
    // What the server stores is the verifier computed here, never the password.
    let stored: String = owner
        .query_one(
            "SELECT rolpassword FROM pg_authid WHERE rolname = $1",
            &[&name],
        )
        .await
        .unwrap()
        .get(0);
    assert!(stored.starts_with("SCRAM-SHA-256$4096:"), "{stored}");

    // The SQL function checks on its own, for callers that bypass this crate.
    for (sql, code) in [
        (
            "SELECT opsledger_create_login_role('Bad\"Name', 'auditor', \
             'SCRAM-SHA-256$4096:c2FsdA==$c3RvcmVk:c2VydmVy', NULL)",
            SqlState::INVALID_NAME,
        ),
        (
            "SELECT opsledger_create_login_role('fine_name', 'auditor', 'cleartext', NULL)",
            SqlState::INVALID_PASSWORD,
        ),
        (
            "SELECT opsledger_create_login_role('fine_name', 'superuser', \
             'SCRAM-SHA-256$4096:c2FsdA==$c3RvcmVk:c2VydmVy', NULL)",
            SqlState::INVALID_PARAMETER_VALUE,
        ),
        (
            "SELECT opsledger_create_login_role('fine_name', 'client_reader', \
             'SCRAM-SHA-256$4096:c2FsdA==$c3RvcmVk:c2VydmVy', NULL)",
            SqlState::INVALID_PARAMETER_VALUE,
        ),
    ] {
        let err = owner.batch_execute(sql).await.unwrap_err();
        assert_eq!(err.code(), Some(&code), "{sql}: {err:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_read_only_path_refuses_a_schema_it_cannot_migrate() {
    let url = pg::server().fresh_database().await;
    let err = PgStore::connect_read_only(&url).await.unwrap_err();
    assert!(
        matches!(err, StoreError::SchemaNotMigrated { found: 0, .. }),
        "{err:?}"
    );
    let err = create_login_role(&url, &RoleKind::Auditor, "never_created", "pw")
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::SchemaNotMigrated { .. }),
        "{err:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// No SQL assembled from input: a scan of the PostgreSQL backend's sources.
// ---------------------------------------------------------------------------------------------

/// Constants every `format!` in the backend may interpolate freely: fixed column lists, the
/// NOTIFY channel and the benchmark's table and sequence names.
const SQL_CONSTANTS: [&str; 6] = [
    "EVENT_COLUMNS",
    "COPY_COLUMNS",
    "NOTIFY_CHANNEL",
    "BASELINE_TABLE",
    "PGBENCH_TABLE",
    "PGBENCH_SEQUENCE",
];

/// Every other `format!` of the backend, reviewed one by one: its template, what it
/// interpolates besides the constants above, and why that is safe. A new one fails the scan until it is added here.
const REVIEWED: [(&str, &[&str], &str); 14] = [
    (
        "${}",
        &["params.len()"],
        "a placeholder number, counted by the code",
    ),
    (
        "{column} {op} ?",
        &["column", "op"],
        "column names and operators from a fixed array in read_filtered",
    ),
    (
        "SELECT {EVENT_COLUMNS} FROM events WHERE {} ORDER BY global_position LIMIT ${}",
        &["clauses.join(\" AND \")", "params.len()"],
        "clauses are fixed text with placeholders; the limit is a placeholder number",
    ),
    (
        "{} (SQLSTATE {})",
        &["db.message()", "db.code().code()"],
        "an error message, not SQL",
    ),
    (
        "invalid database URL: {e}",
        &["e"],
        "an error message, not SQL",
    ),
    (
        "{column} is negative ({value})",
        &["column", "value"],
        "an error message, not SQL",
    ),
    (
        "global_position is negative ({raw_position})",
        &["raw_position"],
        "an error message, not SQL",
    ),
    (
        "schema_version is {schema_version}",
        &["schema_version"],
        "an error message, not SQL",
    ),
    (
        "the database refused the write transaction: {text}",
        &["text"],
        "an error message, not SQL",
    ),
    (
        "COPY (SELECT {EVENT_COLUMNS} FROM events WHERE global_position >= {from} \
         ORDER BY global_position LIMIT {limit}) TO STDOUT (FORMAT binary)",
        &["from", "limit"],
        "two i64 values, since COPY takes no bind parameters; an i64 prints as digits and an \
         optional minus sign, nothing else",
    ),
    (
        "COPY (SELECT {EVENT_COLUMNS} FROM events WHERE global_position BETWEEN {first} \
         AND {last} ORDER BY global_position) TO STDOUT (FORMAT binary)",
        &["first", "last"],
        "two i64 values, since COPY takes no bind parameters; an i64 prints as digits and an \
         optional minus sign, nothing else",
    ),
    (
        "a row has {count} fields, not {FIELDS}",
        &["count", "FIELDS"],
        "an error message, not SQL",
    ),
    (
        "unreadable COPY output from the server: {detail}",
        &["detail"],
        "an error message, not SQL",
    ),
    (
        "{column} {problem}",
        &["column", "problem"],
        "an error message, not SQL",
    ),
];

/// Other ways to build strings that the scan does not follow, and so refuses outright.
const UNFOLLOWED: [&str; 4] = ["format_args!(", "concat!(", "write!(", "push_str("];

/// One `format!` call found in a source file.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FormatUse {
    line: usize,
    template: String,
    /// The expression behind each interpolation, in template order.
    interpolated: Vec<String>,
}

/// Reads the string literal at the start of `s` (plain with escapes, or raw), returning its
/// value and the bytes consumed.
fn string_literal(s: &str) -> Option<(String, usize)> {
    let bytes = s.as_bytes();
    if bytes.first() == Some(&b'r') {
        let hashes = s[1..].bytes().take_while(|b| *b == b'#').count();
        let open = 1 + hashes;
        if bytes.get(open) != Some(&b'"') {
            return None;
        }
        let close = format!("\"{}", "#".repeat(hashes));
        let end = s[open + 1..].find(&close)? + open + 1;
        return Some((s[open + 1..end].to_owned(), end + close.len()));
    }
    if bytes.first() != Some(&b'"') {
        return None;
    }
    let mut value = String::new();
    let mut chars = s.char_indices().skip(1).peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((value, i + 1)),
            '\\' => match chars.next()?.1 {
                // A line continuation drops the newline and the next line's indentation.
                '\n' => {
                    while chars.peek().is_some_and(|(_, c)| c.is_whitespace()) {
                        chars.next();
                    }
                }
                'n' => value.push('\n'),
                't' => value.push('\t'),
                other => value.push(other),
            },
            c => value.push(c),
        }
    }
    None
}

/// The arguments after the template, up to the macro's closing parenthesis, split at
/// top-level commas.
fn macro_arguments(s: &str) -> Vec<String> {
    let mut args = Vec::new();
    let mut depth = 0usize;
    let mut current = String::new();
    let mut rest = s;
    while let Some(c) = rest.chars().next() {
        if c == '"' || (c == 'r' && (rest[1..].starts_with('"') || rest[1..].starts_with('#'))) {
            if let Some((_, used)) = string_literal(rest) {
                current.push_str(&rest[..used]);
                rest = &rest[used..];
                continue;
            }
        }
        match c {
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' if depth == 0 => break,
            ')' | ']' | '}' => depth -= 1,
            ',' if depth == 0 => {
                args.push(current.trim().to_owned());
                current.clear();
                rest = &rest[1..];
                continue;
            }
            _ => {}
        }
        current.push(c);
        rest = &rest[c.len_utf8()..];
    }
    args.push(current.trim().to_owned());
    args.retain(|a| !a.is_empty());
    args
}

/// `name = expression` as a macro argument, as opposed to an expression that holds `==`.
fn named_argument(arg: &str) -> Option<(&str, &str)> {
    let (name, value) = arg.split_once('=')?;
    let name = name.trim();
    let identifier =
        !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    (identifier && !value.starts_with('=')).then_some((name, value.trim()))
}

/// The expression each `{…}` of `template` interpolates, given the macro's other arguments.
fn interpolations(template: &str, args: &[String]) -> Vec<String> {
    let (named, positional): (Vec<&String>, Vec<&String>) =
        args.iter().partition(|a| named_argument(a).is_some());
    let mut out = Vec::new();
    let mut next = 0usize;
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '}' {
            // `}}` is an escaped brace; a lone one cannot occur in a template that compiles.
            chars.next_if_eq(&'}');
            continue;
        }
        if c != '{' {
            continue;
        }
        if chars.next_if_eq(&'{').is_some() {
            continue;
        }
        let inner: String = chars.by_ref().take_while(|c| *c != '}').collect();
        let key = inner.split(':').next().unwrap_or("").trim().to_owned();
        let expression = if key.is_empty() {
            next += 1;
            positional.get(next - 1).map(|s| s.to_string())
        } else if let Ok(index) = key.parse::<usize>() {
            positional.get(index).map(|s| s.to_string())
        } else {
            Some(
                named
                    .iter()
                    .find_map(|a| {
                        let (name, value) = named_argument(a)?;
                        (name == key).then(|| value.to_owned())
                    })
                    .unwrap_or(key),
            )
        };
        out.push(expression.unwrap_or_else(|| format!("<missing argument for {{{inner}}}>")));
    }
    out
}

/// Every `format!` in `source` outside line comments.
fn format_uses(source: &str) -> Vec<FormatUse> {
    let mut uses = Vec::new();
    let mut from = 0;
    while let Some(found) = source[from..].find("format!(") {
        let start = from + found;
        from = start + "format!(".len();
        let line_start = source[..start].rfind('\n').map_or(0, |i| i + 1);
        if source[line_start..start].contains("//") {
            continue;
        }
        let line = source[..start].matches('\n').count() + 1;
        let body = source[from..].trim_start();
        let Some((template, used)) = string_literal(body) else {
            uses.push(FormatUse {
                line,
                template: "<not a string literal>".into(),
                interpolated: vec!["<unknown>".into()],
            });
            continue;
        };
        let after = body[used..].trim_start();
        let args = after
            .strip_prefix(',')
            .map(macro_arguments)
            .unwrap_or_default();
        let interpolated = interpolations(&template, &args);
        uses.push(FormatUse {
            line,
            template,
            interpolated,
        });
    }
    uses
}

/// What is wrong with the `format!`s of one file: uses that interpolate more than constants
/// and are not reviewed. Also returns which reviewed entries were seen.
fn unreviewed(source: &str) -> (Vec<FormatUse>, Vec<usize>) {
    let mut bad = Vec::new();
    let mut seen = Vec::new();
    for u in format_uses(source) {
        let variable: Vec<&str> = u
            .interpolated
            .iter()
            .map(String::as_str)
            .filter(|e| !SQL_CONSTANTS.contains(e))
            .collect();
        if variable.is_empty() {
            continue;
        }
        let reviewed = REVIEWED
            .iter()
            .position(|(template, exprs, _)| *template == u.template && *exprs == variable);
        match reviewed {
            Some(index) => seen.push(index),
            None => bad.push(u),
        }
    }
    (bad, seen)
}

fn postgres_sources() -> Vec<(std::path::PathBuf, String)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../store/src/postgres");
    let mut files = Vec::new();
    let mut pending = vec![dir.clone()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                files.push((path, text));
            }
        }
    }
    // The module file of the backend sits beside the directory in some layouts.
    let module = dir.with_extension("rs");
    if module.exists() {
        let text = std::fs::read_to_string(&module).unwrap();
        files.push((module, text));
    }
    assert!(files.len() >= 4, "the backend's sources were not found");
    files
}

#[test]
fn every_format_in_the_postgres_backend_interpolates_only_constants_or_is_reviewed() {
    let mut problems = Vec::new();
    let mut seen = Vec::new();
    for (path, source) in postgres_sources() {
        let (bad, used) = unreviewed(&source);
        seen.extend(used);
        for u in bad {
            problems.push(format!(
                "{}:{}: format!({:?}) interpolates {:?}",
                path.display(),
                u.line,
                u.template,
                u.interpolated
            ));
        }
        for (number, line) in source.lines().enumerate() {
            if line.trim_start().starts_with("//") {
                continue;
            }
            for pattern in UNFOLLOWED {
                if line.contains(pattern) {
                    problems.push(format!(
                        "{}:{}: {pattern} builds a string the scan does not follow",
                        path.display(),
                        number + 1
                    ));
                }
            }
        }
    }
    assert!(
        problems.is_empty(),
        "SQL may only be built from constants and placeholders; review these and add them \
         to REVIEWED with a reason, or use a bind parameter:\n{}",
        problems.join("\n")
    );
    // A reviewed entry nothing uses any more is dropped, so the list stays a true account.
    for (index, (template, _, _)) in REVIEWED.iter().enumerate() {
        assert!(
            seen.contains(&index),
            "REVIEWED entry {template:?} matches no format! any more; remove it"
        );
    }
}

#[test]
fn the_scan_catches_values_formatted_into_sql() {
    let source = r####"
        let a = format!("SELECT {EVENT_COLUMNS} FROM events WHERE x = $1");
        let b = format!("SELECT * FROM events WHERE client_id = '{client}'");
        let c = format!(r#"DROP TABLE {}"#, table_name);
        let d = format!(
            "SELECT {EVENT_COLUMNS} FROM events \
             WHERE stream_id = '{stream}'",
            stream = input.stream
        );
        let e = format!("{}", EVENT_COLUMNS);
        let f = format!("x {0} {0}", COPY_COLUMNS);
        // let g = format!("{not_code}");
        let h = format!("{{literal braces}} {NOTIFY_CHANNEL}");
    "####;
    let uses = format_uses(source);
    assert_eq!(uses.len(), 7, "{uses:#?}");
    let (bad, _) = unreviewed(source);
    let flagged: Vec<Vec<String>> = bad.into_iter().map(|u| u.interpolated).collect();
    assert_eq!(
        flagged,
        vec![
            vec!["client".to_owned()],
            vec!["table_name".to_owned()],
            vec!["EVENT_COLUMNS".to_owned(), "input.stream".to_owned()],
        ]
    );
}

/// The read models a client reader can use: its own client's published reports, behind the
/// same row-level security as its events; never another client's, and never writable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_reader_sees_its_own_published_read_models_only() {
    let ledger = seeded().await;
    for (client, body) in [("acme", r#"{"offered":5}"#), ("globex", r#"{"offered":3}"#)] {
        ledger
            .owner
            .publish_read_model(&opsledger_store::ClientReadModel {
                client_id: client.to_owned(),
                name: "sla/2026-10".to_owned(),
                next_position: ALL_EVENTS,
                body: body.to_owned(),
            })
            .await
            .unwrap();
    }
    let (_, acme) = login(
        &ledger.url,
        "acme_models",
        RoleKind::ClientReader {
            client_id: "acme".into(),
        },
    )
    .await;
    let client = raw(&acme).await;
    let rows = client
        .query("SELECT client_id, body FROM client_read_models", &[])
        .await
        .unwrap();
    let seen: Vec<(String, String)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    assert_eq!(
        seen,
        vec![("acme".to_owned(), r#"{"offered":5}"#.to_owned())]
    );
    // Through the store as well: asking for another client's models gives nothing.
    let reader = opsledger_store::PgStore::connect_read_only_with(acme.clone())
        .await
        .unwrap();
    assert_eq!(reader.client_read_models("acme").await.unwrap().len(), 1);
    assert!(reader
        .client_read_models("globex")
        .await
        .unwrap()
        .is_empty());
    all_refused(
        &client,
        "a client reader",
        &[
            "INSERT INTO client_read_models (client_id, name, next_position, body) VALUES ('acme', 'x', 0, '{}')",
            "UPDATE client_read_models SET body = '{}'",
            "DELETE FROM client_read_models",
        ],
    )
    .await;
    // The auditor reads every client's.
    let (_, auditor) = login(&ledger.url, "audit_models", RoleKind::Auditor).await;
    assert_eq!(
        count(
            &raw(&auditor).await,
            "SELECT count(*) FROM client_read_models"
        )
        .await,
        2
    );
}

/// Inserts one well-formed row as `client`'s role at `position` with `prev_hash` and a hash
/// of 32 zero bytes.
async fn insert_row(
    client: &Client,
    position: u64,
    prev_hash: &[u8],
) -> Result<u64, tokio_postgres::Error> {
    let position = i64::try_from(position).unwrap();
    client
        .execute(
            "INSERT INTO events (global_position, event_id, stream_id, category, stream_version, \
             event_type, schema_version, client_id, occurred_at, recorded_at, data, prev_hash, \
             hash) VALUES ($1, gen_random_uuid(), $4, 'call', 0, \
             'call.connected', 1, 'acme', now(), now(), '{}', $2, $3)",
            &[
                &position,
                &prev_hash,
                &&[0_u8; 32][..],
                &format!("call-planted-{position}"),
            ],
        )
        .await
}

/// Issue 12, finding 7: the writer role planted a row at head+1 that verify counted and the
/// next append collided with. Rows can now only continue the log at the head, linked to it,
/// and they move the head with them; a row whose contents do not match its hash (SQL cannot
/// compute BLAKE3) is named by verify at its position.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_writer_cannot_insert_rows_outside_the_append_path() {
    let ledger = seeded().await;
    let (_, config) = login(&ledger.url, "writer", RoleKind::Writer).await;
    let client = raw(&config).await;
    let head = ledger.owner.head().await.unwrap().unwrap();
    let next = head.position + 1;
    for (position, prev_hash, what, code) in [
        (
            next,
            [0_u8; 32],
            "at the head, not linked to it",
            SqlState::INSUFFICIENT_PRIVILEGE,
        ),
        (
            next + 1,
            head.hash.0,
            "one past the head",
            SqlState::INSUFFICIENT_PRIVILEGE,
        ),
        (
            1_000_000,
            head.hash.0,
            "far past the head",
            SqlState::INSUFFICIENT_PRIVILEGE,
        ),
        (
            head.position,
            head.hash.0,
            "over the last event",
            SqlState::UNIQUE_VIOLATION,
        ),
    ] {
        let err = insert_row(&client, position, &prev_hash)
            .await
            .expect_err(what);
        assert_eq!(err.code(), Some(&code), "{what}: {err:?}");
    }
    // Two rows in one statement must be contiguous too.
    let err = client
        .execute(
            "INSERT INTO events SELECT p, gen_random_uuid(), 'call-pair-' || p::text, category, 0, \
             event_type, schema_version, client_id, occurred_at, recorded_at, correlation_id, \
             causation_id, actor, source, data, $2, hash \
             FROM events, unnest(ARRAY[$1::int8, $1::int8 + 2]) AS p WHERE global_position = 0",
            &[&i64::try_from(next).unwrap(), &&head.hash.0[..]],
        )
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        Some(&SqlState::INSUFFICIENT_PRIVILEGE),
        "{err:?}"
    );
    assert_eq!(
        count(&client, "SELECT count(*) FROM events").await,
        i64::try_from(ALL_EVENTS).unwrap()
    );
    // Nothing was planted, so the ledger verifies and takes appends as before.
    let store = PgStore::connect_with(config.clone()).await.unwrap();
    assert!(store
        .verify(PositionRange::default())
        .await
        .unwrap()
        .is_intact());
    store
        .append(
            &StreamId::parse("call-after").unwrap(),
            ExpectedVersion::NoStream,
            vec![event(500, Some("acme"))],
        )
        .await
        .unwrap();
    let head = store.head().await.unwrap().unwrap();
    assert_eq!(head.position, ALL_EVENTS);

    // A row that continues the log and links to the head is taken, and moves the head: its
    // contents cannot be checked against its hash in SQL, so verify names it.
    insert_row(&client, head.position + 1, &head.hash.0)
        .await
        .unwrap();
    assert_eq!(
        store.head().await.unwrap().unwrap().position,
        head.position + 1
    );
    match store.verify(PositionRange::default()).await.unwrap() {
        VerifyReport::Broken {
            position,
            reason: ChainBreak::HashMismatch { .. },
            ..
        } => assert_eq!(position, head.position + 1),
        other => panic!("a forged row went unnamed: {other:?}"),
    }
}

/// The advisory lock key migrations took before migration 8, which any role may take.
const OLD_MIGRATION_LOCK_KEY: i64 = 0x6f70_736c_6467_0001;

/// Issue 12, finding 6: a client reader holding the migration's advisory lock froze every
/// writer and owner, since each connect took it. Connecting to a current schema now takes no
/// lock, and a migration locks a table no role but the owner can touch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_reader_cannot_freeze_writers_through_the_migration_lock() {
    let ledger = seeded().await;
    let (_, reader) = login(
        &ledger.url,
        "lockr",
        RoleKind::ClientReader {
            client_id: "acme".into(),
        },
    )
    .await;
    let (_, writer) = login(&ledger.url, "lockw", RoleKind::Writer).await;
    let holder = raw(&reader).await;
    holder
        .execute("SELECT pg_advisory_lock($1)", &[&OLD_MIGRATION_LOCK_KEY])
        .await
        .unwrap();
    let within = std::time::Duration::from_secs(10);
    let store = tokio::time::timeout(within, PgStore::connect_with(writer.clone()))
        .await
        .expect("the writer's connect hung behind the reader's lock")
        .unwrap();
    tokio::time::timeout(
        within,
        store.append(
            &StreamId::parse("call-lock").unwrap(),
            ExpectedVersion::NoStream,
            vec![event(700, Some("acme"))],
        ),
    )
    .await
    .expect("the append hung behind the reader's lock")
    .unwrap();
    tokio::time::timeout(within, PgStore::connect(&ledger.url))
        .await
        .expect("the owner's connect hung behind the reader's lock")
        .unwrap();
    // The lock migrations take now is on a table the reader (and the writer) cannot lock.
    for config in [&reader, &writer] {
        let client = raw(config).await;
        all_refused(
            &client,
            "a non-owner",
            &["BEGIN; LOCK TABLE opsledger_migration_lock IN ACCESS SHARE MODE"],
        )
        .await;
    }
}

/// Issue 12, finding 6: what else a client reader (and an auditor, and the writer) could do
/// with its login.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_lose_temp_tables_large_objects_statistics_and_other_databases() {
    let ledger = seeded().await;
    let other = seeded().await;
    let (reader_name, reader) = login(
        &ledger.url,
        "privr",
        RoleKind::ClientReader {
            client_id: "acme".into(),
        },
    )
    .await;
    let (auditor_name, auditor) = login(&ledger.url, "priva", RoleKind::Auditor).await;
    let (writer_name, writer) = login(&ledger.url, "privw", RoleKind::Writer).await;
    for (who, config) in [
        ("a client reader", &reader),
        ("an auditor", &auditor),
        ("the writer", &writer),
    ] {
        let client = raw(config).await;
        all_refused(
            &client,
            who,
            &[
                "CREATE TEMP TABLE planted (x int)",
                "SELECT lo_create(0)",
                "SELECT lo_creat(-1)",
                "SELECT lo_from_bytea(0, '\\x00')",
                "SELECT n_live_tup FROM pg_stat_user_tables WHERE relname = 'events'",
                "SELECT n_tup_ins FROM pg_stat_all_tables WHERE relname = 'events'",
                "SELECT pg_stat_get_live_tuples('events'::regclass)",
                "SELECT pg_stat_get_tuples_inserted('events'::regclass)",
                "SELECT reltuples FROM pg_class WHERE relname = 'events'",
                "SELECT relpages FROM pg_class WHERE relname = 'events'",
                "SELECT pg_advisory_lock(1); LOCK TABLE opsledger_migration_lock",
            ],
        )
        .await;
        client
            .batch_execute("SELECT pg_advisory_unlock_all()")
            .await
            .unwrap();
        // Catalog lookups the roles need still work.
        assert_eq!(
            count(
                &client,
                "SELECT count(*) FROM pg_class WHERE relname = 'events'"
            )
            .await,
            1
        );
    }
    // Another ledger database on the same server refuses both logins outright.
    for name in [&reader_name, &auditor_name, &writer_name] {
        let mut elsewhere: Config = other.url.parse().unwrap();
        elsewhere.user(name);
        let err = elsewhere.connect(NoTls).await.map(|_| ()).unwrap_err();
        assert_eq!(
            err.code(),
            Some(&SqlState::INSUFFICIENT_PRIVILEGE),
            "{name}: {err:?}"
        );
    }
    // PostgreSQL lets every role set its own session defaults (`ALTER ROLE … SET`), and no
    // grant takes that away; what is checked is that no such default widens what it sees.
    let client = raw(&reader).await;
    client
        .batch_execute("ALTER ROLE CURRENT_USER SET row_security = off")
        .await
        .unwrap();
    let again = raw(&reader).await;
    all_refused(&again, "a client reader", &["SELECT count(*) FROM events"]).await;
    again.batch_execute("SET row_security = on").await.unwrap();
    assert_eq!(
        count(&again, "SELECT count(*) FROM events").await,
        i64::try_from(ACME_EVENTS).unwrap()
    );
}
