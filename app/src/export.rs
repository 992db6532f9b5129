//! Evidence bundles: export writes a bundle of selected events with the proof that they sit
//! in the chain, and verifying one checks it offline, without opening any ledger.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use opsledger_store::bundle::{
    self, BuildOptions, BundleBreak, BundleError, BundleReport, EvidenceBundle,
};
use opsledger_store::{EventFilter, EventStore, Hash, StreamId, TimeRange};
use uuid::Uuid;

use crate::clock::Clock;
use crate::error::{AppError, AppResult};
use crate::ledger::Target;
use crate::progress::Progress;

/// Largest bundle file `verify --bundle` reads. A bundle at the store's position limit is
/// about 800 MB of pretty-printed JSON; anything larger is not a bundle this build wrote.
const MAX_BUNDLE_FILE_BYTES: u64 = 1 << 30;

/// What to export and where.
#[derive(Debug, Clone, Default)]
pub struct ExportRequest {
    /// Where to write the bundle (JSON). An existing file is refused unless `force`.
    pub out: PathBuf,
    /// Disclose the events of this stream.
    pub stream: Option<String>,
    /// Disclose the events of this client (narrowed by `from` and `to`).
    pub client: Option<String>,
    /// Only events that occurred at or after this instant.
    pub from: Option<DateTime<Utc>>,
    /// Only events that occurred before this instant.
    pub to: Option<DateTime<Utc>>,
    /// Disclose the events with this correlation id.
    pub correlation: Option<Uuid>,
    /// Prove the events up to this position (default: the ledger's head).
    pub head: Option<u64>,
    /// Cover the chain from this position if it is before the first disclosed event (a head
    /// an auditor noted earlier).
    pub cover_from: Option<u64>,
    /// What the bundle is for, recorded in it (default: a description of the selection).
    pub created_for: Option<String>,
    /// Replace `out` if it exists.
    pub force: bool,
}

impl ExportRequest {
    fn filter(&self) -> AppResult<EventFilter> {
        Ok(EventFilter {
            stream_id: self
                .stream
                .as_deref()
                .map(StreamId::parse)
                .transpose()
                .map_err(|e| AppError::store_while("--stream", e))?,
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

/// What an export wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exported {
    pub out: PathBuf,
    pub first_position: u64,
    pub head_position: u64,
    pub head_hash: Hash,
    pub disclosed: u64,
    pub withheld: u64,
}

/// Exports the selection with verdict annotations computed at the clock's now.
pub async fn export(
    target: &Target,
    request: ExportRequest,
    clock: &dyn Clock,
    progress: &dyn Progress,
) -> AppResult<Exported> {
    let annotations = verdicts_for(target, &request.filter()?, clock, progress).await?;
    export_with_annotations(target, request, annotations).await
}

/// Events of the selection read to find the obligations they opened.
const ANNOTATION_PAGE: usize = 10_000;

/// The obligations the disclosed events opened, with their verdicts and the rule values in
/// force when their clocks started, as computed by the projections at the ledger's head.
async fn verdicts_for(
    target: &Target,
    filter: &EventFilter,
    clock: &dyn Clock,
    progress: &dyn Progress,
) -> AppResult<serde_json::Value> {
    let store = crate::report::up_to_date(target, progress).await?;
    verdicts_in(&store, filter, clock).await
}

/// [`verdicts_for`] on a store already open and caught up.
async fn verdicts_in(
    store: &Arc<dyn EventStore>,
    filter: &EventFilter,
    clock: &dyn Clock,
) -> AppResult<serde_json::Value> {
    use std::collections::{BTreeMap, BTreeSet};

    let head_next = crate::project::head_next(store).await?;
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
    let evaluated_at = clock.now();
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
        let projections = crate::project::client_view(store, &client_id, Some(head_next)).await?;
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

/// Exports the selection, sealing `annotations` (rule values in force, computed verdicts) into
/// the bundle. They are sealed against later edits, not proven by the chain: a reader
/// re-computes them from the disclosed events and the rules.
pub async fn export_with_annotations(
    target: &Target,
    args: ExportRequest,
    annotations: serde_json::Value,
) -> AppResult<Exported> {
    let filter = args.filter()?;
    if args.out.exists() && !args.force {
        return Err(AppError::InvalidRequest {
            what: args.out.display().to_string(),
            detail: "exists; pass --force to replace it".to_owned(),
        });
    }
    let options = BuildOptions {
        created_for: args.created_for.clone().unwrap_or_else(|| args.describe()),
        selection: serde_json::to_value(&filter)?,
        annotations,
        cover_from: args.cover_from,
    };
    let store = target.open().await?;
    let bundle = build(&*store, &filter, args.head, options).await?;
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
        return Err(AppError::Internal(format!(
            "a freshly built bundle does not verify: {report:?}"
        )));
    };
    Ok(Exported {
        out: args.out,
        first_position,
        head_position,
        head_hash,
        disclosed,
        withheld,
    })
}

/// Builds a bundle of the events `filter` selects up to `head` (default: the ledger's head).
async fn build(
    store: &dyn EventStore,
    filter: &EventFilter,
    head: Option<u64>,
    options: BuildOptions,
) -> AppResult<EvidenceBundle> {
    match bundle::build(store, filter, head, options).await {
        Ok(bundle) => Ok(bundle),
        Err(BundleError::LedgerBroken { position, reason }) => {
            // A broken ledger is the same finding as verifying the ledger reports; a bundle
            // from it would prove nothing.
            Err(AppError::ChainBroken {
                position: Some(position),
                reason: reason.to_string(),
            })
        }
        Err(e) => Err(AppError::Bundle(e)),
    }
}

/// The evidence bundle of every event of `client` (or of its one stream `stream`), with
/// verdict annotations computed at the clock's now, built in memory from a store already open
/// and caught up (a server sends it as a download rather than writing a file).
pub async fn client_bundle(
    store: &Arc<dyn EventStore>,
    client: &str,
    stream: Option<&StreamId>,
    clock: &dyn Clock,
) -> AppResult<EvidenceBundle> {
    let filter = EventFilter {
        client_id: Some(client.to_owned()),
        stream_id: stream.cloned(),
        ..EventFilter::default()
    };
    let annotations = verdicts_in(store, &filter, clock).await?;
    let created_for = match stream {
        Some(stream) => format!("evidence for stream {stream} of client {client}, with verdicts"),
        None => format!("evidence for client {client}: every recorded event, with verdicts"),
    };
    let options = BuildOptions {
        created_for,
        selection: serde_json::to_value(&filter)?,
        annotations,
        cover_from: None,
    };
    build(&**store, &filter, None, options).await
}

/// Writes the bundle beside `out` and moves it into place, so a failed write never leaves a
/// partial bundle under the real name; without `force` an existing file is never replaced.
fn write_new(out: &Path, bundle: &EvidenceBundle, force: bool) -> AppResult<()> {
    let name = out.file_name().ok_or_else(|| AppError::InvalidRequest {
        what: out.display().to_string(),
        detail: "is not a file name".to_owned(),
    })?;
    let mut temp_name = std::ffi::OsString::from(".");
    temp_name.push(name);
    temp_name.push(format!(".{}.tmp", std::process::id()));
    let temp = out.with_file_name(temp_name);
    let written = (|| -> std::io::Result<()> {
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
    written.map_err(|source| AppError::Io {
        context: format!("writing {}", out.display()),
        source,
    })
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

/// What checking a bundle found.
#[derive(Debug)]
pub struct BundleCheck {
    pub report: BundleReport,
    /// The head it was checked against, if one was noted.
    pub noted: Option<NotedHead>,
    /// Whether the bundle carries annotations (sealed, not proven by the chain).
    pub annotated: bool,
}

/// Verifies the bundle at `path` offline, and with `noted` that it extends that head. A file
/// that is not a bundle at all is an error; a bundle that does not verify is a report.
pub fn verify_bundle(path: &Path, noted: Option<NotedHead>) -> AppResult<BundleCheck> {
    let file = path.display().to_string();
    let io = |source| AppError::Io {
        context: format!("reading {file}"),
        source,
    };
    let size = std::fs::metadata(path).map_err(io)?.len();
    if size > MAX_BUNDLE_FILE_BYTES {
        return Err(AppError::UnreadableBundle {
            file,
            detail: format!("{size} bytes is over the limit of {MAX_BUNDLE_FILE_BYTES}"),
        });
    }
    let text = std::fs::read_to_string(path).map_err(io)?;
    match EvidenceBundle::parse(&text) {
        Ok(bundle) => {
            let report = match noted {
                None => bundle::verify(&bundle),
                Some(n) => bundle::verify_extends(&bundle, n.position, n.hash),
            };
            Ok(BundleCheck {
                report,
                noted,
                annotated: !matches!(bundle.annotations.as_object(), Some(a) if a.is_empty()),
            })
        }
        Err(BundleError::Malformed { detail }) => Ok(BundleCheck {
            report: BundleReport::Broken {
                position: None,
                reason: BundleBreak::Malformed { detail },
            },
            noted,
            annotated: false,
        }),
        Err(e) => Err(AppError::UnreadableBundle {
            file,
            detail: e.to_string(),
        }),
    }
}

/// Exports every event of `client` to `out` (replacing it), with verdict annotations: the
/// demo's evidence bundle.
pub async fn export_client(
    target: &Target,
    client: &str,
    out: &Path,
    clock: &dyn Clock,
    progress: &dyn Progress,
) -> AppResult<Exported> {
    let args = ExportRequest {
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
    export(target, args, clock, progress).await
}
