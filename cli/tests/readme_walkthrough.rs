//! Runs the README's "Using it" walkthrough, exactly as written, against the built binary.
//!
//! The README promises that a new user can follow it top to bottom; this test is that user.
//! The block after the `<!-- walkthrough` marker is run by bash with `-e`, in a fresh
//! directory laid out like the repository (`examples/` here, `../shared` beside it), with the
//! binary under test first on `PATH`. A failing line is named in the assertion message.

use std::path::{Path, PathBuf};
use std::process::Command;

const MARKER: &str = "<!-- walkthrough";

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the cli crate sits in the workspace root")
        .to_path_buf()
}

/// The shell block that follows the walkthrough marker, without its fences.
fn walkthrough_block(readme: &str) -> String {
    let after_marker = readme
        .split_once(MARKER)
        .map(|(_, rest)| rest)
        .expect("README.md has a walkthrough marker");
    let (_, after_fence) = after_marker
        .split_once("```sh\n")
        .expect("a ```sh block follows the walkthrough marker");
    let (block, _) = after_fence
        .split_once("\n```")
        .expect("the walkthrough block is closed");
    block.to_string()
}

#[test]
fn the_readme_walkthrough_runs_top_to_bottom() {
    let root = repo_root();
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README.md is readable");
    let block = walkthrough_block(&readme);
    assert!(
        block
            .lines()
            .filter(|line| line.starts_with("opsledger "))
            .count()
            >= 10,
        "the walkthrough should show the main commands, found:\n{block}"
    );

    let shared = root.join("../shared");
    assert!(
        shared.join("data").is_dir(),
        "the walkthrough reads ../shared/data beside the repository: {} is missing",
        shared.display()
    );
    let sandbox = tempfile::tempdir().expect("a temporary directory");
    let work = sandbox.path().join("repo");
    std::fs::create_dir(&work).expect("create the work directory");
    std::os::unix::fs::symlink(root.join("examples"), work.join("examples"))
        .expect("link examples/");
    std::os::unix::fs::symlink(
        shared.canonicalize().expect("../shared resolves"),
        sandbox.path().join("shared"),
    )
    .expect("link ../shared");

    let binary = PathBuf::from(env!("CARGO_BIN_EXE_opsledger"));
    let bin_dir = binary.parent().expect("the binary has a directory");
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    // The ERR trap names the README line that failed; `set -o pipefail` keeps a failing
    // command on the left of a pipe from passing unseen.
    let script = format!(
        "set -euo pipefail\ntrap 'echo \"README walkthrough failed at: $BASH_COMMAND\" >&2' ERR\n{block}\n"
    );
    let output = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .current_dir(&work)
        .env("PATH", path)
        .env_remove("OPSLEDGER_LEDGER")
        .env_remove("DATABASE_URL")
        .output()
        .expect("bash runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the README walkthrough failed ({}):\n--- stderr ---\n{stderr}\n--- stdout (tail) ---\n{}",
        output.status,
        tail(&stdout, 40)
    );

    // What the walkthrough says each step shows, it shows.
    assert!(
        stdout.contains("identical"),
        "`verify --report sla.json` should say identical:\n{}",
        tail(&stdout, 40)
    );
    for written in ["obligations.json", "sla.json", "acme.json", "sla.html"] {
        assert!(
            work.join(written).is_file() || work.join("opsledger-demo").join(written).is_file(),
            "the walkthrough should have written {written}"
        );
    }
    assert!(work.join("lab.ledger").is_file(), "the lab ledger exists");
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

#[test]
fn the_walkthrough_block_is_found_between_its_fences() {
    let readme = "intro\n<!-- walkthrough: x -->\n```sh\nopsledger head\n# note\n```\nafter\n";
    assert_eq!(walkthrough_block(readme), "opsledger head\n# note");
}
