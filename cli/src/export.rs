//! The evidence bundle commands: `opsledger export` writes a bundle of selected events with
//! the proof that they sit in the chain, and `opsledger verify --bundle` checks one offline,
//! without opening any ledger.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use chrono::{DateTime, Utc};
use clap::{ArgGroup, Args};
use opsledger_store::bundle::{
    self, BuildOptions, BundleBreak, BundleError, BundleReport, EvidenceBundle,
};
use opsledger_store::{EventFilter, Hash, StreamId, TimeRange};
use uuid::Uuid;

use crate::ledger::Target;
use crate::ChainBroken;

/// Largest bundle file `verify --bundle` reads. A bundle at the store's position limit is
/// about 800 MB of pretty-printed JSON; anything larger is not a bundle this build wrote.
const MAX_BUNDLE_FILE_BYTES: u64 = 1 << 30;

#[derive(Debug, Args)]
#[command(group(
    ArgGroup::new("selection")
        .required(true)
        .args(["stream", "client", "correlation"])
))]
pub struct ExportArgs {
    /// Where to write the bundle (JSON). An existing file is refused unless --force is given.
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// Disclose the events of this stream.
    #[arg(long)]
    stream: Option<String>,
    /// Disclose the events of this client (narrow them with --from and --to).
    #[arg(long)]
    client: Option<String>,
    /// With --client: only events that occurred at or after this instant (RFC 3339).
    #[arg(long, requires = "client")]
    from: Option<DateTime<Utc>>,
    /// With --client: only events that occurred before this instant (RFC 3339).
    #[arg(long, requires = "client")]
    to: Option<DateTime<Utc>>,
    /// Disclose the events with this correlation id.
    #[arg(long)]
    correlation: Option<Uuid>,
    /// Prove the events up to this position (default: the ledger's head).
    #[arg(long, value_name = "POSITION")]
    head: Option<u64>,
    /// Cover the chain from this position if it is before the first disclosed event, e.g. a
    /// head an auditor noted earlier, so that `verify --bundle --noted-head` can check it.
    #[arg(long, value_name = "POSITION")]
    cover_from: Option<u64>,
    /// What the bundle is for, recorded in it (default: a description of the selection).
    #[arg(long, value_name = "TEXT")]
    created_for: Option<String>,
    /// Replace FILE if it exists.
    #[arg(long)]
    force: bool,
}

impl ExportArgs {
    fn filter(&self) -> anyhow::Result<EventFilter> {
        Ok(EventFilter {
            stream_id: self
                .stream
                .as_deref()
                .map(StreamId::parse)
                .transpose()
                .context("--stream")?,
            client_id: self.client.clone(),
            correlation_id: self.correlation,
            occurred: TimeRange {
                from: self.from,
                to: self.to,
            },
            ..EventFilter::default()
        })
    }

    fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(stream) = &self.stream {
            parts.push(format!("stream {stream}"));
        }
        if let Some(client) = &self.client {
            parts.push(format!("client {client}"));
        }
        if let Some(from) = self.from {
            parts.push(format!("occurred from {}", from.to_rfc3339()));
        }
        if let Some(to) = self.to {
            parts.push(format!("occurred before {}", to.to_rfc3339()));
        }
        if let Some(correlation) = self.correlation {
            parts.push(format!("correlation {correlation}"));
        }
        format!("evidence for {}", parts.join(", "))
    }
}

/// A bundle file that could not be read as a bundle at all (as opposed to one that does not
/// verify).
#[derive(Debug)]
pub struct UnreadableBundle {
    pub file: String,
    pub detail: String,
}

impl std::fmt::Display for UnreadableBundle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.file, self.detail)
    }
}

impl std::error::Error for UnreadableBundle {}

/// `opsledger export` with no annotations.
pub async fn export(target: &Target, args: ExportArgs) -> anyhow::Result<()> {
    let annotations = verdicts_for(target, &args.filter()?).await?;
    export_with_annotations(target, args, annotations).await
}

/// Events of the selection read to find the obligations they opened.
const ANNOTATION_PAGE: usize = 10_000;

/// The obligations the disclosed events opened, with their verdicts and the rule values in
/// force when their clocks started, as computed by the projections at the ledger's head.
async fn verdicts_for(target: &Target, filter: &EventFilter) -> anyhow::Result<serde_json::Value> {
    use std::collections::{BTreeMap, BTreeSet};

    let store = crate::report::up_to_date(target).await?;
    let head_next = crate::project::head_next(&store).await?;
    let mut positions = BTreeSet::new();
    let mut spans: BTreeMap<String, (DateTime<Utc>, DateTime<Utc>)> = BTreeMap::new();
    let mut next = 0u64;
    loop {
        let page = store.read_filtered(filter, next, ANNOTATION_PAGE).await?;
        let Some(last) = page.last() else { break };
        next = last.global_position + 1;
        for e in &page {
            positions.insert(e.global_position);
            if let Some(client) = &e.client_id {
                let span = spans
                    .entry(client.clone())
                    .or_insert((e.occurred_at, e.occurred_at));
                span.0 = span.0.min(e.occurred_at);
                span.1 = span.1.max(e.occurred_at);
            }
        }
    }
    let evaluated_at = Utc::now();
    let mut obligations = Vec::new();
    for (client, (from, to)) in spans {
        let Ok(client_id) = opsledger_domain::ids::ClientId::new(&client) else {
            continue;
        };
        // Deadlines opened by these events can fall due long after them (month-end reports,
        // retention), so the period reaches a quarter past the last one.
        let period = opsledger_projections::Period {
            from: from - chrono::Duration::days(1),
            to: to + chrono::Duration::days(92),
        };
        let projections = crate::project::client_view(&store, &client_id, Some(head_next)).await?;
        match projections.obligation_report(
            &client_id,
            period,
            opsledger_projections::AsOf::Head,
            evaluated_at,
        ) {
            Ok(report) => obligations.extend(
                report
                    .obligations
                    .into_iter()
                    .filter(|o| o.evidence.iter().any(|e| positions.contains(&e.position))),
            ),
            // A client the projections do not know (events recorded outside the domain) has
            // no verdicts to add.
            Err(_) => continue,
        }
    }
    Ok(serde_json::json!({
        "verdicts_computed_at": evaluated_at,
        "projection_checkpoint": head_next,
        "note": "Verdicts and rule values are computed by opsledger's projections from the ledger, sealed against edits but not proven by the hash chain; recompute them from the disclosed events and the rules.",
        "obligations": obligations,
    }))
}

/// `opsledger export`, sealing `annotations` (rule values in force, computed verdicts) into the
/// bundle. They are sealed against later edits, not proven by the chain: a reader re-computes
/// them from the disclosed events and the rules.
pub async fn export_with_annotations(
    target: &Target,
    args: ExportArgs,
    annotations: serde_json::Value,
) -> anyhow::Result<()> {
    let filter = args.filter()?;
    if args.out.exists() && !args.force {
        anyhow::bail!("{} exists; pass --force to replace it", args.out.display());
    }
    let options = BuildOptions {
        created_for: args.created_for.clone().unwrap_or_else(|| args.describe()),
        selection: serde_json::to_value(&filter)?,
        annotations,
        cover_from: args.cover_from,
    };
    let store = target.open().await?;
    let bundle = match bundle::build(&*store, &filter, args.head, options).await {
        Ok(bundle) => bundle,
        Err(BundleError::LedgerBroken { position, reason }) => {
            // A broken ledger is the same finding as `opsledger verify` reports, with its exit
            // status; a bundle from it would prove nothing.
            println!("BROKEN at position {position}: {reason}; no bundle was written");
            return Err(ChainBroken.into());
        }
        Err(e) => return Err(anyhow::Error::new(e).context("building the bundle")),
    };
    write_new(&args.out, &bundle, args.force)?;
    let report = bundle::verify(&bundle);
    let BundleReport::Intact {
        disclosed,
        withheld,
        first_position,
        head_position,
        head_hash,
    } = report
    else {
        panic!("a freshly built bundle must verify: {report:?}");
    };
    println!(
        "wrote {}: positions {first_position}..={head_position}, {disclosed} events disclosed, {withheld} withheld by digest; head position {head_position} hash {head_hash}",
        args.out.display()
    );
    Ok(())
}

/// Writes the bundle beside `out` and moves it into place, so a failed write never leaves a
/// partial bundle under the real name; without `force` an existing file is never replaced.
fn write_new(out: &Path, bundle: &EvidenceBundle, force: bool) -> anyhow::Result<()> {
    let name = out
        .file_name()
        .with_context(|| format!("{} is not a file name", out.display()))?;
    let mut temp_name = std::ffi::OsString::from(".");
    temp_name.push(name);
    temp_name.push(format!(".{}.tmp", std::process::id()));
    let temp = out.with_file_name(temp_name);
    let written = (|| -> anyhow::Result<()> {
        let file = std::fs::File::create(&temp)?;
        let mut writer = std::io::BufWriter::new(file);
        serde_json::to_writer_pretty(&mut writer, bundle)?;
        writer.write_all(b"\n")?;
        writer
            .into_inner()
            .map_err(|e| e.into_error())?
            .sync_all()?;
        if force {
            std::fs::rename(&temp, out)?;
        } else {
            // A hard link fails if `out` appeared since the check, where a rename would
            // silently replace it.
            std::fs::hard_link(&temp, out)?;
            std::fs::remove_file(&temp)?;
        }
        Ok(())
    })();
    if written.is_err() {
        // The temporary file is ours and incomplete; failing to remove it changes nothing.
        let _ = std::fs::remove_file(&temp);
    }
    written.with_context(|| format!("writing {}", out.display()))
}

/// A head an auditor noted: `POSITION:HASH`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotedHead {
    pub position: u64,
    pub hash: Hash,
}

/// Parses `--noted-head POSITION:HASH`.
pub fn parse_noted_head(text: &str) -> Result<NotedHead, String> {
    let (position, hash) = text
        .split_once(':')
        .ok_or_else(|| "expected POSITION:HASH, e.g. 1041:9f3c…".to_owned())?;
    Ok(NotedHead {
        position: position
            .trim()
            .parse()
            .map_err(|e| format!("position {position:?}: {e}"))?,
        hash: Hash::from_hex(hash.trim()).map_err(|e| format!("hash {hash:?}: {e}"))?,
    })
}

/// `opsledger verify --bundle FILE [--noted-head POSITION:HASH]`: verifies the bundle offline.
pub fn verify_bundle(path: &Path, noted: Option<NotedHead>, json: bool) -> anyhow::Result<()> {
    let file = path.display().to_string();
    let size = std::fs::metadata(path)
        .with_context(|| format!("reading {file}"))?
        .len();
    if size > MAX_BUNDLE_FILE_BYTES {
        return Err(UnreadableBundle {
            file,
            detail: format!("{size} bytes is over the limit of {MAX_BUNDLE_FILE_BYTES}"),
        }
        .into());
    }
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {file}"))?;
    let report = match EvidenceBundle::parse(&text) {
        Ok(bundle) => {
            let report = match noted {
                None => bundle::verify(&bundle),
                Some(n) => bundle::verify_extends(&bundle, n.position, n.hash),
            };
            print_report(&report, &bundle, noted, json)?;
            report
        }
        Err(BundleError::Malformed { detail }) => {
            let report = BundleReport::Broken {
                position: None,
                reason: BundleBreak::Malformed { detail },
            };
            print_broken(&report, json)?;
            report
        }
        Err(e) => {
            return Err(UnreadableBundle {
                file,
                detail: e.to_string(),
            }
            .into())
        }
    };
    if report.is_intact() {
        Ok(())
    } else {
        Err(ChainBroken.into())
    }
}

fn print_report(
    report: &BundleReport,
    bundle: &EvidenceBundle,
    noted: Option<NotedHead>,
    json: bool,
) -> anyhow::Result<()> {
    let BundleReport::Intact {
        disclosed,
        withheld,
        first_position,
        head_position,
        head_hash,
    } = report
    else {
        return print_broken(report, json);
    };
    if json {
        println!("{}", serde_json::to_string(report)?);
        return Ok(());
    }
    println!(
        "intact: positions {first_position}..={head_position}, {disclosed} events disclosed, {withheld} withheld by digest; head position {head_position} hash {head_hash}"
    );
    if let Some(n) = noted {
        println!(
            "extends the noted head: position {} has hash {}",
            n.position, n.hash
        );
    }
    if !matches!(bundle.annotations.as_object(), Some(a) if a.is_empty()) {
        println!(
            "note: the annotations are sealed against edits, not proven by the chain; recompute them from the disclosed events and the rules"
        );
    }
    Ok(())
}

fn print_broken(report: &BundleReport, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string(report)?);
        return Ok(());
    }
    match report {
        BundleReport::Broken {
            position: Some(position),
            reason,
        } => println!("BROKEN at position {position}: {reason}"),
        BundleReport::Broken {
            position: None,
            reason,
        } => println!("BROKEN: {reason}"),
        BundleReport::Intact { .. } => unreachable!("only broken reports are printed here"),
    }
    Ok(())
}

/// Exports every event of `client` to `out` (replacing it), with verdict annotations: the
/// demo's evidence bundle.
pub async fn export_client(target: &Target, client: &str, out: &Path) -> anyhow::Result<()> {
    let args = ExportArgs {
        out: out.to_owned(),
        stream: None,
        client: Some(client.to_owned()),
        from: None,
        to: None,
        correlation: None,
        head: None,
        cover_from: None,
        created_for: Some(format!(
            "evidence for client {client}: every recorded event, with verdicts"
        )),
        force: true,
    };
    export(target, args).await
}
