//! A hot standby of a [`DedicatedServer`]: streaming replication, all local, for the tests of
//! every read path on a replica.
//!
//! The standby is a base backup of the primary taken with `pg_basebackup -R` (which writes
//! `primary_conninfo` and `standby.signal`) by a role that may only replicate, started with
//! `hot_standby=on` on a port and socket directory of its own. Replication is asynchronous, so
//! a test that appended on the primary calls [`wait_for_replay`] before reading on the standby:
//! it waits until the standby has replayed everything the primary had flushed, which makes the
//! tests deterministic without sleeping.

use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::{free_port, pg_command, spawn_watchdog, DedicatedServer};

/// The role the standby streams as: it may log in for replication and nothing else.
pub const REPLICATION_ROLE: &str = "opsledger_replicator";
/// How long [`wait_for_replay`] waits before failing the test.
pub const REPLAY_TIMEOUT: Duration = Duration::from_secs(60);
/// How often [`wait_for_replay`] asks the standby how far it has replayed.
pub const REPLAY_POLL_INTERVAL: Duration = Duration::from_millis(5);

impl DedicatedServer {
    /// Starts a hot standby streaming from this server, in a new temporary directory with its
    /// own port and socket, and waits until it accepts read-only connections. The standby has
    /// every database the primary has at the time and follows it from then on.
    pub fn start_standby(&self) -> DedicatedServer {
        // The role name is a constant, so formatting it into the statement is safe. A second
        // standby of the same primary finds the role there already.
        let create_role = format!(
            "DO $$ BEGIN \
               IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{REPLICATION_ROLE}') THEN \
                 CREATE ROLE {REPLICATION_ROLE} WITH LOGIN REPLICATION; \
               END IF; \
             END $$"
        );
        let output = pg_command(self.as_postgres, &self.bin.join("psql"))
            .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1"])
            .args([
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
                "-d",
                "postgres",
                "-c",
            ])
            .arg(&create_role)
            .output()
            .expect("run psql");
        assert!(
            output.status.success(),
            "cannot create the replication role: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        self.allow_replication();

        let dir = tempfile::Builder::new()
            .prefix("opsledger-pg-standby-")
            .tempdir()
            .expect("create a temporary directory")
            .keep();
        if self.as_postgres {
            let status = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&dir)
                .status()
                .expect("run chown");
            assert!(status.success(), "chown of {} failed", dir.display());
        }
        let data = dir.join("data");
        // -R writes the connection to the primary and standby.signal; -X stream copies the WAL
        // written during the backup, so the standby is consistent as soon as it starts.
        let output = pg_command(self.as_postgres, &self.bin.join("pg_basebackup"))
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args([
                "-U",
                REPLICATION_ROLE,
                "-R",
                "-X",
                "stream",
                "-c",
                "fast",
                "--no-sync",
                "-D",
            ])
            .arg(&data)
            .output()
            .expect("run pg_basebackup");
        assert!(
            output.status.success(),
            "pg_basebackup failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let port = free_port();
        // max_connections must be at least the primary's, or a hot standby refuses to start.
        let options = format!(
            "-c listen_addresses=127.0.0.1 -p {port} -k {} -c hot_standby=on -c fsync=off \
             -c full_page_writes=off -c max_connections=300",
            dir.display()
        );
        let standby = DedicatedServer {
            bin: self.bin.clone(),
            log: dir.join("server.log"),
            data,
            port,
            options,
            as_postgres: self.as_postgres,
        };
        standby.pg_ctl_start();
        spawn_watchdog(standby.as_postgres, &standby.bin, &standby.data, &dir);
        standby
    }

    /// Promotes this standby to a primary (`pg_ctl promote`) and waits until it accepts
    /// writes. Its own primary is left as it is; the two then diverge.
    pub fn promote(&self) {
        let output = pg_command(self.as_postgres, &self.bin.join("pg_ctl"))
            .args(["-w", "-t", "60", "-D"])
            .arg(&self.data)
            .arg("promote")
            .output()
            .expect("run pg_ctl promote");
        assert!(
            output.status.success(),
            "pg_ctl promote failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// Adds a `pg_hba.conf` line letting the replication role stream over TCP from this
    /// machine, and reloads the configuration. `initdb -A trust` already trusts local
    /// replication for every role; the explicit line keeps the standby working if that default
    /// ever changes, and names the role that needs it.
    fn allow_replication(&self) {
        let hba = self.data.join("pg_hba.conf");
        let line = format!("host replication {REPLICATION_ROLE} 127.0.0.1/32 trust\n");
        let current = std::fs::read_to_string(&hba)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", hba.display()));
        if current.contains(line.trim_end()) {
            return;
        }
        // pg_hba.conf is read top down and the first matching line wins, so the line goes first.
        std::fs::write(&hba, format!("{line}{current}"))
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", hba.display()));
        let output = pg_command(self.as_postgres, &self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(&self.data)
            .arg("reload")
            .output()
            .expect("run pg_ctl reload");
        assert!(
            output.status.success(),
            "pg_ctl reload failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

/// The primary's WAL position up to which everything is flushed (hence may be streamed), as
/// text such as `0/3000148`. The read model's pages commit with `synchronous_commit = off`, so
/// a page that committed may not be flushed yet. A transaction that writes WAL commits
/// synchronously on this connection (it keeps the default) and so flushes the WAL before its
/// commit, asynchronous commits included; only then is the flush position read. (A
/// transaction that only takes an id writes no WAL of its own and commits asynchronously.)
pub async fn flushed_lsn(primary: &tokio_postgres::Client) -> String {
    primary
        .batch_execute("SELECT pg_logical_emit_message(true, 'opsledger-test-flush', '')")
        .await
        .unwrap_or_else(|e| panic!("cannot flush the primary's WAL: {e}"));
    primary
        .query_one("SELECT pg_current_wal_flush_lsn()::text", &[])
        .await
        .unwrap_or_else(|e| panic!("cannot read the primary's WAL position: {e}"))
        .get(0)
}

/// Waits until `standby` has replayed the WAL up to `lsn` (from [`flushed_lsn`]); panics after
/// [`REPLAY_TIMEOUT`]. Everything committed on the primary before `lsn` was read is then
/// visible on the standby.
pub async fn wait_for_lsn(standby: &tokio_postgres::Client, lsn: &str) {
    let started = Instant::now();
    loop {
        let replayed: bool = standby
            .query_one(
                "SELECT pg_wal_lsn_diff(pg_last_wal_replay_lsn(), $1::text::pg_lsn) >= 0",
                &[&lsn],
            )
            .await
            .unwrap_or_else(|e| panic!("cannot read the standby's replay position: {e}"))
            .get(0);
        if replayed {
            return;
        }
        assert!(
            started.elapsed() < REPLAY_TIMEOUT,
            "the standby did not replay up to {lsn} within {REPLAY_TIMEOUT:?}"
        );
        tokio::time::sleep(REPLAY_POLL_INTERVAL).await;
    }
}

/// Waits until everything committed on `primary` so far is visible on `standby` (both URLs of
/// any database of the two servers).
pub async fn wait_for_replay(primary_url: &str, standby_url: &str) {
    let primary = connect(primary_url).await;
    let standby = connect(standby_url).await;
    let lsn = flushed_lsn(&primary).await;
    wait_for_lsn(&standby, &lsn).await;
}

/// A plain connection whose driver task runs in the background.
pub async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to {url}: {e}"));
    tokio::spawn(connection);
    client
}

/// A primary and its hot standby, started once per test process.
#[derive(Debug)]
pub struct Pair {
    pub primary: DedicatedServer,
    pub standby: DedicatedServer,
}

static PAIR: OnceLock<Pair> = OnceLock::new();

/// The primary and standby of this test process, starting them on first use. They are
/// servers of their own, never the shared [`super::server()`], since a standby of a server
/// other test processes use would follow their databases too.
pub fn pair() -> &'static Pair {
    PAIR.get_or_init(|| {
        let primary = DedicatedServer::start();
        let standby = primary.start_standby();
        Pair { primary, standby }
    })
}

impl Pair {
    /// A fresh database on the primary: its URL there and on the standby. The standby URL
    /// works once the standby has replayed the creation ([`Pair::wait_for_replay`]).
    pub async fn fresh_database(&self) -> (String, String) {
        let primary_url = self.primary.fresh_database().await;
        let config: tokio_postgres::Config = primary_url.parse().expect("the URL parses");
        let dbname = config.get_dbname().expect("the URL names its database");
        let standby_url = self.standby.url(dbname);
        (primary_url, standby_url)
    }

    /// Waits until everything committed on the primary so far is visible on the standby.
    pub async fn wait_for_replay(&self) {
        wait_for_replay(&self.primary.url("postgres"), &self.standby.url("postgres")).await;
    }
}
