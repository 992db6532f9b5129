//! Reports and replays: bring the projections up to date (or rebuild them to a point in
//! history) and produce a report as of a position or an instant, with the default for the
//! instant pending deadlines are judged at.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use opsledger_domain::ids::ClientId;
use opsledger_projections::billing::BillingReport;
use opsledger_projections::obligations::ObligationReport;
use opsledger_projections::retention::RetentionReport;
use opsledger_projections::sla::SlaReport;
use opsledger_projections::{AsOf, Period, Projections, YearMonth};
use opsledger_store::EventStore;

use crate::clock::Clock;
use crate::error::{AppError, AppResult};
use crate::ledger::Target;
use crate::progress::Progress;
use crate::project::{self, Start};

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

/// Opens the ledger and brings the saved projections up to its head.
pub async fn up_to_date(
    target: &Target,
    progress: &dyn Progress,
) -> AppResult<(Arc<dyn EventStore>, Projections)> {
    let store = target.open().await?;
    let (projections, _) = project::catch_up(&store, Start::Snapshot, None, progress).await?;
    Ok((store, projections))
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
    let period = sla(projections, client, month, basis, clock)?.period;
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
    /// Events applied from position 0.
    pub applied: u64,
    /// The projections' checkpoint (next position) after it.
    pub checkpoint: u64,
    /// False for a view of history (`as_of_position` given), which is not saved.
    pub saved: bool,
}

/// Rebuilds the projections from position 0. With `as_of_position` it stops after that
/// position and saves nothing; without, it replaces the saved snapshot.
pub async fn replay(
    target: &Target,
    as_of_position: Option<u64>,
    progress: &dyn Progress,
) -> AppResult<Replayed> {
    let store = target.open().await?;
    let up_to = as_of_position.map(|p| p + 1);
    let (projections, applied) = project::catch_up(&store, Start::Rebuild, up_to, progress).await?;
    Ok(Replayed {
        applied,
        checkpoint: projections.checkpoint(),
        saved: up_to.is_none(),
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
