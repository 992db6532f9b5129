//! What the CLI's end-to-end tests share: the binary on a ledger file in a test directory,
//! the check that a run succeeded, and a ledger with one client recorded.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The binary under test, never pointed at a PostgreSQL server or a ledger from the
/// environment: each test names its own ledger file.
pub fn bin() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_opsledger"));
    command
        .env_remove("DATABASE_URL")
        .env_remove("OPSLEDGER_LEDGER");
    command
}

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Runs opsledger in `dir` on the ledger file `dir/test.ledger`.
pub fn run(dir: &Path, args: &[&str]) -> Output {
    bin()
        .current_dir(dir)
        .arg("--ledger")
        .arg(dir.join("test.ledger"))
        .args(args)
        .output()
        .expect("run opsledger")
}

/// The standard output of a run that must have succeeded; the failure shows both streams.
pub fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "status {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A new ledger in a temporary directory with the domain commands of `examples/<file>`
/// recorded.
pub fn ledger_with(example: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    ok(&run(dir.path(), &["init"]));
    let file = repo().join("examples").join(example);
    ok(&run(
        dir.path(),
        &["record", "--file", file.to_str().unwrap()],
    ));
    dir
}
