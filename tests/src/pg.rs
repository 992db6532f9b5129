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

pub mod replica;

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
    let server = DedicatedServer::start_in(
        "opsledger-pg-",
        "PostgreSQL server binaries (initdb, pg_ctl) were not found, and DATABASE_URL is not set.\n\
         The PostgreSQL tests cannot run without a server. Either install PostgreSQL\n\
         (Debian/Ubuntu: `apt-get install -y postgresql`; `scripts/test` does this when run as root),\n\
         set OPSLEDGER_PG_BIN to the directory holding initdb, or set DATABASE_URL to a server\n\
         where this role may CREATE DATABASE.",
    );
    PgServer {
        admin_url: format!(
            "host=127.0.0.1 port={} user=postgres dbname=postgres",
            server.port()
        ),
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

/// A throwaway server of its own for one test process, which the test may SIGKILL and start
/// again: what fault-injection tests need, and what the shared [`server()`] must never be
/// subjected to (other tests of the process use it concurrently).
///
/// It is initialised and started exactly like the shared server (trust authentication, the
/// `postgres` role, fsync off: a SIGKILL loses nothing the kernel already holds, so fsync only
/// matters for an operating-system crash, which these tests do not simulate). The same
/// watchdog stops it and deletes its directory when the test process exits.
#[derive(Debug)]
pub struct DedicatedServer {
    bin: PathBuf,
    data: PathBuf,
    log: PathBuf,
    port: u16,
    options: String,
    as_postgres: bool,
}

impl DedicatedServer {
    /// Creates and starts a new server in a new temporary directory. Needs PostgreSQL's
    /// binaries; `DATABASE_URL` is ignored, since a shared server must not be killed.
    pub fn start() -> Self {
        Self::start_in(
            "opsledger-pg-dedicated-",
            "PostgreSQL server binaries (initdb, pg_ctl) were not found: fault-injection tests \
             need a server of their own to kill. Install PostgreSQL (Debian/Ubuntu: \
             `apt-get install -y postgresql`) or set OPSLEDGER_PG_BIN to the directory holding initdb.",
        )
    }

    /// Creates and starts a server in a new temporary directory named with `prefix`; without
    /// PostgreSQL's binaries it fails with `missing_binaries`, never skipping silently.
    fn start_in(prefix: &str, missing_binaries: &str) -> Self {
        let bin = find_bin_dir().unwrap_or_else(|| panic!("{missing_binaries}"));
        let as_postgres = is_root();
        let dir = tempfile::Builder::new()
            .prefix(prefix)
            .tempdir()
            .expect("create a temporary directory")
            .keep();
        if as_postgres {
            let status = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&dir)
                .status()
                .expect("run chown");
            assert!(status.success(), "chown of {} failed", dir.display());
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
        // fsync is off: the server is thrown away with its directory, and a SIGKILL of the
        // server (the fault tests) is survived by the WAL without fsync; only an operating
        // system crash would need it. The benchmark runs with the defaults.
        let options = format!(
            "-c listen_addresses=127.0.0.1 -p {port} -k {} -c fsync=off -c full_page_writes=off -c max_connections=300",
            dir.display()
        );
        let server = Self {
            bin,
            log: dir.join("server.log"),
            data,
            port,
            options,
            as_postgres,
        };
        server.pg_ctl_start();
        spawn_watchdog(as_postgres, &server.bin, &server.data, &dir);
        server
    }

    /// The data directory (`postmaster.pid` lives there).
    pub fn data_dir(&self) -> &Path {
        &self.data
    }

    /// The directory holding `pg_ctl`, `initdb` and the other server binaries.
    pub fn bin_dir(&self) -> &Path {
        &self.bin
    }

    /// The TCP port, the same across restarts.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's log file, appended to across restarts.
    pub fn log_file(&self) -> &Path {
        &self.log
    }

    /// The postmaster's process id, from the first line of `postmaster.pid`; `None` when the
    /// file is missing or unreadable. After [`kill9`](Self::kill9) the stale file remains, so
    /// this names a dead process until the next start.
    pub fn pid(&self) -> Option<u32> {
        let text = std::fs::read_to_string(self.data.join("postmaster.pid")).ok()?;
        text.lines().next()?.trim().parse().ok()
    }

    /// A connection string for the superuser on database `dbname`.
    pub fn url(&self, dbname: &str) -> String {
        format!(
            "host=127.0.0.1 port={} user=postgres dbname={dbname}",
            self.port
        )
    }

    /// Creates an empty database and returns its connection string.
    pub async fn fresh_database(&self) -> String {
        PgServer {
            admin_url: self.url("postgres"),
            superuser: true,
        }
        .fresh_database()
        .await
    }

    /// Kills the server the way a crash does: SIGKILL to the postmaster and to every backend
    /// and auxiliary process it started. Killing the children too is the harsher case (a
    /// transaction in flight dies before it can finish its commit, instead of finishing it
    /// and then noticing the postmaster is gone) and leaves no orphan attached to the shared
    /// memory, which would make the next start refuse. Returns once every process is gone.
    pub fn kill9(&self) {
        let pid = self
            .pid()
            .expect("the server is running: postmaster.pid names its process");
        // Each child leads a process group of its own, so they are found by their parent, which
        // is stopped first: it cannot start another child between the search and the kill, and
        // its children keep it as their parent until it dies.
        signal("-STOP", pid);
        let mut victims = processes_where(|f| field(f, 1) == Some(pid));
        victims.push(pid);
        for victim in &victims {
            signal("-KILL", *victim);
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let left: Vec<u32> = victims.iter().copied().filter(|p| is_alive(*p)).collect();
            if left.is_empty() {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "PostgreSQL processes {left:?} survived SIGKILL for 30 s"
            );
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }

    /// Starts the server again on the same data directory, port and options, and waits until
    /// it accepts connections (crash recovery included).
    pub fn restart(&self) {
        // A killed postmaster stays a zombie where nothing reaps orphans (some container
        // inits do not), and PostgreSQL takes a zombie for a live owner of its stale lock
        // files. The process is gone either way, so they are removed as an operator would.
        // The same holds for the Unix socket's lock file beside the data directory.
        if let Some(pid) = self.pid() {
            if !is_alive(pid) {
                let socket_lock = self
                    .data
                    .parent()
                    .expect("the data directory has a parent")
                    .join(format!(".s.PGSQL.{}.lock", self.port));
                for lock in [self.data.join("postmaster.pid"), socket_lock] {
                    match std::fs::remove_file(&lock) {
                        Ok(()) => {}
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                        Err(e) => panic!("cannot remove stale lock {}: {e}", lock.display()),
                    }
                }
            }
        }
        self.pg_ctl_start();
    }

    fn pg_ctl_start(&self) {
        let output = pg_command(self.as_postgres, &self.bin.join("pg_ctl"))
            .args(["-w", "-t", "60", "-D"])
            .arg(&self.data)
            .args(["-o", &self.options, "-l"])
            .arg(&self.log)
            .arg("start")
            .stdout(Stdio::null())
            .output()
            .expect("run pg_ctl start");
        assert!(
            output.status.success(),
            "pg_ctl start failed: {}\n{}",
            String::from_utf8_lossy(&output.stderr),
            std::fs::read_to_string(&self.log).unwrap_or_default()
        );
    }
}

/// Fields of `/proc/<pid>/stat` after the command name, which may itself hold spaces and
/// parentheses and is therefore cut at its last `)`.
fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    Some(rest.split_whitespace().map(str::to_owned).collect())
}

/// Numeric field `index` of a split `stat` line (0: state, 1: parent, 2: process group).
fn field(fields: &[String], index: usize) -> Option<u32> {
    fields.get(index)?.parse().ok()
}

/// Sends `signal` (e.g. `-KILL`) to `pid` with `kill`, which as root may signal the
/// `postgres` user's processes. A process that is already gone is no error.
fn signal(signal: &str, pid: u32) {
    let _ = Command::new("kill")
        .args([signal, &pid.to_string()])
        .stderr(Stdio::null())
        .status();
}

/// True while `pid` exists and is not a zombie.
fn is_alive(pid: u32) -> bool {
    stat_fields(pid).is_some_and(|f| f.first().map(String::as_str) != Some("Z"))
}

/// Every live (not zombie) process whose `stat` fields satisfy `matches`.
fn processes_where(matches: impl Fn(&[String]) -> bool) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            stat_fields(*pid)
                .is_some_and(|f| f.first().map(String::as_str) != Some("Z") && matches(&f))
        })
        .collect()
}
