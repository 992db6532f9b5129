//! The PostgreSQL schema as an ordered list of migrations, applied on connect.
//!
//! A migration is never edited once released; a change is a new migration appended to
//! [`MIGRATIONS`]. The events table refuses UPDATE, DELETE and TRUNCATE through triggers, so
//! even the owning role cannot rewrite history by mistake (a superuser can still disable the
//! triggers, which is why the hash chain exists).

use deadpool_postgres::Object;
use tokio_postgres::GenericClient;

use crate::error::StoreError;

/// One schema migration.
#[derive(Debug)]
pub struct Migration {
    pub version: u32,
    pub description: &'static str,
    pub sql: &'static str,
}

/// Arbitrary but fixed key for the advisory lock that serializes the migrations of a database
/// that has no `opsledger_migration_lock` table yet (before migration 8).
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
    Migration {
        version: 3,
        description: "per-client data keys for crypto-shredding",
        // Keys live in their own table so that grants can keep them from every role but the
        // writer (ADR 0004, ADR 0005). A destroyed row keeps its client id with a NULL key, so a
        // key can never be created for that client again; the triggers make that final.
        sql: r#"
CREATE TABLE data_keys (
    client_id        text PRIMARY KEY,
    key              bytea CHECK (key IS NULL OR length(key) = 32),
    created_at       timestamptz NOT NULL DEFAULT now(),
    destroyed_at     timestamptz,
    destroyed_reason text,
    CHECK ((key IS NULL) = (destroyed_at IS NOT NULL))
);
REVOKE ALL ON data_keys FROM PUBLIC;

CREATE FUNCTION opsledger_data_key_destroy_only() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        IF OLD.destroyed_at IS NULL AND NEW.key IS NULL THEN
            RETURN NEW;
        END IF;
    END IF;
    RAISE EXCEPTION 'opsledger: % on data_keys is refused; a data key can only be destroyed, once', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$fn$;
CREATE TRIGGER data_keys_destroy_only BEFORE UPDATE OR DELETE ON data_keys
    FOR EACH ROW EXECUTE FUNCTION opsledger_data_key_destroy_only();
CREATE TRIGGER data_keys_refuse_truncate BEFORE TRUNCATE ON data_keys
    FOR EACH STATEMENT EXECUTE FUNCTION opsledger_data_key_destroy_only();
"#,
    },
    Migration {
        version: 4,
        description: "database roles: writer, auditor, client reader (row-level security)",
        // Access scoped to the client (R-RET-4) is enforced by the database, not by the
        // application: see docs/adr/0005-database-roles.md for the roles and their grants.
        sql: r#"
DO $roles$
DECLARE
    group_role text;
BEGIN
    -- Roles belong to the cluster, this migration to one database: each group role is
    -- created only when missing. Two databases migrating at once may both find it missing;
    -- the second CREATE then fails as a duplicate, which is what "already there" means.
    FOREACH group_role IN ARRAY ARRAY['opsledger_writer', 'opsledger_auditor', 'opsledger_client_reader'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = group_role) THEN
            BEGIN
                EXECUTE format('CREATE ROLE %I NOLOGIN', group_role);
            EXCEPTION WHEN duplicate_object OR unique_violation THEN
                NULL;
            END;
        END IF;
    END LOOP;
END
$roles$;

CREATE TABLE client_readers (
    role_name name PRIMARY KEY,
    client_id text NOT NULL CHECK (octet_length(client_id) BETWEEN 1 AND 128)
);

REVOKE ALL ON events, ledger_head, projections, schema_migrations, data_keys, client_readers FROM PUBLIC;

GRANT SELECT, INSERT ON events TO opsledger_writer;
GRANT SELECT, UPDATE (next_position, head_hash, last_recorded_at) ON ledger_head TO opsledger_writer;
GRANT SELECT, INSERT, UPDATE (next_position, state, saved_at) ON projections TO opsledger_writer;
GRANT SELECT, INSERT, UPDATE (key, destroyed_at, destroyed_reason) ON data_keys TO opsledger_writer;
GRANT SELECT ON schema_migrations TO opsledger_writer, opsledger_auditor, opsledger_client_reader;
GRANT SELECT ON events, ledger_head, projections, client_readers TO opsledger_auditor;
GRANT SELECT ON events, client_readers TO opsledger_client_reader;

-- The owner (the role that ran the migrations) bypasses these policies: it owns the tables
-- and could disable them anyway, so FORCE would protect nothing.
ALTER TABLE events ENABLE ROW LEVEL SECURITY;
CREATE POLICY events_writer_read ON events FOR SELECT TO opsledger_writer USING (true);
CREATE POLICY events_writer_append ON events FOR INSERT TO opsledger_writer WITH CHECK (true);
CREATE POLICY events_auditor_read ON events FOR SELECT TO opsledger_auditor USING (true);
CREATE POLICY events_client_reader_read ON events FOR SELECT TO opsledger_client_reader
    USING (client_id = (SELECT c.client_id FROM client_readers c WHERE c.role_name = current_user));

ALTER TABLE client_readers ENABLE ROW LEVEL SECURITY;
CREATE POLICY client_readers_own_row ON client_readers FOR SELECT TO opsledger_client_reader
    USING (role_name = current_user);
CREATE POLICY client_readers_auditor_read ON client_readers FOR SELECT TO opsledger_auditor
    USING (true);

REVOKE EXECUTE ON FUNCTION opsledger_refuse_change(), opsledger_head_forward_only(),
    opsledger_data_key_destroy_only() FROM PUBLIC;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;

CREATE FUNCTION opsledger_create_login_role(
    new_role text, role_kind text, password_verifier text, for_client text
) RETURNS void LANGUAGE plpgsql SET search_path FROM CURRENT AS $fn$
DECLARE
    group_role text;
BEGIN
    IF new_role IS NULL OR new_role !~ '^[a-z_][a-z0-9_]{0,62}$' OR left(new_role, 3) = 'pg_'
        OR new_role IN ('opsledger_writer', 'opsledger_auditor', 'opsledger_client_reader',
                        'public', 'none', 'current_user', 'session_user', 'current_role') THEN
        RAISE EXCEPTION 'opsledger: % is not an allowed login role name', quote_literal(new_role)
            USING ERRCODE = 'invalid_name';
    END IF;
    group_role := CASE role_kind
        WHEN 'writer' THEN 'opsledger_writer'
        WHEN 'auditor' THEN 'opsledger_auditor'
        WHEN 'client_reader' THEN 'opsledger_client_reader'
    END;
    IF group_role IS NULL THEN
        RAISE EXCEPTION 'opsledger: unknown role kind %', quote_literal(role_kind)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF (role_kind = 'client_reader') <> (for_client IS NOT NULL) THEN
        RAISE EXCEPTION 'opsledger: a client id is required for a client reader and refused otherwise'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF password_verifier IS NULL OR password_verifier !~
        '^SCRAM-SHA-256\$[0-9]+:[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+$' THEN
        RAISE EXCEPTION 'opsledger: the password must arrive as a SCRAM-SHA-256 verifier'
            USING ERRCODE = 'invalid_password';
    END IF;
    EXECUTE format('CREATE ROLE %I LOGIN PASSWORD %L IN ROLE %I',
                   new_role, password_verifier, group_role);
    -- A mapping left by a dropped role of the same name must not carry over to this one.
    DELETE FROM client_readers WHERE role_name = new_role;
    IF for_client IS NOT NULL THEN
        INSERT INTO client_readers (role_name, client_id) VALUES (new_role, for_client);
    END IF;
END
$fn$;
REVOKE EXECUTE ON FUNCTION opsledger_create_login_role(text, text, text, text) FROM PUBLIC;
"#,
    },
    Migration {
        version: 5,
        description: "read models published per client, scoped like the events",
        // A client reader may not read the projection snapshot (it holds every client), so
        // each client's reports are published here, behind the same row-level security as
        // its events.
        sql: r#"
CREATE TABLE client_read_models (
    client_id     text NOT NULL,
    name          text NOT NULL,
    next_position bigint NOT NULL CHECK (next_position >= 0),
    body          text NOT NULL,
    saved_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (client_id, name)
);
GRANT SELECT, INSERT, UPDATE (next_position, body, saved_at) ON client_read_models TO opsledger_writer;
GRANT SELECT ON client_read_models TO opsledger_auditor, opsledger_client_reader;
ALTER TABLE client_read_models ENABLE ROW LEVEL SECURITY;
CREATE POLICY client_read_models_writer_read ON client_read_models FOR SELECT TO opsledger_writer USING (true);
CREATE POLICY client_read_models_writer_insert ON client_read_models FOR INSERT TO opsledger_writer WITH CHECK (true);
CREATE POLICY client_read_models_writer_update ON client_read_models FOR UPDATE TO opsledger_writer USING (true) WITH CHECK (true);
CREATE POLICY client_read_models_auditor_read ON client_read_models FOR SELECT TO opsledger_auditor USING (true);
CREATE POLICY client_read_models_client_reader_read ON client_read_models FOR SELECT TO opsledger_client_reader
    USING (client_id = (SELECT c.client_id FROM client_readers c WHERE c.role_name = current_user));
"#,
    },
    Migration {
        version: 6,
        description: "rows continue the log at the head and move it",
        // The writer role holds INSERT on events, so without this it could plant a row past
        // the head that verify did not look at and the next append collided with (issue 12).
        // Every INSERT or COPY into events must now continue the log exactly at the head,
        // contiguous and linked to the head hash, and moves the head with it, under the head
        // row lock; no row can exist past the head. What SQL cannot check is the BLAKE3 hash
        // of a row's contents: verify names a row whose hash does not match.
        sql: r#"
CREATE FUNCTION opsledger_events_continue_head() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
    head_next   bigint;
    head_digest bytea;
    rows_new    bigint;
    first_new   bigint;
    last_new    bigint;
    unlinked    bigint;
BEGIN
    SELECT count(*), min(global_position), max(global_position)
        INTO rows_new, first_new, last_new FROM opsledger_new_events;
    IF rows_new = 0 THEN
        RETURN NULL;
    END IF;
    SELECT next_position, head_hash INTO head_next, head_digest
        FROM ledger_head WHERE id = 1 FOR UPDATE;
    IF first_new <> head_next OR last_new - first_new + 1 <> rows_new THEN
        RAISE EXCEPTION 'opsledger: events are appended at the head only: % row(s) at positions % to % do not continue the log at position %',
            rows_new, first_new, last_new, head_next
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    SELECT count(*) INTO unlinked FROM (
        SELECT prev_hash,
               coalesce(lag(hash) OVER (ORDER BY global_position), head_digest) AS before
        FROM opsledger_new_events
    ) AS links WHERE prev_hash IS DISTINCT FROM before;
    IF unlinked > 0 THEN
        RAISE EXCEPTION 'opsledger: % row(s) at positions % to % do not link to the hash chain at the head',
            unlinked, first_new, last_new
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    UPDATE ledger_head
        SET next_position = last_new + 1, head_hash = n.hash, last_recorded_at = n.recorded_at
        FROM opsledger_new_events n
        WHERE ledger_head.id = 1 AND n.global_position = last_new;
    RETURN NULL;
END
$fn$;
CREATE TRIGGER events_continue_head AFTER INSERT ON events
    REFERENCING NEW TABLE AS opsledger_new_events
    FOR EACH STATEMENT EXECUTE FUNCTION opsledger_events_continue_head();
REVOKE EXECUTE ON FUNCTION opsledger_events_continue_head() FROM PUBLIC;
"#,
    },
    Migration {
        version: 7,
        description: "autovacuum takes data_keys after every destroyed key",
        // Destroying a key leaves the old row version, key bytes included, in the heap until
        // a vacuum. Only the owner may vacuum, and the default thresholds (50 rows plus 20%)
        // would never fire on a table of a few hundred clients; with both at zero, autovacuum
        // takes the table within its naptime after any destruction, whoever destroyed it.
        sql: r#"
ALTER TABLE data_keys SET (autovacuum_vacuum_threshold = 0, autovacuum_vacuum_scale_factor = 0);
"#,
    },
    Migration {
        version: 8,
        description: "least privilege: migration lock, CONNECT per login role, no TEMP, large objects or row counts",
        // Issue 12, finding 6; docs/trust.md says what each line takes away and what
        // PostgreSQL cannot. Migrations lock `opsledger_migration_lock`, which no role but the
        // owner may touch (an advisory lock can be held by any role). CONNECT and TEMPORARY on
        // this database are taken from PUBLIC; each login role is granted CONNECT here when
        // it is created, and those that exist keep it. Large object creation, the statistics
        // views and functions that count rows, and pg_class's size columns are taken from
        // PUBLIC when a superuser migrates (only a superuser may change grants on the system
        // catalogs); otherwise a NOTICE says so.
        sql: r#"
CREATE TABLE opsledger_migration_lock (id smallint PRIMARY KEY CHECK (id = 1));
REVOKE ALL ON opsledger_migration_lock FROM PUBLIC;

DO $privileges$
DECLARE
    login_role name;
    stat_function regprocedure;
BEGIN
    EXECUTE format('REVOKE CONNECT, TEMPORARY ON DATABASE %I FROM PUBLIC', current_database());
    FOR login_role IN
        SELECT r.rolname FROM pg_catalog.pg_auth_members m
            JOIN pg_catalog.pg_roles g ON g.oid = m.roleid
            JOIN pg_catalog.pg_roles r ON r.oid = m.member
            WHERE g.rolname IN ('opsledger_writer', 'opsledger_auditor') AND r.rolcanlogin
        UNION
        SELECT r.rolname FROM client_readers c JOIN pg_catalog.pg_roles r ON r.rolname = c.role_name
    LOOP
        EXECUTE format('GRANT CONNECT ON DATABASE %I TO %I', current_database(), login_role);
    END LOOP;

    IF NOT (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user) THEN
        RAISE NOTICE 'opsledger: migrated by a role that is not a superuser, so every role may still create large objects and read row counts in statistics; see docs/trust.md';
        RETURN;
    END IF;
    REVOKE EXECUTE ON FUNCTION pg_catalog.lo_create(oid), pg_catalog.lo_creat(integer),
        pg_catalog.lo_from_bytea(oid, bytea), pg_catalog.lo_import(text),
        pg_catalog.lo_import(text, oid) FROM PUBLIC;
    REVOKE SELECT ON pg_catalog.pg_stat_all_tables, pg_catalog.pg_stat_user_tables,
        pg_catalog.pg_stat_sys_tables, pg_catalog.pg_stat_xact_all_tables,
        pg_catalog.pg_stat_xact_user_tables, pg_catalog.pg_stat_xact_sys_tables,
        pg_catalog.pg_statio_all_tables, pg_catalog.pg_statio_user_tables,
        pg_catalog.pg_statio_sys_tables, pg_catalog.pg_stat_all_indexes,
        pg_catalog.pg_stat_user_indexes, pg_catalog.pg_statio_all_indexes,
        pg_catalog.pg_statio_user_indexes FROM PUBLIC;
    GRANT SELECT ON pg_catalog.pg_stat_all_tables, pg_catalog.pg_stat_user_tables,
        pg_catalog.pg_stat_sys_tables, pg_catalog.pg_stat_xact_all_tables,
        pg_catalog.pg_stat_xact_user_tables, pg_catalog.pg_stat_xact_sys_tables,
        pg_catalog.pg_statio_all_tables, pg_catalog.pg_statio_user_tables,
        pg_catalog.pg_statio_sys_tables, pg_catalog.pg_stat_all_indexes,
        pg_catalog.pg_stat_user_indexes, pg_catalog.pg_statio_all_indexes,
        pg_catalog.pg_statio_user_indexes TO pg_read_all_stats;
    FOR stat_function IN
        SELECT p.oid::regprocedure FROM pg_catalog.pg_proc p
            WHERE p.proname LIKE 'pg\_stat\_get\_%' AND p.pronargs = 1
              AND p.proargtypes[0] = 'oid'::regtype
    LOOP
        EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', stat_function);
        EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO pg_read_all_stats', stat_function);
    END LOOP;
    REVOKE SELECT ON pg_catalog.pg_class FROM PUBLIC;
    EXECUTE (
        SELECT format('GRANT SELECT (%s) ON pg_catalog.pg_class TO PUBLIC',
                      string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum))
        FROM pg_catalog.pg_attribute a
        WHERE a.attrelid = 'pg_catalog.pg_class'::regclass AND a.attnum > 0
          AND NOT a.attisdropped AND a.attname NOT IN ('reltuples', 'relpages', 'relallvisible')
    );
    GRANT SELECT ON pg_catalog.pg_class TO pg_read_all_stats;
END
$privileges$;

CREATE OR REPLACE FUNCTION opsledger_create_login_role(
    new_role text, role_kind text, password_verifier text, for_client text
) RETURNS void LANGUAGE plpgsql SET search_path FROM CURRENT AS $fn$
DECLARE
    group_role text;
BEGIN
    IF new_role IS NULL OR new_role !~ '^[a-z_][a-z0-9_]{0,62}$' OR left(new_role, 3) = 'pg_'
        OR new_role IN ('opsledger_writer', 'opsledger_auditor', 'opsledger_client_reader',
                        'public', 'none', 'current_user', 'session_user', 'current_role') THEN
        RAISE EXCEPTION 'opsledger: % is not an allowed login role name', quote_literal(new_role)
            USING ERRCODE = 'invalid_name';
    END IF;
    group_role := CASE role_kind
        WHEN 'writer' THEN 'opsledger_writer'
        WHEN 'auditor' THEN 'opsledger_auditor'
        WHEN 'client_reader' THEN 'opsledger_client_reader'
    END;
    IF group_role IS NULL THEN
        RAISE EXCEPTION 'opsledger: unknown role kind %', quote_literal(role_kind)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF (role_kind = 'client_reader') <> (for_client IS NOT NULL) THEN
        RAISE EXCEPTION 'opsledger: a client id is required for a client reader and refused otherwise'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF password_verifier IS NULL OR password_verifier !~
        '^SCRAM-SHA-256\$[0-9]+:[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+$' THEN
        RAISE EXCEPTION 'opsledger: the password must arrive as a SCRAM-SHA-256 verifier'
            USING ERRCODE = 'invalid_password';
    END IF;
    EXECUTE format('CREATE ROLE %I LOGIN PASSWORD %L IN ROLE %I',
                   new_role, password_verifier, group_role);
    -- CONNECT is granted per login role on this ledger's database only (migration 8).
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO %I', current_database(), new_role);
    -- A mapping left by a dropped role of the same name must not carry over to this one.
    DELETE FROM client_readers WHERE role_name = new_role;
    IF for_client IS NOT NULL THEN
        INSERT INTO client_readers (role_name, client_id) VALUES (new_role, for_client);
    END IF;
END
$fn$;
"#,
    },
    Migration {
        version: 9,
        description: "read-model fact rows per client, written only by the projector",
        // One row per event, keyed by its position (docs/adr/0006-read-model-facts.md). Only
        // the owner (the projector, which ran this migration) writes them: the writer role
        // records events but cannot make a report say something the log does not. Readers see
        // them under the same row-level security as the events, plus the agency-wide rows
        // (client_id NULL) every client's reports need.
        sql: r#"
CREATE TABLE rm_fact (
    position    bigint PRIMARY KEY CHECK (position >= 0),
    event_id    uuid NOT NULL,
    client_id   text,
    area        text NOT NULL,
    entity      text NOT NULL,
    kind        text NOT NULL,
    occurred_at timestamptz NOT NULL,
    recorded_at timestamptz NOT NULL,
    body        text NOT NULL
);
CREATE INDEX rm_fact_client_idx ON rm_fact (client_id, position);
CREATE INDEX rm_fact_entity_idx ON rm_fact (entity, position);
CREATE TABLE rm_checkpoint (
    id            integer PRIMARY KEY CHECK (id = 0),
    next_position bigint NOT NULL CHECK (next_position >= 0),
    version       integer NOT NULL CHECK (version >= 0),
    saved_at      timestamptz NOT NULL DEFAULT now()
);
REVOKE ALL ON rm_fact, rm_checkpoint FROM PUBLIC;
GRANT SELECT ON rm_fact, rm_checkpoint TO opsledger_writer, opsledger_auditor, opsledger_client_reader;
ALTER TABLE rm_fact ENABLE ROW LEVEL SECURITY;
CREATE POLICY rm_fact_writer_read ON rm_fact FOR SELECT TO opsledger_writer USING (true);
CREATE POLICY rm_fact_auditor_read ON rm_fact FOR SELECT TO opsledger_auditor USING (true);
CREATE POLICY rm_fact_client_reader_read ON rm_fact FOR SELECT TO opsledger_client_reader
    USING (client_id IS NULL
        OR client_id = (SELECT c.client_id FROM client_readers c WHERE c.role_name = current_user));
"#,
    },
    Migration {
        version: 10,
        description: "read-model period index: client, area, occurred-at",
        // A monthly report finds the entities of the high-volume areas (calls) with a fact in
        // its month, and reads the client's small standing areas, through this index instead
        // of every row the client has (docs/adr/0006-read-model-facts.md).
        sql: r#"
CREATE INDEX rm_fact_period_idx ON rm_fact (client_id, area, occurred_at);
"#,
    },
    Migration {
        version: 11,
        description: "the desk: users, tokens, sessions and the hash-chained read audit",
        // docs/adr/0007-desk-access.md. Apart from `events`: the access log records reads,
        // not facts of the operations, and must grow with every request without touching the
        // event chain. It is append-only through triggers, like `events`, and chained through
        // its own head row, which serialises appends as `ledger_head` does. Users and tokens
        // are disabled or revoked, never deleted. Only the writer (the serving process) and
        // the owner write here; auditors read the access log; client readers get nothing.
        sql: r#"
CREATE TABLE desk_users (
    name          text PRIMARY KEY CHECK (name ~ '^[a-z_][a-z0-9_]{0,62}$'),
    role          text NOT NULL,
    client_id     text CHECK (client_id IS NULL OR octet_length(client_id) BETWEEN 1 AND 128),
    password_hash text NOT NULL,
    created_at    timestamptz NOT NULL,
    disabled_at   timestamptz
);
CREATE TABLE desk_tokens (
    id          text PRIMARY KEY CHECK (id ~ '^[0-9a-f]{16}$'),
    user_name   text NOT NULL REFERENCES desk_users (name),
    secret_hash bytea NOT NULL CHECK (length(secret_hash) = 32),
    created_at  timestamptz NOT NULL,
    revoked_at  timestamptz
);
CREATE TABLE desk_sessions (
    id_hash    bytea PRIMARY KEY CHECK (length(id_hash) = 32),
    user_name  text NOT NULL REFERENCES desk_users (name),
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE TABLE access_log (
    seq       bigint PRIMARY KEY CHECK (seq >= 0),
    at        timestamptz NOT NULL,
    user_name text NOT NULL,
    role      text NOT NULL,
    client_id text,
    query     text NOT NULL,
    rows      bigint NOT NULL CHECK (rows >= 0),
    prev_hash bytea NOT NULL CHECK (length(prev_hash) = 32),
    hash      bytea NOT NULL CHECK (length(hash) = 32)
);
CREATE INDEX access_log_client_idx ON access_log (client_id, seq);
CREATE INDEX access_log_user_idx ON access_log (user_name, seq);
CREATE TABLE access_log_head (
    id        smallint PRIMARY KEY CHECK (id = 1),
    next_seq  bigint NOT NULL CHECK (next_seq >= 0),
    head_hash bytea NOT NULL CHECK (length(head_hash) = 32)
);
INSERT INTO access_log_head VALUES (1, 0, '\x0000000000000000000000000000000000000000000000000000000000000000');

CREATE FUNCTION opsledger_access_log_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    RAISE EXCEPTION 'opsledger: % on % is refused; the access log is append-only', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$fn$;
CREATE FUNCTION opsledger_access_head_forward_only() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    IF NEW.next_seq < OLD.next_seq THEN
        RAISE EXCEPTION 'opsledger: the access log head may only move forward (% -> %)', OLD.next_seq, NEW.next_seq
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END
$fn$;
CREATE TRIGGER access_log_refuse_update_delete BEFORE UPDATE OR DELETE ON access_log
    FOR EACH ROW EXECUTE FUNCTION opsledger_access_log_refuse_change();
CREATE TRIGGER access_log_refuse_truncate BEFORE TRUNCATE ON access_log
    FOR EACH STATEMENT EXECUTE FUNCTION opsledger_access_log_refuse_change();
CREATE TRIGGER access_log_head_refuse_delete BEFORE DELETE ON access_log_head
    FOR EACH ROW EXECUTE FUNCTION opsledger_access_log_refuse_change();
CREATE TRIGGER access_log_head_refuse_truncate BEFORE TRUNCATE ON access_log_head
    FOR EACH STATEMENT EXECUTE FUNCTION opsledger_access_log_refuse_change();
CREATE TRIGGER access_log_head_forward_only BEFORE UPDATE ON access_log_head
    FOR EACH ROW EXECUTE FUNCTION opsledger_access_head_forward_only();
CREATE TRIGGER desk_users_refuse_delete BEFORE DELETE ON desk_users
    FOR EACH ROW EXECUTE FUNCTION opsledger_access_log_refuse_change();
CREATE TRIGGER desk_tokens_refuse_delete BEFORE DELETE ON desk_tokens
    FOR EACH ROW EXECUTE FUNCTION opsledger_access_log_refuse_change();
REVOKE EXECUTE ON FUNCTION opsledger_access_log_refuse_change(), opsledger_access_head_forward_only() FROM PUBLIC;

REVOKE ALL ON desk_users, desk_tokens, desk_sessions, access_log, access_log_head FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE (disabled_at) ON desk_users TO opsledger_writer;
GRANT SELECT, INSERT, UPDATE (revoked_at) ON desk_tokens TO opsledger_writer;
GRANT SELECT, INSERT, DELETE ON desk_sessions TO opsledger_writer;
GRANT SELECT, INSERT ON access_log TO opsledger_writer;
GRANT SELECT, UPDATE (next_seq, head_hash) ON access_log_head TO opsledger_writer;
GRANT SELECT ON access_log, access_log_head TO opsledger_auditor;
"#,
    },
    Migration {
        version: 12,
        description: "the projection snapshot table is gone",
        // Migration 2's table held one snapshot of every client's folded state; the read
        // model's fact rows (migration 9, docs/adr/0006-read-model-facts.md) replaced it, and
        // nothing has read or written it since. Its grants (migration 4) go with it.
        sql: r#"
DROP TABLE IF EXISTS projections;
"#,
    },
];

/// The newest schema version this build knows.
pub fn latest_version() -> u32 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

/// The newest migration recorded in the database, 0 for a database never migrated.
async fn applied_version(client: &impl GenericClient) -> Result<u32, StoreError> {
    // Two statements: a query naming a missing table fails at parse time, whatever guards it.
    let exists: bool = client
        .query_one("SELECT to_regclass('schema_migrations') IS NOT NULL", &[])
        .await
        .map_err(super::pg_error)?
        .get(0);
    if !exists {
        return Ok(0);
    }
    let current: i32 = client
        .query_one(
            "SELECT coalesce(max(version), 0) FROM schema_migrations",
            &[],
        )
        .await
        .map_err(super::pg_error)?
        .get(0);
    Ok(u32::try_from(current).unwrap_or(0))
}

/// Checks, without changing anything, that the database is at exactly the schema version
/// this build knows: the read-only path cannot migrate, and reading an older or a newer
/// schema could misread its rows.
pub async fn check_current(client: &impl GenericClient) -> Result<(), StoreError> {
    let found = applied_version(client).await?;
    let known = latest_version();
    match found.cmp(&known) {
        std::cmp::Ordering::Equal => Ok(()),
        std::cmp::Ordering::Greater => Err(StoreError::SchemaFromTheFuture { found, known }),
        std::cmp::Ordering::Less => Err(StoreError::SchemaNotMigrated { found, known }),
    }
}

/// Applies every migration the database lacks, in one transaction, under a lock so two
/// processes starting together do not race.
///
/// A database already at this build's version is not locked at all: the writer connects
/// through here, and a lock any role could hold would let that role stall every connect
/// (issue 12). When there is something to apply, the lock is on `opsledger_migration_lock`,
/// a table no role but the owner may touch; only a database from before migration 8 (or a
/// new one) falls back to the advisory lock, until the migration creates that table.
pub async fn migrate(conn: &mut Object) -> Result<u32, StoreError> {
    let known = latest_version();
    let found = applied_version(&***conn).await?;
    if found > known {
        return Err(StoreError::SchemaFromTheFuture { found, known });
    }
    if found == known {
        return Ok(known);
    }
    let tx = conn.transaction().await.map_err(super::pg_error)?;
    let lock_table: bool = tx
        .query_one(
            "SELECT to_regclass('opsledger_migration_lock') IS NOT NULL",
            &[],
        )
        .await
        .map_err(super::pg_error)?
        .get(0);
    if lock_table {
        tx.batch_execute("LOCK TABLE opsledger_migration_lock IN EXCLUSIVE MODE")
            .await
            .map_err(super::pg_error)?;
    } else {
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK_KEY])
            .await
            .map_err(super::pg_error)?;
    }
    // The table is created only when missing, not with `CREATE TABLE IF NOT EXISTS`: that
    // statement needs CREATE on the schema even when the table exists, and the writer role
    // (docs/adr/0005-database-roles.md) connects through this function without it.
    let exists: bool = tx
        .query_one("SELECT to_regclass('schema_migrations') IS NOT NULL", &[])
        .await
        .map_err(super::pg_error)?
        .get(0);
    if !exists {
        tx.batch_execute(
            "CREATE TABLE schema_migrations (
                version integer PRIMARY KEY,
                description text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now())",
        )
        .await
        .map_err(super::pg_error)?;
    }
    let current = applied_version(&*tx).await?;
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
        let version = i32::try_from(m.version).map_err(|_| StoreError::Migration {
            version: m.version,
            detail: "the version does not fit PostgreSQL's integer".to_owned(),
        })?;
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
