//! `opsledger user`, `token` and `access-log` end to end on a ledger file: users added with a
//! password from standard input, refused role and client combinations, a token printed once
//! and revoked, the access log filtered and verified, and a tampered entry named with exit
//! status 3.

mod support;

use std::io::Write;
use std::process::Stdio;

use opsledger_app::access::{record_access, DeskLedger, DeskRole, Principal};
use opsledger_app::{FixedClock, Target};
use opsledger_domain::ids::ClientId;
use support::{bin, ok, run};

/// Runs `opsledger user add` with `password` on standard input.
fn add_user(dir: &std::path::Path, args: &[&str], password: &str) -> std::process::Output {
    let mut child = bin()
        .current_dir(dir)
        .arg("--ledger")
        .arg(dir.join("test.ledger"))
        .args(["user", "add"])
        .args(args)
        .arg("--password-stdin")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
    child.wait_with_output().unwrap()
}

fn status(out: &std::process::Output) -> Option<i32> {
    out.status.code()
}

#[test]
fn users_are_added_with_their_role_and_refused_combinations_say_why() {
    let dir = tempfile::tempdir().unwrap();
    ok(&run(dir.path(), &["init"]));
    let out = ok(&add_user(
        dir.path(),
        &["ann", "--role", "auditor"],
        "s3cret-pass",
    ));
    assert_eq!(out.trim(), "added desk user ann (auditor)");
    let out = ok(&add_user(
        dir.path(),
        &["cleo", "--role", "client-reader", "--client", "acme"],
        "s3cret-pass",
    ));
    assert_eq!(out.trim(), "added desk user cleo (client reader of acme)");
    // A client reader without a client, an auditor with one: usage errors, nothing added.
    for args in [
        &["x1", "--role", "client-reader"][..],
        &["x2", "--role", "auditor", "--client", "acme"][..],
    ] {
        assert_eq!(
            status(&add_user(dir.path(), args, "s3cret-pass")),
            Some(64),
            "{args:?}"
        );
    }
    // The same name twice: refused input.
    assert_eq!(
        status(&add_user(
            dir.path(),
            &["ann", "--role", "operator"],
            "s3cret-pass"
        )),
        Some(65)
    );
    let list = ok(&run(dir.path(), &["user", "list"]));
    assert!(list.contains("ann") && list.contains("cleo"), "{list}");
    assert!(!list.contains("x1") && !list.contains("x2"), "{list}");
    assert!(!list.contains("s3cret"), "{list}");
}

#[test]
fn a_token_is_printed_once_and_revoked_by_its_id() {
    let dir = tempfile::tempdir().unwrap();
    ok(&run(dir.path(), &["init"]));
    ok(&add_user(
        dir.path(),
        &["ann", "--role", "auditor"],
        "s3cret-pass",
    ));
    let bearer = ok(&run(dir.path(), &["token", "create", "ann"]));
    let bearer = bearer.trim();
    assert!(
        bearer.starts_with("olt_") && bearer.len() == 4 + 16 + 1 + 64,
        "{bearer}"
    );
    let id = &bearer[4..20];
    // Only a hash of the secret is in the file.
    let bytes = std::fs::read(dir.path().join("test.ledger")).unwrap();
    let secret = &bearer[21..];
    assert!(!String::from_utf8_lossy(&bytes).contains(secret));
    let out = ok(&run(dir.path(), &["token", "revoke", id]));
    assert_eq!(out.trim(), format!("revoked token {id}"));
    assert_eq!(
        status(&run(dir.path(), &["token", "create", "nobody"])),
        Some(1)
    );
}

#[test]
fn the_access_log_is_listed_filtered_and_verified() {
    let dir = tempfile::tempdir().unwrap();
    ok(&run(dir.path(), &["init"]));
    // Given two reads recorded by the desk
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let ledger = DeskLedger::open(&Target::File(dir.path().join("test.ledger")))
            .await
            .unwrap();
        let clock = FixedClock("2026-12-01T08:00:00Z".parse().unwrap());
        let cleo = Principal {
            user: "cleo".into(),
            role: DeskRole::ClientReader(ClientId::new("acme").unwrap()),
        };
        let ann = Principal {
            user: "ann".into(),
            role: DeskRole::Auditor,
        };
        let acme = ClientId::new("acme").unwrap();
        record_access(
            ledger.desk(),
            &cleo,
            Some(&acme),
            "GET /api/v1/clients/acme/head",
            1,
            &clock,
        )
        .await
        .unwrap();
        record_access(ledger.desk(), &ann, None, "GET /api/v1/clients", 5, &clock)
            .await
            .unwrap();
    });
    // When the administrator lists acme's reads, then only cleo's is shown
    let json = ok(&run(
        dir.path(),
        &["access-log", "--client", "acme", "--format", "json"],
    ));
    let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
    let entries = doc["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{json}");
    assert_eq!(entries[0]["user_name"], "cleo");
    assert_eq!(entries[0]["rows"], 1);
    let table = ok(&run(dir.path(), &["access-log"]));
    assert!(table.contains("2 entries"), "{table}");
    // and the chain verifies
    let out = ok(&run(dir.path(), &["access-log", "--verify"]));
    assert!(out.starts_with("intact: 2 access-log entries"), "{out}");
    // When the owner of the file drops the trigger and edits entry 0
    let conn = rusqlite::Connection::open(dir.path().join("test.ledger")).unwrap();
    conn.execute_batch(
        "DROP TRIGGER access_log_refuse_update;
         UPDATE access_log SET user_name = 'someone_else' WHERE seq = 0;",
    )
    .unwrap();
    drop(conn);
    // Then verify names entry 0 and exits with status 3
    let out = run(dir.path(), &["access-log", "--verify"]);
    assert_eq!(status(&out), Some(3));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.starts_with("BROKEN at access-log entry 0:"),
        "{stdout}"
    );
}

#[test]
fn on_postgresql_a_client_reader_gets_a_database_role_mapped_to_its_client() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let url = runtime.block_on(opsledger_tests::pg::server().fresh_database());
    let dir = tempfile::tempdir().unwrap();
    // Roles belong to the whole cluster: the name must be unique to this run.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let name = format!("cli_reader_{}_{nanos}", std::process::id());
    let mut child = bin()
        .current_dir(dir.path())
        .args(["--database-url", &url, "user", "add", &name])
        .args([
            "--role",
            "client-reader",
            "--client",
            "acme",
            "--password-stdin",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "s3cret-pass").unwrap();
    let out = ok(&child.wait_with_output().unwrap());
    assert_eq!(
        out.trim(),
        format!("added desk user {name} (client reader of acme)")
    );
    let mapped: Option<String> = runtime.block_on(async {
        let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(connection);
        client
            .query_opt(
                "SELECT c.client_id FROM client_readers c JOIN pg_roles r ON r.rolname = c.role_name \
                 WHERE c.role_name = $1",
                &[&name],
            )
            .await
            .unwrap()
            .map(|row| row.get(0))
    });
    assert_eq!(mapped.as_deref(), Some("acme"));
    let verify = ok(&bin()
        .current_dir(dir.path())
        .args(["--database-url", &url, "access-log", "--verify"])
        .output()
        .unwrap());
    assert_eq!(verify.trim(), "intact: the access log is empty");
}
