//! A throwaway PostgreSQL server for tests, started once per test process when `DATABASE_URL`
//! is unset, and a fresh database per test.
//!
//! The server lives in a private temporary directory, listens on 127.0.0.1 on a free port and
//! on a socket in that directory, and is stopped and deleted by a watchdog process when the
//! test process exits (even when it panics or is killed). `initdb` refuses to run as root, so
//! as root the server runs as the `postgres` user. With no PostgreSQL installed the harness
//! fails loudly with instructions: the PostgreSQL tier is never skipped silently.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// Where the tests' server is.
#[derive(Debug)]
pub struct PgServer {
    /// A connection string for a role that may create databases.
    admin_url: String,
    /// Whether the role is a superuser (only then can tamper tests disable triggers).
    pub superuser: bool,
}

static SERVER: OnceLock<PgServer> = OnceLock::new();

/// The server for this test process, starting it on first use.
pub fn server() -> &'static PgServer {
    SERVER.get_or_init(|| match std::env::var("DATABASE_URL") {
        Ok(url) if !url.trim().is_empty() => PgServer {
            admin_url: url,
            superuser: false,
        },
        _ => start_throwaway(),
    })
}

impl PgServer {
    /// Creates an empty database and returns its connection string.
    pub async fn fresh_database(&self) -> String {
        let (client, connection) = tokio_postgres::connect(&self.admin_url, tokio_postgres::NoTls)
            .await
            .unwrap_or_else(|e| panic!("cannot connect to the test PostgreSQL server: {e}"));
        tokio::spawn(connection);
        // The name is generated here, never taken from input, so formatting it is safe.
        let name = format!("opsledger_t_{}", uuid::Uuid::new_v4().simple());
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap_or_else(|e| panic!("cannot create test database {name}: {e}"));
        let mut config: tokio_postgres::Config = self.admin_url.parse().expect("admin URL parses");
        config.dbname(&name);
        to_key_value(&config, &name)
    }
}

fn to_key_value(config: &tokio_postgres::Config, dbname: &str) -> String {
    let mut parts = Vec::new();
    for host in config.get_hosts() {
        match host {
            tokio_postgres::config::Host::Tcp(h) => parts.push(format!("host={h}")),
            tokio_postgres::config::Host::Unix(p) => parts.push(format!("host={}", p.display())),
        }
    }
    if let Some(port) = config.get_ports().first() {
        parts.push(format!("port={port}"));
    }
    if let Some(user) = config.get_user() {
        parts.push(format!("user={user}"));
    }
    if let Some(pw) = config.get_password() {
        parts.push(format!("password={}", String::from_utf8_lossy(pw)));
    }
    parts.push(format!("dbname={dbname}"));
    parts.join(" ")
}

/// Finds the directory holding `initdb` and `pg_ctl`.
pub fn find_bin_dir() -> Option<PathBuf> {
    if let Ok(dir) = std::env::var("OPSLEDGER_PG_BIN") {
        return Some(PathBuf::from(dir));
    }
    let mut candidates: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_string_lossy().parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    candidates.sort();
    if let Some((_, bin)) = candidates.pop() {
        return Some(bin);
    }
    let which = Command::new("sh")
        .args(["-c", "command -v initdb"])
        .output()
        .ok()?;
    let path = String::from_utf8_lossy(&which.stdout).trim().to_owned();
    (!path.is_empty()).then(|| PathBuf::from(path).parent().map(Path::to_path_buf))?
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// Runs a PostgreSQL tool, as the `postgres` user when we are root.
fn pg_command(as_postgres: bool, program: &Path) -> Command {
    if as_postgres {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local addr").port()
}

fn start_throwaway() -> PgServer {
    let bin = find_bin_dir().unwrap_or_else(|| {
        panic!(
            "PostgreSQL server binaries (initdb, pg_ctl) were not found, and DATABASE_URL is not set.\n\
             The PostgreSQL tests cannot run without a server. Either install PostgreSQL\n\
             (Debian/Ubuntu: `apt-get install -y postgresql`; `scripts/test` does this when run as root),\n\
             set OPSLEDGER_PG_BIN to the directory holding initdb, or set DATABASE_URL to a server\n\
             where this role may CREATE DATABASE."
        )
    });
    let as_postgres = is_root();
    let dir = tempfile::Builder::new()
        .prefix("opsledger-pg-")
        .tempdir()
        .expect("create a temporary directory")
        .keep();
    if as_postgres {
        let status = Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(&dir)
            .status()
            .expect("run chown");
        assert!(
            status.success(),
            "chown of {} to postgres failed",
            dir.display()
        );
    }
    let data = dir.join("data");
    let output = pg_command(as_postgres, &bin.join("initdb"))
        .args([
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
            "-D",
        ])
        .arg(&data)
        .output()
        .expect("run initdb");
    assert!(
        output.status.success(),
        "initdb failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let port = free_port();
    // fsync is off: this server is thrown away with its directory, and no test here depends
    // on surviving an operating-system crash. The benchmark runs with the defaults.
    let options = format!(
        "-c listen_addresses=127.0.0.1 -p {port} -k {} -c fsync=off -c full_page_writes=off -c max_connections=300",
        dir.display()
    );
    let log = dir.join("server.log");
    let output = pg_command(as_postgres, &bin.join("pg_ctl"))
        .args(["-w", "-t", "60", "-D"])
        .arg(&data)
        .args(["-o", &options, "-l"])
        .arg(&log)
        .arg("start")
        .stdout(Stdio::null())
        .output()
        .expect("run pg_ctl start");
    assert!(
        output.status.success(),
        "pg_ctl start failed: {}\n{}",
        String::from_utf8_lossy(&output.stderr),
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    spawn_watchdog(as_postgres, &bin, &data, &dir);
    PgServer {
        admin_url: format!("host=127.0.0.1 port={port} user=postgres dbname=postgres"),
        superuser: true,
    }
}

/// Stops the server and deletes its directory once this process is gone.
// The watchdog must outlive this process, so it is deliberately never waited for; when the
// test process exits it is re-parented and reaped by init.
#[allow(clippy::zombie_processes)]
fn spawn_watchdog(as_postgres: bool, bin: &Path, data: &Path, dir: &Path) {
    let pid = std::process::id();
    let runner = if as_postgres {
        "runuser -u postgres -- "
    } else {
        ""
    };
    let script = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 0.5; done; \
         {runner}'{}' -D '{}' -m immediate stop >/dev/null 2>&1; rm -rf '{}'",
        bin.join("pg_ctl").display(),
        data.display(),
        dir.display()
    );
    Command::new("sh")
        .args(["-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn the server watchdog");
}
