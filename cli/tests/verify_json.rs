//! `verify --json` prints exactly one JSON document: the chain's verdict, with the read
//! model's beside it when that is checked, so a machine never has to split the output.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn run(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_opsledger"))
        .args(["--ledger", dir.join("l.ledger").to_str().unwrap()])
        .args(args)
        .env_remove("DATABASE_URL")
        .env_remove("OPSLEDGER_LEDGER")
        .output()
        .expect("the binary runs")
}

fn one_document(output: &Output) -> serde_json::Value {
    assert!(output.status.success(), "{output:?}");
    let text = String::from_utf8(output.stdout.clone()).unwrap();
    assert_eq!(text.trim().lines().count(), 1, "one line of JSON: {text}");
    serde_json::from_str(text.trim()).expect("stdout is one JSON document")
}

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/lab-client.ndjson")
}

#[test]
fn verify_json_is_one_document_with_the_chain_and_the_read_model() {
    let dir = tempfile::tempdir().unwrap();
    assert!(run(dir.path(), &["init"]).status.success());
    let recorded = run(
        dir.path(),
        &["record", "--file", examples().to_str().unwrap()],
    );
    assert!(recorded.status.success(), "{recorded:?}");

    let both = one_document(&run(dir.path(), &["verify", "--json"]));
    assert_eq!(both["chain"]["status"], "intact", "{both}");
    assert_eq!(both["chain"]["events"], 1, "{both}");
    assert_eq!(both["read_model"]["identical"], true, "{both}");

    let chain_only = one_document(&run(
        dir.path(),
        &["verify", "--json", "--skip-read-models"],
    ));
    assert_eq!(chain_only["chain"]["status"], "intact", "{chain_only}");
    assert!(chain_only.get("read_model").is_none(), "{chain_only}");
}
