//! The benchmark's yardstick for concurrent single appends: `pgbench` inserting one row per
//! transaction into a bare copy of `events`, with as many clients and for as long as the
//! store's writers ran, on the same server in the same run.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use opsledger_app::store::postgres::baseline::{PgbenchTable, PGBENCH_SEQUENCE, PGBENCH_TABLE};

use crate::error::{ToolError, ToolResult};

/// What pgbench did.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PgbenchFigures {
    /// Rows in the bare table after the run (counted, not taken from pgbench's output).
    pub rows: u64,
    /// How long pgbench ran its clients.
    pub duration: Duration,
    /// pgbench's own rate, transactions per second without connection time.
    pub tps: f64,
}

/// Where `pgbench` is: `$OPSLEDGER_PG_BIN`, the newest `/usr/lib/postgresql/*/bin`, or `PATH`.
fn find_pgbench() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("OPSLEDGER_PG_BIN") {
        let p = Path::new(&dir).join("pgbench");
        return p.exists().then_some(p);
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let p = entry.path().join("bin/pgbench");
            p.exists().then_some((version, p))
        })
        .collect();
    versions.sort();
    if let Some((_, p)) = versions.pop() {
        return Some(p);
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join("pgbench"))
        .find(|p| p.exists())
}

/// The script of one transaction: one row shaped like the store's single append of `data` (an
/// event's JSON text) for `client_id`. Text goes in hex, because pgbench reads `:name` in a
/// script as a variable and JSON is full of colons.
fn script(data: &str, client_id: &str) -> String {
    let data_hex = hex_of(data.as_bytes());
    let client_hex = hex_of(client_id.as_bytes());
    let hash_hex = "00".repeat(32);
    format!(
        "INSERT INTO {PGBENCH_TABLE} (global_position, event_id, stream_id, category, \
         stream_version, event_type, schema_version, client_id, occurred_at, recorded_at, data, \
         prev_hash, hash) VALUES (nextval('{PGBENCH_SEQUENCE}'), gen_random_uuid(), 'load-w' || \
         :client_id, 'load', nextval('{PGBENCH_SEQUENCE}'), 'call.answered', 1, \
         convert_from(decode('{client_hex}', 'hex'), 'UTF8'), now(), now(), \
         convert_from(decode('{data_hex}', 'hex'), 'UTF8'), decode('{hash_hex}', 'hex'), \
         decode('{hash_hex}', 'hex'));\n"
    )
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// pgbench's `tps = N (without initial connection time)` line.
fn parse_tps(stdout: &str) -> Option<f64> {
    stdout
        .lines()
        .find(|l| l.starts_with("tps = ") && l.contains("without initial connection time"))
        .and_then(|l| l["tps = ".len()..].split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

/// Runs pgbench against `url` with `clients` clients for `secs` seconds, each transaction one
/// row carrying `data`. `None` when no pgbench is installed (the table says so).
pub(crate) async fn run(
    url: &str,
    clients: u64,
    secs: u64,
    data: &str,
    client_id: &str,
) -> ToolResult<Option<PgbenchFigures>> {
    let Some(pgbench) = find_pgbench() else {
        return Ok(None);
    };
    let table = PgbenchTable::new(url).await?;
    let script_path =
        std::env::temp_dir().join(format!("opsledger-pgbench-{}.sql", std::process::id()));
    std::fs::write(&script_path, script(data, client_id))
        .map_err(|e| ToolError::io(format!("writing {}", script_path.display()), e))?;
    let threads = clients.clamp(1, 2);
    let mut command = Command::new(&pgbench);
    command
        .args(["-n", "-M", "prepared", "-f"])
        .arg(&script_path)
        .args(["-c", &clients.to_string(), "-j", &threads.to_string()])
        .args(["-T", &secs.to_string(), url]);
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .map_err(|source| ToolError::Panicked {
            what: "pgbench",
            source,
        })?
        .map_err(|e| ToolError::io(format!("running {}", pgbench.display()), e))?;
    std::fs::remove_file(&script_path).ok();
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(ToolError::CheckFailed(format!(
            "pgbench failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    let tps = parse_tps(&stdout)
        .ok_or_else(|| ToolError::CheckFailed(format!("pgbench printed no tps line: {stdout}")))?;
    let rows = table.rows().await?;
    table.cleanup().await?;
    Ok(Some(PgbenchFigures {
        rows,
        duration: Duration::from_secs(secs),
        tps,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_script_has_no_colon_but_the_client_variable() {
        let s = script(r#"{"queue":"main","at":"2026-10-01T00:00:00Z"}"#, "bench00");
        assert_eq!(s.matches(':').count(), 1, "{s}");
        assert!(s.contains(":client_id"));
    }

    #[test]
    fn reads_the_rate_without_connection_time() {
        let out = "number of transactions actually processed: 1234\n\
                   latency average = 1.2 ms\n\
                   initial connection time = 5.1 ms\n\
                   tps = 10876.543210 (without initial connection time)\n";
        assert_eq!(parse_tps(out), Some(10876.54321));
        assert_eq!(
            parse_tps("tps = 5 (including connections establishing)\n"),
            None
        );
    }
}
