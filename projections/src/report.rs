//! What every report shares: its error type, resolving a client under a basis, and client-local month bounds.

use opsledger_domain::ids::ClientId;
use thiserror::Error;

use crate::model::{ClientRecord, ReadModel, RulesView};
use crate::position::{AsOf, Period, YearMonth};

/// Why a report could not be produced.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ReportError {
    /// The client is not onboarded as far as the basis knows.
    #[error("client {0} is unknown as of the requested basis")]
    UnknownClient(ClientId),
    /// The basis asks for a position the projection has not applied yet.
    #[error("as of position {requested}: the projections have applied positions below {checkpoint} only")]
    NotYetApplied {
        /// The requested position.
        requested: u64,
        /// The projection checkpoint.
        checkpoint: u64,
    },
    /// Money of different currencies met, or overflowed.
    #[error("money: {0}")]
    Money(#[from] opsledger_domain::money::MoneyError),
}

/// The client record, if the basis sees its onboarding.
pub(crate) fn resolve_client<'m>(
    model: &'m ReadModel,
    checkpoint: u64,
    client_id: &ClientId,
    as_of: &AsOf,
) -> Result<&'m ClientRecord, ReportError> {
    if let AsOf::Position(p) = as_of {
        if *p >= checkpoint {
            return Err(ReportError::NotYetApplied {
                requested: *p,
                checkpoint,
            });
        }
    }
    let client = model
        .clients
        .by_key(client_id)
        .filter(|c| as_of.sees(&c.onboarded))
        .ok_or_else(|| ReportError::UnknownClient(client_id.clone()))?;
    Ok(client)
}

/// The instants of a client-local month for a client the basis knows.
pub(crate) fn client_month_period(
    model: &ReadModel,
    checkpoint: u64,
    client_id: &ClientId,
    month: YearMonth,
    as_of: &AsOf,
) -> Result<Period, ReportError> {
    let client = resolve_client(model, checkpoint, client_id, as_of)?;
    Ok(month_period(&model.rules_view(client, as_of), month))
}

/// The instants of a client-local month, in the time zone of the agreement in force at its start.
pub(crate) fn month_period(rules: &RulesView, month: YearMonth) -> Period {
    let first = month.first_day();
    // The zone may change with an amendment; the month's start decides, as it is judged from there.
    let probe = rules.first_agreement.calendar.start_of_local_day(first);
    let calendar = &rules.agreement_at(probe).calendar;
    Period {
        from: calendar.start_of_local_day(first),
        to: calendar.start_of_local_day(month.next().first_day()),
    }
}

/// The client-local months overlapping a period, oldest first.
pub(crate) fn months_in(rules: &RulesView, period: Period) -> Vec<YearMonth> {
    let calendar = &rules.agreement_at(period.from).calendar;
    let first = YearMonth::of(calendar.local_date(period.from));
    let mut months = Vec::new();
    let mut m = first;
    while month_period(rules, m).from < period.to {
        months.push(m);
        m = m.next();
    }
    months
}

/// Calendar quarter (1–4) of a month.
pub(crate) fn quarter(month: YearMonth) -> u32 {
    (month.month - 1) / 3 + 1
}

/// The first month of a quarter.
pub(crate) fn quarter_start(year: i32, quarter: u32) -> YearMonth {
    YearMonth::new(year, (quarter - 1) * 3 + 1).expect("quarters are 1–4")
}
