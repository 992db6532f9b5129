//! Extreme argument values, tested: every value an argument parser of the CLI accepts either
//! runs its command to an answer or a typed error, never a panic (issue 12, finding 9:
//! `report … --month 262142-12` panicked, `replay --as-of-position 18446744073709551615`
//! overflowed). Each case parses a command line with `Cli::try_parse_from` and, when clap
//! accepts it, runs it against a small ledger as `main` would.

use std::sync::OnceLock;

use clap::Parser;
use proptest::prelude::*;

use super::{exit_code, run, Cli};

/// The ledger the commands run against: one client, one call, made once per test binary.
fn ledger() -> &'static std::path::Path {
    static LEDGER: OnceLock<tempfile::TempDir> = OnceLock::new();
    LEDGER
        .get_or_init(|| {
            let dir = tempfile::tempdir().expect("a temporary directory");
            let path = dir.path().join("t.ledger");
            let onboard = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/lab-client.ndjson");
            let call = dir.path().join("call.ndjson");
            std::fs::write(
                &call,
                r#"{"event_id":"6f70736c-6564-6765-7200-6c6162000002","command":"connect_call","args":{"client_id":"issabel-lab","call_id":"c1","at":"2022-07-01T10:00:00Z","queue":"500","caller_number":"1000"}}"#,
            )
            .expect("writing the call");
            for args in [
                vec!["init"],
                vec!["record", "--file", onboard],
                vec!["record", "--file", call.to_str().expect("UTF-8 path")],
            ] {
                run_line(&path, &args).expect("setting up the ledger");
            }
            dir
        })
        .path()
        .join("t.ledger")
        .leak()
}

/// Parses and runs one command line against `ledger`; `Ok(None)` when clap refuses it.
fn run_line(ledger: &std::path::Path, args: &[&str]) -> anyhow::Result<Option<u8>> {
    let ledger = ledger.to_str().expect("UTF-8 path");
    let mut line = vec!["opsledger", "--ledger", ledger];
    line.extend_from_slice(args);
    let Ok(cli) = Cli::try_parse_from(&line) else {
        return Ok(None);
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    Ok(Some(match runtime.block_on(run(cli)) {
        Ok(()) => 0,
        Err(e) => exit_code(&e),
    }))
}

/// What a value under test stands for, so most generated values get past clap and reach the
/// command.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Number,
    Month,
    Instant,
    Stream,
}

/// The command lines under test; `{}` is where the value goes, `{out}` an output file.
const TEMPLATES: &[(Kind, &[&str])] = &[
    (
        Kind::Month,
        &[
            "report",
            "sla",
            "--client",
            "issabel-lab",
            "--month",
            "{}",
            "--format",
            "json",
        ],
    ),
    (
        Kind::Month,
        &[
            "report",
            "obligations",
            "--client",
            "issabel-lab",
            "--month",
            "{}",
            "--format",
            "json",
        ],
    ),
    (
        Kind::Month,
        &[
            "report",
            "retention",
            "--client",
            "issabel-lab",
            "--month",
            "{}",
            "--format",
            "json",
        ],
    ),
    (
        Kind::Number,
        &[
            "report",
            "billing",
            "--client",
            "issabel-lab",
            "--as-of-position",
            "{}",
            "--format",
            "json",
        ],
    ),
    (
        Kind::Instant,
        &[
            "report",
            "sla",
            "--client",
            "issabel-lab",
            "--month",
            "2022-07",
            "--as-of-recorded",
            "{}",
            "--format",
            "json",
        ],
    ),
    (
        Kind::Instant,
        &[
            "report",
            "sla",
            "--client",
            "issabel-lab",
            "--month",
            "2022-07",
            "--as-of-occurred",
            "{}",
            "--format",
            "json",
        ],
    ),
    (
        Kind::Instant,
        &[
            "report",
            "obligations",
            "--client",
            "issabel-lab",
            "--month",
            "2022-07",
            "--evaluated-at",
            "{}",
            "--format",
            "json",
        ],
    ),
    (Kind::Number, &["replay", "--as-of-position", "{}"]),
    (Kind::Number, &["events", "--from-position", "{}"]),
    (Kind::Number, &["events", "--limit", "{}"]),
    (Kind::Instant, &["events", "--occurred-from", "{}"]),
    (Kind::Instant, &["events", "--recorded-to", "{}"]),
    (
        Kind::Number,
        &["verify", "--from", "{}", "--skip-read-models"],
    ),
    (
        Kind::Number,
        &["verify", "--to", "{}", "--skip-read-models"],
    ),
    (
        Kind::Number,
        &[
            "export",
            "--out",
            "{out}",
            "--force",
            "--client",
            "issabel-lab",
            "--head",
            "{}",
        ],
    ),
    (
        Kind::Number,
        &[
            "export",
            "--out",
            "{out}",
            "--force",
            "--client",
            "issabel-lab",
            "--cover-from",
            "{}",
        ],
    ),
    (Kind::Stream, &["timeline", "{}", "--format", "json"]),
    (
        Kind::Instant,
        &[
            "timeline",
            "call-c1",
            "--evaluated-at",
            "{}",
            "--format",
            "json",
        ],
    ),
    (
        Kind::Instant,
        &["retention", "apply", "--dry-run", "--as-of", "{}"],
    ),
];

/// Values at the edges of what `kind` reads, and some text that is none of it.
fn value_of(kind: Kind) -> BoxedStrategy<String> {
    let typed = match kind {
        Kind::Number => prop_oneof![
            prop::sample::select(vec![
                "0",
                "1",
                "9223372036854775807",
                "9223372036854775808",
                "18446744073709551614",
                "18446744073709551615",
            ])
            .prop_map(str::to_owned),
            any::<u64>().prop_map(|n| n.to_string()),
            (0u64..8).prop_map(|n| n.to_string()),
        ]
        .boxed(),
        Kind::Month => prop_oneof![
            prop::sample::select(vec![
                "262142-12",
                "262143-01",
                "-262144-01",
                "10000-01",
                "9999-12",
                "1969-12",
                "1970-01",
                "2022-07",
            ])
            .prop_map(str::to_owned),
            (any::<i32>(), 0u32..14).prop_map(|(y, m)| format!("{y}-{m:02}")),
        ]
        .boxed(),
        Kind::Instant => prop_oneof![
            prop::sample::select(vec![
                "+262142-12-31T23:59:59Z",
                "-262143-01-01T00:00:00Z",
                "+10000-01-01T00:00:00Z",
                "9999-12-31T23:59:59.999999999Z",
                "1970-01-01T00:00:00Z",
                "0001-01-01T00:00:00Z",
            ])
            .prop_map(str::to_owned),
            (-262_145i32..=262_145).prop_map(|y| format!("{y:+}-06-15T12:00:00Z")),
        ]
        .boxed(),
        Kind::Stream => prop_oneof![
            prop::sample::select(vec!["call-", "client-issabel-lab", "call-c1", "-", "x-y"])
                .prop_map(str::to_owned),
            "[a-z]{1,8}-[ -~]{0,300}",
        ]
        .boxed(),
    };
    prop_oneof![4 => typed, 1 => "[ -~]{0,24}"].boxed()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn no_argument_value_panics_a_command(
        (template, value) in (0..TEMPLATES.len()).prop_flat_map(|i| (Just(i), value_of(TEMPLATES[i].0)))
    ) {
        // Exports write into the ledger's own temporary directory: never a system path
        // (`--force` replaces the file it names, and these tests may run as root).
        let out = ledger().with_file_name("export.json");
        let out = out.to_str().expect("UTF-8 path");
        let args: Vec<&str> = TEMPLATES[template]
            .1
            .iter()
            .map(|a| match *a {
                "{}" => value.as_str(),
                "{out}" => out,
                other => other,
            })
            .collect();
        // A panic fails the case with this line; an error is an answer.
        let outcome = run_line(ledger(), &args);
        if std::env::var_os("ARG_VALUES_TRACE").is_some() {
            eprintln!("{args:?} -> {outcome:?}");
        }
    }
}

#[test]
fn the_findings_inputs_are_typed_errors() {
    let month = run_line(
        ledger(),
        &[
            "report",
            "sla",
            "--client",
            "issabel-lab",
            "--month",
            "262142-12",
        ],
    );
    assert!(
        matches!(month, Ok(None)),
        "clap refuses the month: {month:?}"
    );
    let position = run_line(
        ledger(),
        &["replay", "--as-of-position", "18446744073709551615"],
    )
    .expect("an exit status");
    assert_eq!(position, Some(super::exit::FAILURE));
}

#[test]
fn the_demo_refuses_a_database_url_instead_of_ignoring_it() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let out = dir.path().join("demo");
    let status = run_line(
        ledger(),
        &[
            "--database-url",
            "postgres://nobody@127.0.0.1:1/none",
            "demo",
            "--out",
            out.to_str().expect("UTF-8 path"),
        ],
    )
    .expect("an exit status");
    assert_eq!(status, Some(super::exit::FAILURE));
    assert!(!out.exists(), "nothing was written");
}
