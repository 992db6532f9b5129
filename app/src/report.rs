//! Reports and replays: bring the read model up to date (or rebuild it, or fold the log to a point in
//! history) and produce a report as of a position or an instant, with the default for the
//! instant pending deadlines are judged at.

use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use opsledger_domain::ids::ClientId;
use opsledger_projections::billing::BillingReport;
use opsledger_projections::obligations::ObligationReport;
use opsledger_projections::retention::RetentionReport;
use opsledger_projections::sla::SlaReport;
use opsledger_projections::{AsOf, ClientFold, Period, Projections, YearMonth};
use opsledger_store::EventStore;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::clock::Clock;
use crate::error::{AppError, AppResult, Origin};
use crate::ledger::Target;
use crate::progress::Progress;
use crate::project::{self, Start};

mod json;
mod sorted;

pub use json::write_pretty;

/// The basis a report is asked on: at most one of the three as-of bounds (the head when none
/// is given), and optionally the instant pending deadlines are judged at.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Basis {
    /// The log up to and including this global position.
    pub as_of_position: Option<u64>,
    /// What the ledger had recorded by this instant: "what did we know then?".
    pub as_of_recorded: Option<DateTime<Utc>>,
    /// The facts that had occurred by this instant, as known now.
    pub as_of_occurred: Option<DateTime<Utc>>,
    /// The instant pending deadlines are judged at; see [`Basis::evaluated_at`].
    pub evaluated_at: Option<DateTime<Utc>>,
}

impl Basis {
    /// The as-of bound the projections take; a position wins over a recorded instant, which
    /// wins over an occurred one.
    pub fn as_of(&self) -> AsOf {
        match (
            self.as_of_position,
            self.as_of_recorded,
            self.as_of_occurred,
        ) {
            (Some(p), _, _) => AsOf::Position(p),
            (_, Some(t), _) => AsOf::RecordedAt(t),
            (_, _, Some(t)) => AsOf::OccurredAt(t),
            _ => AsOf::Head,
        }
    }

    /// Pending deadlines are judged at the as-of instant when one is given, so a report "as of
    /// 3 October" does not call a deadline of 4 October missed; otherwise at `clock`'s now.
    pub fn evaluated_at(&self, clock: &dyn Clock) -> DateTime<Utc> {
        self.evaluated_at
            .or(self.as_of_recorded)
            .or(self.as_of_occurred)
            .unwrap_or_else(|| clock.now())
    }
}

/// A client id given by a caller.
pub fn client_id(raw: &str) -> AppResult<ClientId> {
    ClientId::new(raw).map_err(|error| AppError::InvalidClient {
        given: raw.to_owned(),
        error,
    })
}

/// A UTC calendar month as a period.
pub fn utc_month(month: YearMonth) -> AppResult<Period> {
    let start = |d: NaiveDate| -> AppResult<DateTime<Utc>> {
        let midnight = d
            .and_hms_opt(0, 0, 0)
            .ok_or_else(|| AppError::Internal(format!("{d} has no midnight")))?;
        Ok(Utc.from_utc_datetime(&midnight))
    };
    Ok(Period {
        from: start(month.first_day())?,
        to: start(month.next().first_day())?,
    })
}

/// Opens the ledger and brings the read model's rows up to its head when this role may write
/// them (otherwise each client's view folds the log past the stored checkpoint itself).
pub async fn up_to_date(
    target: &Target,
    progress: &dyn Progress,
) -> AppResult<Arc<dyn EventStore>> {
    let store = target.open().await?;
    project::catch_up(&store, Start::Checkpoint, progress).await?;
    Ok(store)
}

/// One client's view for a report basis: as of a position, only the rows and events up to it
/// are read at all, and a position past the head is refused.
pub async fn view_for(
    store: &Arc<dyn EventStore>,
    client: &ClientId,
    as_of: AsOf,
) -> AppResult<Projections> {
    let before = position_bound(as_of)?;
    let view = project::client_view(store, client, before).await?;
    refuse_past_head(&view, as_of)?;
    Ok(view)
}

/// The view one report needs: [`view_for`] bounded to the report's period. The SLA and
/// obligation reports of a month read the month's calls (and the calls other facts refer to)
/// besides the client's standing facts, the billing report no call at all, so their cost does
/// not grow with the client's history; the retention report, which lists every call record,
/// reads the client's standing facts and one row per call (`project::client_retention_view`).
/// `report` is `sla`, `obligations`, `billing` or `retention`.
pub async fn view_for_report(
    store: &Arc<dyn EventStore>,
    client: &ClientId,
    as_of: AsOf,
    report: &str,
    month: Option<YearMonth>,
) -> AppResult<Projections> {
    let before = position_bound(as_of)?;
    let view = match (report, month) {
        ("sla" | "obligations", Some(m)) => {
            project::client_period_view(store, client, before, Some(utc_month(m)?)).await?
        }
        ("billing", _) => project::client_period_view(store, client, before, None).await?,
        ("retention", _) => project::client_retention_view(store, client, before).await?,
        _ => project::client_view(store, client, before).await?,
    };
    refuse_past_head(&view, as_of)?;
    Ok(view)
}

/// The exclusive position bound of an as-of basis (`None`: the head).
fn position_bound(as_of: AsOf) -> AppResult<Option<u64>> {
    Ok(match as_of {
        AsOf::Position(p) => Some(p.checked_add(1).ok_or_else(|| AppError::InvalidRequest {
            what: "--as-of-position".to_owned(),
            detail: format!("{p} is past the last representable position"),
        })?),
        _ => None,
    })
}

/// A position past the head of the log is refused, not answered with the head.
fn refuse_past_head(view: &Projections, as_of: AsOf) -> AppResult<()> {
    if let AsOf::Position(p) = as_of {
        if p >= view.checkpoint() {
            return Err(AppError::InvalidRequest {
                what: "--as-of-position".to_owned(),
                detail: format!(
                    "{p} is past the head of the log (last position {})",
                    view.checkpoint().saturating_sub(1)
                ),
            });
        }
    }
    Ok(())
}

/// Service levels of one client-local month.
pub fn sla(
    projections: &Projections,
    client: &ClientId,
    month: YearMonth,
    basis: &Basis,
    clock: &dyn Clock,
) -> AppResult<SlaReport> {
    Ok(projections.sla_report(client, month, basis.as_of(), basis.evaluated_at(clock))?)
}

/// Every obligation of a client opened in `period`, with its verdict.
pub fn obligations(
    projections: &Projections,
    client: &ClientId,
    period: Period,
    basis: &Basis,
    clock: &dyn Clock,
) -> AppResult<ObligationReport> {
    Ok(projections.obligation_report(client, period, basis.as_of(), basis.evaluated_at(clock))?)
}

/// Every obligation of a client opened in a client-local month, with its verdict.
pub fn obligations_in_month(
    projections: &Projections,
    client: &ClientId,
    month: YearMonth,
    basis: &Basis,
    clock: &dyn Clock,
) -> AppResult<ObligationReport> {
    // The client-local bounds of the month are what the SLA report of that month covers.
    let period = projections.month_period(client, month, basis.as_of())?;
    obligations(projections, client, period, basis, clock)
}

/// Retention windows of a client's records and the deletions due in a UTC month.
pub fn retention(
    projections: &Projections,
    client: &ClientId,
    month: YearMonth,
    basis: &Basis,
    clock: &dyn Clock,
) -> AppResult<RetentionReport> {
    Ok(projections.retention_report(
        client,
        basis.as_of(),
        basis.evaluated_at(clock),
        utc_month(month)?,
    )?)
}

/// The billing state of a client.
pub fn billing(
    projections: &Projections,
    client: &ClientId,
    basis: &Basis,
    clock: &dyn Clock,
) -> AppResult<BillingReport> {
    Ok(projections.billing_report(client, basis.as_of(), basis.evaluated_at(clock))?)
}

/// What a replay did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Replayed {
    /// Log positions taken in from position 0.
    pub applied: u64,
    /// The read model's checkpoint (next position) after it.
    pub checkpoint: u64,
    /// False for a view of history (`as_of_position` given), which is not saved.
    pub saved: bool,
}

/// Deletes the read model's rows and derives them again from position 0, whatever the stored
/// checkpoint says (so an edited row is always replaced). With `as_of_position` it folds the
/// log up to there in memory and saves nothing: a view of history.
pub async fn replay(
    target: &Target,
    as_of_position: Option<u64>,
    progress: &dyn Progress,
) -> AppResult<Replayed> {
    let store = target.open().await?;
    if let Some(p) = as_of_position {
        let bad = |detail: String| AppError::InvalidRequest {
            what: "--as-of-position".to_owned(),
            detail,
        };
        let before = p
            .checked_add(1)
            .ok_or_else(|| bad(format!("{p} is past the last representable position")))?;
        let head = project::head_next(&store).await?;
        if p >= head {
            return Err(bad(format!(
                "{p} is past the head of the log (last position {})",
                head.saturating_sub(1)
            )));
        }
        let view = project::log_view(&store, before).await?;
        return Ok(Replayed {
            applied: view.checkpoint(),
            checkpoint: view.checkpoint(),
            saved: false,
        });
    }
    let done = project::catch_up(&store, Start::Rebuild, progress).await?;
    Ok(Replayed {
        applied: done.applied,
        checkpoint: done.next_position,
        saved: true,
    })
}

/// What a report was asked for: enough to compute it again from the log (`verify --report`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportRequest {
    /// `sla`, `obligations`, `retention` or `billing`.
    pub report: String,
    /// The client.
    pub client: String,
    /// The month, for the monthly reports and the retention report's due deletions.
    pub month: Option<YearMonth>,
    /// The basis.
    pub as_of: AsOf,
    /// The instant pending deadlines were judged at.
    pub evaluated_at: DateTime<Utc>,
}

/// What a report reflects: the request and the log position and hash it was computed up to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provenance {
    /// The request.
    pub request: ReportRequest,
    /// The last log position the report reflects (`None` for an empty ledger).
    pub position: Option<u64>,
    /// The hash of the event at that position: with `opsledger head` noted by an auditor, it
    /// ties the report to one state of the chain.
    pub head_hash: Option<String>,
}

/// A report as computed, before it becomes JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Computed {
    /// `sla`.
    Sla(Box<SlaReport>),
    /// `obligations`.
    Obligations(ObligationReport),
    /// `retention`.
    Retention(RetentionReport),
    /// `billing`.
    Billing(BillingReport),
}

impl Computed {
    /// The report as a JSON value (without provenance).
    pub fn to_value(&self) -> AppResult<Value> {
        Ok(match self {
            Computed::Sla(r) => serde_json::to_value(r)?,
            Computed::Obligations(r) => serde_json::to_value(r)?,
            Computed::Retention(r) => serde_json::to_value(r)?,
            Computed::Billing(r) => serde_json::to_value(r)?,
        })
    }
}

/// The report a request asks for, computed from a client's view.
pub fn compute_report(view: &Projections, request: &ReportRequest) -> AppResult<Computed> {
    let client = client_id(&request.client)?;
    let (as_of, evaluated_at) = (request.as_of, request.evaluated_at);
    let month = || {
        request.month.ok_or_else(|| AppError::InvalidRequest {
            what: format!("the {} report", request.report),
            detail: "needs a month".to_owned(),
        })
    };
    Ok(match request.report.as_str() {
        "sla" => Computed::Sla(Box::new(view.sla_report(
            &client,
            month()?,
            as_of,
            evaluated_at,
        )?)),
        "obligations" => {
            let period = view.month_period(&client, month()?, as_of)?;
            Computed::Obligations(view.obligation_report(&client, period, as_of, evaluated_at)?)
        }
        "retention" => Computed::Retention(view.retention_report(
            &client,
            as_of,
            evaluated_at,
            utc_month(month()?)?,
        )?),
        "billing" => Computed::Billing(view.billing_report(&client, as_of, evaluated_at)?),
        other => {
            return Err(AppError::InvalidRequest {
                what: "report kind".to_owned(),
                detail: format!("{other:?} is not sla, obligations, retention or billing"),
            })
        }
    })
}

/// The report a request asks for, computed from a client's view, as JSON.
pub fn compute(view: &Projections, request: &ReportRequest) -> AppResult<Value> {
    compute_report(view, request)?.to_value()
}

/// The provenance of a report computed from `view`.
pub async fn provenance(
    store: &Arc<dyn EventStore>,
    view: &Projections,
    request: ReportRequest,
) -> AppResult<Provenance> {
    let position = view.checkpoint().checked_sub(1);
    let head_hash = match position {
        Some(p) => store.read_all(p, 1).await?.first().map(|e| e.hash.to_hex()),
        None => None,
    };
    Ok(Provenance {
        request,
        position,
        head_hash,
    })
}

/// A report as JSON with its provenance under `"provenance"`.
pub fn with_provenance(mut report: Value, provenance: &Provenance) -> AppResult<Value> {
    if let Value::Object(map) = &mut report {
        map.insert("provenance".to_owned(), serde_json::to_value(provenance)?);
    }
    Ok(report)
}

/// Where a report file and the report recomputed from the log part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReportCheck {
    /// Every figure is the one the log gives.
    Identical { position: Option<u64> },
    /// The first figure (a JSON pointer) whose value differs, with both values.
    Differs {
        pointer: String,
        in_file: String,
        from_log: String,
    },
    /// The report's head is not this ledger's event at that position.
    OtherLedger { position: u64 },
}

/// The first JSON pointer at which two values differ, with both values.
fn first_difference(path: &str, a: &Value, b: &Value) -> Option<(String, String, String)> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            keys.into_iter().find_map(|k| {
                let child = format!("{path}/{}", k.replace('~', "~0").replace('/', "~1"));
                match (x.get(k), y.get(k)) {
                    (Some(p), Some(q)) => first_difference(&child, p, q),
                    (p, q) => Some((
                        child,
                        p.map_or("(absent)".to_owned(), Value::to_string),
                        q.map_or("(absent)".to_owned(), Value::to_string),
                    )),
                }
            })
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find_map(|(i, (p, q))| first_difference(&format!("{path}/{i}"), p, q)),
        (p, q) if p == q => None,
        (p, q) => Some((path.to_owned(), p.to_string(), q.to_string())),
    }
}

/// Recomputes a JSON report (as `report … --format json` wrote it) from the log itself: the
/// client's events read through the client index and folded in memory, no read-model row
/// read, up to the position the report states; and compares figure by figure.
pub async fn verify_report(store: &Arc<dyn EventStore>, path: &Path) -> AppResult<ReportCheck> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| AppError::Io {
        context: format!("reading the report {file}"),
        source,
    })?;
    let refused = |field: &str, detail: String| {
        AppError::input(
            Origin {
                file: file.clone(),
                line: 0,
            },
            Some(field),
            detail,
        )
    };
    let in_file: Value = serde_json::from_str(&text).map_err(|e| {
        refused(
            "(document)",
            format!("not a JSON report (use --format json): {e}"),
        )
    })?;
    let provenance: Provenance = serde_json::from_value(
        in_file
            .get("provenance")
            .cloned()
            .ok_or_else(|| refused("provenance", "the report states no provenance".to_owned()))?,
    )
    .map_err(|e| refused("provenance", e.to_string()))?;
    let before = provenance.position.map_or(0, |p| p.saturating_add(1));
    if let (Some(p), Some(hash)) = (provenance.position, &provenance.head_hash) {
        let here = store.read_all(p, 1).await?;
        if here.first().map(|e| e.hash.to_hex()).as_deref() != Some(hash.as_str()) {
            return Ok(ReportCheck::OtherLedger { position: p });
        }
    }
    let client = client_id(&provenance.request.client)?;
    let mut fold = ClientFold::new();
    for event in project::client_log(store, &client, 0, before).await? {
        fold.apply(&event).map_err(AppError::Fact)?;
    }
    let view = Projections::for_client(fold, before);
    let from_log = with_provenance(compute(&view, &provenance.request)?, &provenance)?;
    Ok(match first_difference("", &in_file, &from_log) {
        None => ReportCheck::Identical {
            position: provenance.position,
        },
        Some((pointer, in_file, from_log)) => ReportCheck::Differs {
            pointer,
            in_file,
            from_log,
        },
    })
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::clock::FixedClock;

    fn at(day: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 10, day, 12, 0, 0).unwrap()
    }

    #[test]
    fn deadlines_are_judged_at_the_as_of_instant_before_the_clock() {
        let clock = FixedClock(at(20));
        let recorded = Basis {
            as_of_recorded: Some(at(3)),
            ..Basis::default()
        };
        assert_eq!(recorded.evaluated_at(&clock), at(3));
        let occurred = Basis {
            as_of_occurred: Some(at(5)),
            ..Basis::default()
        };
        assert_eq!(occurred.evaluated_at(&clock), at(5));
        let explicit = Basis {
            as_of_recorded: Some(at(3)),
            evaluated_at: Some(at(9)),
            ..Basis::default()
        };
        assert_eq!(explicit.evaluated_at(&clock), at(9));
        assert_eq!(Basis::default().evaluated_at(&clock), at(20));
    }

    #[test]
    fn a_position_wins_over_instants_and_the_head_is_the_default() {
        let basis = Basis {
            as_of_position: Some(7),
            as_of_recorded: Some(at(3)),
            ..Basis::default()
        };
        assert_eq!(basis.as_of(), AsOf::Position(7));
        assert_eq!(Basis::default().as_of(), AsOf::Head);
    }
}
